// kube-sim's TokenReview and SubjectAccessReview, through ApiServer::Handle in process: the
// answers' shapes, the validation errors, discovery, and the /_sim/identities and
// /_sim/grants control endpoints.
#include <gtest/gtest.h>

#include "sim/kube/api_server.h"

namespace pygrid::sim::kube {
namespace {

constexpr char kAdminToken[] = "admin-token";

class AccessReviewsTest : public ::testing::Test {
 protected:
  AccessReviewsTest() : api_({kAdminToken, 100, 1000}) {}

  // `method` `path` with `body`, as the admin (or unauthenticated for /_sim/).
  std::pair<int, json> Call(const std::string& method, const std::string& path,
                            const json& body = nullptr) {
    HttpRequest req;
    req.method = method;
    req.target = path;
    req.path = path;
    req.headers = {{"Authorization", std::string("Bearer ") + kAdminToken},
                   {"Content-Type", "application/json"}};
    if (!body.is_null()) req.body = body.dump();
    HttpResponse resp = api_.Handle(req);
    return {resp.status, json::parse(resp.body, nullptr, false)};
  }

  std::pair<int, json> TokenReview(const std::string& token, const json& audiences = nullptr) {
    json spec = {{"token", token}};
    if (!audiences.is_null()) spec["audiences"] = audiences;
    return Call(
        "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
        {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenReview"}, {"spec", spec}});
  }

  std::pair<int, json> AccessReview(const json& spec) {
    return Call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                {{"apiVersion", "authorization.k8s.io/v1"},
                 {"kind", "SubjectAccessReview"},
                 {"spec", spec}});
  }

  static json Metrics(const std::string& user, const json& groups = json::array(),
                      const std::string& verb = "get") {
    return {{"user", user},
            {"groups", groups},
            {"nonResourceAttributes", {{"path", "/metrics"}, {"verb", verb}}}};
  }

  ApiServer api_;
};

TEST_F(AccessReviewsTest, TokenReviewAuthenticatesKnownTokensOnly) {
  ASSERT_EQ(
      Call("POST", "/_sim/identities",
           {{"token", "prom-token"}, {"username", "system:serviceaccount:monitoring:prometheus"}})
          .first,
      201);
  auto [code, review] = TokenReview("prom-token");
  EXPECT_EQ(code, 201);
  EXPECT_EQ(review["kind"], "TokenReview");
  EXPECT_EQ(review["apiVersion"], "authentication.k8s.io/v1");
  EXPECT_EQ(review["spec"]["token"], "prom-token");
  const json& status = review["status"];
  EXPECT_EQ(status["authenticated"], true);
  EXPECT_EQ(status["user"]["username"], "system:serviceaccount:monitoring:prometheus");
  // The groups the service account authenticator adds, as on a real cluster.
  EXPECT_EQ(status["user"]["groups"],
            json({"system:serviceaccounts", "system:serviceaccounts:monitoring",
                  "system:authenticated"}));
  EXPECT_FALSE(status["user"].value("uid", "").empty());
  EXPECT_EQ(status["audiences"], json({"https://kubernetes.default.svc.cluster.local"}));
  EXPECT_EQ(TokenReview("prom-token", {"my-api"}).second["status"]["audiences"], json({"my-api"}));

  auto [unknown_code, unknown] = TokenReview("nobody-has-this");
  EXPECT_EQ(unknown_code, 201);
  EXPECT_FALSE(unknown["status"].value("authenticated", false));
  EXPECT_EQ(unknown["status"]["user"], json::object());
  EXPECT_EQ(unknown["status"]["error"], "invalid bearer token");

  // The server's own token is the cluster admin.
  EXPECT_EQ(TokenReview(kAdminToken).second["status"]["user"]["groups"],
            json({"system:masters", "system:authenticated"}));
  // An empty token is a bad request (tokenreview storage).
  auto [empty_code, empty] = TokenReview("");
  EXPECT_EQ(empty_code, 400);
  EXPECT_EQ(empty["message"], "token is required for TokenReview in authentication");
}

TEST_F(AccessReviewsTest, SubjectAccessReviewFollowsGrants) {
  ASSERT_EQ(Call("POST", "/_sim/grants",
                 {{"user", "system:serviceaccount:monitoring:prometheus"},
                  {"verbs", {"get"}},
                  {"nonResourceURLs", {"/metrics"}}})
                .first,
            201);
  ASSERT_EQ(Call("POST", "/_sim/grants",
                 {{"group", "scrapers"}, {"verbs", {"*"}}, {"nonResourceURLs", {"/debug/*"}}})
                .first,
            201);
  auto [code, review] = AccessReview(Metrics("system:serviceaccount:monitoring:prometheus"));
  EXPECT_EQ(code, 201);
  EXPECT_EQ(review["kind"], "SubjectAccessReview");
  EXPECT_EQ(review["status"]["allowed"], true);
  EXPECT_EQ(review["spec"]["nonResourceAttributes"]["path"], "/metrics");

  EXPECT_EQ(AccessReview(Metrics("system:serviceaccount:monitoring:prometheus", {}, "post"))
                .second["status"]["allowed"],
            false);
  EXPECT_EQ(AccessReview(Metrics("intruder")).second["status"]["allowed"], false);
  json debug = {{"user", "x"},
                {"groups", {"scrapers"}},
                {"nonResourceAttributes", {{"path", "/debug/pprof"}, {"verb", "get"}}}};
  EXPECT_EQ(AccessReview(debug).second["status"]["allowed"], true);
  EXPECT_EQ(AccessReview(Metrics("x", {"scrapers"})).second["status"]["allowed"], false);
  EXPECT_EQ(AccessReview(Metrics("admin", {"system:masters"})).second["status"]["allowed"], true);
  // Resource attributes: RBAC over the stored roles (none here; grants are non-resource only).
  json pods = {{"user", "system:serviceaccount:monitoring:prometheus"},
               {"resourceAttributes", {{"verb", "list"}, {"resource", "pods"}}}};
  EXPECT_EQ(AccessReview(pods).second["status"]["allowed"], false);

  // Grants are listed; DELETE clears them.
  EXPECT_EQ(Call("GET", "/_sim/grants").second["grants"].size(), 2u);
  EXPECT_EQ(Call("DELETE", "/_sim/grants").first, 200);
  EXPECT_EQ(AccessReview(Metrics("system:serviceaccount:monitoring:prometheus"))
                .second["status"]["allowed"],
            false);
}

TEST_F(AccessReviewsTest, InvalidReviewsAndOtherVerbsAreRefusedAsTheApiServerDoes) {
  auto [no_subject, invalid] = AccessReview({{"nonResourceAttributes", {{"path", "/metrics"}}}});
  EXPECT_EQ(no_subject, 422);
  EXPECT_EQ(invalid["reason"], "Invalid");
  EXPECT_EQ(invalid["message"],
            "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: "
            "\"\": at least one of user or group must be specified");
  auto [neither, both_missing] = AccessReview({{"user", "u"}});
  EXPECT_EQ(neither, 422);
  EXPECT_NE(both_missing["message"].get<std::string>().find(
                "exactly one of nonResourceAttributes or resourceAttributes must be specified"),
            std::string::npos);
  EXPECT_EQ(Call("GET", "/apis/authentication.k8s.io/v1/tokenreviews").first, 405);
  EXPECT_EQ(Call("GET", "/apis/authorization.k8s.io/v1/subjectaccessreviews/x").first, 405);
  EXPECT_EQ(Call("POST", "/apis/authentication.k8s.io/v1/namespaces/default/tokenreviews",
                 {{"spec", {{"token", "t"}}}})
                .first,
            404);
  EXPECT_EQ(Call("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                 {{"kind", "SubjectAccessReview"}, {"spec", {{"token", "t"}}}})
                .first,
            400);
  // Fields of the wrong type are decoding errors, not crashes.
  EXPECT_EQ(AccessReview({{"user", 7}, {"nonResourceAttributes", {{"path", "/m"}}}}).first, 400);
  EXPECT_EQ(AccessReview({{"user", "u"}, {"nonResourceAttributes", "x"}}).first, 400);
  EXPECT_EQ(Call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {{"spec", "x"}}).first,
            400);
  EXPECT_EQ(TokenReview("t", "not-a-list").first, 400);
  // Nothing was stored.
  EXPECT_EQ(
      Call("GET", "/_sim/state").second["objects"].count("authentication.k8s.io/tokenreviews"), 0u);
}

TEST_F(AccessReviewsTest, DiscoveryListsTheReviewsCreateOnly) {
  for (const auto& [group, plural, kind] :
       {std::tuple<std::string, std::string, std::string>{"authentication.k8s.io", "tokenreviews",
                                                          "TokenReview"},
        {"authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview"},
        {"authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview"},
        {"authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview"}}) {
    auto [code, list] = Call("GET", "/apis/" + group + "/v1");
    ASSERT_EQ(code, 200) << group;
    ASSERT_EQ(list["resources"].size(), 2u);
    json resource;
    for (const json& r : list["resources"]) {
      if (r["name"] == plural) resource = r;
    }
    ASSERT_FALSE(resource.is_null()) << plural;
    EXPECT_EQ(resource["kind"], kind);
    EXPECT_EQ(resource["namespaced"], false);
    EXPECT_EQ(resource["verbs"], json({"create"}));
    bool listed = false;
    const json groups = Call("GET", "/apis").second["groups"];
    for (const json& g : groups) listed |= g["name"] == group;
    EXPECT_TRUE(listed) << group;
  }
}

// The self reviews answer about whoever asks: `kubectl auth whoami` and `kubectl auth can-i`.
TEST_F(AccessReviewsTest, SelfReviewsAnswerAboutTheRequester) {
  auto [code, me] =
      Call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
           {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}});
  EXPECT_EQ(code, 201);
  EXPECT_EQ(me["status"]["userInfo"],
            json({{"username", "kubernetes-admin"},
                  {"groups", {"system:masters", "system:authenticated"}}}));
  const json can_i = {
      {"apiVersion", "authorization.k8s.io/v1"},
      {"kind", "SelfSubjectAccessReview"},
      {"spec", {{"resourceAttributes", {{"verb", "delete"}, {"resource", "nodes"}}}}}};
  auto [allowed_code, allowed] =
      Call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", can_i);
  EXPECT_EQ(allowed_code, 201);
  EXPECT_EQ(allowed["status"]["allowed"], true);
  // No user or groups needed (they are the requester's), but exactly one kind of attributes.
  json neither = can_i;
  neither["spec"] = json::object();
  auto [invalid_code, invalid] =
      Call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", neither);
  EXPECT_EQ(invalid_code, 422);
  EXPECT_EQ(invalid["message"],
            "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: "
            "spec.resourceAttributes: Invalid value: \"null\": exactly one of "
            "nonResourceAttributes or resourceAttributes must be specified");
}

TEST_F(AccessReviewsTest, IdentitiesAreListedWithoutTokensAndResetForgetsThem) {
  EXPECT_EQ(Call("POST", "/_sim/identities", {{"username", "no-token"}}).first, 400);
  EXPECT_EQ(Call("POST", "/_sim/identities", {{"token", kAdminToken}, {"username", "x"}}).first,
            400);
  ASSERT_EQ(Call("POST", "/_sim/identities",
                 {{"token", "t1"}, {"username", "alice"}, {"uid", "u-1"}, {"groups", {"devs"}}})
                .first,
            201);
  auto [code, listed] = Call("GET", "/_sim/identities");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(listed["identities"], json::parse(R"([{"username":"alice","uid":"u-1",
                              "groups":["devs","system:authenticated"]}])"));
  EXPECT_EQ(listed.dump().find("t1"), std::string::npos);
  EXPECT_EQ(Call("POST", "/_sim/reset").first, 200);
  EXPECT_FALSE(TokenReview("t1").second["status"].value("authenticated", false));
}

}  // namespace
}  // namespace pygrid::sim::kube
