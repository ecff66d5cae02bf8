// kube-sim's RBAC authorizer: request attributes, rule matching and bindings as a table of
// requests against one policy; the 403 Status; and, through ApiServer::Handle in process, a
// registered token that is refused until a Role and a RoleBinding are applied, the
// SubjectAccessReview of resource attributes, and the request log's user and attributes.
#include "sim/kube/rbac.h"

#include <gtest/gtest.h>

#include "sim/kube/api_server.h"

namespace pygrid::sim::kube {
namespace {

const json kClusterRoles = json::parse(R"([
  {"metadata": {"name": "operator"}, "rules": [
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["distributor.pygrid.dev"], "resources": ["pygridclusters/status"],
     "verbs": ["update"]},
    {"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["get"]},
    {"apiGroups": ["apps"], "resources": ["deployments/*"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cm1"],
     "verbs": ["get", "list"]},
    {"nonResourceURLs": ["/metrics", "/debug/*"], "verbs": ["get"]}]},
  {"metadata": {"name": "pod-viewer"}, "rules": [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]}
])");
const json kRoles = json::parse(R"([
  {"metadata": {"name": "leases", "namespace": "ns2"}, "rules": [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
     "verbs": ["get", "create", "update"]}]}
])");
const json kClusterRoleBindings = json::parse(R"([
  {"metadata": {"name": "operator"}, "roleRef": {"kind": "ClusterRole", "name": "operator"},
   "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns1"}]},
  {"metadata": {"name": "dangling"}, "roleRef": {"kind": "ClusterRole", "name": "missing"},
   "subjects": [{"kind": "User", "name": "alice"}]}
])");
const json kRoleBindings = json::parse(R"([
  {"metadata": {"name": "leases", "namespace": "ns2"},
   "roleRef": {"kind": "Role", "name": "leases"},
   "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns1"},
                {"kind": "ServiceAccount", "name": "local"}]},
  {"metadata": {"name": "pods", "namespace": "ns3"},
   "roleRef": {"kind": "ClusterRole", "name": "pod-viewer"},
   "subjects": [{"kind": "Group", "name": "team"}]}
])");

RbacPolicy Policy() {
  RbacPolicy policy;
  for (const json& role : kClusterRoles) policy.cluster_roles[role["metadata"]["name"]] = &role;
  for (const json& role : kRoles) {
    policy
        .roles[role["metadata"].value("namespace", "") + "/" + role["metadata"].value("name", "")] =
        &role;
  }
  for (const json& binding : kClusterRoleBindings) policy.cluster_role_bindings.push_back(&binding);
  for (const json& binding : kRoleBindings) policy.role_bindings.push_back(&binding);
  return policy;
}

const UserInfo kOperator{
    "system:serviceaccount:ns1:sa",
    {"system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"}};
const UserInfo kLocal{"system:serviceaccount:ns2:local", {"system:authenticated"}};
const UserInfo kBob{"bob", {"team", "system:authenticated"}};
const UserInfo kAlice{"alice", {"system:authenticated"}};

struct Case {
  const UserInfo* user;
  std::string method, path, query;
  bool allowed;
};

std::multimap<std::string, std::string> Query(const std::string& query) {
  std::multimap<std::string, std::string> out;
  if (query.empty()) return out;
  const size_t eq = query.find('=');
  out.emplace(query.substr(0, eq), query.substr(eq + 1));
  return out;
}

TEST(RbacTest, RulesAndBindingsDecideAsKubernetesRbac) {
  const RbacPolicy policy = Policy();
  const std::string core = "/api/v1/namespaces/x/";
  const std::string pgc = "/apis/distributor.pygrid.dev/v1alpha1/namespaces/x/pygridclusters/a";
  const std::string deployment = "/apis/apps/v1/namespaces/x/deployments/d";
  const std::string leases = "/apis/coordination.k8s.io/v1/namespaces/";
  const std::vector<Case> cases = {
      // A ClusterRoleBinding grants in every namespace and cluster-wide.
      {&kOperator, "GET", core + "secrets/s", "", true},
      {&kOperator, "GET", "/api/v1/secrets", "", true},
      {&kOperator, "GET", core + "secrets", "watch=true", true},
      {&kOperator, "DELETE", core + "secrets/s", "", false},
      {&kOperator, "DELETE", core + "secrets", "", false},  // deletecollection
      {&kOperator, "POST", core + "secrets", "", false},
      // "resource/subresource" is exact; it grants neither the resource nor other subresources.
      {&kOperator, "PUT", pgc + "/status", "", true},
      {&kOperator, "PATCH", pgc + "/status", "", false},
      {&kOperator, "PUT", pgc, "", false},
      // "*/scale" matches that subresource of anything; "deployments/*" is no wildcard.
      {&kOperator, "GET", deployment + "/scale", "", true},
      {&kOperator, "GET", deployment + "/status", "", false},
      {&kOperator, "GET", deployment, "", false},
      // resourceNames: only requests that name the object, including a list whose field
      // selector pins metadata.name.
      {&kOperator, "GET", core + "configmaps/cm1", "", true},
      {&kOperator, "GET", core + "configmaps/cm2", "", false},
      {&kOperator, "GET", core + "configmaps", "", false},
      {&kOperator, "GET", core + "configmaps", "fieldSelector=metadata.name=cm1", true},
      {&kOperator, "GET", core + "configmaps", "fieldSelector=metadata.name=cm2", false},
      // Non-resource URLs: exact, or a prefix ending in "*"; the verb is the HTTP method.
      {&kOperator, "GET", "/metrics", "", true},
      {&kOperator, "POST", "/metrics", "", false},
      {&kOperator, "GET", "/metricsx", "", false},
      {&kOperator, "GET", "/debug/pprof/heap", "", true},
      // A RoleBinding grants only in its namespace; a ServiceAccount subject without a
      // namespace is in the binding's.
      {&kOperator, "GET", leases + "ns2/leases/l", "", true},
      {&kOperator, "PUT", leases + "ns2/leases/l", "", true},
      {&kOperator, "DELETE", leases + "ns2/leases/l", "", false},
      {&kOperator, "GET", leases + "ns1/leases/l", "", false},
      {&kOperator, "GET", "/apis/coordination.k8s.io/v1/leases", "", false},
      {&kLocal, "POST", leases + "ns2/leases", "", true},
      {&kLocal, "POST", leases + "ns3/leases", "", false},
      // A RoleBinding to a ClusterRole: its rules, in the binding's namespace only.
      {&kBob, "GET", "/api/v1/namespaces/ns3/pods/p", "", true},
      {&kBob, "DELETE", "/api/v1/namespaces/ns3/pods", "", true},
      {&kBob, "GET", "/api/v1/namespaces/ns4/pods/p", "", false},
      {&kBob, "GET", "/api/v1/pods", "", false},
      {&kBob, "GET", "/metrics", "", false},
      // The bootstrap discovery roles, for every authenticated user.
      {&kBob, "GET", "/api", "", true},
      {&kBob, "GET", "/apis/apps/v1", "", true},
      {&kBob, "GET", "/openapi/v3/apis/apps/v1", "", true},
      {&kBob, "GET", "/version", "", true},
      {&kBob, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "", true},
      {&kBob, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "", false},
      {&kAlice, "GET", "/api/v1/namespaces/ns3/pods/p", "", false},
  };
  for (const Case& c : cases) {
    const RequestAttributes attributes = AttributesOf(c.method, c.path, Query(c.query));
    const Decision decision = Authorize(policy, *c.user, attributes);
    EXPECT_EQ(decision.allowed, c.allowed)
        << c.user->name << " " << c.method << " " << c.path << "?" << c.query << " ("
        << attributes.verb << ") " << decision.reason;
  }
}

TEST(RbacTest, ReasonsNameTheBindingOrTheMissingRole) {
  const RbacPolicy policy = Policy();
  EXPECT_EQ(Authorize(policy, kOperator, AttributesOf("GET", "/api/v1/secrets", {})).reason,
            "RBAC: allowed by ClusterRoleBinding \"operator\" of ClusterRole \"operator\" to "
            "ServiceAccount \"sa/ns1\"");
  EXPECT_EQ(
      Authorize(policy, kLocal,
                AttributesOf("GET", "/apis/coordination.k8s.io/v1/namespaces/ns2/leases/l", {}))
          .reason,
      "RBAC: allowed by RoleBinding \"leases/ns2\" of Role \"leases\" to ServiceAccount "
      "\"local/ns2\"");
  EXPECT_EQ(Authorize(policy, kAlice, AttributesOf("GET", "/api/v1/pods", {})).reason,
            "RBAC: clusterrole.rbac.authorization.k8s.io \"missing\" not found");
  EXPECT_EQ(Authorize(policy, kBob, AttributesOf("GET", "/api/v1/pods", {})).reason, "");
}

TEST(RbacTest, AttributesFollowRequestInfo) {
  struct Row {
    std::string method, path, query;
    bool resource_request;
    std::string verb, group, resource, subresource, namespace_, name;
  };
  const std::vector<Row> rows = {
      {"GET", "/api/v1/namespaces/n/secrets/s", "", true, "get", "", "secrets", "", "n", "s"},
      {"GET", "/api/v1/namespaces/n/secrets", "", true, "list", "", "secrets", "", "n", ""},
      {"GET", "/api/v1/secrets", "watch=1", true, "watch", "", "secrets", "", "", ""},
      {"POST", "/api/v1/namespaces/n/events", "", true, "create", "", "events", "", "n", ""},
      {"PATCH", "/apis/events.k8s.io/v1/namespaces/n/events/e", "", true, "patch", "events.k8s.io",
       "events", "", "n", "e"},
      {"PUT", "/apis/g/v1/namespaces/n/things/t/status", "", true, "update", "g", "things",
       "status", "n", "t"},
      {"DELETE", "/apis/g/v1/namespaces/n/things", "", true, "deletecollection", "g", "things", "",
       "n", ""},
      {"POST", "/apis/authentication.k8s.io/v1/tokenreviews", "", true, "create",
       "authentication.k8s.io", "tokenreviews", "", "", ""},
      // A namespace is in itself; its status and finalize are its subresources.
      {"GET", "/api/v1/namespaces/n", "", true, "get", "", "namespaces", "", "n", "n"},
      {"PUT", "/api/v1/namespaces/n/finalize", "", true, "update", "", "namespaces", "finalize",
       "n", "n"},
      {"GET", "/api/v1/namespaces", "", true, "list", "", "namespaces", "", "", ""},
      // Discovery and everything outside /api and /apis are non-resource requests.
      {"GET", "/apis/apps/v1", "", false, "get", "", "", "", "", ""},
      {"GET", "/api/v1", "", false, "get", "", "", "", "", ""},
      {"GET", "/healthz", "", false, "get", "", "", "", "", ""},
      {"POST", "/metrics", "", false, "post", "", "", "", "", ""},
  };
  for (const Row& r : rows) {
    const RequestAttributes a = AttributesOf(r.method, r.path, Query(r.query));
    const std::string where = r.method + " " + r.path;
    EXPECT_EQ(a.resource_request, r.resource_request) << where;
    EXPECT_EQ(a.verb, r.verb) << where;
    EXPECT_EQ(a.group, r.group) << where;
    EXPECT_EQ(a.resource, r.resource) << where;
    EXPECT_EQ(a.subresource, r.subresource) << where;
    EXPECT_EQ(a.namespace_, r.namespace_) << where;
    EXPECT_EQ(a.name, r.name) << where;
    EXPECT_EQ(a.path, r.path) << where;
  }
}

TEST(RbacTest, ForbiddenIsTheApiServersStatus) {
  const UserInfo user{"system:serviceaccount:ns1:sa", {}};
  EXPECT_EQ(ForbiddenStatus(user, AttributesOf("GET", "/api/v1/namespaces/n/secrets/s", {}), ""),
            json::parse(R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
              "message":"secrets \"s\" is forbidden: User \"system:serviceaccount:ns1:sa\" cannot get resource \"secrets\" in API group \"\" in the namespace \"n\"",
              "reason":"Forbidden","details":{"name":"s","kind":"secrets"},"code":403})"));
  EXPECT_EQ(ForbiddenStatus(user,
                            AttributesOf("PUT",
                                         "/apis/distributor.pygrid.dev/v1alpha1/namespaces/n/"
                                         "pygridclusters/a/status",
                                         {}),
                            "")["message"],
            "pygridclusters.distributor.pygrid.dev \"a\" is forbidden: User "
            "\"system:serviceaccount:ns1:sa\" cannot update resource \"pygridclusters/status\" "
            "in API group \"distributor.pygrid.dev\" in the namespace \"n\"");
  EXPECT_EQ(
      ForbiddenStatus(user, AttributesOf("GET", "/apis/coordination.k8s.io/v1/leases", {}),
                      "RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found")["message"],
      "leases.coordination.k8s.io is forbidden: User \"system:serviceaccount:ns1:sa\" "
      "cannot list resource \"leases\" in API group \"coordination.k8s.io\" at the cluster "
      "scope: RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found");
  const json path = ForbiddenStatus(user, AttributesOf("GET", "/metrics", {}), "");
  EXPECT_EQ(path["message"],
            "forbidden: User \"system:serviceaccount:ns1:sa\" cannot get path "
            "\"/metrics\"");
  EXPECT_EQ(path["details"], json::object());
}

// The same rules through the server: stored objects, the identity's token, the request log.
class RbacServerTest : public ::testing::Test {
 protected:
  RbacServerTest() : api_({"admin-token", 100, 1000}) {}

  std::pair<int, json> Call(const std::string& token, const std::string& method,
                            const std::string& target, const json& body = nullptr) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.path = target.substr(0, target.find('?'));
    if (target.find('?') != std::string::npos) {
      const std::string q = target.substr(target.find('?') + 1);
      req.query.emplace(q.substr(0, q.find('=')), q.substr(q.find('=') + 1));
    }
    req.headers = {{"Content-Type", "application/json"}};
    if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
    if (!body.is_null()) req.body = body.dump();
    HttpResponse resp = api_.Handle(req);
    return {resp.status, json::parse(resp.body, nullptr, false)};
  }
  std::pair<int, json> Admin(const std::string& method, const std::string& target,
                             const json& body = nullptr) {
    return Call("admin-token", method, target, body);
  }

  ApiServer api_;
};

TEST_F(RbacServerTest, AnIdentityGetsWhatItsBindingsGrantAndTheStandard403Otherwise) {
  ASSERT_EQ(Admin("POST", "/_sim/identities",
                  {{"token", "sa-token"}, {"username", "system:serviceaccount:ops:op"}})
                .first,
            201);
  const std::string secrets = "/api/v1/namespaces/default/secrets";
  auto [denied, status] = Call("sa-token", "GET", secrets);
  EXPECT_EQ(denied, 403);
  EXPECT_EQ(status["reason"], "Forbidden");
  EXPECT_EQ(status["message"],
            "secrets is forbidden: User \"system:serviceaccount:ops:op\" cannot list resource "
            "\"secrets\" in API group \"\" in the namespace \"default\"");
  // Discovery needs no binding (system:discovery); an unknown token is still 401.
  EXPECT_EQ(Call("sa-token", "GET", "/api").first, 200);
  EXPECT_EQ(Call("other", "GET", secrets).first, 401);

  ASSERT_EQ(Admin("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
                  json::parse(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role",
                    "metadata":{"name":"read"},
                    "rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["list"]}]})"))
                .first,
            201);
  ASSERT_EQ(Admin("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
                  json::parse(R"({"apiVersion":"rbac.authorization.k8s.io/v1",
                    "kind":"RoleBinding","metadata":{"name":"read"},
                    "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"read"},
                    "subjects":[{"kind":"ServiceAccount","name":"op","namespace":"ops"}]})"))
                .first,
            201);
  EXPECT_EQ(Call("sa-token", "GET", secrets).first, 200);
  EXPECT_EQ(Call("sa-token", "GET", "/api/v1/secrets").first, 403);  // not cluster-wide
  EXPECT_EQ(Call("sa-token", "POST", secrets, {{"metadata", {{"name", "s"}}}}).first, 403);

  // SubjectAccessReview of resource attributes: the same decision.
  auto review = [&](const std::string& verb, const std::string& ns) {
    return Admin("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                 {{"apiVersion", "authorization.k8s.io/v1"},
                  {"kind", "SubjectAccessReview"},
                  {"spec",
                   {{"user", "system:serviceaccount:ops:op"},
                    {"resourceAttributes",
                     {{"verb", verb}, {"resource", "secrets"}, {"namespace", ns}}}}}})
        .second["status"];
  };
  EXPECT_EQ(review("list", "default")["allowed"], true);
  EXPECT_EQ(review("list", "default")["reason"],
            "RBAC: allowed by RoleBinding \"read/default\" of Role \"read\" to ServiceAccount "
            "\"op/ops\"");
  EXPECT_EQ(review("list", "kube-system")["allowed"], false);
  EXPECT_EQ(review("create", "default")["allowed"], false);

  // The log says who asked, what RBAC saw and what it decided.
  json log = Admin("GET", "/_sim/requests").second["requests"];
  json forbidden, admin;
  for (const json& entry : log) {
    if (entry["user"] == "system:serviceaccount:ops:op" && entry["code"] == 403 &&
        forbidden.is_null())
      forbidden = entry;
    if (entry["user"] == "kubernetes-admin" && admin.is_null()) admin = entry;
  }
  ASSERT_FALSE(forbidden.is_null()) << log.dump();
  EXPECT_EQ(forbidden["attributes"], json({{"resourceAttributes",
                                            {{"verb", "list"},
                                             {"version", "v1"},
                                             {"resource", "secrets"},
                                             {"namespace", "default"}}}}));
  EXPECT_EQ(forbidden["authorization"], "forbidden");
  ASSERT_FALSE(admin.is_null());
  EXPECT_EQ(admin["authorization"], "");
}

}  // namespace
}  // namespace pygrid::sim::kube
