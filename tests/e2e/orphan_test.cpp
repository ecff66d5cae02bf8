// End to end: a grid orphaned by removing its finalizer while the operator is down is reported
// when the operator comes back, and deleted with --orphan-instances=delete after the grace
// period — found through the operator's token copy, since no cluster uses the token any more —
// and the token copy is dropped once nothing of the grid is left.
#include <gtest/gtest.h>

#include "e2e/grid_fixture.h"

namespace pygrid::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;

TEST(OrphanTest, AnOrphanedGridIsReportedThenDeletedAfterTheGracePeriod) {
  Grid grid({/*boot_seconds=*/0.5});
  grid.InstallCrdAndSecret();
  const std::vector<std::string> flags = {"--poll-interval=1s", "--resync-interval=2s",
                                          "--orphan-instances=delete", "--orphan-grace-period=5s"};
  const int first = grid.StartOperator(flags);
  ASSERT_EQ(grid.Apply(ClusterYaml("lost", 1)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("lost", "Ready", "True", seconds(120)))
      << grid.AllOperatorLogs();
  grid.KillOperator(first);
  // The wrong uninstall order: the finalizer is removed by hand while the operator is down.
  ASSERT_EQ(grid.Kubectl("patch pgc lost --type=merge -p '{\"metadata\":{\"finalizers\":null}}'")
                .exit_code,
            0);
  ASSERT_EQ(grid.Kubectl("delete pgc lost --wait=false").exit_code, 0);
  ASSERT_TRUE(Grid::WaitUntil([&] { return grid.Cluster("lost").is_null(); }, seconds(10)));
  ASSERT_EQ(grid.Instances().size(), 2u) << "the instances are still billed";
  ASSERT_NE(grid.Kubectl("get secrets -n default -o name").output.find("pygrid-credentials-"),
            std::string::npos)
      << "the token copy outlives the cluster";
  const int second = grid.StartOperator(flags);
  EXPECT_TRUE(Grid::WaitUntil(
      [&] {
        return grid.OperatorLog(second).find("orphaned instance: its PyGridCluster is gone") !=
               std::string::npos;
      },
      seconds(30)))
      << grid.OperatorLog(second);
  EXPECT_EQ(grid.OperatorLog(second).find("deleted orphaned instance"), std::string::npos)
      << "not before the grace period";
  EXPECT_TRUE(Grid::WaitUntil([&] { return grid.Instances().empty(); }, seconds(60)))
      << json(grid.Instances()).dump() << grid.OperatorLog(second);
  EXPECT_NE(grid.OperatorLog(second).find("deleted orphaned instance"), std::string::npos);
  // Nothing needs the token copy any more: the Secret holding the token goes too.
  EXPECT_TRUE(Grid::WaitUntil(
      [&] {
        return grid.Kubectl("get secrets -n default -o name").output.find("pygrid-credentials-") ==
               std::string::npos;
      },
      seconds(30)))
      << grid.Kubectl("get secrets -n default -o name").output << grid.OperatorLog(second);
}

}  // namespace
}  // namespace pygrid::e2e
