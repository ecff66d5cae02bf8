#include "controller/planner.h"

#include <algorithm>
#include <optional>

#include "api/conditions.h"

namespace pygrid::controller {

namespace {

using api::InstanceRole;

constexpr char kActive[] = "active";
constexpr char kError[] = "error";

bool IsActive(const cloud::Instance& instance) {
  return instance.status == kActive && instance.public_ip && instance.private_ip;
}

// The cluster's instances by role and index; duplicates (same name) beyond the oldest.
struct Inventory {
  std::optional<cloud::Instance> gateway;
  std::map<int, cloud::Instance> workers;
  std::vector<cloud::Instance> duplicates;
};

Inventory TakeInventory(const std::string& prefix, const std::vector<cloud::Instance>& instances) {
  std::vector<cloud::Instance> sorted = instances;
  // Oldest first, so the oldest of a duplicated name is the one kept.
  std::sort(sorted.begin(), sorted.end(), [](const cloud::Instance& a, const cloud::Instance& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  Inventory inventory;
  for (const cloud::Instance& instance : sorted) {
    std::optional<api::ParsedInstanceName> parsed = api::ParseInstanceName(prefix, instance.name);
    if (!parsed) continue;
    if (parsed->role == InstanceRole::kGateway) {
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

Action Delete(const cloud::Instance& instance, const std::string& reason,
              const std::string& message) {
  Action action;
  action.kind = ActionKind::kDeleteInstance;
  action.name = instance.name;
  action.instance_id = instance.id;
  action.reason = reason;
  action.message = message;
  return action;
}

const api::WorkerStatus* PreviousWorker(const api::ClusterStatus& status, const std::string& name) {
  for (const api::WorkerStatus& worker : status.workers) {
    if (worker.name == name) return &worker;
  }
  return nullptr;
}

// An instance the status recorded, that was not on its way out, and that the cloud no longer
// lists was deleted behind the operator's back.
bool WasLost(const std::string& recorded_id, const std::string& recorded_state) {
  return !recorded_id.empty() && recorded_state != "deleting" && recorded_state != kError;
}

std::string MarkerDetail(const Observations& seen, const std::string& name) {
  auto it = seen.markers.find(name);
  if (it == seen.markers.end()) return "";
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

void SetPlanCondition(api::ClusterStatus& status, const char* type, bool ok,
                      const std::string& reason, const std::string& message, int64_t generation) {
  api::Condition condition{type, ok ? "True" : "False", generation, "", reason, message};
  // The reconciler stamps transition times against the previous status; here only the fields.
  auto it = std::find_if(status.conditions.begin(), status.conditions.end(),
                         [&](const api::Condition& c) { return c.type == type; });
  if (it == status.conditions.end()) {
    status.conditions.push_back(condition);
  } else {
    *it = condition;
  }
}

}  // namespace

bool IsGoingAway(const cloud::Instance& instance) { return instance.status == "deleting"; }

Plan PlanCluster(const api::PyGridCluster& cluster, const Observations& seen) {
  const api::ClusterSpec& spec = cluster.spec;
  const std::string prefix = api::InstancePrefixFor(cluster.metadata.name, cluster.metadata.uid);
  const Inventory inventory = TakeInventory(prefix, seen.instances);
  const api::ClusterStatus& previous = cluster.status;
  const int64_t generation = cluster.metadata.generation;
  Plan plan;
  api::ClusterStatus& status = plan.status;
  status.conditions = previous.conditions;
  status.security_group_id = previous.security_group_id;
  status.desired_workers = spec.workers.replicas;
  status.observed_generation = generation;

  for (const cloud::Instance& duplicate : inventory.duplicates) {
    if (!IsGoingAway(duplicate)) {
      plan.actions.push_back(Delete(duplicate, "DuplicateInstance",
                                    "instance " + duplicate.id + " duplicates the name " +
                                        duplicate.name + "; keeping the oldest"));
    }
  }

  // The gateway.
  const std::string gateway_name =
      api::InstanceNameFor(cluster.metadata.name, cluster.metadata.uid, InstanceRole::kGateway, 0);
  api::GatewayStatus gateway;
  if (previous.gateway && previous.gateway->name == gateway_name) gateway = *previous.gateway;
  gateway.name = gateway_name;
  gateway.ready = false;
  bool gateway_replaced = false;  // workers must go: they joined a gateway that is gone
  const cloud::Instance* gw = inventory.gateway ? &*inventory.gateway : nullptr;
  if (gw == nullptr) {
    const bool lost = WasLost(gateway.instance_id, gateway.state);
    gateway_replaced = !gateway.instance_id.empty();
    if (gateway_replaced) {
      gateway = api::GatewayStatus{};  // a new instance gets a new identity
      gateway.name = gateway_name;
    }
    Action create;
    create.kind = ActionKind::kCreateGateway;
    create.name = gateway_name;
    create.reason = lost ? "InstanceLost" : "";
    create.message =
        lost ? "gateway instance " + gateway_name + " disappeared; creating it again" : "";
    plan.actions.push_back(create);
  } else {
    if (gateway.instance_id != gw->id) {
      // Adopted (the create's response was lost) or replaced: keep the intent, take the id.
      gateway.instance_id = gw->id;
    }
    gateway.public_ip = gw->public_ip.value_or("");
    gateway.private_ip = gw->private_ip.value_or("");
    gateway.state = gw->status;
    if (gw->status == kError) {
      plan.actions.push_back(
          Delete(*gw, "InstanceFailed",
                 "gateway instance " + gw->name + " is in state error; replacing it"));
      gateway_replaced = true;
    } else if (IsGoingAway(*gw)) {
      gateway_replaced = true;
    }
  }
  const bool gateway_active = gw != nullptr && IsActive(*gw);
  const bool colocated_registered =
      !spec.gateway.colocated_worker ||
      (!gateway.node_id.empty() && seen.connected_nodes.count(gateway.node_id) > 0);
  gateway.ready = gateway_active && seen.gateway_answers;
  if (gateway_active) {
    status.endpoint =
        "http://" + gateway.public_ip + ":" + std::to_string(spec.pygrid.gateway_port);
  }

  // The workers.
  int ready_workers = 0;
  std::vector<std::string> waiting;
  for (const auto& [index, instance] : inventory.workers) {
    if (IsGoingAway(instance)) continue;
    if (gateway_replaced) {
      plan.actions.push_back(
          Delete(instance, "GatewayReplaced",
                 "worker " + instance.name +
                     " joined a gateway that is gone; it is recreated once the new gateway is up"));
    } else if (index >= spec.workers.replicas) {
      plan.actions.push_back(Delete(instance, "ScaledDown",
                                    "deleting worker " + instance.name +
                                        ": spec.workers.replicas is " +
                                        std::to_string(spec.workers.replicas)));
    } else if (instance.status == kError) {
      plan.actions.push_back(
          Delete(instance, "InstanceFailed",
                 "worker instance " + instance.name + " is in state error; replacing it"));
    }
  }
  const bool can_create_workers = gateway_active && !gateway_replaced;
  for (int index = 0; index < spec.workers.replicas; ++index) {
    const std::string name = api::InstanceNameFor(cluster.metadata.name, cluster.metadata.uid,
                                                  InstanceRole::kWorker, index);
    api::WorkerStatus worker;
    if (const api::WorkerStatus* before = PreviousWorker(previous, name)) worker = *before;
    worker.name = name;
    worker.index = index;
    worker.registered = false;
    worker.ready = false;
    auto observed = inventory.workers.find(index);
    if (observed == inventory.workers.end()) {
      const bool lost = WasLost(worker.instance_id, worker.state);
      if (!worker.instance_id.empty()) {
        worker = api::WorkerStatus{};  // a new instance gets a new identity
        worker.name = name;
        worker.index = index;
      }
      if (can_create_workers) {
        Action create;
        create.kind = ActionKind::kCreateWorker;
        create.name = name;
        create.index = index;
        create.reason = lost ? "InstanceLost" : "";
        create.message = lost ? "worker instance " + name + " disappeared; creating it again" : "";
        plan.actions.push_back(create);
      }
      waiting.push_back(name + (can_create_workers ? " (creating)" : " (waiting for the gateway)"));
    } else {
      const cloud::Instance& instance = observed->second;
      worker.instance_id = instance.id;
      worker.public_ip = instance.public_ip.value_or("");
      worker.private_ip = instance.private_ip.value_or("");
      worker.state = instance.status;
      worker.registered = !worker.node_id.empty() && seen.connected_nodes.count(worker.node_id) > 0;
      worker.ready = worker.registered && IsActive(instance) && gateway.ready;
      if (worker.ready) {
        ++ready_workers;
      } else {
        const std::string detail = MarkerDetail(seen, name);
        waiting.push_back(name + " (" + (detail.empty() ? instance.status : detail) + ")");
      }
    }
    status.workers.push_back(worker);
  }
  // Workers above the desired count stay visible while they are deleted.
  for (const auto& [index, instance] : inventory.workers) {
    if (index < spec.workers.replicas) continue;
    api::WorkerStatus worker;
    if (const api::WorkerStatus* before = PreviousWorker(previous, instance.name)) worker = *before;
    worker.name = instance.name;
    worker.index = index;
    worker.instance_id = instance.id;
    worker.public_ip = instance.public_ip.value_or("");
    worker.private_ip = instance.private_ip.value_or("");
    worker.state = IsGoingAway(instance) ? instance.status : "deleting";
    worker.registered = false;
    worker.ready = false;
    status.workers.push_back(worker);
  }
  status.ready_workers = ready_workers;
  status.gateway = gateway;

  // Conditions.
  std::string gateway_reason, gateway_message;
  if (gw == nullptr) {
    gateway_reason = "GatewayCreating";
    gateway_message = "creating gateway instance " + gateway_name;
  } else if (gw->status == kError) {
    gateway_reason = "GatewayFailed";
    gateway_message = "gateway instance " + gw->name + " failed; replacing it";
  } else if (!gateway_active) {
    gateway_reason = "GatewayBooting";
    gateway_message = "gateway instance " + gw->name + " is " + gw->status;
  } else if (!seen.gateway_answers) {
    gateway_reason = "GatewayNotAnswering";
    const std::string detail = MarkerDetail(seen, gw->name);
    gateway_message = "the gateway app does not answer at " + status.endpoint +
                      (detail.empty() ? "" : "; instance " + detail);
  } else if (!colocated_registered) {
    gateway_reason = "ColocatedWorkerNotRegistered";
    gateway_message = "the gateway answers, but its co-located worker has not registered yet";
  }
  const bool gateway_ok = gateway_reason.empty() && gateway.ready;
  SetPlanCondition(
      status, api::kConditionGatewayReady, gateway_ok, gateway_ok ? "GatewayReady" : gateway_reason,
      gateway_ok ? "the gateway answers at " + status.endpoint : gateway_message, generation);
  const bool workers_ok = ready_workers == spec.workers.replicas;
  std::string workers_message = std::to_string(ready_workers) + "/" +
                                std::to_string(spec.workers.replicas) + " workers registered";
  if (!workers_ok) {
    workers_message += "; waiting for ";
    for (size_t i = 0; i < waiting.size(); ++i) workers_message += (i ? ", " : "") + waiting[i];
  }
  SetPlanCondition(status, api::kConditionWorkersReady, workers_ok,
                   workers_ok ? "WorkersReady" : "WorkersNotReady", workers_message, generation);
  plan.ready = gateway_ok && workers_ok;
  SetPlanCondition(status, api::kConditionReady, plan.ready,
                   plan.ready ? "Ready" : (gateway_ok ? "WorkersNotReady" : gateway_reason),
                   plan.ready ? "the grid is up at " + status.endpoint
                              : (gateway_ok ? workers_message : gateway_message),
                   generation);

  bool going_away = inventory.gateway && IsGoingAway(*inventory.gateway);
  for (const auto& [index, instance] : inventory.workers) going_away |= IsGoingAway(instance);
  for (const cloud::Instance& duplicate : inventory.duplicates)
    going_away |= IsGoingAway(duplicate);
  plan.settled = plan.ready && plan.actions.empty() && !going_away;

  const bool was_up =
      previous.phase == api::Phase::kReady || previous.phase == api::Phase::kDegraded;
  if (plan.ready) {
    status.phase = api::Phase::kReady;
  } else if (was_up) {
    status.phase = api::Phase::kDegraded;
  } else if (gw == nullptr && inventory.workers.empty() && previous.gateway == std::nullopt) {
    status.phase = api::Phase::kPending;
  } else {
    status.phase = api::Phase::kProvisioning;
  }
  return plan;
}

DeletionPlan PlanDeletion(const api::PyGridCluster& cluster, const Observations& seen) {
  const std::string prefix = api::InstancePrefixFor(cluster.metadata.name, cluster.metadata.uid);
  DeletionPlan plan;
  bool any = false;
  for (const cloud::Instance& instance : seen.instances) {
    if (!api::ParseInstanceName(prefix, instance.name)) continue;
    any = true;
    if (!IsGoingAway(instance)) {
      plan.actions.push_back(Delete(instance, "InstanceDeleted",
                                    "deleting instance " + instance.name + " of deleted cluster"));
    }
  }
  plan.done = !any;
  return plan;
}

}  // namespace pygrid::controller
