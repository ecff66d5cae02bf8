// Provides the handlers behind the operator's two HTTP servers: MetricsHandler (/metrics in
// text format 0.0.4) and HealthChecks (/healthz, /readyz with controller-runtime's healthz
// semantics: "ok" when every check passes, 500 listing "[+]name ok" / "[-]name failed: reason
// withheld" when one fails, the list on success with ?verbose, ?exclude=name, and one check at
// /healthz/<name>).
//
//   HealthChecks health;
//   health.AddReadyzCheck("informers-synced", [&] { return cache.Synced() ? Status::Ok()
//                                                   : Status::Unavailable("not synced"); });
//   auto probes = HttpServer::Start(flags.health_probe_bind_address, health.Handler());
//   auto scrape = HttpServer::Start(flags.metrics_bind_address, MetricsHandler(metrics));
//
// Thread-safety: checks may be added from any thread at any time; checks run on the probe
// server's threads, possibly concurrently, and must be thread-safe themselves.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "observability/http_server.h"
#include "observability/metrics.h"

namespace pygrid::observability {

// Serves `metrics` at /metrics and 404 elsewhere. `metrics` must outlive the server.
HttpHandler MetricsHandler(const Metrics& metrics);

class HealthChecks {
 public:
  // A check passes when it returns OK; it should answer quickly (it runs on every probe).
  using Check = std::function<Status()>;

  // Both endpoints start with the built-in "ping" check, which always passes.
  HealthChecks();
  // Adds a liveness check served under /healthz.
  void AddHealthzCheck(std::string name, Check check);
  // Adds a readiness check served under /readyz (e.g. "informers-synced").
  void AddReadyzCheck(std::string name, Check check);

  // Answers /healthz[/<name>] and /readyz[/<name>]; 404 for other paths.
  HttpResponse Serve(const HttpRequest& request) const;
  // Serve() bound to this object, for HttpServer::Start; `this` must outlive the server.
  HttpHandler Handler() const;

 private:
  using NamedCheck = std::pair<std::string, Check>;
  HttpResponse Aggregate(const std::vector<NamedCheck>& checks, const HttpRequest& request) const;

  mutable std::mutex mu_;
  std::vector<NamedCheck> healthz_;  // guarded by mu_
  std::vector<NamedCheck> readyz_;   // guarded by mu_
};

}  // namespace pygrid::observability
