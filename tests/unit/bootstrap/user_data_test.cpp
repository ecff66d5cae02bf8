// Renders user data for every flavour / GPU / co-location / worker-index combination and checks
// it with the real tools (cloud-init schema, docker-compose config) and structurally.
#include "bootstrap/user_data.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/defaults.h"
#include "bootstrap/ssh_keys.h"
#include "testing/process.h"

namespace pygrid::bootstrap {
namespace {

using api::ClusterSpec;
using api::Flavor;
using api::GpuDriver;
using api::InstanceRole;
using testing::RunCommand;
using testing::ShellQuote;
using testing::TempDir;

constexpr char kGatewayIp[] = "192.168.10.2";

const SshKeyPair& OperatorKey() {
  static const SshKeyPair key = *GenerateEd25519KeyPair("pygrid-operator");
  return key;
}
const SshKeyPair& HostKey() {
  static const SshKeyPair key = *GenerateEd25519KeyPair("host");
  return key;
}

ClusterSpec Spec(Flavor flavor, bool gpu, bool colocated) {
  ClusterSpec spec;
  spec.credentials_secret_ref.name = "genesis-credentials";
  spec.network.allowed_source_cidrs = {"203.0.113.0/24"};
  spec.pygrid.flavor = flavor;
  spec.gpu_driver = gpu ? GpuDriver::kNvidia : GpuDriver::kNone;
  spec.gateway.colocated_worker = colocated;
  api::ApplyDefaults(spec);
  return spec;
}

// `deferred`: a worker rendered before its gateway has an address.
InstanceUserDataInput Input(InstanceRole role, int index, bool deferred = false) {
  InstanceUserDataInput input;
  input.role = role;
  input.index = index;
  input.hostname = api::InstanceNameFor("mnist", "0a1b2c3d-9999", role, index);
  input.node_id = input.hostname;
  if (role == InstanceRole::kWorker) {
    input.gateway_private_ip = deferred ? "" : kGatewayIp;
  } else {
    input.secret_key = "00112233445566778899aabbccddeeff";
  }
  input.operator_public_key = OperatorKey().public_key;
  input.extra_authorized_keys = {"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ user@laptop"};
  input.host_private_key = HostKey().private_key;
  input.host_public_key = HostKey().public_key;
  return input;
}

YAML::Node WriteFile(const YAML::Node& user_data, const std::string& path) {
  for (const auto& file : user_data["write_files"]) {
    if (file["path"].as<std::string>() == path) return file;
  }
  return YAML::Node();
}

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(PYGRID_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct MatrixCase {
  Flavor flavor;
  bool gpu;
  bool colocated;
  InstanceRole role;
  int index;
  bool deferred = false;
};

std::string CaseName(const ::testing::TestParamInfo<MatrixCase>& info) {
  const MatrixCase& c = info.param;
  std::string name = c.flavor == Flavor::kNetwork02 ? "network02" : "gateway2020";
  name += c.gpu ? "_gpu" : "_cpu";
  name += c.colocated ? "_colocated" : "_alone";
  name += c.role == InstanceRole::kGateway ? "_gateway" : "_worker" + std::to_string(c.index);
  if (c.deferred) name += "_deferred";
  return name;
}

std::vector<MatrixCase> Matrix() {
  std::vector<MatrixCase> cases;
  for (Flavor flavor : {Flavor::kGateway2020, Flavor::kNetwork02}) {
    for (bool gpu : {true, false}) {
      for (bool colocated : {true, false})
        cases.push_back({flavor, gpu, colocated, InstanceRole::kGateway, 0});
      for (int index : {0, 7, 99})
        cases.push_back({flavor, gpu, true, InstanceRole::kWorker, index});
      cases.push_back({flavor, gpu, true, InstanceRole::kWorker, 4, /*deferred=*/true});
    }
  }
  return cases;
}

class UserDataMatrix : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(UserDataMatrix, PassesRealToolsAndHasTheRightStructure) {
  const MatrixCase& c = GetParam();
  const ClusterSpec spec = Spec(c.flavor, c.gpu, c.colocated);
  const InstanceUserDataInput input = Input(c.role, c.index, c.deferred);
  StatusOr<std::string> rendered = RenderUserData(spec, input);
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  ASSERT_EQ(rendered->rfind("#cloud-config\n", 0), 0u);
  EXPECT_LE(rendered->size(), kMaxStartupScriptBytes);

  TempDir dir;
  const std::string user_data_file = dir.Write("user-data.yaml", *rendered);
  testing::CommandResult schema =
      RunCommand("cloud-init schema --config-file " + ShellQuote(user_data_file));
  EXPECT_EQ(schema.exit_code, 0) << schema.output;
  EXPECT_NE(schema.output.find("Valid cloud-config"), std::string::npos) << schema.output;

  const YAML::Node user_data = YAML::Load(*rendered);
  const std::string compose_text = WriteFile(user_data, kComposePath)["content"].as<std::string>();
  const std::string compose_file = dir.Write("pygrid/docker-compose.yml", compose_text);
  const std::string gateway_url =
      std::string("http://") + kGatewayIp + ":" + std::to_string(spec.pygrid.gateway_port);
  // .env as pygrid-start writes it: a deferred worker pulls with an empty gateway URL, and
  // every worker starts its node with the URL it was given or delivered.
  for (const std::string& url : {std::string(), gateway_url}) {
    dir.Write("pygrid/.env", "PYGRID_PRIVATE_IP=192.168.10.9\nPYGRID_GATEWAY_URL=" + url + "\n");
    const std::string compose_command = "cd " + ShellQuote(dir.path() + "/pygrid") +
                                        " && docker-compose -f " + ShellQuote(compose_file) +
                                        " config";
    testing::CommandResult config = RunCommand(compose_command + " -q");
    EXPECT_EQ(config.exit_code, 0) << config.output;
    EXPECT_EQ(config.output, "") << "docker-compose warned: " << config.output;
    if (c.role != InstanceRole::kWorker) continue;
    testing::CommandResult resolved = RunCommand(compose_command);
    ASSERT_EQ(resolved.exit_code, 0) << resolved.output;
    const YAML::Node env = YAML::Load(resolved.output)["services"]["node"]["environment"];
    EXPECT_EQ(
        env[c.flavor == Flavor::kNetwork02 ? "NETWORK" : "GRID_NETWORK_URL"].as<std::string>(),
        url);
    EXPECT_EQ(env["ADDRESS"].as<std::string>(),
              "http://192.168.10.9:" + std::to_string(spec.pygrid.node_port) + "/");
  }

  // Structure of the compose file.
  const YAML::Node compose = YAML::Load(compose_text);
  const bool network = c.flavor == Flavor::kNetwork02;
  const std::string gateway_port = std::to_string(spec.pygrid.gateway_port);
  const std::string node_port = std::to_string(spec.pygrid.node_port);
  int gateways = 0, nodes = 0;
  for (const auto& entry : compose["services"]) {
    const YAML::Node service = entry.second;
    const std::string role = service["labels"]["dev.pygrid.role"].as<std::string>();
    EXPECT_EQ(service["restart"].as<std::string>(), "unless-stopped") << entry.first;
    EXPECT_EQ(service["labels"]["dev.pygrid.flavor"].as<std::string>(), api::FlavorName(c.flavor));
    const YAML::Node env = service["environment"];
    if (role == "gateway") {
      ++gateways;
      EXPECT_EQ(service["image"].as<std::string>(), spec.pygrid.gateway_image);
      EXPECT_EQ(service["ports"][0].as<std::string>(), gateway_port + ":" + gateway_port);
      EXPECT_EQ(env["PORT"].as<std::string>(), gateway_port);
      EXPECT_EQ(env["SECRET_KEY"].as<std::string>(), input.secret_key);
      EXPECT_EQ(env["DATABASE_URL"].as<std::string>().rfind("sqlite:////data/", 0), 0u);
      EXPECT_FALSE(service["runtime"]) << "the gateway app needs no GPU";
    } else {
      ASSERT_EQ(role, "node");
      ++nodes;
      EXPECT_EQ(service["image"].as<std::string>(), spec.pygrid.node_image);
      EXPECT_EQ(service["ports"][0].as<std::string>(), node_port + ":" + node_port);
      EXPECT_EQ(env["PORT"].as<std::string>(), node_port);
      EXPECT_EQ(env["ADDRESS"].as<std::string>(), "http://${PYGRID_PRIVATE_IP}:" + node_port + "/");
      // One compose file for workers with and without the address: pygrid-start puts the URL
      // from start.conf or from the operator's delivery into .env.
      const std::string join_url = c.role == InstanceRole::kWorker
                                       ? std::string("${PYGRID_GATEWAY_URL}")
                                       : "http://${PYGRID_PRIVATE_IP}:" + gateway_port;
      if (network) {
        EXPECT_EQ(env["NETWORK"].as<std::string>(), join_url);
        EXPECT_EQ(env["NODE_ID"].as<std::string>(), input.node_id);
        EXPECT_TRUE(env["DATABASE_URL"]);
        EXPECT_FALSE(env["GRID_NETWORK_URL"]);
      } else {
        EXPECT_EQ(env["GRID_NETWORK_URL"].as<std::string>(), join_url);
        EXPECT_EQ(env["ID"].as<std::string>(), input.node_id);
        EXPECT_FALSE(env["NETWORK"]);
      }
      if (c.gpu) {
        EXPECT_EQ(service["runtime"].as<std::string>(), "nvidia");
        EXPECT_EQ(env["NVIDIA_VISIBLE_DEVICES"].as<std::string>(), "all");
      } else {
        EXPECT_FALSE(service["runtime"]);
      }
    }
    // Nothing but the PyGrid ports is published: no redis or database port on any interface.
    EXPECT_EQ(service["ports"].size(), 1u);
  }
  if (c.role == InstanceRole::kGateway) {
    EXPECT_EQ(gateways, 1);
    EXPECT_EQ(nodes, c.colocated ? 1 : 0);
  } else {
    EXPECT_EQ(gateways, 0);
    EXPECT_EQ(nodes, 1);
  }

  // Identity and start-up.
  EXPECT_EQ(user_data["hostname"].as<std::string>(), input.hostname);
  EXPECT_EQ(user_data["ssh_keys"]["ed25519_private"].as<std::string>(), input.host_private_key);
  EXPECT_EQ(user_data["ssh_keys"]["ed25519_public"].as<std::string>(), input.host_public_key);
  EXPECT_EQ(user_data["users"][0]["name"].as<std::string>(), kLoginUser);
  const YAML::Node keys = user_data["users"][0]["ssh_authorized_keys"];
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].as<std::string>(), input.operator_public_key);
  EXPECT_FALSE(user_data["ssh_pwauth"].as<bool>());
  ASSERT_EQ(user_data["runcmd"].size(), 1u);
  EXPECT_EQ(user_data["runcmd"][0][0].as<std::string>(), "/usr/local/sbin/pygrid-start");
  EXPECT_EQ(WriteFile(user_data, "/usr/local/sbin/pygrid-start")["content"].as<std::string>(),
            ReadSource("cloud-init/pygrid-start.sh"));
  EXPECT_EQ(WriteFile(user_data, kRejoinPath)["content"].as<std::string>(),
            ReadSource("cloud-init/pygrid-rejoin.sh"));
  EXPECT_EQ(WriteFile(user_data, kRejoinPath)["permissions"].as<std::string>(), "0755");
  const std::string conf =
      WriteFile(user_data, "/opt/pygrid/start.conf")["content"].as<std::string>();
  EXPECT_NE(conf.find(std::string("GPU=") + (c.gpu ? "nvidia" : "none") + "\n"), std::string::npos);
  if (c.role == InstanceRole::kWorker) {
    EXPECT_NE(conf.find("ROLE=worker\n"), std::string::npos) << conf;
    EXPECT_NE(conf.find(std::string("LOGIN_USER=") + kLoginUser + "\n"), std::string::npos);
    if (c.deferred) {
      // No address yet: pygrid-start waits for the operator to deliver it (kInboxPath).
      EXPECT_EQ(conf.find("GATEWAY_URL="), std::string::npos) << conf;
      EXPECT_NE(conf.find("\nGATEWAY_WAIT=ssh\n"), std::string::npos) << conf;
    } else {
      EXPECT_NE(conf.find("\nGATEWAY_URL=" + gateway_url + "\n"), std::string::npos) << conf;
      EXPECT_EQ(conf.find("GATEWAY_WAIT="), std::string::npos) << conf;
    }
    EXPECT_NE(conf.find("NODE_ID=" + input.node_id + "\n"), std::string::npos) << conf;
  } else {
    EXPECT_NE(conf.find("ROLE=gateway\n"), std::string::npos) << conf;
    EXPECT_NE(conf.find("NODE_ID=" + std::string(c.colocated ? input.node_id : "") + "\n"),
              std::string::npos)
        << conf;
  }
  // The source filter the security group cannot express: the spec's CIDRs, for SSH and both ports.
  EXPECT_NE(conf.find("ALLOWED_CIDRS=203.0.113.0/24\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("PORTS=22 " + gateway_port + " " + node_port + "\n"), std::string::npos)
      << conf;
  EXPECT_EQ(WriteFile(user_data, "/usr/local/sbin/pygrid-firewall")["content"].as<std::string>(),
            ReadSource("cloud-init/pygrid-firewall.sh"));
  const std::string node_check =
      "http://127.0.0.1:" + node_port + (network ? "/data-centric/status/" : "/");
  EXPECT_EQ(conf.find(node_check) != std::string::npos,
            c.role == InstanceRole::kWorker || c.colocated)
      << conf;
}

INSTANTIATE_TEST_SUITE_P(AllCombinations, UserDataMatrix, ::testing::ValuesIn(Matrix()), CaseName);

TEST(UserDataTest, StartScriptsAreValidShell) {
  for (const char* script : {"cloud-init/pygrid-start.sh", "cloud-init/pygrid-gpu-setup.sh",
                             "cloud-init/pygrid-firewall.sh", "cloud-init/pygrid-rejoin.sh"}) {
    testing::CommandResult result =
        RunCommand("sh -n " + ShellQuote(std::string(PYGRID_SOURCE_DIR) + "/" + script));
    EXPECT_EQ(result.exit_code, 0) << script << ": " << result.output;
  }
}

TEST(UserDataTest, AdversarialSpecValuesCannotInjectYamlShellOrCompose) {
  // Values that bypass the API's validation must still land verbatim inside one scalar.
  ClusterSpec spec = Spec(Flavor::kGateway2020, false, true);
  const std::string evil_image = "evil\"image\n- runcmd: [reboot]\n---\n$(reboot) ${HOME} `id` #";
  spec.pygrid.gateway_image = evil_image;
  spec.pygrid.node_image = "x: {y: z}\n  ]] '\\''";
  StatusOr<std::string> rendered = RenderUserData(spec, Input(InstanceRole::kGateway, 0));
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  const YAML::Node user_data = YAML::Load(*rendered);
  ASSERT_EQ(user_data["runcmd"].size(), 1u);
  EXPECT_EQ(user_data["runcmd"][0][0].as<std::string>(), "/usr/local/sbin/pygrid-start");
  EXPECT_EQ(user_data["write_files"].size(), 6u);
  const std::string compose_text = WriteFile(user_data, kComposePath)["content"].as<std::string>();
  const YAML::Node compose = YAML::Load(compose_text);
  ASSERT_EQ(compose["services"].size(), 2u);
  // In the compose file every '$' of a value is doubled, so compose interpolates nothing ...
  EXPECT_EQ(compose["services"]["gateway"]["image"].as<std::string>(),
            "evil\"image\n- runcmd: [reboot]\n---\n$$(reboot) $${HOME} `id` #");
  EXPECT_EQ(compose["services"]["node"]["image"].as<std::string>(), spec.pygrid.node_image);
  // ... which docker-compose confirms: it interpolates ADDRESS but leaves the image literal
  // (its `config` output keeps the "$$" escapes, so ${HOME} was not expanded).
  TempDir dir;
  const std::string file = dir.Write("docker-compose.yml", compose_text);
  testing::CommandResult config = RunCommand("cd " + ShellQuote(dir.path()) +
                                             " && PYGRID_PRIVATE_IP=10.0.0.1 docker-compose -f " +
                                             ShellQuote(file) + " config");
  ASSERT_EQ(config.exit_code, 0) << config.output;
  const YAML::Node resolved = YAML::Load(config.output);
  EXPECT_EQ(resolved["services"]["gateway"]["image"].as<std::string>(),
            compose["services"]["gateway"]["image"].as<std::string>());
  EXPECT_EQ(resolved["services"]["node"]["environment"]["ADDRESS"].as<std::string>(),
            "http://10.0.0.1:3000/");
}

TEST(UserDataTest, InputsThatReachTheShellAreChecked) {
  const ClusterSpec spec = Spec(Flavor::kNetwork02, false, true);
  InstanceUserDataInput input = Input(InstanceRole::kWorker, 1);
  input.gateway_private_ip = "192.168.10.2\nROLE=gateway";
  input.node_id = "id$(reboot)";
  input.hostname = "Bad_Host";
  input.operator_public_key = "ssh-ed25519 AAAA\nssh-rsa BBBB";
  StatusOr<std::string> rendered = RenderUserData(spec, input);
  ASSERT_FALSE(rendered.ok());
  std::vector<std::string> fields;
  for (const FieldCause& cause : rendered.status().causes()) fields.push_back(cause.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"hostname", "nodeID", "gatewayPrivateIP",
                                              "operatorPublicKey"}));
}

TEST(UserDataTest, StartupScriptLimitIsEnforced) {
  TempDir dir;
  for (const auto& [path, content] : Templates::Builtin().files()) {
    dir.Write(path, path == "pygrid-start.sh" ? content + "#" + std::string(70 * 1024, 'x') + "\n"
                                              : content);
  }
  StatusOr<Templates> padded = Templates::FromDirectory(dir.path());
  ASSERT_TRUE(padded.ok()) << padded.status().ToString();
  StatusOr<std::string> rendered = RenderUserData(Spec(Flavor::kGateway2020, true, true),
                                                  Input(InstanceRole::kGateway, 0), *padded);
  ASSERT_FALSE(rendered.ok());
  EXPECT_TRUE(rendered.status().IsInvalid());
  EXPECT_NE(rendered.status().message().find("at most 65536"), std::string::npos)
      << rendered.status().message();
}

TEST(UserDataTest, CustomTemplatesMustBeCompleteAndAreUsed) {
  TempDir dir;
  StatusOr<Templates> empty = Templates::FromDirectory(dir.path());
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("has no "), std::string::npos);
  for (const auto& [path, content] : Templates::Builtin().files()) {
    std::string text = content;
    if (path == "user-data.yaml") text += "timezone: Europe/Berlin\n";
    dir.Write(path, text);
  }
  StatusOr<Templates> custom = Templates::FromDirectory(dir.path());
  ASSERT_TRUE(custom.ok());
  StatusOr<std::string> rendered = RenderUserData(Spec(Flavor::kGateway2020, true, true),
                                                  Input(InstanceRole::kGateway, 0), *custom);
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  EXPECT_EQ(YAML::Load(*rendered)["timezone"].as<std::string>(), "Europe/Berlin");
}

TEST(UserDataTest, UnknownPlaceholderIsAnError) {
  TempDir dir;
  for (const auto& [path, content] : Templates::Builtin().files()) {
    dir.Write(path, path == "compose/gateway-2020/worker.yaml"
                        ? content + "x-extra: \"{{noSuchValue}}\"\n"
                        : content);
  }
  StatusOr<Templates> custom = Templates::FromDirectory(dir.path());
  ASSERT_TRUE(custom.ok());
  StatusOr<std::string> rendered = RenderUserData(Spec(Flavor::kGateway2020, true, true),
                                                  Input(InstanceRole::kWorker, 0), *custom);
  ASSERT_FALSE(rendered.ok());
  EXPECT_NE(rendered.status().message().find("{{noSuchValue}}"), std::string::npos);
}

TEST(UserDataTest, BuiltinTemplatesEqualTheRepositoryFiles) {
  int checked = 0;
  for (const auto& [path, content] : Templates::Builtin().files()) {
    EXPECT_EQ(content, ReadSource("cloud-init/" + path)) << path;
    ++checked;
  }
  EXPECT_EQ(checked, 9);
}

TEST(SshKeysTest, GeneratesDistinctEd25519Pairs) {
  StatusOr<SshKeyPair> a = GenerateEd25519KeyPair("a");
  StatusOr<SshKeyPair> b = GenerateEd25519KeyPair("b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->private_key, b->private_key);
  EXPECT_EQ(a->public_key.rfind("ssh-ed25519 AAAA", 0), 0u);
  EXPECT_EQ(a->public_key.substr(a->public_key.size() - 2), " a");
  EXPECT_EQ(a->private_key.rfind("-----BEGIN OPENSSH PRIVATE KEY-----\n", 0), 0u);
  // ssh-keygen derives the same public key from the private one.
  TempDir dir;
  const std::string file = dir.Write("id", a->private_key);
  std::filesystem::permissions(
      file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  testing::CommandResult derived = RunCommand("ssh-keygen -y -f " + ShellQuote(file));
  ASSERT_EQ(derived.exit_code, 0) << derived.output;
  std::istringstream derived_fields(derived.output), generated_fields(a->public_key);
  std::string derived_type, derived_key, generated_type, generated_key;
  derived_fields >> derived_type >> derived_key;
  generated_fields >> generated_type >> generated_key;
  EXPECT_EQ(derived_type, "ssh-ed25519");
  EXPECT_EQ(derived_key, generated_key);
  EXPECT_EQ(generated_type, "ssh-ed25519");
}

}  // namespace
}  // namespace pygrid::bootstrap
