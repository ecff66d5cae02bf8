// A child process for tests: spawned with posix_spawn, stdout to a file or collected line by
// line (with each line's arrival time) from a pipe, stderr to a file; terminated (SIGTERM, then
// SIGKILL after a grace period) by its destructor.
//
//   ChildProcess sim({bin, "--port", "0"}, dir + "/sim.log", /*pipe_stdout=*/true);
//   auto leading = sim.WaitForLine("LEADING", std::chrono::seconds(10));
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace pygrid::testing {

class ChildProcess {
 public:
  struct Line {
    std::string text;
    std::chrono::steady_clock::time_point at;  // when the line arrived
  };

  // Starts argv[0] (a path) with `argv`. With `pipe_stdout` the child's stdout lines are
  // collected (ReadLine, WaitForLine, lines()); otherwise stdout goes to `log_path`. stderr
  // always goes to `log_path`.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path,
               bool pipe_stdout) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int out[2] = {-1, -1};
    if (pipe_stdout && pipe(out) == 0) {
      posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
      posix_spawn_file_actions_addclose(&actions, out[0]);
      posix_spawn_file_actions_addclose(&actions, out[1]);
    } else {
      posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                       O_WRONLY | O_CREAT | O_APPEND, 0644);
    }
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    if (out[1] >= 0) close(out[1]);
    if (out[0] >= 0) reader_ = std::thread([this, fd = out[0]] { Collect(fd); });
  }

  ~ChildProcess() {
    Terminate();
    if (reader_.joinable()) reader_.join();
  }

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Sends `signal` while the child has not been reaped.
  void Signal(int signal) {
    if (pid_ > 0) kill(pid_, signal);
  }

  // Waits for the child to exit and returns its status as waitpid gives it (-1 if it never
  // started).
  int Wait() {
    if (pid_ <= 0) return status_;
    waitpid(pid_, &status_, 0);
    pid_ = -1;
    return status_;
  }

  // SIGKILL, as a crash would end it, and reap it.
  void Kill() {
    Signal(SIGKILL);
    Wait();
  }

  // True while the child has not exited (reaps it if it has).
  bool Running() {
    if (pid_ <= 0) return false;
    if (waitpid(pid_, &status_, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  // SIGTERM, wait up to 10 s, then SIGKILL. Returns the exit status as waitpid gives it (also
  // when the child had already exited), or -1 when it never started.
  int Terminate() {
    if (pid_ <= 0) return status_;
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (waitpid(pid_, &status_, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status_, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    return status_;
  }

  // The exit status as waitpid gave it once the child was reaped; -1 before.
  int exit_status() const { return status_; }

  // The next stdout line not read yet, waiting up to `timeout`; "" on timeout or EOF.
  std::string ReadLine(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return next_ < lines_.size() || eof_; });
    return next_ < lines_.size() ? lines_[next_++].text : "";
  }

  // The first stdout line (read or not) starting with `prefix`, waiting up to `timeout`.
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
      return eof_;
    });
    return found;
  }

  // Every stdout line so far.
  std::vector<Line> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  void Collect(int fd) {
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
    std::lock_guard<std::mutex> lock(mu_);
    eof_ = true;
    cv_.notify_all();
  }

  pid_t pid_ = -1;
  int status_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Line> lines_;
  size_t next_ = 0;   // ReadLine's position in lines_
  bool eof_ = false;  // the child closed its stdout
};

}  // namespace pygrid::testing
