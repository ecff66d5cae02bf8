// Provides helpers for metav1.Condition lists: set one condition keeping lastTransitionTime
// when the status did not change, find one, and format timestamps.
//
//   SetCondition(status.conditions, {kConditionReady, "False", gen, "", "GatewayNotReady", msg},
//                clock.WallNow());
//
// Thread-safety: pure functions on caller-owned values.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"

namespace pygrid::api {

inline constexpr char kConditionReady[] = "Ready";
inline constexpr char kConditionGatewayReady[] = "GatewayReady";
inline constexpr char kConditionWorkersReady[] = "WorkersReady";
inline constexpr char kConditionCredentialsValid[] = "CredentialsValid";
inline constexpr char kConditionSpecValid[] = "SpecValid";
inline constexpr char kConditionCloudReachable[] = "CloudReachable";
inline constexpr char kConditionSuspended[] = "Suspended";
inline constexpr char kConditionUpToDate[] = "UpToDate";
inline constexpr char kConditionProgressing[] = "Progressing";
inline constexpr char kConditionRemediationAllowed[] = "RemediationAllowed";

// RFC 3339 UTC with seconds precision, as metav1.Time serialises ("2026-11-26T04:12:10Z").
std::string FormatTime(std::chrono::system_clock::time_point time);

// Parses FormatTime's format (and fractional seconds, which it drops); nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> ParseTime(const std::string& text);

// Sets `condition` in `conditions` (matched by type). lastTransitionTime becomes `now` when the
// type is new or its status changed, and is kept otherwise. Returns true if anything changed.
bool SetCondition(std::vector<Condition>& conditions, Condition condition,
                  std::chrono::system_clock::time_point now);

// The condition of `type`, or nullptr.
const Condition* FindCondition(const std::vector<Condition>& conditions, const std::string& type);

// True when the condition of `type` exists with status "True".
bool IsConditionTrue(const std::vector<Condition>& conditions, const std::string& type);

}  // namespace pygrid::api
