// Provides the metric hooks of the Kubernetes runtime. The runtime never touches Prometheus:
// it calls these interfaces, whose defaults do nothing, and the observability code implements
// them with the client-go / controller-runtime metric names:
//
//   class PromMetrics : public pygrid::kube::MetricsProvider {
//     std::shared_ptr<WorkqueueMetrics> NewWorkqueueMetrics(const std::string& name) override;
//     ...
//   };
//   ControllerOptions options;
//   options.metrics = &prom_metrics;
//
// Every method has an empty default body, so an implementation overrides only what it exports.
// Thread-safety: implementations must accept calls from any thread at any time.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace pygrid::kube {

// workqueue_* for one queue (client-go workqueue.MetricsProvider, one object per queue name).
class WorkqueueMetrics {
 public:
  virtual ~WorkqueueMetrics() = default;
  // workqueue_depth: items waiting (not delayed, not processing).
  virtual void SetDepth(double depth) {}
  // workqueue_adds_total: one per Add that was not a duplicate.
  virtual void IncAdds() {}
  // workqueue_queue_duration_seconds: time from Add to Get.
  virtual void ObserveQueueDuration(double seconds) {}
  // workqueue_work_duration_seconds: time from Get to Done.
  virtual void ObserveWorkDuration(double seconds) {}
  // workqueue_unfinished_work_seconds: sum of running times of items being processed.
  virtual void SetUnfinishedWorkSeconds(double seconds) {}
  // workqueue_longest_running_processor_seconds: running time of the oldest item in process.
  virtual void SetLongestRunningProcessorSeconds(double seconds) {}
  // workqueue_retries_total: one per AddAfter / AddRateLimited (client-go counts every one).
  virtual void IncRetries() {}
};

// The outcome label of controller_runtime_reconcile_total.
enum class ReconcileOutcome { kSuccess, kError, kRequeue, kRequeueAfter };

// "success", "error", "requeue", "requeue_after": the label values controller-runtime uses.
const char* ReconcileOutcomeLabel(ReconcileOutcome outcome);

// controller_runtime_* for one controller.
class ControllerMetrics {
 public:
  virtual ~ControllerMetrics() = default;
  // Called once at start: pre-create every series at 0 and set max_concurrent_reconciles.
  virtual void Init(int max_concurrent_reconciles) {}
  // controller_runtime_reconcile_total{result}.
  virtual void IncReconcile(ReconcileOutcome outcome) {}
  // controller_runtime_reconcile_errors_total (every error, terminal ones included).
  virtual void IncReconcileErrors() {}
  // controller_runtime_terminal_reconcile_errors_total.
  virtual void IncTerminalReconcileErrors() {}
  // controller_runtime_reconcile_panics_total (an exception escaped the reconcile function).
  virtual void IncReconcilePanics() {}
  // controller_runtime_reconcile_time_seconds, observed for every outcome.
  virtual void ObserveReconcileTime(double seconds) {}
  // controller_runtime_active_workers (+1 entering reconcile, -1 leaving).
  virtual void AddActiveWorkers(int delta) {}
};

// rest_client_requests_total{code,method,host} and the request latency.
class RestClientMetrics {
 public:
  virtual ~RestClientMetrics() = default;
  // One call per HTTP request; `code` is the HTTP status as text or "<error>" when there was
  // no answer (client-go's label value); `verb` is the HTTP method.
  virtual void ObserveRequest(const std::string& verb, const std::string& code,
                              const std::string& host, std::chrono::nanoseconds duration) {}
  // Time a request waited for the client-side QPS limiter.
  virtual void ObserveRateLimiterWait(const std::string& verb, const std::string& host,
                                      std::chrono::nanoseconds waited) {}
};

// leader_election_master_status{name} and leader_election_slowpath_total{name}.
class LeaderElectionMetrics {
 public:
  virtual ~LeaderElectionMetrics() = default;
  virtual void SetLeader(const std::string& lease_name, bool leading) {}
  // A renew that had to GET the lease first (client-go's slow path).
  virtual void IncSlowpath(const std::string& lease_name) {}
};

// Creates the per-name metric objects; the default returns no-op objects.
class MetricsProvider {
 public:
  virtual ~MetricsProvider() = default;
  virtual std::shared_ptr<WorkqueueMetrics> NewWorkqueueMetrics(const std::string& name);
  virtual std::shared_ptr<ControllerMetrics> NewControllerMetrics(const std::string& controller);
  virtual std::shared_ptr<RestClientMetrics> NewRestClientMetrics();
  virtual std::shared_ptr<LeaderElectionMetrics> NewLeaderElectionMetrics();
};

// A process-wide provider whose metrics do nothing.
MetricsProvider& NoopMetricsProvider();

}  // namespace pygrid::kube
