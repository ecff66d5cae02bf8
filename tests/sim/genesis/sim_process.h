// Test helper: runs the genesis-sim binary on port 0 and reads its URL from --url-out.
//   SimProcess sim({"--boot-seconds", "0.2"});
//   ASSERT_TRUE(sim.ok()) << sim.error();
//   sim.base_url();  // http://127.0.0.1:PORT/compute/v1
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/child_process.h"
#include "testing/process.h"
#include "testing/wait.h"

namespace pygrid::sim::genesis {

inline constexpr char kTestToken[] = "sim-test-token-5ecre7";

class SimProcess {
 public:
  // Starts genesis-sim with --token kTestToken, a temp --state-dir, --loopback-net auto and
  // `extra` arguments; waits up to 20 s for the URL file.
  explicit SimProcess(std::vector<std::string> extra = {});
  ~SimProcess();  // SIGTERM, then waits (SIGKILL after 10 s)

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
  testing::TempDir dir_;  // declared first: removed after the process is gone
  std::unique_ptr<testing::ChildProcess> process_;
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

// testing::Eventually polling every 50 ms for `seconds` (20 by default).
template <typename Pred>
bool Eventually(Pred&& pred, int seconds = 20) {
  return testing::Eventually(std::forward<Pred>(pred), std::chrono::seconds(seconds));
}

// The id of the image with this slug ("" if none).
std::string ImageIdBySlug(const SimProcess& sim, const std::string& slug);

// Polls GET /instances/{id} until its status is `status` ("gone": until 404) or `seconds`
// pass; returns the last instance object seen (its status tells whether it got there).
nlohmann::json PollInstanceStatus(const SimProcess& sim, const std::string& id,
                                  const std::string& status, int seconds = 20);

// The "grid-nodes" a simulated gateway's /connected-nodes lists on `port` (null when it does
// not answer 200).
nlohmann::json ConnectedNodes(const nlohmann::json& gateway, int port);

}  // namespace pygrid::sim::genesis
