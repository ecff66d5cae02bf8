#include "kube/metrics.h"

namespace pygrid::kube {

const char* ReconcileOutcomeLabel(ReconcileOutcome outcome) {
  switch (outcome) {
    case ReconcileOutcome::kSuccess:
      return "success";
    case ReconcileOutcome::kError:
      return "error";
    case ReconcileOutcome::kRequeue:
      return "requeue";
    case ReconcileOutcome::kRequeueAfter:
      return "requeue_after";
  }
  return "error";
}

std::shared_ptr<WorkqueueMetrics> MetricsProvider::NewWorkqueueMetrics(const std::string&) {
  return std::make_shared<WorkqueueMetrics>();
}

std::shared_ptr<ControllerMetrics> MetricsProvider::NewControllerMetrics(const std::string&) {
  return std::make_shared<ControllerMetrics>();
}

std::shared_ptr<RestClientMetrics> MetricsProvider::NewRestClientMetrics() {
  return std::make_shared<RestClientMetrics>();
}

std::shared_ptr<LeaderElectionMetrics> MetricsProvider::NewLeaderElectionMetrics() {
  return std::make_shared<LeaderElectionMetrics>();
}

MetricsProvider& NoopMetricsProvider() {
  static MetricsProvider provider;
  return provider;
}

}  // namespace pygrid::kube
