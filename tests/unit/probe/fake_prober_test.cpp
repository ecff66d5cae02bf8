// The fake answers what it was told, defaults to "not there yet", and records calls.
#include "unit/probe/fake_prober.h"

#include <gtest/gtest.h>

namespace pygrid::probe {
namespace {

TEST(FakeProberTest, AnswersWhatWasSetAndDefaultsToNotThereYet) {
  FakeProber fake;
  GatewayProbe up;
  up.answers = true;
  up.connected_nodes = {"c-0a1b2c3d-worker-0"};
  fake.SetGateway("http://10.0.0.1:7000", up);
  fake.SetMarker("10.0.0.2", MarkerProbe{MarkerState::kFailed, "boom"});
  fake.SetMarker("10.0.0.3", Status::Unauthorized("rejected"));

  StatusOr<GatewayProbe> gateway =
      fake.ProbeGateway("http://10.0.0.1:7000", api::Flavor::kNetwork02);
  ASSERT_TRUE(gateway.ok());
  EXPECT_TRUE(gateway->answers);
  EXPECT_EQ(gateway->connected_nodes.count("c-0a1b2c3d-worker-0"), 1u);
  StatusOr<GatewayProbe> unknown =
      fake.ProbeGateway("http://10.0.0.9:7000", api::Flavor::kNetwork02);
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->answers);

  SshTarget target;
  target.host = "10.0.0.2";
  EXPECT_EQ(fake.ProbeMarker(target)->state, MarkerState::kFailed);
  target.host = "10.0.0.3";
  EXPECT_TRUE(fake.ProbeMarker(target).status().IsUnauthorized());
  target.host = "10.0.0.4";
  EXPECT_EQ(fake.ProbeMarker(target)->state, MarkerState::kUnreachable);

  EXPECT_EQ(fake.gateway_calls().size(), 2u);
  EXPECT_EQ(fake.gateway_calls()[0].second, api::Flavor::kNetwork02);
  ASSERT_EQ(fake.marker_targets().size(), 3u);
  EXPECT_EQ(fake.marker_targets()[2].host, "10.0.0.4");

  fake.Clear();
  target.host = "10.0.0.2";
  EXPECT_EQ(fake.ProbeMarker(target)->state, MarkerState::kUnreachable);
}

TEST(FakeProberTest, DeliveriesSucceedUnlessSetAndAreRecorded) {
  FakeProber fake;
  fake.SetDelivery("10.0.0.3", Status::Unavailable("no inbox yet"));
  fake.SetMarker("10.0.0.2", MarkerProbe{MarkerState::kPending, kWaitingForGatewayAddress,
                                         "http://10.0.0.1:7000"});
  SshTarget target;
  target.host = "10.0.0.2";
  EXPECT_TRUE(fake.DeliverGateway(target, "http://10.0.0.1:7000").ok());
  EXPECT_EQ(fake.ProbeMarker(target)->delivered_gateway_url, "http://10.0.0.1:7000");
  target.host = "10.0.0.3";
  EXPECT_TRUE(fake.DeliverGateway(target, "http://10.0.0.1:7000").IsUnavailable());
  EXPECT_EQ(fake.delivery_calls(),
            (std::vector<std::pair<std::string, std::string>>{
                {"10.0.0.2", "http://10.0.0.1:7000"}, {"10.0.0.3", "http://10.0.0.1:7000"}}));
  fake.Clear();
  EXPECT_TRUE(fake.DeliverGateway(target, "http://10.0.0.1:7000").ok());
}

}  // namespace
}  // namespace pygrid::probe
