// Small helpers shared by kube-sim's parts: body parsing (JSON or YAML), time formatting in
// the Kubernetes style, base64, UIDs and Status bodies. Thread-safe (no shared state except
// the UID generator's own lock).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/common/util.h"

namespace pygrid::sim::kube {

using json = nlohmann::json;

// `s` with every byte that is not part of valid UTF-8 replaced by U+FFFD, as Go's JSON decoder
// and encoder treat invalid UTF-8 in strings.
std::string ToValidUtf8(const std::string& s);

// `v` serialized compactly; invalid UTF-8 inside strings becomes U+FFFD (as Go's encoder
// does) instead of an exception. Every answer kube-sim sends goes through it.
std::string DumpJson(const json& v);

// Parses a request body as JSON, falling back to YAML (kubectl sends YAML for apply-patch);
// returns false with `error` set when neither parses.
bool ParseBody(const std::string& body, json* out, std::string* error);

// RFC 3339 UTC with second precision, as metav1.Time marshals ("2026-01-02T03:04:05Z").
std::string FormatTime(std::chrono::system_clock::time_point t);
// RFC 3339 UTC with microseconds, as metav1.MicroTime marshals.
std::string FormatMicroTime(std::chrono::system_clock::time_point t);
// Parses FormatTime/FormatMicroTime output (and any RFC 3339 "Z" time); false on failure.
bool ParseTime(const std::string& s, std::chrono::system_clock::time_point* out);
// kubectl's HumanDuration ("5s", "3m2s", "4h", "2d3h", "3y") from k8s.io/apimachinery duration.go.
std::string HumanDuration(std::chrono::system_clock::duration d);

// Standard base64 (RFC 4648, with padding).
std::string Base64Encode(const std::string& in);
// Decodes standard base64; false on invalid input.
bool Base64Decode(const std::string& in, std::string* out);

// A random RFC 4122 version-4 UID.
std::string NewUid();
// `n` random lowercase alphanumerics as apiserver generateName suffixes use (no vowels).
std::string RandomSuffix(size_t n);

// Go's strconv.ParseBool truth values ("1", "t", "T", "true", "TRUE", "True"), which the
// apiserver uses for boolean query parameters (watch, allowWatchBookmarks, force).
bool IsTrue(const std::string& value);

// The non-empty segments of a URL path ("/api//v1/" -> {"api", "v1"}; shared with genesis-sim).
using ::pygrid::sim::SplitPath;

// A metav1.Status failure body (kind: Status, status: Failure).
json StatusBody(int code, const std::string& reason, const std::string& message,
                const json& details = nullptr);

}  // namespace pygrid::sim::kube
