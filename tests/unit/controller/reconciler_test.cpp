// Reconciler tables: the real Reconciler with MemoryKubeClient, SimCloud, SimProber and a fake
// clock (tests/unit/controller/sim_operator.h). Each lifecycle rule and error class in
// milliseconds, no threads, no sockets, no sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "controller/resources.h"
#include "controller/sim_operator.h"

namespace pygrid::controller::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kKey[] = "default/mnist";

class ReconcilerTest : public ::testing::Test {
 protected:
  SimOperator op{1};
  void SetUp() override { op.ApplySecret("default", "creds", "token-1"); }
  // Rounds until the first create was sent: the first rounds of an account wait until the cloud
  // has applied the shared security group.
  void StepToFirstCreate() {
    for (int i = 0; i < 10 && op.cloud.CreatesSent("") == 0; ++i) op.Step();
  }
};

TEST_F(ReconcilerTest, NewClusterBootsGatewayAndWorkersTogetherAndDeliversTheAddress) {
  op.ApplyCluster(ClusterObject("mnist", 2));
  op.Step();
  ASSERT_EQ(op.cloud.groups().size(), 1u);
  EXPECT_EQ(op.cloud.groups()[0].status, "creating") << "asked for, not waited for";
  EXPECT_TRUE(op.Instances(kKey).empty()) << "nothing before the group is applied";
  EXPECT_EQ(op.last_result().after(), milliseconds(2500)) << "looked at again soon";
  StepToFirstCreate();
  ASSERT_EQ(op.Instances(kKey).size(), 3u) << "the gateway and both workers in one round";
  EXPECT_EQ(op.cloud.creates_into_unready_groups(), 0);
  for (const SimInstance* sim : op.Instances(kKey)) {
    if (sim->instance.name.find("-worker-") == std::string::npos) continue;
    EXPECT_NE(sim->user_data.find("\n      GATEWAY_WAIT=ssh"), std::string::npos)
        << sim->instance.name << " waits for the address";
  }
  op.RunFor(minutes(3));
  std::string why;
  EXPECT_TRUE(op.Converged(kKey, &why)) << why;
  EXPECT_TRUE(op.HasEvent(kKey, "InstanceCreated"));
  EXPECT_TRUE(op.HasEvent(kKey, "GatewayAddressDelivered"));
  EXPECT_EQ(op.cloud.deliveries(), 2) << "once per worker";
  EXPECT_EQ(std::count_if(op.events.begin(), op.events.end(),
                          [](const RecordedEvent& e) { return e.reason == "GridReady"; }),
            1)
      << "once, on the transition";
  const json status = (*op.Cluster(kKey))["status"];
  EXPECT_EQ(status["phase"], "Ready");
  EXPECT_EQ(status["gateway"]["state"], "active");
  EXPECT_FALSE(status["gateway"]["sshHostKey"].get<std::string>().empty());
  EXPECT_EQ(status["gatewayAddressDelivery"], "SSH");
  EXPECT_EQ(status["workers"][0]["gatewayIP"], status["gateway"]["privateIP"]);
}

TEST_F(ReconcilerTest, InvalidSpecIsAConditionAndNoRetryLoop) {
  json cluster = ClusterObject("mnist", 2);
  cluster["spec"]["workers"]["replicas"] = 500;
  op.ApplyCluster(cluster);
  op.Step();
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "SpecValid", &reason), "False");
  EXPECT_EQ(reason, "InvalidSpec");
  EXPECT_EQ((*op.Cluster(kKey))["status"]["phase"], "Failed");
  EXPECT_TRUE(op.HasEvent(kKey, "InvalidSpec"));
  EXPECT_EQ(op.last_result().action(), kube::ReconcileResult::Action::kDone);
  EXPECT_EQ(op.cloud.calls(), 0);
  op.RunFor(seconds(1));  // the finalizer's own update comes back once
  const int rounds = op.reconciles();
  op.RunFor(minutes(10));
  EXPECT_EQ(op.reconciles(), rounds) << "an invalid spec waits for a spec change";
  op.EditCluster(kKey, [](json& c) { c["spec"]["workers"]["replicas"] = 1; });
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.Converged(kKey));
}

TEST_F(ReconcilerTest, MissingSecretIsAConditionNotFailedAndFixesItself) {
  op.DeleteSecret("default", "creds");
  op.ApplyCluster(ClusterObject("mnist", 1));
  op.Step();
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "CredentialsValid", &reason), "False");
  EXPECT_EQ(reason, "SecretNotFound");
  EXPECT_EQ((*op.Cluster(kKey))["status"]["phase"], "Pending") << "Failed is for a person";
  EXPECT_EQ(op.cloud.calls(), 0);
  op.ApplySecret("default", "creds", "token-1");
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.Converged(kKey));
  EXPECT_EQ(op.Condition(kKey, "CredentialsValid", &reason), "True");
}

TEST_F(ReconcilerTest, MalformedTokenIsNeverSent) {
  for (const std::string& token : {std::string("secret\r\nX-Evil: injected"),
                                   std::string("nul\0byte", 8), std::string(200000, 'a')}) {
    op.ApplySecret("default", "creds", token);
    op.ApplyCluster(ClusterObject("mnist", 1));
    op.Step();
    std::string reason;
    EXPECT_EQ(op.Condition(kKey, "CredentialsValid", &reason), "False");
    EXPECT_EQ(reason, "TokenMalformed");
    EXPECT_EQ(op.cloud.calls(), 0);
    const std::string status = (*op.Cluster(kKey))["status"].dump();
    EXPECT_EQ(status.find("X-Evil"), std::string::npos) << "the token never reaches status";
  }
}

TEST_F(ReconcilerTest, RejectedTokenIsACredentialsCondition) {
  for (int i = 0; i < 3; ++i) op.cloud.Schedule(CloudFault::kUnauthorized);
  op.ApplyCluster(ClusterObject("mnist", 1));
  op.Step();
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "CredentialsValid", &reason), "False");
  EXPECT_EQ(reason, "TokenRejected");
  EXPECT_TRUE(op.HasEvent(kKey, "TokenRejected"));
  EXPECT_EQ(op.last_result().after(), seconds(60)) << "the slow interval, not a hot loop";
  op.RunFor(minutes(4));
  EXPECT_TRUE(op.Converged(kKey));
}

TEST_F(ReconcilerTest, QuotaIsAConditionRetriedSlowly) {
  op.cloud.Schedule(CloudFault::kCreateQuota);
  op.ApplyCluster(ClusterObject("mnist", 1));
  StepToFirstCreate();
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "Ready", &reason), "False");
  EXPECT_EQ(reason, "QuotaExceeded");
  EXPECT_TRUE(op.HasEvent(kKey, "QuotaExceeded"));
  EXPECT_EQ(op.last_result().after(), seconds(60));
  for (const SimInstance* sim : op.Instances(kKey)) {
    EXPECT_EQ(sim->instance.name.find("-gateway"), std::string::npos) << "the refused create";
  }
  op.RunFor(minutes(4));
  EXPECT_TRUE(op.Converged(kKey));
}

TEST_F(ReconcilerTest, AmbiguousCreateIsAdoptedByName) {
  op.cloud.Schedule(CloudFault::kCreateLostAnswer);
  op.ApplyCluster(ClusterObject("mnist", 1));
  StepToFirstCreate();
  EXPECT_TRUE(op.HasEvent(kKey, "InstanceAdopted"));
  ASSERT_EQ(op.Instances(kKey).size(), 2u) << "the gateway (adopted) and the worker";
  const json status = (*op.Cluster(kKey))["status"];
  EXPECT_EQ(status["gateway"]["instanceID"], op.Instances(kKey)[0]->instance.id);
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.Converged(kKey));
}

TEST_F(ReconcilerTest, CrashAfterThePostNeverCreatesTwice) {
  op.ApplyCluster(ClusterObject("mnist", 2));
  op.RunFor(seconds(40));  // gateway active, workers being created
  for (int calls = 0; calls < 6; ++calls) {
    op.EditCluster(kKey, [&](json& c) { c["spec"]["workers"]["replicas"] = 2 + calls % 2; });
    op.cloud.CrashAfter(calls);
    op.RunFor(seconds(15));
  }
  op.RunFor(minutes(3));
  std::string why;
  EXPECT_TRUE(op.Converged(kKey, &why)) << why;
  EXPECT_GT(op.crashes(), 0);
}

TEST_F(ReconcilerTest, UnavailableListNeverCreates) {
  op.cloud.Schedule(CloudFault::kListUnavailable);
  op.ApplyCluster(ClusterObject("mnist", 1));
  op.Step();
  EXPECT_TRUE(op.Instances(kKey).empty());
  EXPECT_EQ(op.last_result().action(), kube::ReconcileResult::Action::kError);
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.Converged(kKey));
}

TEST_F(ReconcilerTest, NodeImageChangeRollsWorkersOneAtATime) {
  op.ApplyCluster(ClusterObject("mnist", 3));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  std::set<std::string> old_ids;
  for (const SimInstance* sim : op.Instances(kKey)) old_ids.insert(sim->instance.id);
  const std::string gateway = (*op.Cluster(kKey))["status"]["gateway"]["instanceID"];
  op.EditCluster(kKey,
                 [](json& c) { c["spec"]["pygrid"]["nodeImage"] = "openmined/grid-node:v2"; });
  op.Step();
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "UpToDate", &reason), "False");
  EXPECT_EQ(reason, "RollingUpdate");
  EXPECT_EQ((*op.Cluster(kKey))["status"]["phase"], "Updating");
  int least_ready = 3;
  for (int i = 0; i < 60 && op.Condition(kKey, "UpToDate") != "True"; ++i) {
    op.RunFor(seconds(5));
    least_ready = std::min(least_ready, (*op.Cluster(kKey))["status"]["readyWorkers"].get<int>());
  }
  EXPECT_EQ(op.Condition(kKey, "UpToDate"), "True");
  EXPECT_EQ(least_ready, 2) << "one worker out at a time, never more";
  EXPECT_EQ(op.Condition(kKey, "Ready"), "True") << "Ready means serving, also while rolling";
  op.RunFor(seconds(30));
  EXPECT_TRUE(op.Converged(kKey));
  int replaced = 0;
  for (const SimInstance* sim : op.Instances(kKey)) {
    if (!old_ids.count(sim->instance.id)) ++replaced;
    if (sim->instance.name.find("worker") != std::string::npos) {
      EXPECT_NE(sim->user_data.find("openmined/grid-node:v2"), std::string::npos);
    }
  }
  EXPECT_EQ(replaced, 3) << "every worker, and only the workers";
  EXPECT_EQ((*op.Cluster(kKey))["status"]["gateway"]["instanceID"], gateway);
}

TEST_F(ReconcilerTest, GatewayChangeKeepsTheWorkersAndGivesThemTheNewAddress) {
  op.ApplyCluster(ClusterObject("mnist", 2));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  std::map<std::string, std::string> old_ids;
  for (const SimInstance* sim : op.Instances(kKey)) old_ids[sim->instance.name] = sim->instance.id;
  op.EditCluster(kKey, [](json& c) { c["spec"]["gateway"]["instanceType"] = "vcpu-8_memory-32g"; });
  op.RunFor(minutes(4));
  std::string why;
  EXPECT_TRUE(op.Converged(kKey, &why)) << why;
  EXPECT_TRUE(op.HasEvent(kKey, "SpecChanged"));
  EXPECT_TRUE(op.HasEvent(kKey, "GatewayAddressRedelivered"));
  const json status = (*op.Cluster(kKey))["status"];
  for (const SimInstance* sim : op.Instances(kKey)) {
    const bool gateway = sim->instance.name.find("-gateway") != std::string::npos;
    EXPECT_EQ(old_ids[sim->instance.name] == sim->instance.id, !gateway)
        << sim->instance.name << ": only the gateway is replaced";
    if (!gateway) {
      EXPECT_EQ(sim->gateway_ip, status["gateway"]["privateIP"]);
    }
  }
}

TEST_F(ReconcilerTest, WorkersSshCannotReachFallBackToUserDataAndGoWithAReplacedGateway) {
  op.ApplyCluster(ClusterObject("mnist", 2));
  op.Step();
  op.cloud.BlockSsh(op.PrefixOf(kKey));  // allowedSourceCIDRs without the operator's address
  op.RunFor(minutes(4));
  EXPECT_FALSE(op.Converged(kKey)) << "the first workers wait for an address SSH cannot bring";
  EXPECT_EQ(op.cloud.deliveries(), 0);
  op.RunFor(minutes(4));
  std::string why;
  EXPECT_TRUE(op.Converged(kKey, &why)) << why;
  EXPECT_TRUE(op.HasEvent(kKey, "GatewayAddressUndeliverable"));
  EXPECT_EQ((*op.Cluster(kKey))["status"]["gatewayAddressDelivery"], "UserData");
  for (const SimInstance* sim : op.Instances(kKey)) {
    if (sim->instance.name.find("-worker-") == std::string::npos) continue;
    // start.conf's lines (the rendered YAML indents them by six).
    EXPECT_NE(sim->user_data.find("\n      GATEWAY_URL=http://"), std::string::npos)
        << sim->instance.name << " has the address in its user data";
  }

  std::set<std::string> old_ids;
  for (const SimInstance* sim : op.Instances(kKey)) old_ids.insert(sim->instance.id);
  op.EditCluster(kKey, [](json& c) { c["spec"]["gateway"]["instanceType"] = "vcpu-8_memory-32g"; });
  op.RunFor(minutes(4));
  EXPECT_TRUE(op.Converged(kKey, &why)) << why;
  for (const SimInstance* sim : op.Instances(kKey)) {
    EXPECT_EQ(old_ids.count(sim->instance.id), 0u) << sim->instance.name << " was not replaced";
  }
}

TEST_F(ReconcilerTest, RegionChangeIsRefusedNotHalfApplied) {
  json cluster = ClusterObject("mnist", 1);
  cluster["spec"]["region"] = "ARC-IS-HAF-1";
  op.ApplyCluster(cluster);
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  const int creates = op.cloud.CreatesSent(op.PrefixOf(kKey));
  op.EditCluster(kKey, [](json& c) { c["spec"]["region"] = "NORD-NO-KRS-1"; });
  op.RunFor(minutes(1));
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "SpecValid", &reason), "False");
  EXPECT_EQ(reason, "RegionChanged");
  EXPECT_EQ(op.cloud.CreatesSent(op.PrefixOf(kKey)), creates);
  EXPECT_EQ(op.Instances(kKey).size(), 2u) << "nothing deleted either";
  op.EditCluster(kKey, [](json& c) { c["spec"]["region"] = "ARC-IS-HAF-1"; });
  op.RunFor(minutes(1));
  EXPECT_TRUE(op.Converged(kKey));
}

TEST_F(ReconcilerTest, WorkerWhoseStartUpFailedIsReplaced) {
  op.ApplyCluster(ClusterObject("mnist", 2));
  op.RunFor(seconds(40));  // workers created, not serving yet
  const json status = (*op.Cluster(kKey))["status"];
  const std::string doomed = status["workers"][0]["instanceID"];
  ASSERT_FALSE(doomed.empty());
  ASSERT_TRUE(op.cloud.BreakStartUp(doomed, SimInstance::Broken::kFailedMarker));
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.HasEvent(kKey, "StartupFailed"));
  EXPECT_TRUE(op.Converged(kKey));
  EXPECT_EQ((*op.Cluster(kKey))["status"]["workers"][0].value("startupFailures", 0), 0)
      << "reset once the replacement serves";
}

TEST_F(ReconcilerTest, WorkerThatNeverRegistersIsReplacedAfterItsStartupTimeout) {
  json cluster = ClusterObject("mnist", 2);
  cluster["spec"]["workers"]["startupTimeout"] = "5m";
  op.ApplyCluster(cluster);
  op.RunFor(seconds(40));
  const std::string silent = (*op.Cluster(kKey))["status"]["workers"][1]["instanceID"];
  ASSERT_TRUE(op.cloud.BreakStartUp(silent, SimInstance::Broken::kSilent));
  op.RunFor(minutes(4));
  EXPECT_FALSE(op.HasEvent(kKey, "StartupTimeout")) << "not before its timeout";
  op.RunFor(minutes(4));
  EXPECT_TRUE(op.HasEvent(kKey, "StartupTimeout"));
  EXPECT_TRUE(op.Converged(kKey));
}

TEST_F(ReconcilerTest, WorkerWhoseNodeDiedIsNotReadyThenReplacedAfterItsTimeout) {
  json cluster = ClusterObject("mnist", 2);
  cluster["spec"]["workers"]["startupTimeout"] = "5m";
  op.ApplyCluster(cluster);
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  const std::string dead = (*op.Cluster(kKey))["status"]["workers"][1]["instanceID"];
  ASSERT_TRUE(op.cloud.BreakStartUp(dead, SimInstance::Broken::kNodeDied));
  // Seen within a resync interval (60 s here): registered, but not ready.
  op.RunFor(seconds(70));
  const json worker = (*op.Cluster(kKey))["status"]["workers"][1];
  EXPECT_TRUE(worker["registered"].get<bool>()) << "the gateway keeps the registration";
  EXPECT_FALSE(worker["ready"].get<bool>());
  EXPECT_TRUE(worker.contains("unreadySince"));
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "Ready", &reason), "False");
  EXPECT_EQ((*op.Cluster(kKey))["status"]["phase"], "Degraded");
  op.RunFor(minutes(3));
  EXPECT_FALSE(op.HasEvent(kKey, "StartupTimeout")) << "not before its timeout";
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.HasEvent(kKey, "StartupTimeout"));
  op.RunFor(minutes(1));
  EXPECT_TRUE(op.Converged(kKey));
  EXPECT_NE((*op.Cluster(kKey))["status"]["workers"][1]["instanceID"], dead);
}

TEST_F(ReconcilerTest, NoReplacementStormBeyondMaxUnhealthy) {
  json cluster = ClusterObject("mnist", 3);
  cluster["spec"]["workers"]["maxUnhealthy"] = "1";
  op.ApplyCluster(cluster);
  op.RunFor(seconds(40));
  const json created = *op.Cluster(kKey);
  for (const json& worker : created["status"]["workers"]) {
    ASSERT_TRUE(op.cloud.BreakStartUp(worker["instanceID"], SimInstance::Broken::kFailedMarker));
  }
  op.RunFor(minutes(2));
  EXPECT_FALSE(op.HasEvent(kKey, "StartupFailed")) << "3 down of 3 is beyond maxUnhealthy 1";
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "RemediationAllowed", &reason), "False");
  EXPECT_EQ(reason, "TooManyUnhealthy");
}

TEST_F(ReconcilerTest, SuspendedFromTheStartCreatesNothing) {
  json cluster = ClusterObject("mnist", 2);
  cluster["spec"]["suspend"] = true;
  op.ApplyCluster(cluster);
  op.RunFor(minutes(2));
  EXPECT_TRUE(op.Instances(kKey).empty());
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "Ready", &reason), "False");
  EXPECT_EQ(reason, "Suspended");
  EXPECT_EQ((*op.Cluster(kKey))["status"]["phase"], "Suspended");
  op.EditCluster(kKey, [](json& c) { c["spec"]["suspend"] = false; });
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.Converged(kKey));
}

TEST_F(ReconcilerTest, SuspendStopsEveryInstanceAndResumeStartsTheSameOnes) {
  op.ApplyCluster(ClusterObject("mnist", 2));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  std::set<std::string> ids;
  for (const SimInstance* sim : op.Instances(kKey)) ids.insert(sim->instance.id);
  const int creates = op.cloud.CreatesSent(op.PrefixOf(kKey));
  op.EditCluster(kKey, [](json& c) { c["spec"]["suspend"] = true; });
  op.RunFor(seconds(30));
  for (const SimInstance* sim : op.Instances(kKey)) {
    EXPECT_EQ(sim->instance.status, "shutoff") << sim->instance.name;
  }
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "Suspended", &reason), "True");
  EXPECT_EQ((*op.Cluster(kKey))["status"]["phase"], "Suspended");
  EXPECT_EQ(op.Condition(kKey, "Ready"), "False");
  EXPECT_TRUE(op.HasEvent(kKey, "GridSuspended"));
  // Scaling while suspended changes the spec only; it applies on resume.
  op.EditCluster(kKey, [](json& c) { c["spec"]["workers"]["replicas"] = 3; });
  op.RunFor(minutes(1));
  EXPECT_EQ(op.cloud.CreatesSent(op.PrefixOf(kKey)), creates);
  op.EditCluster(kKey, [](json& c) { c["spec"]["suspend"] = false; });
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.Converged(kKey));
  EXPECT_EQ(op.Condition(kKey, "Suspended", &reason), "False");
  EXPECT_EQ(reason, "Resumed");
  std::set<std::string> after;
  for (const SimInstance* sim : op.Instances(kKey)) after.insert(sim->instance.id);
  for (const std::string& id : ids) EXPECT_EQ(after.count(id), 1u) << "restarted, not recreated";
  EXPECT_EQ(after.size(), 4u) << "and the scale-up made while suspended applied";
  int started = 0;
  for (const RecordedEvent& event : op.events) {
    if (event.reason != "InstanceStarted") continue;
    ++started;
    EXPECT_FALSE(event.warning) << "the operator stopped it itself: " << event.message;
    EXPECT_NE(event.message.find("resuming"), std::string::npos) << event.message;
  }
  EXPECT_EQ(started, 3);
}

// A suspended grid was created long before it is resumed; its instances take a while to serve
// again after their start. Their start-up time counts from then, not from their creation.
TEST_F(ReconcilerTest, ResumeAfterLongerThanTheStartupTimeoutReplacesNothing) {
  json cluster = ClusterObject("mnist", 2);
  cluster["spec"]["gateway"]["startupTimeout"] = "2m";
  cluster["spec"]["workers"]["startupTimeout"] = "2m";
  op.ApplyCluster(cluster);
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  std::set<std::string> ids;
  for (const SimInstance* sim : op.Instances(kKey)) ids.insert(sim->instance.id);
  op.EditCluster(kKey, [](json& c) { c["spec"]["suspend"] = true; });
  op.RunFor(minutes(60));
  op.EditCluster(kKey, [](json& c) { c["spec"]["suspend"] = false; });
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.Converged(kKey));
  EXPECT_FALSE(op.HasEvent(kKey, "StartupTimeout"));
  std::set<std::string> after;
  for (const SimInstance* sim : op.Instances(kKey)) after.insert(sim->instance.id);
  EXPECT_EQ(after, ids) << "the same instances serve again";
}

TEST_F(ReconcilerTest, DeletionRemovesEveryInstanceThenTheFinalizer) {
  op.ApplyCluster(ClusterObject("mnist", 2));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  const std::string prefix = op.PrefixOf(kKey);
  op.DeleteCluster(kKey);
  op.Step();
  ASSERT_TRUE(op.Cluster(kKey).has_value()) << "the finalizer holds it while instances exist";
  EXPECT_EQ((*op.Cluster(kKey))["status"]["phase"], "Deleting");
  op.RunFor(minutes(2));
  EXPECT_FALSE(op.Cluster(kKey).has_value());
  for (const SimInstance& sim : op.cloud.all()) {
    EXPECT_NE(sim.instance.name.compare(0, prefix.size(), prefix), 0) << sim.instance.name;
  }
  EXPECT_TRUE(op.cloud.groups().empty()) << "the operator's own group goes with the last cluster";
}

TEST_F(ReconcilerTest, RetainKeepsInstancesAndDropsTheFinalizer) {
  json cluster = ClusterObject("mnist", 1);
  cluster["spec"]["deletionPolicy"] = "Retain";
  op.ApplyCluster(cluster);
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  op.DeleteCluster(kKey);
  op.RunFor(seconds(30));
  EXPECT_FALSE(op.Cluster(kKey).has_value());
  EXPECT_EQ(op.Instances(kKey).size(), 2u);
  EXPECT_TRUE(op.HasEvent(kKey, "InstancesRetained"));
}

TEST_F(ReconcilerTest, ClusterWhoseCredentialsNeverWorkedCanBeDeleted) {
  op.DeleteSecret("default", "creds");
  op.ApplyCluster(ClusterObject("mnist", 1));
  op.RunFor(seconds(30));
  op.DeleteCluster(kKey);
  op.RunFor(seconds(30));
  EXPECT_FALSE(op.Cluster(kKey).has_value()) << "nothing was ever created: nothing to delete";
}

TEST_F(ReconcilerTest, UnparsableObjectBeingDeletedIsNotStuck) {
  op.ApplyCluster(ClusterObject("mnist", 1));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  op.EditCluster(kKey, [](json& c) { c["spec"]["workers"]["replicas"] = "three"; });
  op.RunFor(seconds(30));
  EXPECT_EQ(op.Condition(kKey, "SpecValid"), "False");
  // The spec is unreadable, but its credentials reference is: deletion finishes.
  op.DeleteCluster(kKey);
  op.RunFor(minutes(1));
  EXPECT_FALSE(op.Cluster(kKey).has_value());
  EXPECT_TRUE(op.Instances(kKey).empty());
}

TEST_F(ReconcilerTest, StatusConflictIsRetriedWithAFreshRead) {
  op.ApplyCluster(ClusterObject("mnist", 1));
  op.Step();
  op.kube.FailNext("update/status", PyGridClusters().resource,
                   Status::Conflict("injected").WithHttpStatus(409));
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.Converged(kKey));
}

TEST_F(ReconcilerTest, LostInstanceIsRecreatedWithAnEvent) {
  op.ApplyCluster(ClusterObject("mnist", 2));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  std::string worker;
  for (const SimInstance* sim : op.Instances(kKey)) {
    if (sim->instance.name.find("worker-1") != std::string::npos) worker = sim->instance.id;
  }
  const std::string old_node = (*op.Cluster(kKey))["status"]["workers"][1]["nodeID"];
  ASSERT_TRUE(op.cloud.DeleteOutOfBand(worker));
  op.Enqueue(kKey);
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.HasEvent(kKey, "InstanceLost"));
  EXPECT_TRUE(op.Converged(kKey));
  EXPECT_NE((*op.Cluster(kKey))["status"]["workers"][1]["nodeID"], old_node)
      << "the new instance registers under a fresh node id";
}

TEST_F(ReconcilerTest, PartlyFailedDeletesAreNotSentTwice) {
  op.ApplyCluster(ClusterObject("mnist", 3));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  std::vector<std::string> doomed;
  const json before = *op.Cluster(kKey);
  for (const json& worker : before["status"]["workers"]) {
    if (worker["index"].get<int>() >= 1) doomed.push_back(worker["instanceID"]);
  }
  op.cloud.Schedule(CloudFault::kDeleteUnavailable);  // the first of two deletes fails
  op.EditCluster(kKey, [](json& c) { c["spec"]["workers"]["replicas"] = 1; });
  op.RunFor(minutes(1));
  EXPECT_TRUE(op.Converged(kKey));
  int sent = 0;
  for (const std::string& id : doomed) {
    EXPECT_GE(op.cloud.DeletesSent(id), 1) << id;
    sent += op.cloud.DeletesSent(id);
  }
  EXPECT_EQ(sent, 3) << "the failed delete is sent again, the one that worked is not";
}

TEST_F(ReconcilerTest, GridsWithTheSamePortsShareOneGroupUntilTheLastGoes) {
  op.ApplySecret("team-b", "creds", "token-1");
  op.ApplyCluster(ClusterObject("mnist", 1));
  op.ApplyCluster(ClusterObject("mnist", 1, "team-b"));
  json other_ports = ClusterObject("cifar", 0);
  other_ports["spec"]["pygrid"]["nodePort"] = 7001;
  op.ApplyCluster(other_ports);
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  ASSERT_TRUE(op.Converged("team-b/mnist"));
  ASSERT_TRUE(op.Converged("default/cifar"));
  ASSERT_EQ(op.cloud.groups().size(), 2u) << "one group per port set, not one per grid";
  EXPECT_EQ(op.cloud.creates_into_unready_groups(), 0) << "no instance before its group";
  const std::string shared = (*op.Cluster(kKey))["status"]["securityGroupID"];
  EXPECT_EQ((*op.Cluster("team-b/mnist"))["status"]["securityGroupID"], shared);
  EXPECT_NE((*op.Cluster("default/cifar"))["status"]["securityGroupID"], shared);
  op.DeleteCluster(kKey);
  op.RunFor(minutes(2));
  ASSERT_FALSE(op.Cluster(kKey).has_value());
  ASSERT_EQ(op.cloud.groups().size(), 2u) << "the other grid with these ports still uses it";
  // The surviving grid can still grow into it.
  op.EditCluster("team-b/mnist", [](json& c) { c["spec"]["workers"]["replicas"] = 2; });
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.Converged("team-b/mnist"));
  op.DeleteCluster("team-b/mnist");
  op.RunFor(minutes(2));
  ASSERT_FALSE(op.Cluster("team-b/mnist").has_value());
  ASSERT_EQ(op.cloud.groups().size(), 1u) << "the last grid with these ports takes it along";
  EXPECT_NE(op.cloud.groups()[0].id, shared);
}

TEST_F(ReconcilerTest, PerGridGroupOfAnOlderOperatorGoesWithItsGrid) {
  op.ApplyCluster(ClusterObject("mnist", 0));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  // As an older version left it: status records a group named after the grid.
  const std::string legacy =
      op.cloud
          .AddForeignGroup("pygrid-" + op.PrefixOf(kKey).substr(0, op.PrefixOf(kKey).size() - 1),
                           {{"tcp", "ingress", 22, 22}})
          .id;
  op.EditCluster(kKey, [&](json& c) { c["status"]["securityGroupID"] = legacy; });
  op.Crash();  // the upgraded operator starts
  op.DeleteCluster(kKey);
  op.RunFor(minutes(2));
  ASSERT_FALSE(op.Cluster(kKey).has_value());
  EXPECT_TRUE(op.cloud.groups().empty()) << "both the shared group and the per-grid one go";
}

TEST_F(ReconcilerTest, NamedGroupIsUsedButNeverChangedOrDeleted) {
  const std::vector<cloud::SecurityRule> web = {{"tcp", "ingress", 443, 443}};
  op.cloud.AddForeignGroup("prod-web", web);
  json cluster = ClusterObject("mnist", 1);
  cluster["spec"]["network"]["securityGroupName"] = "prod-web";
  op.ApplyCluster(cluster);
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.Converged(kKey));
  EXPECT_TRUE(op.HasEvent(kKey, "SecurityGroupIncomplete"));
  ASSERT_EQ(op.cloud.groups().size(), 1u);
  EXPECT_EQ(op.cloud.groups()[0].rules, web) << "a group the operator did not make is not changed";
  EXPECT_EQ(op.Instances(kKey)[0]->instance.security_groups[0].id, op.cloud.groups()[0].id);
  op.DeleteCluster(kKey);
  op.RunFor(minutes(2));
  EXPECT_FALSE(op.Cluster(kKey).has_value());
  ASSERT_EQ(op.cloud.groups().size(), 1u) << "nor deleted";
}

TEST_F(ReconcilerTest, MissingNamedGroupIsAConditionNotACreate) {
  json cluster = ClusterObject("mnist", 1);
  cluster["spec"]["network"]["securityGroupName"] = "does-not-exist";
  op.ApplyCluster(cluster);
  op.Step();
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "Ready", &reason), "False");
  EXPECT_EQ(reason, "CloudRequestRejected");
  EXPECT_TRUE(op.Instances(kKey).empty());
  EXPECT_TRUE(op.cloud.groups().empty());
}

TEST_F(ReconcilerTest, CreateIntoAGroupDeletedMeanwhileMakesTheGroupAgain) {
  op.ApplyCluster(ClusterObject("mnist", 1));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  const std::string old_group = (*op.Cluster(kKey))["status"]["securityGroupID"];
  // The grid's instances vanish, and with nothing using it the group is deleted (as the last
  // other grid with these ports does on its deletion) while this process still trusts it.
  std::vector<std::string> ids;
  for (const SimInstance* sim : op.Instances(kKey)) ids.push_back(sim->instance.id);
  for (const std::string& id : ids) ASSERT_TRUE(op.cloud.DeleteOutOfBand(id));
  ASSERT_TRUE(op.cloud.DeleteSecurityGroup(old_group).ok());
  op.Enqueue(kKey);
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.HasEvent(kKey, "SecurityGroupGone"));
  EXPECT_FALSE(op.HasEvent(kKey, "CloudRequestRejected")) << "not a failure";
  EXPECT_TRUE(op.Converged(kKey));
  ASSERT_EQ(op.cloud.groups().size(), 1u);
  EXPECT_NE(op.cloud.groups()[0].id, old_group);
  EXPECT_EQ((*op.Cluster(kKey))["status"]["securityGroupID"], op.cloud.groups()[0].id);
}

TEST_F(ReconcilerTest, NamespaceDeletionDeletesEveryInstance) {
  op.ApplySecret("team-a", "creds", "token-1");
  op.ApplyCluster(ClusterObject("mnist", 2, "team-a"));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged("team-a/mnist"));
  EXPECT_TRUE(op.kube
                  .Find(Secrets(), "pygrid-system",
                        "pygrid-credentials-" +
                            (*op.Cluster("team-a/mnist"))["metadata"]["uid"].get<std::string>())
                  .has_value())
      << "the operator keeps its own copy of the token";
  const std::string prefix = op.PrefixOf("team-a/mnist");
  op.kube.DeleteNamespace("team-a");  // the Secret and the cluster go at the same moment
  EXPECT_FALSE(op.kube.Find(Secrets(), "team-a", "creds").has_value());
  op.RunFor(minutes(2));
  EXPECT_FALSE(op.Cluster("team-a/mnist").has_value());
  for (const SimInstance& sim : op.cloud.all()) {
    EXPECT_NE(sim.instance.name.compare(0, prefix.size(), prefix), 0) << sim.instance.name;
  }
  StatusOr<kube::ListResult> copies = op.kube.List(Secrets(), "pygrid-system");
  ASSERT_TRUE(copies.ok());
  EXPECT_TRUE(copies->items.empty()) << "the copy goes with the cluster";
}

TEST_F(ReconcilerTest, SecretDeletedFirstStillDeletesTheGrid) {
  op.ApplyCluster(ClusterObject("mnist", 1));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  op.DeleteSecret("default", "creds");
  op.DeleteCluster(kKey);
  op.RunFor(minutes(2));
  EXPECT_FALSE(op.Cluster(kKey).has_value());
  EXPECT_TRUE(op.Instances(kKey).empty());
}

TEST_F(ReconcilerTest, StoppedInstanceIsStartedNotReplaced) {
  op.ApplyCluster(ClusterObject("mnist", 2));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  std::set<std::string> ids;
  for (const SimInstance* sim : op.Instances(kKey)) ids.insert(sim->instance.id);
  const std::string worker = (*op.Cluster(kKey))["status"]["workers"][1]["instanceID"];
  ASSERT_TRUE(op.cloud.StopOutOfBand(worker));
  op.RunFor(seconds(15));  // noticed within one poll, even though the grid was settled
  EXPECT_TRUE(op.HasEvent(kKey, "InstanceStarted"));
  op.RunFor(minutes(2));
  EXPECT_TRUE(op.Converged(kKey));
  std::set<std::string> after;
  for (const SimInstance* sim : op.Instances(kKey)) after.insert(sim->instance.id);
  EXPECT_EQ(after, ids) << "started again, nothing replaced";
}

TEST_F(ReconcilerTest, LostGatewayIsNoticedWithinAPoll) {
  op.ApplyCluster(ClusterObject("mnist", 1));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  const std::string gateway = (*op.Cluster(kKey))["status"]["gateway"]["instanceID"];
  ASSERT_TRUE(op.cloud.DeleteOutOfBand(gateway));
  op.RunFor(seconds(11));
  EXPECT_TRUE(op.HasEvent(kKey, "InstanceLost"));
  EXPECT_TRUE(op.HasEvent(kKey, "GridDegraded"));
  EXPECT_EQ(op.Condition(kKey, "Ready"), "False");
}

TEST_F(ReconcilerTest, CloudOutageShowsInConditionsAndClears) {
  op.ApplyCluster(ClusterObject("mnist", 1));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  op.cloud.SetOutage(true);
  op.EditCluster(kKey, [](json& c) { c["spec"]["workers"]["replicas"] = 3; });
  op.RunFor(seconds(5));
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "CloudReachable", &reason), "False");
  EXPECT_EQ(reason, "CloudUnavailable");
  op.RunFor(seconds(40));
  EXPECT_EQ(op.Condition(kKey, "Ready", &reason), "False");
  EXPECT_EQ(reason, "CloudUnavailable") << "an outage longer than the grace shows in Ready";
  op.cloud.SetOutage(false);
  op.RunFor(minutes(3));
  EXPECT_EQ(op.Condition(kKey, "CloudReachable"), "True");
  EXPECT_TRUE(op.Converged(kKey));
}

}  // namespace
}  // namespace pygrid::controller::testing
