// The PyGrid and Genesis Cloud families of Metrics.
#include "observability/internal/metrics_impl.h"

namespace pygrid::observability {

using internal::CodeLabel;

void Metrics::ObserveGenesisRequest(std::string_view operation, std::string_view method,
                                    int http_status, double seconds, bool rate_limited,
                                    bool retry) {
  const std::string op(operation);
  impl_->genesis_requests
      .Add({{"operation", op}, {"method", std::string(method)}, {"code", CodeLabel(http_status)}})
      .Increment();
  impl_->genesis_duration.Add({{"operation", op}}, internal::GenesisDurationBuckets())
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
  impl_->provisioned.Add({}, internal::ProvisionedBuckets()).Observe(seconds < 0 ? 0 : seconds);
}

void Metrics::SetOrphanInstances(const std::string& account, int count) {
  impl_->orphans.Add({{"account", account}}).Set(count);
}

void Metrics::IncBakes(const std::string& result) {
  impl_->bakes.Add({{"result", result}}).Increment();
}

void Metrics::SetPreparedImages(const std::string& account, int count) {
  impl_->prepared_images.Add({{"account", account}}).Set(count);
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

}  // namespace pygrid::observability
