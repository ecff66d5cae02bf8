// ProbeGateway against a local HTTP server answering as each flavour's gateway (pygrid.md §6),
// as a node, as nothing, and with broken node lists.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

#include "probe/prober.h"
#include "sim/common/http_server.h"
#include "unit/probe/sshd_fixture.h"

namespace pygrid::probe {
namespace {

using sim::HttpRequest;
using sim::HttpResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A gateway stand-in whose answers to / and /connected-nodes the test sets.
class FakeGateway {
 public:
  FakeGateway(HttpResponse root, HttpResponse nodes)
      : root_(std::move(root)),
        nodes_(std::move(nodes)),
        server_({}, [this](const HttpRequest& request) { return Handle(request); }) {}

  bool Start() {
    std::string error;
    return server_.Start(&error);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  std::vector<std::string> paths() const {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }

 private:
  HttpResponse Handle(const HttpRequest& request) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      paths_.push_back(request.method + " " + request.target);
    }
    if (request.path == "/") return root_;
    if (request.path == "/connected-nodes") return nodes_;
    return HttpResponse::Text(404, "text/html", "<h1>Not Found</h1>");
  }

  const HttpResponse root_;
  const HttpResponse nodes_;
  mutable std::mutex mu_;
  std::vector<std::string> paths_;
  sim::HttpServer server_;
};

const HttpResponse kNetworkRoot =
    HttpResponse::Text(200, "text/html; charset=utf-8", "Open Grid Network");
const HttpResponse kGateway2020Root = HttpResponse::Text(
    200, "text/html; charset=utf-8",
    "<!DOCTYPE html>\n<html lang=\"en\"><head><title>PyGrid Gateway</title></head></html>");
const HttpResponse kNodePage = HttpResponse::Text(
    200, "text/html; charset=utf-8", "<!DOCTYPE html><html><title>PyGrid Node</title></html>");
const HttpResponse kTwoNodes =
    HttpResponse::Text(200, "application/json", R"({"grid-nodes": ["mnist-0a1b2c3d-gateway",
    "mnist-0a1b2c3d-worker-0"]})");

// Probes a FakeGateway serving `root` and `nodes` as `flavor`; the probe itself must succeed.
GatewayProbe ProbeServed(const HttpResponse& root, const HttpResponse& nodes, api::Flavor flavor) {
  FakeGateway gateway(root, nodes);
  EXPECT_TRUE(gateway.Start());
  StatusOr<GatewayProbe> probe = MakeProber({})->ProbeGateway(gateway.url(), flavor);
  EXPECT_TRUE(probe.ok()) << probe.status().ToString();
  return probe.ok() ? *probe : GatewayProbe{};
}

TEST(GatewayProbeTest, Network02GatewayAnswersWithItsNodes) {
  FakeGateway gateway(kNetworkRoot, kTwoNodes);
  ASSERT_TRUE(gateway.Start());
  StatusOr<GatewayProbe> probe =
      MakeProber({})->ProbeGateway(gateway.url(), api::Flavor::kNetwork02);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_TRUE(probe->answers) << probe->detail;
  EXPECT_THAT(probe->connected_nodes,
              ElementsAre("mnist-0a1b2c3d-gateway", "mnist-0a1b2c3d-worker-0"));
  EXPECT_THAT(gateway.paths(), ElementsAre("GET /", "GET /connected-nodes"));
}

TEST(GatewayProbeTest, Gateway2020AnswersWithAnHtmlPage) {
  FakeGateway gateway(kGateway2020Root, kTwoNodes);
  ASSERT_TRUE(gateway.Start());
  // A trailing slash on the base URL must not turn into "//".
  StatusOr<GatewayProbe> probe =
      MakeProber({})->ProbeGateway(gateway.url() + "/", api::Flavor::kGateway2020);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_TRUE(probe->answers) << probe->detail;
  EXPECT_EQ(probe->connected_nodes.size(), 2u);
  EXPECT_THAT(gateway.paths(), ElementsAre("GET /", "GET /connected-nodes"));
}

TEST(GatewayProbeTest, ANodePageIsNotANetwork02Gateway) {
  FakeGateway node(kNodePage, kTwoNodes);
  ASSERT_TRUE(node.Start());
  StatusOr<GatewayProbe> probe = MakeProber({})->ProbeGateway(node.url(), api::Flavor::kNetwork02);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_FALSE(probe->answers);
  EXPECT_TRUE(probe->connected_nodes.empty());
  EXPECT_THAT(probe->detail, HasSubstr("not as a network-0.2 gateway"));
  // Nothing is believed from a server that is not the gateway.
  EXPECT_THAT(node.paths(), ElementsAre("GET /"));
}

// A root of another kind or with an error status: not answering. A root that answers with a
// node list that is malformed or fails: answering, with no nodes.
TEST(GatewayProbeTest, WrongRootsDoNotAnswerAndWrongNodeListsHaveNoNodes) {
  const struct {
    HttpResponse root;
    HttpResponse nodes;
    api::Flavor flavor;
    bool answers;
    std::string detail;
  } rows[] = {
      {HttpResponse::Text(200, "text/plain", "Open Grid Network"), kTwoNodes,
       api::Flavor::kGateway2020, false, "not as a gateway-2020 gateway"},
      {HttpResponse::Text(502, "text/html", "<html>Bad Gateway</html>"), kTwoNodes,
       api::Flavor::kGateway2020, false, "HTTP 502"},
      {kNetworkRoot, HttpResponse::Text(200, "application/json", "{\"grid-nodes\""),
       api::Flavor::kNetwork02, true, "malformed"},
      {kNetworkRoot, HttpResponse::Text(500, "text/html", "<html>oops</html>"),
       api::Flavor::kNetwork02, true, "HTTP 500"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.detail);
    const GatewayProbe probe = ProbeServed(row.root, row.nodes, row.flavor);
    EXPECT_EQ(probe.answers, row.answers);
    if (row.answers) {
      EXPECT_TRUE(probe.connected_nodes.empty());
    }
    EXPECT_THAT(probe.detail, HasSubstr(row.detail));
  }
}

TEST(GatewayProbeTest, RefusedPortIsNotAnsweringAndNotAnError) {
  const std::string url = "http://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  StatusOr<GatewayProbe> probe = MakeProber({})->ProbeGateway(url, api::Flavor::kNetwork02);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_FALSE(probe->answers);
  EXPECT_THAT(probe->detail, HasSubstr("does not answer"));
}

TEST(GatewayProbeTest, SilentServerTimesOutAsNotAnswering) {
  testing::SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  ProberOptions options;
  options.http_timeout = std::chrono::milliseconds(500);
  const auto start = std::chrono::steady_clock::now();
  StatusOr<GatewayProbe> probe = MakeProber(options)->ProbeGateway(
      "http://127.0.0.1:" + std::to_string(silent.port()), api::Flavor::kGateway2020);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_FALSE(probe->answers);
  EXPECT_THAT(probe->detail, HasSubstr("does not answer"));
  // Generous: proves the configured timeout applies, not cpprest's default of 30 s.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
}

TEST(GatewayProbeTest, ConcurrentProbesAgree) {
  FakeGateway gateway(kNetworkRoot, kTwoNodes);
  ASSERT_TRUE(gateway.Start());
  ProberPtr prober = MakeProber({});
  constexpr int kThreads = 8;
  std::vector<StatusOr<GatewayProbe>> results(kThreads, Status::Internal("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = prober->ProbeGateway(gateway.url(), api::Flavor::kNetwork02); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const StatusOr<GatewayProbe>& result : results) {
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_TRUE(result->answers) << result->detail;
    EXPECT_EQ(result->connected_nodes.size(), 2u);
  }
}

TEST(GatewayProbeTest, UnusableUrlIsInvalid) {
  for (const std::string url : {"", "not a url", "ftp://127.0.0.1/", "127.0.0.1:7000"}) {
    StatusOr<GatewayProbe> probe = MakeProber({})->ProbeGateway(url, api::Flavor::kNetwork02);
    EXPECT_FALSE(probe.ok()) << url;
    EXPECT_TRUE(probe.status().IsInvalid()) << url << ": " << probe.status().ToString();
  }
}

// A worker node stand-in: answers one path with one response.
class FakeNode {
 public:
  FakeNode(std::string path, HttpResponse answer)
      : path_(std::move(path)),
        answer_(std::move(answer)),
        server_({}, [this](const HttpRequest& request) {
          if (request.path == path_) return answer_;
          return HttpResponse::Text(404, "text/html", "<h1>Not Found</h1>");
        }) {}
  bool Start() {
    std::string error;
    return server_.Start(&error);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

 private:
  const std::string path_;
  const HttpResponse answer_;
  sim::HttpServer server_;
};

TEST(NodeProbeTest, Network02NodeAnswersWithItsIdentity) {
  FakeNode node(
      "/data-centric/identity/",
      HttpResponse::Text(200, "application/json",
                         R"({"success": true, "identity": "mnist-0a1b2c3d-worker-0-7f"})"));
  ASSERT_TRUE(node.Start());
  ProberPtr prober = MakeProber({});
  StatusOr<NodeProbe> probe =
      prober->ProbeNode(node.url(), api::Flavor::kNetwork02, "mnist-0a1b2c3d-worker-0-7f");
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_TRUE(probe->answers) << probe->detail;
  // Another node at that address (an address reused by a replacement) is not this worker.
  probe = prober->ProbeNode(node.url(), api::Flavor::kNetwork02, "mnist-0a1b2c3d-worker-0-99");
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_FALSE(probe->answers);
  EXPECT_THAT(probe->detail, HasSubstr("answers as node \"mnist-0a1b2c3d-worker-0-7f\""));
}

TEST(NodeProbeTest, Gateway2020NodeAnswersWithItsPage) {
  FakeNode node("/", kNodePage);
  ASSERT_TRUE(node.Start());
  StatusOr<NodeProbe> probe = MakeProber({})->ProbeNode(node.url(), api::Flavor::kGateway2020, "n");
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_TRUE(probe->answers) << probe->detail;
  // The 2020 node's page is not the 0.2 identity route.
  probe = MakeProber({})->ProbeNode(node.url(), api::Flavor::kNetwork02, "n");
  ASSERT_TRUE(probe.ok());
  EXPECT_FALSE(probe->answers);
  EXPECT_THAT(probe->detail, HasSubstr("HTTP 404"));
}

TEST(NodeProbeTest, DeadNodeIsNotAnsweringAndNotAnError) {
  const std::string url = "http://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  StatusOr<NodeProbe> probe = MakeProber({})->ProbeNode(url, api::Flavor::kNetwork02, "n");
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_FALSE(probe->answers);
  EXPECT_THAT(probe->detail, HasSubstr("does not answer"));
  EXPECT_TRUE(
      MakeProber({})->ProbeNode("ftp://x/", api::Flavor::kNetwork02, "n").status().IsInvalid());
}

}  // namespace
}  // namespace pygrid::probe
