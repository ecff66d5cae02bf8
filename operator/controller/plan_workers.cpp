// The worker part of the planner: fill the lowest free indexes, delete the highest first,
// replace failed and lost workers, deliver the gateway's address to workers that wait for it
// (or, on the UserData path, let every worker go with a replaced gateway).
#include "api/conditions.h"
#include "api/defaults.h"
#include "api/naming.h"
#include "controller/internal/plan_parts.h"

namespace pygrid::controller::internal {

namespace {

const api::WorkerStatus* PreviousWorker(const api::ClusterStatus& status, const std::string& name) {
  for (const api::WorkerStatus& worker : status.workers) {
    if (worker.name == name) return &worker;
  }
  return nullptr;
}

bool WasLost(const api::WorkerStatus& recorded) {
  return !recorded.instance_id.empty() && recorded.state != "deleting" && recorded.state != "error";
}

void Observe(api::WorkerStatus& worker, const cloud::Instance& instance) {
  worker.instance_id = instance.id;
  worker.public_ip = instance.public_ip.value_or("");
  worker.private_ip = instance.private_ip.value_or("");
  worker.state = InstanceStateName(StateOf(instance));
}

// How long SSH has had to reach `worker`: since the later of its and its gateway's creation.
bool DeliveryOverdue(const Observations& seen, const cloud::Instance& worker,
                     const cloud::Instance& gateway) {
  std::optional<std::chrono::system_clock::time_point> since = api::ParseTime(worker.created_at);
  std::optional<std::chrono::system_clock::time_point> gateway_since =
      api::ParseTime(gateway.created_at);
  if (!since || !gateway_since) return false;
  return seen.now - std::max(*since, *gateway_since) >= seen.address_delivery_grace;
}

Action DeliverAction(const cloud::Instance& instance, const std::string& gateway_ip,
                     bool redelivery) {
  Action action;
  action.kind = ActionKind::kDeliverGateway;
  action.role = api::InstanceRole::kWorker;
  action.name = instance.name;
  action.id = instance.id;
  action.gateway_ip = gateway_ip;
  if (redelivery) {
    action.reason = "GatewayAddressRedelivered";
    action.message = "gave worker " + instance.name + " the new gateway address " + gateway_ip +
                     " over SSH; its node joins there";
  }
  return action;
}

}  // namespace

WorkersPlan PlanWorkers(const Observations& seen, const Inventory& inventory,
                        const GatewayPlan& gateway, Plan& plan) {
  const api::PyGridCluster& cluster = seen.cluster;
  const int replicas = cluster.spec.workers.replicas;
  const api::ClusterStatus& previous = cluster.status;
  const bool gateway_ready = plan.status.gateway && plan.status.gateway->ready;
  const std::string spec_hash = SpecHashFor(api::InstanceRole::kWorker, cluster.spec);
  // Workers wait for the address over SSH unless the grid fell back to user data.
  const bool by_ssh = previous.gateway_address_delivery != api::kGatewayAddressByUserData;
  // The address workers join: known once the gateway runs and is not going away.
  const std::string gateway_ip =
      gateway.running && !gateway.replaced ? gateway.instance->private_ip.value_or("") : "";
  const std::string gateway_url =
      gateway_ip.empty() ? "" : GatewayJoinUrl(cluster.spec, gateway_ip);
  std::set<std::string> holds_address;  // workers whose inbox already holds gateway_url
  WorkersPlan result;
  std::vector<const cloud::Instance*> out_of_date;  // healthy so far, built from another spec
  struct Remedy {
    const cloud::Instance* instance;
    std::string reason, message;
  };
  std::vector<Remedy> remedies;  // not serving after their start-up time
  auto acted_on = [&](const cloud::Instance& instance) {
    for (const Action& action : plan.actions) {
      if (action.id == instance.id) return true;
    }
    return false;
  };

  for (const auto& [index, instance] : inventory.workers) {
    const InstanceState state = StateOf(instance);
    if (state == InstanceState::kDeleting) continue;
    // A node joins the gateway address it was given, once (pygrid.md §5): from its user data,
    // or delivered over SSH, which can also give it a new one (it then re-joins). On the
    // UserData path a worker whose recorded gateway is not the current one joined a gateway
    // that is gone (its delete may have failed, the operator crashed, or its create landed
    // late). Without a record (status lost) one older than the gateway joined an older one.
    const api::WorkerStatus* recorded = PreviousWorker(previous, instance.name);
    bool needs_address =
        !gateway_ip.empty() && recorded != nullptr && recorded->gateway_ip != gateway_ip;
    // It has the address when its inbox holds it, or its node is registered at this gateway
    // (serving workers are not marker-probed): delivered before a crash or a lost status write.
    auto delivered = seen.probes.delivered_gateway.find(instance.name);
    if (needs_address &&
        ((delivered != seen.probes.delivered_gateway.end() && delivered->second == gateway_url) ||
         (!recorded->node_id.empty() && seen.probes.connected_nodes.count(recorded->node_id)))) {
      holds_address.insert(instance.name);
      needs_address = false;
    }
    const bool joined_old_gateway = (recorded == nullptr && gateway.running &&
                                     instance.created_at < gateway.instance->created_at) ||
                                    (!by_ssh && needs_address);
    if ((gateway.replaced && !by_ssh) || joined_old_gateway) {
      plan.actions.push_back(DeleteAction(
          instance, "GatewayReplaced",
          "worker " + instance.name +
              " joined a gateway that is gone; it is recreated once the new gateway is up",
          false));
    } else if (index >= replicas) {
      plan.actions.push_back(DeleteAction(instance, "ScaledDown",
                                          "deleting worker " + instance.name +
                                              ": spec.workers.replicas is " +
                                              std::to_string(replicas),
                                          false));
    } else if (seen.probes.identity_mismatch.count(instance.name)) {
      plan.actions.push_back(DeleteAction(
          instance, "IdentityMismatch",
          "worker " + instance.name +
              " presents another SSH host key than status pins (another create's identity); "
              "replacing it",
          true));
    } else if (state == InstanceState::kError) {
      plan.actions.push_back(DeleteAction(
          instance, "InstanceFailed",
          "worker instance " + instance.name + " is in state error; replacing it", true));
    } else if (state == InstanceState::kStopped) {
      plan.actions.push_back(StartAction(seen, instance, "worker"));
    } else if (recorded != nullptr && BuiltFromOlderSpec(recorded->spec_hash, spec_hash)) {
      out_of_date.push_back(&instance);
    }
    if (!by_ssh || !needs_address || acted_on(instance) || !IsRunning(instance)) continue;
    // Given up only on what SSH itself says: the marker probe could not connect either.
    auto marker = seen.probes.markers.find(instance.name);
    const bool unreachable = marker != seen.probes.markers.end() &&
                             marker->second.state == probe::MarkerState::kUnreachable;
    if (unreachable && DeliveryOverdue(seen, instance, *gateway.instance)) {
      // SSH does not reach it (allowedSourceCIDRs without the operator's address, a firewall):
      // this grid's workers get the address in their user data from now on.
      plan.status.gateway_address_delivery = api::kGatewayAddressByUserData;
      plan.actions.push_back(DeleteAction(
          instance, "GatewayAddressUndeliverable",
          "could not give worker " + instance.name + " the gateway address over SSH within " +
              std::to_string(seen.address_delivery_grace.count()) + " s (" +
              MarkerDetail(seen, instance.name) +
              "); replacing it with a worker whose user data carries the address, and creating "
              "this grid's workers only once the gateway runs from now on",
          true));
    } else {
      plan.actions.push_back(DeliverAction(instance, gateway_ip, !recorded->gateway_ip.empty()));
    }
  }

  // On the SSH path (unless this round fell back) workers are created with their gateway and
  // wait for its address.
  const bool can_create = (gateway.running && !gateway.replaced) ||
                          plan.status.gateway_address_delivery != api::kGatewayAddressByUserData;
  for (int index = 0; index < replicas; ++index) {
    const std::string name = api::InstanceNameFor(cluster.metadata.name, cluster.metadata.uid,
                                                  api::InstanceRole::kWorker, index);
    api::WorkerStatus worker;
    if (const api::WorkerStatus* before = PreviousWorker(previous, name)) worker = *before;
    worker.name = name;
    worker.index = index;
    worker.registered = false;
    worker.ready = false;
    auto observed = inventory.workers.find(index);
    if (observed == inventory.workers.end() && worker.instance_id.empty() &&
        MayStillLand(seen, worker.create_requested_at)) {
      result.waiting.push_back(name + " (an earlier create may still land)");
    } else if (observed == inventory.workers.end()) {
      const bool lost = WasLost(worker);
      // Forget the instance, keep the identity (as for the gateway, plan_gateway.cpp).
      worker.instance_id.clear();
      worker.public_ip.clear();
      worker.private_ip.clear();
      worker.state.clear();
      if (can_create) {
        plan.actions.push_back(CreateAction(api::InstanceRole::kWorker, index, name, lost));
        plan.actions.back().gateway_ip = gateway_ip;
      }
      result.waiting.push_back(name + (can_create ? " (creating)" : " (waiting for the gateway)"));
    } else {
      const cloud::Instance& instance = observed->second;
      const bool same_instance = worker.instance_id == instance.id;
      Observe(worker, instance);
      if (holds_address.count(name)) worker.gateway_ip = gateway_ip;
      // As for the gateway: the record stays for the landing window.
      ClearLandedRecord(seen, instance, worker.create_requested_at);
      worker.registered =
          !worker.node_id.empty() && seen.probes.connected_nodes.count(worker.node_id) > 0;
      // A registration outlives the node's container (it lives in the gateway's database): the
      // worker serves only when its own node endpoint answers too.
      auto node = seen.probes.nodes.find(name);
      const bool node_answers = node != seen.probes.nodes.end() && node->second.answers;
      worker.ready = worker.registered && node_answers && IsRunning(instance) && gateway_ready;
      // Its start-up clock runs while its gateway serves and it does not.
      TrackUnready(seen, instance, same_instance, worker.ready, gateway_ready,
                   worker.unready_since);
      if (worker.ready) {
        ++result.ready;
        worker.startup_failures = 0;
      } else {
        std::string message;
        const std::string verdict =
            gateway_ready && !acted_on(instance)
                ? StartupVerdict(seen, instance, cluster.spec.workers.startup_timeout,
                                 worker.startup_failures, worker.unready_since, &message)
                : "";
        if (!verdict.empty()) remedies.push_back({&instance, verdict, message});
        std::string detail = MarkerDetail(seen, name);
        if (worker.registered && node != seen.probes.nodes.end() && !node_answers)
          detail = "registered, but its node does not answer: " + node->second.detail;
        result.waiting.push_back(name + " (" + (detail.empty() ? worker.state : detail) + ")");
      }
    }
    plan.status.workers.push_back(worker);
  }

  // Rolling update: replace out-of-date workers, never taking more than maxUnavailable of the
  // desired workers out of service (one that is not ready anyway can go at once).
  result.out_of_date = static_cast<int>(out_of_date.size());
  // While the gateway does not serve, no worker counts as ready and a budget could not be told
  // apart from a probe that failed once: the rollout waits for the gateway.
  if (!gateway_ready) out_of_date.clear();
  int budget =
      api::MaxUnavailableWorkers(cluster.spec.workers).value_or(1) - (replicas - result.ready);
  for (auto it = out_of_date.rbegin(); it != out_of_date.rend(); ++it) {
    const cloud::Instance& instance = **it;
    const api::WorkerStatus* entry = nullptr;
    for (const api::WorkerStatus& w : plan.status.workers) {
      if (w.name == instance.name) entry = &w;
    }
    const bool ready = entry != nullptr && entry->ready;
    if (ready && budget <= 0) continue;
    if (ready) --budget;
    plan.actions.push_back(DeleteAction(
        instance, "RollingUpdate",
        "replacing worker " + instance.name + ": it was built from an older spec", false));
  }

  // Remediation, like a MachineHealthCheck: not when more workers than maxUnhealthy are down at
  // once (a cloud-wide problem should not become a replacement storm).
  // Unhealthy, as for a MachineHealthCheck: failed or timed out, not merely still booting.
  if (!remedies.empty()) {
    const int unhealthy = static_cast<int>(remedies.size());
    const int allowed = api::MaxUnhealthyWorkers(cluster.spec.workers).value_or(0);
    if (unhealthy > allowed) {
      result.remediation_blocked = std::to_string(unhealthy) + " of " + std::to_string(replicas) +
                                   " workers failed to start, more than maxUnhealthy (" +
                                   cluster.spec.workers.max_unhealthy +
                                   "): not replacing any until fewer are";
    } else {
      for (const Remedy& remedy : remedies) {
        plan.actions.push_back(DeleteAction(*remedy.instance, remedy.reason, remedy.message, true));
        for (api::WorkerStatus& entry : plan.status.workers) {
          if (entry.name == remedy.instance->name) ++entry.startup_failures;
        }
      }
    }
  }

  // Workers above the desired count stay visible while they are deleted.
  for (const auto& [index, instance] : inventory.workers) {
    if (index < replicas) continue;
    api::WorkerStatus worker;
    if (const api::WorkerStatus* before = PreviousWorker(previous, instance.name)) worker = *before;
    worker.name = instance.name;
    worker.index = index;
    Observe(worker, instance);
    worker.state = "deleting";
    worker.registered = false;
    worker.ready = false;
    plan.status.workers.push_back(worker);
  }
  // A create above the desired count whose answer was lost may still land: its record stays,
  // so a scale-up meanwhile does not send a second create for the name, and the instance is
  // deleted (above) once it shows.
  for (const api::WorkerStatus& before : previous.workers) {
    if (before.index < replicas || inventory.workers.count(before.index) ||
        !before.instance_id.empty() || !MayStillLand(seen, before.create_requested_at))
      continue;
    plan.status.workers.push_back(before);
  }
  return result;
}

}  // namespace pygrid::controller::internal
