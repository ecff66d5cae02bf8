#include "cli/kube_metrics.h"

#include "observability/metrics.h"

namespace pygrid::cli {

namespace {

class Workqueue final : public kube::WorkqueueMetrics {
 public:
  explicit Workqueue(observability::WorkqueueMetrics metrics) : m_(std::move(metrics)) {}
  void SetDepth(double depth) override { m_.SetDepth(depth); }
  void IncAdds() override { m_.IncAdds(); }
  void ObserveQueueDuration(double seconds) override { m_.ObserveQueueDuration(seconds); }
  void ObserveWorkDuration(double seconds) override { m_.ObserveWorkDuration(seconds); }
  void SetUnfinishedWorkSeconds(double seconds) override { m_.SetUnfinishedWorkSeconds(seconds); }
  void SetLongestRunningProcessorSeconds(double seconds) override {
    m_.SetLongestRunningProcessorSeconds(seconds);
  }
  void IncRetries() override { m_.IncRetries(); }

 private:
  observability::WorkqueueMetrics m_;
};

observability::ReconcileResult ToResult(kube::ReconcileOutcome outcome) {
  switch (outcome) {
    case kube::ReconcileOutcome::kSuccess:
      return observability::ReconcileResult::kSuccess;
    case kube::ReconcileOutcome::kError:
      return observability::ReconcileResult::kError;
    case kube::ReconcileOutcome::kRequeue:
      return observability::ReconcileResult::kRequeue;
    case kube::ReconcileOutcome::kRequeueAfter:
      return observability::ReconcileResult::kRequeueAfter;
  }
  return observability::ReconcileResult::kError;
}

class Controller final : public kube::ControllerMetrics {
 public:
  explicit Controller(observability::ControllerMetrics metrics) : m_(std::move(metrics)) {}
  void Init(int max_concurrent_reconciles) override {
    m_.SetMaxConcurrentReconciles(max_concurrent_reconciles);
  }
  void IncReconcile(kube::ReconcileOutcome outcome) override { m_.IncResult(ToResult(outcome)); }
  void IncReconcileErrors() override { m_.IncErrors(); }
  void IncTerminalReconcileErrors() override { m_.IncTerminalErrors(); }
  void IncReconcilePanics() override { m_.IncPanics(); }
  void ObserveReconcileTime(double seconds) override { m_.ObserveTime(seconds); }
  void AddActiveWorkers(int delta) override { m_.AddActiveWorkers(delta); }

 private:
  observability::ControllerMetrics m_;
};

class RestClient final : public kube::RestClientMetrics {
 public:
  explicit RestClient(observability::Metrics& metrics) : metrics_(metrics) {}
  void ObserveRequest(const std::string& verb, const std::string& code, const std::string& host,
                      std::chrono::nanoseconds) override {
    metrics_.ObserveRestRequest(verb, code, host);
  }

 private:
  observability::Metrics& metrics_;
};

class LeaderElection final : public kube::LeaderElectionMetrics {
 public:
  explicit LeaderElection(observability::Metrics& metrics) : metrics_(metrics) {}
  void SetLeader(const std::string& lease_name, bool leading) override {
    metrics_.SetLeader(lease_name, leading);
  }
  void IncSlowpath(const std::string& lease_name) override {
    metrics_.IncLeaderSlowpath(lease_name);
  }

 private:
  observability::Metrics& metrics_;
};

}  // namespace

std::shared_ptr<kube::WorkqueueMetrics> PrometheusKubeMetrics::NewWorkqueueMetrics(
    const std::string& name) {
  return std::make_shared<Workqueue>(metrics_.NewWorkqueueMetrics(name));
}

std::shared_ptr<kube::ControllerMetrics> PrometheusKubeMetrics::NewControllerMetrics(
    const std::string& controller) {
  return std::make_shared<Controller>(metrics_.RegisterController(controller, 1));
}

std::shared_ptr<kube::RestClientMetrics> PrometheusKubeMetrics::NewRestClientMetrics() {
  return std::make_shared<RestClient>(metrics_);
}

std::shared_ptr<kube::LeaderElectionMetrics> PrometheusKubeMetrics::NewLeaderElectionMetrics() {
  return std::make_shared<LeaderElection>(metrics_);
}

}  // namespace pygrid::cli
