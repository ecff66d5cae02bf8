// The planner's entry points: which kind of round this is (invalid, deleting, credentials or
// cloud trouble, live), and the conclusion after acting.
#include "controller/planner.h"

#include <algorithm>
#include <cstdio>

#include "api/conditions.h"
#include "api/defaults.h"
#include "api/validation.h"
#include "controller/internal/plan_parts.h"
#include "controller/security_groups.h"

namespace pygrid::controller {

namespace {

using internal::SetPlanCondition;

// Every group the operator shares starts with this (api::SharedSecurityGroupNameFor).
constexpr char kSharedGroupPrefix[] = "pygrid-ports-";

std::string OwnPrefix(const api::PyGridCluster& cluster) {
  return api::InstancePrefixFor(cluster.metadata.name, cluster.metadata.uid);
}

bool ReasonChanged(const api::ClusterStatus& previous, const char* type, const std::string& reason,
                   const std::string& message = "") {
  const api::Condition* before = api::FindCondition(previous.conditions, type);
  return before == nullptr || before->status != "False" || before->reason != reason ||
         (!message.empty() && before->message != message);
}

// The phase for a cluster that cannot make progress by itself for a while (credentials, cloud).
api::Phase StalledPhase(const api::ClusterStatus& previous) {
  if (internal::WasUp(previous)) return api::Phase::kDegraded;
  if (!previous.gateway && previous.workers.empty()) return api::Phase::kPending;
  return api::Phase::kProvisioning;
}

void PlanInvalid(const Observations& seen, Plan& plan) {
  const std::string message = api::JoinCauses(seen.spec_errors);
  if (ReasonChanged(seen.cluster.status, api::kConditionSpecValid, "InvalidSpec", message)) {
    plan.events.push_back({true, "InvalidSpec", message});
  }
  SetPlanCondition(seen, plan.status, api::kConditionSpecValid, false, "InvalidSpec", message);
  SetPlanCondition(seen, plan.status, api::kConditionReady, false, "InvalidSpec",
                   "the spec is invalid: " + message);
  plan.status.phase = api::Phase::kFailed;  // needs a person: only a spec change helps
  plan.next.kind = NextStep::Kind::kWaitForChange;
}

void PlanCredentialsProblem(const Observations& seen, Plan& plan) {
  const CredentialsObservation& credentials = *seen.credentials;
  if (ReasonChanged(seen.cluster.status, api::kConditionCredentialsValid, credentials.reason)) {
    plan.events.push_back({true, credentials.reason, credentials.message});
  }
  SetPlanCondition(seen, plan.status, api::kConditionCredentialsValid, false, credentials.reason,
                   credentials.message);
  if (!seen.being_deleted) {
    SetPlanCondition(seen, plan.status, api::kConditionReady, false, "CredentialsInvalid",
                     credentials.message);
    plan.status.phase = StalledPhase(seen.cluster.status);
  }
  // The Secret's watch brings the cluster back at once; the resync is a safety net.
  plan.next.kind = NextStep::Kind::kSteady;
}

// Turns a cloud failure into conditions, events and the next step. Used for failures while
// observing and while acting.
void ApplyCloudFailure(const Observations& seen, const std::string& during, const Status& error,
                       api::ClusterStatus& status, std::vector<PlannedEvent>& events,
                       NextStep& next) {
  const api::ClusterStatus& previous = seen.cluster.status;
  if (error.IsUnauthorized() || error.IsForbidden()) {
    if (ReasonChanged(previous, api::kConditionCredentialsValid, "TokenRejected")) {
      events.push_back({true, "TokenRejected",
                        "Genesis Cloud rejected the API token (" +
                            std::string(ErrorKindName(error.kind())) + ")"});
    }
    SetPlanCondition(seen, status, api::kConditionCredentialsValid, false, "TokenRejected",
                     "Genesis Cloud rejected the token from Secret " +
                         seen.cluster.metadata.namespace_name + "/" +
                         seen.cluster.spec.credentials_secret_ref.name);
    if (!seen.being_deleted) {
      SetPlanCondition(seen, status, api::kConditionReady, false, "TokenRejected",
                       "Genesis Cloud rejected the API token");
    }
    next = {NextStep::Kind::kSteady, {}, error};
    return;
  }
  if (error.IsRateLimited()) {
    if (!seen.being_deleted) {
      SetPlanCondition(seen, status, api::kConditionReady, false, "RateLimited",
                       during + ": Genesis Cloud asked the operator to slow down");
    }
    next = {NextStep::Kind::kAfter, error.retry_after().value_or(std::chrono::milliseconds(0)),
            error};
    return;
  }
  if (error.IsConflict()) {
    next = {NextStep::Kind::kBackoff, {}, error};
    return;
  }
  if (error.retryable()) {
    // An outage shows at once in CloudReachable (its lastTransitionTime says since when) and
    // in Ready once it has lasted the grace period.
    SetPlanCondition(seen, status, api::kConditionCloudReachable, false, "CloudUnavailable",
                     during + ": " + error.ToString());
    const api::Condition* reachable =
        api::FindCondition(status.conditions, api::kConditionCloudReachable);
    std::optional<std::chrono::system_clock::time_point> since =
        api::ParseTime(reachable->last_transition_time);
    if (!seen.being_deleted && since && seen.now - *since >= kCloudOutageGrace) {
      SetPlanCondition(seen, status, api::kConditionReady, false, "CloudUnavailable",
                       "the Genesis Cloud API has been failing since " +
                           reachable->last_transition_time + ": " + error.ToString());
    }
    next = {NextStep::Kind::kBackoff, {}, error};
    return;
  }
  // Permanent (invalid type or image, quota): say so, retry only on the slow interval.
  const std::string reason = error.IsQuotaExceeded() ? "QuotaExceeded" : "CloudRequestRejected";
  const std::string message = during + ": " + error.ToString();
  if (ReasonChanged(previous, api::kConditionReady, reason, message)) {
    events.push_back({true, reason, message});
  }
  if (!seen.being_deleted) {
    SetPlanCondition(seen, status, api::kConditionReady, false, reason, message);
  }
  next = {NextStep::Kind::kSteady, {}, error};
}

// True when the status proves that no create was ever attempted: intent (an identity) is
// recorded before every create, so a status without any has never created anything.
bool NeverCreated(const api::ClusterStatus& status) {
  if (status.gateway &&
      (!status.gateway->ssh_host_key.empty() || !status.gateway->instance_id.empty()))
    return false;
  for (const api::WorkerStatus& worker : status.workers) {
    if (!worker.ssh_host_key.empty() || !worker.instance_id.empty()) return false;
  }
  return true;
}

// The last actions of a deletion: drop the credentials copy, then the finalizer.
void Finish(Plan& plan, std::string reason = "", std::string message = "") {
  Action drop;
  drop.kind = ActionKind::kDropCredentials;
  plan.actions.push_back(drop);
  Action action;
  action.kind = ActionKind::kRemoveFinalizer;
  action.reason = std::move(reason);
  action.message = std::move(message);
  plan.actions.push_back(action);
  plan.next.kind = NextStep::Kind::kForget;
}

// The groups the operator made for a deleted grid that may go now: its shared group (by name,
// for its region and ports), the group status records, and the per-grid group operators made
// before groups were shared ("pygrid-<name>-<uid8>"). A group goes only when no instance of the
// account references it (the list was read afresh this round) and no other grid of the account
// that is not being deleted needs it; a grid created after this check that finds the group gone
// makes it again (ActionOutcome::group_gone), so the reference count is always derived from
// what is observed, never kept in memory.
void PlanGroupDeletes(const Observations& seen, Plan& plan) {
  const api::ObjectMeta& meta = seen.cluster.metadata;
  const std::string shared = SharedSecurityGroupName(seen.cluster.spec);
  const std::string legacy = api::SecurityGroupNameFor(meta.name, meta.uid, api::ClusterSpec{});
  const std::string& recorded = seen.cluster.status.security_group_id;
  for (const cloud::SecurityGroup& group : seen.cloud.account_groups) {
    const bool operators = group.name == legacy || group.name.rfind(kSharedGroupPrefix, 0) == 0;
    const bool ours = group.name == shared || group.name == legacy || group.id == recorded;
    if (!operators || !ours || seen.cloud.groups_needed_elsewhere.count(group.name)) continue;
    bool used = false;
    for (const cloud::Instance& instance : seen.cloud.account_instances) {
      for (const cloud::ResourceRef& ref : instance.security_groups) used |= ref.id == group.id;
    }
    if (used) continue;
    Action drop;
    drop.kind = ActionKind::kDeleteSecurityGroup;
    drop.id = group.id;
    drop.name = group.name;
    plan.actions.push_back(drop);
  }
}

void PlanDeletion(const Observations& seen, Plan& plan) {
  plan.status.phase = api::Phase::kDeleting;
  SetPlanCondition(seen, plan.status, api::kConditionReady, false, "Deleting",
                   "the cluster is being deleted");
  plan.next.kind = NextStep::Kind::kPoll;
  if (!seen.has_finalizer) {
    plan.next.kind = NextStep::Kind::kForget;
    return;
  }
  const api::ClusterSpec& spec = seen.cluster.spec;
  if (seen.spec_errors.empty() && spec.deletion_policy == api::DeletionPolicy::kRetain) {
    Finish(plan, "InstancesRetained",
           "deletionPolicy is Retain: the cluster's Genesis Cloud instances are kept");
    return;
  }
  if (seen.credentials && !seen.credentials->ok()) {
    if (NeverCreated(seen.cluster.status)) {
      Finish(plan, "NothingToDelete", "no instance was ever created; deleting without credentials");
      return;
    }
    PlanCredentialsProblem(seen, plan);
    return;
  }
  if (seen.cloud.error) {
    ApplyCloudFailure(seen, seen.cloud.error_during, *seen.cloud.error, plan.status, plan.events,
                      plan.next);
    return;
  }
  if (!seen.cloud.listed) return;
  bool any = false;
  for (const cloud::Instance& instance : seen.cloud.instances) {
    if (!api::ParseInstanceName(OwnPrefix(seen.cluster), instance.name)) continue;
    any = true;
    if (StateOf(instance) != InstanceState::kDeleting) {
      plan.actions.push_back(internal::DeleteAction(
          instance, "InstanceDeleted", "deleting instance " + instance.name + " of deleted cluster",
          false));
    }
  }
  if (any) return;
  // A create whose answer was lost may still land: keep the finalizer until it cannot.
  const api::ClusterStatus& status = seen.cluster.status;
  bool pending =
      status.gateway && internal::MayStillLand(seen, status.gateway->create_requested_at);
  for (const api::WorkerStatus& worker : status.workers) {
    pending |= internal::MayStillLand(seen, worker.create_requested_at);
  }
  if (pending) {
    SetPlanCondition(seen, plan.status, api::kConditionReady, false, "Deleting",
                     "the cluster is being deleted; waiting until a create whose answer was lost "
                     "can no longer land");
    return;
  }
  // Every instance is gone: drop the groups the operator made for this grid that nothing uses.
  if (spec.network.security_group_name.empty()) PlanGroupDeletes(seen, plan);
  Finish(plan);
}

// Holds back this round's creates while the grid's security group is still being applied by
// the cloud: an instance may only be created into a group in status `created`.
void HoldCreatesForGroup(const Observations& seen, Plan& plan) {
  auto& actions = plan.actions;
  const size_t before = actions.size();
  actions.erase(
      std::remove_if(actions.begin(), actions.end(),
                     [](const Action& a) { return a.kind == ActionKind::kCreateInstance; }),
      actions.end());
  if (actions.size() == before) return;
  // A group is applied within seconds; the account's group list is re-read at most every half
  // poll interval meanwhile, so looking sooner costs no API call.
  plan.next.kind = NextStep::Kind::kSoon;
  // Say what is waited for where the conditions would say a create is under way.
  const std::string message = "waiting until Genesis Cloud has applied security group " +
                              seen.cloud.security_group_id + " before creating instances";
  for (const char* type : {api::kConditionGatewayReady, api::kConditionReady}) {
    const api::Condition* condition = api::FindCondition(plan.status.conditions, type);
    if (condition != nullptr && condition->reason == "GatewayCreating")
      SetPlanCondition(seen, plan.status, type, false, kReasonSecurityGroupPending, message);
  }
}

void PlanLive(const Observations& seen, Plan& plan) {
  const api::ClusterSpec& spec = seen.cluster.spec;
  plan.status.desired_workers = spec.workers.replicas;
  SetPlanCondition(seen, plan.status, api::kConditionSpecValid, true, "Valid", "the spec is valid");
  if (seen.credentials && !seen.credentials->ok()) return PlanCredentialsProblem(seen, plan);
  if (seen.credentials && !seen.credentials->copy_current) {
    Action store;
    store.kind = ActionKind::kStoreCredentials;
    plan.actions.push_back(store);
  }
  if (seen.cloud.error) {
    ApplyCloudFailure(seen, seen.cloud.error_during, *seen.cloud.error, plan.status, plan.events,
                      plan.next);
    return;
  }
  if (!seen.cloud.listed) {
    plan.next.kind = NextStep::Kind::kPoll;  // nothing proven about the cloud: change nothing
    return;
  }
  SetPlanCondition(seen, plan.status, api::kConditionCredentialsValid, true, "TokenAccepted",
                   "Genesis Cloud accepts the token");
  SetPlanCondition(seen, plan.status, api::kConditionCloudReachable, true, "CloudAnswers",
                   "the Genesis Cloud API answers");
  if (!seen.cloud.security_group_id.empty())
    plan.status.security_group_id = seen.cloud.security_group_id;
  if (!seen.cloud.security_group_missing.empty()) {
    plan.events.push_back({true, "SecurityGroupIncomplete",
                           "security group " + seen.cluster.spec.network.security_group_name +
                               " is used as it is and lacks " + seen.cloud.security_group_missing});
  }

  // A change that cannot roll: instances cannot move between regions. (The CRD refuses it too;
  // this catches servers without CEL and objects written before the rule.)
  for (const cloud::Instance& instance : seen.cloud.instances) {
    if (instance.region.empty() || spec.region.empty() || instance.region == spec.region ||
        StateOf(instance) == InstanceState::kDeleting)
      continue;
    const std::string message = "spec.region cannot change: instance " + instance.name + " is in " +
                                instance.region + "; delete and re-create the grid";
    if (ReasonChanged(seen.cluster.status, api::kConditionSpecValid, "RegionChanged", message)) {
      plan.events.push_back({true, "RegionChanged", message});
    }
    SetPlanCondition(seen, plan.status, api::kConditionSpecValid, false, "RegionChanged", message);
    SetPlanCondition(seen, plan.status, api::kConditionReady, false, "RegionChanged", message);
    plan.next.kind = NextStep::Kind::kWaitForChange;
    return;
  }
  const internal::Inventory inventory =
      internal::TakeInventory(OwnPrefix(seen.cluster), seen.cloud.instances, seen.cluster.status);
  for (const cloud::Instance& duplicate : inventory.duplicates) {
    if (StateOf(duplicate) != InstanceState::kDeleting) {
      plan.actions.push_back(internal::DeleteAction(
          duplicate, "DuplicateInstance",
          "instance " + duplicate.id + " duplicates the name " + duplicate.name +
              "; keeping the one whose identity status records",
          true));
    }
  }
  plan.status.gateway.reset();
  plan.status.workers.clear();
  plan.status.endpoint.clear();
  const internal::GatewayPlan gateway = internal::PlanGateway(seen, inventory, plan);
  const internal::WorkersPlan workers = internal::PlanWorkers(seen, inventory, gateway, plan);
  internal::ConcludeLive(seen, inventory, gateway, workers, plan);
  if (seen.cloud.security_group_pending) HoldCreatesForGroup(seen, plan);
}

}  // namespace

bool BuiltFromOlderSpec(const std::string& recorded_hash, const std::string& current) {
  return !recorded_hash.empty() && recorded_hash != current;
}

bool AnyBuiltFromOlderSpec(const api::PyGridCluster& cluster) {
  const api::ClusterStatus& status = cluster.status;
  if (status.gateway && BuiltFromOlderSpec(status.gateway->spec_hash,
                                           SpecHashFor(api::InstanceRole::kGateway, cluster.spec)))
    return true;
  const std::string worker = SpecHashFor(api::InstanceRole::kWorker, cluster.spec);
  for (const api::WorkerStatus& entry : status.workers) {
    if (BuiltFromOlderSpec(entry.spec_hash, worker)) return true;
  }
  return false;
}

std::string SpecHashFor(api::InstanceRole role, const api::ClusterSpec& spec) {
  const bool gateway = role == api::InstanceRole::kGateway;
  const bool runs_node = !gateway || spec.gateway.colocated_worker;
  std::string fields = std::string(gateway ? "gateway|" : "worker|") +
                       (gateway ? spec.gateway.instance_type : spec.workers.instance_type) + "|" +
                       spec.image + "|" + api::GpuDriverName(spec.gpu_driver) + "|" +
                       api::FlavorName(spec.pygrid.flavor) + "|" +
                       std::to_string(spec.pygrid.gateway_port) + "|";
  if (runs_node)
    fields += spec.pygrid.node_image + "|" + std::to_string(spec.pygrid.node_port) + "|";
  if (gateway) {
    fields += spec.pygrid.gateway_image + "|" + (spec.gateway.colocated_worker ? "1" : "0") + "|";
  }
  for (const std::string& cidr : spec.network.allowed_source_cidrs) fields += cidr + ",";
  fields += "|";
  for (const std::string& key : spec.ssh_key_names) fields += key + ",";
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a, 64 bit: stable across builds and hosts
  for (unsigned char c : fields) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

Plan PlanRound(const Observations& seen) {
  Plan plan;
  plan.status = seen.cluster.status;
  plan.status.observed_generation = seen.cluster.metadata.generation;
  if (seen.being_deleted) {
    PlanDeletion(seen, plan);
    return plan;
  }
  if (!seen.has_finalizer) {
    Action add;
    add.kind = ActionKind::kAddFinalizer;
    plan.actions.push_back(add);
  }
  if (!seen.spec_errors.empty()) {
    PlanInvalid(seen, plan);
  } else {
    PlanLive(seen, plan);
  }
  return plan;
}

std::string GatewayJoinUrl(const api::ClusterSpec& spec, const std::string& gateway_ip) {
  return "http://" + gateway_ip + ":" + std::to_string(spec.pygrid.gateway_port);
}

void RecordIdentity(api::ClusterStatus& status, const std::string& name,
                    const InstanceIdentity& identity) {
  if (status.gateway && status.gateway->name == name) {
    status.gateway->ssh_host_key = identity.ssh_host_key;
    status.gateway->node_id = identity.node_id;
    status.gateway->create_requested_at = identity.requested_at;
    status.gateway->spec_hash = identity.spec_hash;
    return;
  }
  for (api::WorkerStatus& worker : status.workers) {
    if (worker.name != name) continue;
    worker.ssh_host_key = identity.ssh_host_key;
    worker.node_id = identity.node_id;
    worker.create_requested_at = identity.requested_at;
    worker.gateway_ip = identity.gateway_ip;
    worker.spec_hash = identity.spec_hash;
  }
}

Conclusion Conclude(const Observations& seen, const Plan& plan, const ActReport& report) {
  Conclusion done{plan.status, plan.events, plan.next};
  api::ClusterStatus& status = done.status;
  // `answered`: the create itself returned the instance, so nothing of it can land later. An
  // instance found by name after an ambiguous failure clears the record only if it was made by
  // this create (internal::LandedFrom); an older one is another writer's, and this create may
  // still land.
  auto created = [&](const std::string& name, const cloud::Instance& instance, bool answered) {
    const char* state = InstanceStateName(StateOf(instance));
    auto record = [&](std::string& requested_at) {
      if (answered || internal::LandedFrom(instance, requested_at)) requested_at.clear();
    };
    if (status.gateway && status.gateway->name == name) {
      status.gateway->instance_id = instance.id;
      status.gateway->state = state;
      record(status.gateway->create_requested_at);
    }
    for (api::WorkerStatus& worker : status.workers) {
      if (worker.name != name) continue;
      worker.instance_id = instance.id;
      worker.state = state;
      record(worker.create_requested_at);
    }
  };
  auto set_state = [&](const std::string& id, const char* state) {
    if (status.gateway && status.gateway->instance_id == id) status.gateway->state = state;
    for (api::WorkerStatus& worker : status.workers) {
      if (worker.instance_id == id) worker.state = state;
    }
  };
  auto deleting = [&](const std::string& id) { set_state(id, "deleting"); };
  // A refused create sent nothing that could land later.
  auto refused = [&](const std::string& name) {
    if (status.gateway && status.gateway->name == name) status.gateway->create_requested_at.clear();
    for (api::WorkerStatus& worker : status.workers) {
      if (worker.name == name) worker.create_requested_at.clear();
    }
  };
  bool group_gone = false;
  int deliveries = 0;
  int progressed = 0;        // cloud actions (creates, deletes, starts, stops) that took effect
  int first_deliveries = 0;  // to workers that had no address yet
  const Status* failure = nullptr;
  std::string failed_during;
  for (size_t i = 0; i < plan.actions.size() && i < report.outcomes.size(); ++i) {
    const Action& action = plan.actions[i];
    const ActionOutcome& outcome = report.outcomes[i];
    if (!outcome.ran) continue;
    if (action.kind == ActionKind::kDeliverGateway) {
      // Not a round failure: a worker whose sshd is not up yet is tried again next round, and
      // the planner falls back to user data when SSH never reaches it.
      if (!outcome.result.ok()) continue;
      ++deliveries;
      for (api::WorkerStatus& worker : status.workers) {
        if (worker.name != action.name) continue;
        if (worker.gateway_ip.empty()) ++first_deliveries;
        worker.gateway_ip = action.gateway_ip;
      }
      if (!action.reason.empty()) done.events.push_back({false, action.reason, action.message});
      continue;
    }
    if (action.kind == ActionKind::kCreateInstance && outcome.group_gone) {
      // Not a failure: the group went meanwhile (the last other grid using it was deleted).
      refused(action.name);
      if (!group_gone) {
        done.events.push_back({false, "SecurityGroupGone",
                               "security group " + status.security_group_id +
                                   " no longer exists; making it again before creating " +
                                   action.name});
      }
      group_gone = true;
      continue;
    }
    if (action.kind == ActionKind::kCreateInstance && !action.reason.empty()) {
      done.events.push_back({action.warning, action.reason, action.message});
    }
    const bool ok =
        outcome.result.ok() ||
        (action.kind == ActionKind::kDeleteInstance && outcome.result.IsNotFound()) ||
        // Gone, or in use (the API refuses): whoever uses it deletes it with its own grid.
        (action.kind == ActionKind::kDeleteSecurityGroup &&
         (outcome.result.IsNotFound() || outcome.result.IsConflict()));
    if (!ok) {
      if (failure == nullptr) {
        failure = &outcome.result;
        switch (action.kind) {
          case ActionKind::kCreateInstance:
            failed_during = "creating instance " + action.name;
            break;
          case ActionKind::kDeleteInstance:
            failed_during = "deleting " + action.name;
            break;
          case ActionKind::kStartInstance:
            failed_during = "starting " + action.name;
            break;
          case ActionKind::kStopInstance:
            failed_during = "stopping " + action.name;
            break;
          case ActionKind::kStoreCredentials:
          case ActionKind::kDropCredentials:
            failed_during = "copying the credentials";
            break;
          case ActionKind::kDeleteSecurityGroup:
            failed_during = "deleting the security group";
            break;
          default:
            failed_during = "updating the finalizers";
            break;
        }
      }
      continue;
    }
    if (action.kind == ActionKind::kCreateInstance || action.kind == ActionKind::kDeleteInstance ||
        action.kind == ActionKind::kStartInstance || action.kind == ActionKind::kStopInstance)
      ++progressed;
    switch (action.kind) {
      case ActionKind::kCreateInstance: {
        if (!outcome.created) break;
        created(action.name, *outcome.created, !outcome.adopted);
        const std::string role = action.role == api::InstanceRole::kGateway ? "gateway" : "worker";
        if (outcome.adopted) {
          done.events.push_back({false, "InstanceAdopted",
                                 "the create of " + action.name +
                                     " failed ambiguously but the instance exists; adopting it"});
        } else {
          done.events.push_back(
              {false, "InstanceCreated",
               "created " + role + " instance " + action.name + " (" + outcome.created->id + ")"});
        }
        break;
      }
      case ActionKind::kDeleteInstance:
        deleting(action.id);
        break;
      case ActionKind::kStartInstance:
        set_state(action.id, "starting");
        break;
      case ActionKind::kStopInstance:
        set_state(action.id, "stopping");
        break;
      default:
        break;
    }
    if (action.kind != ActionKind::kCreateInstance && !action.reason.empty()) {
      done.events.push_back({action.warning, action.reason, action.message});
    }
  }
  // The nodes join within moments of a delivery: see them registered without a whole poll.
  if (deliveries > 0 && done.next.kind == NextStep::Kind::kPoll)
    done.next.kind = NextStep::Kind::kSoon;
  if (first_deliveries > 0 && status.gateway_address_delivery.empty()) {
    status.gateway_address_delivery = api::kGatewayAddressBySsh;
    done.events.push_back(
        {false, "GatewayAddressDelivered",
         "gave " + std::to_string(first_deliveries) +
             (first_deliveries == 1 ? " worker" : " workers") +
             " the gateway address over SSH: workers boot with their gateway (one boot)"});
  }
  if (group_gone) {
    status.security_group_id.clear();  // the next round ensures the group again
    if (failure == nullptr) done.next = {NextStep::Kind::kPoll, {}, Status::Ok()};
  }
  if (failure != nullptr &&
      (failed_during == "copying the credentials" || failed_during == "updating the finalizers")) {
    done.next = {NextStep::Kind::kBackoff, {}, *failure};  // Kubernetes, not the cloud
  } else if (failure != nullptr) {
    ApplyCloudFailure(seen, failed_during, *failure, status, done.events, done.next);
    // Some of the round's cloud actions took effect: the grid moves, so the rest is retried at
    // the poll interval. Backoff is for a grid that is stuck: under scattered failures (one
    // call in a few) it would otherwise grow with every round that had one, to minutes, while
    // most calls succeed.
    if (progressed > 0 && done.next.kind == NextStep::Kind::kBackoff)
      done.next.kind = NextStep::Kind::kPoll;
  }
  return done;
}

}  // namespace pygrid::controller
