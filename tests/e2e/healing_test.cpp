// End to end: the operator heals lost and failed instances, refuses bad specs without calling
// the cloud, waits for missing credentials, and only the leader acts.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "e2e/grid_fixture.h"

namespace pygrid::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;

json WorkerEntry(const Grid& grid, const std::string& cluster, int index) {
  json object = grid.Cluster(cluster);
  if (object.is_null()) return nullptr;
  for (const json& worker : StatusOf(object).value("workers", json::array())) {
    if (worker.value("index", -1) == index) return worker;
  }
  return nullptr;
}

bool HasEvent(const Grid& grid, const std::string& reason) {
  return grid.Kubectl("get events -o json").output.find("\"reason\": \"" + reason + "\"") !=
         std::string::npos;
}

TEST(HealingTest, InstanceDeletedOutOfBandOrFailedIsReplaced) {
  Grid grid;
  grid.InstallCrdAndSecret();
  grid.StartOperator();
  ASSERT_EQ(grid.Apply(ClusterYaml("heal", 2)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("heal", "Ready", "True", seconds(120)))
      << grid.AllOperatorLogs();

  // Worker 0 disappears behind the operator's back.
  const std::string lost_id = WorkerEntry(grid, "heal", 0).value("instanceID", "");
  ASSERT_FALSE(lost_id.empty());
  grid.SimDelete("/_sim/instances/" + lost_id);
  ASSERT_TRUE(Grid::WaitUntil(
      [&] {
        json worker = WorkerEntry(grid, "heal", 0);
        return !worker.is_null() && worker.value("instanceID", "") != lost_id &&
               worker.value("ready", false);
      },
      seconds(120)))
      << grid.Kubectl("get pgc heal -o yaml").output;
  EXPECT_TRUE(HasEvent(grid, "InstanceLost"));

  // Worker 1 goes to `error`.
  const std::string failed_id = WorkerEntry(grid, "heal", 1).value("instanceID", "");
  ASSERT_FALSE(grid.SimPost("/_sim/instances/" + failed_id + "/error", json::object()).is_null());
  ASSERT_TRUE(Grid::WaitUntil(
      [&] {
        json worker = WorkerEntry(grid, "heal", 1);
        return !worker.is_null() && worker.value("instanceID", "") != failed_id &&
               worker.value("ready", false);
      },
      seconds(120)))
      << grid.Kubectl("get pgc heal -o yaml").output;
  EXPECT_TRUE(HasEvent(grid, "InstanceFailed"));
  EXPECT_TRUE(grid.WaitForCondition("heal", "Ready", "True", seconds(60)));
  // Exactly the three wanted instances remain (the failed one was deleted).
  int live = 0;
  for (const json& instance : grid.Instances()) live += instance.value("status", "") != "deleting";
  EXPECT_EQ(live, 3);
}

TEST(HealingTest, InvalidSpecIsAConditionAndNoCloudCall) {
  Grid grid;
  grid.InstallCrdAndSecret();
  grid.StartOperator();
  // Passes the CRD schema but not the operator: the co-located worker needs its own port.
  ASSERT_EQ(grid.Apply(ClusterYaml("bad", 1, "  pygrid: {gatewayPort: 6000, nodePort: 6000}\n"))
                .exit_code,
            0);
  ASSERT_TRUE(grid.WaitForCondition("bad", "SpecValid", "False", seconds(30)))
      << grid.AllOperatorLogs();
  json cluster = grid.Cluster("bad");
  EXPECT_EQ(cluster["status"]["phase"], "Failed");
  bool named = false;
  for (const json& condition : cluster["status"]["conditions"]) {
    if (condition["type"] == "SpecValid")
      named = condition.value("message", "").find("spec.pygrid.nodePort") != std::string::npos;
  }
  EXPECT_TRUE(named) << cluster.dump(2);
  EXPECT_TRUE(HasEvent(grid, "InvalidSpec"));
  EXPECT_EQ(grid.CountRequests("POST", "/compute/v1/instances"), 0);
  EXPECT_EQ(grid.CountRequests("POST", "/compute/v1/security-groups"), 0);
  // No retry loop: the operator does not keep reconciling an unchanged invalid spec.
  const std::string rv = cluster["metadata"].value("resourceVersion", "");
  std::this_thread::sleep_for(seconds(3));  // observing quiet time, not synchronising
  EXPECT_EQ(grid.Cluster("bad")["metadata"].value("resourceVersion", ""), rv);
}

TEST(HealingTest, MissingSecretIsReportedThenFixed) {
  Grid grid;
  grid.InstallCrdAndSecret(/*secret=*/false);
  grid.StartOperator();
  ASSERT_EQ(grid.Apply(ClusterYaml("creds", 1)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("creds", "CredentialsValid", "False", seconds(30)))
      << grid.AllOperatorLogs();
  json cluster = grid.Cluster("creds");
  for (const json& condition : cluster["status"]["conditions"]) {
    if (condition["type"] == "CredentialsValid") {
      EXPECT_EQ(condition["reason"], "SecretNotFound");
    }
  }
  EXPECT_EQ(grid.CountRequests("POST", "/compute/v1/instances"), 0);
  // Creating the Secret triggers a reconcile at once (no waiting for the slow resync).
  grid.CreateSecret();
  ASSERT_TRUE(grid.WaitForCondition("creds", "Ready", "True", seconds(120)))
      << grid.AllOperatorLogs();
  EXPECT_TRUE(grid.WaitForCondition("creds", "CredentialsValid", "True", seconds(5)));
}

TEST(HealingTest, OnlyTheLeaderActs) {
  Grid grid;
  grid.InstallCrdAndSecret();
  const std::vector<std::string> election = {"--leader-elect", "--lease-duration=4s",
                                             "--renew-deadline=3s", "--retry-period=1s"};
  const int first = grid.StartOperator(election);
  ASSERT_TRUE(Grid::WaitUntil(
      [&] { return grid.Kubectl("get lease pygrid-operator-leader").exit_code == 0; },
      seconds(30)));
  const int second = grid.StartOperator(election);
  ASSERT_EQ(grid.Apply(ClusterYaml("led", 1)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("led", "Ready", "True", seconds(120)))
      << grid.AllOperatorLogs();
  const std::string holder =
      grid.Kubectl("get lease pygrid-operator-leader -o jsonpath={.spec.holderIdentity}").output;
  EXPECT_FALSE(holder.empty());
  // Only one of the two created instances.
  const bool first_created = grid.OperatorLog(first).find("created instance") != std::string::npos;
  const bool second_created =
      grid.OperatorLog(second).find("created instance") != std::string::npos;
  EXPECT_NE(first_created, second_created) << grid.AllOperatorLogs();
  // The leader stops cleanly and releases the lease; the other takes over and keeps the grid.
  const int leader = first_created ? first : second;
  const int standby = first_created ? second : first;
  grid.StopOperator(leader);
  ASSERT_TRUE(Grid::WaitUntil(
      [&] {
        return grid.Kubectl("get lease pygrid-operator-leader -o jsonpath={.spec.holderIdentity}")
                   .output != holder;
      },
      seconds(20)));
  ASSERT_EQ(
      grid.Kubectl("patch pgc led --type=merge -p '{\"spec\":{\"workers\":{\"replicas\":2}}}'")
          .exit_code,
      0);
  ASSERT_TRUE(Grid::WaitUntil(
      [&] { return StatusOf(grid.Cluster("led")).value("readyWorkers", 0) == 2; }, seconds(120)))
      << grid.OperatorLog(standby);
  EXPECT_NE(grid.OperatorLog(standby).find("created instance"), std::string::npos);
}

}  // namespace
}  // namespace pygrid::e2e
