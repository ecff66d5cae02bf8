// Provides Reconciler: one PyGridCluster reconcile as one straight line,
//
//   observe  -> the object (cache, or a live read when the cache is older than our own last
//               write), its Secret, the security group, the account's instances, probes
//   plan     -> PlanRound (controller/planner.h): pure; actions and the complete status
//   act      -> add the finalizer; delete; record intent (identities) in status, then create
//               or adopt; drop security groups nothing uses any more; remove the finalizer
//   write    -> Conclude's status through one StatusWriter, events; a conflict ends the round
//               and the next one re-observes and re-plans
//
//   Reconciler reconciler(deps, options);
//   kube::Controller controller({.name = "pygridcluster", .workers = 4},
//                               [&](const std::string& key) { return reconciler.Reconcile(key); });
//
// Every remote sits behind an interface in ReconcilerDeps (kube client, cloud accounts, prober,
// event sink, clock, executor, identity source), so tests drive the real reconciler in one
// thread with in-memory fakes. Never creates an instance twice: before a create the new
// instance's identity is written to status; after an ambiguous create failure the instance is
// looked up by its unique name; a lost status write is recovered by the next round's name scan.
// Thread-safety: Reconcile may run concurrently for different keys (the workqueue never hands
// one key to two workers).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bootstrap/ssh_keys.h"
#include "bootstrap/templates.h"
#include "bootstrap/user_data.h"
#include "controller/bakery.h"
#include "controller/cloud_accounts.h"
#include "controller/planner.h"
#include "core/clock.h"
#include "core/executor.h"
#include "kube/controller.h"
#include "kube/status_writer.h"

namespace pygrid::kube {
class KubeClient;
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
  std::string ssh_user = bootstrap::kLoginUser;
  std::chrono::milliseconds ssh_timeout{10000};
  // At most this many SSH marker probes per round (they explain, they do not decide).
  int max_marker_probes = 8;
  // Attempts of one status write. 1: a conflict means someone else wrote the object, so the
  // round ends and the next one observes and plans again, instead of overwriting the newer
  // object with a status computed from the older one (which could erase another writer's
  // recorded intent and let two creates race for one name).
  int status_write_attempts = 1;
  // Where the operator keeps its copies of clusters' credentials (its own namespace).
  std::string operator_namespace = "pygrid-system";
  // How long SSH may fail to reach a worker waiting for its gateway's address before the grid
  // falls back to workers configured by user data (Observations::address_delivery_grace).
  std::chrono::seconds address_delivery_grace = kDefaultAddressDeliveryGrace;
};

// Where events go: (object, warning?, reason, message). Production wires kube::EventRecorder.
using EventSink = std::function<void(const nlohmann::json& object, bool warning,
                                     const std::string& reason, const std::string& message)>;

// Makes the secrets of a new instance. Production: ed25519 host keys and OpenSSL's CSPRNG;
// tests: deterministic.
class IdentitySource {
 public:
  virtual ~IdentitySource() = default;
  // A fresh SSH host key pair for the instance `name`.
  virtual StatusOr<bootstrap::SshKeyPair> HostKey(const std::string& name) = 0;
  // A short random suffix that makes a node id unique per instance incarnation.
  virtual std::string NodeIdSuffix() = 0;
  // The gateway app's SECRET_KEY (64 hex digits, from a CSPRNG).
  virtual std::string SecretKey() = 0;
};
// The production identity source.
std::unique_ptr<IdentitySource> MakeIdentitySource();

// What the reconciler talks to. Every pointer must outlive the Reconciler; `metrics`,
// `executor` and `identities` may be null (no metrics, inline, the production source), and
// `events` may be empty.
struct ReconcilerDeps {
  kube::KubeClient* kube = nullptr;
  // The cached object for "ns/name", or nullopt when it does not exist.
  std::function<std::optional<nlohmann::json>(const std::string& key)> get_cluster;
  std::function<std::optional<nlohmann::json>(const std::string& key)> get_secret;
  // Every PyGridCluster the operator sees (the informer's cache): a deleted grid keeps the
  // security group it shares while another grid still needs it. Empty: only the instances
  // that reference a group keep it.
  std::function<std::vector<nlohmann::json>()> list_clusters;
  CloudAccounts* clouds = nullptr;
  // Prepared images for spec.preparedImage "auto" (null: never baked; creates use spec.image).
  const PreparedImages* bakery = nullptr;
  probe::Prober* prober = nullptr;
  EventSink events;
  observability::Metrics* metrics = nullptr;
  bootstrap::SshKeyPair operator_key;  // a secret: never logged
  const bootstrap::Templates* templates = nullptr;
  const Clock* clock = nullptr;
  Executor* executor = nullptr;
  IdentitySource* identities = nullptr;
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
  // The token this process last copied for cluster `uid` ("" if none).
  std::string CopiedToken(const std::string& uid);
  void SetCopiedToken(const std::string& uid, const std::string& token);
  // The gateway probe results of a ready grid, reused while its instances are unchanged.
  std::optional<ProbeObservation> CachedProbes(const std::string& key,
                                               const std::string& fingerprint,
                                               Clock::TimePoint now);
  void CacheProbes(const std::string& key, const std::string& fingerprint, Clock::TimePoint now,
                   const ProbeObservation& probes);
  // The resourceVersion of the object as this reconciler last wrote it ("" if never).
  std::string WrittenVersion(const std::string& key);
  void SetWrittenVersion(const std::string& key, const std::string& version);

  ReconcilerDeps deps_;
  ReconcilerOptions options_;
  InlineExecutor inline_executor_;
  std::unique_ptr<IdentitySource> own_identities_;
  kube::StatusWriter status_writer_;  // one for every round: conflict retry with a fresh read
  std::mutex mu_;
  std::map<std::string, std::map<std::pair<std::string, std::string>, int>> instance_counts_;
  std::map<std::string, std::string> written_versions_;
  std::map<std::string, std::string> copied_tokens_;  // uid -> token (secrets, memory only)
  struct ProbeCacheEntry {
    std::string fingerprint;
    Clock::TimePoint at;
    ProbeObservation probes;
  };
  std::map<std::string, ProbeCacheEntry> probes_;
};

}  // namespace pygrid::controller
