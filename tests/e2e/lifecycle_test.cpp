// End to end: kube-sim + genesis-sim (instance emulation, real sshd) + the operator + kubectl.
#include <gtest/gtest.h>

#include <set>

#include "e2e/grid_fixture.h"

namespace pygrid::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;

std::set<std::string> InstanceNames(const Grid& grid) {
  std::set<std::string> names;
  for (const json& instance : grid.Instances()) {
    if (instance.value("status", "") != "deleting") names.insert(instance.value("name", ""));
  }
  return names;
}

int ReadyWorkers(const Grid& grid, const std::string& name) {
  json cluster = grid.Cluster(name);
  return cluster.is_null() ? -1 : StatusOf(cluster).value("readyWorkers", -1);
}

// `yaml` with the one place that reads `from` changed to `to` (a test failure when absent).
std::string Replaced(std::string yaml, const std::string& from, const std::string& to) {
  const size_t at = yaml.find(from);
  EXPECT_NE(at, std::string::npos) << "no \"" << from << "\" in\n" << yaml;
  if (at != std::string::npos) yaml.replace(at, from.size(), to);
  return yaml;
}

TEST(LifecycleTest, CreateReadyScaleAndDeleteLeavesNothingBehind) {
  Grid grid;
  grid.InstallCrdAndSecret();
  grid.StartOperator();
  ASSERT_EQ(grid.Apply(ClusterYaml("mnist", 2)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("mnist", "Ready", "True", seconds(120)))
      << grid.Kubectl("get pgc mnist -o yaml").output << grid.AllOperatorLogs();

  json cluster = grid.Cluster("mnist");
  const json& status = cluster["status"];
  EXPECT_EQ(status["phase"], "Ready");
  EXPECT_EQ(status["readyWorkers"], 2);
  EXPECT_EQ(status["desiredWorkers"], 2);
  EXPECT_EQ(status["observedGeneration"], cluster["metadata"]["generation"]);
  const std::string endpoint = status.value("endpoint", "");
  EXPECT_EQ(endpoint, "http://" + status["gateway"].value("publicIP", "") + ":5000");
  EXPECT_NE(status["gateway"].value("sshHostKey", "").find("ssh-ed25519 "), std::string::npos);
  // Every worker, and the co-located one, is registered at the gateway the endpoint names.
  json nodes = json::parse(grid.HttpGet(endpoint + "/connected-nodes"), nullptr, false);
  ASSERT_TRUE(nodes.is_object()) << endpoint;
  std::set<std::string> registered(nodes["grid-nodes"].begin(), nodes["grid-nodes"].end());
  EXPECT_EQ(registered.count(status["gateway"].value("nodeID", "")), 1u);
  for (const json& worker : status["workers"]) {
    EXPECT_TRUE(worker.value("registered", false));
    EXPECT_EQ(registered.count(worker.value("nodeID", "")), 1u) << worker.dump();
  }
  EXPECT_EQ(cluster["metadata"]["finalizers"], json::array({"distributor.pygrid.dev/cleanup"}));
  // The Secret existed before the operator started: with its caches synced before the first
  // reconcile, the operator never reported it missing.
  const std::string events = grid.Kubectl("get events -o json").output;
  EXPECT_EQ(events.find("SecretNotFound"), std::string::npos) << events;
  EXPECT_EQ(grid.AllOperatorLogs().find("SecretNotFound"), std::string::npos);
  const std::string uid8 = cluster["metadata"].value("uid", "").substr(0, 8);
  EXPECT_EQ(InstanceNames(grid),
            (std::set<std::string>{"mnist-" + uid8 + "-gateway", "mnist-" + uid8 + "-worker-0",
                                   "mnist-" + uid8 + "-worker-1"}));
  // kubectl's printer columns show the grid.
  testing::CommandResult table = grid.Kubectl("get pgc mnist");
  EXPECT_NE(table.output.find("Ready"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("2/2"), std::string::npos) << table.output;

  // Scale up to 5: workers 2..4 appear, all register.
  ASSERT_EQ(
      grid.Kubectl("patch pgc mnist --type=merge -p '{\"spec\":{\"workers\":{\"replicas\":5}}}'")
          .exit_code,
      0);
  ASSERT_TRUE(Grid::WaitUntil([&] { return ReadyWorkers(grid, "mnist") == 5; }, seconds(120)))
      << grid.Kubectl("get pgc mnist -o yaml").output;
  EXPECT_TRUE(grid.WaitForCondition("mnist", "Ready", "True", seconds(30)));
  EXPECT_EQ(InstanceNames(grid).size(), 6u);
  // What an autoscaler reads: the scale subresource's current replicas are the ready workers.
  EXPECT_EQ(grid.Kubectl("get pgc mnist --subresource=scale -o jsonpath={.status.replicas}").output,
            "5");

  // Scale down to 1 as an autoscaler or a person would (/scale): the highest indexes go.
  ASSERT_EQ(grid.Kubectl("scale pgc mnist --replicas=1").exit_code, 0);
  ASSERT_TRUE(Grid::WaitUntil(
      [&] {
        return InstanceNames(grid) ==
               std::set<std::string>{"mnist-" + uid8 + "-gateway", "mnist-" + uid8 + "-worker-0"};
      },
      seconds(60)));
  EXPECT_TRUE(grid.WaitForCondition("mnist", "Ready", "True", seconds(30)));

  // Delete: every instance goes, then the finalizer, then the object.
  ASSERT_EQ(grid.Kubectl("delete pgc mnist --wait=false").exit_code, 0);
  ASSERT_TRUE(Grid::WaitUntil([&] { return grid.Cluster("mnist").is_null(); }, seconds(60)))
      << grid.Kubectl("get pgc mnist -o yaml").output;
  EXPECT_TRUE(grid.Instances().empty()) << json(grid.Instances()).dump();
  // The operator never logged the API token.
  EXPECT_EQ(grid.AllOperatorLogs().find(kGenesisToken), std::string::npos);
}

// Suspend stops every instance with the API's stop action (real genesis-sim, real sshd per
// instance); resume starts the same instances and the grid is Ready again without recreating
// anything (registrations live in the gateway's volume).
TEST(LifecycleTest, SuspendStopsEveryInstanceAndResumeStartsTheSameOnes) {
  Grid grid({/*boot_seconds=*/0.5});
  grid.InstallCrdAndSecret();
  grid.StartOperator({"--poll-interval=1s"});
  ASSERT_EQ(grid.Apply(ClusterYaml("pause", 2)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("pause", "Ready", "True", seconds(120)))
      << grid.AllOperatorLogs();
  std::set<std::string> ids;
  for (const json& instance : grid.Instances()) ids.insert(instance.value("id", ""));
  ASSERT_EQ(ids.size(), 3u);
  ASSERT_EQ(
      grid.Kubectl("patch pgc pause --type=merge -p '{\"spec\":{\"suspend\":true}}'").exit_code, 0);
  EXPECT_TRUE(Grid::WaitUntil(
      [&] {
        for (const json& instance : grid.Instances()) {
          if (instance.value("status", "") != "shutoff") return false;
        }
        return StatusOf(grid.Cluster("pause")).value("phase", "") == "Suspended";
      },
      seconds(60)))
      << json(grid.Instances()).dump() << grid.Kubectl("get pgc pause -o yaml").output;
  EXPECT_TRUE(grid.WaitForCondition("pause", "Suspended", "True", seconds(30)));
  ASSERT_EQ(
      grid.Kubectl("patch pgc pause --type=merge -p '{\"spec\":{\"suspend\":false}}'").exit_code,
      0);
  EXPECT_TRUE(grid.WaitForCondition("pause", "Ready", "True", seconds(120)))
      << grid.Kubectl("get pgc pause -o yaml").output << grid.AllOperatorLogs();
  std::set<std::string> after;
  for (const json& instance : grid.Instances()) after.insert(instance.value("id", ""));
  EXPECT_EQ(after, ids) << "the same instances, started again";
}

// A node image change on a Ready grid rolls the workers one at a time (real binaries): never
// fewer than 2 of 3 ready, UpToDate at the end, every old worker gone, the gateway kept.
TEST(LifecycleTest, NodeImageChangeRollsWorkersOneAtATime) {
  Grid grid({/*boot_seconds=*/0.5});
  grid.InstallCrdAndSecret();
  grid.StartOperator({"--poll-interval=1s"});
  // Without a co-located worker: a gateway that runs a node is rebuilt with the new node image,
  // which recreates the grid (GatewayChangeRecreatesTheGrid in reconciler_test).
  const std::string yaml =
      Replaced(ClusterYaml("roll", 3), "gateway: {instanceType: vcpu-4_memory-8g_disk-80g}",
               "gateway: {instanceType: vcpu-4_memory-8g_disk-80g, colocatedWorker: false}");
  ASSERT_EQ(grid.Apply(yaml).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("roll", "Ready", "True", seconds(120)))
      << grid.AllOperatorLogs();
  json before = StatusOf(grid.Cluster("roll"));
  std::set<std::string> old_workers;
  for (const json& worker : before["workers"]) old_workers.insert(worker.value("instanceID", ""));
  const std::string gateway = before["gateway"].value("instanceID", "");
  ASSERT_EQ(grid.Kubectl("patch pgc roll --type=merge -p "
                         "'{\"spec\":{\"pygrid\":{\"nodeImage\":\"openmined/grid-node:v2\"}}}'")
                .exit_code,
            0);
  int least_ready = 3;
  bool saw_updating = false;
  EXPECT_TRUE(Grid::WaitUntil(
      [&] {
        json status = StatusOf(grid.Cluster("roll"));
        least_ready = std::min(least_ready, status.value("readyWorkers", 0));
        saw_updating |= status.value("phase", "") == "Updating";
        std::set<std::string> now;
        for (const json& worker : status.value("workers", json::array()))
          now.insert(worker.value("instanceID", ""));
        bool all_new = now.size() == 3;
        for (const std::string& id : now) all_new &= !old_workers.count(id);
        return all_new && status.value("phase", "") == "Ready";
      },
      seconds(180)))
      << grid.Kubectl("get pgc roll -o yaml").output << grid.AllOperatorLogs();
  EXPECT_TRUE(saw_updating);
  EXPECT_GE(least_ready, 2) << "never more than one worker out";
  EXPECT_TRUE(grid.WaitForCondition("roll", "UpToDate", "True", seconds(10)));
  EXPECT_EQ(StatusOf(grid.Cluster("roll"))["gateway"].value("instanceID", ""), gateway);
  for (const json& instance : grid.Instances()) {
    EXPECT_EQ(old_workers.count(instance.value("id", "")), 0u) << "old worker left behind";
  }
}

// A worker whose node container dies stays registered at the gateway (PyGrid keeps
// registrations), but its own node endpoint no longer answers: it is not ready, the grid is
// Degraded, and it is replaced once its start-up timeout (1m here) has passed.
TEST(LifecycleTest, WorkerWhoseNodeDiesIsNotReadyThenReplaced) {
  Grid grid({/*boot_seconds=*/0.5});
  grid.InstallCrdAndSecret();
  grid.StartOperator({"--poll-interval=1s"});
  const std::string yaml =
      Replaced(ClusterYaml("heal", 2), "instanceType: vcpu-4_memory-8g_disk-80g}\n  network",
               "instanceType: vcpu-4_memory-8g_disk-80g, startupTimeout: 1m}\n  network");
  ASSERT_EQ(grid.Apply(yaml).exit_code, 0) << yaml;
  ASSERT_TRUE(grid.WaitForCondition("heal", "Ready", "True", seconds(120)))
      << grid.AllOperatorLogs();
  const std::string dead = StatusOf(grid.Cluster("heal"))["workers"][1].value("instanceID", "");
  ASSERT_FALSE(dead.empty());
  grid.SimPost("/_sim/instances/" + dead + "/kill-node", json::object());

  // Seen within a resync interval (5 s in these tests): registered, not ready, Degraded.
  EXPECT_TRUE(Grid::WaitUntil(
      [&] {
        json worker = StatusOf(grid.Cluster("heal"))["workers"][1];
        return worker.value("registered", false) && !worker.value("ready", true) &&
               worker.contains("unreadySince");
      },
      seconds(30)))
      << grid.Kubectl("get pgc heal -o yaml").output;
  EXPECT_EQ(StatusOf(grid.Cluster("heal")).value("phase", ""), "Degraded");
  EXPECT_NE(grid.Kubectl("get pgc heal -o yaml").output.find("its node does not answer"),
            std::string::npos);

  // Replaced after its timeout, and the grid is whole again.
  EXPECT_TRUE(Grid::WaitUntil(
      [&] {
        json status = StatusOf(grid.Cluster("heal"));
        return status["workers"][1].value("instanceID", dead) != dead &&
               status.value("phase", "") == "Ready";
      },
      seconds(120)))
      << grid.Kubectl("get pgc heal -o yaml").output << grid.AllOperatorLogs();
  EXPECT_TRUE(grid.HasEvent("StartupTimeout"));
  for (const json& instance : grid.Instances()) {
    if (instance.value("id", "") == dead) {
      EXPECT_EQ(instance.value("status", ""), "deleting");
    }
  }
}

}  // namespace
}  // namespace pygrid::e2e
