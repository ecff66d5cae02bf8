// Provides observability::Metrics: the operator's one Prometheus registry, with the
// controller-runtime / client-go families under their exact upstream names and labels (so
// kubebuilder dashboards work unchanged), process_* metrics, and the PyGrid and Genesis Cloud
// domain families.
//
//   Metrics metrics;                                   // process_* included
//   ControllerMetrics reconciles = metrics.RegisterController("pygridcluster", 1);
//   WorkqueueMetrics queue = metrics.NewWorkqueueMetrics("pygridcluster");
//   {
//     ...
//     inflight.Finish(ReconcileResult::kRequeueAfter); // counted once, duration observed
//   }
//   metrics.SetClusterState({"default", "mnist", uid, "duet", "Ready", true, 2, 2});
//   std::string text = metrics.Serialize();            // text exposition format 0.0.4
//
// Thread-safety: every method of Metrics, ControllerMetrics, WorkqueueMetrics may be called
// from any thread. Handles stay valid while the Metrics object that made them lives.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace prometheus {
class Collectable;
class Counter;
class Gauge;
class Histogram;
class Registry;
struct MetricFamily;
}  // namespace prometheus

namespace pygrid::observability {

// The outcome of one reconcile, as controller-runtime's reconcileHandler classifies it.
enum class ReconcileResult {
  kSuccess,        // result="success"
  kRequeue,        // Requeue=true: result="requeue"
  kRequeueAfter,   // RequeueAfter>0: result="requeue_after"
  kError,          // error: result="error", reconcile_errors_total++
  kTerminalError,  // terminal error: as kError plus terminal_reconcile_errors_total++
  kPanic,          // exception escaped: as kError plus reconcile_panics_total++
};

// The `result` label value for `result` ("success", "requeue", "requeue_after", "error").
const char* ReconcileResultLabel(ReconcileResult result);

// The reconcile_time_seconds buckets of controller-runtime (the 40 classic ones).
const std::vector<double>& ReconcileTimeBuckets();
// client-go's workqueue duration buckets: ExponentialBuckets(10e-9, 10, 12).
const std::vector<double>& WorkqueueDurationBuckets();

// Per-controller instruments; cheap to copy. Made by Metrics::RegisterController.
class ControllerMetrics {
 public:
  ControllerMetrics() = default;
  // Counts the reconcile exactly once under its result and observes its duration (every
  // outcome is observed, as upstream does).
  void ObserveReconcile(ReconcileResult result, double seconds) const;
  // active_workers +1 / -1; ReconcileInFlight calls these.
  void WorkerStarted() const { AddActiveWorkers(1); }
  void WorkerFinished() const { AddActiveWorkers(-1); }

  // The single instruments, for a controller loop that classifies outcomes itself (such as
  // pygrid::kube's ControllerMetrics hooks). ObserveReconcile is these combined.
  void IncResult(ReconcileResult result) const;  // reconcile_total{result} only
  void IncErrors() const;
  void IncTerminalErrors() const;
  void IncPanics() const;
  void ObserveTime(double seconds) const;
  void AddActiveWorkers(int delta) const;
  void SetMaxConcurrentReconciles(int workers) const;
  const std::string& name() const { return name_; }

 private:
  friend class Metrics;
  std::string name_;
  prometheus::Counter* results_[4] = {nullptr, nullptr, nullptr, nullptr};
  prometheus::Counter* errors_ = nullptr;
  prometheus::Counter* terminal_errors_ = nullptr;
  prometheus::Counter* panics_ = nullptr;
  prometheus::Histogram* time_ = nullptr;
  prometheus::Gauge* active_workers_ = nullptr;
  prometheus::Gauge* max_concurrent_ = nullptr;
};

// The instruments of one workqueue (labels name=controller=<queue name>), one method per
// client-go queueMetrics hook. Cheap to copy. Made by Metrics::NewWorkqueueMetrics.
class WorkqueueMetrics {
 public:
  WorkqueueMetrics() = default;
  // workqueue_depth: items waiting (not delayed, not being processed).
  void SetDepth(double depth) const;
  // workqueue_adds_total: one per Add that was not a duplicate.
  void IncAdds() const;
  // workqueue_queue_duration_seconds: time from Add to Get.
  void ObserveQueueDuration(double seconds) const;
  // workqueue_work_duration_seconds: time from Get to Done.
  void ObserveWorkDuration(double seconds) const;
  // workqueue_unfinished_work_seconds: sum of the running times of in-progress items.
  void SetUnfinishedWorkSeconds(double seconds) const;
  // workqueue_longest_running_processor_seconds: running time of the oldest in-progress item.
  void SetLongestRunningProcessorSeconds(double seconds) const;
  // workqueue_retries_total: one per delayed re-add (rate limited, RequeueAfter, AddAfter).
  void IncRetries() const;

 private:
  friend class Metrics;
  prometheus::Gauge* depth_ = nullptr;
  prometheus::Counter* adds_ = nullptr;
  prometheus::Histogram* queue_duration_ = nullptr;
  prometheus::Histogram* work_duration_ = nullptr;
  prometheus::Gauge* unfinished_ = nullptr;
  prometheus::Gauge* longest_ = nullptr;
  prometheus::Counter* retries_ = nullptr;
};

// The phases of pygrid_cluster_phase, in order; exactly one is 1 for each cluster.
const std::vector<std::string>& ClusterPhases();

// What the reconciler knows about one PyGridCluster, for the pygrid_cluster_* gauges.
struct ClusterState {
  std::string cluster_namespace;
  std::string name;
  std::string uid;
  std::string flavor;
  std::string phase;  // one of ClusterPhases(); anything else sets every phase series to 0
  bool ready = false;
  int workers_desired = 0;
  int workers_ready = 0;
};

// (role, state) -> number of instances, e.g. {{"worker", "active"}, 3}.
using InstanceCounts = std::map<std::pair<std::string, std::string>, int>;

class Metrics {
 public:
  struct Options {
    // Add the process_* collector reading /proc/self (off only in tests of exact output).
    bool process_metrics = true;
  };
  Metrics();
  explicit Metrics(Options options);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Creates (or returns) the instruments of controller `name`, pre-creating every result
  // series and the error/panic counters at 0 and setting max_concurrent_reconciles, as
  // controller-runtime's initMetrics does.
  ControllerMetrics RegisterController(const std::string& name, int max_concurrent_reconciles);
  // Creates (or returns) the instruments of workqueue `name`, all series pre-created.
  WorkqueueMetrics NewWorkqueueMetrics(const std::string& name);

  // One Kubernetes API request: rest_client_requests_total{code,method,host}++. `method` is the
  // HTTP verb ("GET", "PATCH"); `http_status` 0 (no answer) becomes code "<error>" (client-go).
  void ObserveRestRequest(std::string_view method, int http_status, std::string_view host);
  // As above with the code label already rendered ("200", "<error>").
  void ObserveRestRequest(std::string_view method, std::string_view code, std::string_view host);

  // leader_election_master_status{name=lease} = 1 when leading, 0 when standing by.
  void SetLeader(const std::string& lease_name, bool leading);
  // leader_election_slowpath_total{name}++: a renew that had to read the lease first.
  void IncLeaderSlowpath(const std::string& lease_name);

  // One Genesis Cloud API attempt: requests_total{operation,method,code}++ (code "<error>"
  // when there was no answer), duration observed, rate_limited_total{operation}++ when
  // `rate_limited` or the answer was 429, retries_total{operation}++ when `retry` (this
  // attempt repeats an earlier one).
  void ObserveGenesisRequest(std::string_view operation, std::string_view method, int http_status,
                             double seconds, bool rate_limited = false, bool retry = false);

  // Sets every pygrid_cluster_* gauge of one cluster (replacing its info series if uid or
  // flavor changed).
  void SetClusterState(const ClusterState& state);
  // Removes every series of the cluster; a deleted cluster disappears from the dashboards.
  void ForgetCluster(const std::string& cluster_namespace, const std::string& name);
  // Observes create -> first Ready once per cluster uid (later calls for that uid ignored).
  void ObserveClusterProvisioned(const std::string& uid, double seconds);
  // pygrid_bakes_total{result} += 1 (result: succeeded | failed).
  void IncBakes(const std::string& result);
  // pygrid_prepared_images{account} = count.
  void SetPreparedImages(const std::string& account, int count);
  // pygrid_orphan_instances{account} = count.
  void SetOrphanInstances(const std::string& account, int count);
  // Replaces pygrid_instances with `counts`; pairs absent from `counts` are removed.
  void SetInstanceCounts(const InstanceCounts& counts);

  // Every family: registry and process collector.
  std::vector<prometheus::MetricFamily> Collect() const;
  // Collect() in Prometheus text exposition format 0.0.4.
  std::string Serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pygrid::observability
