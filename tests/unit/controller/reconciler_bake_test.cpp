// Reconciler tables for prepared images (spec.preparedImage): which image creates boot from,
// what their user data leaves out, status.image, the event, and that a bake becoming available
// replaces nothing. The bakery itself is faked (its own tables are bakery_test.cpp).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "api/defaults.h"
#include "api/json.h"
#include "controller/bakery.h"
#include "controller/sim_operator.h"

namespace pygrid::controller::testing {
namespace {

using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kKey[] = "default/mnist";
constexpr char kBaseImage[] = "img-ubuntu-2204";  // SimCloud's "Ubuntu 22.04"

// A bakery whose snapshots appear when the test says so.
class FakePreparedImages final : public PreparedImages {
 public:
  std::optional<std::string> Prepared(const std::string& token, const BakeKey& key) const override {
    auto it = available.find(token + "/" + BakeName(key));
    if (it == available.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::string, std::string> available;  // token/bake name -> snapshot id
};

// The key of ClusterObject's grids, as the reconciler derives it.
BakeKey DefaultKey() {
  StatusOr<api::PyGridCluster> cluster = api::ClusterFromJson(ClusterObject("mnist", 1));
  api::ApplyDefaults(cluster->spec);
  return BakeKeyFor(cluster->spec, kBaseImage);
}

class ReconcilerBakeTest : public ::testing::Test {
 protected:
  ReconcilerBakeTest() {
    op.prepared_images = &bakery;
    op.Crash();  // the process restarts with it (it had none)
  }
  void SetUp() override { op.ApplySecret("default", "creds", "token-1"); }
  std::map<std::string, std::string> Hashes() {
    std::map<std::string, std::string> out;
    const json status = (*op.Cluster(kKey))["status"];
    out[status["gateway"]["name"]] = status["gateway"]["specHash"];
    for (const json& w : status["workers"]) out[w["name"]] = w["specHash"];
    return out;
  }
  std::set<std::string> Ids() {
    std::set<std::string> ids;
    for (const SimInstance* sim : op.Instances(kKey)) ids.insert(sim->instance.id);
    return ids;
  }

  FakePreparedImages bakery;
  SimOperator op{3};
};

TEST_F(ReconcilerBakeTest, CreatesSwitchToTheBakedImageOnceAvailableAndNothingIsReplaced) {
  op.ApplyCluster(ClusterObject("mnist", 2));
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  for (const SimInstance* sim : op.Instances(kKey)) {
    EXPECT_EQ(sim->instance.image.id, kBaseImage) << "the first grid does not wait for a bake";
    EXPECT_NE(sim->user_data.find("packages:"), std::string::npos);
  }
  EXPECT_EQ((*op.Cluster(kKey))["status"]["image"],
            (json{{"id", kBaseImage}, {"prepared", false}, {"baked", false}}));
  const std::map<std::string, std::string> hashes = Hashes();
  const std::set<std::string> ids = Ids();

  bakery.available["token-1/" + BakeName(DefaultKey())] = "snap-1";
  op.RunFor(minutes(5));
  EXPECT_EQ(Ids(), ids) << "a snapshot becoming available replaces nothing";
  EXPECT_EQ(Hashes(), hashes) << "nor changes any spec hash";
  EXPECT_FALSE(op.HasEvent(kKey, "PreparedImage")) << "no create, no switch yet";

  op.EditCluster(kKey, [](json& c) { c["spec"]["workers"]["replicas"] = 3; });
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  int from_snapshot = 0;
  for (const SimInstance* sim : op.Instances(kKey)) {
    if (ids.count(sim->instance.id)) continue;
    ++from_snapshot;
    EXPECT_EQ(sim->instance.image.id, "snap-1") << "the scale-up boots from the bake";
    EXPECT_EQ(sim->user_data.find("packages:"), std::string::npos) << "no apt run on it";
    EXPECT_EQ(sim->user_data.find("package_update"), std::string::npos);
  }
  EXPECT_EQ(from_snapshot, 1);
  EXPECT_TRUE(std::includes(Ids().begin(), Ids().end(), ids.begin(), ids.end()));
  const std::map<std::string, std::string> after = Hashes();
  for (const auto& [name, hash] : hashes) EXPECT_EQ(after.at(name), hash) << name;
  std::set<std::string> distinct;
  for (const auto& [name, hash] : after) {
    if (name.find("worker") != std::string::npos) distinct.insert(hash);
  }
  EXPECT_EQ(distinct.size(), 1u) << "old and new workers are the same spec";
  EXPECT_EQ((*op.Cluster(kKey))["status"]["image"],
            (json{{"id", "snap-1"}, {"prepared", true}, {"baked", true}}));
  EXPECT_TRUE(op.HasEvent(kKey, "PreparedImage"));
}

TEST_F(ReconcilerBakeTest, NoneNeverUsesABakeAndAnOwnImageIsUsedAsPrepared) {
  bakery.available["token-1/" + BakeName(DefaultKey())] = "snap-1";
  json none = ClusterObject("mnist", 1);
  none["spec"]["preparedImage"] = "none";
  op.ApplyCluster(none);
  json own = ClusterObject("own", 1);
  own["spec"]["preparedImage"] = "Ubuntu 20.04";  // stands for the user's prepared snapshot
  op.ApplyCluster(own);
  op.RunFor(minutes(3));
  ASSERT_TRUE(op.Converged(kKey));
  ASSERT_TRUE(op.Converged("default/own"));
  for (const SimInstance* sim : op.Instances(kKey)) {
    EXPECT_EQ(sim->instance.image.id, kBaseImage);
    EXPECT_NE(sim->user_data.find("packages:"), std::string::npos);
  }
  for (const SimInstance* sim : op.Instances("default/own")) {
    EXPECT_EQ(sim->instance.image.id, "img-ubuntu-2004");
    EXPECT_EQ(sim->user_data.find("packages:"), std::string::npos);
  }
  EXPECT_EQ((*op.Cluster("default/own"))["status"]["image"],
            (json{{"id", "img-ubuntu-2004"}, {"prepared", true}, {"baked", false}}));
}

TEST_F(ReconcilerBakeTest, AnOwnImageThatDoesNotExistCreatesNothingAndSaysSo) {
  json own = ClusterObject("mnist", 1);
  own["spec"]["preparedImage"] = "no-such-snapshot";
  op.ApplyCluster(own);
  op.RunFor(minutes(2));
  EXPECT_TRUE(op.Instances(kKey).empty());
  EXPECT_EQ(op.cloud.CreatesSent(""), 0);
  const std::string conditions = (*op.Cluster(kKey))["status"]["conditions"].dump();
  EXPECT_NE(conditions.find("no-such-snapshot"), std::string::npos) << conditions;
}

TEST_F(ReconcilerBakeTest, AnInvalidPreparedImageIsASpecError) {
  json bad = ClusterObject("mnist", 1);
  bad["spec"]["preparedImage"] = "-bad\nname";
  op.ApplyCluster(bad);
  op.RunFor(minutes(1));
  std::string reason;
  EXPECT_EQ(op.Condition(kKey, "SpecValid", &reason), "False");
  const std::string conditions = (*op.Cluster(kKey))["status"]["conditions"].dump();
  EXPECT_NE(conditions.find("spec.preparedImage"), std::string::npos) << conditions;
  EXPECT_EQ(op.cloud.CreatesSent(""), 0);
}

}  // namespace
}  // namespace pygrid::controller::testing
