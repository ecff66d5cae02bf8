// Provides the planner: a pure function from (cluster, observed instances, probe results) to
// the actions that move the grid toward its spec and the status that describes it. No I/O, no
// clock, no randomness: the reconciler (controller/reconciler.h) observes, calls this, acts.
//
//   Plan plan = PlanCluster(cluster, observations);
//   for (const Action& action : plan.actions) Act(action);
//   WriteStatus(plan.status);
//
// Rules (ARCHITECTURE.md "Reconcile"; operator-conventions.md §4.1):
//  - Instances are matched to the cluster by name (<cluster>-<uid8>-gateway|worker-<i>).
//  - Gateway first. Workers are created only once the gateway is active with a private IP
//    (they join it there), all missing ones in the same round.
//  - Scale up fills the lowest free indexes; scale down deletes the highest indexes first.
//  - An instance in `error` is deleted (InstanceFailed) and created again once it is gone; an
//    instance whose id the status recorded but the cloud no longer lists was deleted out of
//    band and is created again (InstanceLost).
//  - Workers join the gateway once, at start-up (pygrid.md §5): when the gateway is lost or
//    fails, every worker is deleted too and recreated after the new gateway is up.
//  - Duplicate names (only possible after a cloud-side mishap) keep the oldest instance.
//
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "api/naming.h"
#include "api/types.h"
#include "cloud/cloud_provider.h"
#include "probe/prober.h"

namespace pygrid::controller {

// Everything the reconciler saw this round.
struct Observations {
  std::vector<cloud::Instance> instances;  // the cluster's instances (names with its prefix)
  bool gateway_answers = false;            // the gateway app answered as its flavour does
  std::set<std::string> connected_nodes;   // the gateway's /connected-nodes
  std::map<std::string, probe::MarkerProbe> markers;  // by instance name, where probed
};

enum class ActionKind { kCreateGateway, kCreateWorker, kDeleteInstance };

struct Action {
  ActionKind kind = ActionKind::kCreateGateway;
  std::string name;         // the instance name
  int index = 0;            // worker index
  std::string instance_id;  // for deletes
  std::string reason;       // CamelCase event reason
  std::string message;      // event message
};

struct Plan {
  std::vector<Action> actions;
  // The status this round observed (conditions GatewayReady, WorkersReady and Ready set; the
  // reconciler adds SpecValid and CredentialsValid and the timestamps).
  api::ClusterStatus status;
  bool ready = false;
  // Ready, nothing to do, and no instance still on its way out: the steady interval applies.
  bool settled = false;
};

// Instance statuses that mean the instance is on its way out.
bool IsGoingAway(const cloud::Instance& instance);

// Plans one round for a live (not deleting) cluster. `cluster.spec` must be defaulted and
// valid. Entries of cluster.status carry intent across rounds (node ids, pinned host keys,
// instance ids) and are kept for instances that exist or are still wanted.
Plan PlanCluster(const api::PyGridCluster& cluster, const Observations& seen);

// Plans one round of deletion: every instance not already going away is deleted. `done` is
// true when no instance of the cluster is left.
struct DeletionPlan {
  std::vector<Action> actions;
  bool done = false;
};
DeletionPlan PlanDeletion(const api::PyGridCluster& cluster, const Observations& seen);

}  // namespace pygrid::controller
