// End to end: kill -9 the operator at many random points during create, scale and delete
// (including right after a create whose response the cloud "lost"), restart it each time, and
// require the final state to be right with no duplicate instance and nothing leaked.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <thread>

#include "e2e/grid_fixture.h"

namespace pygrid::e2e {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Names of instances that are not on their way out, with how often each occurs.
std::map<std::string, int> LiveNames(const Grid& grid) {
  std::map<std::string, int> names;
  for (const json& instance : grid.Instances()) {
    if (instance.value("status", "") != "deleting") ++names[instance.value("name", "")];
  }
  return names;
}

TEST(CrashSafetyTest, KillNineAnywhereNeverDuplicatesOrLeaks) {
  Grid grid({/*boot_seconds=*/0.5});
  grid.InstallCrdAndSecret();
  ASSERT_EQ(grid.Apply(ClusterYaml("crash", 3)).exit_code, 0);
  std::mt19937 rng(20261126);
  std::uniform_int_distribution<int> pause_ms(50, 1500);
  int kills = 0;
  int max_duplicates = 0;
  auto crash_once = [&] {
    const int op = grid.StartOperator();
    std::this_thread::sleep_for(milliseconds(pause_ms(rng)));  // a random kill point
    grid.KillOperator(op);
    ++kills;
    for (const auto& [name, count] : LiveNames(grid))
      max_duplicates = std::max(max_duplicates, count);
  };
  // `n` crashes; before the first and every `lose_every`-th after it (0: never), the response
  // to the next create is lost on the way back.
  auto crashes = [&](int n, int lose_every) {
    for (int i = 0; i < n; ++i) {
      if (lose_every > 0 && i % lose_every == 0) {
        grid.SimPost("/_sim/lose-next-create", {{"count", 1}});
      }
      crash_once();
    }
  };
  auto scale_to = [&](int replicas) {
    return grid
        .Kubectl("patch pgc crash --type=merge -p '{\"spec\":{\"workers\":{\"replicas\":" +
                 std::to_string(replicas) + "}}}'")
        .exit_code;
  };
  // Creation, with every other create's response lost on the way back.
  crashes(8, 2);
  // Scaling up and down while crashing.
  ASSERT_EQ(scale_to(5), 0);
  crashes(6, 3);
  ASSERT_EQ(scale_to(2), 0);
  crashes(3, 0);
  // Converge without crashes: exactly the wanted instances, registered and Ready.
  grid.SimDelete("/_sim/faults");
  const int survivor = grid.StartOperator();
  ASSERT_TRUE(grid.WaitForCondition("crash", "Ready", "True", seconds(120)))
      << grid.Kubectl("get pgc crash -o yaml").output << grid.OperatorLog(survivor);
  json cluster = grid.Cluster("crash");
  const std::string prefix = "crash-" + cluster["metadata"].value("uid", "").substr(0, 8);
  ASSERT_TRUE(Grid::WaitUntil(
      [&] {
        return LiveNames(grid) == std::map<std::string, int>{{prefix + "-gateway", 1},
                                                             {prefix + "-worker-0", 1},
                                                             {prefix + "-worker-1", 1}};
      },
      seconds(60)))
      << json(grid.Instances()).dump();
  grid.KillOperator(survivor);
  // Deletion, crashing along the way.
  ASSERT_EQ(grid.Kubectl("delete pgc crash --wait=false").exit_code, 0);
  for (int i = 0; i < 4; ++i) crash_once();
  grid.StartOperator();
  // Deletion may wait out the landing window (2 min) of a create whose answer was lost: an
  // instance found by name afterwards is not proof that no other create is still in flight.
  ASSERT_TRUE(Grid::WaitUntil([&] { return grid.Cluster("crash").is_null(); }, seconds(200)));
  EXPECT_TRUE(grid.Instances().empty()) << json(grid.Instances()).dump();
  EXPECT_GE(kills, 20);
  EXPECT_EQ(max_duplicates, 1) << "an instance name existed twice at some point";
}

// Issue 12 item 9: creates that answer slowly (below, then above the client's timeout) and a
// kill -9 right after the gateway's identity is in status. Before the fix every attempt wrote a
// fresh identity and the restarted operator sent a second POST for a name whose first one was
// still in flight: duplicates, and a grid that never became Ready.
void SlowCreatesAndARestart(const std::vector<std::string>& operator_args) {
  Grid grid({/*boot_seconds=*/0.5});
  grid.InstallCrdAndSecret();
  ASSERT_FALSE(grid.SimPost("/_sim/faults", {{"method", "POST"},
                                             {"path", "^/compute/v1/instances$"},
                                             {"delay_ms", 1500},
                                             {"count", 100}})
                   .is_null());
  int max_duplicates = 0;
  auto no_duplicates = [&] {
    for (const auto& [name, count] : LiveNames(grid))
      max_duplicates = std::max(max_duplicates, count);
  };
  const int first = grid.StartOperator(operator_args);
  ASSERT_EQ(grid.Apply(ClusterYaml("slow", 2)).exit_code, 0);
  ASSERT_TRUE(Grid::WaitUntil(
      [&] {
        no_duplicates();
        const json gateway = StatusOf(grid.Cluster("slow")).value("gateway", json::object());
        return gateway.is_object() && !gateway.value("sshHostKey", "").empty();
      },
      seconds(60)));
  std::this_thread::sleep_for(milliseconds(300));  // the kill point the issue names
  grid.KillOperator(first);
  const int second = grid.StartOperator(operator_args);
  EXPECT_TRUE(Grid::WaitUntil(
      [&] {
        no_duplicates();
        return StatusOf(grid.Cluster("slow")).value("phase", "") == "Ready";
      },
      seconds(150)))
      << grid.Kubectl("get pgc slow -o yaml").output << grid.OperatorLog(second);
  no_duplicates();
  EXPECT_EQ(max_duplicates, 1) << "an instance name existed twice at some point";
  EXPECT_EQ(LiveNames(grid).size(), 3u) << json(grid.Instances()).dump();
}

TEST(CrashSafetyTest, SlowCreatesBelowTheClientTimeoutAndAKillNeverDuplicate) {
  SlowCreatesAndARestart({});
}

TEST(CrashSafetyTest, CreatesThatTimeOutAndLandLaterNeverDuplicate) {
  SlowCreatesAndARestart({"--genesis-request-timeout=1s"});
}

}  // namespace
}  // namespace pygrid::e2e
