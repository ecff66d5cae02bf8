#include "cli/manager.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/run_command.h"

namespace pygrid::cli {
namespace {

using nlohmann::json;

json Object(int generation, json status = json::object()) {
  return {{"metadata", {{"name", "m"}, {"generation", generation}, {"resourceVersion", "1"}}},
          {"spec", {{"workers", {{"replicas", generation}}}}},
          {"status", std::move(status)}};
}

TEST(NeedsReconcileTest, StatusOnlyUpdatesDoNotEnqueue) {
  json before = Object(1);
  json after = Object(1, {{"phase", "Ready"}});
  after["metadata"]["resourceVersion"] = "2";
  EXPECT_FALSE(NeedsReconcile(before, after));
}

TEST(NeedsReconcileTest, SpecDeletionAndFinalizerChangesEnqueue) {
  EXPECT_TRUE(NeedsReconcile(Object(1), Object(2)));
  json deleting = Object(1);
  deleting["metadata"]["deletionTimestamp"] = "2026-11-26T05:00:00Z";
  EXPECT_TRUE(NeedsReconcile(Object(1), deleting));
  json finalized = Object(1);
  finalized["metadata"]["finalizers"] = {"distributor.pygrid.dev/cleanup"};
  EXPECT_TRUE(NeedsReconcile(Object(1), finalized));
}

// Metrics flags as kubebuilder v4 scaffolds them: secure by default on :8443.
TEST(MetricsFlagsTest, SecureByDefaultPlainHttpOnRequest) {
  auto defaults = ParseRunFlags({});
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_TRUE(defaults->manager.metrics_secure);
  EXPECT_EQ(defaults->manager.metrics_bind_address, ":8443");
  EXPECT_EQ(defaults->manager.metrics_cert_dir, "");
  EXPECT_FALSE(defaults->manager.enable_http2);

  auto plain = ParseRunFlags({"--metrics-secure=false"});
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_FALSE(plain->manager.metrics_secure);
  EXPECT_EQ(plain->manager.metrics_bind_address, ":8080");

  auto chosen = ParseRunFlags({"--metrics-secure=false", "--metrics-bind-address=127.0.0.1:0"});
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(chosen->manager.metrics_bind_address, "127.0.0.1:0");

  auto explicit_on = ParseRunFlags({"--metrics-secure", "--metrics-cert-dir=/certs",
                                    "--enable-http2", "--metrics-bind-address=:9443"});
  ASSERT_TRUE(explicit_on.ok()) << explicit_on.status().ToString();
  EXPECT_TRUE(explicit_on->manager.metrics_secure);
  EXPECT_EQ(explicit_on->manager.metrics_cert_dir, "/certs");
  EXPECT_TRUE(explicit_on->manager.enable_http2);
  EXPECT_EQ(explicit_on->manager.metrics_bind_address, ":9443");

  EXPECT_TRUE(ParseRunFlags({"--metrics-secure=maybe"}).status().IsInvalid());
  EXPECT_NE(defaults->usage.find("--metrics-secure"), std::string::npos);
  EXPECT_NE(defaults->usage.find("--enable-http2"), std::string::npos);
}

// The Kubernetes client-side limit: 100/s burst 200 unless set; 0 turns it off; a limit
// without a burst is refused.
TEST(RunFlagsTest, KubeApiRateLimit) {
  auto defaults = ParseRunFlags({});
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->manager.kube_api_qps, 100);
  EXPECT_EQ(defaults->manager.kube_api_burst, 200);
  auto chosen = ParseRunFlags({"--kube-api-qps=20", "--kube-api-burst=30"});
  ASSERT_TRUE(chosen.ok()) << chosen.status().ToString();
  EXPECT_EQ(chosen->manager.kube_api_qps, 20);
  EXPECT_EQ(chosen->manager.kube_api_burst, 30);
  auto off = ParseRunFlags({"--kube-api-qps=0", "--kube-api-burst=0"});
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(off->manager.kube_api_qps, 0);
  EXPECT_TRUE(ParseRunFlags({"--kube-api-qps=5", "--kube-api-burst=0"}).status().IsInvalid());
  EXPECT_NE(defaults->usage.find("--kube-api-qps"), std::string::npos);
}

}  // namespace
}  // namespace pygrid::cli
