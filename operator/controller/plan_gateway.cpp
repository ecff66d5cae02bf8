// The gateway part of the planner: create it, adopt it, replace it when it failed or vanished.
#include "api/naming.h"
#include "controller/internal/plan_parts.h"

namespace pygrid::controller::internal {

namespace {

// An instance the status recorded, that was not on its way out, and that the cloud no longer
// lists was deleted behind the operator's back.
bool WasLost(const std::string& recorded_id, const std::string& recorded_state) {
  return !recorded_id.empty() && recorded_state != "deleting" && recorded_state != "error";
}

}  // namespace

GatewayPlan PlanGateway(const Observations& seen, const Inventory& inventory, Plan& plan) {
  const api::PyGridCluster& cluster = seen.cluster;
  const api::ClusterSpec& spec = cluster.spec;
  const std::string name = api::InstanceNameFor(cluster.metadata.name, cluster.metadata.uid,
                                                api::InstanceRole::kGateway, 0);
  const api::ClusterStatus& previous = cluster.status;
  api::GatewayStatus gateway;
  if (previous.gateway && previous.gateway->name == name) gateway = *previous.gateway;
  gateway.name = name;
  gateway.ready = false;

  GatewayPlan result;
  result.instance = inventory.gateway ? &*inventory.gateway : nullptr;
  const cloud::Instance* gw = result.instance;
  if (gw == nullptr && gateway.instance_id.empty() &&
      MayStillLand(seen, gateway.create_requested_at)) {
    result.not_ready_reason = "GatewayCreating";
    result.not_ready_message = "waiting for gateway instance " + name +
                               ": an earlier create may still land (sent " +
                               gateway.create_requested_at + ")";
  } else if (gw == nullptr) {
    const bool lost = WasLost(gateway.instance_id, gateway.state);
    result.replaced = !gateway.instance_id.empty();
    if (result.replaced) {
      // Forget the instance, keep the identity: the create records a fresh one before it is
      // sent, and if the instance only seemed gone (another process's older list), it still
      // matches when it shows again.
      gateway.instance_id.clear();
      gateway.public_ip.clear();
      gateway.private_ip.clear();
      gateway.state.clear();
    }
    plan.actions.push_back(CreateAction(api::InstanceRole::kGateway, 0, name, lost));
    result.not_ready_reason = "GatewayCreating";
    result.not_ready_message = "creating gateway instance " + name;
  } else {
    // Adopted (the create's response was lost) or replaced: keep the intent, take the id.
    const bool same_instance = gateway.instance_id == gw->id;
    gateway.instance_id = gw->id;
    TrackUnready(seen, *gw, same_instance, seen.probes.gateway_answers, /*counting=*/true,
                 gateway.unready_since);
    // An instance with the name shows, but it may not be the one an unanswered create sent:
    // the record stays for the landing window (deletion waits for it).
    ClearLandedRecord(seen, *gw, gateway.create_requested_at);
    gateway.public_ip = gw->public_ip.value_or("");
    gateway.private_ip = gw->private_ip.value_or("");
    const InstanceState state = StateOf(*gw);
    gateway.state = InstanceStateName(state);
    result.out_of_date =
        BuiltFromOlderSpec(gateway.spec_hash, SpecHashFor(api::InstanceRole::kGateway, spec));
    if (result.out_of_date && state != InstanceState::kDeleting) {
      // PyGrid nodes join once: a new gateway means new workers too (README "Spec changes").
      plan.actions.push_back(DeleteAction(
          *gw, "SpecChanged",
          "the gateway's spec changed; replacing the gateway and, with it, every worker", false));
      result.replaced = true;
      result.not_ready_reason = "GatewayUpdating";
      result.not_ready_message = "replacing gateway instance " + gw->name + " for the new spec";
    } else if (seen.probes.identity_mismatch.count(gw->name)) {
      plan.actions.push_back(DeleteAction(
          *gw, "IdentityMismatch",
          "gateway instance " + gw->name +
              " presents another SSH host key than status pins (another create's identity); "
              "replacing it",
          true));
      result.replaced = true;
      result.not_ready_reason = "GatewayFailed";
      result.not_ready_message =
          "gateway instance " + gw->name + " has another identity; replacing it";
    } else if (state == InstanceState::kError) {
      plan.actions.push_back(
          DeleteAction(*gw, "InstanceFailed",
                       "gateway instance " + gw->name + " is in state error; replacing it", true));
      result.replaced = true;
      result.not_ready_reason = "GatewayFailed";
      result.not_ready_message = "gateway instance " + gw->name + " failed; replacing it";
    } else if (state == InstanceState::kDeleting) {
      result.replaced = true;
    } else if (state == InstanceState::kStopped) {
      plan.actions.push_back(StartAction(seen, *gw, "gateway"));
    } else if (!(IsRunning(*gw) && seen.probes.gateway_answers)) {
      std::string message;
      const std::string verdict =
          StartupVerdict(seen, *gw, spec.gateway.startup_timeout, gateway.startup_failures,
                         gateway.unready_since, &message);
      if (!verdict.empty()) {
        plan.actions.push_back(DeleteAction(*gw, verdict, message, true));
        ++gateway.startup_failures;
        result.replaced = true;
        result.not_ready_reason = "GatewayFailed";
        result.not_ready_message = message;
      }
    }
  }
  result.running = gw != nullptr && IsRunning(*gw);
  result.colocated_registered =
      !spec.gateway.colocated_worker ||
      (!gateway.node_id.empty() && seen.probes.connected_nodes.count(gateway.node_id) > 0);
  gateway.ready = result.running && seen.probes.gateway_answers;
  if (gateway.ready) gateway.startup_failures = 0;
  if (result.running) {
    plan.status.endpoint =
        "http://" + gateway.public_ip + ":" + std::to_string(spec.pygrid.gateway_port);
  }
  if (gw != nullptr && result.not_ready_reason.empty()) {
    if (!result.running) {
      result.not_ready_reason = "GatewayBooting";
      result.not_ready_message = "gateway instance " + gw->name + " is " + gateway.state;
    } else if (!seen.probes.gateway_answers) {
      const std::string detail = MarkerDetail(seen, gw->name);
      result.not_ready_reason = "GatewayNotAnswering";
      result.not_ready_message = "the gateway app does not answer at " + plan.status.endpoint +
                                 (detail.empty() ? "" : "; instance " + detail);
    } else if (!result.colocated_registered) {
      result.not_ready_reason = "ColocatedWorkerNotRegistered";
      result.not_ready_message =
          "the gateway answers, but its co-located worker has not registered yet";
    }
  }
  plan.status.gateway = gateway;
  return result;
}

}  // namespace pygrid::controller::internal
