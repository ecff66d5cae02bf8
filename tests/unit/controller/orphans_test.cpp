// OrphanCollector against the simulated cloud: what counts as an orphan, the report, the
// grace period, and deletion only with the delete policy.
#include "controller/orphans.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "controller/sim_world.h"

namespace pygrid::controller::testing {
namespace {

using nlohmann::json;

json ClusterWith(const std::string& name, const std::string& uid) {
  return {{"metadata", {{"name", name}, {"uid", uid}}}};
}

class OrphanTest : public ::testing::Test {
 protected:
  FakeClock clock;
  SimCloud cloud{clock};
  CloudAccounts clouds{[this](const std::string&) { return Forward(cloud); }, clock};
  std::vector<json> clusters;
  std::map<std::string, int> published;

  std::string Create(const std::string& name) {
    cloud::CreateInstanceRequest request;
    request.name = name;
    StatusOr<cloud::Instance> created = cloud.CreateInstance(request);
    EXPECT_TRUE(created.ok());
    return created.ok() ? created->id : "";
  }
  OrphanCollector Collector(OrphanPolicy policy) {
    (void)clouds.For("token-a");  // the operator holds this account's token
    return OrphanCollector(
        clouds, [this] { return clusters; }, clock, {policy, std::chrono::hours(1)},
        [this](const std::string& account, int n) { published[account] = n; });
  }
};

TEST(ParseOwnedNameTest, OnlyTheOperatorsPattern) {
  std::string cluster, uid8;
  EXPECT_TRUE(ParseOwnedName("mnist-0a1b2c3d-gateway", &cluster, &uid8));
  EXPECT_EQ(cluster, "mnist");
  EXPECT_EQ(uid8, "0a1b2c3d");
  EXPECT_TRUE(ParseOwnedName("my-grid-0a1b2c3d-worker-12", &cluster, &uid8));
  EXPECT_EQ(cluster, "my-grid");
  EXPECT_FALSE(ParseOwnedName("web-server-1", &cluster, &uid8));
  EXPECT_FALSE(ParseOwnedName("mnist-XYZ12345-gateway", &cluster, &uid8));
  EXPECT_FALSE(ParseOwnedName("mnist-0a1b2c3d-worker-x", &cluster, &uid8));
  EXPECT_FALSE(ParseOwnedName("-0a1b2c3d-gateway", &cluster, &uid8));
}

TEST_F(OrphanTest, ReportsOnlyInstancesOfClustersThatAreGone) {
  clusters = {ClusterWith("mnist", "0a1b2c3d-1111")};
  Create("mnist-0a1b2c3d-gateway");                            // owned
  const std::string lost = Create("cifar-99887766-worker-0");  // cluster gone
  Create("someone-elses-vm");                                  // not the operator's pattern
  OrphanCollector orphans = Collector(OrphanPolicy::kReport);
  std::vector<Orphan> found = orphans.Sweep();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id, lost);
  EXPECT_FALSE(found[0].deleted);
  const std::string account = CloudAccounts::AccountLabel("token-a");
  EXPECT_EQ(published[account], 1);
  EXPECT_EQ(account.find("token"), std::string::npos) << "the label reveals nothing";
  clock.Advance(std::chrono::hours(5));
  EXPECT_FALSE(orphans.Sweep()[0].deleted) << "the report policy never deletes";
  EXPECT_EQ(cloud.DeletesSent(lost), 0);
}

TEST_F(OrphanTest, DeletePolicyWaitsOutTheGracePeriod) {
  const std::string lost = Create("cifar-99887766-gateway");
  OrphanCollector orphans = Collector(OrphanPolicy::kDelete);
  EXPECT_FALSE(orphans.Sweep()[0].deleted);
  clock.Advance(std::chrono::minutes(59));
  EXPECT_FALSE(orphans.Sweep()[0].deleted) << "still inside the grace period";
  clock.Advance(std::chrono::minutes(2));
  std::vector<Orphan> found = orphans.Sweep();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found[0].deleted);
  EXPECT_EQ(cloud.DeletesSent(lost), 1);
  clock.Advance(std::chrono::seconds(10));  // gone from the list once deleted
  EXPECT_TRUE(orphans.Sweep().empty());
  EXPECT_EQ(published[CloudAccounts::AccountLabel("token-a")], 0);
}

TEST_F(OrphanTest, AClusterThatReappearsIsNoLongerAnOrphan) {
  Create("cifar-99887766-gateway");
  OrphanCollector orphans = Collector(OrphanPolicy::kDelete);
  EXPECT_EQ(orphans.Sweep().size(), 1u);
  clusters = {ClusterWith("cifar", "99887766-2222")};  // e.g. the watch caught up
  clock.Advance(std::chrono::hours(2));
  EXPECT_TRUE(orphans.Sweep().empty());
  EXPECT_EQ(cloud.DeletesSent(cloud.all()[0].instance.id), 0);
}

// The token copy of a cluster that is gone is dropped once its account holds nothing of that
// cluster; it stays while the cluster exists, while orphans of it are left (it is what can
// delete them), and while its account cannot be listed.
TEST_F(OrphanTest, TokenCopyOfAGoneClusterIsDroppedOnceNothingOfItIsLeft) {
  std::vector<OrphanCollector::TokenCopy> copies = {{"0a1b2c3d-1111", "token-a"},
                                                    {"99887766-2222", "token-a"}};
  std::vector<std::string> dropped;
  clusters = {ClusterWith("mnist", "0a1b2c3d-1111")};
  const std::string orphan = Create("cifar-99887766-gateway");
  OrphanCollector orphans(
      clouds, [this] { return clusters; }, clock, {OrphanPolicy::kDelete, std::chrono::hours(1)},
      nullptr, [&] { return copies; },
      [&](const std::string& uid) {
        dropped.push_back(uid);
        return Status::Ok();
      });
  (void)orphans.Sweep();
  EXPECT_TRUE(dropped.empty()) << "cifar's orphan is left, and mnist exists";
  cloud.Schedule(CloudFault::kListUnavailable);
  clouds.Invalidate("token-a");
  clock.Advance(std::chrono::hours(2));
  (void)orphans.Sweep();  // the list fails: the orphan is neither deleted nor the copy dropped
  EXPECT_TRUE(dropped.empty());
  EXPECT_EQ(cloud.DeletesSent(orphan), 0);
  // An account that could not be listed forgets when its orphans were first seen (unknown is
  // not "still orphaned"): the grace period starts again.
  (void)orphans.Sweep();
  clock.Advance(std::chrono::hours(2));
  (void)orphans.Sweep();  // past the grace period: the orphan is deleted
  EXPECT_EQ(cloud.DeletesSent(orphan), 1);
  clock.Advance(std::chrono::seconds(10));
  clouds.Invalidate("token-a");
  (void)orphans.Sweep();
  EXPECT_EQ(dropped, (std::vector<std::string>{"99887766-2222"}));
}

}  // namespace
}  // namespace pygrid::controller::testing
