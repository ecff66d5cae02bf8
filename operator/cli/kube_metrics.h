// Provides the bridge from the Kubernetes runtime's metric hooks (kube/metrics.h) to the
// operator's Prometheus registry (observability/metrics.h), so workqueue_*,
// controller_runtime_*, rest_client_* and leader_election_* carry controller-runtime's names.
//
//   PrometheusKubeMetrics provider(metrics);
//   auto client = kube::RestClient::Create(config, {.metrics = provider.NewRestClientMetrics()});
//
// Thread-safety: as the underlying observability::Metrics (thread-safe); `metrics` must
// outlive every object the provider hands out.
#pragma once

#include "kube/metrics.h"

namespace pygrid::observability {
class Metrics;
}  // namespace pygrid::observability

namespace pygrid::cli {

class PrometheusKubeMetrics final : public kube::MetricsProvider {
 public:
  explicit PrometheusKubeMetrics(observability::Metrics& metrics) : metrics_(metrics) {}
  std::shared_ptr<kube::WorkqueueMetrics> NewWorkqueueMetrics(const std::string& name) override;
  std::shared_ptr<kube::ControllerMetrics> NewControllerMetrics(
      const std::string& controller) override;
  std::shared_ptr<kube::RestClientMetrics> NewRestClientMetrics() override;
  std::shared_ptr<kube::LeaderElectionMetrics> NewLeaderElectionMetrics() override;

 private:
  observability::Metrics& metrics_;
};

}  // namespace pygrid::cli
