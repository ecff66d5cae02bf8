// Provides RestClient, the KubeClient over HTTPS (cpprestsdk behind a pimpl, so including
// this header costs no cpprest parse):
//
//   auto config = LoadConfig({.explicit_path = path});
//   auto client = RestClient::Create(*config, {.metrics = provider.NewRestClientMetrics()});
//   if (!client.ok()) return client.status();
//   KubeClient& kube = **client;
//
// Bearer tokens from a token file are re-read every RestConfig::token_reload_period. Requests
// pass a client-side token bucket (RestConfig::qps/burst) and report to RestClientMetrics.
// Thread-safety: every method may be called from any thread concurrently.
#pragma once

#include <memory>

#include "core/clock.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/metrics.h"

namespace pygrid::kube {

// What RestClient needs besides the config.
struct RestClientOptions {
  std::shared_ptr<RestClientMetrics> metrics;  // null = no-op
  const Clock* clock = nullptr;                // null = RealClock (rate limit, token reload)
};

class RestClient final : public KubeClient {
 public:
  // Validates the config (server URL, PEM material) and builds the client; Invalid with a
  // clear message when the config cannot work.
  static StatusOr<std::unique_ptr<RestClient>> Create(const RestConfig& config,
                                                      RestClientOptions options = {});
  ~RestClient() override;

  StatusOr<Json> Get(const ResourceRef& resource, const std::string& ns,
                     const std::string& name) override;
  StatusOr<Json> ListPage(const ResourceRef& resource, const std::string& ns,
                          const ListOptions& options) override;
  StatusOr<Json> Create(const ResourceRef& resource, const std::string& ns,
                        const Json& object) override;
  StatusOr<Json> Update(const ResourceRef& resource, const std::string& ns, const Json& object,
                        const std::string& subresource = "") override;
  StatusOr<Json> Patch(const ResourceRef& resource, const std::string& ns, const std::string& name,
                       PatchType type, const Json& patch,
                       const std::string& subresource = "") override;
  Status Delete(const ResourceRef& resource, const std::string& ns, const std::string& name,
                const DeleteOptions& options = {}) override;
  Status Watch(const ResourceRef& resource, const std::string& ns, const WatchOptions& options,
               const WatchHandler& handler, Cancellation* cancel) override;

  // Any method on a raw path ("POST", "/_sim/compact"), with an optional JSON body.
  StatusOr<Json> Request(const std::string& method, const std::string& path,
                         const Json* body = nullptr);
  const RestConfig& config() const;

 private:
  struct Impl;
  explicit RestClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pygrid::kube
