// Instance emulation: what pygrid-start does (set-up waits, the deferred worker's wait for its
// address, re-joins), the PyGrid stand-ins of pygrid_standins.h, a node join exactly like the
// 0.2-era node (once at start, unchecked response, Docker restart on failure), the readiness
// marker and a real sshd per instance.
#include "emulation.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "cloud_config.h"
#include "pygrid_standins.h"
#include "sim_http.h"

namespace pygrid::sim::genesis {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr char kSshd[] = "/usr/sbin/sshd";

bool WriteFile(const fs::path& path, const std::string& content, mode_t mode) {
  std::ofstream f(path, std::ios::trunc);
  f << content;
  if (!content.empty() && content.back() != '\n') f << "\n";
  f.close();
  return f.good() && chmod(path.c_str(), mode) == 0;
}

// The delivered address file pygrid-start reads (cloud-init/README.md), relative to the root.
constexpr char kDelivered[] = "var/lib/pygrid/in/gateway.env";
constexpr char kMalformedDelivery[] =
    "the delivered gateway address in /var/lib/pygrid/in/gateway.env is malformed (expected one "
    "line GATEWAY_URL=http://<IPv4>:<port>)";
// How often the emulation looks at the inbox (pygrid-start polls every POLL_SECONDS).
constexpr double kInboxPollSeconds = 0.1;

// pygrid-start's check of a delivered address: http://<dotted quad>:<port>, nothing else.
bool IsDeliveredURL(const std::string& url) {
  static const std::regex form(
      "^http://((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
      "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]):([1-9][0-9]{0,4})$");
  std::smatch m;
  return std::regex_match(url, m, form) && std::stoi(m[4].str()) <= 65535;
}

}  // namespace

// One active instance: its stand-in servers, join threads and sshd.
class LoopbackEmulator::Running {
 public:
  Running(const EmulatorOptions& options, const EmulatedInstance& instance,
          std::shared_ptr<Registry> registry)
      : options_(options),
        instance_(instance),
        registry_(std::move(registry)),
        root_(fs::path(options.state_dir) / "instances" / instance.id) {}

  ~Running() { Stop(); }

  void Start() {
    std::error_code ec;
    fs::create_directories(root_ / "var/lib/pygrid", ec);
    fs::remove(root_ / "var/lib/pygrid/ready", ec);
    std::string error;
    if (!ParseUserData(instance_.startup_script, instance_.private_ip, &user_data_, &error)) {
      SetError(error);
      return;
    }
    if (user_data_.worker) {
      // pygrid-start gives the login user (the simulator's user here, whom sshd admits) an inbox
      // first thing, where the operator's delivery command writes the gateway address.
      fs::create_directories(root_ / "var/lib/pygrid/in", ec);
      chmod((root_ / "var/lib/pygrid/in").c_str(), 0700);
      fs::remove(root_ / "var/lib/pygrid/joined", ec);
    }
    // sshd answers while the user data still runs; the services start once the set-up the
    // simulator charged (scaled) is over, as `docker-compose up` comes last in pygrid-start.
    if (options_.start_sshd) StartSshd();
    if (instance_.setup_seconds <= 0 && instance_.pull_seconds <= 0 && instance_.wait_url.empty() &&
        !user_data_.worker) {
      StartServices();
      return;
    }
    SetSetupPhase("installing");
    setup_thread_ = std::thread([this] { RunStartScript(); });
  }

  // What pygrid-start does from the set-up on, then (a worker) what pygrid-rejoin does each
  // time the operator delivers another address.
  void RunStartScript() {
    if (!Pause(instance_.setup_seconds)) return;
    std::string gateway_url = user_data_.start_conf["GATEWAY_URL"];
    std::string delivered_content;
    if (user_data_.deferred) {
      SetSetupPhase("waiting-for-address");
      WriteFile(root_ / "var/lib/pygrid/waiting", "waiting for the gateway address", 0644);
      for (;;) {
        const bool present = ReadDelivered(&delivered_content, &gateway_url);
        if (present && gateway_url.empty()) return Fail(kMalformedDelivery);
        if (present) break;
        if (!Pause(kInboxPollSeconds)) return;
      }
      std::error_code ec;
      fs::remove(root_ / "var/lib/pygrid/waiting", ec);
      SetGatewayURL(gateway_url);
    } else if (user_data_.worker && ReadDelivered(&delivered_content, &gateway_url)) {
      // Delivered before the node started: the operator's newest word wins over start.conf.
      if (gateway_url.empty()) return Fail(kMalformedDelivery);
      SetGatewayURL(gateway_url);
    }
    std::string wait_url = instance_.wait_url;
    if (user_data_.worker && instance_.poll_seconds > 0) wait_url = gateway_url + "/";
    if (!wait_url.empty()) SetSetupPhase("waiting-for-gateway");
    while (!wait_url.empty()) {
      // curl -fsS --max-time 5 "$GATEWAY_URL/" in pygrid-start's wait_for.
      const int status = SimHttpCall("GET", wait_url, "", 5000).status;
      if (status >= 200 && status < 300) break;
      if (!Pause(instance_.poll_seconds)) return;
    }
    SetSetupPhase("pulling");
    if (!Pause(instance_.pull_seconds)) return;
    SetSetupPhase("done");
    if (user_data_.worker) {
      std::lock_guard<std::mutex> lock(mu_);
      joined_url_ = gateway_url;
      WriteFile(root_ / "var/lib/pygrid/joined", gateway_url, 0644);
    }
    StartServices();
    if (!user_data_.worker) return;
    // A gateway replacement: the operator delivers the new address (and, on a real instance,
    // runs pygrid-rejoin; its command leaves that to this emulation under
    // PYGRID_INSTANCE_ROOT).
    while (Pause(kInboxPollSeconds)) {
      std::string content, url;
      if (!ReadDelivered(&content, &url) || content == delivered_content) continue;
      delivered_content = content;
      if (url.empty()) {
        Fail(kMalformedDelivery);
      } else if (url != gateway_url) {
        gateway_url = url;
        Rejoin(url);
      }
    }
  }

  // Reads the delivered address file: false when there is none; otherwise its raw content and
  // the URL, which is empty when the file is malformed.
  bool ReadDelivered(std::string* content, std::string* url) {
    std::ifstream in(root_ / kDelivered);
    if (!in) return false;
    std::ostringstream text;
    text << in.rdbuf();
    *content = text.str();
    url->clear();
    std::string line = *content;
    if (!line.empty() && line.back() == '\n') line.pop_back();
    const std::string key = "GATEWAY_URL=";
    if (line.rfind(key, 0) == 0 && line.find('\n') == std::string::npos &&
        IsDeliveredURL(line.substr(key.size()))) {
      *url = line.substr(key.size());
    }
    return true;
  }

  // pygrid-start's fail(): the failed marker with the reason; nothing runs on.
  void Fail(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu_);
    std::error_code ec;
    fs::remove(root_ / "var/lib/pygrid/waiting", ec);
    fs::remove(root_ / "var/lib/pygrid/ready", ec);
    ready_ = false;
    WriteFile(root_ / "var/lib/pygrid/failed", reason, 0644);
    error_ = reason;
  }

  // .env's PYGRID_GATEWAY_URL: the value of every env key that interpolates it.
  void SetGatewayURL(const std::string& url) {
    std::lock_guard<std::mutex> lock(mu_);
    for (PyGridService& svc : user_data_.services) {
      for (const std::string& key : svc.gateway_url_keys) svc.env[key] = url;
    }
  }

  // pygrid-rejoin: markers gone, `docker-compose up -d` recreates the node with the new URL
  // (it joins once, at start-up), and the marker comes back once it serves.
  void Rejoin(const std::string& url) {
    std::vector<std::thread> old_threads;
    std::vector<std::unique_ptr<SimHttpServer>> closing;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      std::error_code ec;
      fs::remove(root_ / "var/lib/pygrid/ready", ec);
      fs::remove(root_ / "var/lib/pygrid/failed", ec);
      ready_ = false;
      joined_url_ = url;
      WriteFile(root_ / "var/lib/pygrid/joined", url, 0644);
      ++rejoins_;
      for (auto& svc : services_) {
        if (svc->spec.gateway_url_keys.empty()) continue;
        ++svc->generation;
        for (const std::string& key : svc->spec.gateway_url_keys) svc->spec.env[key] = url;
        for (auto& server : svc->servers) closing.push_back(std::move(server));
        svc->servers.clear();
        svc->serving = false;
        svc->state = "starting";
        if (svc->thread.joinable()) old_threads.push_back(std::move(svc->thread));
      }
    }
    cv_.notify_all();  // ends a node still retrying its join to the old gateway
    for (std::thread& t : old_threads) t.join();
    for (auto& server : closing) server->Stop();
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    for (auto& svc : services_) {
      if (svc->spec.gateway_url_keys.empty()) continue;
      Service& node = *svc;
      const int generation = node.generation;
      node.thread = std::thread([this, &node, generation] { RunNode(node, generation); });
    }
  }

  void SetSetupPhase(const char* phase) {
    std::lock_guard<std::mutex> lock(mu_);
    setup_phase_ = phase;
  }

  // Waits `seconds` unless the instance stops first (then false).
  bool Pause(double seconds) {
    std::unique_lock<std::mutex> lock(mu_);
    return !cv_.wait_for(lock, std::chrono::duration<double>(std::max(seconds, 0.0)),
                         [&] { return stopped_; });
  }

  void StartServices() {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    for (const PyGridService& svc : user_data_.services) {
      services_.push_back(std::make_unique<Service>());
      Service& s = *services_.back();
      s.spec = svc;
      if (svc.role == "gateway") {
        if (!Listen(s, [registry = registry_, flavor = svc.flavor](const SimRequest& r) {
              return GatewayHandler(flavor, *registry, r);
            })) {
          continue;
        }
        s.serving = true;
      } else if (svc.role == "node") {
        s.thread = std::thread([this, &s] { RunNode(s, 0); });
      }
    }
    CheckReadyLocked();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    if (setup_thread_.joinable()) setup_thread_.join();
    for (auto& s : services_) {
      if (s->thread.joinable()) s->thread.join();
    }
    for (auto& s : services_) {
      for (auto& server : s->servers) server->Stop();
    }
    if (sshd_pid_ > 0) {
      kill(sshd_pid_, SIGTERM);
      waitpid(sshd_pid_, nullptr, 0);
      sshd_pid_ = -1;
    }
    std::error_code ec;
    fs::remove(root_ / "var/lib/pygrid/ready", ec);  // its services are down now
    fs::remove(root_ / "var/lib/pygrid/waiting", ec);
  }

  // The node containers die: their ports close; nothing restarts them (a container that
  // exits with a restart policy would come back, one killed by the OOM killer in a loop or a
  // crashed app inside a live container would not: this models the latter).
  bool KillNodes() {
    std::vector<std::unique_ptr<SimHttpServer>> closing;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& s : services_) {
        if (s->spec.role != "node" || !s->serving) continue;
        for (auto& server : s->servers) closing.push_back(std::move(server));
        s->servers.clear();
        s->serving = false;
        s->state = "exited";
        s->error = "killed through /_sim/instances/{id}/kill-node";
      }
    }
    for (auto& server : closing) server->Stop();
    return !closing.empty();
  }

  json Describe() {
    std::lock_guard<std::mutex> lock(mu_);
    json services = json::array();
    for (const auto& s : services_) {
      json node_id = nullptr;
      if (s->spec.role == "node") node_id = NodeId(s->spec);
      services.push_back({{"name", s->spec.name},
                          {"role", s->spec.role},
                          {"flavor", s->spec.flavor},
                          {"port", s->spec.host_port},
                          {"serving", s->serving},
                          {"node_id", node_id},
                          {"join_url", s->join_url},
                          {"join_attempts", s->join_attempts},
                          {"join_status", s->join_status},
                          {"state", s->state},
                          {"error", s->error}});
    }
    return {{"root", root_.string()},
            {"ready", ready_},
            {"setup", setup_phase_},
            {"rejoins", rejoins_},
            {"error", error_},
            {"services", services},
            {"sshd", sshd_pid_ > 0 ? json{{"pid", sshd_pid_},
                                          {"address", instance_.public_ip},
                                          {"port", options_.ssh_port},
                                          {"user", options_.ssh_user}}
                                   : json(nullptr)}};
  }

 private:
  struct Service {
    PyGridService spec;
    std::vector<std::unique_ptr<SimHttpServer>> servers;
    std::thread thread;
    bool serving = false;
    std::string state = "starting";
    std::string join_url;
    int join_attempts = 0;
    int join_status = 0;
    std::string error;
    int generation = 0;  // bumped by a re-join: an older join loop ends
  };

  static std::string NodeId(const PyGridService& s) {
    auto get = [&](const char* k) {
      auto it = s.env.find(k);
      return it == s.env.end() ? std::string() : it->second;
    };
    return s.flavor == "gateway-2020" ? get("ID") : get("NODE_ID");
  }

  void SetError(const std::string& e) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = e;
  }

  // Binds the service's host port on the public and the private address (mu_ held).
  bool Listen(Service& s, SimHandler handler) {
    if (s.spec.host_port <= 0) {
      s.error = "no HOST:CONTAINER port mapping";
      s.state = "failed";
      return false;
    }
    for (const std::string& ip : {instance_.public_ip, instance_.private_ip}) {
      auto server =
          std::make_unique<SimHttpServer>(ip, static_cast<uint16_t>(s.spec.host_port), handler);
      std::string error;
      if (!server->Start(&error)) {
        s.error = error;
        s.state = "failed";
        return false;
      }
      s.servers.push_back(std::move(server));
    }
    s.state = "running";
    return true;
  }

  // The 0.2-era node: one join before the app starts; a failed join kills the process and
  // only a restart policy brings it back (pygrid.md §5).
  // `generation`: the re-join this run belongs to (0: the first start).
  void RunNode(Service& s, int generation) {
    PyGridService spec;
    {
      std::lock_guard<std::mutex> lock(mu_);  // a re-join rewrites the env
      spec = s.spec;
    }
    const bool old = spec.flavor == "gateway-2020";
    auto env = [&](const char* k) {
      auto it = spec.env.find(k);
      return it == spec.env.end() ? std::string() : it->second;
    };
    const std::string network = old ? env("GRID_NETWORK_URL") : env("NETWORK");
    const std::string address = env("ADDRESS");
    const std::string id = NodeId(spec);
    const bool restarts = spec.restart == "always" || spec.restart == "unless-stopped" ||
                          spec.restart.rfind("on-failure", 0) == 0;
    if (!network.empty() && !address.empty()) {
      // os.path.join(network, "join")
      const std::string url = network + (network.back() == '/' ? "" : "/") + "join";
      const std::string body = json{{"node-id", id}, {"node-address", address}}.dump();
      for (;;) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (stopped_ || s.generation != generation) return;
          s.join_url = url;
          ++s.join_attempts;
        }
        SimClientResult r = SimHttpCall("POST", url, body, 3000);
        std::unique_lock<std::mutex> lock(mu_);
        s.join_status = r.status;
        if (r.status != 0) break;  // any answer: the response is not checked
        s.error = "join failed: " + r.error;
        if (!restarts) {
          s.state = "exited";
          return;
        }
        s.state = "restarting";
        if (cv_.wait_for(lock, std::chrono::duration<double>(options_.join_retry_seconds),
                         [&] { return stopped_ || s.generation != generation; })) {
          return;
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_ || s.generation != generation) return;
    if (Listen(s, [id](const SimRequest& r) { return NodeHandler(id, r); })) {
      s.serving = true;
      s.error.clear();
    }
    CheckReadyLocked();
  }

  // The start script writes the marker only once every local service answers (contract).
  void CheckReadyLocked() {
    if (ready_ || stopped_ || services_.empty()) return;
    // Like pygrid-start's superseded(): a worker whose inbox already holds another address
    // marks nothing; the re-join it is about to get does.
    std::string content, delivered;
    if (user_data_.worker && ReadDelivered(&content, &delivered) && delivered != joined_url_) {
      return;
    }
    for (const auto& s : services_) {
      if (!s->serving) return;
    }
    ready_ = WriteFile(root_ / "var/lib/pygrid/ready", "ready", 0644);
  }

  void StartSshd() {
    if (access(kSshd, X_OK) != 0 || user_data_.host_key_private.empty()) return;
    if (getuid() == 0) {
      std::error_code ec;
      fs::create_directories("/run/sshd", ec);  // privilege separation directory
    }
    const fs::path key = root_ / "ssh_host_ed25519_key";
    std::string keys;
    for (const std::string& k : user_data_.authorized_keys) keys += k + "\n";
    const std::string config =
        "Port " + std::to_string(options_.ssh_port) + "\nListenAddress " + instance_.public_ip +
        "\nHostKey " + key.string() + "\nAuthorizedKeysFile " +
        (root_ / "authorized_keys").string() + "\nPidFile " + (root_ / "sshd.pid").string() +
        "\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\nAllowUsers " +
        options_.ssh_user + "\nSetEnv PYGRID_INSTANCE_ROOT=" + root_.string() +
        // SHLVL=1 keeps login shells of the machine's user (bash rc files that start e.g.
        // pyenv) from adding seconds to every probe; real instances need no such thing.
        " SHLVL=1\n";
    if (!WriteFile(key, user_data_.host_key_private, 0600) ||
        !WriteFile(root_ / "ssh_host_ed25519_key.pub", user_data_.host_key_public, 0644) ||
        !WriteFile(root_ / "authorized_keys", keys, 0644) ||
        !WriteFile(root_ / "sshd_config", config, 0644)) {
      SetError("cannot write sshd files");
      return;
    }
    const std::string config_path = (root_ / "sshd_config").string();
    const std::string log_path = (root_ / "sshd.log").string();
    pid_t pid = fork();
    if (pid == 0) {
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      FILE* log = std::fopen(log_path.c_str(), "a");
      if (log != nullptr) dup2(fileno(log), 2);
      // Do not leak the simulator's listening sockets into sshd.
      for (int fd = 3; fd < 4096; ++fd) close(fd);
      execl(kSshd, kSshd, "-D", "-e", "-f", config_path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid > 0) sshd_pid_ = pid;
  }

  const EmulatorOptions options_;
  const EmulatedInstance instance_;
  std::shared_ptr<Registry> registry_;
  const fs::path root_;
  UserData user_data_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool ready_ = false;
  // installing, waiting-for-address (a deferred worker), waiting-for-gateway, pulling (the
  // charged set-up, scaled), done
  std::string setup_phase_ = "done";
  int rejoins_ = 0;         // re-joins after a re-delivered address
  std::string joined_url_;  // what /var/lib/pygrid/joined says: the URL the node joins
  std::thread setup_thread_;
  std::string error_;
  std::vector<std::unique_ptr<Service>> services_;
  pid_t sshd_pid_ = -1;
};

LoopbackEmulator::LoopbackEmulator(EmulatorOptions options) : options_(std::move(options)) {}

LoopbackEmulator::~LoopbackEmulator() {
  std::map<std::string, std::shared_ptr<Running>> running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running.swap(running_);
  }
  for (auto& [id, r] : running) r->Stop();
}

void LoopbackEmulator::OnActive(const EmulatedInstance& instance) {
  OnInactive(instance.id);
  std::shared_ptr<Registry> registry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Registrations live in the gateway's database volume and survive a stop/start.
    auto& slot = registries_[instance.id];
    if (!slot) slot = std::make_shared<Registry>();
    registry = std::static_pointer_cast<Registry>(slot);
  }
  auto running = std::make_shared<Running>(options_, instance, registry);
  running->Start();
  std::lock_guard<std::mutex> lock(mu_);
  running_[instance.id] = running;
}

void LoopbackEmulator::OnInactive(const std::string& id) {
  std::shared_ptr<Running> running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(id);
    if (it == running_.end()) return;
    running = it->second;
    running_.erase(it);
  }
  running->Stop();
}

bool LoopbackEmulator::KillNodes(const std::string& id) {
  std::shared_ptr<Running> running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(id);
    if (it == running_.end()) return false;
    running = it->second;
  }
  return running->KillNodes();
}

json LoopbackEmulator::Describe(const std::string& id) {
  std::shared_ptr<Running> running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(id);
    if (it != running_.end()) running = it->second;
  }
  if (!running) return {{"state", "stopped"}};
  json j = running->Describe();
  j["state"] = "running";
  return j;
}

}  // namespace pygrid::sim::genesis
