// Internal to cloud/genesis: sends one logical API call with auth, pacing, retries and error
// mapping, reporting every attempt to the request hook. Callers outside cloud/genesis must
// not include this header.
//
// Thread-safety: Execute may be called concurrently.
#pragma once

#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "cloud/genesis/genesis_client.h"

namespace pygrid::cloud::genesis::internal {

// Turns a non-2xx answer into a Status: 401 Unauthorized, 403 Forbidden, 404 NotFound,
// 409 Conflict, 400/422 and other 4xx Invalid, 429 RateLimited (with Retry-After), 5xx
// Unavailable; any answer whose message mentions a quota becomes QuotaExceeded. The remote
// {code,message} is kept in remote_code/message.
Status MapHttpError(const std::string& operation, const HttpResponse& response,
                    std::chrono::milliseconds default_retry_after);

// Parses Retry-After as delta-seconds; nullopt when absent or not a number (HTTP dates are
// not used by the API as far as documented).
std::optional<std::chrono::milliseconds> ParseRetryAfter(const HttpResponse& response);

class RequestExecutor {
 public:
  RequestExecutor(GenesisOptions options, std::unique_ptr<HttpTransport> transport);

  // Sends `method path` (path relative to the base URL) with a JSON `body`; returns the
  // 2xx response or the mapped error. `idempotent` calls are retried on 5xx/timeout/
  // connection errors; all calls are retried after a 429.
  StatusOr<HttpResponse> Execute(const std::string& operation, const std::string& method,
                                 const std::string& path, const std::string& body, bool idempotent);

  void SetHook(RequestHook hook);
  const GenesisOptions& options() const { return options_; }
  const Clock& clock() const { return *clock_; }
  void Sleep(Clock::Duration d) const { sleeper_(d); }

 private:
  std::chrono::milliseconds NextBackoff(int retry);
  // Returns once the request budget allows a send now (counting it), sleeping as needed.
  void WaitForBudget();

  GenesisOptions options_;
  std::unique_ptr<HttpTransport> transport_;
  const Clock* clock_;
  std::function<void(Clock::Duration)> sleeper_;
  SlidingWindowLimiter budget_;
  ExponentialBackoff backoff_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  std::mutex hook_mu_;
  std::shared_ptr<const RequestHook> hook_;
};

}  // namespace pygrid::cloud::genesis::internal
