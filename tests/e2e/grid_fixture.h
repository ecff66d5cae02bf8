// The end-to-end environment: the real kube-sim and genesis-sim binaries (with a real sshd per
// emulated instance), the real pygrid-operator binary, and the real kubectl, all on loopback
// in a temporary directory. Tests drive it the way a user would.
//
//   Grid grid;
//   grid.InstallCrdAndSecret();
//   grid.StartOperator();
//   grid.Apply(ClusterYaml("mnist", 2));
//   ASSERT_TRUE(grid.WaitForCondition("mnist", "Ready", "True", std::chrono::seconds(90)));
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/child_process.h"
#include "testing/process.h"

namespace pygrid::e2e {

inline constexpr char kGenesisToken[] = "e2e-genesis-token-5f1c9a77";

struct GridOptions {
  double boot_seconds = 1.0;
  bool sshd = true;      // a real sshd per instance (benchmarks with many instances turn it off)
  bool kube_sim = true;  // the standalone commands' tests need no Kubernetes API
};

class Grid {
 public:
  explicit Grid(GridOptions options = {});
  ~Grid();

  // Applies the project's CRD, waits until it is established, and creates the credentials
  // Secret `genesis-credentials` with kGenesisToken (skipped when `secret` is false).
  void InstallCrdAndSecret(bool secret = true);
  void CreateSecret(const std::string& name = "genesis-credentials");

  // Starts (another) operator; returns its index. Logs go to operator-<i>.log.
  int StartOperator(const std::vector<std::string>& extra_args = {});
  void KillOperator(int index);  // SIGKILL, like a crash
  void StopOperator(int index);  // SIGTERM, graceful
  bool OperatorRunning(int index);
  int OperatorPid(int index) const;
  std::string OperatorLog(int index) const;
  std::string AllOperatorLogs() const;

  // kubectl with this environment's kubeconfig.
  testing::CommandResult Kubectl(const std::string& args) const;
  // kubectl apply -f of `yaml`.
  testing::CommandResult Apply(const std::string& yaml) const;
  // The PyGridCluster as JSON, or null when it does not exist.
  nlohmann::json Cluster(const std::string& name) const;
  // The cluster's condition `type` ({type, status, reason, message, ...}), or an empty object
  // when the cluster or the condition does not exist.
  nlohmann::json Condition(const std::string& name, const std::string& type) const;
  // True when an Event with this reason exists (kubectl get events --field-selector).
  bool HasEvent(const std::string& reason) const;
  // True once the cluster's condition `type` has `status` (polls; no sleeps as sync).
  bool WaitForCondition(const std::string& name, const std::string& type, const std::string& status,
                        std::chrono::seconds timeout) const;

  // The simulator's control API (curl), and its view of the account's instances.
  nlohmann::json SimGet(const std::string& path) const;
  nlohmann::json SimPost(const std::string& path, const nlohmann::json& body) const;
  void SimDelete(const std::string& path) const;
  // The simulator's log of API requests ({method, path, query, status, time}), oldest first.
  std::vector<nlohmann::json> Requests() const;
  // How many logged requests had this method and path.
  int CountRequests(const std::string& method, const std::string& path) const;
  // Instances not yet gone (GET /_sim/instances).
  std::vector<nlohmann::json> Instances() const;
  // GET of a URL (e.g. the endpoint) through curl; "" on failure.
  std::string HttpGet(const std::string& url) const;

  // kube-sim's base URL (https://127.0.0.1:PORT, from its kubeconfig) and a POST of `body` to
  // its control API (/_sim/...); the HTTP status.
  std::string KubeSimUrl() const;
  int KubeSimPost(const std::string& path, const nlohmann::json& body) const;

  // The port and login user of the emulated instances' sshd (for the operator's SSH probe).
  int ssh_port() const { return ssh_port_; }
  static std::string SshUser();

  // testing::Eventually polling every 100 ms until `condition` holds or `timeout` passes.
  static bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

  const std::string& dir() const { return dir_.path(); }
  const std::string& genesis_url() const { return genesis_url_; }
  const std::string& kubeconfig() const { return kubeconfig_; }

 private:
  std::string Bin(const std::string& name) const;

  testing::TempDir dir_;
  std::string kubeconfig_;
  std::string genesis_url_;
  std::string sim_base_;  // http://host:port
  int ssh_port_ = 0;
  std::unique_ptr<testing::ChildProcess> kube_sim_;
  std::unique_ptr<testing::ChildProcess> genesis_sim_;
  std::vector<std::unique_ptr<testing::ChildProcess>> operators_;
};

// The cluster's .status, or an empty object before the operator wrote one.
nlohmann::json StatusOf(const nlohmann::json& cluster);

// A PyGridCluster manifest for the e2e tests; spec.preparedImage is none unless `extra_spec`
// sets it (the bake's own tests do).
std::string ClusterYaml(const std::string& name, int replicas, const std::string& extra_spec = "");

}  // namespace pygrid::e2e
