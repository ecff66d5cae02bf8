// Provides AccessReviews, the two questions the secure metrics endpoint asks the Kubernetes
// API server about a scrape, and KubeAccessReviews, which asks them with kube::KubeClient:
//
//   who holds this bearer token?   a TokenReview (authentication.k8s.io/v1), created with
//                                  spec.token; status.authenticated and status.user answer
//   may that user `get /metrics`?  a SubjectAccessReview (authorization.k8s.io/v1) with
//                                  spec.nonResourceAttributes {path, verb} and the user's
//                                  name, uid, groups and extra; status.allowed answers
//
// (https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-review-v1/,
// https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/subject-access-review-v1/).
// The operator's ServiceAccount needs `create` on tokenreviews and subjectaccessreviews (the
// chart binds system:auth-delegator).
//
//   KubeAccessReviews reviews(kube_client);
//   StatusOr<std::optional<UserInfo>> user = reviews.AuthenticateToken(token);
//   if (user.ok() && *user) allowed = reviews.Authorize(**user, "get", "/metrics");
//
// Thread-safety: KubeAccessReviews is as thread-safe as its KubeClient (RestClient is).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace pygrid::kube {
class KubeClient;
}

namespace pygrid::observability {

// The identity a token belongs to (authentication.k8s.io/v1 UserInfo).
struct UserInfo {
  std::string username;  // "system:serviceaccount:monitoring:prometheus"
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
};

class AccessReviews {
 public:
  virtual ~AccessReviews() = default;
  // The user the token authenticates as; nullopt when the API server does not accept it.
  // An error only when the review itself failed (unreachable, forbidden, bad answer).
  virtual StatusOr<std::optional<UserInfo>> AuthenticateToken(const std::string& token) = 0;
  // Whether `user` may `verb` the non-resource URL `path`; an error when the review failed.
  virtual StatusOr<bool> Authorize(const UserInfo& user, const std::string& verb,
                                   const std::string& path) = 0;
};

class KubeAccessReviews final : public AccessReviews {
 public:
  // `client` must outlive this object; its request timeout bounds each review.
  explicit KubeAccessReviews(kube::KubeClient& client) : client_(client) {}

  StatusOr<std::optional<UserInfo>> AuthenticateToken(const std::string& token) override;
  StatusOr<bool> Authorize(const UserInfo& user, const std::string& verb,
                           const std::string& path) override;

 private:
  kube::KubeClient& client_;
};

}  // namespace pygrid::observability
