// Test helpers for the kube-sim integration tests: start kube-sim (port 0, temp kubeconfig,
// a random token), build clients from its kubeconfig, drive its /_sim/ control API, and run
// child processes whose stdout lines are collected with their arrival time.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kube/config.h"
#include "kube/rest_client.h"

namespace pygrid::kube::testing {

// A child process with its stdout captured line by line.
class ChildProcess {
 public:
  struct Line {
    std::string text;
    std::chrono::steady_clock::time_point at;
  };

  explicit ChildProcess(const std::vector<std::string>& argv, bool capture = true) {
    int fds[2] = {-1, -1};
    if (capture && pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      if (capture) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
      } else {
        const int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
      }
      std::vector<char*> args;
      for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    if (!capture) return;
    close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] {
      std::string pending;
      char buf[1024];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) {
        pending.append(buf, static_cast<size_t>(n));
        size_t newline;
        while ((newline = pending.find('\n')) != std::string::npos) {
          std::lock_guard<std::mutex> lock(mu_);
          lines_.push_back({pending.substr(0, newline), std::chrono::steady_clock::now()});
          pending.erase(0, newline + 1);
          cv_.notify_all();
        }
      }
      close(fd);
    });
  }

  ~ChildProcess() {
    Kill(SIGKILL);
    Wait();
    if (reader_.joinable()) reader_.join();
  }

  void Kill(int signal) {
    if (pid_ > 0 && !exited_) kill(pid_, signal);
  }

  // Waits for the process to exit; returns its status from waitpid.
  int Wait() {
    if (pid_ <= 0 || exited_) return status_;
    waitpid(pid_, &status_, 0);
    exited_ = true;
    return status_;
  }

  // Waits until a line starting with `prefix` arrived (returns it) or `timeout` passes.
  std::optional<Line> WaitForLine(const std::string& prefix, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<Line> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& line : lines_) {
        if (line.text.rfind(prefix, 0) == 0) {
          found = line;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  std::vector<Line> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Line> lines_;
};

// One kube-sim process for one test.
class KubeSim {
 public:
  KubeSim() {
    char pattern[] = "/tmp/kube-sim-test-XXXXXX";
    dir_ = mkdtemp(pattern);
    kubeconfig_ = dir_ + "/kubeconfig";
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{std::string(PYGRID_BIN_DIR) + "/kube-sim", "--port", "0",
                                 "--kubeconfig-out", kubeconfig_, "--token",
                                 "sim-token-" + std::to_string(getpid())},
        /*capture=*/false);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!std::filesystem::exists(kubeconfig_) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  ~KubeSim() {
    process_->Kill(SIGTERM);
    process_->Wait();
    std::filesystem::remove_all(dir_);
  }

  bool ready() const { return std::filesystem::exists(kubeconfig_); }
  const std::string& kubeconfig() const { return kubeconfig_; }

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
  std::string dir_;
  std::string kubeconfig_;
  std::unique_ptr<ChildProcess> process_;
  std::unique_ptr<RestClient> control_;
};

}  // namespace pygrid::kube::testing
