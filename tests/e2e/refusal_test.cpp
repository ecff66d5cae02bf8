// End to end: a token the real Genesis simulator rejects becomes a condition, and replacing the
// Secret brings the grid up through the operator's Secret watch (the wiring of cli/manager.cpp;
// the reconciler's rules for quota, rejected and malformed tokens are in
// tests/unit/controller/reconciler_test.cpp).
#include <gtest/gtest.h>

#include "e2e/grid_fixture.h"

namespace pygrid::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;

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
  EXPECT_EQ(grid.Condition("token", "CredentialsValid").value("reason", ""), "TokenRejected");
  EXPECT_EQ(grid.CountRequests("POST", "/compute/v1/instances"), 0);
  // Replacing the token triggers a reconcile through the Secret watch.
  ASSERT_EQ(
      grid.Kubectl(std::string("create secret generic genesis-credentials --from-literal=token=") +
                   kGenesisToken + " --dry-run=client -o yaml | KUBECONFIG=" + grid.kubeconfig() +
                   " kubectl apply -f -")
          .exit_code,
      0);
  EXPECT_TRUE(grid.WaitForCondition("token", "Ready", "True", seconds(90))) << grid.OperatorLog(0);
  EXPECT_EQ(grid.Condition("token", "CredentialsValid").value("reason", ""), "TokenAccepted");
  EXPECT_EQ(grid.AllOperatorLogs().find("wrong-token"), std::string::npos)
      << "a token reached the log";
}

}  // namespace
}  // namespace pygrid::e2e
