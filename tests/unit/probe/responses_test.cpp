// The pure parsers behind the probes: gateway root recognition per flavour, /connected-nodes,
// the marker command's output, and message sanitising.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "probe/internal/probes.h"

namespace pygrid::probe::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct RootCase {
  api::Flavor flavor;
  int status;
  std::string content_type;
  std::string body;
  bool gateway;
};

TEST(IsGatewayRootTest, RecognisesEachFlavourOnly) {
  const std::vector<RootCase> cases = {
      {api::Flavor::kNetwork02, 200, "text/html; charset=utf-8", "Open Grid Network", true},
      {api::Flavor::kNetwork02, 200, "", "Open Grid Network\n", true},
      {api::Flavor::kNetwork02, 200, "text/html", "<html>PyGrid Node</html>", false},
      {api::Flavor::kNetwork02, 503, "text/plain", "Open Grid Network", false},
      {api::Flavor::kNetwork02, 200, "text/plain", "open grid", false},
      {api::Flavor::kGateway2020, 200, "text/html; charset=utf-8", "<!doctype html>", true},
      {api::Flavor::kGateway2020, 200, "TEXT/HTML", "", true},
      {api::Flavor::kGateway2020, 200, "text/plain", "<!DOCTYPE html><HTML lang=en>", true},
      {api::Flavor::kGateway2020, 200, "text/plain", "Open Grid Network", false},
      {api::Flavor::kGateway2020, 200, "application/json", "{}", false},
      {api::Flavor::kGateway2020, 404, "text/html", "<html>Not Found</html>", false},
  };
  for (const RootCase& c : cases) {
    std::string why;
    EXPECT_EQ(IsGatewayRoot(c.flavor, c.status, c.content_type, c.body, &why), c.gateway)
        << api::FlavorName(c.flavor) << " " << c.status << " " << c.content_type << " " << c.body;
    EXPECT_EQ(why.empty(), c.gateway) << why;
  }
}

TEST(ParseConnectedNodesTest, ReadsTheIds) {
  StatusOr<std::set<std::string>> ids = ParseConnectedNodes(R"({"grid-nodes": ["b", "a", "b"]})");
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  EXPECT_THAT(*ids, ElementsAre("a", "b"));
  StatusOr<std::set<std::string>> none = ParseConnectedNodes(R"({"grid-nodes": []})");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(ParseConnectedNodesTest, RejectsAnythingElse) {
  for (const std::string body : {"", "[]", "{\"grid-nodes\": \"a\"}", "{\"nodes\": []}",
                                 "{\"grid-nodes\": [1]}", "<html></html>", "{\"grid-nodes\": ["}) {
    StatusOr<std::set<std::string>> ids = ParseConnectedNodes(body);
    EXPECT_FALSE(ids.ok()) << body;
    EXPECT_TRUE(ids.status().IsInvalid()) << body;
  }
}

TEST(ParseMarkerOutputTest, ClassifiesTheThreeForms) {
  StatusOr<MarkerProbe> ready = ParseMarkerOutput("ready\n");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->state, MarkerState::kReady);

  StatusOr<MarkerProbe> failed = ParseMarkerOutput("failed: gateway never answered\n");
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->state, MarkerState::kFailed);
  EXPECT_EQ(failed->detail, "gateway never answered");

  StatusOr<MarkerProbe> failed_empty = ParseMarkerOutput("failed: ");
  ASSERT_TRUE(failed_empty.ok());
  EXPECT_EQ(failed_empty->state, MarkerState::kFailed);
  EXPECT_FALSE(failed_empty->detail.empty());

  StatusOr<MarkerProbe> running = ParseMarkerOutput("pending: status: running\n");
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->state, MarkerState::kPending);
  EXPECT_THAT(running->detail, HasSubstr("status: running"));

  StatusOr<MarkerProbe> booting = ParseMarkerOutput("pending: booting\n");
  ASSERT_TRUE(booting.ok());
  EXPECT_EQ(booting->state, MarkerState::kPending);
  EXPECT_THAT(booting->detail, HasSubstr("booting"));
}

TEST(ParseMarkerOutputTest, AnythingElseIsUnavailable) {
  for (const std::string output : {"", "readyish", "sh: 1: syntax error", "READY"}) {
    StatusOr<MarkerProbe> result = ParseMarkerOutput(output);
    EXPECT_FALSE(result.ok()) << output;
    EXPECT_TRUE(result.status().IsUnavailable()) << output;
  }
}

TEST(ParseMarkerOutputTest, ReadsTheDeliveredGatewayLine) {
  StatusOr<MarkerProbe> ready = ParseMarkerOutput("ready\ngateway: http://10.1.2.3:7000\n");
  ASSERT_TRUE(ready.ok()) << ready.status().ToString();
  EXPECT_EQ(ready->state, MarkerState::kReady);
  EXPECT_EQ(ready->delivered_gateway_url, "http://10.1.2.3:7000");

  StatusOr<MarkerProbe> failed = ParseMarkerOutput(
      "failed: node x did not register at http://10.1.2.3:7000 \n"
      "gateway: http://10.1.2.4:7000\n");
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->state, MarkerState::kFailed);
  EXPECT_EQ(failed->detail, "node x did not register at http://10.1.2.3:7000");
  EXPECT_EQ(failed->delivered_gateway_url, "http://10.1.2.4:7000");

  // Old output, and the state lines alone: no address.
  for (const std::string output : {"ready\n", "pending: status: running\n", "failed: x\n"}) {
    StatusOr<MarkerProbe> result = ParseMarkerOutput(output);
    ASSERT_TRUE(result.ok()) << output;
    EXPECT_EQ(result->delivered_gateway_url, "") << output;
  }
  // What the inbox holds is the login user's to write: anything but an address is none.
  for (const std::string url : {"http://10.1.2.3:7000/x", "http://gw:7000", "$(reboot)", ""}) {
    StatusOr<MarkerProbe> result = ParseMarkerOutput("ready\ngateway: " + url + "\n");
    ASSERT_TRUE(result.ok()) << url;
    EXPECT_EQ(result->state, MarkerState::kReady) << url;
    EXPECT_EQ(result->delivered_gateway_url, "") << url;
  }
  // A gateway line alone is not a marker.
  EXPECT_FALSE(ParseMarkerOutput("gateway: http://10.1.2.3:7000\n").ok());
}

TEST(ParseMarkerOutputTest, WaitingForTheAddressIsPendingWithThatDetail) {
  StatusOr<MarkerProbe> waiting = ParseMarkerOutput("pending: waiting for the gateway address \n");
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(waiting->state, MarkerState::kPending);
  EXPECT_EQ(waiting->detail, kWaitingForGatewayAddress);
  EXPECT_EQ(waiting->delivered_gateway_url, "");
}

TEST(IsGatewayJoinURLTest, AcceptsOnlyHttpDottedQuadAndPort) {
  for (const std::string good : {"http://10.0.0.1:7000", "http://255.255.255.255:65535",
                                 "http://0.0.0.0:1", "http://192.168.10.2:5000"}) {
    EXPECT_TRUE(IsGatewayJoinURL(good)) << good;
  }
  for (const std::string bad : {"",
                                "http://10.0.0.1",
                                "http://10.0.0.1:",
                                "http://10.0.0.1:0",
                                "http://10.0.0.1:65536",
                                "http://10.0.0.1:07000",
                                "http://10.0.0.01:7000",
                                "http://10.0.0.256:7000",
                                "http://10.0.0:7000",
                                "http://10.0.0.1.2:7000",
                                "http://10.0.0.1.:7000",
                                "http://.10.0.0.1:7000",
                                "https://10.0.0.1:7000",
                                "http://gw:7000",
                                "http://10.0.0.1:7000/",
                                "http://10.0.0.1:7000\nx",
                                " http://10.0.0.1:7000",
                                "http://10.0.0.1:7000 ",
                                "http://u@10.0.0.1:7000",
                                "http://10.0.0.1:7000;reboot",
                                "http://10.0.0.1:99999999999"}) {
    EXPECT_FALSE(IsGatewayJoinURL(bad)) << bad;
  }
}

TEST(ParseDeliverOutputTest, AcknowledgementOrReason) {
  EXPECT_TRUE(ParseDeliverOutput("delivered\n", "h:22").ok());
  EXPECT_TRUE(ParseDeliverOutput("delivered; re-joining\n", "h:22").ok());
  Status error = ParseDeliverOutput("error: no inbox yet (pygrid-start has not started)\n", "h:22");
  EXPECT_TRUE(error.IsUnavailable());
  EXPECT_EQ(error.message(),
            "delivering the gateway address to h:22 failed: no inbox yet "
            "(pygrid-start has not started)");
  for (const std::string output : {"", "deliver", "sh: flock: not found"}) {
    EXPECT_TRUE(ParseDeliverOutput(output, "h:22").IsUnavailable()) << output;
  }
}

TEST(PrintableTest, MakesRemoteTextSafeForConditions) {
  EXPECT_EQ(Printable("  line one\nline\ttwo\x1b[31m  ", 100), "line one line two [31m");
  // Invalid UTF-8 (a cut multi-byte character) becomes '?', valid UTF-8 stays.
  EXPECT_EQ(Printable("caf\xc3\xa9 \xc3", 100), "caf\xc3\xa9 ?");
  // Cutting never splits a character.
  EXPECT_EQ(Printable("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9...");
  EXPECT_EQ(Printable(std::string(10, 'a'), 4), "aaaa...");
}

TEST(MarkerStateNameTest, NamesAreCamelCase) {
  EXPECT_STREQ(MarkerStateName(MarkerState::kReady), "Ready");
  EXPECT_STREQ(MarkerStateName(MarkerState::kFailed), "Failed");
  EXPECT_STREQ(MarkerStateName(MarkerState::kPending), "Pending");
  EXPECT_STREQ(MarkerStateName(MarkerState::kUnreachable), "Unreachable");
}

}  // namespace
}  // namespace pygrid::probe::internal
