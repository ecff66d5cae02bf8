// The REST client against real HTTP responses from a canned local server: every error class
// of a `kind: Status` body, Retry-After, causes, non-Status bodies, the request hook, paging,
// request shapes (paths, query, content types, delete options) and the watch stream.
#include "kube/rest_client.h"

#include <gtest/gtest.h>

#include <mutex>

#include "kube/errors.h"
#include "unit/kube/canned_http_server.h"

namespace pygrid::kube {
namespace {

using testing::CannedHttpServer;
using testing::CannedRequest;
using testing::CannedResponse;

const ResourceRef kWidgets{"example.com", "v1", "widgets", true};

std::string StatusBody(int code, const std::string& reason, const std::string& message,
                       const std::string& details = "{}") {
  return R"({"kind":"Status","apiVersion":"v1","status":"Failure","code":)" + std::to_string(code) +
         R"(,"reason":")" + reason + R"(","message":")" + message + R"(","details":)" + details +
         "}";
}

std::string PercentDecode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

class RecordingRestMetrics : public RestClientMetrics {
 public:
  void ObserveRequest(const std::string& verb, const std::string& code, const std::string& host,
                      std::chrono::nanoseconds) override {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back(verb + " " + code + " " + host);
  }
  std::mutex mu;
  std::vector<std::string> calls;
};

std::unique_ptr<RestClient> ClientFor(const CannedHttpServer& server,
                                      std::shared_ptr<RestClientMetrics> metrics = nullptr) {
  RestConfig config;
  config.server = server.url();
  config.bearer_token = "tok";
  config.qps = 0;
  auto client = RestClient::Create(config, {std::move(metrics), nullptr});
  EXPECT_TRUE(client.ok());
  return std::move(*client);
}

TEST(RestClientErrors, EveryStatusReasonMapsToItsKind) {
  struct Case {
    int code;
    std::string reason;
    ErrorKind kind;
    bool retryable;
  };
  const std::vector<Case> cases = {
      {404, "NotFound", ErrorKind::kNotFound, false},
      {409, "AlreadyExists", ErrorKind::kAlreadyExists, false},
      {409, "Conflict", ErrorKind::kConflict, true},
      {422, "Invalid", ErrorKind::kInvalid, false},
      {400, "BadRequest", ErrorKind::kInvalid, false},
      {410, "Expired", ErrorKind::kGone, false},
      {410, "Gone", ErrorKind::kGone, false},
      {403, "Forbidden", ErrorKind::kForbidden, false},
      {401, "Unauthorized", ErrorKind::kUnauthorized, false},
      {429, "TooManyRequests", ErrorKind::kRateLimited, true},
      {500, "InternalError", ErrorKind::kUnavailable, true},
      {503, "ServiceUnavailable", ErrorKind::kUnavailable, true},
      {504, "Timeout", ErrorKind::kTimeout, true},
  };
  size_t next = 0;
  CannedHttpServer server([&](const CannedRequest&) {
    const Case& c = cases[next++];
    return CannedResponse{c.code, StatusBody(c.code, c.reason, "server says " + c.reason), {}, {}};
  });
  auto client = ClientFor(server);
  for (const auto& c : cases) {
    auto got = client->Get(kWidgets, "ns", "w");
    ASSERT_FALSE(got.ok()) << c.reason;
    EXPECT_EQ(got.status().kind(), c.kind) << c.reason << ": " << got.status().ToString();
    EXPECT_EQ(got.status().http_status(), c.code);
    EXPECT_EQ(got.status().remote_code(), c.reason);
    EXPECT_EQ(got.status().retryable(), c.retryable) << c.reason;
    EXPECT_NE(got.status().message().find("server says " + c.reason), std::string::npos);
  }
}

TEST(RestClientErrors, InvalidCarriesCausesAndTooManyRequestsRetryAfter) {
  int calls = 0;
  CannedHttpServer server([&](const CannedRequest&) {
    if (calls++ == 0) {
      return CannedResponse{
          422,
          StatusBody(
              422, "Invalid", "Widget is invalid",
              R"({"causes":[{"field":"spec.replicas","message":"must be >= 0",)"
              R"("reason":"FieldValueInvalid"},{"field":"spec.name","message":"Required"}]})"),
          {},
          {}};
    }
    if (calls == 2) {
      return CannedResponse{
          429, StatusBody(429, "TooManyRequests", "slow down"), {{"Retry-After", "7"}}, {}};
    }
    return CannedResponse{
        429, StatusBody(429, "TooManyRequests", "slow down", R"({"retryAfterSeconds":3})"), {}, {}};
  });
  auto client = ClientFor(server);
  auto invalid = client->Create(kWidgets, "ns", Json{{"metadata", {{"name", "w"}}}});
  ASSERT_TRUE(invalid.status().IsInvalid());
  ASSERT_EQ(invalid.status().causes().size(), 2u);
  EXPECT_EQ(invalid.status().causes()[0],
            (FieldCause{"spec.replicas", "must be >= 0", "FieldValueInvalid"}));
  EXPECT_EQ(invalid.status().causes()[1].field, "spec.name");

  auto limited = client->Get(kWidgets, "ns", "w");
  ASSERT_TRUE(limited.status().IsRateLimited());
  ASSERT_TRUE(limited.status().retry_after().has_value());
  EXPECT_EQ(*limited.status().retry_after(), std::chrono::seconds(7));

  auto from_details = client->Get(kWidgets, "ns", "w");
  ASSERT_TRUE(from_details.status().retry_after().has_value());
  EXPECT_EQ(*from_details.status().retry_after(), std::chrono::seconds(3));
}

// After a 429 with Retry-After the client-side bucket holds every caller for that long.
TEST(RestClientErrors, TooManyRequestsPausesTheClientLimiter) {
  int calls = 0;
  CannedHttpServer server([&](const CannedRequest&) {
    if (calls++ == 0) {
      return CannedResponse{
          429, StatusBody(429, "TooManyRequests", "slow down"), {{"Retry-After", "1"}}, {}};
    }
    return CannedResponse{200, "{}", {}, {}};
  });
  class WaitMetrics : public RestClientMetrics {
   public:
    void ObserveRateLimiterWait(const std::string&, const std::string&,
                                std::chrono::nanoseconds waited) override {
      total += waited;
    }
    std::chrono::nanoseconds total{0};
  };
  auto metrics = std::make_shared<WaitMetrics>();
  RestConfig config;
  config.server = server.url();
  config.qps = 100;
  config.burst = 10;
  auto client = RestClient::Create(config, {metrics, nullptr});
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->Get(kWidgets, "ns", "w").status().IsRateLimited());
  EXPECT_EQ(metrics->total.count(), 0);
  EXPECT_TRUE((*client)->Get(kWidgets, "ns", "w").ok());
  EXPECT_GE(metrics->total, std::chrono::milliseconds(900));
}

TEST(RestClientErrors, NonStatusBodiesFallBackToTheHttpCode) {
  CannedHttpServer server([&](const CannedRequest&) {
    return CannedResponse{502, "<html>bad gateway</html>", {}, {}};
  });
  auto client = ClientFor(server);
  auto got = client->Get(kWidgets, "ns", "w");
  EXPECT_TRUE(got.status().IsUnavailable());
  EXPECT_TRUE(got.status().retryable());
  EXPECT_EQ(got.status().http_status(), 502);
  EXPECT_NE(got.status().message().find("bad gateway"), std::string::npos);
}

TEST(RestClientErrors, ConnectionRefusedIsUnavailableWithErrorCodeLabel) {
  int port = 0;
  {
    CannedHttpServer server([](const CannedRequest&) { return CannedResponse{}; });
    port = server.port();
  }
  RestConfig config;
  config.server = "http://127.0.0.1:" + std::to_string(port);
  config.qps = 0;
  auto metrics = std::make_shared<RecordingRestMetrics>();
  auto client = RestClient::Create(config, {metrics, nullptr});
  ASSERT_TRUE(client.ok());
  auto got = (*client)->Get(kWidgets, "ns", "w");
  EXPECT_TRUE(got.status().IsUnavailable()) << got.status().ToString();
  ASSERT_EQ(metrics->calls.size(), 1u);
  EXPECT_EQ(metrics->calls[0].substr(0, 11), "GET <error>");
}

TEST(RestClientRequests, PathsQueryBodiesAndMetricsHook) {
  std::vector<CannedRequest> requests;
  CannedHttpServer server([&](const CannedRequest& request) {
    requests.push_back(request);
    return CannedResponse{200, R"({"kind":"Widget","metadata":{"name":"w"}})", {}, {}};
  });
  auto metrics = std::make_shared<RecordingRestMetrics>();
  auto client = ClientFor(server, metrics);
  const ResourceRef nodes{"", "v1", "nodes", false};
  ASSERT_TRUE(client->Get(nodes, "ignored", "n1").ok());
  ListOptions list;
  list.label_selector = "app=x,tier!=db";
  list.limit = 5;
  list.continue_token = "abc";
  ASSERT_TRUE(client->ListPage(kWidgets, "ns", list).ok());
  ASSERT_TRUE(client->Update(kWidgets, "ns", Json{{"metadata", {{"name", "w"}}}}, "status").ok());
  ASSERT_TRUE(client->Patch(kWidgets, "ns", "w", PatchType::kJsonPatch, Json::array()).ok());
  ASSERT_TRUE(client->Patch(kWidgets, "ns", "w", PatchType::kMerge, Json::object()).ok());
  DeleteOptions del;
  del.precondition_resource_version = "42";
  del.propagation_policy = "Foreground";
  ASSERT_TRUE(client->Delete(kWidgets, "ns", "w", del).ok());

  ASSERT_EQ(requests.size(), 6u);
  EXPECT_EQ(requests[0].method + " " + requests[0].target, "GET /api/v1/nodes/n1");
  EXPECT_EQ(requests[0].Header("authorization"), "Bearer tok");
  EXPECT_EQ(PercentDecode(requests[1].target),
            "/apis/example.com/v1/namespaces/ns/widgets?labelSelector=app=x,tier!=db"
            "&limit=5&continue=abc");
  EXPECT_EQ(requests[2].method + " " + requests[2].target,
            "PUT /apis/example.com/v1/namespaces/ns/widgets/w/status");
  EXPECT_EQ(requests[3].Header("content-type"), "application/json-patch+json");
  EXPECT_EQ(requests[4].Header("content-type"), "application/merge-patch+json");
  EXPECT_EQ(requests[5].method, "DELETE");
  const Json del_body = Json::parse(requests[5].body);
  EXPECT_EQ(del_body["preconditions"]["resourceVersion"], "42");
  EXPECT_EQ(del_body["propagationPolicy"], "Foreground");
  ASSERT_EQ(metrics->calls.size(), 6u);
  EXPECT_EQ(metrics->calls[0], "GET 200 127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(metrics->calls[5].substr(0, 10), "DELETE 200");
}

TEST(RestClientRequests, ListFollowsContinueTokensAcrossPages) {
  CannedHttpServer server([&](const CannedRequest& request) {
    std::string cont;
    const size_t at = request.target.find("continue=");
    if (at != std::string::npos) cont = request.target.substr(at + 9);
    const int page = cont.empty() ? 0 : std::stoi(cont);
    Json list = {{"kind", "WidgetList"},
                 {"metadata", {{"resourceVersion", page == 0 ? "100" : "999"}}},
                 {"items", Json::array()}};
    for (int i = 0; i < 2; ++i) {
      list["items"].push_back({{"metadata", {{"name", "w" + std::to_string(page * 2 + i)}}}});
    }
    if (page < 2) list["metadata"]["continue"] = std::to_string(page + 1);
    return CannedResponse{200, list.dump(), {}, {}};
  });
  auto client = ClientFor(server);
  auto listed = client->List(kWidgets, "ns", {}, 2);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->pages, 3);
  ASSERT_EQ(listed->items.size(), 6u);
  EXPECT_EQ(listed->items[5]["metadata"]["name"], "w5");
  EXPECT_EQ(listed->resource_version, "100");  // every page shares the first page's RV
}

TEST(RestClientWatch, StreamsEventsSplitAcrossChunksAndMapsErrorEvents) {
  int calls = 0;
  CannedHttpServer server([&](const CannedRequest& request) {
    EXPECT_NE(request.target.find("watch=1"), std::string::npos);
    EXPECT_NE(request.target.find("allowWatchBookmarks=true"), std::string::npos);
    EXPECT_NE(request.target.find("resourceVersion=5"), std::string::npos);
    CannedResponse response;
    if (calls++ == 0) {
      response.chunks = {
          R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"6"}}})"
          "\n"
          R"({"type":"MODIFIED","obj)",
          R"(ect":{"metadata":{"name":"a","resourceVersion":"7"}}})"
          "\n",
          R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})"
          "\n"};
    } else {
      response.chunks = {R"({"type":"ERROR","object":{"kind":"Status","code":410,)"
                         R"("reason":"Expired","message":"too old resource version: 5"}})"
                         "\n"};
    }
    return response;
  });
  auto client = ClientFor(server);
  WatchOptions options;
  options.resource_version = "5";
  std::vector<std::string> seen;
  Status first = client->Watch(
      kWidgets, "ns", options,
      [&](const WatchEvent& event) {
        seen.push_back(event.type + ":" + ResourceVersionOf(event.object));
        return true;
      },
      nullptr);
  EXPECT_TRUE(first.ok()) << first.ToString();
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED:6", "MODIFIED:7", "BOOKMARK:9"}));
  Status second = client->Watch(
      kWidgets, "ns", options, [](const WatchEvent&) { return true; }, nullptr);
  EXPECT_TRUE(second.IsGone()) << second.ToString();
  EXPECT_EQ(second.remote_code(), "Expired");
}

TEST(ErrorMapping, StatusFromResponseWithoutAServer) {
  Status conflict = StatusFromResponse(409, StatusBody(409, "Conflict", "stale"), "", "PUT x");
  EXPECT_TRUE(conflict.IsConflict());
  EXPECT_EQ(conflict.message(), "PUT x: stale");
  Status unknown = StatusFromResponse(418, "", "");
  EXPECT_TRUE(unknown.IsInvalid());
  EXPECT_EQ(unknown.http_status(), 418);
}

}  // namespace
}  // namespace pygrid::kube
