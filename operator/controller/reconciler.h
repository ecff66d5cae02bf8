// Provides Reconciler: one PyGridCluster reconcile, level-based and safe to crash anywhere:
// read the resource from the cache; finalizer; validate (an invalid spec is a condition and
// an event, never a retry loop); load the token; ensure the security group; observe the
// account's instances (shared list) and probe the gateway and instances; plan (pure,
// controller/planner.h); act; write status only when it changed.
//
//   Reconciler reconciler(deps, options);
//   kube::Controller controller({.name = "pygridcluster", .workers = 4},
//                               [&](const std::string& key) { return reconciler.Reconcile(key); });
//
// Never creates an instance twice: before a create, the new instance's identity (pinned SSH
// host key, node id) is written to status; after an ambiguous create failure the instance is
// looked up by its unique name; a lost status write is recovered by the next round's name scan.
// Thread-safety: Reconcile may run concurrently for different keys (the workqueue never hands
// one key to two workers).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "bootstrap/ssh_keys.h"
#include "bootstrap/templates.h"
#include "controller/cloud_accounts.h"
#include "core/clock.h"
#include "kube/controller.h"

namespace pygrid::kube {
class KubeClient;
class EventRecorder;
}  // namespace pygrid::kube
namespace pygrid::probe {
class Prober;
}  // namespace pygrid::probe
namespace pygrid::observability {
class Metrics;
}  // namespace pygrid::observability

namespace pygrid::controller {

inline constexpr char kControllerName[] = "pygridcluster";

struct ReconcilerOptions {
  // Requeue interval while anything converges, and when everything is steady.
  Clock::Duration poll_interval = std::chrono::seconds(10);
  Clock::Duration resync_interval = std::chrono::minutes(1);
  int ssh_port = 22;
  std::string ssh_user = "ubuntu";
  std::chrono::milliseconds ssh_timeout{10000};
  // At most this many SSH marker probes per round (they explain, they do not decide).
  int max_marker_probes = 8;
};

// What the reconciler talks to. Every pointer must outlive the Reconciler; `events` and
// `metrics` may be null (tests).
struct ReconcilerDeps {
  kube::KubeClient* kube = nullptr;
  // The cached object for "ns/name", or nullopt when it does not exist.
  std::function<std::optional<nlohmann::json>(const std::string& key)> get_cluster;
  std::function<std::optional<nlohmann::json>(const std::string& key)> get_secret;
  CloudAccounts* clouds = nullptr;
  probe::Prober* prober = nullptr;
  kube::EventRecorder* events = nullptr;
  observability::Metrics* metrics = nullptr;
  bootstrap::SshKeyPair operator_key;  // a secret: never logged
  const bootstrap::Templates* templates = nullptr;
  const Clock* clock = nullptr;
};

class Reconciler {
 public:
  Reconciler(ReconcilerDeps deps, ReconcilerOptions options);
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Reconciles the PyGridCluster "namespace/name".
  kube::ReconcileResult Reconcile(const std::string& key);

 private:
  class Round;
  friend class Round;

  // Publishes per-cluster instance counts summed over all clusters (pygrid_instances).
  void PublishInstanceCounts(const std::string& key,
                             std::map<std::pair<std::string, std::string>, int> counts);

  ReconcilerDeps deps_;
  ReconcilerOptions options_;
  std::mutex counts_mu_;
  std::map<std::string, std::map<std::pair<std::string, std::string>, int>> instance_counts_;
};

}  // namespace pygrid::controller
