#include "sim_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sim_http.h"

namespace pygrid::sim::genesis {

SimProcess::SimProcess(std::vector<std::string> extra) {
  char tmpl[] = "/tmp/genesis-sim-test-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = tmpl;
  state_dir_ = dir_ + "/state";
  const std::string url_file = dir_ + "/url";
  std::vector<std::string> args = {std::string(PYGRID_BIN_DIR) + "/genesis-sim",
                                   "--port",
                                   "0",
                                   "--url-out",
                                   url_file,
                                   "--token",
                                   kTestToken,
                                   "--state-dir",
                                   state_dir_,
                                   "--loopback-net",
                                   "auto"};
  bool has_boot = false;
  for (const auto& a : extra) has_boot |= a == "--boot-seconds";
  if (!has_boot) {
    args.push_back("--boot-seconds");
    args.push_back("0");
  }
  args.insert(args.end(), extra.begin(), extra.end());
  pid_ = fork();
  if (pid_ == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream f(url_file);
    std::string url;
    if (f >> url && !url.empty()) {
      base_url_ = url;
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "genesis-sim exited early with status " + std::to_string(status);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling with a deadline
  }
  error_ = "genesis-sim did not write its URL within 20 s";
}

int SimProcess::Terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

SimProcess::~SimProcess() {
  Terminate();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string SimProcess::root_url() const {
  const std::string suffix = "/compute/v1";
  return base_url_.substr(0, base_url_.size() - suffix.size());
}

nlohmann::json SimProcess::Control(const std::string& method, const std::string& path,
                                   const nlohmann::json& body) const {
  SimClientResult r =
      SimHttpCall(method, root_url() + path, body.is_null() ? "" : body.dump(), 10000);
  if (r.status != 200) return nullptr;
  try {
    return nlohmann::json::parse(r.body);
  } catch (const std::exception&) {
    return nullptr;
  }
}

ApiResult Api(const SimProcess& sim, const std::string& method, const std::string& path,
              const nlohmann::json& body, const std::map<std::string, std::string>& headers) {
  std::map<std::string, std::string> h = headers;
  if (!body.is_null()) h["Content-Type"] = "application/json";
  SimClientResult r =
      SimHttpCall(method, sim.base_url() + path, body.is_null() ? "" : body.dump(), 10000, h);
  ApiResult out;
  out.status = r.status;
  out.raw = r.body;
  if (!r.body.empty()) {
    try {
      out.body = nlohmann::json::parse(r.body);
    } catch (const std::exception&) {
    }
  }
  return out;
}

std::string ImageIdBySlug(const SimProcess& sim, const std::string& slug) {
  ApiResult r = Api(sim, "GET", "/images?per_page=100");
  if (!r.body.is_object() || !r.body["images"].is_array()) return "";
  for (const nlohmann::json& im : r.body["images"]) {
    if (im.value("slug", nlohmann::json()) == slug) return im["id"];
  }
  return "";
}

nlohmann::json PollInstanceStatus(const SimProcess& sim, const std::string& id,
                                  const std::string& status, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  nlohmann::json last;
  while (std::chrono::steady_clock::now() < deadline) {
    ApiResult r = Api(sim, "GET", "/instances/" + id);
    if (status == "gone" && r.status == 404) return {{"status", "gone"}};
    if (r.status == 200) {
      last = r.body["instance"];
      if (last["status"] == status) return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));  // polling with a deadline
  }
  return last;
}

}  // namespace pygrid::sim::genesis
