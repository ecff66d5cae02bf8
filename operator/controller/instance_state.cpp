#include "controller/instance_state.h"

#include <utility>

namespace pygrid::controller {

InstanceState ParseInstanceState(const std::string& raw) {
  static const std::pair<const char*, InstanceState> kStates[] = {
      {"enqueued", InstanceState::kCreating},
      {"creating", InstanceState::kCreating},
      {"build", InstanceState::kCreating},
      {"copying", InstanceState::kCreating},
      {"pending_payment", InstanceState::kCreating},
      {"active", InstanceState::kActive},
      {"stopping", InstanceState::kStopping},
      {"shutoff", InstanceState::kStopped},
      {"stopped", InstanceState::kStopped},
      {"starting", InstanceState::kStarting},
      {"restarting", InstanceState::kStarting},
      {"resetting", InstanceState::kStarting},
      {"updating", InstanceState::kStarting},
      {"deleting", InstanceState::kDeleting},
      {"error", InstanceState::kError},
  };
  for (const auto& [name, state] : kStates) {
    if (raw == name) return state;
  }
  return InstanceState::kUnknown;
}

InstanceState StateOf(const cloud::Instance& instance) {
  return ParseInstanceState(instance.status);
}

const char* InstanceStateName(InstanceState state) {
  switch (state) {
    case InstanceState::kCreating:
      return "creating";
    case InstanceState::kActive:
      return "active";
    case InstanceState::kStopping:
      return "stopping";
    case InstanceState::kStopped:
      return "stopped";
    case InstanceState::kStarting:
      return "starting";
    case InstanceState::kDeleting:
      return "deleting";
    case InstanceState::kError:
      return "error";
    case InstanceState::kUnknown:
      break;
  }
  return "unknown";
}

bool IsRunning(const cloud::Instance& instance) {
  return StateOf(instance) == InstanceState::kActive && instance.public_ip && instance.private_ip;
}

}  // namespace pygrid::controller
