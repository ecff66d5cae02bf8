// Test helpers for the kube-sim integration tests: start kube-sim (port 0, temp kubeconfig,
// a random token), build clients from its kubeconfig, drive its /_sim/ control API, and run
// child processes (tests/testing/child_process.h) whose stdout lines are collected.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kube/config.h"
#include "kube/rest_client.h"
#include "testing/child_process.h"
#include "testing/process.h"
#include "testing/wait.h"

namespace pygrid::kube::testing {

// The shared test process (stdout lines collected with their arrival time).
using ::pygrid::testing::ChildProcess;

// One kube-sim process for one test.
class KubeSim {
 public:
  KubeSim() : kubeconfig_(dir_.path() + "/kubeconfig") {
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{std::string(PYGRID_BIN_DIR) + "/kube-sim", "--port", "0",
                                 "--kubeconfig-out", kubeconfig_, "--token",
                                 "sim-token-" + std::to_string(getpid())},
        dir_.path() + "/kube-sim.log", /*pipe_stdout=*/false);
    ::pygrid::testing::Eventually([&] { return std::filesystem::exists(kubeconfig_); },
                                  std::chrono::seconds(30), std::chrono::milliseconds(20));
  }

  ~KubeSim() {
    process_->Signal(SIGTERM);
    process_->Wait();
  }

  bool ready() const { return std::filesystem::exists(kubeconfig_); }
  const std::string& kubeconfig() const { return kubeconfig_; }
  // The temporary directory that holds the kubeconfig and kube-sim.log (removed at the end).
  const std::string& dir() const { return dir_.path(); }

  RestConfig Config() const {
    auto config = LoadKubeconfigFile(kubeconfig_);
    RestConfig out = config.ok() ? *config : RestConfig();
    out.qps = 0;  // the tests measure the server, not the client limiter
    return out;
  }

  std::unique_ptr<RestClient> NewClient() const {
    auto client = RestClient::Create(Config());
    return client.ok() ? std::move(*client) : nullptr;
  }

  // Calls the control API; returns the JSON answer (null on error).
  Json Sim(const std::string& method, const std::string& path, const Json& body = nullptr) {
    if (!control_) control_ = NewClient();
    auto got = control_->Request(method, "/_sim/" + path, body.is_null() ? nullptr : &body);
    return got.ok() ? *got : Json();
  }

 private:
  ::pygrid::testing::TempDir dir_;  // declared first: removed after the process is gone
  std::string kubeconfig_;
  std::unique_ptr<ChildProcess> process_;
  std::unique_ptr<RestClient> control_;
};

}  // namespace pygrid::kube::testing
