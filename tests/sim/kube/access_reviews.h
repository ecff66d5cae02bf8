// kube-sim's TokenReview and SubjectAccessReview (and their self forms, SelfSubjectReview and
// SelfSubjectAccessReview, which `kubectl auth whoami` and `kubectl auth can-i` create): who
// holds a bearer token, and whether a user may make a request. Shapes follow the API reference
// (https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-review-v1/,
// https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/subject-access-review-v1/);
// identities (bearer tokens) come from the control API, decisions from the RBAC authorizer the
// server installs (rbac.h: the stored Roles and bindings, plus the grants below):
//
//   POST /_sim/identities {"token": "t", "username": "system:serviceaccount:monitoring:prom"}
//   POST /_sim/grants {"user": "system:serviceaccount:monitoring:prom",
//                      "nonResourceURLs": ["/metrics"], "verbs": ["get"]}
//
// The server's own token authenticates as kubernetes-admin in system:masters, which (as with
// RBAC's cluster-admin binding) is allowed everything. Thread-safe (its own lock).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "sim/common/http_server.h"
#include "sim/kube/rbac.h"
#include "sim/kube/resource_types.h"
#include "sim/kube/util.h"

namespace pygrid::sim::kube {

// True for the two review resources (create-only, never stored).
bool IsAccessReview(const ResourceType& type);
// Their discovery entries, for the registry's built-ins.
std::vector<std::shared_ptr<ResourceType>> AccessReviewTypes();
// Sets the verbs of the review resources in an APIResourceList to ["create"], all they serve.
void RestrictAccessReviewVerbs(json* resource_list);

class AccessReviews {
 public:
  // `admin_token` is the token the server itself requires (kube-sim's --token).
  explicit AccessReviews(std::string admin_token);

  // POST of a TokenReview, SubjectAccessReview, SelfSubjectAccessReview or SelfSubjectReview
  // by `requester` (`verb` as the router parsed it; anything but create is 405): 201 with the
  // review and its status.
  HttpResponse Review(const HttpRequest& req, const ResourceType& type, const std::string& verb,
                      const UserInfo& requester);
  // The user kube-sim's own token authenticates as: kubernetes-admin in system:masters.
  static UserInfo Admin();
  // /_sim/identities and /_sim/grants (GET lists, POST adds `body`, DELETE clears).
  HttpResponse Control(const std::string& method, const std::string& path, const json& body);
  // Forgets every identity and grant (the admin token stays).
  void Reset();

  // The user a registered token (not the admin token) authenticates as; false for others.
  bool Authenticate(const std::string& token, UserInfo* user) const;
  // The grants as ClusterRoles and ClusterRoleBindings named `kube-sim:grant:<i>`, for RBAC.
  std::vector<json> GrantObjects() const;
  // How SubjectAccessReviews are decided (RBAC over the server's objects); until it is set,
  // only system:masters is allowed. Must not call back into this object while holding a lock
  // this object's caller holds.
  using Authorizer = std::function<Decision(const UserInfo&, const RequestAttributes&)>;
  void SetAuthorizer(Authorizer authorizer);

 private:
  struct Identity {
    std::string username, uid;
    std::vector<std::string> groups;
  };
  struct Grant {
    std::string user, group;  // one of them
    std::vector<std::string> verbs, urls;
  };

  // The 201 answer (or a validation error) for a review whose spec is an object; may throw
  // json::exception on fields of the wrong type.
  HttpResponse Answer(const ResourceType& type, const json& spec, const UserInfo& requester);
  json TokenReviewStatus(const json& spec);
  // RBAC's decision for `user` on the spec's resourceAttributes or nonResourceAttributes.
  json AccessStatus(const UserInfo& user, const json& spec);

  mutable std::mutex mu_;
  const std::string admin_token_;
  std::map<std::string, Identity> identities_;  // token -> identity; guarded by mu_
  std::vector<Grant> grants_;                   // guarded by mu_
  Authorizer authorizer_;                       // set once before serving
};

}  // namespace pygrid::sim::kube
