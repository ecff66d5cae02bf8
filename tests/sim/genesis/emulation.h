// Instance emulation for genesis-sim: when an instance becomes active, do what its cloud-init
// would have made it do (see notes/CLOUD-INIT-CONTRACT.md and README.md): parse the
// #cloud-config user data, start stand-ins for the PyGrid services of its compose file on the
// instance's loopback addresses, let nodes join their gateway, write the readiness marker,
// and optionally run a real sshd with the user data's host key and authorized keys.
//
//   LoopbackEmulator emulator({.state_dir = dir, .ssh_port = 2222, .ssh_user = "me"});
//   emulator.OnActive({id, name, user_data, "127.0.1.1", "127.0.2.1"});
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "genesis_sim.h"

namespace pygrid::sim::genesis {

struct EmulatorOptions {
  std::string state_dir;  // instance roots are <state_dir>/instances/<id>
  int ssh_port = 2222;
  std::string ssh_user;
  bool start_sshd = true;         // only if /usr/sbin/sshd exists
  double join_retry_seconds = 1;  // Docker restart delay for a node whose join failed
};

class LoopbackEmulator final : public InstanceEmulator {
 public:
  explicit LoopbackEmulator(EmulatorOptions options);
  ~LoopbackEmulator() override;

  void OnActive(const EmulatedInstance& instance) override;
  void OnInactive(const std::string& id) override;
  nlohmann::json Describe(const std::string& id) override;
  bool KillNodes(const std::string& id) override;

  class Running;  // one emulated instance (emulation.cpp)

 private:
  EmulatorOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Running>> running_;
  std::map<std::string, std::shared_ptr<void>> registries_;  // per gateway instance id
};

}  // namespace pygrid::sim::genesis
