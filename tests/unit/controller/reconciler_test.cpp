// Reconciler tables: the real Reconciler with MemoryKubeClient, SimCloud, SimProber and a fake
// clock (tests/unit/controller/sim_operator.h). Each lifecycle rule and error class in
// milliseconds, no threads, no sockets, no sleeps.
#include <gtest/gtest.h>

#include "controller/resources.h"
#include "controller/sim_operator.h"

namespace pygrid::controller::testing {
namespace {

using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kKey[] = "default/mnist";

class ReconcilerTest : public ::testing::Test {
 protected:
  SimOperator op{1};
  void SetUp() override { op.ApplySecret("default", "creds", "token-1"); }
};

TEST_F(ReconcilerTest, NewClusterBecomesReadyWithGatewayFirst) {
  op.ApplyCluster(ClusterObject("mnist", 2));
  op.Step();
  ASSERT_EQ(op.Instances(kKey).size(), 1u) << "the gateway alone in the first round";
  EXPECT_NE(op.Instances(kKey)[0]->instance.name.find("-gateway"), std::string::npos);
  op.RunFor(minutes(3));
  std::string why;
  EXPECT_TRUE(op.Converged(kKey, &why)) << why;
  EXPECT_TRUE(op.HasEvent(kKey, "InstanceCreated"));
  const json status = (*op.Cluster(kKey))["status"];
  EXPECT_EQ(status["phase"], "Ready");
  EXPECT_EQ(status["gateway"]["state"], "active");
  EXPECT_FALSE(status["gateway"]["sshHostKey"].get<std::string>().empty());
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
  op.Step();
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "Ready", &reason), "False");
  EXPECT_EQ(reason, "QuotaExceeded");
  EXPECT_TRUE(op.HasEvent(kKey, "QuotaExceeded"));
  EXPECT_EQ(op.last_result().after(), seconds(60));
  EXPECT_TRUE(op.Instances(kKey).empty());
  op.RunFor(minutes(4));
  EXPECT_TRUE(op.Converged(kKey));
}

TEST_F(ReconcilerTest, AmbiguousCreateIsAdoptedByName) {
  op.cloud.Schedule(CloudFault::kCreateLostAnswer);
  op.ApplyCluster(ClusterObject("mnist", 1));
  op.Step();
  EXPECT_TRUE(op.HasEvent(kKey, "InstanceAdopted"));
  ASSERT_EQ(op.Instances(kKey).size(), 1u);
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

TEST_F(ReconcilerTest, SuspendCreatesAndDeletesNothing) {
  json cluster = ClusterObject("mnist", 2);
  cluster["spec"]["suspend"] = true;
  op.ApplyCluster(cluster);
  op.RunFor(minutes(2));
  EXPECT_TRUE(op.Instances(kKey).empty());
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "Ready", &reason), "False");
  EXPECT_EQ(reason, "Suspended");
  op.EditCluster(kKey, [](json& c) { c["spec"]["suspend"] = false; });
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.Converged(kKey));
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
  // Without a readable spec there is no credentials reference: the instances stay (and the
  // condition says why) until the spec is readable again; then deletion finishes.
  op.DeleteCluster(kKey);
  op.RunFor(seconds(30));
  ASSERT_TRUE(op.Cluster(kKey).has_value());
  EXPECT_EQ((*op.Cluster(kKey))["status"]["phase"], "Deleting");
  op.EditCluster(kKey, [](json& c) { c["spec"]["workers"]["replicas"] = 1; });
  op.RunFor(minutes(2));
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
  ASSERT_TRUE(op.cloud.DeleteOutOfBand(worker));
  op.Enqueue(kKey);
  op.RunFor(minutes(3));
  EXPECT_TRUE(op.HasEvent(kKey, "InstanceLost"));
  EXPECT_TRUE(op.Converged(kKey));
}

}  // namespace
}  // namespace pygrid::controller::testing
