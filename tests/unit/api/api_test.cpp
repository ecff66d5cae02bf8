#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/conditions.h"
#include "api/defaults.h"
#include "api/json.h"
#include "api/naming.h"
#include "api/validation.h"

namespace pygrid::api {
namespace {

using nlohmann::json;

PyGridCluster ValidCluster() {
  PyGridCluster cluster;
  cluster.metadata.name = "mnist";
  cluster.metadata.namespace_name = "default";
  cluster.spec.credentials_secret_ref.name = "genesis-credentials";
  cluster.spec.network.allowed_source_cidrs = {"203.0.113.0/24"};
  ApplyDefaults(cluster.spec);
  return cluster;
}

TEST(DefaultsTest, FlavourDefaultsFollowPyGridHistory) {
  ClusterSpec gateway2020;
  ApplyDefaults(gateway2020);
  EXPECT_EQ(gateway2020.pygrid.gateway_image, "openmined/grid-gateway:latest");
  EXPECT_EQ(gateway2020.pygrid.node_image, "openmined/grid-node:latest");
  EXPECT_EQ(gateway2020.pygrid.gateway_port, 5000);
  EXPECT_EQ(gateway2020.pygrid.node_port, 3000);
  ClusterSpec network;
  network.pygrid.flavor = Flavor::kNetwork02;
  ApplyDefaults(network);
  EXPECT_EQ(network.pygrid.gateway_image, "openmined/grid-network:production");
  EXPECT_EQ(network.pygrid.node_image, "openmined/grid-node:production");
  EXPECT_EQ(network.pygrid.gateway_port, 7000);
  EXPECT_EQ(network.pygrid.node_port, 5000);
}

TEST(DefaultsTest, ExplicitValuesAreKeptAndDefaultingIsIdempotent) {
  ClusterSpec spec;
  spec.pygrid.gateway_port = 8080;
  spec.image = "ubuntu:20.04";
  ApplyDefaults(spec);
  ClusterSpec again = spec;
  ApplyDefaults(again);
  EXPECT_EQ(spec, again);
  EXPECT_EQ(spec.pygrid.gateway_port, 8080);
  EXPECT_EQ(spec.image, "ubuntu:20.04");
  EXPECT_EQ(spec.credentials_secret_ref.key, "token");
  EXPECT_EQ(spec.region, "ARC-IS-HAF-1");
}

TEST(DefaultsTest, SecurityGroupNameIsUniquePerClusterUnlessNamed) {
  ClusterSpec spec;
  EXPECT_EQ(SecurityGroupNameFor("mnist", "0a1b2c3d-1111", spec), "pygrid-mnist-0a1b2c3d");
  EXPECT_NE(SecurityGroupNameFor("mnist", "0a1b2c3d-1111", spec),
            SecurityGroupNameFor("mnist", "9f8e7d6c-2222", spec))
      << "same name, two namespaces: two groups";
  spec.network.security_group_name = "shared";
  EXPECT_EQ(SecurityGroupNameFor("mnist", "0a1b2c3d-1111", spec), "shared");
}

TEST(NamingTest, SharedSecurityGroupIsNamedByRegionAndPortSet) {
  EXPECT_EQ(SharedSecurityGroupNameFor("ARC-IS-HAF-1", {5000, 22, 3000}),
            "pygrid-ports-22-3000-5000-arc-is-haf-1");
  EXPECT_EQ(SharedSecurityGroupNameFor("ARC-IS-HAF-1", {22, 5000, 5000}),
            SharedSecurityGroupNameFor("ARC-IS-HAF-1", {5000, 22}))
      << "a set: order and repeats do not matter";
  EXPECT_NE(SharedSecurityGroupNameFor("ARC-IS-HAF-1", {22, 5000}),
            SharedSecurityGroupNameFor("NORD-NO-KRS-1", {22, 5000}));
  EXPECT_EQ(SharedSecurityGroupNameFor("", {22}), "pygrid-ports-22");
}

TEST(JsonTest, RoundTripIsLossless) {
  PyGridCluster cluster = ValidCluster();
  cluster.metadata.uid = "0a1b2c3d-4e5f";
  cluster.metadata.generation = 3;
  cluster.metadata.resource_version = "42";
  cluster.metadata.finalizers = {kFinalizer};
  cluster.spec.ssh_key_names = {"laptop"};
  cluster.spec.deletion_policy = DeletionPolicy::kRetain;
  cluster.spec.gpu_driver = GpuDriver::kNone;
  cluster.status.phase = Phase::kProvisioning;
  cluster.status.endpoint = "http://198.51.100.1:5000";
  cluster.status.gateway = GatewayStatus{"mnist-0a1b2c3d-gateway", "mnist-0a1b2c3d-gateway-1f2e", "id-1",   "198.51.100.1",
                                         "192.168.10.2",           "active", true,
                                         "ssh-ed25519 AAAA", "2026-11-26T04:00:00Z", "a1b2", 2, "2026-11-26T04:10:00Z"};
  cluster.status.workers.push_back(
      {"mnist-0a1b2c3d-worker-0", 0, "worker-0", "id-2", "", "", "creating", false, false, "", "2026-11-26T04:00:01Z", "192.168.10.2", "c3d4", 1, "2026-11-26T04:20:00Z"});
  cluster.status.desired_workers = 1;
  cluster.status.observed_generation = 3;
  cluster.status.conditions.push_back(
      {kConditionReady, "False", 3, "2026-11-26T04:00:00Z", "WorkersNotReady", "0/1 workers"});
  StatusOr<PyGridCluster> parsed = ClusterFromJson(ClusterToJson(cluster));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->spec, cluster.spec);
  EXPECT_EQ(parsed->status, cluster.status);
  EXPECT_EQ(parsed->metadata.finalizers, cluster.metadata.finalizers);
  EXPECT_EQ(parsed->metadata.generation, 3);
  EXPECT_EQ(ClusterToJson(cluster)["status"]["readyText"], "0/1");
}

TEST(JsonTest, IntOrStringFieldsKeepTheirJsonType) {
  PyGridCluster cluster = ValidCluster();
  cluster.spec.workers.max_unavailable = "2";
  cluster.spec.workers.max_unhealthy = "40%";
  json written = ClusterToJson(cluster);
  EXPECT_EQ(written["spec"]["workers"]["maxUnavailable"], json(2));
  EXPECT_EQ(written["spec"]["workers"]["maxUnhealthy"], json("40%"));
  written["spec"]["workers"]["maxUnavailable"] = "25%";
  StatusOr<PyGridCluster> parsed = ClusterFromJson(written);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->spec.workers.max_unavailable, "25%");
  written["spec"]["workers"]["maxUnavailable"] = true;
  parsed = ClusterFromJson(written);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().causes().at(0).field, "spec.workers.maxUnavailable");
}

TEST(JsonTest, UnknownFieldsAreToleratedAndTypeErrorsNamed) {
  json object = {{"apiVersion", kApiVersion},
                 {"kind", kKind},
                 {"metadata", {{"name", "m"}, {"labels", {{"a", "b"}}}}},
                 {"spec",
                  {{"futureField", {{"x", 1}}},
                   {"workers", {{"replicas", "three"}}},
                   {"pygrid", {{"flavor", "syft"}}},
                   {"sshKeyNames", {"ok", 5}}}}};
  StatusOr<PyGridCluster> parsed = ClusterFromJson(object);
  ASSERT_FALSE(parsed.ok());
  EXPECT_TRUE(parsed.status().IsInvalid());
  std::vector<std::string> fields;
  for (const FieldCause& cause : parsed.status().causes()) fields.push_back(cause.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"spec.sshKeyNames[1]", "spec.workers.replicas",
                                              "spec.pygrid.flavor"}));
}

TEST(ValidationTest, ValidClusterHasNoErrors) {
  EXPECT_TRUE(ValidateCluster(ValidCluster()).empty());
}

TEST(ValidationTest, ReplicasMessageMatchesTheDocumentedWording) {
  PyGridCluster cluster = ValidCluster();
  cluster.spec.workers.replicas = 500;
  std::vector<FieldCause> errors = ValidateCluster(cluster);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(JoinCauses(errors), "spec.workers.replicas: must be between 0 and 100");
}

TEST(ValidationTest, ReportsEveryErrorNotJustTheFirst) {
  PyGridCluster cluster = ValidCluster();
  cluster.spec.workers.replicas = -3;
  cluster.spec.region = "iceland";
  cluster.spec.network.allowed_source_cidrs = {"10.0.0.0/8", "nope"};
  std::vector<FieldCause> errors = ValidateCluster(cluster);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].field, "spec.region");
  EXPECT_EQ(errors[1].field, "spec.workers.replicas");
  EXPECT_EQ(errors[2].field, "spec.network.allowedSourceCIDRs[1]");
}

TEST(ValidationTest, ClusterNameMustFitInstanceHostnames) {
  PyGridCluster cluster = ValidCluster();
  cluster.metadata.name = std::string(41, 'a');
  ASSERT_EQ(ValidateCluster(cluster).size(), 1u);
  EXPECT_EQ(ValidateCluster(cluster)[0].field, "metadata.name");
  cluster.metadata.name = std::string(40, 'a');
  EXPECT_TRUE(ValidateCluster(cluster).empty());
  cluster.metadata.name = "has.dot";
  EXPECT_EQ(ValidateCluster(cluster).size(), 1u);
}

TEST(ValidationTest, ColocatedWorkerNeedsDistinctPorts) {
  PyGridCluster cluster = ValidCluster();
  cluster.spec.pygrid.node_port = cluster.spec.pygrid.gateway_port;
  ASSERT_EQ(ValidateCluster(cluster).size(), 1u);
  EXPECT_EQ(ValidateCluster(cluster)[0].field, "spec.pygrid.nodePort");
  cluster.spec.gateway.colocated_worker = false;
  EXPECT_TRUE(ValidateCluster(cluster).empty());
}

TEST(ValidationTest, DuplicateSshKeyNamesAreRejected) {
  PyGridCluster cluster = ValidCluster();
  cluster.spec.ssh_key_names = {"a", "b", "a"};
  ASSERT_EQ(ValidateCluster(cluster).size(), 1u);
  EXPECT_EQ(ValidateCluster(cluster)[0].field, "spec.sshKeyNames[2]");
}

TEST(ConditionsTest, TransitionTimeChangesOnlyWithStatus) {
  std::vector<Condition> conditions;
  const auto t0 = std::chrono::system_clock::from_time_t(1767225600);  // 2026-01-01T00:00:00Z
  EXPECT_TRUE(SetCondition(conditions, {kConditionReady, "False", 1, "", "Provisioning", "a"}, t0));
  EXPECT_EQ(conditions[0].last_transition_time, "2026-01-01T00:00:00Z");
  // Same status, new message: changed, but the transition time stays.
  EXPECT_TRUE(SetCondition(conditions, {kConditionReady, "False", 1, "", "Provisioning", "b"},
                           t0 + std::chrono::minutes(1)));
  EXPECT_EQ(conditions[0].last_transition_time, "2026-01-01T00:00:00Z");
  EXPECT_EQ(conditions[0].message, "b");
  // Identical: nothing changes.
  EXPECT_FALSE(SetCondition(conditions, {kConditionReady, "False", 1, "", "Provisioning", "b"},
                            t0 + std::chrono::minutes(2)));
  // Status flips: new transition time.
  EXPECT_TRUE(SetCondition(conditions, {kConditionReady, "True", 1, "", "Ready", ""},
                           t0 + std::chrono::minutes(3)));
  EXPECT_EQ(conditions[0].last_transition_time, "2026-01-01T00:03:00Z");
  EXPECT_TRUE(IsConditionTrue(conditions, kConditionReady));
  EXPECT_EQ(FindCondition(conditions, kConditionSpecValid), nullptr);
  EXPECT_EQ(conditions.size(), 1u);
}

}  // namespace
}  // namespace pygrid::api
