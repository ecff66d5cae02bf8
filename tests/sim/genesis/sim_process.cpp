#include "sim_process.h"

#include <chrono>
#include <fstream>
#include <iterator>

#include "sim_http.h"
#include "testing/wait.h"

namespace pygrid::sim::genesis {

SimProcess::SimProcess(std::vector<std::string> extra) {
  state_dir_ = dir_.path() + "/state";
  const std::string url_file = dir_.path() + "/url";
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
  const std::string log = dir_.path() + "/genesis-sim.log";
  process_ = std::make_unique<testing::ChildProcess>(args, log, /*pipe_stdout=*/false);
  if (!process_->started()) {
    error_ = "cannot start " + args[0];
    return;
  }
  bool exited = false;
  testing::Eventually(
      [&] {
        std::ifstream f(url_file);
        std::string url;
        if (f >> url && !url.empty()) base_url_ = url;
        exited = base_url_.empty() && !process_->Running();
        return !base_url_.empty() || exited;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(20));
  if (exited) {
    std::ifstream f(log);
    const std::string output((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    error_ = "genesis-sim exited early with status " + std::to_string(process_->exit_status()) +
             ": " + output;
  } else if (base_url_.empty()) {
    error_ = "genesis-sim did not write its URL within 20 s";
  }
}

int SimProcess::Terminate() { return process_ != nullptr ? process_->Terminate() : -1; }

SimProcess::~SimProcess() { Terminate(); }

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
  nlohmann::json last;
  testing::Eventually(
      [&] {
        ApiResult r = Api(sim, "GET", "/instances/" + id);
        if (status == "gone" && r.status == 404) {
          last = {{"status", "gone"}};
          return true;
        }
        if (r.status == 200) last = r.body["instance"];
        return r.status == 200 && last["status"] == status;
      },
      std::chrono::seconds(seconds), std::chrono::milliseconds(25));
  return last;
}

nlohmann::json ConnectedNodes(const nlohmann::json& gateway, int port) {
  SimClientResult r = SimHttpCall("GET",
                                  "http://" + gateway["public_ip"].get<std::string>() + ":" +
                                      std::to_string(port) + "/connected-nodes",
                                  "", 3000);
  if (r.status != 200) return nullptr;
  return nlohmann::json::parse(r.body)["grid-nodes"];
}

}  // namespace pygrid::sim::genesis
