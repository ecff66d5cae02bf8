// kube-sim's RBAC authorizer: decides whether a user may make a request from the Roles,
// ClusterRoles, RoleBindings and ClusterRoleBindings stored in kube-sim, with the rule matching
// of kube-apiserver's RBAC authorizer (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac/rbac.go
// and pkg/apis/rbac/v1/evaluation_helpers.go;
// https://kubernetes.io/docs/reference/access-authn-authz/rbac/).
//
//   RbacPolicy policy;  // pointers to the stored objects, valid while the caller holds them
//   policy.cluster_roles["view"] = &view_role;
//   policy.cluster_role_bindings.push_back(&binding);
//   RequestAttributes attributes = AttributesOf("GET", "/api/v1/namespaces/ns/secrets", {});
//   Decision d = Authorize(policy, {"system:serviceaccount:ns:sa", {"system:authenticated"}},
//                          attributes);
//   if (!d.allowed) return Forbidden(user, attributes, d.reason);
//
// Pure functions of their arguments; thread-safe as long as the objects do not change.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sim/kube/util.h"

namespace pygrid::sim::kube {

// The authenticated user (user.Info: name and groups).
struct UserInfo {
  std::string name;
  std::vector<std::string> groups;
  std::string uid = "";
};

// authorizer.Attributes of a request, as k8s.io/apiserver pkg/endpoints/request/requestinfo.go
// derives them from the HTTP method, path and query.
struct RequestAttributes {
  bool resource_request = false;
  std::string verb;  // resource: get list watch create update patch delete deletecollection;
                     // non-resource: the lowercase HTTP method
  std::string group, version, resource, subresource, namespace_, name;
  std::string path;  // the URL path (what non-resource rules match)
};

// RequestInfoFactory.NewRequestInfo for `method` and `path`; `query` supplies `watch` and a
// `fieldSelector` of `metadata.name=<name>`, which names the object of a list or watch.
RequestAttributes AttributesOf(const std::string& method, const std::string& path,
                               const std::multimap<std::string, std::string>& query);

// The attributes in the shape of a SubjectAccessReview's spec:
// {"resourceAttributes": {verb, group, version, resource, subresource, namespace, name}} or
// {"nonResourceAttributes": {verb, path}} (empty fields left out, as the API omits them).
json ReviewAttributes(const RequestAttributes& attributes);
// The reverse (authorizationutil.ResourceAttributesFrom / NonResourceAttributesFrom); false
// when `spec` has neither object.
bool FromReviewAttributes(const json& spec, RequestAttributes* attributes);

// The RBAC objects to evaluate, as stored JSON (rbac.authorization.k8s.io/v1).
struct RbacPolicy {
  std::map<std::string, const json*> cluster_roles;  // name -> ClusterRole
  std::map<std::string, const json*> roles;          // "namespace/name" -> Role
  std::vector<const json*> cluster_role_bindings;
  std::vector<const json*> role_bindings;
};

struct Decision {
  bool allowed = false;
  // Allowed: which binding, role and rule allowed it (RBAC's reason, e.g. `RBAC: allowed by
  // ClusterRoleBinding "b" of ClusterRole "r" to ServiceAccount "sa/ns"`). Denied: RBAC's
  // aggregated errors (a binding's missing role), or empty.
  std::string reason;
};

// The decision of RBAC (allow, or deny as "no opinion": nothing else is consulted). The bootstrap
// ClusterRoles every cluster has for discovery and health checks (system:discovery,
// system:public-info-viewer, system:basic-user bound to system:authenticated) are built in.
Decision Authorize(const RbacPolicy& policy, const UserInfo& user,
                   const RequestAttributes& attributes);

// True when `rule` (a PolicyRule) allows `attributes`: RBAC's RuleAllows.
bool RuleAllows(const json& rule, const RequestAttributes& attributes);

// The 403 Forbidden Status kube-apiserver answers for a denied request
// (responsewriters.Forbidden → errors.NewForbidden).
json ForbiddenStatus(const UserInfo& user, const RequestAttributes& attributes,
                     const std::string& reason);

}  // namespace pygrid::sim::kube
