#include "e2e/grid_fixture.h"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "testing/net.h"
#include "testing/wait.h"

namespace pygrid::e2e {

using nlohmann::json;
using testing::CommandResult;
using testing::RunCommand;
using testing::ShellQuote;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string CurrentUser() {
  const passwd* entry = getpwuid(getuid());
  return entry != nullptr ? entry->pw_name : "root";
}

}  // namespace

bool Grid::WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  return testing::Eventually(condition, timeout, std::chrono::milliseconds(100));
}

std::string Grid::SshUser() { return CurrentUser(); }

std::string Grid::Bin(const std::string& name) const {
  return std::string(PYGRID_BIN_DIR) + "/" + name;
}

Grid::Grid(GridOptions options) {
  kubeconfig_ = dir_.path() + "/kubeconfig";
  if (options.kube_sim) {
    kube_sim_ = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{Bin("kube-sim"), "--port", "0", "--kubeconfig-out", kubeconfig_},
        dir_.path() + "/kube-sim.log", false);
  }
  const std::string url_file = dir_.path() + "/genesis-url";
  ssh_port_ = testing::FreeLoopbackPort();
  std::vector<std::string> genesis_argv = {Bin("genesis-sim"),
                                           "--port",
                                           "0",
                                           "--url-out",
                                           url_file,
                                           "--token",
                                           kGenesisToken,
                                           "--boot-seconds",
                                           std::to_string(options.boot_seconds),
                                           "--seed",
                                           "7",
                                           "--loopback-net",
                                           "auto",
                                           "--ssh-port",
                                           std::to_string(ssh_port_),
                                           "--ssh-user",
                                           CurrentUser(),
                                           "--security-group-seconds",
                                           "0.2",
                                           "--state-dir",
                                           dir_.path() + "/instances"};
  if (!options.sshd) genesis_argv.push_back("--no-sshd");
  genesis_sim_ = std::make_unique<testing::ChildProcess>(genesis_argv,
                                                         dir_.path() + "/genesis-sim.log", false);
  if (!WaitUntil(
          [&] {
            return (!options.kube_sim || std::filesystem::exists(kubeconfig_)) &&
                   std::filesystem::exists(url_file);
          },
          std::chrono::seconds(30))) {
    throw std::runtime_error("the simulators did not start; see " + dir_.path());
  }
  genesis_url_ = ReadFile(url_file);
  while (!genesis_url_.empty() && std::isspace(static_cast<unsigned char>(genesis_url_.back()))) {
    genesis_url_.pop_back();
  }
  sim_base_ = genesis_url_.substr(0, genesis_url_.find("/compute/v1"));
}

Grid::~Grid() {
  for (auto& op : operators_) {
    if (op) op->Terminate();
  }
  genesis_sim_.reset();
  kube_sim_.reset();
}

CommandResult Grid::Kubectl(const std::string& args) const {
  return RunCommand("KUBECONFIG=" + ShellQuote(kubeconfig_) + " kubectl " + args);
}

CommandResult Grid::Apply(const std::string& yaml) const {
  static int counter = 0;
  const std::string file = dir_.Write("apply-" + std::to_string(++counter) + ".yaml", yaml);
  return Kubectl("apply -f " + ShellQuote(file));
}

void Grid::InstallCrdAndSecret(bool secret) {
  CommandResult crd =
      Kubectl("apply -f " + ShellQuote(std::string(PYGRID_SOURCE_DIR) +
                                       "/crds/pygridclusters.distributor.pygrid.dev.yaml"));
  if (crd.exit_code != 0) throw std::runtime_error("CRD apply failed: " + crd.output);
  CommandResult established = Kubectl(
      "wait --for condition=established --timeout=30s crd/pygridclusters.distributor.pygrid.dev");
  if (established.exit_code != 0)
    throw std::runtime_error("CRD not established: " + established.output);
  if (secret) CreateSecret();
}

void Grid::CreateSecret(const std::string& name) {
  CommandResult created =
      Kubectl("create secret generic " + name + " --from-literal=token=" + kGenesisToken);
  if (created.exit_code != 0) throw std::runtime_error("secret create failed: " + created.output);
}

int Grid::StartOperator(const std::vector<std::string>& extra_args) {
  const int index = static_cast<int>(operators_.size());
  std::vector<std::string> argv = {Bin("pygrid-operator"),
                                   "--kubeconfig=" + kubeconfig_,
                                   "--genesis-api-url=" + genesis_url_,
                                   "--metrics-bind-address=127.0.0.1:0",
                                   "--health-probe-bind-address=127.0.0.1:0",
                                   "--poll-interval=1s",
                                   "--resync-interval=5s",
                                   "--ssh-port=" + std::to_string(ssh_port_),
                                   "--ssh-user=" + CurrentUser(),
                                   "--operator-namespace=default",
                                   "--log-level=debug"};
  // An extra "--flag=value" replaces the default for that flag.
  for (const std::string& extra : extra_args) {
    const std::string flag = extra.substr(0, extra.find('=') + 1);
    if (flag.size() > 1 && flag.back() == '=') {
      argv.erase(std::remove_if(argv.begin() + 1, argv.end(),
                                [&](const std::string& arg) { return arg.rfind(flag, 0) == 0; }),
                 argv.end());
    }
    argv.push_back(extra);
  }
  operators_.push_back(std::make_unique<testing::ChildProcess>(
      argv, dir_.path() + "/operator-" + std::to_string(index) + ".log", false));
  return index;
}

void Grid::KillOperator(int index) { operators_.at(index)->Kill(); }
void Grid::StopOperator(int index) { operators_.at(index)->Terminate(); }
bool Grid::OperatorRunning(int index) { return operators_.at(index)->Running(); }
int Grid::OperatorPid(int index) const { return operators_.at(index)->pid(); }

std::string Grid::OperatorLog(int index) const {
  return ReadFile(dir_.path() + "/operator-" + std::to_string(index) + ".log");
}

std::string Grid::AllOperatorLogs() const {
  std::string all;
  for (size_t i = 0; i < operators_.size(); ++i) all += OperatorLog(static_cast<int>(i));
  return all;
}

json Grid::Cluster(const std::string& name) const {
  CommandResult got = Kubectl("get pgc " + name + " -o json");
  if (got.exit_code != 0) return nullptr;
  try {
    return json::parse(got.output);
  } catch (const json::exception&) {
    return nullptr;
  }
}

json Grid::Condition(const std::string& name, const std::string& type) const {
  const json cluster = Cluster(name);
  if (cluster.is_null()) return json::object();
  for (const json& condition : StatusOf(cluster).value("conditions", json::array())) {
    if (condition.value("type", "") == type) return condition;
  }
  return json::object();
}

bool Grid::HasEvent(const std::string& reason) const {
  return !Kubectl("get events --field-selector reason=" + reason + " -o name").output.empty();
}

bool Grid::WaitForCondition(const std::string& name, const std::string& type,
                            const std::string& status, std::chrono::seconds timeout) const {
  return WaitUntil([&] { return Condition(name, type).value("status", "") == status; }, timeout);
}

json Grid::SimGet(const std::string& path) const {
  CommandResult got = RunCommand("curl -fsS --max-time 10 " + ShellQuote(sim_base_ + path));
  if (got.exit_code != 0) return nullptr;
  return json::parse(got.output, nullptr, false);
}

json Grid::SimPost(const std::string& path, const json& body) const {
  CommandResult got =
      RunCommand("curl -fsS --max-time 10 -X POST -H 'Content-Type: application/json' -d " +
                 ShellQuote(body.dump()) + " " + ShellQuote(sim_base_ + path));
  if (got.exit_code != 0) return nullptr;
  return json::parse(got.output, nullptr, false);
}

void Grid::SimDelete(const std::string& path) const {
  RunCommand("curl -fsS --max-time 10 -X DELETE " + ShellQuote(sim_base_ + path));
}

std::vector<json> Grid::Requests() const {
  json log = SimGet("/_sim/requests");
  const json& list = log.is_object() ? log.value("requests", json::array()) : log;
  return list.is_array() ? list.get<std::vector<json>>() : std::vector<json>{};
}

int Grid::CountRequests(const std::string& method, const std::string& path) const {
  int count = 0;
  for (const json& request : Requests()) {
    count += request.value("method", "") == method && request.value("path", "") == path;
  }
  return count;
}

std::string Grid::KubeSimUrl() const {
  const std::string text = ReadFile(kubeconfig_);
  std::smatch match;
  return std::regex_search(text, match, std::regex("server: (https://[0-9.:]+)")) ? match[1].str()
                                                                                  : "";
}

int Grid::KubeSimPost(const std::string& path, const json& body) const {
  return std::atoi(RunCommand("curl -sk -o /dev/null -w '%{http_code}' -X POST -d " +
                              ShellQuote(body.dump()) + " " + KubeSimUrl() + path)
                       .output.c_str());
}

std::vector<json> Grid::Instances() const {
  std::vector<json> out;
  json all = SimGet("/_sim/instances");
  const json& list = all.is_object() ? all.value("instances", json::array()) : all;
  if (!list.is_array()) return out;
  for (const json& instance : list) out.push_back(instance);
  return out;
}

std::string Grid::HttpGet(const std::string& url) const {
  CommandResult got = RunCommand("curl -fsS --max-time 5 " + ShellQuote(url));
  return got.exit_code == 0 ? got.output : "";
}

json StatusOf(const json& cluster) {
  if (cluster.is_object() && cluster.contains("status") && cluster["status"].is_object())
    return cluster["status"];
  return json::object();
}

std::string ClusterYaml(const std::string& name, int replicas, const std::string& extra_spec) {
  return "apiVersion: distributor.pygrid.dev/v1alpha1\n"
         "kind: PyGridCluster\n"
         "metadata:\n"
         "  name: " +
         name +
         "\n"
         "  namespace: default\n"
         "spec:\n"
         "  credentialsSecretRef: {name: genesis-credentials}\n"
         "  gpu: {driver: none}\n"
         "  gateway: {instanceType: vcpu-4_memory-8g_disk-80g}\n"
         "  workers: {replicas: " +
         std::to_string(replicas) +
         ", instanceType: vcpu-4_memory-8g_disk-80g}\n"
         "  network: {allowedSourceCIDRs: [127.0.0.0/8]}\n" +
         // No bake unless a test asks for one: a builder is one more instance in the account,
         // which tests that expect an exact set of instances would see for a second or two.
         (extra_spec.find("preparedImage:") == std::string::npos ? "  preparedImage: none\n" : "") +
         extra_spec;
}

}  // namespace pygrid::e2e
