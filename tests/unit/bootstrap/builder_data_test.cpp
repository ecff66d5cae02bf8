// The bake builder's user data, checked with the real tools (cloud-init schema, docker-compose
// config) and structurally; and what a prepared image changes in an instance's user data.
#include "bootstrap/builder_data.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "api/defaults.h"
#include "bootstrap/ssh_keys.h"
#include "bootstrap/user_data.h"
#include "testing/process.h"

namespace pygrid::bootstrap {
namespace {

using testing::RunCommand;
using testing::ShellQuote;
using testing::TempDir;

api::ClusterSpec Spec(api::Flavor flavor, bool gpu) {
  api::ClusterSpec spec;
  spec.credentials_secret_ref.name = "genesis-credentials";
  spec.pygrid.flavor = flavor;
  spec.gpu_driver = gpu ? api::GpuDriver::kNvidia : api::GpuDriver::kNone;
  api::ApplyDefaults(spec);
  return spec;
}

YAML::Node FileAt(const YAML::Node& user_data, const std::string& path) {
  for (const auto& file : user_data["write_files"]) {
    if (file["path"].as<std::string>() == path) return file;
  }
  return YAML::Node();
}

class BuilderUserData : public ::testing::TestWithParam<std::tuple<api::Flavor, bool>> {};

TEST_P(BuilderUserData, PassesRealToolsInstallsPullsAndPowersOffOnlyWhenDone) {
  const auto [flavor, gpu] = GetParam();
  const api::ClusterSpec spec = Spec(flavor, gpu);
  StatusOr<std::string> rendered = RenderBuilderUserData(spec, "pygrid-base-0123456789ab-builder");
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  ASSERT_EQ(rendered->rfind("#cloud-config\n", 0), 0u);
  TempDir dir;
  testing::CommandResult schema = RunCommand("cloud-init schema --config-file " +
                                             ShellQuote(dir.Write("builder.yaml", *rendered)));
  EXPECT_EQ(schema.exit_code, 0) << schema.output;
  EXPECT_NE(schema.output.find("Valid cloud-config"), std::string::npos) << schema.output;

  const YAML::Node user_data = YAML::Load(*rendered);
  // The same packages as every instance's template installs.
  const YAML::Node instance = YAML::Load(*Templates::Builtin().Find("user-data.yaml"));
  ASSERT_EQ(user_data["packages"].size(), instance["packages"].size());
  for (size_t i = 0; i < instance["packages"].size(); ++i) {
    EXPECT_EQ(user_data["packages"][i].as<std::string>(),
              instance["packages"][i].as<std::string>());
  }
  EXPECT_EQ(FileAt(user_data, "/usr/local/sbin/pygrid-gpu-setup").IsMap(), gpu);
  const std::string compose = FileAt(user_data, kComposePath)["content"].as<std::string>();
  const std::string compose_file = dir.Write("pygrid/docker-compose.yml", compose);
  testing::CommandResult config =
      RunCommand("docker-compose -f " + ShellQuote(compose_file) + " config -q");
  EXPECT_EQ(config.exit_code, 0) << config.output;
  const YAML::Node services = YAML::Load(compose)["services"];
  std::vector<std::string> images;
  for (const auto& s : services) {
    images.push_back(s.second["image"].as<std::string>());
    EXPECT_FALSE(s.second["labels"]) << "nothing the emulation or a start script would run";
    EXPECT_FALSE(s.second["ports"]);
  }
  EXPECT_EQ(images, GridImages(spec));
  ASSERT_EQ(user_data["runcmd"].size(), 1u);
  const std::string script = user_data["runcmd"][0][2].as<std::string>();
  EXPECT_EQ(script.find("pygrid-gpu-setup") != std::string::npos, gpu);
  EXPECT_NE(script.find(" pull;"), std::string::npos);
  EXPECT_EQ(script.find(" up"), std::string::npos) << "starts nothing";
  const std::string last = std::string("touch ") + kBakedMarkerPath;
  EXPECT_EQ(script.rfind(last), script.size() - last.size())
      << "the marker is the last step of a `set -e` script";
  EXPECT_EQ(user_data["power_state"]["mode"].as<std::string>(), "poweroff");
  EXPECT_EQ(user_data["power_state"]["condition"][2].as<std::string>(), kBakedMarkerPath)
      << "a failed set-up does not power off (and is not snapshotted)";
  EXPECT_FALSE(user_data["users"]) << "no key of the operator's in a shared image";
  EXPECT_FALSE(user_data["ssh_keys"]);
}

INSTANTIATE_TEST_SUITE_P(FlavoursAndGpu, BuilderUserData,
                         ::testing::Combine(::testing::Values(api::Flavor::kGateway2020,
                                                              api::Flavor::kNetwork02),
                                            ::testing::Bool()));

TEST(BuilderUserDataTest, RefusesANameThatIsNoHostname) {
  EXPECT_TRUE(RenderBuilderUserData(Spec(api::Flavor::kGateway2020, true), "Not_A_Host")
                  .status()
                  .IsInvalid());
}

TEST(PreparedImageUserDataTest, DropsTheAptRunAndKeepsEverythingElse) {
  const api::ClusterSpec spec = Spec(api::Flavor::kNetwork02, true);
  static const SshKeyPair key = *GenerateEd25519KeyPair("k");
  InstanceUserDataInput input;
  input.role = api::InstanceRole::kWorker;
  input.hostname = "mnist-0a1b2c3d-worker-0";
  input.node_id = input.hostname;
  input.gateway_private_ip = "192.168.10.2";
  input.operator_public_key = key.public_key;
  input.host_private_key = key.private_key;
  input.host_public_key = key.public_key;
  StatusOr<std::string> plain = RenderUserData(spec, input);
  input.prepared_image = true;
  StatusOr<std::string> prepared = RenderUserData(spec, input);
  ASSERT_TRUE(plain.ok() && prepared.ok());
  const YAML::Node a = YAML::Load(*plain), b = YAML::Load(*prepared);
  EXPECT_TRUE(a["packages"] && a["package_update"]);
  EXPECT_FALSE(b["packages"]);
  EXPECT_FALSE(b["package_update"]);
  EXPECT_EQ(YAML::Dump(a["write_files"]), YAML::Dump(b["write_files"]))
      << "pygrid-start still runs pygrid-gpu-setup (a no-op check on a prepared image)";
  EXPECT_EQ(YAML::Dump(a["runcmd"]), YAML::Dump(b["runcmd"]));
  TempDir dir;
  testing::CommandResult schema = RunCommand("cloud-init schema --config-file " +
                                             ShellQuote(dir.Write("prepared.yaml", *prepared)));
  EXPECT_EQ(schema.exit_code, 0) << schema.output;
}

}  // namespace
}  // namespace pygrid::bootstrap
