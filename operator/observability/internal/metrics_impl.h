// Private to observability/: the families behind Metrics, shared by metrics.cpp
// (controller-runtime, client-go, process) and domain_metrics.cpp (PyGrid, Genesis Cloud).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "observability/metrics.h"
#include "observability/process_collector.h"

namespace pygrid::observability {
namespace internal {

// Index of a result's series in ControllerMetrics::results_ (success, requeue, requeue_after,
// error).
int ResultIndex(ReconcileResult result);
// The `code` label of an HTTP status: "<error>" when there was no answer (client-go).
std::string CodeLabel(int http_status);
// Genesis Cloud calls take tens of milliseconds to tens of seconds (instance create).
const std::vector<double>& GenesisDurationBuckets();
// A GPU instance boots and installs PyGrid in minutes; create -> Ready spans 30 s to 2 h.
const std::vector<double>& ProvisionedBuckets();

}  // namespace internal

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

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
  Family<Gauge>& orphans =
      prometheus::BuildGauge()
          .Name("pygrid_orphan_instances")
          .Help("Instances named like a PyGridCluster's whose cluster the operator cannot see, "
                "by account (a label derived from the token's hash).")
          .Register(*registry);

  Family<Counter>& bakes = prometheus::BuildCounter()
                               .Name("pygrid_bakes_total")
                               .Help(
                                   "Prepared-image bakes the operator finished, by result "
                                   "(succeeded, failed).")
                               .Register(*registry);
  Family<Gauge>& prepared_images =
      prometheus::BuildGauge()
          .Name("pygrid_prepared_images")
          .Help(
              "Snapshots the operator baked that exist now, by account (a label derived from "
              "the token's hash).")
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
      m.results_[internal::ResultIndex(r)] =
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

}  // namespace pygrid::observability
