// Provides the provider-neutral state of an instance. The cloud reports a raw status string
// (Genesis Cloud has used three different enums since 2020, genesis-cloud-api.md "Instance
// status"); this is the one place that reads those strings, so the planner reasons about
// states, not spellings.
//
//   if (StateOf(instance) == InstanceState::kStopped) plan.Start(instance);
//
// Thread-safety: pure functions.
#pragma once

#include "cloud/cloud_provider.h"

namespace pygrid::controller {

enum class InstanceState {
  kCreating,  // enqueued, creating, build, copying, pending_payment: on its way up
  kActive,    // running
  kStopping,  // stopping
  kStopped,   // shutoff (2020) or stopped (2025)
  kStarting,  // starting, restarting, resetting, updating: coming back
  kDeleting,  // deleting: on its way out
  kError,     // error: failed for good
  kUnknown,   // anything else
};

InstanceState StateOf(const cloud::Instance& instance);
InstanceState ParseInstanceState(const std::string& raw);
// Lower-case name shown in status ("creating", "active", "stopped", ...).
const char* InstanceStateName(InstanceState state);
// Active with both addresses assigned: the services can be reached.
bool IsRunning(const cloud::Instance& instance);

}  // namespace pygrid::controller
