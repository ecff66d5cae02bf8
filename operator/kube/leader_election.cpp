#include "kube/leader_election.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

namespace pygrid::kube {
namespace {

const ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", true};
constexpr double kJitterFactor = 1.2;  // client-go leaderelection.JitterFactor

// metav1.MicroTime: RFC 3339 with microseconds, UTC.
std::string MicroTime(Clock::WallTime t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  char out[64];
  std::snprintf(out, sizeof(out), "%s.%06lldZ", text, static_cast<long long>(micros % 1000000));
  return out;
}

}  // namespace

Status ValidateLeaderElectionConfig(const LeaderElectionConfig& config) {
  if (config.lease_name.empty() || config.lease_namespace.empty()) {
    return Status::Invalid("leader election needs a lease name and namespace");
  }
  if (config.lease_duration <= config.renew_deadline) {
    return Status::Invalid("leaseDuration must be greater than renewDeadline");
  }
  if (static_cast<double>(config.renew_deadline.count()) <=
      kJitterFactor * static_cast<double>(config.retry_period.count())) {
    return Status::Invalid("renewDeadline must be greater than retryPeriod*JitterFactor (1.2)");
  }
  if (config.lease_duration.count() < 1 || config.renew_deadline.count() < 1 ||
      config.retry_period.count() < 1) {
    return Status::Invalid("leaseDuration, renewDeadline and retryPeriod must be positive");
  }
  if (config.lease_duration < std::chrono::seconds(1)) {
    return Status::Invalid("leaseDuration must be at least 1 s (the Lease stores whole seconds)");
  }
  return Status::Ok();
}

std::string DefaultLeaderIdentity() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  std::random_device device;
  std::ostringstream id;
  id << host << "_" << std::hex << (device() & 0xffffffffu);
  return id.str();
}

StatusOr<std::unique_ptr<LeaderElector>> LeaderElector::Create(KubeClient& client,
                                                               LeaderElectionConfig config) {
  Status valid = ValidateLeaderElectionConfig(config);
  if (!valid.ok()) return valid;
  if (config.identity.empty()) config.identity = DefaultLeaderIdentity();
  return std::unique_ptr<LeaderElector>(new LeaderElector(client, std::move(config)));
}

LeaderElector::LeaderElector(KubeClient& client, LeaderElectionConfig config)
    : client_(client),
      config_(std::move(config)),
      clock_(config_.clock ? *config_.clock : RealClock::Instance()),
      metrics_(config_.metrics ? config_.metrics : std::make_shared<LeaderElectionMetrics>()),
      rng_(std::random_device{}()) {}

std::string LeaderElector::GetLeader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return observed_holder_;
}

bool LeaderElector::Wait(std::chrono::milliseconds delay) {
  if (config_.sleep) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return false;
    }
    if (!config_.sleep(delay)) return false;
    std::lock_guard<std::mutex> lock(mu_);
    return !stopping_;
  }
  std::unique_lock<std::mutex> lock(mu_);
  stop_cv_.wait_for(lock, delay, [this] { return stopping_; });
  return !stopping_;
}

std::chrono::milliseconds LeaderElector::Jittered(std::chrono::milliseconds base) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  return std::chrono::milliseconds(static_cast<long long>(static_cast<double>(base.count()) *
                                                          (1.0 + kJitterFactor * unit(rng_))));
}

void LeaderElector::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
}

bool LeaderElector::TryAcquireOrRenew() {
  const std::string now = MicroTime(clock_.WallNow());
  const long long lease_seconds = std::max<long long>(
      1, std::llround(std::chrono::duration<double>(config_.lease_duration).count()));
  Json spec = {{"holderIdentity", config_.identity},
               {"leaseDurationSeconds", lease_seconds},
               {"acquireTime", now},
               {"renewTime", now}};

  // Fast path (client-go >= 1.28): the leader renews from its cached copy without a read;
  // any failure falls back to the read-then-write slow path below.
  Json cached;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (leading_.load() && observed_holder_ == config_.identity && observed_.is_object()) {
      cached = observed_;
    }
  }
  if (!cached.is_null()) {
    Json renewed = cached;
    renewed["spec"]["renewTime"] = now;
    renewed["spec"]["leaseDurationSeconds"] = lease_seconds;
    StatusOr<Json> written = client_.Update(kLeases, config_.lease_namespace, renewed);
    if (written.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      observed_ = *written;
      observed_spec_ = (*written)["spec"].dump();
      observed_time_ = clock_.Now();
      return true;
    }
    metrics_->IncSlowpath(config_.lease_name);
  }

  StatusOr<Json> got = client_.Get(kLeases, config_.lease_namespace, config_.lease_name);
  if (!got.ok()) {
    if (!got.status().IsNotFound()) return false;
    spec["leaseTransitions"] = 0;
    Json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
        {"spec", spec}};
    StatusOr<Json> created = client_.Create(kLeases, config_.lease_namespace, lease);
    if (!created.ok()) return false;
    std::lock_guard<std::mutex> lock(mu_);
    observed_ = *created;
    observed_spec_ = (*created)["spec"].dump();
    observed_holder_ = config_.identity;
    observed_time_ = clock_.Now();
    return true;
  }

  const Json old_spec = got->contains("spec") ? (*got)["spec"] : Json::object();
  const std::string old_holder = old_spec.value("holderIdentity", "");
  const long long old_seconds = old_spec.value("leaseDurationSeconds", 0LL);
  bool valid = false;
  bool new_leader = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string raw = old_spec.dump();
    if (raw != observed_spec_) {
      // The record changed since we last looked: the lease clock restarts from our "now".
      new_leader = old_holder != observed_holder_;
      observed_spec_ = raw;
      observed_holder_ = old_holder;
      observed_time_ = clock_.Now();
    }
    observed_ = *got;
    valid = observed_time_ + std::chrono::seconds(old_seconds) > clock_.Now();
  }
  if (new_leader && config_.on_new_leader) config_.on_new_leader(old_holder);
  const bool was_leader = old_holder == config_.identity;
  if (!old_holder.empty() && valid && !was_leader) return false;

  const long long transitions = old_spec.value("leaseTransitions", 0LL);
  if (was_leader) {
    if (old_spec.contains("acquireTime")) spec["acquireTime"] = old_spec["acquireTime"];
    spec["leaseTransitions"] = transitions;
  } else {
    spec["leaseTransitions"] = transitions + 1;
  }
  Json updated = *got;
  updated["spec"] = spec;  // metadata.resourceVersion from the read makes this conditional
  StatusOr<Json> written = client_.Update(kLeases, config_.lease_namespace, updated);
  if (!written.ok()) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    observed_ = *written;
    observed_spec_ = (*written)["spec"].dump();
    new_leader = observed_holder_ != config_.identity;
    observed_holder_ = config_.identity;
    observed_time_ = clock_.Now();
  }
  if (new_leader && config_.on_new_leader) config_.on_new_leader(config_.identity);
  return true;
}

void LeaderElector::Release() {
  Json lease;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (observed_holder_ != config_.identity) return;
    lease = observed_;
  }
  const std::string now = MicroTime(clock_.WallNow());
  const Json old_spec = lease.contains("spec") ? lease["spec"] : Json::object();
  // client-go release(): empty holder, leaseDurationSeconds 1, transitions kept.
  lease["spec"] = {{"holderIdentity", ""},
                   {"leaseDurationSeconds", 1},
                   {"acquireTime", now},
                   {"renewTime", now},
                   {"leaseTransitions", old_spec.value("leaseTransitions", 0LL)}};
  StatusOr<Json> written = client_.Update(kLeases, config_.lease_namespace, lease);
  if (written.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    observed_ = *written;
    observed_spec_ = (*written)["spec"].dump();
    observed_holder_.clear();
    observed_time_ = clock_.Now();
  }
}

Status LeaderElector::Run() {
  while (!TryAcquireOrRenew()) {
    if (!Wait(Jittered(config_.retry_period))) return Status::Ok();
  }
  bool stop_now = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_now = stopping_;
  }
  if (stop_now) {
    // Stopped while the winning write was in flight: hand the lease back without leading.
    if (config_.release_on_cancel) Release();
    return Status::Ok();
  }
  leading_.store(true);
  metrics_->SetLeader(config_.lease_name, true);
  if (config_.on_started_leading) config_.on_started_leading();

  auto stop_leading = [this]() {
    leading_.store(false);
    metrics_->SetLeader(config_.lease_name, false);
    if (config_.on_stopped_leading) config_.on_stopped_leading();
  };
  while (true) {
    if (!Wait(config_.retry_period)) {
      // Stop first, so nothing reconciles once another candidate can see the lease free.
      stop_leading();
      if (config_.release_on_cancel) Release();
      return Status::Ok();
    }
    const Clock::TimePoint deadline = clock_.Now() + config_.renew_deadline;
    bool renewed = false;
    while (true) {
      if (TryAcquireOrRenew()) {
        renewed = clock_.Now() < deadline;
        break;
      }
      if (clock_.Now() + config_.retry_period >= deadline) break;
      if (!Wait(config_.retry_period)) {
        stop_leading();
        if (config_.release_on_cancel) Release();
        return Status::Ok();
      }
    }
    if (!renewed) {
      stop_leading();
      return Status::Unavailable("leader election lost: lease " + config_.lease_namespace + "/" +
                                 config_.lease_name + " not renewed within the renew deadline");
    }
  }
}

}  // namespace pygrid::kube
