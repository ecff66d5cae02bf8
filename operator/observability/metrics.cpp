#include "observability/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>

#include "observability/process_collector.h"

namespace pygrid::observability {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

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

}  // namespace

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
                                                  "Degraded", "Deleting",     "Failed"};
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

ReconcileInFlight::ReconcileInFlight(const ControllerMetrics& metrics, const Clock& clock)
    : metrics_(metrics), clock_(clock), start_(clock.Now()) {
  metrics_.WorkerStarted();
}

ReconcileInFlight::~ReconcileInFlight() { Finish(ReconcileResult::kPanic); }

double ReconcileInFlight::Finish(ReconcileResult result) {
  double seconds = std::chrono::duration<double>(clock_.Now() - start_).count();
  if (finished_) return seconds;
  finished_ = true;
  metrics_.ObserveReconcile(result, seconds);
  metrics_.WorkerFinished();
  return seconds;
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

// The series of one cluster, so ForgetCluster can remove exactly them.
struct ClusterSeries {
  std::string uid;
  std::string flavor;
  Gauge* info = nullptr;
  Gauge* ready = nullptr;
  Gauge* desired = nullptr;
  Gauge* workers_ready = nullptr;
  std::vector<Gauge*> phases;
};

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();

  // controller-runtime: pkg/internal/controller/metrics/metrics.go.
  Family<Counter>& reconcile_total = prometheus::BuildCounter()
                                         .Name("controller_runtime_reconcile_total")
                                         .Help("Total number of reconciliations per controller")
                                         .Register(*registry);
  Family<Counter>& reconcile_errors =
      prometheus::BuildCounter()
          .Name("controller_runtime_reconcile_errors_total")
          .Help("Total number of reconciliation errors per controller")
          .Register(*registry);
  Family<Counter>& terminal_errors =
      prometheus::BuildCounter()
          .Name("controller_runtime_terminal_reconcile_errors_total")
          .Help("Total number of terminal reconciliation errors per controller")
          .Register(*registry);
  Family<Counter>& panics = prometheus::BuildCounter()
                                .Name("controller_runtime_reconcile_panics_total")
                                .Help("Total number of reconciliation panics per controller")
                                .Register(*registry);
  Family<Histogram>& reconcile_time = prometheus::BuildHistogram()
                                          .Name("controller_runtime_reconcile_time_seconds")
                                          .Help("Length of time per reconciliation per controller")
                                          .Register(*registry);
  Family<Gauge>& max_concurrent =
      prometheus::BuildGauge()
          .Name("controller_runtime_max_concurrent_reconciles")
          .Help("Maximum number of concurrent reconciles per controller")
          .Register(*registry);
  Family<Gauge>& active_workers = prometheus::BuildGauge()
                                      .Name("controller_runtime_active_workers")
                                      .Help("Number of currently used workers per controller")
                                      .Register(*registry);

  // client-go workqueue metrics as controller-runtime registers them.
  Family<Gauge>& wq_depth = prometheus::BuildGauge()
                                .Name("workqueue_depth")
                                .Help("Current depth of workqueue")
                                .Register(*registry);
  Family<Counter>& wq_adds = prometheus::BuildCounter()
                                 .Name("workqueue_adds_total")
                                 .Help("Total number of adds handled by workqueue")
                                 .Register(*registry);
  Family<Histogram>& wq_queue_duration =
      prometheus::BuildHistogram()
          .Name("workqueue_queue_duration_seconds")
          .Help("How long in seconds an item stays in workqueue before being requested")
          .Register(*registry);
  Family<Histogram>& wq_work_duration =
      prometheus::BuildHistogram()
          .Name("workqueue_work_duration_seconds")
          .Help("How long in seconds processing an item from workqueue takes.")
          .Register(*registry);
  Family<Gauge>& wq_unfinished =
      prometheus::BuildGauge()
          .Name("workqueue_unfinished_work_seconds")
          .Help(
              "How many seconds of work has been done that is in progress and hasn't been "
              "observed by work_duration. Large values indicate stuck threads. One can "
              "deduce the number of stuck threads by observing the rate at which this "
              "increases.")
          .Register(*registry);
  Family<Gauge>& wq_longest =
      prometheus::BuildGauge()
          .Name("workqueue_longest_running_processor_seconds")
          .Help(
              "How many seconds has the longest running processor for workqueue been "
              "running.")
          .Register(*registry);
  Family<Counter>& wq_retries = prometheus::BuildCounter()
                                    .Name("workqueue_retries_total")
                                    .Help("Total number of retries handled by workqueue")
                                    .Register(*registry);

  Family<Counter>& rest_requests =
      prometheus::BuildCounter()
          .Name("rest_client_requests_total")
          .Help("Number of HTTP requests, partitioned by status code, method, and host.")
          .Register(*registry);
  Family<Gauge>& leader = prometheus::BuildGauge()
                              .Name("leader_election_master_status")
                              .Help(
                                  "Gauge of if the reporting system is master of the "
                                  "relevant lease, 0 indicates backup, 1 indicates master. "
                                  "'name' is the string used to identify the lease.")
                              .Register(*registry);

  Family<Counter>& leader_slowpath =
      prometheus::BuildCounter()
          .Name("leader_election_slowpath_total")
          .Help(
              "Total number of slow path exercised in renewing leader leases. 'name' is the "
              "string used to identify the lease.")
          .Register(*registry);

  Family<Gauge>& cluster_info =
      prometheus::BuildGauge()
          .Name("pygrid_cluster_info")
          .Help("Always 1 for each PyGridCluster; carries its uid and PyGrid flavor.")
          .Register(*registry);
  Family<Gauge>& cluster_ready =
      prometheus::BuildGauge()
          .Name("pygrid_cluster_ready")
          .Help("1 when the PyGridCluster's Ready condition is True, else 0.")
          .Register(*registry);
  Family<Gauge>& cluster_desired = prometheus::BuildGauge()
                                       .Name("pygrid_cluster_workers_desired")
                                       .Help("Workers the PyGridCluster spec asks for.")
                                       .Register(*registry);
  Family<Gauge>& cluster_workers_ready =
      prometheus::BuildGauge()
          .Name("pygrid_cluster_workers_ready")
          .Help("Workers of the PyGridCluster that passed their readiness probe.")
          .Register(*registry);
  Family<Gauge>& cluster_phase =
      prometheus::BuildGauge()
          .Name("pygrid_cluster_phase")
          .Help("1 for the PyGridCluster's current phase, 0 for the others.")
          .Register(*registry);
  Family<Histogram>& provisioned =
      prometheus::BuildHistogram()
          .Name("pygrid_cluster_provisioned_duration_seconds")
          .Help("Seconds from PyGridCluster creation to its first Ready.")
          .Register(*registry);
  Family<Gauge>& instances =
      prometheus::BuildGauge()
          .Name("pygrid_instances")
          .Help("Genesis Cloud instances owned by PyGridClusters, by role and state.")
          .Register(*registry);

  Family<Counter>& genesis_requests =
      prometheus::BuildCounter()
          .Name("genesis_api_requests_total")
          .Help("Genesis Cloud API requests by operation, HTTP method and status code.")
          .Register(*registry);
  Family<Histogram>& genesis_duration = prometheus::BuildHistogram()
                                            .Name("genesis_api_request_duration_seconds")
                                            .Help("Genesis Cloud API request latency by operation.")
                                            .Register(*registry);
  Family<Counter>& genesis_rate_limited =
      prometheus::BuildCounter()
          .Name("genesis_api_rate_limited_total")
          .Help("Genesis Cloud API requests that were rate limited (HTTP 429).")
          .Register(*registry);
  Family<Counter>& genesis_retries =
      prometheus::BuildCounter()
          .Name("genesis_api_retries_total")
          .Help("Genesis Cloud API requests that repeated an earlier attempt.")
          .Register(*registry);

  std::shared_ptr<ProcessCollector> process;
  mutable std::mutex mu;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables;     // guarded by mu
  std::unordered_map<std::string, ControllerMetrics> controllers;         // guarded by mu
  std::map<std::pair<std::string, std::string>, ClusterSeries> clusters;  // guarded by mu
  std::set<std::string> provisioned_uids;                                 // guarded by mu
  std::map<std::pair<std::string, std::string>, Gauge*> instance_series;  // guarded by mu

  ControllerMetrics RegisterLocked(const std::string& name, int workers) {
    auto it = controllers.find(name);
    if (it != controllers.end()) {
      max_concurrent.Add({{"controller", name}}).Set(workers);
      return it->second;
    }
    ControllerMetrics m;
    m.name_ = name;
    for (ReconcileResult r : {ReconcileResult::kSuccess, ReconcileResult::kRequeue,
                              ReconcileResult::kRequeueAfter, ReconcileResult::kError}) {
      m.results_[ResultIndex(r)] =
          &reconcile_total.Add({{"controller", name}, {"result", ReconcileResultLabel(r)}});
    }
    m.errors_ = &reconcile_errors.Add({{"controller", name}});
    m.terminal_errors_ = &terminal_errors.Add({{"controller", name}});
    m.panics_ = &panics.Add({{"controller", name}});
    m.time_ = &reconcile_time.Add({{"controller", name}}, ReconcileTimeBuckets());
    m.active_workers_ = &active_workers.Add({{"controller", name}});
    m.max_concurrent_ = &max_concurrent.Add({{"controller", name}});
    m.max_concurrent_->Set(workers);
    controllers.emplace(name, m);
    return m;
  }

  void RemoveCluster(ClusterSeries& s) {
    cluster_info.Remove(s.info);
    cluster_ready.Remove(s.ready);
    cluster_desired.Remove(s.desired);
    cluster_workers_ready.Remove(s.workers_ready);
    for (Gauge* g : s.phases) cluster_phase.Remove(g);
  }
};

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

void Metrics::ObserveReconcile(const std::string& controller, ReconcileResult result,
                               double seconds) {
  ControllerMetrics m;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->controllers.find(controller);
    m = it != impl_->controllers.end() ? it->second : impl_->RegisterLocked(controller, 1);
  }
  m.ObserveReconcile(result, seconds);
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

void Metrics::ObserveGenesisRequest(std::string_view operation, std::string_view method,
                                    int http_status, double seconds, bool rate_limited,
                                    bool retry) {
  const std::string op(operation);
  impl_->genesis_requests
      .Add({{"operation", op}, {"method", std::string(method)}, {"code", CodeLabel(http_status)}})
      .Increment();
  impl_->genesis_duration.Add({{"operation", op}}, GenesisDurationBuckets())
      .Observe(seconds < 0 ? 0 : seconds);
  if (rate_limited || http_status == 429) {
    impl_->genesis_rate_limited.Add({{"operation", op}}).Increment();
  }
  if (retry) impl_->genesis_retries.Add({{"operation", op}}).Increment();
}

void Metrics::SetClusterState(const ClusterState& state) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const prometheus::Labels id = {{"namespace", state.cluster_namespace}, {"name", state.name}};
  ClusterSeries& s = impl_->clusters[{state.cluster_namespace, state.name}];
  if (s.info == nullptr || s.uid != state.uid || s.flavor != state.flavor) {
    if (s.info != nullptr) impl_->cluster_info.Remove(s.info);
    prometheus::Labels info = id;
    info["uid"] = state.uid;
    info["flavor"] = state.flavor;
    s.info = &impl_->cluster_info.Add(info);
    s.info->Set(1);
    s.uid = state.uid;
    s.flavor = state.flavor;
  }
  if (s.ready == nullptr) {
    s.ready = &impl_->cluster_ready.Add(id);
    s.desired = &impl_->cluster_desired.Add(id);
    s.workers_ready = &impl_->cluster_workers_ready.Add(id);
    for (const std::string& phase : ClusterPhases()) {
      prometheus::Labels labels = id;
      labels["phase"] = phase;
      s.phases.push_back(&impl_->cluster_phase.Add(labels));
    }
  }
  s.ready->Set(state.ready ? 1 : 0);
  s.desired->Set(state.workers_desired);
  s.workers_ready->Set(state.workers_ready);
  for (size_t i = 0; i < ClusterPhases().size(); ++i) {
    s.phases[i]->Set(ClusterPhases()[i] == state.phase ? 1 : 0);
  }
}

void Metrics::ForgetCluster(const std::string& cluster_namespace, const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->clusters.find({cluster_namespace, name});
  if (it == impl_->clusters.end()) return;
  impl_->RemoveCluster(it->second);
  impl_->clusters.erase(it);
}

void Metrics::ObserveClusterProvisioned(const std::string& uid, double seconds) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->provisioned_uids.insert(uid).second) return;
  }
  impl_->provisioned.Add({}, ProvisionedBuckets()).Observe(seconds < 0 ? 0 : seconds);
}

void Metrics::SetInstanceCounts(const InstanceCounts& counts) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (auto it = impl_->instance_series.begin(); it != impl_->instance_series.end();) {
    if (counts.count(it->first) == 0) {
      impl_->instances.Remove(it->second);
      it = impl_->instance_series.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [key, count] : counts) {
    Gauge*& g = impl_->instance_series[key];
    if (g == nullptr) g = &impl_->instances.Add({{"role", key.first}, {"state", key.second}});
    g->Set(count);
  }
}

void Metrics::AddCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->collectables.push_back(std::move(collectable));
}

std::shared_ptr<prometheus::Registry> Metrics::registry() const { return impl_->registry; }

std::vector<prometheus::MetricFamily> Metrics::Collect() const {
  std::vector<prometheus::MetricFamily> families = impl_->registry->Collect();
  std::vector<std::shared_ptr<prometheus::Collectable>> extra;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    extra = impl_->collectables;
  }
  if (impl_->process) extra.insert(extra.begin(), impl_->process);
  for (const auto& c : extra) {
    for (auto& f : c->Collect()) families.push_back(std::move(f));
  }
  return families;
}

std::string Metrics::Serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, Collect());
  return out.str();
}

}  // namespace pygrid::observability
