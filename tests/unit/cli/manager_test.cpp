#include "cli/manager.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

}  // namespace
}  // namespace pygrid::cli
