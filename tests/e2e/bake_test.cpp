// End to end, prepared images (spec.preparedImage auto): the real operator, kube-sim and
// genesis-sim (whose builder shuts itself off once its set-up is done). The first grid does not
// wait for the bake; a scale-up and a second grid boot from the baked snapshot; one builder,
// one snapshot, and the builder is gone.
#include <gtest/gtest.h>

#include <set>

#include "e2e/grid_fixture.h"

namespace pygrid::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr char kAuto[] = "  preparedImage: auto\n";

// The account's snapshots through the public API.
std::vector<json> Snapshots(const Grid& grid) {
  testing::CommandResult got = testing::RunCommand(
      "curl -fsS --max-time 10 -H " +
      testing::ShellQuote(std::string("Authorization: Bearer ") + kGenesisToken) + " " +
      testing::ShellQuote(grid.genesis_url() + "/snapshots?per_page=100"));
  const json body = json::parse(got.output, nullptr, false);
  if (!body.is_object() || !body["snapshots"].is_array()) return {};
  return body["snapshots"].get<std::vector<json>>();
}

bool IsBuilder(const json& instance) {
  const std::string name = instance.value("name", "");
  return name.rfind("pygrid-base-", 0) == 0 && name.size() > 8 &&
         name.compare(name.size() - 8, 8, "-builder") == 0;
}

// The image id of every live instance of grid `name`.
std::vector<std::string> ImagesOf(const Grid& grid, const std::string& name) {
  const std::string uid8 = grid.Cluster(name)["metadata"].value("uid", "").substr(0, 8);
  std::vector<std::string> images;
  for (const json& instance : grid.Instances()) {
    if (instance.value("name", "").rfind(name + "-" + uid8 + "-", 0) == 0 &&
        instance.value("status", "") != "deleting")
      images.push_back(instance["image"].value("id", ""));
  }
  return images;
}

TEST(BakeTest, AScaleUpAndASecondGridBootFromTheBakeAndTheBuilderIsGone) {
  Grid grid;
  grid.InstallCrdAndSecret();
  // Snapshots are refused (503) until the first grid is Ready, so it shows, whatever the
  // timing, that the first grid does not wait for the bake.
  ASSERT_FALSE(grid.SimPost("/_sim/faults", {{"method", "POST"},
                                             {"path", "^/compute/v1/instances/[^/]+/snapshots$"},
                                             {"status", 503},
                                             {"count", 100000}})
                   .is_null());
  grid.StartOperator();
  ASSERT_EQ(grid.Apply(ClusterYaml("first", 1, kAuto)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("first", "Ready", "True", seconds(120)))
      << grid.AllOperatorLogs();
  const json first_image = StatusOf(grid.Cluster("first"))["image"];
  const std::string base = first_image.value("id", "");
  EXPECT_FALSE(first_image.value("baked", true)) << "the first grid did not wait for the bake";
  grid.SimDelete("/_sim/faults");

  // The bake finishes: one snapshot available, its builder deleted.
  std::string snapshot;
  ASSERT_TRUE(Grid::WaitUntil(
      [&] {
        bool builder = false;
        for (const json& instance : grid.Instances()) builder |= IsBuilder(instance);
        for (const json& s : Snapshots(grid)) {
          if (s.value("status", "") == "available") snapshot = s.value("id", "");
        }
        return !snapshot.empty() && !builder;
      },
      seconds(60)))
      << json(Snapshots(grid)).dump() << json(grid.Instances()).dump() << grid.AllOperatorLogs();
  ASSERT_EQ(Snapshots(grid).size(), 1u);
  EXPECT_EQ(Snapshots(grid)[0].value("name", "").rfind("pygrid-base-", 0), 0u);
  EXPECT_EQ(ImagesOf(grid, "first"), (std::vector<std::string>{base, base}))
      << "a snapshot becoming available replaced nothing";

  // A scale-up boots from it.
  ASSERT_EQ(
      grid.Kubectl("patch pgc first --type=merge -p '{\"spec\":{\"workers\":{\"replicas\":2}}}'")
          .exit_code,
      0);
  ASSERT_TRUE(Grid::WaitUntil(
      [&] { return StatusOf(grid.Cluster("first")).value("readyWorkers", 0) == 2; }, seconds(90)))
      << grid.Kubectl("get pgc first -o yaml").output;
  std::vector<std::string> images = ImagesOf(grid, "first");
  std::sort(images.begin(), images.end());
  std::vector<std::string> expected = {base, base, snapshot};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(images, expected);
  EXPECT_EQ(StatusOf(grid.Cluster("first"))["image"],
            (json{{"id", snapshot}, {"prepared", true}, {"baked", true}}));
  EXPECT_TRUE(grid.HasEvent("PreparedImage"));

  // A second grid with the same key boots from it entirely.
  ASSERT_EQ(grid.Apply(ClusterYaml("second", 1, kAuto)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("second", "Ready", "True", seconds(120)))
      << grid.AllOperatorLogs();
  EXPECT_EQ(ImagesOf(grid, "second"), (std::vector<std::string>{snapshot, snapshot}));

  // Baked once: one snapshot taken (the refused attempts aside), and no builder anywhere.
  int snapshot_posts = 0;
  for (const json& request : grid.Requests()) {
    const std::string path = request.value("path", "");
    snapshot_posts += request.value("method", "") == "POST" && request.value("status", 0) == 201 &&
                      path.size() > 10 && path.compare(path.size() - 10, 10, "/snapshots") == 0;
  }
  EXPECT_EQ(snapshot_posts, 1);
  for (const json& instance : grid.Instances()) EXPECT_FALSE(IsBuilder(instance));
  // The prepared image stays after the grids (swept after the retention period).
  ASSERT_EQ(grid.Kubectl("delete pgc first second --wait=false").exit_code, 0);
  ASSERT_TRUE(Grid::WaitUntil([&] { return grid.Instances().empty(); }, seconds(60)));
  EXPECT_EQ(Snapshots(grid).size(), 1u);
  EXPECT_EQ(grid.AllOperatorLogs().find(kGenesisToken), std::string::npos);
}

}  // namespace
}  // namespace pygrid::e2e
