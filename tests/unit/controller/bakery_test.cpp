// Bakery tables: the real Bakery and CloudAccounts over the in-memory fake cloud and a fake
// clock. A "restart" is a new Bakery and CloudAccounts over the same fake cloud (nothing of the
// old process's memory survives).
#include "controller/bakery.h"

#include <gtest/gtest.h>

#include <memory>

#include "api/defaults.h"
#include "observability/metrics.h"
#include "unit/cloud/fake_cloud_provider.h"
#include "unit/controller/sim_world.h"

namespace pygrid::controller {
namespace {

using cloud::testing::FakeCloudProvider;

constexpr char kToken[] = "token-a";

api::ClusterSpec Spec() {
  api::ClusterSpec spec;
  spec.credentials_secret_ref.name = "genesis";
  api::ApplyDefaults(spec);
  return spec;
}

// One operator process: its accounts and its bakery, over the shared fake cloud.
struct Process {
  Process(FakeCloudProvider& cloud, const FakeClock& clock, std::vector<BakeWish>& wishes)
      : clouds([&cloud](const std::string&) { return testing::Forward(cloud); }, clock,
               {std::chrono::seconds(0), std::chrono::minutes(10), std::chrono::minutes(10)}),
        bakery(
            clouds, clock, [&wishes] { return wishes; }, Options(), &metrics) {}
  static BakeryOptions Options() {
    BakeryOptions options;
    options.jitter_seed = 7;
    return options;
  }
  // The exposition line of `series` (e.g. `pygrid_bakes_total{result="failed"}`), "" if none.
  std::string Metric(const std::string& series) const {
    const std::string text = metrics.Serialize();
    const size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return "";
    return text.substr(at + 1, text.find('\n', at + 1) - at - 1);
  }
  observability::Metrics metrics;
  CloudAccounts clouds;
  Bakery bakery;
};

class BakeryTest : public ::testing::Test {
 protected:
  BakeryTest() {
    cloud.AddImage({"img-1", "Ubuntu 22.04", "base-os", "ubuntu-22.04", {"ARC-IS-HAF-1"}, ""});
    key = BakeKeyFor(spec, "img-1");
    wishes = {{kToken, key, spec}};
    process = std::make_unique<Process>(cloud, clock, wishes);
  }
  void Restart() { process = std::make_unique<Process>(cloud, clock, wishes); }
  Bakery& bakery() { return process->bakery; }
  std::vector<cloud::Instance> Builders() const {
    std::vector<cloud::Instance> out;
    for (const cloud::Instance& i : cloud.instances()) {
      if (i.name == BuilderName(BakeName(key)) && i.status != "deleting") out.push_back(i);
    }
    return out;
  }
  std::optional<std::string> Prepared() { return bakery().Prepared(kToken, key); }

  FakeClock clock;
  FakeCloudProvider cloud;
  api::ClusterSpec spec = Spec();
  BakeKey key;
  std::vector<BakeWish> wishes;
  std::unique_ptr<Process> process;
};

TEST(BakeNameTest, DeterministicPerKeyAndDifferentForAnyPartOfIt) {
  const BakeKey key{"ARC-IS-HAF-1", "img-1", true, {"a:1", "b:1"}};
  EXPECT_EQ(BakeName(key), BakeName(key));
  EXPECT_EQ(BakeName(key).rfind(kBakePrefix, 0), 0u);
  EXPECT_EQ(BakeName(key).size(), std::string(kBakePrefix).size() + 12);
  for (BakeKey other : {BakeKey{"NORD-NO-KRS-1", "img-1", true, {"a:1", "b:1"}},
                        BakeKey{"ARC-IS-HAF-1", "img-2", true, {"a:1", "b:1"}},
                        BakeKey{"ARC-IS-HAF-1", "img-1", false, {"a:1", "b:1"}},
                        BakeKey{"ARC-IS-HAF-1", "img-1", true, {"a:1", "b:2"}}}) {
    EXPECT_NE(BakeName(other), BakeName(key));
  }
  EXPECT_LE(BuilderName(BakeName(key)).size(), 63u) << "a hostname";
}

TEST_F(BakeryTest, OneBuilderForEveryGridWithTheSameKeyAndNoneTwice) {
  api::ClusterSpec other = spec;
  other.workers.replicas = 7;  // another grid, same key
  wishes.push_back({kToken, BakeKeyFor(other, "img-1"), other});
  EXPECT_TRUE(bakery().Tick()) << "a bake is in progress";
  ASSERT_EQ(cloud.Calls("CreateInstance"), 1);
  const cloud::CreateInstanceRequest request = cloud.last_create();
  EXPECT_EQ(request.name, BuilderName(BakeName(key)));
  EXPECT_EQ(request.image, "img-1");
  EXPECT_EQ(request.region, spec.region);
  EXPECT_EQ(request.type, spec.workers.instance_type);
  EXPECT_NE(request.startup_script.find("power_state"), std::string::npos);
  EXPECT_EQ(request.startup_script.find("pygrid-start"), std::string::npos) << "starts nothing";
  EXPECT_FALSE(Prepared()) << "creates use the base image while it bakes";
  for (int i = 0; i < 3; ++i) bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateInstance"), 1);
  EXPECT_EQ(cloud.Calls("CreateSnapshot"), 0) << "not before the builder shut itself off";
}

TEST_F(BakeryTest, SnapshotOfTheShutOffBuilderThenBuilderDeletedOnceAvailable) {
  bakery().Tick();
  ASSERT_EQ(Builders().size(), 1u);
  const std::string builder = Builders()[0].id;
  cloud.SetStatus(builder, "active");
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateSnapshot"), 0);
  cloud.SetStatus(builder, "shutoff");
  bakery().Tick();
  ASSERT_EQ(cloud.snapshots().size(), 1u);
  const cloud::Snapshot snapshot = cloud.snapshots()[0];
  EXPECT_EQ(snapshot.name, BakeName(key));
  EXPECT_EQ(snapshot.resource_id, builder);
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateSnapshot"), 1) << "one snapshot, however many passes";
  EXPECT_EQ(Builders().size(), 1u) << "the builder stays while its snapshot is being taken";
  EXPECT_FALSE(Prepared());
  cloud.SetSnapshotStatus(snapshot.id, "available");
  EXPECT_FALSE(bakery().Tick()) << "nothing in progress any more";
  EXPECT_EQ(process->Metric("pygrid_bakes_total{result=\"succeeded\"}"),
            "pygrid_bakes_total{result=\"succeeded\"} 1");
  const std::string images =
      "pygrid_prepared_images{account=\"" + CloudAccounts::AccountLabel(kToken) + "\"}";
  EXPECT_EQ(process->Metric(images), images + " 1");
  EXPECT_TRUE(Builders().empty()) << "the builder is deleted";
  EXPECT_EQ(Prepared(), snapshot.id);
  StatusOr<api::ImageStatus> image = ImageForCreates(process->clouds, &bakery(), kToken, spec);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(*image, (api::ImageStatus{snapshot.id, true, true}));
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateInstance"), 1) << "never baked again";
}

TEST_F(BakeryTest, RestartAdoptsTheBuilderInProgressInsteadOfStartingAnother) {
  bakery().Tick();
  ASSERT_EQ(Builders().size(), 1u);
  Restart();
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateInstance"), 1);
  cloud.SetStatus(Builders()[0].id, "shutoff");
  Restart();
  bakery().Tick();
  ASSERT_EQ(cloud.snapshots().size(), 1u);
  Restart();
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateSnapshot"), 1) << "the snapshot in progress is adopted too";
  cloud.SetSnapshotStatus(cloud.snapshots()[0].id, "available");
  Restart();
  EXPECT_FALSE(Prepared()) << "a new process knows nothing before its first pass";
  bakery().Tick();
  EXPECT_EQ(Prepared(), cloud.snapshots()[0].id);
  EXPECT_TRUE(Builders().empty());
  EXPECT_EQ(cloud.Calls("CreateInstance"), 1);
}

TEST_F(BakeryTest, AskingForAKeyNoPassHasSeenWishedNudgesOnce) {
  EXPECT_FALSE(bakery().TakeNudge());
  EXPECT_FALSE(Prepared());
  EXPECT_TRUE(bakery().TakeNudge()) << "a new grid's first create: tick now";
  EXPECT_FALSE(bakery().TakeNudge());
  bakery().Tick();
  EXPECT_FALSE(Prepared());
  EXPECT_FALSE(bakery().TakeNudge()) << "known and baking: no tick beyond the usual ones";
}

TEST_F(BakeryTest, AnAmbiguousBuilderCreateIsLookedUpNotRepeated) {
  cloud.LoseNextCreate();
  bakery().Tick();
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateInstance"), 1);
  EXPECT_EQ(Builders().size(), 1u);
}

TEST_F(BakeryTest, AFailedBuilderIsDeletedAndRetriedWithBackoffNotAtOnce) {
  bakery().Tick();
  cloud.SetStatus(Builders()[0].id, "error");
  bakery().Tick();
  EXPECT_TRUE(Builders().empty()) << "a failed builder is not left behind";
  EXPECT_EQ(process->Metric("pygrid_bakes_total{result=\"failed\"}"),
            "pygrid_bakes_total{result=\"failed\"} 1");
  for (int i = 0; i < 5; ++i) bakery().Tick();
  clock.Advance(std::chrono::seconds(59));
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateInstance"), 1) << "no retry within the first backoff (1 min)";
  clock.Advance(std::chrono::seconds(32));  // past 1 min + up to half of it
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateInstance"), 2);
  // The second failure waits at least twice as long.
  cloud.SetStatus(Builders()[0].id, "error");
  bakery().Tick();
  clock.Advance(std::chrono::seconds(119));
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateInstance"), 2);
  clock.Advance(std::chrono::seconds(62));
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateInstance"), 3);
}

TEST_F(BakeryTest, ARefusedCreateBacksOffToo) {
  cloud.FailNext("CreateInstance", Status::QuotaExceeded("no GPUs left").WithHttpStatus(403));
  bakery().Tick();
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateInstance"), 1);
  clock.Advance(std::chrono::seconds(91));
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateInstance"), 2);
}

TEST_F(BakeryTest, ABuilderThatNeverFinishesTimesOutAndIsDeleted) {
  bakery().Tick();
  cloud.SetStatus(Builders()[0].id, "active");
  clock.Advance(std::chrono::minutes(59));
  bakery().Tick();
  EXPECT_EQ(Builders().size(), 1u);
  clock.Advance(std::chrono::minutes(1));
  bakery().Tick();
  EXPECT_TRUE(Builders().empty());
  EXPECT_FALSE(Prepared());
}

TEST_F(BakeryTest, AFailedSnapshotIsDeletedWithItsBuilderAndRetriedLater) {
  bakery().Tick();
  cloud.SetStatus(Builders()[0].id, "shutoff");
  bakery().Tick();
  cloud.SetSnapshotStatus(cloud.snapshots()[0].id, "error");
  bakery().Tick();
  EXPECT_TRUE(cloud.snapshots().empty());
  EXPECT_TRUE(Builders().empty());
  clock.Advance(std::chrono::minutes(2));
  bakery().Tick();
  EXPECT_EQ(cloud.Calls("CreateInstance"), 2);
}

TEST_F(BakeryTest, ABuilderNoGridWantsAnyMoreIsDeleted) {
  bakery().Tick();
  wishes.clear();  // the grid was deleted, or changed its images
  bakery().Tick();
  EXPECT_TRUE(Builders().empty());
  EXPECT_EQ(cloud.Calls("CreateInstance"), 1);
}

TEST_F(BakeryTest, RetentionDeletesOnlyOwnSnapshotsUnwantedForTheWholePeriod) {
  cloud.AddSnapshot(
      {"snap-old", BakeName(key), "gone", spec.region, "available", "2025-01-01T00:00:00.000Z"});
  cloud.AddSnapshot({"snap-user", "my nvidia+docker", "gone", spec.region, "available",
                     "2025-01-01T00:00:00.000Z"});
  // Wanted: kept however old it is.
  bakery().Tick();
  clock.Advance(std::chrono::hours(24 * 30));
  bakery().Tick();
  ASSERT_EQ(cloud.snapshots().size(), 2u);
  // Unwanted from now on: kept for the retention period, counted from when it was first seen
  // unwanted (a restart counts again from the restart, never less).
  wishes.clear();
  bakery().Tick();
  clock.Advance(std::chrono::hours(24 * 6));
  Restart();
  process->clouds.For(kToken);  // a reconcile of another grid of the account: a known token
  bakery().Tick();
  clock.Advance(std::chrono::hours(24 * 7) - std::chrono::seconds(1));
  bakery().Tick();
  EXPECT_EQ(cloud.snapshots().size(), 2u);
  clock.Advance(std::chrono::seconds(1));
  bakery().Tick();
  ASSERT_EQ(cloud.snapshots().size(), 1u);
  EXPECT_EQ(cloud.snapshots()[0].id, "snap-user") << "a snapshot the operator did not bake";
}

TEST_F(BakeryTest, AWishAgainBeforeTheRetentionEndsKeepsTheSnapshot) {
  cloud.AddSnapshot(
      {"snap-1", BakeName(key), "gone", spec.region, "available", "2026-01-01T00:00:00.000Z"});
  const std::vector<BakeWish> wanted = wishes;
  wishes.clear();
  bakery().Tick();
  clock.Advance(std::chrono::hours(24 * 6));
  wishes = wanted;
  bakery().Tick();
  wishes.clear();
  clock.Advance(std::chrono::hours(24 * 2));
  bakery().Tick();
  EXPECT_EQ(cloud.snapshots().size(), 1u) << "the period starts again after the last wish";
}

TEST_F(BakeryTest, ImageForCreatesFollowsSpecPreparedImage) {
  cloud.AddImage({"snap-own", "my prepared", "snapshot", std::nullopt, {"ARC-IS-HAF-1"}, ""});
  CloudAccounts& clouds = process->clouds;
  api::ClusterSpec none = spec;
  none.prepared_image = api::kPreparedImageNone;
  api::ClusterSpec own = spec;
  own.prepared_image = "my prepared";
  EXPECT_EQ(*ImageForCreates(clouds, &bakery(), kToken, spec),
            (api::ImageStatus{"img-1", false, false}))
      << "auto before the bake: the base image";
  EXPECT_EQ(*ImageForCreates(clouds, nullptr, kToken, spec),
            (api::ImageStatus{"img-1", false, false}))
      << "no bakery: the base image";
  EXPECT_EQ(*ImageForCreates(clouds, &bakery(), kToken, none),
            (api::ImageStatus{"img-1", false, false}));
  EXPECT_EQ(*ImageForCreates(clouds, &bakery(), kToken, own),
            (api::ImageStatus{"snap-own", true, false}))
      << "the user's own image is used as it is, as prepared";
  own.prepared_image = "no such image";
  EXPECT_TRUE(ImageForCreates(clouds, &bakery(), kToken, own).status().IsNotFound());
}

}  // namespace
}  // namespace pygrid::controller
