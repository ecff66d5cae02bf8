#include "controller/cloud_accounts.h"

#include <gtest/gtest.h>

#include <atomic>

#include "unit/cloud/fake_cloud_provider.h"

namespace pygrid::controller {
namespace {

// The fake, plus ListSecurityGroups (the Genesis client has it) with a call counter.
class ListingFake : public cloud::testing::FakeCloudProvider {
 public:
  explicit ListingFake(std::atomic<int>& lists) : lists_(lists) {}
  StatusOr<std::vector<cloud::SecurityGroup>> ListSecurityGroups() override {
    ++lists_;
    return security_groups();
  }

 private:
  std::atomic<int>& lists_;
};

const std::vector<cloud::SecurityRule> kRules = {{"tcp", "ingress", 22, 22},
                                                 {"tcp", "ingress", 5000, 5000}};

struct Fixture {
  FakeClock clock;
  std::atomic<int> lists{0};
  ListingFake* fake = nullptr;
  CloudAccounts accounts{
      [this](const std::string&) {
        auto provider = std::make_unique<ListingFake>(lists);
        fake = provider.get();
        return provider;
      },
      clock,
      {std::chrono::seconds(5), std::chrono::minutes(10), std::chrono::seconds(30)}};
};

TEST(CloudAccountsTest, OneInstanceListServesEveryClusterUntilItAges) {
  Fixture f;
  ASSERT_TRUE(f.accounts.Instances("token").ok());
  ASSERT_TRUE(f.accounts.Instances("token").ok());
  EXPECT_EQ(f.fake->Calls("ListInstances"), 1);
  f.clock.Advance(std::chrono::seconds(6));
  ASSERT_TRUE(f.accounts.Instances("token").ok());
  EXPECT_EQ(f.fake->Calls("ListInstances"), 2);
  f.accounts.Invalidate("token");
  ASSERT_TRUE(f.accounts.Instances("token").ok());
  EXPECT_EQ(f.fake->Calls("ListInstances"), 3);
}

TEST(CloudAccountsTest, SecurityGroupsAreEnsuredFromOneCachedList) {
  Fixture f;
  // 100 clusters with their own groups: one list, one ensure each (not one list each).
  for (int i = 0; i < 100; ++i) {
    StatusOr<cloud::SecurityGroup> group = f.accounts.EnsureSecurityGroup(
        "token", "pygrid-c" + std::to_string(i), "d", "ARC-IS-HAF-1", kRules);
    ASSERT_TRUE(group.ok()) << group.status().ToString();
  }
  EXPECT_EQ(f.lists.load(), 1);
  EXPECT_EQ(f.fake->Calls("EnsureSecurityGroup"), 100);
  // Ensuring an existing group with the same rules (any order) costs no call at all.
  std::vector<cloud::SecurityRule> reversed(kRules.rbegin(), kRules.rend());
  ASSERT_TRUE(
      f.accounts.EnsureSecurityGroup("token", "pygrid-c7", "d", "ARC-IS-HAF-1", reversed).ok());
  EXPECT_EQ(f.fake->Calls("EnsureSecurityGroup"), 100);
  EXPECT_EQ(f.lists.load(), 1);
  // Different rules go to the cloud.
  ASSERT_TRUE(
      f.accounts.EnsureSecurityGroup("token", "pygrid-c7", "d", "ARC-IS-HAF-1", {kRules[0]}).ok());
  EXPECT_EQ(f.fake->Calls("EnsureSecurityGroup"), 101);
  // The list is refreshed once it is older than its maximum age.
  f.clock.Advance(std::chrono::seconds(31));
  ASSERT_TRUE(
      f.accounts.EnsureSecurityGroup("token", "pygrid-c8", "d", "ARC-IS-HAF-1", kRules).ok());
  EXPECT_EQ(f.lists.load(), 2);
}

TEST(CloudAccountsTest, EachTokenHasItsOwnClient) {
  Fixture f;
  cloud::CloudProvider* a = &f.accounts.For("token-a");
  cloud::CloudProvider* b = &f.accounts.For("token-b");
  EXPECT_NE(a, b);
  EXPECT_EQ(a, &f.accounts.For("token-a"));
}

}  // namespace
}  // namespace pygrid::controller
