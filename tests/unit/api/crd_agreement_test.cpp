// Runs the same PyGridCluster examples through the CRD's OpenAPI schema and through the
// operator's own validation (operator/api), so the two cannot drift apart.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "api/defaults.h"
#include "api/json.h"
#include "api/validation.h"
#include "bootstrap/yaml_json.h"
#include "schema_validator.h"

namespace pygrid::api {
namespace {

using nlohmann::json;
using testing::SchemaValidator;

constexpr char kBase[] = R"(
credentialsSecretRef: {name: genesis-credentials}
network: {allowedSourceCIDRs: [203.0.113.0/24]}
)";

struct Example {
  const char* name;
  const char* spec_yaml;      // merged over kBase (a JSON merge patch)
  const char* invalid_field;  // "" when valid; else the field both validators must name
};

// Every example is checked by both validators. Fields are named as kubectl names them.
const Example kExamples[] = {
    {"minimal", "{}", ""},
    {"full", R"({region: NORD-NO-KRS-1, image: Ubuntu 20.04, sshKeyNames: [laptop, ci@build],
      gateway: {instanceType: vcpu-4_memory-12g_disk-80g_nvidia1080ti-1, colocatedWorker: false},
      workers: {replicas: 8, instanceType: vcpu-8_memory-32g_nvidia-rtx-3080-1},
      pygrid: {flavor: network-0.2, gatewayImage: openmined/grid-network:production,
               nodeImage: openmined/grid-node:production, gatewayPort: 7000, nodePort: 5000},
      gpu: {driver: nvidia}, network: {securityGroupName: pygrid-mnist,
      allowedSourceCIDRs: [0.0.0.0/0, 198.51.100.7/32]}, suspend: true, deletionPolicy: Retain})",
     ""},
    {"replicas zero", "{workers: {replicas: 0}}", ""},
    {"replicas hundred", "{workers: {replicas: 100}}", ""},
    {"replicas too many", "{workers: {replicas: 101}}", "spec.workers.replicas"},
    {"replicas negative", "{workers: {replicas: -1}}", "spec.workers.replicas"},
    {"replicas not a number", "{workers: {replicas: two}}", "spec.workers.replicas"},
    {"unknown flavor", "{pygrid: {flavor: syft-0.5}}", "spec.pygrid.flavor"},
    {"unknown gpu driver", "{gpu: {driver: amd}}", "spec.gpu.driver"},
    {"unknown deletion policy", "{deletionPolicy: Orphan}", "spec.deletionPolicy"},
    {"region lower case", "{region: arc-is-haf-1}", "spec.region"},
    {"cpu instance type",
     "{workers: {instanceType: vcpu-2_memory-4g_disk-80g}, gpu: {driver: none}}", ""},
    {"new instance type naming", "{gateway: {instanceType: vcpu-4_memory-24g_nvidia-rtx-3090-1}}",
     ""},
    {"bad instance type", "{workers: {instanceType: gpu-large}}", "spec.workers.instanceType"},
    {"secret name upper case", "{credentialsSecretRef: {name: Genesis}}",
     "spec.credentialsSecretRef.name"},
    {"secret key with slash", "{credentialsSecretRef: {name: creds, key: a/b}}",
     "spec.credentialsSecretRef.key"},
    {"secret key custom", "{credentialsSecretRef: {name: creds, key: api.token}}", ""},
    {"image slug", "{image: 'ubuntu:22.04'}", ""},
    {"image id", "{image: 45d06539-2d8c-4b4c-9c52-7c1a27bd2b7e}", ""},
    {"image with newline", "{image: \"Ubuntu\\n22.04\"}", "spec.image"},
    {"ssh key names too many", "{sshKeyNames: [a, b, c, d, e, f, g, h, i, j, k]}",
     "spec.sshKeyNames"},
    {"ssh key name with quote", "{sshKeyNames: [\"it's\"]}", "spec.sshKeyNames[0]"},
    {"gateway image with registry port",
     "{pygrid: {gatewayImage: 'registry.example.com:5000/pygrid/gateway:v1'}}", ""},
    {"node image by digest",
     "{pygrid: {nodeImage: "
     "'openmined/"
     "grid-node@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}}",
     ""},
    {"gateway image with quotes", "{pygrid: {gatewayImage: 'evil\"image'}}",
     "spec.pygrid.gatewayImage"},
    {"node image with command substitution", "{pygrid: {nodeImage: '$(reboot)'}}",
     "spec.pygrid.nodeImage"},
    {"gateway port too high", "{pygrid: {gatewayPort: 70000}}", "spec.pygrid.gatewayPort"},
    {"node port ssh", "{pygrid: {nodePort: 22}}", "spec.pygrid.nodePort"},
    {"custom ports", "{pygrid: {gatewayPort: 8080, nodePort: 8081}}", ""},
    {"security group reserved standard",
     "{network: {securityGroupName: standard, allowedSourceCIDRs: [10.0.0.0/8]}}",
     "spec.network.securityGroupName"},
    {"security group reserved default",
     "{network: {securityGroupName: default, allowedSourceCIDRs: [10.0.0.0/8]}}",
     "spec.network.securityGroupName"},
    {"security group with space",
     "{network: {securityGroupName: my group, allowedSourceCIDRs: [10.0.0.0/8]}}",
     "spec.network.securityGroupName"},
    {"no cidrs", "{network: {allowedSourceCIDRs: []}}", "spec.network.allowedSourceCIDRs"},
    {"cidr prefix too long", "{network: {allowedSourceCIDRs: [10.0.0.0/33]}}",
     "spec.network.allowedSourceCIDRs[0]"},
    {"cidr octet too big", "{network: {allowedSourceCIDRs: [256.1.1.1/8]}}",
     "spec.network.allowedSourceCIDRs[0]"},
    {"cidr without prefix", "{network: {allowedSourceCIDRs: [203.0.113.7]}}",
     "spec.network.allowedSourceCIDRs[0]"},
    {"too many cidrs",
     "{network: {allowedSourceCIDRs: [1.0.0.0/8, 2.0.0.0/8, 3.0.0.0/8, 4.0.0.0/8, 5.0.0.0/8, "
     "6.0.0.0/8, 7.0.0.0/8, 8.0.0.0/8, 9.0.0.0/8, 10.0.0.0/8, 11.0.0.0/8, 12.0.0.0/8, 13.0.0.0/8, "
     "14.0.0.0/8, 15.0.0.0/8, 16.0.0.0/8, 17.0.0.0/8, 18.0.0.0/8, 19.0.0.0/8, 20.0.0.0/8, "
     "21.0.0.0/8]}}",
     "spec.network.allowedSourceCIDRs"},
    {"suspend not a boolean", "{suspend: yes-please}", "spec.suspend"},
    {"colocated worker as string", "{gateway: {colocatedWorker: 'true'}}",
     "spec.gateway.colocatedWorker"},
    {"unknown field is tolerated", "{futureField: 1}", ""},
    {"provisioning timeout hours", "{provisioningTimeout: 2h}", ""},
    {"provisioning timeout in words", "{provisioningTimeout: 45 minutes}",
     "spec.provisioningTimeout"},
    {"provisioning timeout days", "{provisioningTimeout: 2d}", "spec.provisioningTimeout"},
    {"max unavailable count", "{workers: {maxUnavailable: 2}}", ""},
    {"max unavailable percent", "{workers: {maxUnavailable: 25%}}", ""},
    {"max unavailable count as string", "{workers: {maxUnavailable: '3'}}", ""},
    {"max unavailable zero", "{workers: {maxUnavailable: 0}}", "spec.workers.maxUnavailable"},
    {"max unavailable zero percent", "{workers: {maxUnavailable: 0%}}",
     "spec.workers.maxUnavailable"},
    {"max unavailable above all", "{workers: {maxUnavailable: 101%}}",
     "spec.workers.maxUnavailable"},
    {"max unavailable a list", "{workers: {maxUnavailable: [1]}}", "spec.workers.maxUnavailable"},
    {"max unavailable fraction", "{workers: {maxUnavailable: 0.5}}",
     "spec.workers.maxUnavailable"},
    {"max unhealthy count", "{workers: {maxUnhealthy: 0}}", ""},
    {"max unhealthy percent string", "{workers: {maxUnhealthy: 60%}}", ""},
    {"max unhealthy too many", "{workers: {maxUnhealthy: 101}}", "spec.workers.maxUnhealthy"},
    {"max unhealthy leading zero", "{workers: {maxUnhealthy: '07'}}",
     "spec.workers.maxUnhealthy"},
};

// Merges an example over the base spec, as a JSON merge patch (RFC 7386) would.
json SpecFor(const Example& example) {
  json spec = *bootstrap::YamlToJson(kBase);
  spec.merge_patch(*bootstrap::YamlToJson(example.spec_yaml));
  return spec;
}

std::vector<std::string> OperatorErrors(const json& spec_json) {
  StatusOr<ClusterSpec> spec = SpecFromJson(spec_json);
  std::vector<std::string> fields;
  if (!spec.ok()) {
    for (const FieldCause& cause : spec.status().causes()) fields.push_back(cause.field);
    return fields;
  }
  ApplyDefaults(*spec);
  for (const FieldCause& cause : ValidateSpec(*spec)) fields.push_back(cause.field);
  return fields;
}

std::vector<std::string> SchemaErrors(const json& spec_json) {
  static const SchemaValidator validator = SchemaValidator::FromCrdFile(
      std::string(PYGRID_SOURCE_DIR) + "/crds/pygridclusters.distributor.pygrid.dev.yaml");
  json object = {{"apiVersion", kApiVersion},
                 {"kind", kKind},
                 {"metadata", {{"name", "mnist"}}},
                 {"spec", spec_json}};
  return validator.Validate(object);
}

bool Names(const std::vector<std::string>& errors, const std::string& field) {
  return std::find(errors.begin(), errors.end(), field) != errors.end();
}

TEST(CrdAgreementTest, HasAtLeastThirtyExamplesWithBothVerdicts) {
  int valid = 0, invalid = 0;
  for (const Example& example : kExamples)
    (std::string(example.invalid_field).empty() ? valid : invalid)++;
  EXPECT_GE(valid + invalid, 30);
  EXPECT_GE(valid, 10);
  EXPECT_GE(invalid, 20);
}

class CrdAgreementCase : public ::testing::TestWithParam<Example> {};

TEST_P(CrdAgreementCase, SchemaAndOperatorAgree) {
  const Example& example = GetParam();
  const json spec = SpecFor(example);
  const std::vector<std::string> schema_errors = SchemaErrors(spec);
  const std::vector<std::string> operator_errors = OperatorErrors(spec);
  const std::string expected = example.invalid_field;
  if (expected.empty()) {
    EXPECT_TRUE(schema_errors.empty())
        << "CRD rejects: " << ::testing::PrintToString(schema_errors);
    EXPECT_TRUE(operator_errors.empty())
        << "operator rejects: " << ::testing::PrintToString(operator_errors);
  } else {
    EXPECT_TRUE(Names(schema_errors, expected))
        << "CRD errors " << ::testing::PrintToString(schema_errors) << " do not name " << expected;
    EXPECT_TRUE(Names(operator_errors, expected))
        << "operator errors " << ::testing::PrintToString(operator_errors) << " do not name "
        << expected;
  }
}

std::string CaseName(const ::testing::TestParamInfo<Example>& info) {
  std::string name = info.param.name;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Examples, CrdAgreementCase, ::testing::ValuesIn(kExamples), CaseName);

TEST(CrdAgreementTest, RequiredFieldsAreRequiredByBoth) {
  json no_secret = {{"network", {{"allowedSourceCIDRs", {"203.0.113.0/24"}}}}};
  EXPECT_TRUE(Names(SchemaErrors(no_secret), "spec.credentialsSecretRef"));
  EXPECT_TRUE(Names(OperatorErrors(no_secret), "spec.credentialsSecretRef.name"));
  json no_network = {{"credentialsSecretRef", {{"name", "creds"}}}};
  EXPECT_TRUE(Names(SchemaErrors(no_network), "spec.network"));
  EXPECT_TRUE(Names(OperatorErrors(no_network), "spec.network.allowedSourceCIDRs"));
}

TEST(CrdAgreementTest, SchemaDefaultsEqualOperatorDefaults) {
  json object = {{"apiVersion", kApiVersion},
                 {"kind", kKind},
                 {"metadata", {{"name", "m"}}},
                 {"spec", SpecFor(kExamples[0])}};
  static const SchemaValidator validator = SchemaValidator::FromCrdFile(
      std::string(PYGRID_SOURCE_DIR) + "/crds/pygridclusters.distributor.pygrid.dev.yaml");
  ASSERT_TRUE(validator.Validate(object).empty());
  StatusOr<ClusterSpec> from_schema = SpecFromJson(object["spec"]);
  ASSERT_TRUE(from_schema.ok());
  ClusterSpec defaulted = *SpecFromJson(SpecFor(kExamples[0]));
  ApplyDefaults(defaulted);
  ClusterSpec schema_spec = *from_schema;
  ApplyDefaults(schema_spec);  // only fills the per-flavour images and ports
  EXPECT_EQ(schema_spec, defaulted);
  // The schema itself must have filled these (not the operator's ApplyDefaults):
  EXPECT_EQ(object["spec"]["region"], kDefaultRegion);
  EXPECT_EQ(object["spec"]["image"], kDefaultImage);
  EXPECT_EQ(object["spec"]["credentialsSecretRef"]["key"], kDefaultSecretKey);
  EXPECT_EQ(object["spec"]["workers"]["replicas"], 1);
  EXPECT_EQ(object["spec"]["workers"]["instanceType"], kDefaultInstanceType);
  EXPECT_EQ(object["spec"]["gateway"]["instanceType"], kDefaultInstanceType);
  EXPECT_EQ(object["spec"]["gateway"]["colocatedWorker"], true);
  EXPECT_EQ(object["spec"]["pygrid"]["flavor"], "gateway-2020");
  EXPECT_EQ(object["spec"]["gpu"]["driver"], "nvidia");
  EXPECT_EQ(object["spec"]["deletionPolicy"], "Delete");
  EXPECT_EQ(object["spec"]["suspend"], false);
}

}  // namespace
}  // namespace pygrid::api
