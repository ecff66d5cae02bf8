// End to end, "Ready in one boot" (issue 14): workers are created with their gateway and get its
// address over SSH (the real operator, real sshd per emulated instance, genesis-sim's emulation
// of the deferred worker's inbox), with a kill -9 before the delivery, a gateway replacement,
// and the fallback to user data when SSH cannot reach the workers.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "e2e/grid_fixture.h"

namespace pygrid::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;

// Instance id by name, of every instance not being deleted.
std::map<std::string, std::string> LiveIds(const Grid& grid) {
  std::map<std::string, std::string> ids;
  for (const json& instance : grid.Instances()) {
    if (instance.value("status", "") != "deleting")
      ids[instance.value("name", "")] = instance.value("id", "");
  }
  return ids;
}

// Every worker in status records the gateway's current private IP, and the gateway lists it.
void ExpectWorkersJoinedTheGateway(const Grid& grid, const std::string& name) {
  const json status = StatusOf(grid.Cluster(name));
  const std::string gateway_ip = status["gateway"].value("privateIP", "");
  ASSERT_FALSE(gateway_ip.empty());
  json nodes =
      json::parse(grid.HttpGet(status.value("endpoint", "") + "/connected-nodes"), nullptr, false);
  ASSERT_TRUE(nodes.is_object());
  for (const json& worker : status["workers"]) {
    EXPECT_EQ(worker.value("gatewayIP", ""), gateway_ip) << worker.dump();
    bool listed = false;
    for (const json& node : nodes["grid-nodes"]) listed |= node == worker.value("nodeID", "");
    EXPECT_TRUE(listed) << worker.dump() << " not at " << nodes.dump();
  }
}

TEST(OneBootTest, WorkersGetTheAddressOverSshAndAGatewayReplacementGivesThemTheNewOne) {
  Grid grid({/*boot_seconds=*/1.0});
  grid.InstallCrdAndSecret();
  grid.StartOperator({"--poll-interval=1s"});
  ASSERT_EQ(grid.Apply(ClusterYaml("mnist", 2)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("mnist", "Ready", "True", seconds(120)))
      << grid.Kubectl("get pgc mnist -o yaml").output << grid.AllOperatorLogs();
  // One round created all three: no worker create waited for the gateway to be active.
  EXPECT_EQ(grid.CountRequests("POST", "/compute/v1/instances"), 3);
  json status = StatusOf(grid.Cluster("mnist"));
  EXPECT_EQ(status.value("gatewayAddressDelivery", ""), "SSH");
  EXPECT_TRUE(grid.HasEvent("GatewayAddressDelivered"));
  ExpectWorkersJoinedTheGateway(grid, "mnist");

  // The gateway disappears: a new one is created, the workers stay and get its address.
  const std::map<std::string, std::string> before = LiveIds(grid);
  const std::string old_gateway = status["gateway"].value("instanceID", "");
  const std::string old_ip = status["gateway"].value("privateIP", "");
  grid.SimDelete("/_sim/instances/" + old_gateway);
  ASSERT_TRUE(Grid::WaitUntil(
      [&] {
        json now = StatusOf(grid.Cluster("mnist"));
        return now["gateway"].value("instanceID", old_gateway) != old_gateway &&
               now.value("phase", "") == "Ready";
      },
      seconds(120)))
      << grid.Kubectl("get pgc mnist -o yaml").output << grid.AllOperatorLogs();
  EXPECT_TRUE(grid.HasEvent("GatewayAddressRedelivered"));
  EXPECT_NE(StatusOf(grid.Cluster("mnist"))["gateway"].value("privateIP", old_ip), old_ip);
  const std::map<std::string, std::string> after = LiveIds(grid);
  for (const auto& [name, id] : before) {
    if (name.find("-worker-") == std::string::npos) continue;
    EXPECT_EQ(after.count(name) ? after.at(name) : "", id) << name << " was replaced";
  }
  ExpectWorkersJoinedTheGateway(grid, "mnist");
}

TEST(OneBootTest, KillNineBeforeTheDeliveryDeliversAfterTheRestart) {
  Grid grid({/*boot_seconds=*/3.0});
  grid.InstallCrdAndSecret();
  const int first = grid.StartOperator({"--poll-interval=1s"});
  ASSERT_EQ(grid.Apply(ClusterYaml("crash", 2)).exit_code, 0);
  // The workers are created (recorded) while the gateway still boots: kill -9 now.
  ASSERT_TRUE(Grid::WaitUntil(
      [&] {
        json status = StatusOf(grid.Cluster("crash"));
        if (!status.contains("workers") || status["workers"].size() != 2) return false;
        for (const json& worker : status["workers"]) {
          if (worker.value("instanceID", "").empty()) return false;
        }
        return true;
      },
      seconds(60)))
      << grid.AllOperatorLogs();
  grid.KillOperator(first);
  ASSERT_EQ(grid.OperatorLog(first).find("delivered the gateway address"), std::string::npos)
      << "the kill came too late to test a restart before the delivery";
  const std::map<std::string, std::string> created = LiveIds(grid);
  ASSERT_EQ(created.size(), 3u);

  grid.StartOperator({"--poll-interval=1s"});
  ASSERT_TRUE(grid.WaitForCondition("crash", "Ready", "True", seconds(120)))
      << grid.Kubectl("get pgc crash -o yaml").output << grid.AllOperatorLogs();
  EXPECT_EQ(LiveIds(grid), created) << "the same three instances, nothing created twice";
  EXPECT_TRUE(grid.HasEvent("GatewayAddressDelivered"));
  ExpectWorkersJoinedTheGateway(grid, "crash");
}

TEST(OneBootTest, WithoutSshTheGridFallsBackToUserDataAndIsReady) {
  Grid grid({/*boot_seconds=*/0.5});
  grid.InstallCrdAndSecret();
  // Port 1: nothing listens, as when allowedSourceCIDRs leaves out the operator's address.
  grid.StartOperator({"--poll-interval=1s", "--ssh-port=1", "--address-delivery-grace=3s"});
  ASSERT_EQ(grid.Apply(ClusterYaml("nossh", 1)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("nossh", "Ready", "True", seconds(120)))
      << grid.Kubectl("get pgc nossh -o yaml").output << grid.AllOperatorLogs();
  EXPECT_EQ(StatusOf(grid.Cluster("nossh")).value("gatewayAddressDelivery", ""), "UserData");
  EXPECT_TRUE(grid.HasEvent("GatewayAddressUndeliverable"));
  EXPECT_FALSE(grid.HasEvent("GatewayAddressDelivered"));
  // The waiting worker was replaced by one created after the gateway, address in user data.
  EXPECT_EQ(grid.CountRequests("POST", "/compute/v1/instances"), 3);
  ExpectWorkersJoinedTheGateway(grid, "nossh");
}

}  // namespace
}  // namespace pygrid::e2e
