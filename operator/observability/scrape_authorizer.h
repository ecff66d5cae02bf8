// Provides ScrapeAuthorizer: authentication and authorization of every request to the secure
// metrics endpoint through the API server, as controller-runtime's
// filters.WithAuthenticationAndAuthorization does for kubebuilder v4 projects:
//
//   no bearer token, or one the TokenReview does not authenticate   401 "Unauthorized"
//   a SubjectAccessReview for <lower-case method> <path> not allowed  403 "Authorization denied
//                                                                        for user <name>"
//   a review that failed (API unreachable, no RBAC for reviews)     500
//   otherwise                                                        the wrapped handler
//
// Answers are cached as upstream caches them: a token's review for 1 minute, an allowed
// decision for 5 minutes, a denied one for 30 seconds; failed reviews are not cached. Tokens
// are kept only as SHA-256 digests and never logged.
//
//   KubeAccessReviews reviews(review_client);
//   ScrapeAuthorizer auth(reviews, RealClock::Instance());
//   options.handler = auth.Protect(MetricsHandler(metrics));
//
// Thread-safety: Protect's handler may run on several threads at once.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.h"
#include "observability/access_review.h"
#include "observability/http_server.h"

namespace pygrid::observability {

class ScrapeAuthorizer {
 public:
  struct Options {
    std::chrono::seconds token_ttl{60};
    std::chrono::seconds allow_ttl{300};
    std::chrono::seconds deny_ttl{30};
    size_t max_entries = 4096;  // per cache; beyond it the cache starts over
  };

  // `reviews` and `clock` must outlive this object and its handlers.
  ScrapeAuthorizer(AccessReviews& reviews, const Clock& clock);
  ScrapeAuthorizer(AccessReviews& reviews, const Clock& clock, Options options);

  // `inner` behind authentication and authorization; `this` must outlive the handler.
  HttpHandler Protect(HttpHandler inner);
  // The refusal for `request`, or nullopt when it may pass.
  std::optional<HttpResponse> Check(const HttpRequest& request);

 private:
  template <typename T>
  struct Entry {
    T value;
    Clock::TimePoint expires;
  };
  // The authenticated user (nullopt: rejected token) or the review's error.
  StatusOr<std::optional<UserInfo>> Authenticate(const std::string& token);
  StatusOr<bool> Authorize(const UserInfo& user, const std::string& verb, const std::string& path);

  AccessReviews& reviews_;
  const Clock& clock_;
  const Options options_;
  std::mutex mu_;
  std::map<std::string, Entry<std::optional<UserInfo>>> tokens_;  // guarded by mu_
  std::map<std::string, Entry<bool>> decisions_;                  // guarded by mu_
};

}  // namespace pygrid::observability
