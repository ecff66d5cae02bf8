// genesis-sim: a local Genesis Cloud compute API v1 with fault injection and instance
// emulation. See README.md for the command line and the control API.
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "emulation.h"
#include "genesis_sim.h"
#include "sim/common/util.h"
#include "sim_http.h"

namespace {

using pygrid::sim::genesis::EmulatorOptions;
using pygrid::sim::genesis::GenesisSim;
using pygrid::sim::genesis::LoopbackEmulator;
using pygrid::sim::genesis::SimConfig;
using pygrid::sim::genesis::SimHttpLimits;
using pygrid::sim::genesis::SimHttpServer;
using pygrid::sim::genesis::SimRequest;

int Usage(const std::string& why) {
  std::cerr << "genesis-sim: " << why << "\n"
            << "usage: genesis-sim --port P --url-out FILE --token TOKEN --boot-seconds N\n"
            << "       [--seed S] [--address A] [--ssh-port P] [--ssh-user U] [--state-dir DIR]\n"
            << "       [--loopback-net K|auto] [--security-group-seconds N] [--rate-limit R]\n"
            << "       [--time-scale F] [--snapshot-seconds N] [--no-sshd]\n";
  return 2;
}

// The user running the simulator: tests log in to the emulated instances as themselves.
std::string CurrentUser() {
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_name != nullptr) {
    return pw->pw_name;
  }
  if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') return u;
  return "ubuntu";
}

// Claims a second octet no other running simulator uses: each K is guarded by an flock on
// /tmp/genesis-sim-net-K.lock, held (fd left open) for the life of the process.
int ClaimLoopbackNet() {
  const int start = static_cast<int>(getpid() % 240);
  for (int i = 0; i < 240; ++i) {
    const int k = 10 + (start + i) % 240;
    const std::string path = "/tmp/genesis-sim-net-" + std::to_string(k) + ".lock";
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return k;
    close(fd);
  }
  return 10 + start;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--no-sshd") {
      args[a] = "1";
      continue;
    }
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) return Usage("bad argument " + a);
    args[a] = argv[++i];
  }
  for (const char* required : {"--port", "--url-out", "--token"}) {
    if (!args.count(required)) return Usage(std::string("missing ") + required);
  }
  SimConfig config;
  EmulatorOptions emu;
  try {
    config.token = args["--token"];
    config.boot_seconds = args.count("--boot-seconds") ? std::stod(args["--boot-seconds"]) : 5;
    config.seed = args.count("--seed") ? std::stoull(args["--seed"]) : 1;
    if (args.count("--security-group-seconds")) {
      config.security_group_seconds = std::stod(args["--security-group-seconds"]);
    }
    if (args.count("--rate-limit")) config.rate_limit_per_second = std::stod(args["--rate-limit"]);
    if (args.count("--time-scale")) config.time_scale = std::stod(args["--time-scale"]);
    if (config.time_scale < 0) return Usage("--time-scale must be >= 0");
    if (args.count("--snapshot-seconds")) {
      config.snapshot_seconds = std::stod(args["--snapshot-seconds"]);
    }
    const std::string net = args.count("--loopback-net") ? args["--loopback-net"] : "0";
    // "auto" keeps parallel simulators (ctest -j) from sharing instance addresses.
    config.loopback_net = net == "auto" ? ClaimLoopbackNet() : std::stoi(net);
    if (config.loopback_net < 0 || config.loopback_net > 255) return Usage("bad --loopback-net");
    emu.ssh_port = args.count("--ssh-port") ? std::stoi(args["--ssh-port"]) : 2222;
    emu.ssh_user = args.count("--ssh-user") ? args["--ssh-user"] : CurrentUser();
    emu.start_sshd = !args.count("--no-sshd");
  } catch (const std::exception&) {
    return Usage("bad numeric argument");
  }
  std::string state_dir = args.count("--state-dir") ? args["--state-dir"] : "";
  if (state_dir.empty()) {
    char tmpl[] = "/tmp/genesis-sim-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Usage("cannot create a state dir");
    state_dir = tmpl;
  }
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  emu.state_dir = std::filesystem::absolute(state_dir).string();

  // Block termination signals in every thread; main waits for them with sigwait.
  sigset_t signals = ::pygrid::sim::BlockStopSignals();

  auto emulator = std::make_unique<LoopbackEmulator>(emu);
  GenesisSim sim(config, emulator.get());
  const std::string address = args.count("--address") ? args["--address"] : "127.0.0.1";
  // The API server recurses over request JSON (nested up to 10,000 levels): large stacks.
  SimHttpLimits api_limits;
  api_limits.thread_stack_bytes = 64 * 1024 * 1024;
  SimHttpServer server(
      address, static_cast<uint16_t>(std::stoi(args["--port"])),
      [&sim](const SimRequest& r) { return sim.Handle(r); }, api_limits);
  std::string error;
  if (!server.Start(&error)) {
    std::cerr << "genesis-sim: " << error << "\n";
    return 1;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread ticker([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return stop; })) {
      lock.unlock();
      sim.Tick();
      lock.lock();
    }
  });

  const std::string url = "http://" + address + ":" + std::to_string(server.port()) + "/compute/v1";
  const std::string out = args["--url-out"];
  {
    std::ofstream f(out + ".tmp");
    f << url << "\n";
  }
  std::filesystem::rename(out + ".tmp", out, ec);  // readers never see a partial URL
  std::cerr << "genesis-sim: listening on " << url << " (state dir " << emu.state_dir
            << ", instance addresses 127." << config.loopback_net << ".{1,2}.N)\n";

  int sig = 0;
  sigwait(&signals, &sig);
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  cv.notify_all();
  ticker.join();
  server.Stop();
  sim.StopEmulation();
  emulator.reset();
  std::cerr << "genesis-sim: stopped\n";
  return 0;
}
