// Counter, gauge and histogram semantics of observability::Metrics.
#include "observability/metrics.h"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

#include <stdexcept>
#include <thread>

#include "core/clock.h"
#include "unit/observability/test_util.h"

namespace pygrid::observability {
namespace {

using testing::FindMetric;
using testing::SeriesCount;

Metrics::Options NoProcess() {
  Metrics::Options options;
  options.process_metrics = false;
  return options;
}

double Counter(const Metrics& m, const std::string& name, const testing::LabelMap& labels) {
  const auto families = m.Collect();
  const prometheus::ClientMetric* metric = FindMetric(families, name, labels);
  EXPECT_NE(metric, nullptr) << name;
  return metric ? metric->counter.value : -1;
}

double Gauge(const Metrics& m, const std::string& name, const testing::LabelMap& labels) {
  const auto families = m.Collect();
  const prometheus::ClientMetric* metric = FindMetric(families, name, labels);
  EXPECT_NE(metric, nullptr) << name;
  return metric ? metric->gauge.value : -1;
}

uint64_t HistogramCount(const Metrics& m, const std::string& name,
                        const testing::LabelMap& labels) {
  const auto families = m.Collect();
  const prometheus::ClientMetric* metric = FindMetric(families, name, labels);
  EXPECT_NE(metric, nullptr) << name;
  return metric ? metric->histogram.sample_count : 0;
}

TEST(MetricsTest, RegisterControllerPrecreatesEverySeriesAtZero) {
  Metrics m(NoProcess());
  m.RegisterController("pygridcluster", 3);
  for (const char* result : {"success", "error", "requeue", "requeue_after"}) {
    EXPECT_EQ(Counter(m, "controller_runtime_reconcile_total",
                      {{"controller", "pygridcluster"}, {"result", result}}),
              0)
        << result;
  }
  const testing::LabelMap c = {{"controller", "pygridcluster"}};
  EXPECT_EQ(Counter(m, "controller_runtime_reconcile_errors_total", c), 0);
  EXPECT_EQ(Counter(m, "controller_runtime_terminal_reconcile_errors_total", c), 0);
  EXPECT_EQ(Counter(m, "controller_runtime_reconcile_panics_total", c), 0);
  EXPECT_EQ(Gauge(m, "controller_runtime_max_concurrent_reconciles", c), 3);
  EXPECT_EQ(Gauge(m, "controller_runtime_active_workers", c), 0);
  EXPECT_EQ(HistogramCount(m, "controller_runtime_reconcile_time_seconds", c), 0u);
}

TEST(MetricsTest, EachReconcileCountedOnceUnderItsResultAndAlwaysTimed) {
  Metrics m(NoProcess());
  ControllerMetrics c = m.RegisterController("pgc", 1);
  c.ObserveReconcile(ReconcileResult::kSuccess, 0.1);
  c.ObserveReconcile(ReconcileResult::kRequeue, 0.2);
  c.ObserveReconcile(ReconcileResult::kRequeueAfter, 0.3);
  c.ObserveReconcile(ReconcileResult::kRequeueAfter, 0.3);
  c.ObserveReconcile(ReconcileResult::kError, 0.4);
  c.ObserveReconcile(ReconcileResult::kTerminalError, 0.5);
  c.ObserveReconcile(ReconcileResult::kPanic, 0.6);
  auto total = [&](const char* result) {
    return Counter(m, "controller_runtime_reconcile_total",
                   {{"controller", "pgc"}, {"result", result}});
  };
  EXPECT_EQ(total("success"), 1);
  EXPECT_EQ(total("requeue"), 1);
  EXPECT_EQ(total("requeue_after"), 2);
  EXPECT_EQ(total("error"), 3);  // error, terminal error and panic are all result="error"
  const testing::LabelMap l = {{"controller", "pgc"}};
  EXPECT_EQ(Counter(m, "controller_runtime_reconcile_errors_total", l), 3);
  EXPECT_EQ(Counter(m, "controller_runtime_terminal_reconcile_errors_total", l), 1);
  EXPECT_EQ(Counter(m, "controller_runtime_reconcile_panics_total", l), 1);
  const auto families = m.Collect();
  const auto* time = FindMetric(families, "controller_runtime_reconcile_time_seconds", l);
  ASSERT_NE(time, nullptr);
  EXPECT_EQ(time->histogram.sample_count, 7u);
  EXPECT_NEAR(time->histogram.sample_sum, 2.4, 1e-9);
}

TEST(MetricsTest, ReconcileTimeHasTheFortyClassicBuckets) {
  Metrics m(NoProcess());
  m.RegisterController("pgc", 1).ObserveReconcile(ReconcileResult::kSuccess, 0.26);
  const auto families = m.Collect();
  const auto* time =
      FindMetric(families, "controller_runtime_reconcile_time_seconds", {{"controller", "pgc"}});
  ASSERT_NE(time, nullptr);
  ASSERT_EQ(time->histogram.bucket.size(), 41u);  // 40 + the implicit +Inf
  EXPECT_DOUBLE_EQ(time->histogram.bucket[0].upper_bound, 0.005);
  EXPECT_DOUBLE_EQ(time->histogram.bucket[39].upper_bound, 60);
  EXPECT_EQ(time->histogram.bucket[6].cumulative_count, 0u);  // le=0.2
  EXPECT_EQ(time->histogram.bucket[8].cumulative_count, 1u);  // le=0.3
}

TEST(MetricsTest, SingleInstrumentsMatchTheKubeHooks) {
  Metrics m(NoProcess());
  ControllerMetrics c = m.RegisterController("pgc", 1);
  c.SetMaxConcurrentReconciles(4);
  c.IncResult(ReconcileResult::kError);
  c.IncErrors();
  c.IncTerminalErrors();
  c.AddActiveWorkers(2);
  c.ObserveTime(0.3);
  const testing::LabelMap l = {{"controller", "pgc"}};
  EXPECT_EQ(Gauge(m, "controller_runtime_max_concurrent_reconciles", l), 4);
  EXPECT_EQ(Counter(m, "controller_runtime_reconcile_total",
                    {{"controller", "pgc"}, {"result", "error"}}),
            1);
  EXPECT_EQ(Counter(m, "controller_runtime_reconcile_errors_total", l), 1);
  EXPECT_EQ(Counter(m, "controller_runtime_terminal_reconcile_errors_total", l), 1);
  EXPECT_EQ(Counter(m, "controller_runtime_reconcile_panics_total", l), 0);
  EXPECT_EQ(Gauge(m, "controller_runtime_active_workers", l), 2);
  EXPECT_EQ(HistogramCount(m, "controller_runtime_reconcile_time_seconds", l), 1u);
  m.ObserveRestRequest("GET", std::string_view("<error>"), "h:443");
  EXPECT_EQ(Counter(m, "rest_client_requests_total",
                    {{"code", "<error>"}, {"method", "GET"}, {"host", "h:443"}}),
            1);
  m.IncLeaderSlowpath("lease");
  EXPECT_EQ(Counter(m, "leader_election_slowpath_total", {{"name", "lease"}}), 1);
}

TEST(MetricsTest, WorkqueueHooksFollowClientGo) {
  Metrics m(NoProcess());
  WorkqueueMetrics q = m.NewWorkqueueMetrics("pgc");
  const testing::LabelMap l = {{"name", "pgc"}, {"controller", "pgc"}};
  EXPECT_EQ(Gauge(m, "workqueue_depth", l), 0);
  EXPECT_EQ(Counter(m, "workqueue_adds_total", l), 0);
  EXPECT_EQ(Counter(m, "workqueue_retries_total", l), 0);
  q.IncAdds();
  q.IncAdds();
  q.SetDepth(1);
  q.ObserveQueueDuration(0.5);
  q.ObserveWorkDuration(2.0);
  q.IncRetries();
  q.SetUnfinishedWorkSeconds(3.5);
  q.SetLongestRunningProcessorSeconds(2.0);
  EXPECT_EQ(Gauge(m, "workqueue_depth", l), 1);
  EXPECT_EQ(Counter(m, "workqueue_adds_total", l), 2);
  EXPECT_EQ(Counter(m, "workqueue_retries_total", l), 1);
  EXPECT_EQ(HistogramCount(m, "workqueue_queue_duration_seconds", l), 1u);
  EXPECT_EQ(HistogramCount(m, "workqueue_work_duration_seconds", l), 1u);
  EXPECT_EQ(Gauge(m, "workqueue_unfinished_work_seconds", l), 3.5);
  EXPECT_EQ(Gauge(m, "workqueue_longest_running_processor_seconds", l), 2.0);
  const auto& buckets = WorkqueueDurationBuckets();
  ASSERT_EQ(buckets.size(), 12u);
  EXPECT_DOUBLE_EQ(buckets.front(), 1e-8);
  EXPECT_DOUBLE_EQ(buckets.back(), 1e3);
}

TEST(MetricsTest, RestClientCodeIsErrorWithoutAnAnswer) {
  Metrics m(NoProcess());
  m.ObserveRestRequest("GET", 200, "10.0.0.1:443");
  m.ObserveRestRequest("GET", 200, "10.0.0.1:443");
  m.ObserveRestRequest("PATCH", 0, "10.0.0.1:443");
  EXPECT_EQ(Counter(m, "rest_client_requests_total",
                    {{"code", "200"}, {"method", "GET"}, {"host", "10.0.0.1:443"}}),
            2);
  EXPECT_EQ(Counter(m, "rest_client_requests_total",
                    {{"code", "<error>"}, {"method", "PATCH"}, {"host", "10.0.0.1:443"}}),
            1);
}

TEST(MetricsTest, LeaderStatusIsOneOrZero) {
  Metrics m(NoProcess());
  m.SetLeader("pygrid-operator-lock", false);
  EXPECT_EQ(Gauge(m, "leader_election_master_status", {{"name", "pygrid-operator-lock"}}), 0);
  m.SetLeader("pygrid-operator-lock", true);
  EXPECT_EQ(Gauge(m, "leader_election_master_status", {{"name", "pygrid-operator-lock"}}), 1);
}

TEST(MetricsTest, GenesisRequestsCountCodesRateLimitsAndRetries) {
  Metrics m(NoProcess());
  m.ObserveGenesisRequest("CreateInstance", "POST", 201, 0.8);
  m.ObserveGenesisRequest("CreateInstance", "POST", 429, 0.1);
  m.ObserveGenesisRequest("CreateInstance", "POST", 201, 0.7, false, /*retry=*/true);
  m.ObserveGenesisRequest("ListInstances", "GET", 0, 30, false, false);
  m.ObserveGenesisRequest("ListInstances", "GET", 200, 0.05, /*rate_limited=*/true, false);
  EXPECT_EQ(Counter(m, "genesis_api_requests_total",
                    {{"operation", "CreateInstance"}, {"method", "POST"}, {"code", "201"}}),
            2);
  EXPECT_EQ(Counter(m, "genesis_api_requests_total",
                    {{"operation", "CreateInstance"}, {"method", "POST"}, {"code", "429"}}),
            1);
  EXPECT_EQ(Counter(m, "genesis_api_requests_total",
                    {{"operation", "ListInstances"}, {"method", "GET"}, {"code", "<error>"}}),
            1);
  EXPECT_EQ(Counter(m, "genesis_api_rate_limited_total", {{"operation", "CreateInstance"}}), 1);
  EXPECT_EQ(Counter(m, "genesis_api_rate_limited_total", {{"operation", "ListInstances"}}), 1);
  EXPECT_EQ(Counter(m, "genesis_api_retries_total", {{"operation", "CreateInstance"}}), 1);
  EXPECT_EQ(
      HistogramCount(m, "genesis_api_request_duration_seconds", {{"operation", "CreateInstance"}}),
      3u);
}

ClusterState Mnist(const std::string& phase) {
  return {"default", "mnist",          "uid-1", "duet",
          phase,     phase == "Ready", 3,       phase == "Ready" ? 3 : 1};
}

TEST(MetricsTest, ClusterPhaseIsOneHot) {
  Metrics m(NoProcess());
  m.SetClusterState(Mnist("Provisioning"));
  m.SetClusterState(Mnist("Ready"));
  const auto families = m.Collect();
  EXPECT_EQ(SeriesCount(families, "pygrid_cluster_phase"), ClusterPhases().size());
  for (const std::string& phase : ClusterPhases()) {
    const auto* metric =
        FindMetric(families, "pygrid_cluster_phase",
                   {{"namespace", "default"}, {"name", "mnist"}, {"phase", phase}});
    ASSERT_NE(metric, nullptr) << phase;
    EXPECT_EQ(metric->gauge.value, phase == "Ready" ? 1 : 0) << phase;
  }
  const testing::LabelMap id = {{"namespace", "default"}, {"name", "mnist"}};
  EXPECT_EQ(Gauge(m, "pygrid_cluster_ready", id), 1);
  EXPECT_EQ(Gauge(m, "pygrid_cluster_workers_desired", id), 3);
  EXPECT_EQ(Gauge(m, "pygrid_cluster_workers_ready", id), 3);
  EXPECT_EQ(
      Gauge(m, "pygrid_cluster_info",
            {{"namespace", "default"}, {"name", "mnist"}, {"uid", "uid-1"}, {"flavor", "duet"}}),
      1);
}

TEST(MetricsTest, UnknownPhaseSetsEveryPhaseSeriesToZero) {
  Metrics m(NoProcess());
  m.SetClusterState(Mnist("Ready"));
  m.SetClusterState(Mnist("Exploded"));
  for (const std::string& phase : ClusterPhases()) {
    EXPECT_EQ(Gauge(m, "pygrid_cluster_phase",
                    {{"namespace", "default"}, {"name", "mnist"}, {"phase", phase}}),
              0)
        << phase;
  }
}

TEST(MetricsTest, ClusterInfoFollowsUidAndForgetClusterRemovesEverySeries) {
  Metrics m(NoProcess());
  m.SetClusterState(Mnist("Ready"));
  ClusterState other = Mnist("Pending");
  other.name = "cifar";
  m.SetClusterState(other);
  ClusterState recreated = Mnist("Pending");
  recreated.uid = "uid-2";
  m.SetClusterState(recreated);
  auto families = m.Collect();
  EXPECT_EQ(SeriesCount(families, "pygrid_cluster_info"), 2u);
  EXPECT_EQ(
      FindMetric(
          families, "pygrid_cluster_info",
          {{"namespace", "default"}, {"name", "mnist"}, {"uid", "uid-1"}, {"flavor", "duet"}}),
      nullptr);

  m.ForgetCluster("default", "mnist");
  families = m.Collect();
  for (const char* name : {"pygrid_cluster_info", "pygrid_cluster_ready",
                           "pygrid_cluster_workers_desired", "pygrid_cluster_workers_ready"}) {
    EXPECT_EQ(SeriesCount(families, name), 1u) << name;  // only cifar is left
    for (const auto& family : families) {
      if (family.name != name) continue;
      for (const auto& metric : family.metric) {
        for (const auto& label : metric.label) {
          if (label.name == "name") {
            EXPECT_EQ(label.value, "cifar");
          }
        }
      }
    }
  }
  EXPECT_EQ(SeriesCount(families, "pygrid_cluster_phase"), ClusterPhases().size());
  m.ForgetCluster("default", "mnist");  // forgetting twice is harmless
}

TEST(MetricsTest, ProvisionedDurationObservedOncePerUid) {
  Metrics m(NoProcess());
  m.ObserveClusterProvisioned("uid-1", 240);
  m.ObserveClusterProvisioned("uid-1", 999);
  m.ObserveClusterProvisioned("uid-2", 400);
  const auto families = m.Collect();
  const auto* h = FindMetric(families, "pygrid_cluster_provisioned_duration_seconds", {});
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->histogram.sample_count, 2u);
  EXPECT_DOUBLE_EQ(h->histogram.sample_sum, 640);
}

TEST(MetricsTest, InstanceCountsReplaceTheWholeFamily) {
  Metrics m(NoProcess());
  m.SetInstanceCounts({{{"gateway", "active"}, 1}, {{"worker", "building"}, 2}});
  m.SetInstanceCounts({{{"gateway", "active"}, 1}, {{"worker", "active"}, 2}});
  const auto families = m.Collect();
  EXPECT_EQ(SeriesCount(families, "pygrid_instances"), 2u);
  EXPECT_EQ(FindMetric(families, "pygrid_instances", {{"role", "worker"}, {"state", "building"}}),
            nullptr);
  EXPECT_EQ(Gauge(m, "pygrid_instances", {{"role", "worker"}, {"state", "active"}}), 2);
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  Metrics m(NoProcess());
  ControllerMetrics c = m.RegisterController("pgc", 4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        c.ObserveReconcile(ReconcileResult::kSuccess, 0.001);
        m.ObserveGenesisRequest("ListInstances", "GET", 200, 0.01);
        ClusterState s = Mnist(i % 2 ? "Ready" : "Provisioning");
        s.name = "c" + std::to_string(t);
        m.SetClusterState(s);
        if (i % 7 == 0) m.ForgetCluster("default", s.name);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Counter(m, "controller_runtime_reconcile_total",
                    {{"controller", "pgc"}, {"result", "success"}}),
            2000);
  EXPECT_EQ(Counter(m, "genesis_api_requests_total",
                    {{"operation", "ListInstances"}, {"method", "GET"}, {"code", "200"}}),
            2000);
}

TEST(MetricsTest, ProcessMetricsAreIncludedByDefault) {
  Metrics m;
  const std::string text = m.Serialize();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds"}) {
    EXPECT_NE(text.find(std::string("\n") + name + " "), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace pygrid::observability
