// The planner's shared parts: inventory, delete actions, and the conditions and phase of a
// live cluster.
#include <algorithm>
#include <set>

#include "api/conditions.h"
#include "api/defaults.h"
#include "controller/internal/plan_parts.h"

namespace pygrid::controller::internal {

bool Inventory::AnyGoingAway() const {
  auto going = [](const cloud::Instance& i) { return StateOf(i) == InstanceState::kDeleting; };
  if (gateway && going(*gateway)) return true;
  for (const auto& [index, instance] : workers) {
    if (going(instance)) return true;
  }
  return std::any_of(duplicates.begin(), duplicates.end(), going);
}

Inventory TakeInventory(const std::string& prefix, const std::vector<cloud::Instance>& instances,
                        const api::ClusterStatus& recorded) {
  std::set<std::string> recorded_ids;
  if (recorded.gateway && !recorded.gateway->instance_id.empty())
    recorded_ids.insert(recorded.gateway->instance_id);
  for (const api::WorkerStatus& worker : recorded.workers) {
    if (!worker.instance_id.empty()) recorded_ids.insert(worker.instance_id);
  }
  std::vector<cloud::Instance> sorted = instances;
  // Of a duplicated name, keep the instance the status recorded (its identity is the one in
  // status; the other can never match it), else the oldest.
  std::sort(sorted.begin(), sorted.end(), [&](const cloud::Instance& a, const cloud::Instance& b) {
    const bool a_recorded = recorded_ids.count(a.id) > 0;
    const bool b_recorded = recorded_ids.count(b.id) > 0;
    if (a_recorded != b_recorded) return a_recorded;
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  Inventory inventory;
  for (const cloud::Instance& instance : sorted) {
    std::optional<api::ParsedInstanceName> parsed = api::ParseInstanceName(prefix, instance.name);
    if (!parsed) continue;
    if (parsed->role == api::InstanceRole::kGateway) {
      if (inventory.gateway) {
        inventory.duplicates.push_back(instance);
      } else {
        inventory.gateway = instance;
      }
    } else if (!inventory.workers.emplace(parsed->index, instance).second) {
      inventory.duplicates.push_back(instance);
    }
  }
  return inventory;
}

Action CreateAction(api::InstanceRole role, int index, const std::string& name, bool lost) {
  Action action;
  action.kind = ActionKind::kCreateInstance;
  action.role = role;
  action.index = index;
  action.name = name;
  if (lost) {
    action.reason = "InstanceLost";
    action.message = std::string(role == api::InstanceRole::kGateway ? "gateway" : "worker") +
                     " instance " + name + " disappeared; creating it again";
    action.warning = true;
  }
  return action;
}

Action StopAction(const cloud::Instance& instance) {
  Action action;
  action.kind = ActionKind::kStopInstance;
  action.name = instance.name;
  action.id = instance.id;
  action.reason = "InstanceStopped";
  action.message = "spec.suspend is true: stopping instance " + instance.name;
  return action;
}

namespace {

// spec.suspend: no creates, deletes or starts; every running instance is stopped. Sets
// Suspended, Ready and the phase; returns whether the grid is fully stopped.
bool PlanSuspended(const Observations& seen, const Inventory& inventory, Plan& plan) {
  plan.actions.erase(std::remove_if(plan.actions.begin(), plan.actions.end(),
                                    [](const Action& a) {
                                      return a.kind == ActionKind::kCreateInstance ||
                                             a.kind == ActionKind::kDeliverGateway ||
                                             a.kind == ActionKind::kDeleteInstance ||
                                             a.kind == ActionKind::kStartInstance;
                                    }),
                     plan.actions.end());
  int running = 0, stopped = 0;
  auto stop = [&](const cloud::Instance& instance) {
    const InstanceState state = StateOf(instance);
    if (state == InstanceState::kActive || state == InstanceState::kStarting) {
      plan.actions.push_back(StopAction(instance));
      ++running;
    } else if (state == InstanceState::kStopped) {
      ++stopped;
    } else if (state != InstanceState::kDeleting && state != InstanceState::kError) {
      ++running;  // creating or stopping: not stopped yet
    }
  };
  if (inventory.gateway) stop(*inventory.gateway);
  for (const auto& [index, instance] : inventory.workers) stop(instance);
  const bool done = running == 0;
  api::ClusterStatus& status = plan.status;
  if (done && !api::IsConditionTrue(seen.cluster.status.conditions, api::kConditionSuspended)) {
    plan.events.push_back(
        {false, "GridSuspended", "every instance is stopped (" + std::to_string(stopped) + ")"});
  }
  SetPlanCondition(seen, status, api::kConditionSuspended, done, done ? "Suspended" : "Suspending",
                   done ? std::to_string(stopped) + " instances stopped"
                        : "stopping " + std::to_string(running) + " running instances");
  SetPlanCondition(seen, status, api::kConditionReady, false, "Suspended",
                   "spec.suspend is true: the grid's instances are stopped; set it to false to "
                   "start them again");
  status.phase = api::Phase::kSuspended;
  return done;
}

}  // namespace

Action StartAction(const Observations& seen, const cloud::Instance& instance,
                   const std::string& role) {
  Action action;
  action.kind = ActionKind::kStartInstance;
  action.name = instance.name;
  action.id = instance.id;
  action.reason = "InstanceStarted";
  // The operator stopped it for spec.suspend, or someone else did.
  const bool resuming =
      seen.cluster.status.phase == api::Phase::kSuspended ||
      api::IsConditionTrue(seen.cluster.status.conditions, api::kConditionSuspended);
  action.message = resuming ? "resuming: starting " + role + " instance " + instance.name
                            : role + " instance " + instance.name +
                                  " was stopped outside the operator (" + instance.status +
                                  "); starting it";
  action.warning = !resuming;
  return action;
}

Action DeleteAction(const cloud::Instance& instance, const std::string& reason,
                    const std::string& message, bool warning) {
  Action action;
  action.kind = ActionKind::kDeleteInstance;
  action.name = instance.name;
  action.id = instance.id;
  action.reason = reason;
  action.message = message;
  action.warning = warning;
  return action;
}

std::string MarkerDetail(const Observations& seen, const std::string& name) {
  auto it = seen.probes.markers.find(name);
  if (it == seen.probes.markers.end()) return "";
  switch (it->second.state) {
    case probe::MarkerState::kFailed:
      return "start-up failed: " + it->second.detail;
    case probe::MarkerState::kPending:
      return "still starting (" + it->second.detail + ")";
    case probe::MarkerState::kUnreachable:
      return "SSH unreachable (" + it->second.detail + ")";
    default:
      return "";
  }
}

void SetPlanCondition(const Observations& seen, api::ClusterStatus& status, const char* type,
                      bool ok, const std::string& reason, const std::string& message) {
  api::SetCondition(
      status.conditions,
      {type, ok ? "True" : "False", seen.cluster.metadata.generation, "", reason, message},
      seen.now);
}

std::string StartupVerdict(const Observations& seen, const cloud::Instance& instance,
                           const std::string& timeout, int failures,
                           const std::string& unready_since, std::string* message) {
  const InstanceState state = StateOf(instance);
  if (state != InstanceState::kActive && state != InstanceState::kCreating) return "";
  auto marker = seen.probes.markers.find(instance.name);
  if (marker != seen.probes.markers.end() && marker->second.state == probe::MarkerState::kFailed &&
      !seen.probes.identity_mismatch.count(instance.name)) {
    *message = "instance " + instance.name + " failed to start (" + marker->second.detail +
               "); replacing it";
    return "StartupFailed";
  }
  std::optional<std::chrono::seconds> limit = api::ParseDuration(timeout);
  const bool running = state == InstanceState::kActive;
  // Running: counted from when it was first seen running without serving (after a stop and
  // start too, when its creation is long past); unknown yet (this round) means now.
  std::optional<std::chrono::system_clock::time_point> since =
      !running                ? api::ParseTime(instance.created_at)
      : unready_since.empty() ? std::optional(seen.now)
                              : api::ParseTime(unready_since);
  if (!limit || !since) return "";
  const auto allowed = *limit * (1 << std::min(failures, 5));
  if (seen.now - *since < allowed) return "";
  const std::string minutes =
      std::to_string(std::chrono::duration_cast<std::chrono::minutes>(allowed).count());
  *message = "instance " + instance.name +
             (running ? " has run without serving for " + minutes + " minutes (since " +
                            unready_since + ")"
                      : " is still being created " + minutes + " minutes after its creation") +
             "; replacing it";
  return "StartupTimeout";
}

void TrackUnready(const Observations& seen, const cloud::Instance& instance, bool same_instance,
                  bool serving, bool counting, std::string& unready_since) {
  if (!same_instance || serving || !counting || !IsRunning(instance)) {
    unready_since.clear();
  } else if (unready_since.empty()) {
    unready_since = api::FormatTime(seen.now);
  }
}

bool MayStillLand(const Observations& seen, const std::string& requested_at) {
  if (requested_at.empty()) return false;
  std::optional<std::chrono::system_clock::time_point> at = api::ParseTime(requested_at);
  return !at || seen.now - *at < kCreateLandingWindow;  // unreadable: assume it may
}

bool LandedFrom(const cloud::Instance& instance, const std::string& requested_at) {
  constexpr std::chrono::seconds kClockSkew{10};
  std::optional<std::chrono::system_clock::time_point> requested = api::ParseTime(requested_at);
  std::optional<std::chrono::system_clock::time_point> created =
      api::ParseTime(instance.created_at);
  return requested && created && *created + kClockSkew >= *requested;
}

void ClearLandedRecord(const Observations& seen, const cloud::Instance& instance,
                       std::string& requested_at) {
  if (!MayStillLand(seen, requested_at) || LandedFrom(instance, requested_at)) requested_at.clear();
}

bool WasUp(const api::ClusterStatus& status) {
  return status.phase == api::Phase::kReady || status.phase == api::Phase::kDegraded;
}

std::string ProvisioningOverdue(const Observations& seen, const std::string& missing) {
  const api::ClusterStatus& previous = seen.cluster.status;
  // Only a grid that has not been up: once Ready, a grid that breaks is Degraded, and one whose
  // spec rolls out is Updating; neither is still being provisioned.
  if (WasUp(previous) || previous.phase == api::Phase::kUpdating) return "";
  const std::string& text = seen.cluster.spec.provisioning_timeout;
  std::optional<std::chrono::seconds> limit = api::ParseDuration(text);
  std::optional<std::chrono::system_clock::time_point> since =
      api::ParseTime(seen.cluster.metadata.creation_timestamp);
  // A resumed grid is provisioned again: from the moment it was resumed.
  const api::Condition* suspended =
      api::FindCondition(previous.conditions, api::kConditionSuspended);
  if (suspended != nullptr && suspended->status == "False") {
    std::optional<std::chrono::system_clock::time_point> resumed =
        api::ParseTime(suspended->last_transition_time);
    if (resumed && (!since || *resumed > *since)) since = resumed;
  }
  if (!limit || !since || seen.now - *since < *limit) return "";
  return "not Ready within spec.provisioningTimeout (" + text +
         (suspended != nullptr ? ") of being resumed" : ") of its creation") +
         "; the operator keeps trying. Still missing: " + missing;
}

void ConcludeLive(const Observations& seen, const Inventory& inventory, const GatewayPlan& gateway,
                  const WorkersPlan& workers, Plan& plan) {
  const api::ClusterSpec& spec = seen.cluster.spec;
  api::ClusterStatus& status = plan.status;
  status.ready_workers = workers.ready;
  const bool gateway_ok =
      gateway.not_ready_reason.empty() && status.gateway && status.gateway->ready;
  SetPlanCondition(
      seen, status, api::kConditionGatewayReady, gateway_ok,
      gateway_ok ? "GatewayReady" : gateway.not_ready_reason,
      gateway_ok ? "the gateway answers at " + status.endpoint : gateway.not_ready_message);
  const bool workers_ok = workers.ready == spec.workers.replicas;
  std::string workers_message = std::to_string(workers.ready) + "/" +
                                std::to_string(spec.workers.replicas) + " workers registered";
  if (!workers_ok) {
    workers_message += "; waiting for ";
    for (size_t i = 0; i < workers.waiting.size(); ++i)
      workers_message += (i ? ", " : "") + workers.waiting[i];
  }
  SetPlanCondition(seen, status, api::kConditionWorkersReady, workers_ok,
                   workers_ok ? "WorkersReady" : "WorkersNotReady", workers_message);
  // A rolling update runs while an instance is out of date, and until its last replacement is
  // ready. Ready means serving: during it, maxUnavailable workers may be out.
  const int max_unavailable = api::MaxUnavailableWorkers(spec.workers).value_or(1);
  const int stale = workers.out_of_date + (gateway.out_of_date ? 1 : 0);
  const api::Condition* up_to_date =
      api::FindCondition(seen.cluster.status.conditions, api::kConditionUpToDate);
  const bool was_rolling = up_to_date != nullptr && up_to_date->status == "False";
  const bool rolling = stale > 0 || (was_rolling && !(gateway_ok && workers_ok));
  const bool ready =
      gateway_ok &&
      (workers_ok || (rolling && workers.ready >= spec.workers.replicas - max_unavailable));
  if (spec.suspend) {
    const bool stopped = PlanSuspended(seen, inventory, plan);
    plan.next.kind = stopped && plan.actions.empty() && !inventory.AnyGoingAway()
                         ? NextStep::Kind::kSettled
                         : NextStep::Kind::kPoll;
    return;
  }
  const std::string not_ready_message = gateway_ok ? workers_message : gateway.not_ready_message;
  const std::string overdue = ready ? "" : ProvisioningOverdue(seen, not_ready_message);
  SetPlanCondition(seen, status, api::kConditionReady, ready,
                   ready              ? "Ready"
                   : !overdue.empty() ? "ProvisioningTimeout"
                   : gateway_ok       ? "WorkersNotReady"
                                      : gateway.not_ready_reason,
                   ready ? "the grid is up at " + status.endpoint
                         : (overdue.empty() ? not_ready_message : overdue));
  const api::Condition* was_ready =
      api::FindCondition(seen.cluster.status.conditions, api::kConditionReady);
  if (!overdue.empty() && (was_ready == nullptr || was_ready->reason != "ProvisioningTimeout"))
    plan.events.push_back({true, "ProvisioningTimeout", overdue});
  SetPlanCondition(
      seen, status, api::kConditionUpToDate, !rolling, rolling ? "RollingUpdate" : "UpToDate",
      !rolling ? "every instance runs the current spec"
      : stale > 0
          ? std::to_string(stale) + " of " + std::to_string(spec.workers.replicas + 1) +
                " instances run an older spec; replacing " + std::to_string(max_unavailable) +
                (max_unavailable == 1 ? " worker at a time" : " workers at a time")
          : "waiting for the last replacements to be ready");
  SetPlanCondition(seen, status, api::kConditionProgressing, true,
                   rolling ? "RollingUpdate" : "Complete",
                   rolling ? "a spec change is rolling out" : "the grid has its spec");
  if (!workers.remediation_blocked.empty() ||
      api::FindCondition(status.conditions, api::kConditionRemediationAllowed) != nullptr) {
    SetPlanCondition(seen, status, api::kConditionRemediationAllowed,
                     workers.remediation_blocked.empty(),
                     workers.remediation_blocked.empty() ? "Allowed" : "TooManyUnhealthy",
                     workers.remediation_blocked.empty() ? "workers that fail to start are replaced"
                                                         : workers.remediation_blocked);
  }
  if (api::FindCondition(status.conditions, api::kConditionSuspended) != nullptr) {
    SetPlanCondition(seen, status, api::kConditionSuspended, false, "Resumed",
                     "spec.suspend is false: the grid runs");
  }

  const api::ClusterStatus& previous = seen.cluster.status;
  if (rolling) {
    status.phase = api::Phase::kUpdating;
  } else if (ready) {
    status.phase = api::Phase::kReady;
  } else if (WasUp(previous)) {
    status.phase = api::Phase::kDegraded;
  } else if (gateway.instance == nullptr && inventory.workers.empty() && !previous.gateway) {
    status.phase = api::Phase::kPending;
  } else {
    status.phase = api::Phase::kProvisioning;
  }
  // Transitions, once each: the grid came up, or went down after being up.
  if (status.phase == api::Phase::kReady && previous.phase != api::Phase::kReady) {
    plan.events.push_back({false, "GridReady",
                           "the grid is up at " + status.endpoint + " with " +
                               std::to_string(workers.ready) + " workers"});
  } else if (status.phase == api::Phase::kDegraded && previous.phase == api::Phase::kReady) {
    const api::Condition* why = api::FindCondition(status.conditions, api::kConditionReady);
    plan.events.push_back({true, "GridDegraded", why ? why->message : "the grid is not ready"});
  }
  const bool settled = ready && !rolling && plan.actions.empty() && !inventory.AnyGoingAway();
  plan.next.kind = settled ? NextStep::Kind::kSettled : NextStep::Kind::kPoll;
}

}  // namespace pygrid::controller::internal
