// HttpServer, /healthz and /readyz semantics, and a /metrics scrape checked by promtool.
#include "observability/endpoints.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "observability/http_server.h"
#include "observability/redact.h"
#include "unit/observability/test_util.h"

namespace pygrid::observability {
namespace {

using testing::HttpGet;

std::unique_ptr<HttpServer> StartOrDie(const std::string& address, HttpHandler handler) {
  auto server = HttpServer::Start(address, std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(HttpServerTest, ZeroAndEmptyDisable) {
  for (const char* address : {"0", ""}) {
    auto server = HttpServer::Start(address, nullptr);
    ASSERT_TRUE(server.ok());
    EXPECT_EQ(*server, nullptr);
  }
}

TEST(HttpServerTest, MalformedAddressIsInvalidAndBusyPortIsUnavailable) {
  EXPECT_TRUE(HttpServer::Start("8080", nullptr).status().IsInvalid());
  EXPECT_TRUE(HttpServer::Start("127.0.0.1:http", nullptr).status().IsInvalid());
  auto first = StartOrDie("127.0.0.1:0", [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_NE(first, nullptr);
  auto second = HttpServer::Start("127.0.0.1:" + std::to_string(first->port()), nullptr);
  EXPECT_TRUE(second.status().IsUnavailable()) << second.status().ToString();
}

TEST(HttpServerTest, ServesOnEveryInterfaceWithColonPortForm) {
  auto server = StartOrDie(":0", [](const HttpRequest& r) {
    return HttpResponse{200, "text/plain", r.path + "|" + r.query};
  });
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  auto got = HttpGet(server->port(), "/a/b?verbose&x=1");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "/a/b|verbose&x=1");
  EXPECT_NE(got.headers.find("Content-Length: 16"), std::string::npos);
  auto head = HttpGet(server->port(), "/a", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(HttpGet(server->port(), "/a", "POST").status, 405);
  server->Stop();
  server->Stop();
  EXPECT_EQ(HttpGet(server->port(), "/a").status, 0);  // no longer listening
}

// A connected loopback socket (receive timeout 5 s), or -1.
int ConnectTo(int port) { return ::pygrid::testing::ConnectLoopback(port, 5); }

// Sends `request` and reads until the server closes: what it sent, "<timeout>" after 5 s of
// silence, "<reset>" when the server reset the connection.
std::string Exchange(int port, const std::string& request) {
  int fd = ConnectTo(port);
  if (fd < 0) return "<refused>";
  if (!request.empty()) send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) response.append(buf, static_cast<size_t>(n));
  const int error = errno;
  close(fd);
  if (n < 0) return error == EAGAIN || error == EWOULDBLOCK ? "<timeout>" : "<reset>";
  return response;
}

// GET `target` answers with `status` and exactly `body`.
void ExpectAnswer(int port, const std::string& target, int status, const std::string& body) {
  SCOPED_TRACE(target);
  auto got = HttpGet(port, target);
  EXPECT_EQ(got.status, status);
  EXPECT_EQ(got.body, body);
}

TEST(HttpServerTest, MalformedAndOversizedRequestsAre400) {
  auto server = StartOrDie("127.0.0.1:0", [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "ok"};
  });
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Exchange(server->port(), "GET\r\n\r\n").rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
  EXPECT_EQ(Exchange(server->port(), "GET * HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  const std::string huge = "GET / HTTP/1.1\r\nX-Pad: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_EQ(Exchange(server->port(), huge).rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(HttpGet(server->port(), "/").status, 200);  // still serving
}

TEST(HttpServerTest, ClientTooSlowIsDisconnectedAtTheDeadline) {
  HttpServerOptions options;
  options.bind_address = "127.0.0.1:0";
  options.handler = [](const HttpRequest&) { return HttpResponse{200, "text/plain", "ok"}; };
  options.connection_deadline = std::chrono::milliseconds(200);
  auto server = HttpServer::Start(std::move(options));
  ASSERT_TRUE(server.ok() && *server);
  // The server closes the connection (recv sees the end, not the client's 5 s timeout).
  EXPECT_EQ(Exchange((*server)->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n"), "");
  EXPECT_EQ(Exchange((*server)->port(), ""), "");
}

TEST(HttpServerTest, ConnectionsBeyondTheCapAreClosedAtOnce) {
  HttpServerOptions options;
  options.bind_address = "127.0.0.1:0";
  options.handler = [](const HttpRequest&) { return HttpResponse{200, "text/plain", "ok"}; };
  options.connection_deadline = std::chrono::seconds(30);
  options.max_connections = 2;
  auto server = HttpServer::Start(std::move(options));
  ASSERT_TRUE(server.ok() && *server);
  const int port = (*server)->port();
  int first = ConnectTo(port);
  int second = ConnectTo(port);
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  // Accepted in order, so both silent ones hold their slots when the third arrives.
  EXPECT_EQ(Exchange(port, ""), "");
  close(first);
  close(second);
}

TEST(HttpServerTest, BlockingHandlerDoesNotHoldOtherRequests) {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool release = false;
  auto server = StartOrDie("127.0.0.1:0", [&](const HttpRequest& r) {
    if (r.path == "/slow") {
      std::unique_lock<std::mutex> lock(mu);
      entered = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    }
    return HttpResponse{200, "text/plain", r.path};
  });
  ASSERT_NE(server, nullptr);
  std::thread slow([&] { EXPECT_EQ(HttpGet(server->port(), "/slow").body, "/slow"); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return entered; });
  }
  EXPECT_EQ(HttpGet(server->port(), "/fast").body, "/fast");  // while /slow is still inside
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  slow.join();
}

TEST(HttpServerTest, AuthorizationHeaderReachesTheHandler) {
  auto server = StartOrDie("127.0.0.1:0", [](const HttpRequest& r) {
    return HttpResponse{200, "text/plain", r.authorization};
  });
  ASSERT_NE(server, nullptr);
  const std::string answer =
      Exchange(server->port(), "GET / HTTP/1.0\r\nauthorization: Bearer abc.def\r\n\r\n");
  EXPECT_NE(answer.find("\r\n\r\nBearer abc.def"), std::string::npos) << answer;
}

TEST(HttpServerTest, SilentClientDoesNotBlockLaterRequests) {
  auto server = StartOrDie("127.0.0.1:0", [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "ok"};
  });
  ASSERT_NE(server, nullptr);
  const int silent = ConnectTo(server->port());
  ASSERT_GE(silent, 0);
  ASSERT_EQ(send(silent, "GET /", 5, 0), 5);       // never finishes its request
  auto got = HttpGet(server->port(), "/healthz");  // served once the silent one times out
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "ok");
  close(silent);
}

TEST(HttpServerTest, HandlerExceptionBecomes500) {
  auto server = StartOrDie(
      "127.0.0.1:0", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("bug"); });
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(HttpGet(server->port(), "/").status, 500);
  EXPECT_EQ(HttpGet(server->port(), "/").status, 500);  // the server survived
}

TEST(HealthChecksTest, ReadyzFailsUntilInformersSyncThenPasses) {
  HealthChecks health;
  std::atomic<bool> synced{false};
  health.AddReadyzCheck("informers-synced", [&] {
    return synced ? Status::Ok() : Status::Unavailable("cache not synced");
  });
  auto server = StartOrDie("127.0.0.1:0", health.Handler());
  ASSERT_NE(server, nullptr);
  const int port = server->port();

  ExpectAnswer(port, "/healthz", 200, "ok");

  ExpectAnswer(port, "/readyz", 500,
               "[-]informers-synced failed: reason withheld\n[+]ping ok\nhealthz check failed\n");
  ExpectAnswer(port, "/readyz/informers-synced", 500, "internal server error: cache not synced\n");
  ExpectAnswer(port, "/readyz?verbose&exclude=informers-synced", 200,
               "[+]informers-synced excluded: ok\n[+]ping ok\nhealthz check passed\n");

  synced = true;
  ExpectAnswer(port, "/readyz", 200, "ok");
  ExpectAnswer(port, "/readyz?verbose", 200,
               "[+]informers-synced ok\n[+]ping ok\nhealthz check passed\n");
  EXPECT_EQ(HttpGet(port, "/readyz/ping").body, "ok");
  EXPECT_EQ(HttpGet(port, "/readyz/nope").status, 404);
  EXPECT_EQ(HttpGet(port, "/readyzzz").status, 404);
  EXPECT_EQ(HttpGet(port, "/metrics").status, 404);
}

TEST(HealthChecksTest, HealthzChecksAreSeparateAndExceptionsFail) {
  HealthChecks health;
  health.AddHealthzCheck("watchdog", []() -> Status { throw std::runtime_error("x"); });
  HttpRequest healthz{"GET", "/healthz", "", ""};
  HttpRequest readyz{"GET", "/readyz", "", ""};
  EXPECT_EQ(health.Serve(healthz).status, 500);
  EXPECT_EQ(health.Serve(readyz).status, 200);
}

TEST(HealthChecksTest, SingleCheckErrorIsRedacted) {
  ClearSecretsForTesting();
  RegisterSecret("tok-SECRET-123456");
  HealthChecks health;
  health.AddReadyzCheck("genesis", [] { return Status::Unauthorized("token tok-SECRET-123456"); });
  auto resp = health.Serve({"GET", "/readyz/genesis", "", ""});
  EXPECT_EQ(resp.body, "internal server error: token [REDACTED]\n");
  ClearSecretsForTesting();
}

// A realistic registry, scraped over HTTP and linted by the real promtool.
TEST(MetricsEndpointTest, ScrapeIsCleanForPromtoolCheckMetrics) {
  Metrics metrics;
  ControllerMetrics c = metrics.RegisterController("pygridcluster", 2);
  c.ObserveReconcile(ReconcileResult::kSuccess, 0.2);
  c.ObserveReconcile(ReconcileResult::kError, 1.2);
  WorkqueueMetrics q = metrics.NewWorkqueueMetrics("pygridcluster");
  q.IncAdds();
  q.ObserveQueueDuration(0.001);
  q.ObserveWorkDuration(0.2);
  q.IncRetries();
  metrics.ObserveRestRequest("GET", 200, "127.0.0.1:6443");
  metrics.ObserveRestRequest("PATCH", 0, "127.0.0.1:6443");
  metrics.SetLeader("pygrid-operator", true);
  metrics.SetClusterState({"default", "mnist", "0b7f", "duet", "Ready", true, 2, 2});
  metrics.ObserveClusterProvisioned("0b7f", 420);
  metrics.SetInstanceCounts({{{"gateway", "active"}, 1}, {{"worker", "active"}, 2}});
  metrics.ObserveGenesisRequest("CreateInstance", "POST", 429, 0.1);
  metrics.ObserveGenesisRequest("CreateInstance", "POST", 201, 0.9, false, true);

  auto server = StartOrDie("127.0.0.1:0", MetricsHandler(metrics));
  ASSERT_NE(server, nullptr);
  auto scrape = HttpGet(server->port(), "/metrics");
  ASSERT_EQ(scrape.status, 200);
  EXPECT_NE(scrape.headers.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(scrape.body.find("controller_runtime_reconcile_total{controller=\"pygridcluster\","
                             "result=\"requeue_after\"} 0"),
            std::string::npos);
  EXPECT_NE(scrape.body.find("rest_client_requests_total{code=\"<error>\""), std::string::npos);

  const std::string path =
      ::testing::TempDir() + "pygrid-scrape-" + std::to_string(getpid()) + ".txt";
  std::ofstream(path) << scrape.body;
  auto lint = testing::RunCommand("promtool check metrics < " + path);
  std::remove(path.c_str());
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
  EXPECT_EQ(lint.output, "") << lint.output;
}

}  // namespace
}  // namespace pygrid::observability
