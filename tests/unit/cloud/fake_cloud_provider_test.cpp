// The fake keeps the CloudProvider contract the controller relies on: ambiguous creates that
// did happen, name lookup across the list, scripted failures, reserved group names.
#include "unit/cloud/fake_cloud_provider.h"

#include <gtest/gtest.h>

namespace pygrid::cloud::testing {
namespace {

TEST(FakeCloudProviderTest, LostCreateHappenedAndIsFoundByName) {
  FakeCloudProvider cloud;
  cloud.LoseNextCreate();
  CreateInstanceRequest req{"c-gateway", "", "t", "img", {}, {}, "#cloud-config\n", ""};
  auto created = cloud.CreateInstance(req);
  ASSERT_FALSE(created.ok());
  EXPECT_TRUE(IsAmbiguousCreateFailure(created.status()));
  auto found = cloud.FindInstanceByName("c-gateway");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->status, "enqueued");
  EXPECT_EQ(cloud.last_create().startup_script, "#cloud-config\n");
}

TEST(FakeCloudProviderTest, ScriptedFailuresAndStatusChanges) {
  FakeCloudProvider cloud;
  cloud.FailNext("ListInstances", Status::RateLimited("slow down"));
  EXPECT_TRUE(cloud.ListInstances().status().IsRateLimited());
  EXPECT_TRUE(cloud.ListInstances().ok());
  EXPECT_EQ(cloud.Calls("ListInstances"), 2);
  auto i = cloud.CreateInstance({"w", "", "t", "img", {}, {}, "", ""});
  ASSERT_TRUE(i.ok());
  ASSERT_TRUE(cloud.SetStatus(i->id, "active", "127.0.1.1", "127.0.2.1"));
  EXPECT_EQ(*cloud.GetInstance(i->id)->private_ip, "127.0.2.1");
  EXPECT_TRUE(cloud.DeleteInstance(i->id).ok());
  EXPECT_EQ(cloud.GetInstance(i->id)->status, "deleting");
  cloud.Remove(i->id);
  EXPECT_TRUE(cloud.GetInstance(i->id).status().IsNotFound());
  EXPECT_TRUE(cloud.CreateSecurityGroup("standard", "", "", {}).status().IsInvalid());
  StatusOr<SecurityGroup> group = cloud.CreateSecurityGroup("pygrid", "", "", {});
  ASSERT_TRUE(group.ok());
  EXPECT_EQ(group->status, "creating");
  ASSERT_TRUE(cloud.SetGroupStatus(group->id, "created"));
  EXPECT_EQ(cloud.ListSecurityGroups()->at(0).status, "created");
}

}  // namespace
}  // namespace pygrid::cloud::testing
