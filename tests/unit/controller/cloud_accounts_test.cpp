#include "controller/cloud_accounts.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "unit/cloud/fake_cloud_provider.h"

namespace pygrid::controller {
namespace {

const std::vector<cloud::SecurityRule> kRules = {{"tcp", "ingress", 22, 22},
                                                 {"tcp", "ingress", 5000, 5000}};

// CloudAccounts whose every account is a `Provider` the test can reach through `fake`.
template <typename Provider>
struct FixtureWith {
  FakeClock clock;
  Provider* fake = nullptr;
  CloudAccounts accounts{
      [this](const std::string&) {
        auto provider = std::make_unique<Provider>();
        fake = provider.get();
        return provider;
      },
      clock,
      {std::chrono::seconds(5), std::chrono::minutes(10), std::chrono::minutes(10)}};
};
using Fixture = FixtureWith<cloud::testing::FakeCloudProvider>;

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

TEST(CloudAccountsTest, OwnAnsweredCreatesAndDeletesAreWrittenIntoTheCachedList) {
  Fixture f;
  ASSERT_TRUE(f.accounts.Instances("token").ok());
  StatusOr<cloud::Instance> created =
      f.accounts.For("token").CreateInstance({"w", "", "t", "img", {}, {}, "", ""});
  ASSERT_TRUE(created.ok());
  f.accounts.RecordCreated("token", *created);
  StatusOr<std::vector<cloud::Instance>> seen = f.accounts.Instances("token");
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 1u) << "the cache never hides this process's own create";
  EXPECT_EQ(f.fake->Calls("ListInstances"), 1) << "and shows it without listing again";
  f.accounts.RecordCreated("token", *created);  // twice (a list raced it): still one
  f.accounts.RecordDeleting("token", created->id);
  seen = f.accounts.Instances("token");
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0].status, "deleting");
  EXPECT_EQ(f.fake->Calls("ListInstances"), 1);
  f.accounts.Invalidate("token");  // an outcome it does not know: list again
  ASSERT_TRUE(f.accounts.Instances("token").ok());
  EXPECT_EQ(f.fake->Calls("ListInstances"), 2);
}

// A fake whose instance list blocks until released, to hold a list call in flight.
class HeldList : public cloud::testing::FakeCloudProvider {
 public:
  StatusOr<std::vector<cloud::Instance>> ListInstances() override {
    StatusOr<std::vector<cloud::Instance>> listed = FakeCloudProvider::ListInstances();
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (hold_) {
        in_flight_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !hold_; });
        in_flight_ = false;
      }
    }
    return listed;  // what the cloud had when the list was read
  }
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  void AwaitInFlight() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return in_flight_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  bool in_flight_ = false;
};

using HeldFixture = FixtureWith<HeldList>;

// A round's snapshot is what the cloud showed when the round read it: creates and deletes
// recorded afterwards go into the next snapshot, never into one a round still holds.
TEST(CloudAccountsTest, ASnapshotHeldByARoundNeverChangesUnderIt) {
  Fixture f;
  StatusOr<CloudAccounts::InstanceList> empty = f.accounts.InstanceSnapshot("token");
  ASSERT_TRUE(empty.ok());
  StatusOr<cloud::Instance> created =
      f.accounts.For("token").CreateInstance({"w", "", "t", "img", {}, {}, "", ""});
  ASSERT_TRUE(created.ok());
  f.accounts.RecordCreated("token", *created);
  EXPECT_TRUE((*empty)->empty());
  StatusOr<CloudAccounts::InstanceList> with_it = f.accounts.InstanceSnapshot("token");
  ASSERT_TRUE(with_it.ok());
  ASSERT_EQ((*with_it)->size(), 1u);
  f.accounts.RecordDeleting("token", created->id);
  EXPECT_EQ((*with_it)->front().status, created->status);
  StatusOr<CloudAccounts::InstanceList> deleting = f.accounts.InstanceSnapshot("token");
  ASSERT_TRUE(deleting.ok());
  EXPECT_EQ((*deleting)->front().status, "deleting");
  EXPECT_EQ(f.fake->Calls("ListInstances"), 1);
}

TEST(CloudAccountsTest, AListInFlightNeitherBlocksOtherRoundsNorHidesOwnCreates) {
  HeldFixture f;
  FakeClock& clock = f.clock;
  CloudAccounts& accounts = f.accounts;
  ASSERT_TRUE(accounts.Instances("token").ok());
  clock.Advance(std::chrono::seconds(6));
  f.fake->Hold();
  std::thread reader([&] { ASSERT_TRUE(accounts.Instances("token").ok()); });
  f.fake->AwaitInFlight();
  // Meanwhile other rounds get the previous list at once, and this process creates.
  ASSERT_TRUE(accounts.Instances("token").ok());
  StatusOr<cloud::Instance> created = f.fake->CreateInstance({"w", "", "t", "img", {}, {}, "", ""});
  ASSERT_TRUE(created.ok());
  accounts.RecordCreated("token", *created);
  EXPECT_EQ(accounts.Instances("token")->size(), 1u);
  f.fake->Release();
  reader.join();
  // The list read before the create landed, and still shows it.
  StatusOr<std::vector<cloud::Instance>> seen = accounts.Instances("token");
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0].id, created->id);
  EXPECT_EQ(f.fake->Calls("ListInstances"), 2);
}

// At 1,000 instances a list is 10 pages and can take longer than the list's maximum age: the
// rounds that come while the next one is read serve the last list for as long as a list takes,
// instead of each waiting for the list in flight.
TEST(CloudAccountsTest, ASlowListStillNeverBlocksTheRoundsThatComeWhileItIsRead) {
  HeldFixture f;  // lists at most 5 s old
  f.accounts.For("token");
  f.fake->Hold();
  std::thread first([&] { ASSERT_TRUE(f.accounts.Instances("token").ok()); });
  f.fake->AwaitInFlight();
  f.clock.Advance(std::chrono::seconds(4));  // the list takes 4 s
  f.fake->Release();
  first.join();
  f.clock.Advance(std::chrono::seconds(6));  // 10 s since it was asked for
  f.fake->Hold();
  std::thread refresher([&] { ASSERT_TRUE(f.accounts.Instances("token").ok()); });
  f.fake->AwaitInFlight();
  // 10 s is twice the age but within twice the age plus the 4 s a list takes.
  auto served = std::async(std::launch::async, [&] { return f.accounts.Instances("token").ok(); });
  const bool answered = served.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  f.fake->Release();
  refresher.join();
  EXPECT_TRUE(answered) << "the round waited for the list in flight";
  EXPECT_TRUE(served.get());
  EXPECT_EQ(f.fake->Calls("ListInstances"), 2);
}

TEST(CloudAccountsTest, AnUnknownOutcomeDuringAListMakesTheNextReadListAgain) {
  HeldFixture f;
  CloudAccounts& accounts = f.accounts;
  accounts.For("token");
  f.fake->Hold();
  std::thread reader([&] { ASSERT_TRUE(accounts.Instances("token").ok()); });
  f.fake->AwaitInFlight();
  accounts.Invalidate("token");  // e.g. a create whose answer was lost
  f.fake->Release();
  reader.join();
  ASSERT_TRUE(accounts.Instances("token").ok());
  EXPECT_EQ(f.fake->Calls("ListInstances"), 2) << "the list in flight may predate it";
}

TEST(CloudAccountsTest, SharedGroupIsCreatedOnceAndNeverWaitedFor) {
  Fixture f;
  // 100 clusters with the same ports: one list and one create, and nobody waits for it.
  std::string id;
  for (int i = 0; i < 100; ++i) {
    StatusOr<cloud::SecurityGroup> group =
        f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "ARC-IS-HAF-1", kRules);
    ASSERT_TRUE(group.ok()) << group.status().ToString();
    EXPECT_EQ(group->status, "creating");
    id = group->id;
  }
  EXPECT_EQ(f.fake->Calls("ListSecurityGroups"), 1);
  EXPECT_EQ(f.fake->Calls("CreateSecurityGroup"), 1);
  // While it is pending the list is read again at most every instances_max_age, for everyone.
  ASSERT_TRUE(f.fake->SetGroupStatus(id, "created"));
  f.clock.Advance(std::chrono::seconds(2));
  EXPECT_EQ(f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", kRules)->status,
            "creating");
  f.clock.Advance(std::chrono::seconds(4));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", kRules)->status,
              "created");
  }
  EXPECT_EQ(f.fake->Calls("ListSecurityGroups"), 2);
  // Once created it is trusted for security_groups_max_age: a steady account lists no groups.
  std::vector<cloud::SecurityRule> reversed(kRules.rbegin(), kRules.rend());
  f.clock.Advance(std::chrono::minutes(9));
  ASSERT_TRUE(f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", reversed).ok());
  EXPECT_EQ(f.fake->Calls("ListSecurityGroups"), 2);
  EXPECT_EQ(f.fake->Calls("UpdateSecurityGroup"), 0) << "same rules in another order";
  // Different rules replace the group's rules (it is the operator's).
  StatusOr<cloud::SecurityGroup> updated =
      f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", {kRules[0]});
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->status, "updating");
  EXPECT_EQ(f.fake->Calls("UpdateSecurityGroup"), 1);
  EXPECT_EQ(f.fake->Calls("CreateSecurityGroup"), 1);
}

TEST(CloudAccountsTest, AFailedGroupCreateIsLookedUpBeforeCreatingAgain) {
  Fixture f;
  f.accounts.For("token");
  f.fake->FailNext("CreateSecurityGroup", Status::Unavailable("lost answer"));
  EXPECT_TRUE(f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", kRules)
                  .status()
                  .IsUnavailable());
  // The lost create did land: the cloud has the group.
  StatusOr<cloud::SecurityGroup> landed =
      f.fake->CreateSecurityGroup("pygrid-ports-22", "d", "", kRules);
  ASSERT_TRUE(landed.ok());
  const int lists = f.fake->Calls("ListSecurityGroups");
  StatusOr<cloud::SecurityGroup> found =
      f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", kRules);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->id, landed->id);
  EXPECT_EQ(f.fake->Calls("ListSecurityGroups"), lists + 1) << "listed again";
  EXPECT_EQ(f.fake->Calls("CreateSecurityGroup"), 2) << "the failed one and the landed one only";
}

TEST(CloudAccountsTest, GroupInStatusErrorIsReportedNotUsed) {
  Fixture f;
  StatusOr<cloud::SecurityGroup> group =
      f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", kRules);
  ASSERT_TRUE(f.fake->SetGroupStatus(group->id, "error"));
  f.clock.Advance(std::chrono::seconds(6));
  StatusOr<cloud::SecurityGroup> again =
      f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", kRules);
  EXPECT_TRUE(again.status().IsUnavailable());
  EXPECT_FALSE(again.status().retryable());
}

TEST(CloudAccountsTest, GoneGroupIsFoundByAFreshListAndMadeAgain) {
  Fixture f;
  StatusOr<cloud::SecurityGroup> group =
      f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", kRules);
  ASSERT_TRUE(f.fake->SetGroupStatus(group->id, "created"));
  EXPECT_EQ(*f.accounts.SecurityGroupGone("token", group->id), false);
  ASSERT_TRUE(f.fake->DeleteSecurityGroup(group->id).ok());
  EXPECT_EQ(*f.accounts.SecurityGroupGone("token", group->id), true);
  StatusOr<cloud::SecurityGroup> again =
      f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", kRules);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->id, group->id);
  EXPECT_EQ(f.fake->Calls("CreateSecurityGroup"), 2);
}

TEST(CloudAccountsTest, AGroupBeingDeletedIsWaitedForThenMadeAgain) {
  Fixture f;
  StatusOr<cloud::SecurityGroup> group =
      f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", kRules);
  ASSERT_TRUE(f.fake->SetGroupStatus(group->id, "deleting"));  // the last grid took it along
  f.clock.Advance(std::chrono::seconds(6));
  StatusOr<cloud::SecurityGroup> waiting =
      f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", kRules);
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(waiting->status, "deleting") << "not usable, and its name is not free yet";
  EXPECT_EQ(f.fake->Calls("CreateSecurityGroup"), 1);
  ASSERT_TRUE(f.fake->DeleteSecurityGroup(group->id).ok());
  f.clock.Advance(std::chrono::seconds(6));
  StatusOr<cloud::SecurityGroup> again =
      f.accounts.EnsureSecurityGroup("token", "pygrid-ports-22", "d", "", kRules);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->id, group->id);
  EXPECT_EQ(f.fake->Calls("CreateSecurityGroup"), 2);
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
