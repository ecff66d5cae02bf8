// Snapshots (SPEC23 Snapshots endpoints, `instances/{id}/snapshots`, snapshot ids as `image`)
// and the set-up time model (setup_model.h): raw HTTP against a running genesis-sim.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "setup_model.h"
#include "sim_http.h"
#include "sim_process.h"

namespace pygrid::sim::genesis {
namespace {

using nlohmann::json;

const std::vector<std::string> kSnapshotRequired = {"id",     "name",   "resource_id",
                                                    "region", "status", "created_at"};
constexpr char kGpuType[] = "vcpu-4_memory-12g_disk-80g_nvidia1080ti-1";

std::string CreateInstance(const SimProcess& sim, const std::string& name, const std::string& image,
                           const std::string& user_data = "", const std::string& region = "") {
  json body = {{"name", name}, {"hostname", name}, {"type", kGpuType}, {"image", image}};
  if (!user_data.empty()) body["metadata"] = {{"startup_script", user_data}};
  if (!region.empty()) body["region"] = region;
  ApiResult r = Api(sim, "POST", "/instances", body);
  EXPECT_EQ(r.status, 201) << r.raw;
  return r.status == 201 ? r.body["instance"]["id"].get<std::string>() : "";
}

std::string Snapshot(const SimProcess& sim, const std::string& instance, const std::string& name) {
  ApiResult r = Api(sim, "POST", "/instances/" + instance + "/snapshots", {{"name", name}});
  EXPECT_EQ(r.status, 201) << r.raw;
  return r.status == 201 ? r.body["snapshot"]["id"].get<std::string>() : "";
}

bool SnapshotAvailable(const SimProcess& sim, const std::string& id) {
  return Eventually([&] {
    return Api(sim, "GET", "/snapshots/" + id).body["snapshot"]["status"] == "available";
  });
}

json SetupOf(const SimProcess& sim, const std::string& id) {
  json all = sim.Control("GET", "/_sim/setup");
  for (const json& i : all["instances"]) {
    if (i["id"] == id) return i;
  }
  return nullptr;
}

std::vector<std::string> Items(const json& setup) {
  std::vector<std::string> items;
  for (const json& s : setup["steps"]) items.push_back(s["item"]);
  return items;
}

// What the operator's user data asks for (cloud-init/user-data.yaml, pygrid-start): the apt
// packages, GPU=nvidia in start.conf, and one network-0.2 gateway service in the compose file.
std::string GridUserData() {
  return "#cloud-config\n"
         "package_update: true\n"
         "packages: [iptables, docker.io, docker-compose]\n"
         "write_files:\n"
         "  - path: /opt/pygrid/start.conf\n"
         "    content: |\n"
         "      ROLE=gateway\n"
         "      GPU=nvidia\n"
         "  - path: /opt/pygrid/docker-compose.yml\n"
         "    content: |\n"
         "      services:\n"
         "        network:\n"
         "          image: openmined/grid-network:production\n"
         "          ports: [\"7000:7000\"]\n"
         "          labels: {dev.pygrid.role: gateway, dev.pygrid.flavor: network-0.2}\n";
}

TEST(GenesisSnapshotTest, CreateListGetRenameDeleteAndErrors) {
  SimProcess sim({"--snapshot-seconds", "0.3"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  const std::string base = ImageIdBySlug(sim, "ubuntu-22.04");
  const std::string id = CreateInstance(sim, "src", base);
  ASSERT_EQ(PollInstanceStatus(sim, id, "active")["status"], "active");

  // SPEC23 CreateSnapshot: name required; unknown instance 404.
  EXPECT_EQ(Api(sim, "POST", "/instances/" + id + "/snapshots", json::object()).status, 400);
  EXPECT_EQ(Api(sim, "POST", "/instances/" + id + "/snapshots", {{"name", 5}}).status, 400);
  ApiResult unknown = Api(sim, "POST", "/instances/nope/snapshots", {{"name", "x"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body.value("code", ""), "02003");

  ApiResult created = Api(sim, "POST", "/instances/" + id + "/snapshots", {{"name", "baked"}});
  ASSERT_EQ(created.status, 201) << created.raw;
  const json snap = created.body["snapshot"];
  for (const std::string& f : kSnapshotRequired) EXPECT_TRUE(snap.contains(f)) << f;
  EXPECT_EQ(snap["status"], "snapshotting");
  EXPECT_EQ(snap["resource_id"], id);
  EXPECT_EQ(snap["region"], "ARC-IS-HAF-1");
  EXPECT_EQ(snap["size"], "85899345920");  // 80 GiB disk, bytes as a string (SPEC23)
  const std::string sid = snap["id"];

  // Not usable and not deletable while it is being taken.
  EXPECT_EQ(Api(sim, "DELETE", "/snapshots/" + sid).status, 409);
  EXPECT_EQ(Api(sim, "POST", "/instances",
                {{"name", "early"}, {"hostname", "early"}, {"type", kGpuType}, {"image", sid}})
                .status,
            400);

  // Listed in /snapshots, the instance's list and (type snapshot) /images.
  ApiResult list = Api(sim, "GET", "/snapshots");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["total_count"], 1);
  EXPECT_EQ(list.body["snapshots"][0]["id"], sid);
  EXPECT_EQ(Api(sim, "GET", "/instances/" + id + "/snapshots").body["snapshots"][0]["id"], sid);
  json images = Api(sim, "GET", "/images?type=snapshot").body["images"];
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0]["id"], sid);
  EXPECT_EQ(images[0]["name"], "baked");
  EXPECT_EQ(images[0]["regions"], json::array({"ARC-IS-HAF-1"}));
  for (const json& im : Api(sim, "GET", "/images?type=base-os").body["images"]) {
    EXPECT_NE(im["id"], sid);
  }

  ASSERT_TRUE(SnapshotAvailable(sim, sid));  // snapshotting -> available (SPEC23 enum)
  ApiResult renamed = Api(sim, "PATCH", "/snapshots/" + sid, {{"name", "nvidia+docker"}});
  EXPECT_EQ(renamed.status, 200);
  EXPECT_EQ(renamed.body["snapshot"]["name"], "nvidia+docker");
  EXPECT_EQ(Api(sim, "PATCH", "/snapshots/" + sid, json::object()).status, 400);

  // Usable as `image` in its own region only.
  ApiResult other_region = Api(sim, "POST", "/instances",
                               {{"name", "far"},
                                {"hostname", "far"},
                                {"type", kGpuType},
                                {"image", sid},
                                {"region", "NORD-NO-KRS-1"}});
  EXPECT_EQ(other_region.status, 400) << other_region.raw;
  const std::string from_snapshot = CreateInstance(sim, "copy", sid);
  json copy = Api(sim, "GET", "/instances/" + from_snapshot).body["instance"];
  EXPECT_EQ(copy["image"]["id"], sid);
  EXPECT_EQ(copy["image"]["name"], "nvidia+docker");

  EXPECT_EQ(Api(sim, "GET", "/snapshots/nope").status, 404);
  EXPECT_EQ(Api(sim, "DELETE", "/snapshots/" + sid).status, 204);
  EXPECT_EQ(Api(sim, "GET", "/snapshots/" + sid).status, 404);
  EXPECT_EQ(Api(sim, "DELETE", "/snapshots/" + sid).status, 404);
  EXPECT_EQ(Api(sim, "GET", "/images?type=snapshot").body["total_count"], 0);

  // An instance that is still booting cannot be snapshotted.
  sim.Control("POST", "/_sim/boot-seconds", {{"seconds", 30}});
  const std::string booting = CreateInstance(sim, "booting", base);
  EXPECT_EQ(Api(sim, "POST", "/instances/" + booting + "/snapshots", {{"name", "x"}}).status, 409);
}

TEST(GenesisSetupModelTest, ChargesSetUpBeforeServicesStartAndSnapshotsKeepWhatWasDone) {
  const double scale = 0.01;
  SimProcess sim({"--time-scale", "0.01", "--snapshot-seconds", "0.1", "--no-sshd"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  const std::string base = ImageIdBySlug(sim, "ubuntu-22.04");
  const SetupFigures figures;
  const double full = figures.apt_update + figures.docker + figures.nvidia_driver +
                      figures.container_toolkit + figures.pull_small_image;

  // A base image: the apt refresh, Docker, driver, toolkit and the pull are all charged,
  // scaled by --time-scale, before the service starts.
  const std::string a = CreateInstance(sim, "a", base, GridUserData());
  ASSERT_EQ(PollInstanceStatus(sim, a, "active")["status"], "active");
  // Taken the moment it is active: nothing of the set-up is done, so the disk holds nothing.
  const std::string early = Snapshot(sim, a, "early");
  json setup = SetupOf(sim, a);
  EXPECT_EQ(Items(setup), (std::vector<std::string>{kStepAptUpdate, kItemDocker, kItemNvidiaDriver,
                                                    kItemContainerToolkit,
                                                    "image:openmined/grid-network:production"}));
  EXPECT_DOUBLE_EQ(setup["modelled_seconds"].get<double>(), full);
  EXPECT_DOUBLE_EQ(setup["charged_seconds"].get<double>(), full * scale);
  EXPECT_EQ(setup["state"], "running");
  json emulation = sim.Control("GET", "/_sim/instances")["instances"][0]["emulation"];
  EXPECT_EQ(emulation["setup"], "installing");
  EXPECT_TRUE(emulation["services"].empty()) << emulation.dump();
  EXPECT_FALSE(emulation["ready"].get<bool>());

  ASSERT_TRUE(Eventually([&] { return SetupOf(sim, a)["state"] == "done"; }));
  ASSERT_TRUE(Eventually([&] {
    return sim.Control("GET", "/_sim/instances")["instances"][0]["emulation"]["ready"] == true;
  }));

  // A snapshot taken after the set-up holds it all: an instance from it is charged only the
  // apt index refresh cloud-init repeats on every first boot.
  const std::string baked = Snapshot(sim, a, "baked");
  ASSERT_TRUE(SnapshotAvailable(sim, baked));
  ASSERT_TRUE(SnapshotAvailable(sim, early));
  const std::string b = CreateInstance(sim, "b", baked, GridUserData());
  ASSERT_EQ(PollInstanceStatus(sim, b, "active")["status"], "active");
  setup = SetupOf(sim, b);
  EXPECT_EQ(Items(setup), std::vector<std::string>{kStepAptUpdate});
  EXPECT_DOUBLE_EQ(setup["charged_seconds"].get<double>(), figures.apt_update * scale);

  // The early snapshot held nothing: everything is charged again.
  const std::string c = CreateInstance(sim, "c", early, GridUserData());
  ASSERT_EQ(PollInstanceStatus(sim, c, "active")["status"], "active");
  EXPECT_DOUBLE_EQ(SetupOf(sim, c)["modelled_seconds"].get<double>(), full);

  // The preconfigured ML image holds the driver. --time-scale 0: modelled, nothing waited.
  sim.Control("POST", "/_sim/time-scale", {{"scale", 0}});
  const std::string d =
      CreateInstance(sim, "d", ImageIdBySlug(sim, "ubuntu-ml-nvidia-pytorch"), GridUserData());
  ASSERT_EQ(PollInstanceStatus(sim, d, "active")["status"], "active");
  setup = SetupOf(sim, d);
  EXPECT_DOUBLE_EQ(setup["modelled_seconds"].get<double>(), full - figures.nvidia_driver);
  EXPECT_DOUBLE_EQ(setup["charged_seconds"].get<double>(), 0);
  EXPECT_EQ(setup["state"], "done");
}

// pygrid-start on a worker pulls its images (`docker-compose pull`), then waits until its
// gateway answers before `docker-compose up`: the whole charged set-up is done while it waits.
TEST(GenesisSetupModelTest, AWorkerPullsWhileItsGatewayIsNotUpYet) {
  std::atomic<bool> gateway_up{false};
  SimHttpServer gateway("127.0.0.1", 0, [&](const SimRequest& r) {
    return gateway_up && r.path == "/" ? SimResponse::Text(200, "text/html", "gateway")
                                       : SimResponse::Text(503, "text/plain", "starting");
  });
  std::string error;
  ASSERT_TRUE(gateway.Start(&error)) << error;
  SimProcess sim({"--time-scale", "0.01", "--no-sshd"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  const std::string url = "http://127.0.0.1:" + std::to_string(gateway.port());
  const std::string worker =
      "#cloud-config\n"
      "write_files:\n"
      "  - path: /opt/pygrid/start.conf\n"
      "    content: |\n"
      "      ROLE=worker\n"
      "      GATEWAY_URL=" +
      url +
      "\n"
      "  - path: /opt/pygrid/docker-compose.yml\n"
      "    content: |\n"
      "      services:\n"
      "        node:\n"
      "          image: redis:latest\n"
      "          labels: {dev.pygrid.role: gateway, dev.pygrid.flavor: network-0.2}\n"
      "          ports: [\"7000:7000\"]\n";
  const std::string id = CreateInstance(sim, "w", ImageIdBySlug(sim, "ubuntu-22.04"), worker);
  ASSERT_EQ(PollInstanceStatus(sim, id, "active")["status"], "active");
  auto emulation = [&] {
    return sim.Control("GET", "/_sim/instances")["instances"][0]["emulation"];
  };
  ASSERT_TRUE(Eventually([&] { return emulation()["setup"] == "waiting-for-gateway"; }))
      << emulation().dump();
  EXPECT_TRUE(emulation()["services"].empty());
  const json setup = sim.Control("GET", "/_sim/setup")["instances"][0];
  EXPECT_EQ(setup["state"], "done") << setup.dump();
  EXPECT_EQ(setup["phase"], "waiting-for-gateway");
  EXPECT_EQ(setup["contents"], json({"image:redis:latest"})) << setup.dump();
  gateway_up = true;
  ASSERT_TRUE(Eventually([&] { return emulation()["ready"] == true; })) << emulation().dump();
  EXPECT_EQ(emulation()["setup"], "done");
  gateway.Stop();
}

TEST(GenesisSetupModelTest, PlansOnlyWhatTheImageLacks) {
  UserData wants;
  wants.package_update = true;
  wants.packages = {"docker.io", "docker-compose"};
  wants.gpu_nvidia = true;
  wants.compose_images = {"openmined/grid-gateway:latest", "openmined/grid-node:latest"};
  const SetupFigures f;
  std::vector<SetupStep> steps = PlanSetup(wants, {}, f);
  ASSERT_EQ(steps.size(), 6u);
  EXPECT_DOUBLE_EQ(TotalSeconds(steps), f.apt_update + f.docker + f.nvidia_driver +
                                            f.container_toolkit + 2 * f.pull_pytorch_image);
  steps = PlanSetup(wants, {kItemDocker, kItemNvidiaDriver, "image:openmined/grid-node:latest"}, f);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].item, kStepAptUpdate);
  EXPECT_EQ(steps[1].item, kItemContainerToolkit);
  EXPECT_EQ(steps[2].item, "image:openmined/grid-gateway:latest");
  // No GPU, no packages: only the pulls.
  UserData cpu;
  cpu.compose_images = {"redis:latest", "example/app@sha256:abc"};
  steps = PlanSetup(cpu, {}, f);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_DOUBLE_EQ(steps[0].seconds, f.pull_small_image);
  EXPECT_DOUBLE_EQ(steps[1].seconds, f.pull_other_image);
  // Text that is no cloud-config charges nothing.
  UserData none;
  EXPECT_TRUE(PlanSetup(none, {}, f).empty());
}

}  // namespace
}  // namespace pygrid::sim::genesis
