// Provides the Genesis Cloud compute API v1 implementation of CloudProvider, plus the few
// extra calls tests and tools need (SSH keys, security groups by id).
//
//   GenesisOptions options;
//   options.base_url = "http://127.0.0.1:8080/compute/v1";  // default: the real API
//   options.token = token;                                   // never logged
//   std::unique_ptr<GenesisClient> cloud = MakeGenesisClient(options);
//   cloud->SetRequestHook([&](const RequestRecord& r) { metrics.Observe(r); });
//
// Behaviour (sources: shared/reference/genesis-cloud-api.md §1.1-1.9, SPEC23):
//  - `Authorization: Bearer <token>` (or the 2020 `X-Auth-Token` header, by option).
//  - Lists are read with per_page=100 (the API's maximum) and returned only when the pages
//    add up to one complete list: total_count is matched exactly, or, when the envelope lacks
//    it, pages are read to a short (or empty) page; a shifted, repeated or malformed page
//    restarts the listing and then fails (internal/list_pager.h). Never a partial list.
//  - GET, DELETE and instance actions are retried on 5xx, timeouts and connection errors with
//    exponential backoff and full jitter; every call, POST included, is retried after a 429
//    (the cloud did nothing) once its Retry-After has passed, up to max_attempts. A POST is
//    never retried after an ambiguous failure (see CloudProvider::CreateInstance).
//  - A strict client-side budget paces every attempt: no more than requests_per_second
//    (default 10) requests in any one-second window, whatever its start. A 429 pauses every
//    caller for its Retry-After, including callers already waiting for the budget: the budget
//    is checked and counted right before each send, after any waiting.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cloud/cloud_provider.h"
#include "cloud/genesis/http_transport.h"
#include "core/clock.h"
#include "core/rate.h"

namespace pygrid::cloud::genesis {

// Which header carries the token: the current Bearer form or the deprecated 2020 one.
enum class AuthHeader { kBearer, kXAuthToken };

// How to reach and pace the API. Defaults follow the reference: 10 requests/s (HARKER21),
// 5 attempts (TF25 retries 4 times).
struct GenesisOptions {
  std::string base_url = "https://api.genesiscloud.com/compute/v1";
  std::string token;
  AuthHeader auth_header = AuthHeader::kBearer;
  std::chrono::milliseconds request_timeout{30000};
  // The ceiling: at most floor(requests_per_second) requests in any one-second window.
  double requests_per_second = 10.0;
  // Unused since the budget became a strict sliding window (no bursts above the ceiling);
  // kept so existing option code compiles.
  int burst = 10;
  int max_attempts = 5;
  BackoffPolicy backoff{std::chrono::milliseconds(250), std::chrono::seconds(15), 2.0,
                        JitterMode::kFull, 0.0};
  // A 429 asking for a longer pause than this is returned to the caller instead of waited out.
  std::chrono::milliseconds max_retry_after{std::chrono::seconds(60)};
  // Used for a 429 without a usable Retry-After.
  std::chrono::milliseconds default_retry_after{std::chrono::seconds(1)};
  // Injected time, sleep and randomness; null/empty mean the real clock, a real sleep and a
  // random seed. The clock must outlive the client.
  const Clock* clock = nullptr;
  std::function<void(Clock::Duration)> sleeper;
  std::uint64_t jitter_seed = 0;  // 0: seed from std::random_device
  RequestHook hook;
};

class GenesisClient : public CloudProvider {
 public:
  // SSH keys (POST /ssh-keys returns the bare key, SPEC23).
  virtual StatusOr<SshKey> CreateSshKey(const std::string& name, const std::string& value) = 0;
  virtual Status DeleteSshKey(const std::string& id) = 0;

  // One security group by id.
  virtual StatusOr<SecurityGroup> GetSecurityGroup(const std::string& id) = 0;

  // The actions currently allowed on an instance (GET /instances/{id}/actions).
  virtual StatusOr<std::vector<std::string>> ListInstanceActions(const std::string& id) = 0;
};

// The client over cpprestsdk; does no I/O until the first call.
std::unique_ptr<GenesisClient> MakeGenesisClient(GenesisOptions options);
// The client over a given transport (tests pass a fake).
std::unique_ptr<GenesisClient> MakeGenesisClient(GenesisOptions options,
                                                 std::unique_ptr<HttpTransport> transport);

}  // namespace pygrid::cloud::genesis
