// Provides RunManager: the operator process. Loads the Kubernetes config, makes sure the
// operator's SSH identity exists, serves /metrics (HTTPS behind TokenReview and
// SubjectAccessReview by default, as kubebuilder v4 projects do) and /healthz /readyz, runs the
// informers (PyGridClusters and Secrets), campaigns for the lease when asked, runs the controller
// while leading, and shuts down gracefully (stop taking work, finish in-flight reconciles, release
// the lease) when `stop` is set.
//
//   ManagerOptions options = ParseFlags(argc, argv);
//   std::atomic<bool> stop{false};
//   return RunManager(options, stop);
//
// Thread-safety: call once per process.
#pragma once

#include <atomic>
#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "bootstrap/user_data.h"

namespace pygrid::cli {

struct ManagerOptions {
  std::string kubeconfig;
  std::string watch_namespace;                 // "" = every namespace
  std::string metrics_bind_address = ":8443";  // ":8080" is the usual plain-HTTP one
  // HTTPS, every scrape authenticated (TokenReview) and authorized (SubjectAccessReview).
  bool metrics_secure = true;
  std::string metrics_cert_dir;  // tls.crt + tls.key; "" = self-signed, generated at start
  bool enable_http2 = false;     // accepted for kubebuilder compatibility; HTTP/1.1 only
  std::string health_probe_bind_address = ":8081";
  bool leader_elect = false;
  std::string leader_election_namespace;  // "" = the operator's namespace
  std::string leader_election_id = "pygrid-operator-leader";
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  int max_concurrent_reconciles = 4;
  // Client-side limit on Kubernetes API requests (<= 0: none, controller-runtime's default). A
  // mass create costs about 5 requests per cluster, so 20/s (the old default) bounded it below
  // the Genesis API's 10 creates/s; 100/200 as KubeRay's chart (kubeClient.qps/burst). Events go
  // through a client of their own with the same limit, as controller-runtime's recorder does.
  double kube_api_qps = 100;
  int kube_api_burst = 200;
  std::string genesis_api_url = "https://api.genesiscloud.com/compute/v1";
  double genesis_requests_per_second = 10;
  std::chrono::milliseconds genesis_request_timeout{30000};
  std::chrono::milliseconds poll_interval{10000};
  std::chrono::milliseconds resync_interval{60000};
  int ssh_port = 22;
  std::string ssh_user = bootstrap::kLoginUser;
  std::string ssh_key_secret = "pygrid-operator-ssh";
  std::string operator_namespace = "pygrid-system";  // $POD_NAMESPACE when set
  std::string templates_dir;                         // "" = the built-in templates
  std::string orphan_instances = "report";           // report | delete
  std::chrono::milliseconds orphan_grace_period{3600000};
  // How long SSH may fail to reach a worker waiting for its gateway's address before its grid
  // falls back to workers configured by user data.
  std::chrono::milliseconds address_delivery_grace{300000};
  std::string pod_name;  // $POD_NAME, for events
  // Prepared images (spec.preparedImage auto): a baked snapshot no grid wants is deleted after
  // this long; a builder that has not finished after bake_timeout is a failed bake.
  std::chrono::milliseconds prepared_image_retention{7LL * 24 * 3600 * 1000};
  std::chrono::milliseconds bake_timeout{3600000};
};

// True when an update of a PyGridCluster needs a reconcile: its spec generation, deletion
// timestamp or finalizers changed. Status-only updates (the operator's own writes) do not.
bool NeedsReconcile(const nlohmann::json& before, const nlohmann::json& after);

// Runs until `stop` becomes true or leadership is lost; returns the process exit code.
int RunManager(const ManagerOptions& options, std::atomic<bool>& stop);

}  // namespace pygrid::cli
