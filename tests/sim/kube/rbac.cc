// RBAC as kube-apiserver evaluates it. Sources (Kubernetes v1.32):
// - request attributes: k8s.io/apiserver pkg/endpoints/request/requestinfo.go NewRequestInfo;
// - rule matching: pkg/apis/rbac/v1/evaluation_helpers.go (VerbMatches, APIGroupMatches,
//   ResourceMatches, ResourceNameMatches, NonResourceURLMatches) and
//   plugin/pkg/auth/authorizer/rbac/rbac.go (RuleAllows, Authorize, the reasons);
// - bindings and subjects: pkg/registry/rbac/validation/rule.go (VisitRulesFor,
//   appliesToUser, GetRoleReferenceRules);
// - bootstrap roles: plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go;
// - the 403: k8s.io/apiserver pkg/endpoints/handlers/responsewriters/errors.go
//   (forbiddenMessage) and apimachinery pkg/api/errors NewForbidden.
#include "sim/kube/rbac.h"

#include <algorithm>
#include <sstream>

namespace pygrid::sim::kube {
namespace {

bool Has(const json& list, const std::string& value) {
  if (!list.is_array()) return false;
  return std::any_of(list.begin(), list.end(),
                     [&](const json& item) { return item.is_string() && item == value; });
}

bool HasWildcardOr(const json& list, const std::string& value) {
  return Has(list, "*") || Has(list, value);
}

// ResourceMatches: "*", the exact "resource" or "resource/subresource", or "*/subresource".
// ("resource/*" is not a wildcard: it matches only a subresource literally named "*".)
bool ResourceMatches(const json& rule, const std::string& combined,
                     const std::string& subresource) {
  for (const json& item : rule.value("resources", json::array())) {
    if (!item.is_string()) continue;
    const std::string r = item.get<std::string>();
    if (r == "*" || r == combined) return true;
    if (!subresource.empty() && r == "*/" + subresource) return true;
  }
  return false;
}

bool ResourceNameMatches(const json& rule, const std::string& name) {
  const json names = rule.value("resourceNames", json::array());
  return !names.is_array() || names.empty() || Has(names, name);
}

// NonResourceURLMatches: "*", the exact path, or a prefix ending in "*".
bool NonResourceUrlMatches(const json& rule, const std::string& path) {
  for (const json& item : rule.value("nonResourceURLs", json::array())) {
    if (!item.is_string()) continue;
    const std::string u = item.get<std::string>();
    if (u == "*" || u == path) return true;
    if (!u.empty() && u.back() == '*' && path.compare(0, u.size() - 1, u, 0, u.size() - 1) == 0)
      return true;
  }
  return false;
}

// serviceaccount.MatchesUsername.
bool IsServiceAccount(const std::string& username, const std::string& ns, const std::string& name) {
  return username == "system:serviceaccount:" + ns + ":" + name;
}

bool AppliesTo(const UserInfo& user, const json& subject, const std::string& binding_namespace) {
  const std::string kind = subject.value("kind", "");
  const std::string name = subject.value("name", "");
  if (kind == "User") return user.name == name;
  if (kind == "Group") {
    return std::find(user.groups.begin(), user.groups.end(), name) != user.groups.end();
  }
  if (kind == "ServiceAccount") {
    // A RoleBinding's ServiceAccount subject without a namespace is in the binding's.
    std::string ns = subject.value("namespace", "");
    if (ns.empty()) ns = binding_namespace;
    return !ns.empty() && IsServiceAccount(user.name, ns, name);
  }
  return false;
}

std::string DescribeSubject(const json& subject, const std::string& binding_namespace) {
  std::string name = subject.value("name", "");
  if (subject.value("kind", "") == "ServiceAccount") {
    std::string ns = subject.value("namespace", "");
    name += "/" + (ns.empty() ? binding_namespace : ns);
  }
  return subject.value("kind", "") + " \"" + name + "\"";
}

// The bootstrap ClusterRoles and ClusterRoleBindings a cluster has for any authenticated user
// (discovery, health, version, and the self reviews).
const std::vector<json>& BootstrapRoles() {
  static const std::vector<json> roles = [] {
    auto role = [](const std::string& name, const json& rules) {
      return json{{"kind", "ClusterRole"}, {"metadata", {{"name", name}}}, {"rules", rules}};
    };
    return std::vector<json>{
        role("system:discovery",
             json::array({{{"verbs", {"get"}},
                           {"nonResourceURLs",
                            {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                             "/openapi/*", "/readyz", "/version", "/version/"}}}})),
        role("system:public-info-viewer",
             json::array({{{"verbs", {"get"}},
                           {"nonResourceURLs",
                            {"/healthz", "/livez", "/readyz", "/version", "/version/"}}}})),
        role("system:basic-user",
             json::array({{{"verbs", {"create"}},
                           {"apiGroups", {"authorization.k8s.io"}},
                           {"resources", {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}}},
                          {{"verbs", {"create"}},
                           {"apiGroups", {"authentication.k8s.io"}},
                           {"resources", {"selfsubjectreviews"}}}}))};
  }();
  return roles;
}

const std::vector<json>& BootstrapBindings() {
  static const std::vector<json> bindings = [] {
    std::vector<json> out;
    for (const json& role : BootstrapRoles()) {
      const std::string name = role["metadata"]["name"];
      json subjects = {{{"kind", "Group"}, {"name", "system:authenticated"}}};
      if (name == "system:public-info-viewer") {
        subjects.push_back({{"kind", "Group"}, {"name", "system:unauthenticated"}});
      }
      out.push_back({{"kind", "ClusterRoleBinding"},
                     {"metadata", {{"name", name}}},
                     {"roleRef", {{"kind", "ClusterRole"}, {"name", name}}},
                     {"subjects", subjects}});
    }
    return out;
  }();
  return bindings;
}

// Visits the rules of one binding that applies to `user`; returns true when a rule allows the
// request (with `reason` set), records a missing role in `errors`.
bool VisitBinding(const RbacPolicy& policy, const UserInfo& user,
                  const RequestAttributes& attributes, const json& binding, bool cluster_binding,
                  std::vector<std::string>* errors, std::string* reason) {
  const json meta = binding.value("metadata", json::object());
  const std::string binding_ns = cluster_binding ? "" : meta.value("namespace", "");
  const json* subject = nullptr;
  auto subjects = binding.find("subjects");
  if (subjects != binding.end() && subjects->is_array()) {
    for (const json& s : *subjects) {
      if (s.is_object() && AppliesTo(user, s, binding_ns)) {
        subject = &s;
        break;
      }
    }
  }
  if (subject == nullptr) return false;
  const json ref = binding.value("roleRef", json::object());
  const std::string kind = ref.value("kind", ""), name = ref.value("name", "");
  const json* role = nullptr;
  if (kind == "ClusterRole") {
    auto it = policy.cluster_roles.find(name);
    if (it != policy.cluster_roles.end()) {
      role = it->second;
    } else {
      for (const json& builtin : BootstrapRoles()) {
        if (builtin["metadata"]["name"] == name) role = &builtin;
      }
    }
    if (role == nullptr)
      errors->push_back("clusterrole.rbac.authorization.k8s.io \"" + name + "\" not found");
  } else if (kind == "Role" && !cluster_binding) {
    auto it = policy.roles.find(binding_ns + "/" + name);
    if (it != policy.roles.end()) role = it->second;
    if (role == nullptr)
      errors->push_back("role.rbac.authorization.k8s.io \"" + name + "\" not found");
  }
  if (role == nullptr) return false;
  for (const json& rule : role->value("rules", json::array())) {
    if (rule.is_object() && RuleAllows(rule, attributes)) {
      const std::string binding_name = meta.value("name", "");
      *reason = "RBAC: allowed by " +
                (cluster_binding ? "ClusterRoleBinding \"" + binding_name + "\""
                                 : "RoleBinding \"" + binding_name + "/" + binding_ns + "\"") +
                " of " + kind + " \"" + name + "\" to " + DescribeSubject(*subject, binding_ns);
      return true;
    }
  }
  return false;
}

}  // namespace

RequestAttributes AttributesOf(const std::string& method, const std::string& path,
                               const std::multimap<std::string, std::string>& query) {
  RequestAttributes a;
  a.path = path;
  a.verb = method;
  std::transform(a.verb.begin(), a.verb.end(), a.verb.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::vector<std::string> parts = SplitPath(path);
  if (parts.size() < 3 || (parts[0] != "api" && parts[0] != "apis")) return a;
  const bool grouped = parts[0] == "apis";
  parts.erase(parts.begin());
  if (grouped) {
    if (parts.size() < 3) return a;
    a.group = parts[0];
    parts.erase(parts.begin());
  }
  a.resource_request = true;
  a.version = parts[0];
  parts.erase(parts.begin());
  if (method == "POST") {
    a.verb = "create";
  } else if (method == "GET" || method == "HEAD") {
    a.verb = "get";
  } else if (method == "PUT") {
    a.verb = "update";
  } else if (method == "PATCH") {
    a.verb = "patch";
  } else if (method == "DELETE") {
    a.verb = "delete";
  } else {
    a.verb = "";
  }
  if (parts[0] == "namespaces" && parts.size() > 1) {
    a.namespace_ = parts[1];
    // namespaces/<ns>/status and /finalize are subresources of the namespace itself.
    if (parts.size() > 2 && parts[2] != "status" && parts[2] != "finalize") {
      parts.erase(parts.begin(), parts.begin() + 2);
    }
  }
  if (parts.size() >= 3) a.subresource = parts[2];
  if (parts.size() >= 2) a.name = parts[1];
  a.resource = parts[0];
  if (a.name.empty() && a.verb == "get") {
    auto watch = query.find("watch");
    a.verb = watch != query.end() && IsTrue(watch->second) ? "watch" : "list";
    // A field selector metadata.name=<n> (or ==) makes the list or watch about one object.
    auto selector = query.find("fieldSelector");
    if (selector != query.end()) {
      std::stringstream terms(selector->second);
      std::string term;
      while (std::getline(terms, term, ',')) {
        for (const std::string op : {"==", "="}) {
          const std::string prefix = "metadata.name" + op;
          if (term.rfind(prefix, 0) == 0 && term.find('/', prefix.size()) == std::string::npos &&
              term.size() > prefix.size()) {
            a.name = term.substr(prefix.size());
            break;
          }
        }
      }
    }
  }
  if (a.name.empty() && a.verb == "delete") a.verb = "deletecollection";
  return a;
}

json ReviewAttributes(const RequestAttributes& attributes) {
  json out = json::object();
  auto set = [&](const char* key, const std::string& value) {
    if (!value.empty()) out[key] = value;
  };
  set("verb", attributes.verb);
  if (!attributes.resource_request) {
    set("path", attributes.path);
    return {{"nonResourceAttributes", out}};
  }
  set("group", attributes.group);
  set("version", attributes.version);
  set("resource", attributes.resource);
  set("subresource", attributes.subresource);
  set("namespace", attributes.namespace_);
  set("name", attributes.name);
  return {{"resourceAttributes", out}};
}

bool FromReviewAttributes(const json& spec, RequestAttributes* attributes) {
  *attributes = {};
  auto get = [](const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto non_resource = spec.find("nonResourceAttributes");
  if (non_resource != spec.end() && non_resource->is_object()) {
    attributes->verb = get(*non_resource, "verb");
    attributes->path = get(*non_resource, "path");
    return true;
  }
  auto resource = spec.find("resourceAttributes");
  if (resource == spec.end() || !resource->is_object()) return false;
  attributes->resource_request = true;
  attributes->verb = get(*resource, "verb");
  attributes->group = get(*resource, "group");
  attributes->version = get(*resource, "version");
  attributes->resource = get(*resource, "resource");
  attributes->subresource = get(*resource, "subresource");
  attributes->namespace_ = get(*resource, "namespace");
  attributes->name = get(*resource, "name");
  return true;
}

bool RuleAllows(const json& rule, const RequestAttributes& attributes) {
  const json verbs = rule.value("verbs", json::array());
  if (!HasWildcardOr(verbs, attributes.verb)) return false;
  if (!attributes.resource_request) return NonResourceUrlMatches(rule, attributes.path);
  const std::string combined =
      attributes.resource + (attributes.subresource.empty() ? "" : "/" + attributes.subresource);
  return HasWildcardOr(rule.value("apiGroups", json::array()), attributes.group) &&
         ResourceMatches(rule, combined, attributes.subresource) &&
         ResourceNameMatches(rule, attributes.name);
}

Decision Authorize(const RbacPolicy& policy, const UserInfo& user,
                   const RequestAttributes& attributes) {
  std::vector<std::string> errors;
  Decision decision;
  // Cluster role bindings apply everywhere; role bindings only to requests in their namespace
  // (so never to cluster-scoped or non-resource requests).
  for (const json& binding : BootstrapBindings()) {
    if (VisitBinding(policy, user, attributes, binding, true, &errors, &decision.reason)) {
      decision.allowed = true;
      return decision;
    }
  }
  for (const json* binding : policy.cluster_role_bindings) {
    if (VisitBinding(policy, user, attributes, *binding, true, &errors, &decision.reason)) {
      decision.allowed = true;
      return decision;
    }
  }
  if (!attributes.namespace_.empty()) {
    for (const json* binding : policy.role_bindings) {
      if (binding->value("metadata", json::object()).value("namespace", "") !=
          attributes.namespace_)
        continue;
      if (VisitBinding(policy, user, attributes, *binding, false, &errors, &decision.reason)) {
        decision.allowed = true;
        return decision;
      }
    }
  }
  if (!errors.empty()) {
    // utilerrors.NewAggregate: one error as is, several as "[a, b]".
    decision.reason = "RBAC: ";
    if (errors.size() > 1) decision.reason += "[";
    for (size_t i = 0; i < errors.size(); ++i) decision.reason += (i ? ", " : "") + errors[i];
    if (errors.size() > 1) decision.reason += "]";
  }
  return decision;
}

json ForbiddenStatus(const UserInfo& user, const RequestAttributes& attributes,
                     const std::string& reason) {
  std::string message;
  json details = json::object();
  if (!attributes.resource_request) {
    message = "forbidden: User \"" + user.name + "\" cannot " + attributes.verb + " path \"" +
              attributes.path + "\"";
  } else {
    const std::string qualified =
        attributes.resource + (attributes.group.empty() ? "" : "." + attributes.group);
    message =
        qualified + (attributes.name.empty() ? "" : " \"" + attributes.name + "\"") +
        " is forbidden: User \"" + user.name + "\" cannot " + attributes.verb + " resource \"" +
        attributes.resource + (attributes.subresource.empty() ? "" : "/" + attributes.subresource) +
        "\" in API group \"" + attributes.group + "\"" +
        (attributes.namespace_.empty() ? " at the cluster scope"
                                       : " in the namespace \"" + attributes.namespace_ + "\"");
    if (!attributes.name.empty()) details["name"] = attributes.name;
    if (!attributes.group.empty()) details["group"] = attributes.group;
    details["kind"] = attributes.resource;
  }
  if (!reason.empty()) message += ": " + reason;
  return StatusBody(403, "Forbidden", message, details);
}

}  // namespace pygrid::sim::kube
