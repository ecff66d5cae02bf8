// End to end: refusals by the cloud become conditions and events, not hot retry loops, and
// the grid recovers by itself once the cause is fixed.
#include <gtest/gtest.h>

#include <thread>

#include "e2e/grid_fixture.h"

namespace pygrid::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;

std::string ConditionReason(const Grid& grid, const std::string& cluster, const std::string& type) {
  for (const json& condition : StatusOf(grid.Cluster(cluster)).value("conditions", json::array())) {
    if (condition.value("type", "") == type) return condition.value("reason", "");
  }
  return "";
}

TEST(RefusalTest, QuotaExceededIsAConditionThenRecovers) {
  Grid grid;
  grid.InstallCrdAndSecret();
  ASSERT_FALSE(grid.SimPost("/_sim/quota", {{"instances", 2}}).is_null());
  grid.StartOperator();
  ASSERT_EQ(grid.Apply(ClusterYaml("quota", 3)).exit_code, 0);
  ASSERT_TRUE(Grid::WaitUntil(
      [&] { return ConditionReason(grid, "quota", "Ready") == "QuotaExceeded"; }, seconds(60)))
      << grid.Kubectl("get pgc quota -o yaml").output << grid.OperatorLog(0);
  EXPECT_NE(grid.Kubectl("get events -o json").output.find("\"reason\": \"QuotaExceeded\""),
            std::string::npos);
  // No hot loop: over 4 s (less than the 5 s slow retry) no create is attempted.
  const int creates = grid.CountRequests("POST", "/compute/v1/instances");
  std::this_thread::sleep_for(seconds(4));  // observing quiet time, not synchronising
  EXPECT_LE(grid.CountRequests("POST", "/compute/v1/instances"), creates + 1);
  // More quota: the grid completes on the slow retry.
  ASSERT_FALSE(grid.SimPost("/_sim/quota", {{"instances", nullptr}}).is_null());
  EXPECT_TRUE(grid.WaitForCondition("quota", "Ready", "True", seconds(90))) << grid.OperatorLog(0);
}

TEST(RefusalTest, RejectedTokenIsACredentialsConditionThenRecovers) {
  Grid grid;
  grid.InstallCrdAndSecret(/*secret=*/false);
  ASSERT_EQ(
      grid.Kubectl("create secret generic genesis-credentials --from-literal=token=wrong-token")
          .exit_code,
      0);
  grid.StartOperator();
  ASSERT_EQ(grid.Apply(ClusterYaml("token", 1)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("token", "CredentialsValid", "False", seconds(60)))
      << grid.OperatorLog(0);
  EXPECT_EQ(ConditionReason(grid, "token", "CredentialsValid"), "TokenRejected");
  EXPECT_EQ(grid.CountRequests("POST", "/compute/v1/instances"), 0);
  // Replacing the token triggers a reconcile through the Secret watch.
  ASSERT_EQ(
      grid.Kubectl(std::string("create secret generic genesis-credentials --from-literal=token=") +
                   kGenesisToken + " --dry-run=client -o yaml | KUBECONFIG=" + grid.kubeconfig() +
                   " kubectl apply -f -")
          .exit_code,
      0);
  EXPECT_TRUE(grid.WaitForCondition("token", "Ready", "True", seconds(90))) << grid.OperatorLog(0);
  EXPECT_EQ(ConditionReason(grid, "token", "CredentialsValid"), "TokenAccepted");
  EXPECT_EQ(grid.AllOperatorLogs().find("wrong-token"), std::string::npos)
      << "a token reached the log";
}

}  // namespace
}  // namespace pygrid::e2e
