#include "observability/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "observability/internal/metrics_impl.h"

namespace pygrid::observability {
namespace internal {

// Index of the four result series in ControllerMetrics::results_.
int ResultIndex(ReconcileResult result) {
  switch (result) {
    case ReconcileResult::kSuccess:
      return 0;
    case ReconcileResult::kRequeue:
      return 1;
    case ReconcileResult::kRequeueAfter:
      return 2;
    default:
      return 3;
  }
}

std::string CodeLabel(int http_status) {
  return http_status <= 0 ? std::string("<error>") : std::to_string(http_status);
}

// Genesis Cloud calls take tens of milliseconds to tens of seconds (instance create).
const std::vector<double>& GenesisDurationBuckets() {
  static const std::vector<double> buckets = {0.005, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                              2,     4,     8,    15,  30,   60};
  return buckets;
}

// A GPU instance boots and installs PyGrid in minutes; create -> Ready spans 30 s to 2 h.
const std::vector<double>& ProvisionedBuckets() {
  static const std::vector<double> buckets = {30,  60,  120,  180,  240,  300,  420,
                                              600, 900, 1200, 1800, 2700, 3600, 7200};
  return buckets;
}

}  // namespace internal

using internal::CodeLabel;
using internal::ResultIndex;

const char* ReconcileResultLabel(ReconcileResult result) {
  static const char* const kLabels[] = {"success", "requeue", "requeue_after", "error"};
  return kLabels[ResultIndex(result)];
}

const std::vector<double>& ReconcileTimeBuckets() {
  static const std::vector<double> buckets = {
      0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
      0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
      6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
  return buckets;
}

const std::vector<double>& WorkqueueDurationBuckets() {
  // Computed the way Go's prometheus.ExponentialBuckets does, so the `le` values match.
  static const std::vector<double> buckets = [] {
    std::vector<double> b;
    double start = 10e-9;
    for (int i = 0; i < 12; ++i) {
      b.push_back(start);
      start *= 10;
    }
    return b;
  }();
  return buckets;
}

const std::vector<std::string>& ClusterPhases() {
  static const std::vector<std::string> phases = {"Pending",  "Provisioning", "Ready",
                                                  "Updating", "Degraded",     "Suspended",
                                                  "Deleting", "Failed"};
  return phases;
}

void ControllerMetrics::ObserveReconcile(ReconcileResult result, double seconds) const {
  IncResult(result);
  if (result == ReconcileResult::kError || result == ReconcileResult::kTerminalError ||
      result == ReconcileResult::kPanic) {
    IncErrors();
  }
  if (result == ReconcileResult::kTerminalError) IncTerminalErrors();
  if (result == ReconcileResult::kPanic) IncPanics();
  ObserveTime(seconds);
}

void ControllerMetrics::IncResult(ReconcileResult result) const {
  if (time_ != nullptr) results_[ResultIndex(result)]->Increment();
}

void ControllerMetrics::IncErrors() const {
  if (errors_ != nullptr) errors_->Increment();
}

void ControllerMetrics::IncTerminalErrors() const {
  if (terminal_errors_ != nullptr) terminal_errors_->Increment();
}

void ControllerMetrics::IncPanics() const {
  if (panics_ != nullptr) panics_->Increment();
}

void ControllerMetrics::ObserveTime(double seconds) const {
  if (time_ != nullptr) time_->Observe(seconds < 0 ? 0 : seconds);
}

void ControllerMetrics::AddActiveWorkers(int delta) const {
  if (active_workers_ != nullptr) active_workers_->Increment(delta);
}

void ControllerMetrics::SetMaxConcurrentReconciles(int workers) const {
  if (max_concurrent_ != nullptr) max_concurrent_->Set(workers);
}

void WorkqueueMetrics::SetDepth(double depth) const {
  if (depth_ != nullptr) depth_->Set(depth);
}

void WorkqueueMetrics::IncAdds() const {
  if (adds_ != nullptr) adds_->Increment();
}

void WorkqueueMetrics::ObserveQueueDuration(double seconds) const {
  if (queue_duration_ != nullptr) queue_duration_->Observe(seconds);
}

void WorkqueueMetrics::ObserveWorkDuration(double seconds) const {
  if (work_duration_ != nullptr) work_duration_->Observe(seconds);
}

void WorkqueueMetrics::SetUnfinishedWorkSeconds(double seconds) const {
  if (unfinished_ != nullptr) unfinished_->Set(seconds);
}

void WorkqueueMetrics::SetLongestRunningProcessorSeconds(double seconds) const {
  if (longest_ != nullptr) longest_->Set(seconds);
}

void WorkqueueMetrics::IncRetries() const {
  if (retries_ != nullptr) retries_->Increment();
}

Metrics::Metrics() : Metrics(Options{}) {}

Metrics::Metrics(Options options) : impl_(std::make_unique<Impl>()) {
  if (options.process_metrics) impl_->process = std::make_shared<ProcessCollector>();
}

Metrics::~Metrics() = default;

ControllerMetrics Metrics::RegisterController(const std::string& name,
                                              int max_concurrent_reconciles) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->RegisterLocked(name, max_concurrent_reconciles);
}

WorkqueueMetrics Metrics::NewWorkqueueMetrics(const std::string& name) {
  const prometheus::Labels labels = {{"name", name}, {"controller", name}};
  WorkqueueMetrics m;
  m.depth_ = &impl_->wq_depth.Add(labels);
  m.adds_ = &impl_->wq_adds.Add(labels);
  m.queue_duration_ = &impl_->wq_queue_duration.Add(labels, WorkqueueDurationBuckets());
  m.work_duration_ = &impl_->wq_work_duration.Add(labels, WorkqueueDurationBuckets());
  m.unfinished_ = &impl_->wq_unfinished.Add(labels);
  m.longest_ = &impl_->wq_longest.Add(labels);
  m.retries_ = &impl_->wq_retries.Add(labels);
  return m;
}

void Metrics::ObserveRestRequest(std::string_view method, int http_status, std::string_view host) {
  ObserveRestRequest(method, std::string_view(CodeLabel(http_status)), host);
}

void Metrics::ObserveRestRequest(std::string_view method, std::string_view code,
                                 std::string_view host) {
  impl_->rest_requests
      .Add({{"code", std::string(code)},
            {"method", std::string(method)},
            {"host", std::string(host)}})
      .Increment();
}

void Metrics::SetLeader(const std::string& lease_name, bool leading) {
  impl_->leader.Add({{"name", lease_name}}).Set(leading ? 1 : 0);
}

void Metrics::IncLeaderSlowpath(const std::string& lease_name) {
  impl_->leader_slowpath.Add({{"name", lease_name}}).Increment();
}

std::vector<prometheus::MetricFamily> Metrics::Collect() const {
  std::vector<prometheus::MetricFamily> families = impl_->registry->Collect();
  if (impl_->process) {
    for (auto& f : impl_->process->Collect()) families.push_back(std::move(f));
  }
  return families;
}

std::string Metrics::Serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, Collect());
  return out.str();
}

}  // namespace pygrid::observability
