// The secure metrics endpoint's parts: the serving certificate (generated, or read from a
// directory and reloaded), HTTPS through the real curl, the TokenReview/SubjectAccessReview
// bodies sent through the kube client, and ScrapeAuthorizer's answers and caches.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "kube/client.h"
#include "observability/access_review.h"
#include "observability/http_server.h"
#include "observability/scrape_authorizer.h"
#include "observability/serving_certificate.h"
#include "unit/observability/test_util.h"

namespace pygrid::observability {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::RunCommand;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("pygrid-tls-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// A key pair and a self-signed certificate for 127.0.0.1, made by the openssl tool.
void WriteKeyPair(const std::string& cert, const std::string& key) {
  auto made = RunCommand(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-days 1 -subj /CN=test -addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert);
  ASSERT_EQ(made.exit_code, 0) << made.output;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::unique_ptr<HttpServer> StartHttps(std::shared_ptr<ServingCertificate> certificate,
                                       HttpHandler handler) {
  HttpServerOptions options;
  options.bind_address = "127.0.0.1:0";
  options.handler = std::move(handler);
  options.certificate = std::move(certificate);
  auto server = HttpServer::Start(std::move(options));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(*server) : nullptr;
}

HttpResponse Echo(const HttpRequest& r) { return {200, "text/plain", r.method + " " + r.path}; }

// curl against the server; `args` e.g. "--cacert f". stdout is the body, then a line with the
// HTTP version and status (curl's %{http_version} %{http_code}).
testing::CommandResult Curl(int port, const std::string& args, const std::string& path = "/x") {
  return RunCommand("curl -sS --max-time 10 -w '\\n%{http_version} %{http_code}' " + args +
                    " https://127.0.0.1:" + std::to_string(port) + path);
}

TEST(ServingCertificateTest, SelfSignedServesHttpsOnlyOverTls12OrLaterAndHttp11) {
  auto certificate = ServingCertificate::SelfSigned({"metrics.example.svc"});
  ASSERT_TRUE(certificate.ok()) << certificate.status().ToString();
  TempDir dir;
  std::ofstream(dir.file("ca.pem")) << (*certificate)->CertificatePem();
  auto text = RunCommand("openssl x509 -noout -text -in " + dir.file("ca.pem"));
  EXPECT_NE(text.output.find("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, "
                             "DNS:metrics.example.svc"),
            std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find("TLS Web Server Authentication"), std::string::npos);
  EXPECT_NE(text.output.find("ASN1 OID: prime256v1"), std::string::npos);

  auto server = StartHttps(*certificate, Echo);
  ASSERT_NE(server, nullptr);
  // Verified against the generated certificate (what a client pinning it would do).
  auto verified = Curl(server->port(), "--cacert " + dir.file("ca.pem"));
  EXPECT_EQ(verified.output, "GET /x\n1.1 200") << verified.output;
  // Not trusted by default: a client must pin it or skip verification (the chart's default).
  EXPECT_NE(Curl(server->port(), "").exit_code, 0);
  EXPECT_EQ(Curl(server->port(), "-k").output, "GET /x\n1.1 200");
  // HTTP/2 is never negotiated (no ALPN h2), even when the client offers it.
  EXPECT_EQ(Curl(server->port(), "-k --http2").output, "GET /x\n1.1 200");
  // TLS 1.1 and older are refused.
  EXPECT_NE(Curl(server->port(), "-k --tlsv1.1 --tls-max 1.1").exit_code, 0);
  // Plain HTTP on the TLS port gets no answer.
  EXPECT_EQ(testing::HttpGet(server->port(), "/x").status, 0);
}

TEST(ServingCertificateTest, DirectoryPairIsServedAndReloadedWhenItChanges) {
  TempDir dir;
  WriteKeyPair(dir.file("tls.crt"), dir.file("tls.key"));
  const std::string first = ReadFile(dir.file("tls.crt"));
  FakeClock clock;
  auto certificate = ServingCertificate::FromDirectory(dir.path(), clock);
  ASSERT_TRUE(certificate.ok()) << certificate.status().ToString();
  auto server = StartHttps(*certificate, Echo);
  ASSERT_NE(server, nullptr);
  fs::copy_file(dir.file("tls.crt"), dir.file("first.pem"));
  EXPECT_EQ(Curl(server->port(), "--cacert " + dir.file("first.pem")).output, "GET /x\n1.1 200");

  // cert-manager renews the Secret: a new pair appears in the mounted directory.
  WriteKeyPair(dir.file("tls.crt"), dir.file("tls.key"));
  fs::copy_file(dir.file("tls.crt"), dir.file("second.pem"));
  clock.Advance(std::chrono::seconds(5));  // not yet due: the first pair is still served
  EXPECT_EQ((*certificate)->CertificatePem(), first);
  clock.Advance(std::chrono::seconds(6));
  EXPECT_EQ(Curl(server->port(), "--cacert " + dir.file("second.pem")).output, "GET /x\n1.1 200");
  EXPECT_NE(Curl(server->port(), "--cacert " + dir.file("first.pem")).exit_code, 0);

  // A half-written rotation (key of another pair) is ignored; the second pair stays.
  WriteKeyPair(dir.file("other.crt"), dir.file("tls.key"));
  clock.Advance(std::chrono::seconds(11));
  EXPECT_EQ((*certificate)->CertificatePem(), ReadFile(dir.file("second.pem")));
  EXPECT_EQ(Curl(server->port(), "--cacert " + dir.file("second.pem")).output, "GET /x\n1.1 200");
}

TEST(ServingCertificateTest, DirectoryErrorsAreInvalid) {
  FakeClock clock;
  TempDir dir;
  auto missing = ServingCertificate::FromDirectory(dir.path(), clock);
  EXPECT_TRUE(missing.status().IsInvalid());
  EXPECT_NE(missing.status().message().find("tls.crt"), std::string::npos);
  WriteKeyPair(dir.file("tls.crt"), dir.file("unused.key"));
  WriteKeyPair(dir.file("unused.crt"), dir.file("tls.key"));
  auto mismatched = ServingCertificate::FromDirectory(dir.path(), clock);
  EXPECT_TRUE(mismatched.status().IsInvalid());
  EXPECT_NE(mismatched.status().message().find("does not match"), std::string::npos);
  std::ofstream(dir.file("tls.crt")) << "not a certificate";
  EXPECT_TRUE(ServingCertificate::FromDirectory(dir.path(), clock).status().IsInvalid());
}

// A KubeClient that answers Create with a scripted function and records what it was sent.
class ReviewingKubeClient final : public kube::KubeClient {
 public:
  std::function<StatusOr<json>(const json&)> answer;
  std::vector<std::pair<std::string, json>> created;  // (collection path, body)

  StatusOr<json> Create(const kube::ResourceRef& resource, const std::string& ns,
                        const json& object) override {
    created.emplace_back(resource.CollectionPath(ns), object);
    return answer(object);
  }
  StatusOr<json> Get(const kube::ResourceRef&, const std::string&, const std::string&) override {
    return Status::Invalid("not used");
  }
  StatusOr<json> ListPage(const kube::ResourceRef&, const std::string&,
                          const kube::ListOptions&) override {
    return Status::Invalid("not used");
  }
  StatusOr<json> Update(const kube::ResourceRef&, const std::string&, const json&,
                        const std::string&) override {
    return Status::Invalid("not used");
  }
  StatusOr<json> Patch(const kube::ResourceRef&, const std::string&, const std::string&,
                       kube::PatchType, const json&, const std::string&) override {
    return Status::Invalid("not used");
  }
  Status Delete(const kube::ResourceRef&, const std::string&, const std::string&,
                const kube::DeleteOptions&) override {
    return Status::Invalid("not used");
  }
  Status Watch(const kube::ResourceRef&, const std::string&, const kube::WatchOptions&,
               const kube::WatchHandler&, kube::Cancellation*) override {
    return Status::Invalid("not used");
  }
};

TEST(KubeAccessReviewsTest, TokenReviewAndSubjectAccessReviewBodiesAndAnswers) {
  ReviewingKubeClient client;
  KubeAccessReviews reviews(client);
  client.answer = [](const json& review) -> StatusOr<json> {
    json answer = review;
    answer["status"] = {{"authenticated", true},
                        {"user",
                         {{"username", "system:serviceaccount:monitoring:prometheus"},
                          {"uid", "u-1"},
                          {"groups", {"system:serviceaccounts", "system:authenticated"}},
                          {"extra", {{"authentication.kubernetes.io/pod-name", {"prom-0"}}}}}}};
    return answer;
  };
  auto user = reviews.AuthenticateToken("tok-1");
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  ASSERT_TRUE(user->has_value());
  EXPECT_EQ((*user)->username, "system:serviceaccount:monitoring:prometheus");
  EXPECT_EQ((*user)->groups.size(), 2u);
  EXPECT_EQ(client.created.back().first, "/apis/authentication.k8s.io/v1/tokenreviews");
  EXPECT_EQ(client.created.back().second, (json{{"apiVersion", "authentication.k8s.io/v1"},
                                                {"kind", "TokenReview"},
                                                {"spec", {{"token", "tok-1"}}}}));

  client.answer = [](const json& review) -> StatusOr<json> {
    json answer = review;
    answer["status"] = {{"allowed", true}, {"reason", "RBAC: allowed"}};
    return answer;
  };
  auto allowed = reviews.Authorize(**user, "get", "/metrics");
  ASSERT_TRUE(allowed.ok());
  EXPECT_TRUE(*allowed);
  EXPECT_EQ(client.created.back().first, "/apis/authorization.k8s.io/v1/subjectaccessreviews");
  const json& spec = client.created.back().second["spec"];
  EXPECT_EQ(client.created.back().second["kind"], "SubjectAccessReview");
  EXPECT_EQ(spec["user"], "system:serviceaccount:monitoring:prometheus");
  EXPECT_EQ(spec["uid"], "u-1");
  EXPECT_EQ(spec["groups"], json({"system:serviceaccounts", "system:authenticated"}));
  EXPECT_EQ(spec["extra"]["authentication.kubernetes.io/pod-name"], json({"prom-0"}));
  EXPECT_EQ(spec["nonResourceAttributes"], (json{{"path", "/metrics"}, {"verb", "get"}}));
  EXPECT_FALSE(spec.contains("resourceAttributes"));
}

TEST(KubeAccessReviewsTest, RejectedTokensDeniedUsersAndBrokenAnswers) {
  ReviewingKubeClient client;
  KubeAccessReviews reviews(client);
  client.answer = [](const json& review) -> StatusOr<json> {
    json answer = review;
    answer["status"] = {{"user", json::object()}, {"error", "invalid bearer token"}};
    return answer;
  };
  auto rejected = reviews.AuthenticateToken("nope");
  ASSERT_TRUE(rejected.ok());
  EXPECT_FALSE(rejected->has_value());

  client.answer = [](const json& review) -> StatusOr<json> {
    json answer = review;
    answer["status"] = {{"allowed", false}};
    return answer;
  };
  auto denied = reviews.Authorize({"bob", "", {}, {}}, "get", "/metrics");
  ASSERT_TRUE(denied.ok());
  EXPECT_FALSE(*denied);
  EXPECT_FALSE(client.created.back().second["spec"].contains("uid"));

  client.answer = [](const json&) -> StatusOr<json> {
    return Status::Forbidden("tokenreviews.authentication.k8s.io is forbidden");
  };
  EXPECT_TRUE(reviews.AuthenticateToken("t").status().IsForbidden());
  client.answer = [](const json&) -> StatusOr<json> { return json{{"kind", "Status"}}; };
  EXPECT_FALSE(reviews.AuthenticateToken("t").ok());
  EXPECT_FALSE(reviews.Authorize({"bob", "", {}, {}}, "get", "/metrics").ok());
  client.answer = [](const json&) -> StatusOr<json> {
    return json{{"kind", "TokenReview"}, {"status", {{"authenticated", true}, {"user", 7}}}};
  };
  EXPECT_FALSE(reviews.AuthenticateToken("t").ok());
}

// Tokens and grants as a tiny API server would hold them; counts the reviews asked.
class FakeReviews final : public AccessReviews {
 public:
  std::map<std::string, std::string> users;  // token -> username
  std::map<std::string, bool> allowed;       // "user verb path" -> allowed
  Status token_failure = Status::Ok();
  Status access_failure = Status::Ok();
  int token_reviews = 0;
  int access_reviews = 0;

  StatusOr<std::optional<UserInfo>> AuthenticateToken(const std::string& token) override {
    ++token_reviews;
    if (!token_failure.ok()) return token_failure;
    auto it = users.find(token);
    if (it == users.end()) return std::optional<UserInfo>();
    return std::optional<UserInfo>(UserInfo{it->second, "", {"system:authenticated"}, {}});
  }
  StatusOr<bool> Authorize(const UserInfo& user, const std::string& verb,
                           const std::string& path) override {
    ++access_reviews;
    if (!access_failure.ok()) return access_failure;
    return allowed[user.username + " " + verb + " " + path];
  }
};

// An authorizer on a fake clock, asking reviews in which the token "good" is prometheus, which
// may get /metrics, and "other" is intruder, who may not.
class ScrapeAuthorizerTest : public ::testing::Test {
 protected:
  ScrapeAuthorizerTest() {
    reviews.users = {{"good", "prometheus"}, {"other", "intruder"}};
    reviews.allowed["prometheus get /metrics"] = true;
  }
  FakeReviews reviews;
  FakeClock clock;
  ScrapeAuthorizer auth{reviews, clock};
};

HttpRequest Scrape(const std::string& authorization, const std::string& method = "GET") {
  return {method, "/metrics", "", authorization};
}

TEST_F(ScrapeAuthorizerTest, AnswersAsControllerRuntimesFilter) {
  HttpHandler handler = auth.Protect([](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "metrics"};
  });

  EXPECT_EQ(handler(Scrape("")).status, 401);
  EXPECT_EQ(handler(Scrape("")).body, "Unauthorized\n");
  EXPECT_EQ(handler(Scrape("Basic Z29vZA==")).status, 401);
  EXPECT_EQ(handler(Scrape("Bearer")).status, 401);
  EXPECT_EQ(reviews.token_reviews, 0) << "nothing to review without a bearer token";
  EXPECT_EQ(handler(Scrape("Bearer wrong")).status, 401);

  HttpResponse forbidden = handler(Scrape("Bearer other"));
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(forbidden.body, "Authorization denied for user intruder\n");

  HttpResponse ok = handler(Scrape("bearer good"));  // the scheme is case-insensitive
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "metrics");
  // The verb is the lower-case HTTP method, as upstream: HEAD needs its own grant.
  EXPECT_EQ(handler(Scrape("Bearer good", "HEAD")).status, 403);
}

TEST_F(ScrapeAuthorizerTest, CachesAnswersForUpstreamsTimesAndNeverCachesFailures) {
  EXPECT_EQ(auth.Check(Scrape("Bearer good")), std::nullopt);
  EXPECT_EQ(auth.Check(Scrape("Bearer good")), std::nullopt);
  EXPECT_EQ(reviews.token_reviews, 1);
  EXPECT_EQ(reviews.access_reviews, 1);
  clock.Advance(std::chrono::seconds(61));  // the token's review expired, the grant did not
  EXPECT_EQ(auth.Check(Scrape("Bearer good")), std::nullopt);
  EXPECT_EQ(reviews.token_reviews, 2);
  EXPECT_EQ(reviews.access_reviews, 1);
  clock.Advance(std::chrono::seconds(240));  // 301 s: the grant expired too
  EXPECT_EQ(auth.Check(Scrape("Bearer good")), std::nullopt);
  EXPECT_EQ(reviews.access_reviews, 2);

  // A denial is cached for 30 s: a new grant takes effect after that.
  EXPECT_EQ(auth.Check(Scrape("Bearer other"))->status, 403);
  reviews.allowed["intruder get /metrics"] = true;
  clock.Advance(std::chrono::seconds(20));
  EXPECT_EQ(auth.Check(Scrape("Bearer other"))->status, 403);
  clock.Advance(std::chrono::seconds(11));
  EXPECT_EQ(auth.Check(Scrape("Bearer other")), std::nullopt);

  // A rejected token is remembered for the token TTL too.
  const int before = reviews.token_reviews;
  EXPECT_EQ(auth.Check(Scrape("Bearer unknown"))->status, 401);
  EXPECT_EQ(auth.Check(Scrape("Bearer unknown"))->status, 401);
  EXPECT_EQ(reviews.token_reviews, before + 1);
}

TEST_F(ScrapeAuthorizerTest, FailedReviewsAre500AndRetriedNextTime) {
  reviews.users = {{"good", "prometheus"}};
  reviews.token_failure = Status::Unavailable("connection refused");
  auto refused = auth.Check(Scrape("Bearer good"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 500);
  EXPECT_EQ(refused->body, "Authentication failed\n");
  reviews.token_failure = Status::Ok();
  reviews.access_failure = Status::Forbidden("subjectaccessreviews is forbidden");
  refused = auth.Check(Scrape("Bearer good"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 500);
  EXPECT_EQ(refused->body, "Authorization for user prometheus failed\n");
  reviews.access_failure = Status::Ok();
  EXPECT_EQ(auth.Check(Scrape("Bearer good")), std::nullopt);  // neither failure was cached
  EXPECT_EQ(reviews.token_reviews, 2);
  EXPECT_EQ(reviews.access_reviews, 2);
}

}  // namespace
}  // namespace pygrid::observability
