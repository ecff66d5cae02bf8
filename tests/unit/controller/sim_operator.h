// SimOperator: the real Reconciler in one thread against MemoryKubeClient, SimCloud, SimProber
// and a FakeClock, with a work queue on simulated time, event capture, and "process crashes"
// that throw away everything the process held (reconciler, cloud caches, queue) as kill -9
// does. Reconciler tables and the deterministic simulation both use it.
//
//   SimOperator op(seed);
//   op.ApplySecret("default", "creds", "token-1");
//   op.ApplyCluster(ClusterObject("mnist", 2));
//   op.RunUntilQuiet(std::chrono::minutes(5));
//   EXPECT_TRUE(op.Converged("default/mnist"));
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/cloud_accounts.h"
#include "controller/reconciler.h"
#include "controller/sim_world.h"
#include "core/clock.h"
#include "kube/memory_client.h"

namespace pygrid::controller::testing {

struct RecordedEvent {
  std::string key;
  bool warning = false;
  std::string reason;
  std::string message;
};

// A PyGridCluster manifest (defaults left to the operator).
nlohmann::json ClusterObject(const std::string& name, int replicas,
                             const std::string& ns = "default",
                             const std::string& secret = "creds");

class SimOperator {
 public:
  // `processes` operator processes act on the same world (more than one: no leader election).
  explicit SimOperator(uint64_t seed, int processes = 1);
  ~SimOperator();

  FakeClock clock;
  kube::MemoryKubeClient kube{clock};
  SimCloud cloud{clock};
  SimProber prober{cloud, clock};
  std::vector<RecordedEvent> events;
  // Prepared images the reconcilers of processes started from now on see (null: baking off, as
  // in the simulation, whose SimCloud has no snapshots).
  const PreparedImages* prepared_images = nullptr;

  // Kubernetes side.
  void ApplySecret(const std::string& ns, const std::string& name, const std::string& token);
  void DeleteSecret(const std::string& ns, const std::string& name);
  // Creates the cluster or replaces its spec.
  void ApplyCluster(const nlohmann::json& object);
  void EditCluster(const std::string& key, const std::function<void(nlohmann::json&)>& edit);
  void DeleteCluster(const std::string& key);
  std::optional<nlohmann::json> Cluster(const std::string& key) const;
  // The parsed status of a cluster ("" conditions when absent).
  std::string Condition(const std::string& key, const std::string& type,
                        std::string* reason = nullptr) const;
  bool HasEvent(const std::string& key, const std::string& reason) const;

  // The operator process.
  // kill -9 of process `which`: everything it held is gone; a new process starts at once.
  void Crash(int which = 0);
  // Runs the earliest due reconcile (advancing the clock to it); false when nothing is queued.
  bool Step();
  // Steps until nothing is due within `horizon` of simulated time.
  void RunFor(Clock::Duration horizon);
  // Called around every reconcile with its key: before (true) and after (false) it, also when
  // the process crashed during it. For invariants about what one round did.
  std::function<void(const std::string& key, bool before)> on_round;
  // The outcome of the last reconcile (for tables).
  const kube::ReconcileResult& last_result() const { return last_result_; }
  int reconciles() const { return reconciles_; }
  int crashes() const { return crashes_; }
  void Enqueue(const std::string& key, Clock::Duration after = Clock::Duration::zero());
  // Watches refused: while on, changes reach no process (they only act on their requeues);
  // turning it off relists, as the informer does after a failed watch (every key once).
  void RefuseWatches(bool on);

  // Live instances (not deleting) whose names carry the cluster's prefix.
  std::vector<const SimInstance*> Instances(const std::string& key) const;
  // Every instance (deleting included) ever owned by `uid8 prefix` of a cluster.
  std::string PrefixOf(const std::string& key) const;
  // Ready, observedGeneration current, every worker registered, exactly replicas+1 instances.
  bool Converged(const std::string& key, std::string* why = nullptr) const;

 private:
  // One operator process: its cloud caches, reconciler and work queue.
  struct Process {
    std::unique_ptr<CloudAccounts> clouds;
    std::unique_ptr<Reconciler> reconciler;
    std::map<std::string, Clock::TimePoint> queue;
    std::map<std::string, int> failures;  // per key, for the backoff
  };
  void StartProcess(Process& process);
  void OnChange(const kube::ResourceRef& resource, const std::string& key);
  // The process and key due first, or nullopt when every queue is empty.
  std::optional<std::pair<Process*, std::string>> NextDue();

  uint64_t seed_;
  SeededIdentities identities_;
  bootstrap::SshKeyPair operator_key_;
  std::vector<Process> processes_;
  std::map<std::string, nlohmann::json> seen_meta_;  // generation/deletion/finalizers seen
  std::map<std::string, std::string> prefixes_;      // key -> instance prefix, kept after deletion
  kube::ReconcileResult last_result_ = kube::ReconcileResult::Done();
  int reconciles_ = 0;
  bool watches_refused_ = false;
  int crashes_ = 0;
};

}  // namespace pygrid::controller::testing
