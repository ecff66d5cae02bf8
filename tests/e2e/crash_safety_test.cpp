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
  // Creation, with every other create's response lost on the way back.
  for (int i = 0; i < 8; ++i) {
    if (i % 2 == 0) grid.SimPost("/_sim/lose-next-create", {{"count", 1}});
    crash_once();
  }
  // Scaling up and down while crashing.
  ASSERT_EQ(
      grid.Kubectl("patch pgc crash --type=merge -p '{\"spec\":{\"workers\":{\"replicas\":5}}}'")
          .exit_code,
      0);
  for (int i = 0; i < 6; ++i) {
    if (i % 3 == 0) grid.SimPost("/_sim/lose-next-create", {{"count", 1}});
    crash_once();
  }
  ASSERT_EQ(
      grid.Kubectl("patch pgc crash --type=merge -p '{\"spec\":{\"workers\":{\"replicas\":2}}}'")
          .exit_code,
      0);
  for (int i = 0; i < 3; ++i) crash_once();
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
  ASSERT_TRUE(Grid::WaitUntil([&] { return grid.Cluster("crash").is_null(); }, seconds(60)));
  EXPECT_TRUE(grid.Instances().empty()) << json(grid.Instances()).dump();
  EXPECT_GE(kills, 20);
  EXPECT_EQ(max_duplicates, 1) << "an instance name existed twice at some point";
}

}  // namespace
}  // namespace pygrid::e2e
