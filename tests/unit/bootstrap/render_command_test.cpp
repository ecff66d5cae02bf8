// Runs the real pygrid-operator binary's `render` subcommand.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "bootstrap/yaml_json.h"
#include "testing/process.h"

namespace pygrid::bootstrap {
namespace {

using testing::RunCommand;
using testing::ShellQuote;

std::string Operator() { return std::string(PYGRID_BIN_DIR) + "/pygrid-operator"; }
std::string Example() {
  return std::string(PYGRID_SOURCE_DIR) + "/manifests/examples/pygridcluster.yaml";
}

TEST(RenderCommandTest, RendersTheExampleGatewayAndWorker) {
  testing::CommandResult gateway =
      RunCommand(Operator() + " render --file " + ShellQuote(Example()));
  ASSERT_EQ(gateway.exit_code, 0) << gateway.output;
  ASSERT_EQ(gateway.output.rfind("#cloud-config\n", 0), 0u);
  EXPECT_EQ(YAML::Load(gateway.output)["hostname"].as<std::string>(), "mnist-00000000-gateway");

  testing::CommandResult worker =
      RunCommand(Operator() + " render --file " + ShellQuote(Example()) +
                 " --role worker --index 1 --gateway-ip 192.168.10.2 --compose-only");
  ASSERT_EQ(worker.exit_code, 0) << worker.output;
  const YAML::Node compose = YAML::Load(worker.output);
  // The URL reaches the node through .env (pygrid-start writes it from start.conf).
  EXPECT_EQ(compose["services"]["node"]["environment"]["GRID_NETWORK_URL"].as<std::string>(),
            "${PYGRID_GATEWAY_URL}");
  EXPECT_EQ(compose["services"]["node"]["environment"]["ID"].as<std::string>(),
            "mnist-00000000-worker-1");
  testing::CommandResult with_address =
      RunCommand(Operator() + " render --file " + ShellQuote(Example()) +
                 " --role worker --index 1 --gateway-ip 192.168.10.2");
  ASSERT_EQ(with_address.exit_code, 0) << with_address.output;
  EXPECT_NE(with_address.output.find("GATEWAY_URL=http://192.168.10.2:5000\n"), std::string::npos);
}

TEST(RenderCommandTest, AWorkerWithoutAGatewayAddressIsDeferred) {
  testing::CommandResult worker = RunCommand(Operator() + " render --file " +
                                             ShellQuote(Example()) + " --role worker --index 2");
  ASSERT_EQ(worker.exit_code, 0) << worker.output;
  std::string conf;
  for (const auto& file : YAML::Load(worker.output)["write_files"]) {
    if (file["path"].as<std::string>() == "/opt/pygrid/start.conf") {
      conf = file["content"].as<std::string>();
    }
  }
  EXPECT_EQ(conf.find("GATEWAY_URL="), std::string::npos) << conf;
  EXPECT_NE(conf.find("\nGATEWAY_WAIT=ssh\n"), std::string::npos) << conf;
}

TEST(RenderCommandTest, InvalidResourceNamesEveryField) {
  testing::TempDir dir;
  const std::string file = dir.Write("bad.yaml", R"(apiVersion: distributor.pygrid.dev/v1alpha1
kind: PyGridCluster
metadata: {name: mnist}
spec:
  credentialsSecretRef: {name: creds}
  workers: {replicas: 500}
  network: {allowedSourceCIDRs: [10.0.0.0/40]}
)");
  testing::CommandResult result = RunCommand(Operator() + " render --file " + ShellQuote(file));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("spec.workers.replicas: must be between 0 and 100"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("spec.network.allowedSourceCIDRs[0]"), std::string::npos)
      << result.output;
}

TEST(RenderCommandTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(RunCommand(Operator() + " render").exit_code, 2);
  EXPECT_EQ(
      RunCommand(Operator() + " render --file " + ShellQuote(Example()) + " --role boss").exit_code,
      2);
  EXPECT_EQ(RunCommand(Operator() + " frobnicate").exit_code, 2);
  EXPECT_EQ(RunCommand(Operator() + " render --file /nonexistent.yaml").exit_code, 1);
}

TEST(YamlJsonTest, PlainScalarsAreTypedQuotedOnesStayStrings) {
  StatusOr<nlohmann::json> json =
      YamlToJson("a: 1\nb: '1'\nc: true\nd: \"true\"\ne: 1.5\nf: ~\ng: [x, 2]\nh: 0755x\n");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ((*json)["a"], 1);
  EXPECT_EQ((*json)["b"], "1");
  EXPECT_EQ((*json)["c"], true);
  EXPECT_EQ((*json)["d"], "true");
  EXPECT_EQ((*json)["e"], 1.5);
  EXPECT_TRUE((*json)["f"].is_null());
  EXPECT_EQ((*json)["g"], nlohmann::json({"x", 2}));
  EXPECT_EQ((*json)["h"], "0755x");
  StatusOr<nlohmann::json> broken = YamlToJson("a: [1, 2\n");
  ASSERT_FALSE(broken.ok());
  EXPECT_TRUE(broken.status().IsInvalid());
}

}  // namespace
}  // namespace pygrid::bootstrap
