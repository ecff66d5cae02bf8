// Unit tests of the Genesis client over a fake transport: envelopes, paging, auth, error
// mapping, retry/backoff/rate-limit rules. Time is a FakeClock moved only by the injected
// sleeper, so nothing here sleeps.
#include "cloud/genesis/genesis_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "unit/cloud/fake_transport.h"

namespace pygrid::cloud::genesis {
namespace {

using nlohmann::json;
using testing::Answer;
using testing::Failure;
using testing::FakeTransport;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "secret-token-d0n7-l34k";

json InstanceJson(const std::string& id, const std::string& name) {
  return {{"id", id},
          {"name", name},
          {"hostname", name},
          {"type", "vcpu-2_memory-4g_disk-80g"},
          {"public_ip", nullptr},
          {"private_ip", nullptr},
          {"status", "enqueued"},
          {"ssh_keys", json::array()},
          {"image", {{"id", "img"}, {"name", "Ubuntu"}}},
          {"security_groups", json::array({{{"id", "sg1"}, {"name", "standard"}}})},
          {"volumes", json::array()},
          {"region", "ARC-IS-HAF-1"},
          {"public_ip_type", "dynamic"},
          {"placement_option", "AUTO"},
          {"created_at", "2026-01-01T00:00:00.000Z"},
          {"updated_at", nullptr}};
}

class GenesisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Rebuild([](GenesisOptions&) {});
  }

  void Rebuild(const std::function<void(GenesisOptions&)>& tweak) {
    shared_ = std::make_shared<FakeTransport::Shared>();
    GenesisOptions options;
    options.base_url = "http://fake/compute/v1";
    options.token = kToken;
    options.clock = &clock_;
    options.sleeper = [this](Clock::Duration d) {
      sleeps_.push_back(d);
      clock_.Advance(d);
    };
    options.jitter_seed = 42;
    options.hook = [this](const RequestRecord& r) { records_.push_back(r); };
    tweak(options);
    client_ = MakeGenesisClient(options, std::make_unique<FakeTransport>(shared_));
  }

  void Queue(TransportResult r) { shared_->queue.push_back(std::move(r)); }
  const std::vector<HttpRequest>& requests() const { return shared_->requests; }
  Clock::Duration TotalSleep() const {
    Clock::Duration total{0};
    for (auto d : sleeps_) total += d;
    return total;
  }

  FakeClock clock_;
  std::vector<Clock::Duration> sleeps_;
  std::vector<RequestRecord> records_;
  std::shared_ptr<FakeTransport::Shared> shared_;
  std::unique_ptr<GenesisClient> client_;
};

TEST_F(GenesisClientTest, SendsBearerTokenByDefault) {
  Queue(Answer(200, json{{"instance", InstanceJson("i1", "a")}}.dump()));
  ASSERT_TRUE(client_->GetInstance("i1").ok());
  ASSERT_EQ(requests().size(), 1u);
  EXPECT_EQ(requests()[0].method, "GET");
  EXPECT_EQ(requests()[0].path, "/instances/i1");
  bool bearer = false;
  for (const auto& [k, v] : requests()[0].headers) {
    if (k == "Authorization") bearer = v == std::string("Bearer ") + kToken;
    EXPECT_NE(k, "X-Auth-Token");
  }
  EXPECT_TRUE(bearer);
}

TEST_F(GenesisClientTest, SendsXAuthTokenWhenAsked) {
  Rebuild([](GenesisOptions& o) { o.auth_header = AuthHeader::kXAuthToken; });
  Queue(Answer(200, json{{"instance", InstanceJson("i1", "a")}}.dump()));
  ASSERT_TRUE(client_->GetInstance("i1").ok());
  bool found = false;
  for (const auto& [k, v] : requests()[0].headers) {
    if (k == "X-Auth-Token") found = v == kToken;
    EXPECT_NE(k, "Authorization");
  }
  EXPECT_TRUE(found);
}

TEST_F(GenesisClientTest, ParsesInstanceEnvelopeWithNullIps) {
  Queue(Answer(200, json{{"instance", InstanceJson("i1", "gw")}}.dump()));
  auto got = client_->GetInstance("i1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->name, "gw");
  EXPECT_EQ(got->status, "enqueued");
  EXPECT_FALSE(got->public_ip.has_value());
  EXPECT_FALSE(got->updated_at.has_value());
  EXPECT_EQ(got->image.id, "img");
  ASSERT_EQ(got->security_groups.size(), 1u);
  EXPECT_EQ(got->security_groups[0].name, "standard");
}

TEST_F(GenesisClientTest, ListFollowsTotalCountWithPerPage100) {
  shared_->handler = [](const HttpRequest& req) {
    const bool second = req.path.find("page=2") != std::string::npos;
    json items = json::array();
    for (int i = 0; i < (second ? 50 : 100); ++i) {
      items.push_back(InstanceJson((second ? "b" : "a") + std::to_string(i), "n"));
    }
    return Answer(
        200,
        json{
            {"instances", items}, {"total_count", 150}, {"page", second ? 2 : 1}, {"per_page", 100}}
            .dump());
  };
  auto all = client_->ListInstances();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 150u);
  ASSERT_EQ(requests().size(), 2u);
  EXPECT_EQ(requests()[0].path, "/instances?page=1&per_page=100");
  EXPECT_EQ(requests()[1].path, "/instances?page=2&per_page=100");
}

TEST_F(GenesisClientTest, CreateSendsDocumentedBodyAndReadsSingularEnvelope) {
  Queue(Answer(201, json{{"instance", InstanceJson("i9", "c-1-gateway")}}.dump()));
  CreateInstanceRequest req;
  req.name = "c-1-gateway";
  req.type = "vcpu-2_memory-4g_disk-80g";
  req.image = "img";
  req.ssh_key_ids = {"k1"};
  req.security_group_ids = {"sg1", "sg2"};
  req.startup_script = "#cloud-config\n";
  auto got = client_->CreateInstance(req);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->id, "i9");
  ASSERT_EQ(requests().size(), 1u);
  EXPECT_EQ(requests()[0].method, "POST");
  json body = json::parse(requests()[0].body);
  EXPECT_EQ(body["hostname"], "c-1-gateway");  // defaults to the name (as TF25 does)
  EXPECT_EQ(body["ssh_keys"], json::array({"k1"}));
  EXPECT_EQ(body["security_groups"], json::array({"sg1", "sg2"}));
  EXPECT_EQ(body["metadata"]["startup_script"], "#cloud-config\n");
  EXPECT_FALSE(body.contains("region"));
  EXPECT_FALSE(body.contains("password"));
}

TEST_F(GenesisClientTest, SshKeysAreBareObjects) {
  Queue(Answer(201, json{{"id", "k1"},
                         {"name", "me"},
                         {"value", "ssh-ed25519 AAA"},
                         {"fingerprint", "aa:bb"},
                         {"type", "ed25519"},
                         {"size", 256},
                         {"created_at", "x"}}
                        .dump()));
  auto key = client_->CreateSshKey("me", "ssh-ed25519 AAA");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->id, "k1");
  EXPECT_EQ(key->fingerprint, "aa:bb");
}

struct ErrorCase {
  int http;
  std::string body;
  ErrorKind kind;
  std::string remote_code;
};

TEST_F(GenesisClientTest, MapsEveryErrorClass) {
  const std::vector<ErrorCase> cases = {
      {400, R"({"code":"02035","message":"the selected image cannot be run on this instance"})",
       ErrorKind::kInvalid, "02035"},
      {422, R"({"code":"02002","message":"bad field"})", ErrorKind::kInvalid, "02002"},
      {401, R"({"code":"01001","message":"unauthorized"})", ErrorKind::kUnauthorized, "01001"},
      {403, R"({"code":"01003","message":"forbidden"})", ErrorKind::kForbidden, "01003"},
      {404, R"({"code":"02001","message":"Invalid route"})", ErrorKind::kNotFound, "02001"},
      {409, R"({"code":"02009","message":"busy"})", ErrorKind::kConflict, "02009"},
      {403, R"({"code":"02070","message":"Instance quota exceeded"})", ErrorKind::kQuotaExceeded,
       "02070"},
      {422, R"({"code":"02070","message":"quota reached"})", ErrorKind::kQuotaExceeded, "02070"},
      {418, "<html>teapot</html>", ErrorKind::kInvalid, ""},
  };
  for (const ErrorCase& c : cases) {
    Rebuild([](GenesisOptions& o) { o.max_attempts = 3; });
    Queue(Answer(c.http, c.body));
    auto got = client_->GetInstance("i1");
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().kind(), c.kind) << c.http << " " << got.status().ToString();
    EXPECT_EQ(got.status().http_status(), c.http);
    EXPECT_EQ(got.status().remote_code(), c.remote_code);
    EXPECT_EQ(requests().size(), 1u) << "4xx must not be retried: " << c.http;
  }
}

TEST_F(GenesisClientTest, ServerErrorTimeoutAndResetMapToRetryableKinds) {
  Rebuild([](GenesisOptions& o) { o.max_attempts = 1; });
  Queue(Answer(503, R"({"code":"05000","message":"down"})"));
  auto a = client_->GetInstance("i");
  EXPECT_TRUE(a.status().IsUnavailable());
  EXPECT_TRUE(a.status().retryable());
  Queue(Failure(TransportError::kTimeout));
  auto b = client_->GetInstance("i");
  EXPECT_TRUE(b.status().IsTimeout());
  EXPECT_EQ(b.status().http_status(), 0);
  Queue(Failure(TransportError::kConnection));
  auto c = client_->GetInstance("i");
  EXPECT_TRUE(c.status().IsUnavailable());
  EXPECT_EQ(c.status().http_status(), 0);
}

TEST_F(GenesisClientTest, RetriesIdempotentCallsWithFullJitterBackoff) {
  Queue(Answer(502, "bad gateway"));
  Queue(Failure(TransportError::kConnection));
  Queue(Failure(TransportError::kTimeout));
  Queue(Answer(200, json{{"instance", InstanceJson("i1", "a")}}.dump()));
  auto got = client_->GetInstance("i1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(requests().size(), 4u);
  ASSERT_EQ(sleeps_.size(), 3u);
  // Full jitter: each delay is within [0, 250ms * 2^retry].
  for (size_t i = 0; i < sleeps_.size(); ++i) {
    EXPECT_LE(sleeps_[i], std::chrono::milliseconds(250 << i)) << i;
  }
  ASSERT_EQ(records_.size(), 4u);
  EXPECT_EQ(records_[0].status, 502);
  EXPECT_EQ(records_[1].status, 0);
  EXPECT_EQ(records_[3].status, 200);
  EXPECT_EQ(records_[3].attempt, 4);
  EXPECT_EQ(records_[3].operation, "GetInstance");
}

TEST_F(GenesisClientTest, ServiceUnavailableRetryAfterIsAFloorForTheBackoff) {
  Queue(Answer(503, R"({"code":"05000","message":"maintenance"})", {{"retry-after", "2"}}));
  Queue(Answer(200, json{{"instance", InstanceJson("i1", "a")}}.dump()));
  ASSERT_TRUE(client_->GetInstance("i1").ok());
  ASSERT_EQ(sleeps_.size(), 1u);
  EXPECT_GE(sleeps_[0], std::chrono::seconds(2));
}

TEST_F(GenesisClientTest, GivesUpAfterMaxAttempts) {
  Rebuild([](GenesisOptions& o) { o.max_attempts = 3; });
  shared_->handler = [](const HttpRequest&) { return Answer(500, "{}"); };
  Status s = client_->DeleteInstance("i1");
  EXPECT_TRUE(s.IsUnavailable());
  EXPECT_EQ(requests().size(), 3u);
}

TEST_F(GenesisClientTest, ActionsAndDeletesAreRetried) {
  Queue(Failure(TransportError::kConnection));
  Queue(Answer(204, ""));
  EXPECT_TRUE(client_->StopInstance("i1").ok());
  ASSERT_EQ(requests().size(), 2u);
  EXPECT_EQ(requests()[1].path, "/instances/i1/actions");
  EXPECT_EQ(json::parse(requests()[1].body)["action"], "stop");
  Queue(Answer(503, "{}"));
  Queue(Answer(204, ""));
  EXPECT_TRUE(client_->DeleteInstance("i1").ok());
  EXPECT_EQ(requests().size(), 4u);
}

TEST_F(GenesisClientTest, CreateIsNeverRetriedAfterAmbiguousFailure) {
  for (auto result : {Answer(500, "{}"), Answer(502, "{}"), Failure(TransportError::kTimeout),
                      Failure(TransportError::kConnection)}) {
    Rebuild([](GenesisOptions&) {});
    Queue(result);
    Queue(Answer(201, json{{"instance", InstanceJson("dup", "x")}}.dump()));
    CreateInstanceRequest req{"x", "x", "t", "img", {}, {}, "", ""};
    auto got = client_->CreateInstance(req);
    ASSERT_FALSE(got.ok());
    EXPECT_TRUE(IsAmbiguousCreateFailure(got.status())) << got.status().ToString();
    EXPECT_EQ(requests().size(), 1u);
  }
}

TEST_F(GenesisClientTest, CreateIsRetriedAfter429HonouringRetryAfter) {
  Queue(Answer(429, R"({"code":"01429","message":"slow down"})", {{"retry-after", "3"}}));
  Queue(Answer(201, json{{"instance", InstanceJson("i1", "x")}}.dump()));
  CreateInstanceRequest req{"x", "x", "t", "img", {}, {}, "", ""};
  auto got = client_->CreateInstance(req);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(requests().size(), 2u);
  EXPECT_GE(TotalSleep(), std::chrono::seconds(3));
  ASSERT_EQ(records_.size(), 2u);
  EXPECT_TRUE(records_[0].rate_limited);
  EXPECT_FALSE(records_[1].rate_limited);
}

TEST_F(GenesisClientTest, RateLimitedPauseIsSharedThroughTheBudget) {
  Queue(Answer(429, "{}", {{"retry-after", "2"}}));
  Queue(Answer(200, json{{"instance", InstanceJson("i1", "x")}}.dump()));
  ASSERT_TRUE(client_->GetInstance("i1").ok());
  const Clock::Duration after_first = TotalSleep();
  EXPECT_GE(after_first, std::chrono::seconds(2));
  // The pause is over and only two requests are in the last second: the next call goes at
  // once.
  Queue(Answer(200, json{{"instance", InstanceJson("i1", "x")}}.dump()));
  ASSERT_TRUE(client_->GetInstance("i1").ok());
  EXPECT_EQ(TotalSleep(), after_first);
}

TEST_F(GenesisClientTest, TooLongRetryAfterIsReturnedToTheCaller) {
  Queue(Answer(429, R"({"code":"01429","message":"slow down"})", {{"retry-after", "3600"}}));
  auto got = client_->GetInstance("i1");
  ASSERT_TRUE(got.status().IsRateLimited());
  EXPECT_EQ(*got.status().retry_after(), std::chrono::seconds(3600));
  EXPECT_EQ(requests().size(), 1u);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(GenesisClientTest, MissingRetryAfterUsesTheDefault) {
  Rebuild([](GenesisOptions& o) { o.max_attempts = 1; });
  Queue(Answer(429, "{}"));
  auto got = client_->GetInstance("i1");
  ASSERT_TRUE(got.status().IsRateLimited());
  EXPECT_EQ(*got.status().retry_after(), std::chrono::seconds(1));
}

TEST_F(GenesisClientTest, BudgetPacesRequestsAtTheConfiguredRate) {
  Rebuild([](GenesisOptions& o) { o.requests_per_second = 10; });
  shared_->handler = [](const HttpRequest&) {
    return Answer(200, json{{"instance", InstanceJson("i1", "x")}}.dump());
  };
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(client_->GetInstance("i1").ok());
  // 10 at once, then 10 more each time the first ten leave the one-second window.
  EXPECT_EQ(TotalSleep(), std::chrono::seconds(2));
}

TEST_F(GenesisClientTest, TokenNeverAppearsInErrorsOrHookRecords) {
  Rebuild([](GenesisOptions& o) { o.max_attempts = 1; });
  const std::vector<TransportResult> results = {
      Answer(401, R"({"code":"01001","message":"bad token"})"), Answer(500, "oops"),
      Failure(TransportError::kTimeout), Failure(TransportError::kConnection),
      Answer(200, "not json")};
  for (const auto& r : results) {
    Queue(r);
    auto got = client_->GetInstance("i1");
    ASSERT_FALSE(got.ok());
    EXPECT_THAT(got.status().ToString(), Not(HasSubstr(kToken)));
  }
  for (const RequestRecord& r : records_) {
    EXPECT_THAT(r.operation + r.method, Not(HasSubstr(kToken)));
  }
}

TEST_F(GenesisClientTest, MalformedBodyIsUnavailableAndNotRetried) {
  Queue(Answer(200, R"({"nope": 1})"));
  auto got = client_->GetInstance("i1");
  ASSERT_TRUE(got.status().IsUnavailable());
  EXPECT_FALSE(got.status().retryable());
  EXPECT_EQ(requests().size(), 1u);
}

TEST_F(GenesisClientTest, SetRequestHookReplacesTheHook) {
  int calls = 0;
  client_->SetRequestHook([&](const RequestRecord&) { ++calls; });
  Queue(Answer(200, json{{"instance", InstanceJson("i1", "x")}}.dump()));
  ASSERT_TRUE(client_->GetInstance("i1").ok());
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(records_.empty());
}

TEST_F(GenesisClientTest, FindInstanceByNameRefusesDuplicates) {
  shared_->handler = [](const HttpRequest&) {
    json items = {InstanceJson("a", "dup"), InstanceJson("b", "dup"), InstanceJson("c", "one")};
    return Answer(
        200, json{{"instances", items}, {"total_count", 3}, {"page", 1}, {"per_page", 100}}.dump());
  };
  auto one = client_->FindInstanceByName("one");
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->id, "c");
  auto none = client_->FindInstanceByName("zzz");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(client_->FindInstanceByName("dup").status().IsInvalid());
}

TEST_F(GenesisClientTest, FindImageMatchesIdThenSlugThenName) {
  shared_->handler = [](const HttpRequest&) {
    json items = {{{"id", "i1"},
                   {"name", "Ubuntu 20.04"},
                   {"type", "base-os"},
                   {"slug", "ubuntu:20.04"},
                   {"regions", {"ARC-IS-HAF-1"}},
                   {"created_at", "x"}},
                  {{"id", "i2"},
                   {"name", "Ubuntu 22.04"},
                   {"type", "base-os"},
                   {"slug", nullptr},
                   {"regions", {"ARC-IS-HAF-1"}},
                   {"created_at", "x"}}};
    return Answer(
        200, json{{"images", items}, {"total_count", 2}, {"page", 1}, {"per_page", 100}}.dump());
  };
  EXPECT_EQ(client_->FindImage("i2")->id, "i2");
  EXPECT_EQ(client_->FindImage("ubuntu:20.04")->id, "i1");
  EXPECT_EQ(client_->FindImage("Ubuntu 22.04")->id, "i2");
  EXPECT_TRUE(client_->FindImage("Windows").status().IsNotFound());
}

json GroupJson(const std::string& status, json rules) {
  return {{"id", "sg9"},      {"name", "pygrid"}, {"description", "d"}, {"region", "ARC-IS-HAF-1"},
          {"status", status}, {"rules", rules},   {"created_at", "x"}};
}

json Rules22() {
  return json::array({{{"protocol", "tcp"},
                       {"direction", "ingress"},
                       {"port_range_min", 22},
                       {"port_range_max", 22}}});
}

std::vector<SecurityRule> Want22() { return {{"tcp", "ingress", 22, 22}}; }

TEST_F(GenesisClientTest, CreateSecurityGroupReturnsAtOnceWithoutPolling) {
  Queue(Answer(201, json{{"security_group", GroupJson("creating", Rules22())}}.dump()));
  auto got = client_->CreateSecurityGroup("pygrid", "d", "NORD-NO-KRS-1", Want22());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->status, "creating") << "creation is asynchronous: the caller looks again later";
  ASSERT_EQ(requests().size(), 1u);
  EXPECT_EQ(requests()[0].method, "POST");
  EXPECT_EQ(requests()[0].path, "/security-groups");
  json body = json::parse(requests()[0].body);
  EXPECT_EQ(body["rules"], Rules22());
  EXPECT_EQ(body["region"], "NORD-NO-KRS-1");
  EXPECT_EQ(TotalSleep(), std::chrono::seconds(0));
}

TEST_F(GenesisClientTest, CreateSecurityGroupIsNotRetriedAfterAnAmbiguousFailure) {
  Queue(Answer(503, R"({"code":"05000","message":"unavailable"})"));
  auto got = client_->CreateSecurityGroup("pygrid", "d", "", Want22());
  EXPECT_TRUE(got.status().IsUnavailable()) << got.status().ToString();
  EXPECT_EQ(requests().size(), 1u);
}

TEST_F(GenesisClientTest, UpdateSecurityGroupPutsNameDescriptionAndRules) {
  Queue(Answer(200, json{{"security_group", GroupJson("updating", Rules22())}}.dump()));
  std::vector<SecurityRule> more = Want22();
  more.push_back({"tcp", "ingress", 5000, 5000});
  auto got = client_->UpdateSecurityGroup("sg9", "pygrid", "d", more);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->status, "updating");
  EXPECT_EQ(requests()[0].method, "PUT");
  EXPECT_EQ(requests()[0].path, "/security-groups/sg9");
  json body = json::parse(requests()[0].body);
  EXPECT_EQ(body["rules"].size(), 2u);
  EXPECT_EQ(body["name"], "pygrid");
}

}  // namespace
}  // namespace pygrid::cloud::genesis
