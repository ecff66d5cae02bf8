// Provides LeaderElector: leader election on a coordination.k8s.io/v1 Lease, following
// client-go tools/leaderelection (leaderelection.go, resourcelock/leaselock.go):
//
//   LeaderElectionConfig config;
//   config.lease_namespace = "pygrid-system";
//   config.lease_name = "pygrid-operator-leader";
//   config.on_started_leading = [&] { controller.Start(); };
//   config.on_stopped_leading = [&] { controller.Stop(); exit_requested = true; };
//   auto elector = LeaderElector::Create(client, std::move(config));
//   std::thread election([&] { (*elector)->Run(); });
//   ...
//   (*elector)->Stop();  // releases the lease if held
//
// - Acquire: every retry_period (jitter 1.2) read the lease; take it when it is free, ours, or
//   its record has not changed for lease_duration as observed on our own clock. Writes carry
//   the read resourceVersion, so two candidates never both win (409 for the loser).
// - Renew: every retry_period; if no renew succeeds within renew_deadline the lease is lost:
//   on_stopped_leading runs at once and Run returns.
// - Release on Stop: holderIdentity cleared and leaseDurationSeconds=1 (ReleaseOnCancel).
// Thread-safety: Run on one thread; Stop, IsLeader and GetLeader from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "core/clock.h"
#include "kube/client.h"
#include "kube/metrics.h"

namespace pygrid::kube {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // "" = hostname + "_" + random suffix
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  bool release_on_cancel = true;
  // Called on the elector's thread when this candidate becomes leader; must not block long.
  std::function<void()> on_started_leading;
  // Called when leadership ends (lost or released); stop reconciling here.
  std::function<void()> on_stopped_leading;
  // Called when the observed leader changes (including to ourselves).
  std::function<void(const std::string& identity)> on_new_leader;
  const Clock* clock = nullptr;  // null = RealClock
  // How the elector waits between attempts; false ends Run as Stop does. Null waits in real
  // time, cut short by Stop. Tests pass one that advances a FakeClock, so a whole election
  // runs on one thread in simulated time.
  std::function<bool(std::chrono::milliseconds)> sleep;
  std::shared_ptr<LeaderElectionMetrics> metrics;  // null = no-op
};

// client-go's checks: lease > renew > 1.2 * retry, all positive, names set.
Status ValidateLeaderElectionConfig(const LeaderElectionConfig& config);

// hostname + "_" + 8 random hex characters (client-go examples use hostname + uuid).
std::string DefaultLeaderIdentity();

class LeaderElector {
 public:
  static StatusOr<std::unique_ptr<LeaderElector>> Create(KubeClient& client,
                                                         LeaderElectionConfig config);

  // Campaigns until leader, leads until the lease is lost or Stop is called, then returns.
  // Returns OK after a clean Stop, or the reason leadership was lost.
  Status Run();
  // Ends Run; releases the lease if held and release_on_cancel is set. Idempotent.
  void Stop();
  bool IsLeader() const { return leading_.load(); }
  // The last observed holder ("" when none).
  std::string GetLeader() const;
  const std::string& identity() const { return config_.identity; }

 private:
  LeaderElector(KubeClient& client, LeaderElectionConfig config);
  // One read-and-maybe-write; true when we hold the lease afterwards.
  bool TryAcquireOrRenew();
  void Release();
  // Waits `delay` (config.sleep, or real time) unless stopped; false when stopped.
  bool Wait(std::chrono::milliseconds delay);
  std::chrono::milliseconds Jittered(std::chrono::milliseconds base);

  KubeClient& client_;
  LeaderElectionConfig config_;
  const Clock& clock_;
  std::shared_ptr<LeaderElectionMetrics> metrics_;
  std::mt19937_64 rng_;

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::atomic<bool> leading_{false};
  Json observed_;  // the last lease object read or written
  std::string observed_holder_;
  std::string observed_spec_;  // serialised spec, to notice any change
  Clock::TimePoint observed_time_{};
};

}  // namespace pygrid::kube
