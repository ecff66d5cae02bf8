// Test helper: runs the genesis-sim binary on port 0 and reads its URL from --url-out.
//   SimProcess sim({"--boot-seconds", "0.2"});
//   ASSERT_TRUE(sim.ok()) << sim.error();
//   sim.base_url();  // http://127.0.0.1:PORT/compute/v1
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace pygrid::sim::genesis {

inline constexpr char kTestToken[] = "sim-test-token-5ecre7";

class SimProcess {
 public:
  // Starts genesis-sim with --token kTestToken, a temp --state-dir, --loopback-net auto and
  // `extra` arguments; waits up to 20 s for the URL file.
  explicit SimProcess(std::vector<std::string> extra = {});
  ~SimProcess();  // SIGTERM, then waits

  bool ok() const { return !base_url_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& base_url() const { return base_url_; }
  // http://127.0.0.1:PORT (no /compute/v1), for the /_sim/ control API.
  std::string root_url() const;
  const std::string& state_dir() const { return state_dir_; }
  // Sends SIGTERM and returns the exit status (as from waitpid), or -1.
  int Terminate();

  // Control API helpers; return the parsed body (null on failure).
  nlohmann::json Control(const std::string& method, const std::string& path,
                         const nlohmann::json& body = nullptr) const;

 private:
  pid_t pid_ = -1;
  std::string dir_;
  std::string state_dir_;
  std::string base_url_;
  std::string error_;
};

// An authenticated API call to the simulator (Bearer token); returns status and parsed body.
struct ApiResult {
  int status = 0;
  nlohmann::json body;
  std::string raw;
};
ApiResult Api(const SimProcess& sim, const std::string& method, const std::string& path,
              const nlohmann::json& body = nullptr,
              const std::map<std::string, std::string>& headers = {
                  {"Authorization", std::string("Bearer ") + kTestToken}});

// Polls `pred` every 50 ms until it holds (true) or `seconds` pass (false).
template <typename Pred>
bool Eventually(Pred pred, int seconds = 20) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling with a deadline
  }
  return false;
}

// The id of the image with this slug ("" if none).
std::string ImageIdBySlug(const SimProcess& sim, const std::string& slug);

// Polls GET /instances/{id} until its status is `status` ("gone": until 404) or `seconds`
// pass; returns the last instance object seen (its status tells whether it got there).
nlohmann::json PollInstanceStatus(const SimProcess& sim, const std::string& id,
                                  const std::string& status, int seconds = 20);

}  // namespace pygrid::sim::genesis
