// Table tests of the pure planner: cluster state x observed instances x probes -> actions.
#include "controller/planner.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>

#include "api/conditions.h"
#include "api/defaults.h"

namespace pygrid::controller {
namespace {

using api::InstanceRole;

constexpr char kUid[] = "0a1b2c3d-1111-2222-3333-444455556666";

api::PyGridCluster Cluster(int replicas, bool colocated = false) {
  api::PyGridCluster cluster;
  cluster.metadata.name = "mnist";
  cluster.metadata.namespace_name = "default";
  cluster.metadata.uid = kUid;
  cluster.metadata.generation = 2;
  cluster.spec.credentials_secret_ref.name = "creds";
  cluster.spec.network.allowed_source_cidrs = {"10.0.0.0/8"};
  cluster.spec.workers.replicas = replicas;
  cluster.spec.gateway.colocated_worker = colocated;
  api::ApplyDefaults(cluster.spec);
  return cluster;
}

std::string Name(InstanceRole role, int index = 0) {
  return api::InstanceNameFor("mnist", kUid, role, index);
}

// The private IP of every active gateway Instance() makes.
constexpr char kGatewayPrivateIp[] = "127.0.2.1";

cloud::Instance Instance(InstanceRole role, int index, const std::string& state,
                         const std::string& created_at = "2026-01-01T00:00:00.000Z") {
  cloud::Instance instance;
  instance.name = Name(role, index);
  instance.id = "id-" + instance.name + "-" + created_at;
  instance.status = state;
  instance.created_at = created_at;
  if (state == "active") {
    instance.public_ip =
        role == InstanceRole::kGateway ? "127.0.1.1" : "127.0.1." + std::to_string(10 + index);
    instance.private_ip = role == InstanceRole::kGateway ? kGatewayPrivateIp
                                                         : "127.0.2." + std::to_string(10 + index);
  }
  return instance;
}

// Records the identity the reconciler would have written before creating `instance`.
void Record(api::PyGridCluster& cluster, const cloud::Instance& instance, int index, bool gateway) {
  if (gateway) {
    api::GatewayStatus status;
    status.name = instance.name;
    status.instance_id = instance.id;
    status.node_id = instance.name + "-n0";
    status.state = instance.status;
    cluster.status.gateway = status;
  } else {
    api::WorkerStatus status;
    status.name = instance.name;
    status.index = index;
    status.instance_id = instance.id;
    status.node_id = instance.name + "-n0";
    status.state = instance.status;
    status.gateway_ip = kGatewayPrivateIp;  // created with it, or given it over SSH
    cluster.status.workers.push_back(status);
  }
}

// What the old-style tables observe: the instances and the probes.
struct Seen {
  std::vector<cloud::Instance> instances;
  bool gateway_answers = false;
  std::set<std::string> connected_nodes;
  std::map<std::string, probe::MarkerProbe> markers;
  // Workers (instance names) whose own node endpoint does not answer; every other one does.
  std::set<std::string> dead_nodes;
};

Observations Observe(const api::PyGridCluster& cluster, const Seen& seen, bool deleting = false) {
  Observations observations;
  observations.cluster = cluster;
  observations.has_finalizer = true;
  observations.being_deleted = deleting;
  observations.credentials = CredentialsObservation{};
  observations.credentials->copy_current = true;
  observations.cloud.listed = true;
  observations.cloud.instances = seen.instances;
  observations.cloud.account_instances = seen.instances;
  observations.probes.gateway_answers = seen.gateway_answers;
  observations.probes.connected_nodes = seen.connected_nodes;
  observations.probes.markers = seen.markers;
  for (const cloud::Instance& instance : seen.instances) {
    if (instance.name == Name(InstanceRole::kGateway)) continue;
    observations.probes.nodes[instance.name] = {!seen.dead_nodes.count(instance.name), "fake"};
  }
  observations.now = std::chrono::system_clock::time_point(std::chrono::hours(24 * 365 * 56));
  return observations;
}

// A plan with the summary fields the tables check.
struct TablePlan {
  std::vector<Action> actions;
  api::ClusterStatus status;
  bool ready = false;
  bool settled = false;
};

TablePlan PlanCluster(const api::PyGridCluster& cluster, const Seen& seen,
                      std::chrono::seconds later = std::chrono::seconds(0)) {
  Observations observations = Observe(cluster, seen);
  observations.now += later;
  Plan plan = PlanRound(observations);
  TablePlan out{plan.actions, plan.status, api::IsConditionTrue(plan.status.conditions, "Ready"),
                plan.next.kind == NextStep::Kind::kSettled};
  return out;
}

struct TableDeletion {
  std::vector<Action> actions;  // instance deletes only
  bool done = false;            // the finalizer may go
};

TableDeletion PlanDeletion(const api::PyGridCluster& cluster, const Seen& seen) {
  Plan plan = PlanRound(Observe(cluster, seen, /*deleting=*/true));
  TableDeletion out;
  for (const Action& action : plan.actions) {
    if (action.kind == ActionKind::kRemoveFinalizer) {
      out.done = true;
    } else if (action.kind == ActionKind::kDeleteInstance) {
      out.actions.push_back(action);
    }
  }
  return out;
}

std::vector<std::string> Describe(const std::vector<Action>& actions) {
  std::vector<std::string> out;
  for (const Action& action : actions) {
    const std::string reason = action.reason.empty() ? "" : " " + action.reason;
    switch (action.kind) {
      case ActionKind::kCreateInstance:
        out.push_back(action.role == InstanceRole::kGateway
                          ? "create gateway" + reason
                          : "create worker-" + std::to_string(action.index) + reason);
        break;
      case ActionKind::kDeleteInstance:
        out.push_back("delete " + action.name + reason);
        break;
      case ActionKind::kDeliverGateway:
        out.push_back("deliver " + action.gateway_ip + " to " + action.name);
        break;
      default:
        out.push_back("finalizer or group");
        break;
    }
  }
  return out;
}

using Strings = std::vector<std::string>;

// A grid of `replicas` workers whose instances are all active and recorded in status, in the
// order gateway, worker-0, worker-1, ...; nothing answers yet.
struct ActiveGrid {
  api::PyGridCluster cluster;
  Seen seen;
  explicit ActiveGrid(int replicas) : cluster(Cluster(replicas)) {
    seen.instances.push_back(Instance(InstanceRole::kGateway, 0, "active"));
    Record(cluster, seen.instances.back(), 0, true);
    for (int i = 0; i < replicas; ++i) {
      seen.instances.push_back(Instance(InstanceRole::kWorker, i, "active"));
      Record(cluster, seen.instances.back(), i, false);
    }
  }
};

// A Ready grid of `replicas` workers: every instance active and recorded, the gateway answers
// and every worker is registered. Tables change what they test from there.
struct ReadyGrid : ActiveGrid {
  explicit ReadyGrid(int replicas) : ActiveGrid(replicas) {
    for (int i = 0; i < replicas; ++i) {
      seen.connected_nodes.insert(Name(InstanceRole::kWorker, i) + "-n0");
    }
    seen.gateway_answers = true;
    cluster.status.phase = api::Phase::kReady;
  }
  // Every worker was built from another spec.
  ReadyGrid& WorkersOutOfDate() {
    for (api::WorkerStatus& worker : cluster.status.workers) worker.spec_hash = "older";
    return *this;
  }
};

// A grid that fell back to workers configured by user data (SSH did not reach its workers).
api::PyGridCluster OnUserDataPath(api::PyGridCluster cluster) {
  cluster.status.gateway_address_delivery = api::kGatewayAddressByUserData;
  return cluster;
}

TEST(PlannerTest, NewClusterCreatesTheGatewayAndEveryWorkerInOneRound) {
  TablePlan plan = PlanCluster(Cluster(3), {});
  EXPECT_EQ(Describe(plan.actions),
            (Strings{"create gateway", "create worker-0", "create worker-1", "create worker-2"}));
  for (const Action& action : plan.actions) {
    EXPECT_EQ(action.gateway_ip, "") << action.name << " waits for the address over SSH";
  }
  EXPECT_FALSE(plan.ready);
  EXPECT_EQ(plan.status.phase, api::Phase::kPending);
  EXPECT_EQ(plan.status.desired_workers, 3);
  ASSERT_EQ(plan.status.workers.size(), 3u);
  EXPECT_EQ(plan.status.gateway->name, Name(InstanceRole::kGateway));
  EXPECT_EQ(api::FindCondition(plan.status.conditions, "GatewayReady")->reason, "GatewayCreating");
  EXPECT_EQ(api::FindCondition(plan.status.conditions, "Ready")->status, "False");
}

TEST(PlannerTest, OnTheUserDataPathANewClusterCreatesOnlyTheGatewayFirst) {
  TablePlan plan = PlanCluster(OnUserDataPath(Cluster(3)), {});
  EXPECT_EQ(Describe(plan.actions), Strings{"create gateway"});
  EXPECT_EQ(plan.status.gateway_address_delivery, api::kGatewayAddressByUserData);
}

TEST(PlannerTest, OnTheUserDataPathABootingGatewayHoldsBackWorkers) {
  api::PyGridCluster cluster = OnUserDataPath(Cluster(2));
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "creating")};
  TablePlan plan = PlanCluster(cluster, seen);
  EXPECT_TRUE(plan.actions.empty());
  EXPECT_EQ(plan.status.phase, api::Phase::kProvisioning);
  EXPECT_EQ(api::FindCondition(plan.status.conditions, "GatewayReady")->reason, "GatewayBooting");
  EXPECT_EQ(plan.status.endpoint, "");
}

TEST(PlannerTest, ActiveGatewayCreatesAllWorkersInOneRound) {
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "active")};
  TablePlan plan = PlanCluster(Cluster(3), seen);
  EXPECT_EQ(Describe(plan.actions),
            (Strings{"create worker-0", "create worker-1", "create worker-2"}));
  for (const Action& action : plan.actions) {
    EXPECT_EQ(action.gateway_ip, kGatewayPrivateIp) << "known: it goes into the user data";
  }
  EXPECT_EQ(plan.status.endpoint, "http://127.0.1.1:5000");
  EXPECT_EQ(plan.status.gateway->private_ip, "127.0.2.1");
}

TEST(PlannerTest, ReadyWhenGatewayAnswersAndEveryWorkerRegistered) {
  ActiveGrid grid(2);
  const api::PyGridCluster& cluster = grid.cluster;
  Seen& seen = grid.seen;
  seen.gateway_answers = true;
  seen.connected_nodes = {Name(InstanceRole::kWorker, 0) + "-n0"};
  TablePlan partial = PlanCluster(cluster, seen);
  EXPECT_FALSE(partial.ready);
  EXPECT_EQ(partial.status.ready_workers, 1);
  EXPECT_TRUE(partial.status.workers[0].registered);
  EXPECT_FALSE(partial.status.workers[1].registered);
  EXPECT_EQ(api::FindCondition(partial.status.conditions, "GatewayReady")->status, "True");
  EXPECT_EQ(api::FindCondition(partial.status.conditions, "Ready")->reason, "WorkersNotReady");
  EXPECT_NE(api::FindCondition(partial.status.conditions, "WorkersReady")
                ->message.find("1/2 workers registered"),
            std::string::npos);

  seen.connected_nodes.insert(Name(InstanceRole::kWorker, 1) + "-n0");
  TablePlan plan = PlanCluster(cluster, seen);
  EXPECT_TRUE(plan.actions.empty());
  EXPECT_TRUE(plan.ready);
  EXPECT_EQ(plan.status.phase, api::Phase::kReady);
  EXPECT_EQ(plan.status.ready_workers, 2);
  EXPECT_EQ(api::FindCondition(plan.status.conditions, "Ready")->status, "True");
  EXPECT_EQ(api::FindCondition(plan.status.conditions, "Ready")->observed_generation, 2);
}

TEST(PlannerTest, ColocatedWorkerMustRegisterForTheGatewayToBeReady) {
  api::PyGridCluster cluster = Cluster(0, /*colocated=*/true);
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "active")};
  Record(cluster, seen.instances[0], 0, true);
  seen.gateway_answers = true;
  TablePlan waiting = PlanCluster(cluster, seen);
  EXPECT_FALSE(waiting.ready);
  EXPECT_EQ(api::FindCondition(waiting.status.conditions, "GatewayReady")->reason,
            "ColocatedWorkerNotRegistered");
  seen.connected_nodes = {cluster.status.gateway->node_id};
  EXPECT_TRUE(PlanCluster(cluster, seen).ready);
}

TEST(PlannerTest, ScaleUpFillsLowestFreeIndexes) {
  api::PyGridCluster cluster = Cluster(4);
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "active"),
                    Instance(InstanceRole::kWorker, 0, "active"),
                    Instance(InstanceRole::kWorker, 2, "active")};
  EXPECT_EQ(Describe(PlanCluster(cluster, seen).actions),
            (Strings{"create worker-1", "create worker-3"}));
}

TEST(PlannerTest, ScaleDownDeletesHighestIndexes) {
  api::PyGridCluster cluster = Cluster(1);
  Seen seen;
  seen.instances = {
      Instance(InstanceRole::kGateway, 0, "active"), Instance(InstanceRole::kWorker, 0, "active"),
      Instance(InstanceRole::kWorker, 1, "active"), Instance(InstanceRole::kWorker, 4, "active")};
  TablePlan plan = PlanCluster(cluster, seen);
  ASSERT_EQ(plan.actions.size(), 2u);
  EXPECT_EQ(plan.actions[0].name, Name(InstanceRole::kWorker, 1));
  EXPECT_EQ(plan.actions[1].name, Name(InstanceRole::kWorker, 4));
  EXPECT_EQ(plan.actions[0].reason, "ScaledDown");
  // The deleted ones stay visible while they go.
  ASSERT_EQ(plan.status.workers.size(), 3u);
  EXPECT_EQ(plan.status.workers[2].state, "deleting");
  EXPECT_EQ(plan.status.desired_workers, 1);
}

TEST(PlannerTest, InstanceInErrorIsDeletedThenRecreatedWithoutLostEvent) {
  api::PyGridCluster cluster = Cluster(1);
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "active"),
                    Instance(InstanceRole::kWorker, 0, "error")};
  Record(cluster, seen.instances[0], 0, true);
  Record(cluster, seen.instances[1], 0, false);
  TablePlan plan = PlanCluster(cluster, seen);
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].kind, ActionKind::kDeleteInstance);
  EXPECT_EQ(plan.actions[0].reason, "InstanceFailed");
  // Next round: it is gone; the recorded state was "error", so this is no loss.
  cluster.status = plan.status;
  seen.instances.pop_back();
  TablePlan next = PlanCluster(cluster, seen);
  EXPECT_EQ(Describe(next.actions), Strings{"create worker-0"});
  EXPECT_TRUE(next.status.workers[0].instance_id.empty()) << "the failed instance is forgotten";
  // The old identity stays until the reconciler records a fresh one right before the create
  // (RecordIdentity), so an instance that only seemed gone still matches when it shows.
  EXPECT_EQ(next.status.workers[0].node_id, plan.status.workers[0].node_id);
}

TEST(PlannerTest, InstanceDeletedOutOfBandIsRecreatedAsLost) {
  ActiveGrid grid(2);
  api::PyGridCluster& cluster = grid.cluster;
  Seen& seen = grid.seen;
  cluster.status.workers[1].state = "active";
  seen.instances.pop_back();  // worker-1 vanished
  TablePlan plan = PlanCluster(cluster, seen);
  EXPECT_EQ(Describe(plan.actions), Strings{"create worker-1 InstanceLost"});
  EXPECT_EQ(plan.status.workers[1].instance_id, "");
}

// Workers created with their gateway, before it had an address.
ActiveGrid WaitingForTheAddress(int replicas) {
  ActiveGrid grid(replicas);
  for (api::WorkerStatus& worker : grid.cluster.status.workers) worker.gateway_ip.clear();
  return grid;
}

TEST(PlannerTest, WorkersWaitingForTheAddressGetItOverSshOnceTheGatewayHasOne) {
  ActiveGrid grid = WaitingForTheAddress(2);
  TablePlan plan = PlanCluster(grid.cluster, grid.seen);
  EXPECT_EQ(Describe(plan.actions),
            (Strings{"deliver 127.0.2.1 to " + Name(InstanceRole::kWorker, 0),
                     "deliver 127.0.2.1 to " + Name(InstanceRole::kWorker, 1)}));
  EXPECT_EQ(plan.actions[0].id, grid.seen.instances[1].id);
  EXPECT_EQ(plan.actions[0].reason, "") << "a first delivery is no event of its own";

  // Not before the gateway has its private IP, and not to a worker still being created.
  grid.seen.instances[0] = Instance(InstanceRole::kGateway, 0, "creating");
  EXPECT_TRUE(PlanCluster(grid.cluster, grid.seen).actions.empty());
  grid.seen.instances[0] = Instance(InstanceRole::kGateway, 0, "active");
  grid.seen.instances[2] = Instance(InstanceRole::kWorker, 1, "creating");
  EXPECT_EQ(Describe(PlanCluster(grid.cluster, grid.seen).actions),
            Strings{"deliver 127.0.2.1 to " + Name(InstanceRole::kWorker, 0)});

  // Nothing while suspended.
  grid.cluster.spec.suspend = true;
  for (const Action& action : PlanCluster(grid.cluster, grid.seen).actions) {
    EXPECT_NE(action.kind, ActionKind::kDeliverGateway);
  }
}

TEST(PlannerTest, ADeliveryIsRecordedOnlyWhenItSucceededAndLooksAgainSoon) {
  ActiveGrid grid = WaitingForTheAddress(2);
  Observations seen = Observe(grid.cluster, grid.seen);
  Plan plan = PlanRound(seen);
  ASSERT_EQ(plan.actions.size(), 2u);
  ActReport report;
  report.outcomes.resize(2);
  report.outcomes[1].result = Status::Unavailable("no inbox yet (pygrid-start has not started)");
  Conclusion done = Conclude(seen, plan, report);
  EXPECT_EQ(done.status.workers[0].gateway_ip, kGatewayPrivateIp);
  EXPECT_EQ(done.status.workers[1].gateway_ip, "") << "tried again next round";
  EXPECT_EQ(done.status.gateway_address_delivery, api::kGatewayAddressBySsh);
  EXPECT_EQ(done.next.kind, NextStep::Kind::kSoon) << "the node joins within moments";
  ASSERT_EQ(done.events.size(), 1u) << "a failed delivery is no failure of the round";
  EXPECT_EQ(done.events[0].reason, "GatewayAddressDelivered");

  report.outcomes[0].result = Status::Unavailable("connection refused");
  done = Conclude(seen, plan, report);
  EXPECT_EQ(done.status.gateway_address_delivery, "");
  EXPECT_EQ(done.next.kind, NextStep::Kind::kPoll);
  EXPECT_TRUE(done.events.empty());
}

TEST(PlannerTest, AnAddressTheWorkerAlreadyHoldsIsRecordedNotSentAgain) {
  // The operator crashed (or its status write was lost) after a delivery: the marker probe
  // reads the address from the worker's inbox.
  ActiveGrid grid = WaitingForTheAddress(2);
  Observations seen = Observe(grid.cluster, grid.seen);
  seen.probes.delivered_gateway[Name(InstanceRole::kWorker, 0)] = "http://127.0.2.1:5000";
  seen.probes.delivered_gateway[Name(InstanceRole::kWorker, 1)] = "http://10.9.9.9:5000";
  Plan plan = PlanRound(seen);
  EXPECT_EQ(Describe(plan.actions),
            Strings{"deliver 127.0.2.1 to " + Name(InstanceRole::kWorker, 1)});
  EXPECT_EQ(plan.status.workers[0].gateway_ip, kGatewayPrivateIp);
  EXPECT_EQ(plan.status.workers[1].gateway_ip, "");
}

TEST(PlannerTest, AWorkerRegisteredAtTheGatewayHasItsAddressAndIsNeverGivenUpOn) {
  // Its delivery went through but the status write after it did not; serving workers are not
  // marker-probed, so only the registration says it has the address (soak seed 1573).
  ActiveGrid grid = WaitingForTheAddress(1);
  grid.seen.gateway_answers = true;
  grid.seen.connected_nodes = {Name(InstanceRole::kWorker, 0) + "-n0"};
  Observations seen = Observe(grid.cluster, grid.seen);
  seen.now = *api::ParseTime("2026-01-01T01:00:00Z");  // long past the grace
  Plan plan = PlanRound(seen);
  EXPECT_TRUE(plan.actions.empty()) << Describe(plan.actions)[0];
  EXPECT_EQ(plan.status.workers[0].gateway_ip, kGatewayPrivateIp);
  EXPECT_TRUE(plan.status.workers[0].ready);

  // Not registered, and SSH answers (its marker says pending): delivered, not given up on.
  grid.seen.connected_nodes.clear();
  seen = Observe(grid.cluster, grid.seen);
  seen.now = *api::ParseTime("2026-01-01T01:00:00Z");
  seen.probes.markers[Name(InstanceRole::kWorker, 0)] = {probe::MarkerState::kPending,
                                                         probe::kWaitingForGatewayAddress};
  EXPECT_EQ(Describe(PlanRound(seen).actions),
            Strings{"deliver 127.0.2.1 to " + Name(InstanceRole::kWorker, 0)});
}

TEST(PlannerTest, AReplacedGatewayKeepsItsWorkersAndGivesThemTheNewAddress) {
  api::PyGridCluster cluster = Cluster(2);
  cluster.status.gateway_address_delivery = api::kGatewayAddressBySsh;
  Seen seen;
  seen.instances = {Instance(InstanceRole::kWorker, 0, "active"),
                    Instance(InstanceRole::kWorker, 1, "active")};
  cloud::Instance old_gateway = Instance(InstanceRole::kGateway, 0, "active");
  Record(cluster, old_gateway, 0, true);
  for (const cloud::Instance& worker : seen.instances) Record(cluster, worker, 0, false);
  cluster.status.workers[1].index = 1;
  EXPECT_EQ(Describe(PlanCluster(cluster, seen).actions), Strings{"create gateway InstanceLost"});

  cloud::Instance new_gateway = Instance(InstanceRole::kGateway, 0, "active");
  new_gateway.id = "id-new-gateway";
  new_gateway.private_ip = "127.0.2.99";
  seen.instances.push_back(new_gateway);
  TablePlan plan = PlanCluster(cluster, seen);
  EXPECT_EQ(Describe(plan.actions),
            (Strings{"deliver 127.0.2.99 to " + Name(InstanceRole::kWorker, 0),
                     "deliver 127.0.2.99 to " + Name(InstanceRole::kWorker, 1)}));
  EXPECT_EQ(plan.actions[0].reason, "GatewayAddressRedelivered");
}

TEST(PlannerTest, SshThatNeverReachesAWaitingWorkerFallsBackToUserData) {
  ActiveGrid grid = WaitingForTheAddress(2);
  Observations seen = Observe(grid.cluster, grid.seen);
  seen.now = *api::ParseTime("2026-01-01T00:04:59Z");  // both created at 00:00:00
  for (int i = 0; i < 2; ++i) {
    seen.probes.markers[Name(InstanceRole::kWorker, i)] = {probe::MarkerState::kUnreachable,
                                                           "connection timed out"};
  }
  EXPECT_EQ(PlanRound(seen).actions.size(), 2u) << "still within the grace: deliveries";
  seen.now = *api::ParseTime("2026-01-01T00:05:00Z");
  Plan plan = PlanRound(seen);
  EXPECT_EQ(Describe(plan.actions),
            (Strings{"delete " + Name(InstanceRole::kWorker, 0) + " GatewayAddressUndeliverable",
                     "delete " + Name(InstanceRole::kWorker, 1) + " GatewayAddressUndeliverable"}));
  EXPECT_TRUE(plan.actions[0].warning);
  EXPECT_NE(plan.actions[0].message.find("connection timed out"), std::string::npos);
  EXPECT_EQ(plan.status.gateway_address_delivery, api::kGatewayAddressByUserData);

  // From then on: replacements carry the address in their user data.
  grid.cluster.status = plan.status;
  for (api::WorkerStatus& worker : grid.cluster.status.workers) worker.state = "deleting";
  grid.seen.instances.resize(1);  // the workers are gone
  TablePlan next = PlanCluster(grid.cluster, grid.seen);
  EXPECT_EQ(Describe(next.actions), (Strings{"create worker-0", "create worker-1"}));
  EXPECT_EQ(next.actions[0].gateway_ip, kGatewayPrivateIp);
}

TEST(PlannerTest, OnTheUserDataPathALostGatewayTakesTheWorkersWithIt) {
  api::PyGridCluster cluster = OnUserDataPath(Cluster(2));
  Seen seen;
  seen.instances = {Instance(InstanceRole::kWorker, 0, "active"),
                    Instance(InstanceRole::kWorker, 1, "active")};
  cloud::Instance old_gateway = Instance(InstanceRole::kGateway, 0, "active");
  Record(cluster, old_gateway, 0, true);
  TablePlan plan = PlanCluster(cluster, seen);
  Strings described = Describe(plan.actions);
  ASSERT_EQ(described.size(), 3u);
  EXPECT_EQ(described[0], "create gateway InstanceLost");
  EXPECT_EQ(plan.actions[1].reason, "GatewayReplaced");
  EXPECT_EQ(plan.actions[2].reason, "GatewayReplaced");
}

TEST(PlannerTest, OnTheUserDataPathAFailedGatewayIsReplacedWithItsWorkers) {
  api::PyGridCluster cluster = OnUserDataPath(Cluster(1));
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "error"),
                    Instance(InstanceRole::kWorker, 0, "active")};
  TablePlan plan = PlanCluster(cluster, seen);
  ASSERT_EQ(plan.actions.size(), 2u);
  EXPECT_EQ(plan.actions[0].reason, "InstanceFailed");
  EXPECT_EQ(plan.actions[1].reason, "GatewayReplaced");
  EXPECT_EQ(api::FindCondition(plan.status.conditions, "GatewayReady")->reason, "GatewayFailed");
}

TEST(PlannerTest, AdoptsAnInstanceWhoseCreateResponseWasLost) {
  api::PyGridCluster cluster = Cluster(0);
  // Intent written before the POST; the id never made it into status.
  api::GatewayStatus intent;
  intent.name = Name(InstanceRole::kGateway);
  intent.ssh_host_key = "ssh-ed25519 AAAA host";
  cluster.status.gateway = intent;
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "creating")};
  TablePlan plan = PlanCluster(cluster, seen);
  EXPECT_TRUE(plan.actions.empty()) << "never create a second instance of one name";
  EXPECT_EQ(plan.status.gateway->instance_id, seen.instances[0].id);
  EXPECT_EQ(plan.status.gateway->ssh_host_key, "ssh-ed25519 AAAA host");
}

TEST(PlannerTest, DuplicateNamesKeepTheOldest) {
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "active", "2026-01-02T00:00:00.000Z"),
                    Instance(InstanceRole::kGateway, 0, "active", "2026-01-01T00:00:00.000Z")};
  TablePlan plan = PlanCluster(Cluster(0), seen);
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].reason, "DuplicateInstance");
  EXPECT_EQ(plan.actions[0].id, seen.instances[0].id);
  EXPECT_EQ(plan.status.gateway->instance_id, seen.instances[1].id);
}

TEST(PlannerTest, InstanceWithAnotherIdentityIsReplaced) {
  ActiveGrid grid(1);
  Observations observed = Observe(grid.cluster, grid.seen);
  observed.probes.identity_mismatch = {Name(InstanceRole::kWorker, 0)};
  Plan plan = PlanRound(observed);
  EXPECT_EQ(Describe(plan.actions),
            Strings{"delete " + Name(InstanceRole::kWorker, 0) + " IdentityMismatch"});
}

TEST(PlannerTest, DuplicateKeepsTheInstanceStatusRecords) {
  api::PyGridCluster cluster = Cluster(0);
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "active", "2026-01-02T00:00:00.000Z"),
                    Instance(InstanceRole::kGateway, 0, "active", "2026-01-01T00:00:00.000Z")};
  Record(cluster, seen.instances[0], 0, true);  // the newer one carries status's identity
  TablePlan plan = PlanCluster(cluster, seen);
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].id, seen.instances[1].id) << "the older one goes";
  EXPECT_EQ(plan.status.gateway->instance_id, seen.instances[0].id);
}

TEST(PlannerTest, InstancesOfOtherClustersAreIgnored) {
  Seen seen;
  cloud::Instance foreign = Instance(InstanceRole::kGateway, 0, "active");
  foreign.name = "mnist-ffffffff-gateway";
  cloud::Instance similar = Instance(InstanceRole::kWorker, 0, "active");
  similar.name = Name(InstanceRole::kWorker, 0) + "-backup";
  seen.instances = {foreign, similar};
  EXPECT_EQ(Describe(PlanCluster(Cluster(1), seen).actions),
            (Strings{"create gateway", "create worker-0"}));
}

TEST(PlannerTest, DeletingInstancesAreWaitedFor) {
  api::PyGridCluster cluster = Cluster(1);
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "active"),
                    Instance(InstanceRole::kWorker, 0, "deleting")};
  EXPECT_TRUE(PlanCluster(cluster, seen).actions.empty());
}

TEST(PlannerTest, SettledOnlyWhenReadyIdleAndNothingIsGoingAway) {
  api::PyGridCluster cluster = Cluster(1);
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "active"),
                    Instance(InstanceRole::kWorker, 0, "active"),
                    Instance(InstanceRole::kWorker, 1, "deleting")};
  Record(cluster, seen.instances[0], 0, true);
  Record(cluster, seen.instances[1], 0, false);
  seen.gateway_answers = true;
  seen.connected_nodes = {cluster.status.gateway->node_id, cluster.status.workers[0].node_id};
  TablePlan scaling_down = PlanCluster(cluster, seen);
  EXPECT_TRUE(scaling_down.ready);
  EXPECT_FALSE(scaling_down.settled) << "a worker is still being deleted";
  seen.instances.pop_back();
  TablePlan steady = PlanCluster(cluster, seen);
  EXPECT_TRUE(steady.settled);
  seen.gateway_answers = false;
  EXPECT_FALSE(PlanCluster(cluster, seen).settled);
}

TEST(PlannerTest, WasReadyNowBrokenIsDegraded) {
  api::PyGridCluster cluster = Cluster(1);
  cluster.status.phase = api::Phase::kReady;
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "active"),
                    Instance(InstanceRole::kWorker, 0, "active")};
  seen.gateway_answers = true;
  seen.markers[Name(InstanceRole::kWorker, 0)] = {probe::MarkerState::kFailed,
                                                  "docker-compose up failed"};
  TablePlan plan = PlanCluster(cluster, seen);
  EXPECT_EQ(plan.status.phase, api::Phase::kDegraded);
  EXPECT_NE(api::FindCondition(plan.status.conditions, "WorkersReady")
                ->message.find("docker-compose up failed"),
            std::string::npos);
}

TEST(PlannerTest, DeletionDeletesEverythingOnceAndFinishesWhenGone) {
  api::PyGridCluster cluster = Cluster(2);
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "active"),
                    Instance(InstanceRole::kWorker, 0, "deleting"),
                    Instance(InstanceRole::kWorker, 1, "error")};
  TableDeletion plan = PlanDeletion(cluster, seen);
  EXPECT_FALSE(plan.done);
  ASSERT_EQ(plan.actions.size(), 2u);
  EXPECT_EQ(plan.actions[0].name, Name(InstanceRole::kGateway));
  EXPECT_EQ(plan.actions[1].name, Name(InstanceRole::kWorker, 1));
  EXPECT_TRUE(PlanDeletion(cluster, {}).done);
}

cloud::SecurityGroup Group(const std::string& id, const std::string& name) {
  return {id, name, "", "ARC-IS-HAF-1", "created", {}, "2026-01-01T00:00:00.000Z"};
}

// The group deletes of a deletion round whose grid has no instance left.
std::vector<std::string> GroupDeletes(const Observations& seen) {
  std::vector<std::string> ids;
  for (const Action& action : PlanRound(seen).actions) {
    if (action.kind == ActionKind::kDeleteSecurityGroup) ids.push_back(action.id);
  }
  return ids;
}

TEST(PlannerTest, DeletionDropsTheSharedGroupOnlyWhenNothingUsesOrNeedsIt) {
  api::PyGridCluster cluster = Cluster(1);
  const std::string shared = "pygrid-ports-22-3000-5000-arc-is-haf-1";
  ASSERT_EQ(cluster.spec.pygrid.gateway_port, 5000);
  ASSERT_EQ(cluster.spec.pygrid.node_port, 3000);
  cluster.status.security_group_id = "sg-shared";
  Observations seen = Observe(cluster, {}, /*deleting=*/true);
  seen.cloud.account_groups = {Group("sg-shared", shared), Group("sg-team", "prod-web"),
                               Group("sg-other-ports", "pygrid-ports-22-80-arc-is-haf-1"),
                               Group("sg-old", "pygrid-mnist-0a1b2c3d")};
  // Nothing uses it, nobody needs it: it goes, with the per-grid group of older operators;
  // a user's group and the shared group of other ports stay.
  EXPECT_EQ(GroupDeletes(seen), (std::vector<std::string>{"sg-shared", "sg-old"}));
  // Another grid of the account (not being deleted) with the same ports: it stays.
  Observations needed = seen;
  needed.cloud.groups_needed_elsewhere = {shared};
  EXPECT_EQ(GroupDeletes(needed), (std::vector<std::string>{"sg-old"}));
  // An instance of the account (any grid's, or anyone's) still references it: it stays.
  Observations used = seen;
  cloud::Instance other;
  other.name = "cifar-9f8e7d6c-gateway";
  other.status = "deleting";
  other.security_groups = {{"sg-shared", shared}};
  used.cloud.account_instances = {other};
  EXPECT_EQ(GroupDeletes(used), (std::vector<std::string>{"sg-old"}));
  // A grid that names its own group never deletes anything.
  api::PyGridCluster named = cluster;
  named.spec.network.security_group_name = "prod-web";
  Observations own = Observe(named, {}, /*deleting=*/true);
  own.cloud.account_groups = seen.cloud.account_groups;
  EXPECT_TRUE(GroupDeletes(own).empty());
  // A group status records that the operator did not name is not the operator's to delete.
  api::PyGridCluster recorded_user = cluster;
  recorded_user.status.security_group_id = "sg-team";
  Observations user = Observe(recorded_user, {}, /*deleting=*/true);
  user.cloud.account_groups = {Group("sg-team", "prod-web")};
  EXPECT_TRUE(GroupDeletes(user).empty());
}

TEST(PlannerTest, NoCreateIntoAGroupTheCloudIsStillApplying) {
  api::PyGridCluster cluster = Cluster(1);
  Observations seen = Observe(cluster, {});
  seen.cloud.security_group_id = "sg-shared";
  seen.cloud.security_group_pending = true;
  Plan plan = PlanRound(seen);
  for (const Action& action : plan.actions)
    EXPECT_NE(action.kind, ActionKind::kCreateInstance) << Describe({action})[0];
  EXPECT_EQ(plan.next.kind, NextStep::Kind::kSoon) << "applied within seconds";
  const api::Condition* ready = api::FindCondition(plan.status.conditions, "Ready");
  EXPECT_EQ(ready->reason, "SecurityGroupPending") << "says what it waits for";
  EXPECT_NE(ready->message.find("sg-shared"), std::string::npos) << ready->message;
  seen.cloud.security_group_pending = false;
  plan = PlanRound(seen);
  ASSERT_FALSE(plan.actions.empty());
  EXPECT_EQ(Describe(plan.actions)[0], "create gateway");
  EXPECT_EQ(api::FindCondition(plan.status.conditions, "Ready")->reason, "GatewayCreating");
}

TEST(PlannerTest, ARoundThatFailedPartlyButMovedTheGridPollsInsteadOfBackingOff) {
  Observations seen = Observe(Cluster(2), {});
  Plan plan = PlanRound(seen);
  ASSERT_EQ(plan.actions.size(), 3u);  // the gateway and two workers
  ActReport report;
  report.outcomes.resize(3);
  for (size_t i = 0; i < 3; ++i) {
    report.outcomes[i].result = Status::Unavailable("503").WithHttpStatus(503);
  }
  Conclusion stuck = Conclude(seen, plan, report);
  EXPECT_EQ(stuck.next.kind, NextStep::Kind::kBackoff) << "nothing moved: back off";
  EXPECT_EQ(api::FindCondition(stuck.status.conditions, "CloudReachable")->status, "False");

  report.outcomes[1].result = Status::Ok();
  report.outcomes[1].created = cloud::Instance{};
  report.outcomes[1].created->id = "i-1";
  report.outcomes[1].created->status = "enqueued";
  Conclusion moved = Conclude(seen, plan, report);
  EXPECT_EQ(moved.next.kind, NextStep::Kind::kPoll) << "a worker was created: retry at a poll";
  EXPECT_EQ(api::FindCondition(moved.status.conditions, "CloudReachable")->status, "False")
      << "the failure still shows";
}

TEST(PlannerTest, CreateRefusedForAGoneGroupIsNotAFailure) {
  api::PyGridCluster cluster = Cluster(0);
  Observations seen = Observe(cluster, {});
  seen.cloud.security_group_id = "sg-gone";
  Plan plan = PlanRound(seen);
  ASSERT_EQ(Describe(plan.actions), (std::vector<std::string>{"create gateway"}));
  InstanceIdentity identity;
  identity.requested_at = "2082-12-18T00:00:00Z";
  RecordIdentity(plan.status, Name(InstanceRole::kGateway), identity);
  ActReport report;
  report.outcomes.resize(1);
  report.outcomes[0].result = Status::Invalid("unknown security group sg-gone").WithHttpStatus(400);
  report.outcomes[0].group_gone = true;
  Conclusion done = Conclude(seen, plan, report);
  EXPECT_EQ(done.next.kind, NextStep::Kind::kPoll);
  EXPECT_TRUE(done.status.security_group_id.empty()) << "the next round ensures it again";
  ASSERT_TRUE(done.status.gateway);
  EXPECT_TRUE(done.status.gateway->create_requested_at.empty())
      << "a refused create cannot land: nothing holds the next one back";
  const api::Condition* ready = api::FindCondition(done.status.conditions, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_NE(ready->reason, "CloudRequestRejected");
  bool event = false;
  for (const PlannedEvent& e : done.events) event |= e.reason == "SecurityGroupGone";
  EXPECT_TRUE(event);
}

}  // namespace
}  // namespace pygrid::controller

namespace pygrid::controller {
namespace {

// A rolling update takes at most maxUnavailable ready workers out at once (a count, or a
// percentage of replicas rounded down, at least 1), and counts workers already not ready
// against that budget.
TEST(PlannerTest, RollingUpdateTakesAtMostMaxUnavailableReadyWorkersOut) {
  struct Row {
    std::string max_unavailable;
    int not_ready;  // workers (highest indexes) already not registered
    int deletes;
    bool ready;  // Ready stays True while at least replicas - maxUnavailable serve
  };
  const Row rows[] = {{"1", 0, 1, true},   {"2", 0, 2, true},   {"50%", 0, 2, true},
                      {"25%", 0, 1, true}, {"10%", 0, 1, true}, {"100%", 0, 4, true},
                      {"2", 1, 2, true},   {"1", 1, 1, true},   {"2", 3, 3, false}};
  for (const Row& row : rows) {
    SCOPED_TRACE("maxUnavailable " + row.max_unavailable + ", " + std::to_string(row.not_ready) +
                 " not ready");
    ReadyGrid grid(4);
    grid.WorkersOutOfDate();
    grid.cluster.spec.workers.max_unavailable = row.max_unavailable;
    for (int i = 0; i < row.not_ready; ++i)
      grid.seen.connected_nodes.erase(Name(InstanceRole::kWorker, 3 - i) + "-n0");
    TablePlan plan = PlanCluster(grid.cluster, grid.seen);
    int deletes = 0;
    for (const Action& action : plan.actions) {
      EXPECT_EQ(action.kind, ActionKind::kDeleteInstance);
      EXPECT_EQ(action.reason, "RollingUpdate");
      ++deletes;
    }
    EXPECT_EQ(deletes, row.deletes);
    // The ones not serving go first (highest indexes first).
    ASSERT_GT(deletes, 0);
    EXPECT_EQ(plan.actions[0].name, Name(InstanceRole::kWorker, 3));
    EXPECT_EQ(plan.ready, row.ready);
    EXPECT_EQ(plan.status.phase, api::Phase::kUpdating);
    EXPECT_EQ(api::FindCondition(plan.status.conditions, "UpToDate")->status, "False");
  }
}

TEST(PlannerTest, MaxUnavailableParsesLikeADeployment) {
  api::WorkersSpec workers;
  workers.replicas = 10;
  const std::pair<std::string, std::optional<int>> rows[] = {
      {"1", 1},   {"3", 3},     {"25%", 2}, {"5%", 1}, {"100%", 10}, {"0", {}},
      {"0%", {}}, {"101%", {}}, {"-1", {}}, {"x", {}}, {"", {}}};
  for (const auto& [text, count] : rows) {
    workers.max_unavailable = text;
    EXPECT_EQ(api::MaxUnavailableWorkers(workers), count) << text;
  }
}

// A registration outlives the node's container: a worker whose own endpoint does not answer
// is not ready, its clock starts, and it is replaced once its start-up timeout has passed.
TEST(PlannerTest, RegisteredWorkerWhoseNodeDiedIsReplacedAfterItsTimeout) {
  ReadyGrid grid(2);
  const std::string doomed = Name(InstanceRole::kWorker, 1);
  grid.seen.dead_nodes = {doomed};
  TablePlan first = PlanCluster(grid.cluster, grid.seen);
  EXPECT_TRUE(first.actions.empty());
  EXPECT_FALSE(first.ready);
  EXPECT_EQ(first.status.ready_workers, 1);
  EXPECT_TRUE(first.status.workers[1].registered);
  EXPECT_FALSE(first.status.workers[1].ready);
  EXPECT_FALSE(first.status.workers[1].unready_since.empty());
  EXPECT_NE(api::FindCondition(first.status.conditions, "WorkersReady")
                ->message.find("registered, but its node does not answer"),
            std::string::npos);

  // 29 minutes on (the default timeout is 30m): still waiting; at 31: replaced.
  grid.cluster.status = first.status;
  EXPECT_TRUE(PlanCluster(grid.cluster, grid.seen, std::chrono::minutes(29)).actions.empty());
  TablePlan late = PlanCluster(grid.cluster, grid.seen, std::chrono::minutes(31));
  EXPECT_EQ(Describe(late.actions), (Strings{"delete " + doomed + " StartupTimeout"}));
  EXPECT_EQ(late.status.workers[1].startup_failures, 1);
}

// A stopped and started instance (resume, or someone's stop) was created long ago: its
// start-up clock counts from when it runs again, not from its creation.
TEST(PlannerTest, RestartedInstancesGetTheirFullStartupTimeAgain) {
  ReadyGrid grid(1);
  grid.seen.gateway_answers = false;  // both just became active again; nothing answers yet
  grid.seen.connected_nodes.clear();
  // Created a year before `now`: far beyond any start-up timeout.
  TablePlan plan = PlanCluster(grid.cluster, grid.seen);
  EXPECT_TRUE(plan.actions.empty()) << ::testing::PrintToString(Describe(plan.actions));
  EXPECT_FALSE(plan.status.gateway->unready_since.empty());
  grid.cluster.status = plan.status;
  EXPECT_TRUE(PlanCluster(grid.cluster, grid.seen, std::chrono::minutes(29)).actions.empty());
  EXPECT_EQ(Describe(PlanCluster(grid.cluster, grid.seen, std::chrono::minutes(31)).actions)[0],
            "delete " + Name(InstanceRole::kGateway) + " StartupTimeout");
}

// A new grid that is not up within spec.provisioningTimeout (45m by default) says so, with what
// is missing, and warns once; before that, and for a grid that was up, the usual reasons.
TEST(PlannerTest, ProvisioningDeadlineIsReportedOnceWithWhatIsMissing) {
  api::PyGridCluster cluster = Cluster(1);
  const Observations probe = Observe(cluster, Seen{});
  Seen seen;
  seen.instances = {Instance(InstanceRole::kGateway, 0, "build")};
  Record(cluster, seen.instances[0], 0, true);
  cluster.metadata.creation_timestamp = api::FormatTime(probe.now - std::chrono::minutes(44));
  Plan early = PlanRound(Observe(cluster, seen));
  EXPECT_EQ(api::FindCondition(early.status.conditions, "Ready")->reason, "GatewayBooting");

  cluster.metadata.creation_timestamp = api::FormatTime(probe.now - std::chrono::minutes(46));
  Plan late = PlanRound(Observe(cluster, seen));
  const api::Condition* ready = api::FindCondition(late.status.conditions, "Ready");
  EXPECT_EQ(ready->reason, "ProvisioningTimeout");
  EXPECT_NE(ready->message.find("Still missing: gateway instance " + Name(InstanceRole::kGateway) +
                                " is creating"),
            std::string::npos)
      << ready->message;
  ASSERT_EQ(late.events.size(), 1u);
  EXPECT_EQ(late.events[0].reason, "ProvisioningTimeout");
  EXPECT_EQ(late.status.phase, api::Phase::kProvisioning) << "the operator keeps working on it";

  cluster.status = late.status;
  EXPECT_TRUE(PlanRound(Observe(cluster, seen)).events.empty()) << "once";
  cluster.status.phase = api::Phase::kDegraded;  // it was up once: not provisioning any more
  EXPECT_EQ(
      api::FindCondition(PlanRound(Observe(cluster, seen)).status.conditions, "Ready")->reason,
      "GatewayBooting");
}

}  // namespace
}  // namespace pygrid::controller
