#include "observability/scrape_authorizer.h"

#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "observability/log.h"

namespace pygrid::observability {
namespace {

constexpr const char* kText = "text/plain; charset=utf-8";

const Logger& Log() {
  static const Logger logger("metrics.auth");
  return logger;
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The token of "Authorization: Bearer <token>" read as the API server's bearer token
// authenticator reads it (k8s.io/apiserver .../request/bearertoken: the header split on
// spaces, scheme case-insensitive, the second part the token); "" when there is none.
std::string BearerToken(const std::string& header) {
  const size_t first = header.find(' ');
  if (first == std::string::npos || Lower(header.substr(0, first)) != "bearer") return "";
  const size_t second = header.find(' ', first + 1);
  return header.substr(first + 1,
                       second == std::string::npos ? std::string::npos : second - first - 1);
}

// Cache key for a token: its SHA-256, so the caches never hold a usable credential.
std::string Digest(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

// Drops expired entries once the cache is full; starts over if that frees nothing.
template <typename Map>
void MakeRoom(Map& cache, size_t max_entries, Clock::TimePoint now) {
  if (cache.size() < max_entries) return;
  for (auto it = cache.begin(); it != cache.end();) {
    it = it->second.expires <= now ? cache.erase(it) : std::next(it);
  }
  if (cache.size() >= max_entries) cache.clear();
}

HttpResponse Refusal(int status, const std::string& message) {
  return {status, kText, message + "\n"};  // as Go's http.Error writes it
}

}  // namespace

ScrapeAuthorizer::ScrapeAuthorizer(AccessReviews& reviews, const Clock& clock)
    : ScrapeAuthorizer(reviews, clock, Options{}) {}

ScrapeAuthorizer::ScrapeAuthorizer(AccessReviews& reviews, const Clock& clock, Options options)
    : reviews_(reviews), clock_(clock), options_(options) {}

HttpHandler ScrapeAuthorizer::Protect(HttpHandler inner) {
  return [this, inner = std::move(inner)](const HttpRequest& request) {
    std::optional<HttpResponse> refusal = Check(request);
    return refusal ? *refusal : inner(request);
  };
}

std::optional<HttpResponse> ScrapeAuthorizer::Check(const HttpRequest& request) {
  const std::string token = BearerToken(request.authorization);
  if (token.empty()) return Refusal(401, "Unauthorized");
  StatusOr<std::optional<UserInfo>> user = Authenticate(token);
  if (!user.ok()) {
    Log().Error("authenticating a metrics scrape failed", user.status());
    return Refusal(500, "Authentication failed");
  }
  if (!*user) {
    Log().Debug("metrics scrape with a token the API server does not accept");
    return Refusal(401, "Unauthorized");
  }
  const std::string& name = (*user)->username;
  const std::string verb = Lower(request.method);
  StatusOr<bool> allowed = Authorize(**user, verb, request.path);
  if (!allowed.ok()) {
    Log().Error("authorizing a metrics scrape failed", allowed.status(), {{"user", name}});
    return Refusal(500, "Authorization for user " + name + " failed");
  }
  if (!*allowed) {
    Log().Debug("metrics scrape denied", {{"user", name}, {"verb", verb}, {"path", request.path}});
    return Refusal(403, "Authorization denied for user " + name);
  }
  return std::nullopt;
}

StatusOr<std::optional<UserInfo>> ScrapeAuthorizer::Authenticate(const std::string& token) {
  const std::string key = Digest(token);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(key);
    if (it != tokens_.end() && clock_.Now() < it->second.expires) return it->second.value;
  }
  StatusOr<std::optional<UserInfo>> reviewed = reviews_.AuthenticateToken(token);
  if (!reviewed.ok()) return reviewed.status();
  std::lock_guard<std::mutex> lock(mu_);
  const Clock::TimePoint now = clock_.Now();
  MakeRoom(tokens_, options_.max_entries, now);
  tokens_[key] = {*reviewed, now + options_.token_ttl};
  return *reviewed;
}

StatusOr<bool> ScrapeAuthorizer::Authorize(const UserInfo& user, const std::string& verb,
                                           const std::string& path) {
  const std::string key =
      nlohmann::json::array({user.username, user.uid, user.groups, user.extra, verb, path}).dump();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = decisions_.find(key);
    if (it != decisions_.end() && clock_.Now() < it->second.expires) return it->second.value;
  }
  StatusOr<bool> reviewed = reviews_.Authorize(user, verb, path);
  if (!reviewed.ok()) return reviewed.status();
  std::lock_guard<std::mutex> lock(mu_);
  const Clock::TimePoint now = clock_.Now();
  MakeRoom(decisions_, options_.max_entries, now);
  decisions_[key] = {*reviewed, now + (*reviewed ? options_.allow_ttl : options_.deny_ttl)};
  return *reviewed;
}

}  // namespace pygrid::observability
