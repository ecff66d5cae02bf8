// End to end: with two operator processes and leader election, only the leader acts, and the
// standby takes over when the leader stops. (Healing, bad specs and missing credentials are
// reconciler rules: tests/unit/controller/reconciler_test.cpp and simulation_test.cpp.)
#include <gtest/gtest.h>

#include "e2e/grid_fixture.h"

namespace pygrid::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;

TEST(LeaderTest, OnlyTheLeaderActs) {
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
