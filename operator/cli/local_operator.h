// Provides LocalOperator: the in-cluster operator's reconcile core, unchanged
// (controller::Reconciler over CloudAccounts on the Genesis Cloud client, the prober and the
// cloud-init templates), wired to a kube::FileKubeClient instead of a Kubernetes API server and
// driven by one thread in the foreground (no informers, workqueue or controller threads):
//
//   LocalOperator op(options, store, token, operator_key);
//   op.ProvideCredentials(cluster_object);                 // the token as its Secret, in memory
//   DriveOutcome done = Drive(op, store, "default/mnist", Goal::kReady, timeout, stop, view);
//
// Drive honours each ReconcileResult's requeue delay (errors back off exponentially, as the
// workqueue does) and shows progress after every round. The token lives in memory only: as the
// Secret the cluster's credentialsSecretRef names and as the reconciler's copy in its
// namespace, both of which FileKubeClient never writes.
//
// Thread-safety: one thread drives; the reconciler fans cloud calls out on its own executor.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bootstrap/ssh_keys.h"
#include "bootstrap/templates.h"
#include "cli/grid_progress.h"
#include "controller/cloud_accounts.h"
#include "controller/reconciler.h"
#include "core/executor.h"
#include "kube/file_client.h"
#include "probe/prober.h"

namespace pygrid::cli {

struct LocalOperatorOptions {
  std::string genesis_api_url = "https://api.genesiscloud.com/compute/v1";
  double genesis_requests_per_second = 10;
  std::chrono::milliseconds genesis_request_timeout{30000};
  std::chrono::milliseconds poll_interval{5000};
  std::chrono::milliseconds resync_interval{60000};
  int ssh_port = 22;
  std::string ssh_user = bootstrap::kLoginUser;
  const bootstrap::Templates* templates = nullptr;  // null: the built-in templates
};

class LocalOperator {
 public:
  // `store` must outlive the operator; `token` and `operator_key` are secrets (never logged).
  LocalOperator(const LocalOperatorOptions& options, kube::FileKubeClient& store, std::string token,
                bootstrap::SshKeyPair operator_key);
  ~LocalOperator();

  // Creates, in memory only, the Secret that `cluster`'s credentialsSecretRef names, holding
  // the token.
  Status ProvideCredentials(const nlohmann::json& cluster);
  // One reconcile of "namespace/name".
  kube::ReconcileResult Reconcile(const std::string& key);
  // The account's instances whose names start with `prefix` (the list the reconciler shares).
  StatusOr<std::vector<cloud::Instance>> InstancesWithPrefix(const std::string& prefix);
  // Every instance of the account.
  StatusOr<std::vector<cloud::Instance>> AllInstances();
  // The security group named `name`, in any region.
  StatusOr<cloud::SecurityGroup> FindSecurityGroup(const std::string& name);
  // Resolves the image once, so no look-up sits between a recorded intent and its create.
  Status WarmUp(const api::ClusterSpec& spec);
  probe::Prober& prober() { return *prober_; }
  kube::FileKubeClient& store() { return store_; }
  // Events the reconciler emitted since the last call, for people ("Warning InstanceLost: ...").
  std::vector<std::string> TakeEvents();

 private:
  kube::FileKubeClient& store_;
  const std::string token_;
  std::unique_ptr<controller::CloudAccounts> clouds_;
  probe::ProberPtr prober_;
  BoundedExecutor executor_{8};
  std::mutex events_mu_;
  std::vector<std::string> events_;
  std::unique_ptr<controller::Reconciler> reconciler_;
};

// What Drive waits for.
enum class Goal {
  kReady,      // Ready=True and not rolling out (UpToDate not False) for the current generation
  kSuspended,  // Suspended=True (every instance stopped) for the current generation
  kGone,       // the object is gone (deletion finished)
  kOneRound,   // one reconcile round (--detach); a new grid's first waits for its group
};

struct DriveOutcome {
  enum class Kind { kReached, kTimedOut, kInterrupted, kStalled };
  Kind kind = Kind::kReached;
  std::string message;  // why it stalled or timed out, for people
};

// Reconciles `key` until `goal`, `timeout`, `stop` (Ctrl-C), or a condition that cannot change
// while this process runs (the token rejected or malformed, an invalid spec). `show` is called
// after every round to update `view`.
DriveOutcome Drive(LocalOperator& op, const std::string& key, Goal goal,
                   std::chrono::milliseconds timeout, const std::atomic<bool>& stop,
                   ProgressView& view, const std::function<void()>& show);

// The stored PyGridCluster "namespace/name" and its parsed status (empty status when none).
std::optional<nlohmann::json> StoredGrid(kube::FileKubeClient& store, const std::string& key);
api::ClusterStatus StatusOfGrid(const nlohmann::json& object);

}  // namespace pygrid::cli
