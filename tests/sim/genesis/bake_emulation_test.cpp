// The bake, end to end in genesis-sim with user data rendered by the operator's own bootstrap
// code: the builder is charged the whole set-up, shuts itself off once done (power_state), its
// snapshot holds everything, and an instance booted from that snapshot with the prepared user
// data is charged nothing.
#include <gtest/gtest.h>

#include "api/defaults.h"
#include "api/naming.h"
#include "bootstrap/builder_data.h"
#include "bootstrap/ssh_keys.h"
#include "bootstrap/user_data.h"
#include "setup_model.h"
#include "sim_http.h"
#include "sim_process.h"

namespace pygrid::sim::genesis {
namespace {

using nlohmann::json;

std::string CreateInstance(const SimProcess& sim, const std::string& name, const std::string& image,
                           const std::string& user_data) {
  json body = {{"name", name},
               {"hostname", name},
               {"type", "vcpu-4_memory-12g_disk-80g_nvidia1080ti-1"},
               {"image", image},
               {"metadata", {{"startup_script", user_data}}}};
  ApiResult created = Api(sim, "POST", "/instances", body);
  EXPECT_EQ(created.status, 201) << created.raw;
  return created.body["instance"].value("id", "");
}

std::string Status(const SimProcess& sim, const std::string& id) {
  return Api(sim, "GET", "/instances/" + id).body["instance"].value("status", "");
}

json SetupOf(const SimProcess& sim, const std::string& id) {
  const json all = sim.Control("GET", "/_sim/setup");
  for (const json& i : all["instances"]) {
    if (i["id"] == id) return i;
  }
  return nullptr;
}

TEST(BakeEmulationTest, BuilderPowersOffWhenDoneAndItsSnapshotNeedsNoSetUp) {
  // Modelled set-up of a GPU builder ~435 s; x 0.002 = under a second.
  SimProcess sim(
      {"--boot-seconds", "0.2", "--time-scale", "0.002", "--snapshot-seconds", "0.1", "--no-sshd"});
  api::ClusterSpec spec;
  spec.credentials_secret_ref.name = "genesis-credentials";
  spec.gpu_driver = api::GpuDriver::kNvidia;
  api::ApplyDefaults(spec);
  std::string base;
  const ApiResult images = Api(sim, "GET", "/images");
  for (const json& im : images.body["images"]) {
    if (im["slug"] == "ubuntu-22.04") base = im["id"];
  }
  StatusOr<std::string> builder_data =
      bootstrap::RenderBuilderUserData(spec, "pygrid-base-0123456789ab-builder");
  ASSERT_TRUE(builder_data.ok()) << builder_data.status().ToString();
  const std::string builder =
      CreateInstance(sim, "pygrid-base-0123456789ab-builder", base, *builder_data);
  ASSERT_TRUE(Eventually([&] { return Status(sim, builder) == "active"; }));
  std::vector<std::string> items;
  const json builder_setup = SetupOf(sim, builder);
  for (const json& s : builder_setup["steps"]) items.push_back(s["item"]);
  std::vector<std::string> expected = {kStepAptUpdate, kItemDocker, kItemNvidiaDriver,
                                       kItemContainerToolkit};
  for (const std::string& image : bootstrap::GridImages(spec)) expected.push_back("image:" + image);
  EXPECT_EQ(items, expected) << "everything an instance would install, nothing more";
  ASSERT_TRUE(Eventually([&] { return Status(sim, builder) == "shutoff"; }))
      << "powers itself off once the set-up is done";
  EXPECT_EQ(SetupOf(sim, builder)["state"], "done");

  ApiResult snap = Api(sim, "POST", "/instances/" + builder + "/snapshots",
                       json{{"name", "pygrid-base-0123456789ab"}});
  ASSERT_EQ(snap.status, 201) << snap.raw;
  const std::string snapshot = snap.body["snapshot"]["id"];
  ASSERT_TRUE(Eventually([&] {
    return Api(sim, "GET", "/snapshots/" + snapshot).body["snapshot"]["status"] == "available";
  }));
  ASSERT_EQ(Api(sim, "DELETE", "/instances/" + builder).status, 204);

  static const bootstrap::SshKeyPair key = *bootstrap::GenerateEd25519KeyPair("k");
  bootstrap::InstanceUserDataInput input;
  input.role = api::InstanceRole::kGateway;
  input.hostname = api::InstanceNameFor("mnist", "0a1b2c3d-9", api::InstanceRole::kGateway, 0);
  input.node_id = input.hostname;
  input.secret_key = "00112233445566778899aabbccddeeff";
  input.operator_public_key = key.public_key;
  input.host_private_key = key.private_key;
  input.host_public_key = key.public_key;
  input.prepared_image = true;
  StatusOr<std::string> prepared = bootstrap::RenderUserData(spec, input);
  ASSERT_TRUE(prepared.ok());
  const std::string gateway = CreateInstance(sim, input.hostname, snapshot, *prepared);
  ASSERT_TRUE(Eventually([&] { return Status(sim, gateway) == "active"; }));
  const json setup = SetupOf(sim, gateway);
  EXPECT_TRUE(setup["steps"].empty()) << setup.dump();
  EXPECT_DOUBLE_EQ(setup["modelled_seconds"].get<double>(), 0);
  input.prepared_image = false;
  const std::string plain =
      CreateInstance(sim, "plain-gateway", snapshot, *bootstrap::RenderUserData(spec, input));
  ASSERT_TRUE(Eventually([&] { return Status(sim, plain) == "active"; }));
  std::vector<std::string> plain_items;
  const json plain_setup = SetupOf(sim, plain);
  for (const json& s : plain_setup["steps"]) plain_items.push_back(s["item"]);
  EXPECT_EQ(plain_items, std::vector<std::string>{kStepAptUpdate})
      << "without the prepared flag cloud-init would still refresh apt on the snapshot";
}

}  // namespace
}  // namespace pygrid::sim::genesis
