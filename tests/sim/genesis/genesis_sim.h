// The genesis-sim model: an in-memory Genesis Cloud compute API v1 account (instances,
// images, snapshots, SSH keys, security groups) with the documented envelopes, status codes, paging
// and asynchronous life cycles, the set-up time model (setup_model.h), plus the /_sim/ control API
// for fault injection. Sources for each
// behaviour are cited inline and collected in README.md (tags from
// shared/reference/genesis-cloud-api.md: SPEC23, PY20, TF25, DOCS, ...).
//
//   GenesisSim sim(config, &emulator);
//   SimHttpServer server("127.0.0.1", 0, [&](const SimRequest& r) { return sim.Handle(r); });
//   // a ticker thread calls sim.Tick() every few ms to advance life cycles
//
// Thread-safety: Handle and Tick may be called concurrently; one mutex guards the state and
// the emulator is called outside it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "setup_model.h"
#include "sim_http.h"

namespace pygrid::sim::genesis {

struct SimConfig {
  std::string token;
  double boot_seconds = 5;
  double security_group_seconds = 0.5;
  std::uint64_t seed = 1;
  int loopback_net = 0;              // second octet of the instance addresses: 127.<net>.1.N / .2.N
  double rate_limit_per_second = 0;  // 0: no server-side 429s unless injected
  // Set-up time model: each instance's modelled set-up (real seconds) times this factor is
  // waited before its services start; 0 turns the model's waiting off.
  double time_scale = 0;
  double snapshot_seconds = 1;  // snapshotting -> available
  SetupFigures setup_figures;
};

// What the emulator needs to play an instance once it is active.
struct EmulatedInstance {
  EmulatedInstance() = default;
  EmulatedInstance(std::string id_, std::string name_, std::string startup_script_,
                   std::string public_ip_, std::string private_ip_)
      : id(std::move(id_)),
        name(std::move(name_)),
        startup_script(std::move(startup_script_)),
        public_ip(std::move(public_ip_)),
        private_ip(std::move(private_ip_)) {}
  std::string id;
  std::string name;
  std::string startup_script;
  std::string public_ip;
  std::string private_ip;
  // Set-up model (scaled): wait setup_seconds (a worker's pulls included); then, when wait_url
  // is set (a worker's pygrid-start waits for its gateway before `docker-compose up`), poll it
  // every poll_seconds until it answers 2xx; then wait pull_seconds (a gateway's pulls); then
  // start the services. A deferred worker (GATEWAY_WAIT=ssh) first waits for the delivered
  // address (emulation.h), then polls that gateway every poll_seconds (when > 0).
  double setup_seconds = 0;
  std::string wait_url;
  double poll_seconds = 0;
  double pull_seconds = 0;
};

// Plays instances (services, sshd, readiness marker); implemented in emulation.h.
class InstanceEmulator {
 public:
  virtual ~InstanceEmulator() = default;
  // The instance became active (first boot or after a start).
  virtual void OnActive(const EmulatedInstance& instance) = 0;
  // The instance stopped, failed or is gone; its stand-ins must stop.
  virtual void OnInactive(const std::string& id) = 0;
  // A JSON description of the emulation state for /_sim/instances.
  virtual nlohmann::json Describe(const std::string& id) = 0;
  // The PyGrid node containers of an active instance die (the instance stays active and its
  // gateway keeps the registration); false when it runs no serving node.
  virtual bool KillNodes(const std::string& id) { return false; }
};

class GenesisSim {
 public:
  GenesisSim(SimConfig config, InstanceEmulator* emulator);

  // Answers one HTTP request (API under /compute/v1, control under /_sim/).
  SimResponse Handle(const SimRequest& request);
  // Applies every life-cycle transition that is due.
  void Tick();
  // Marks every instance inactive for the emulator (sim shutdown).
  void StopEmulation();

 private:
  using Steady = std::chrono::steady_clock;
  struct Ref {
    std::string id;
    std::string name;
  };
  struct Instance {
    std::string id, name, hostname, type, region, placement, public_ip_type, startup_script;
    Ref image;
    std::vector<Ref> ssh_keys, security_groups;
    std::string status;
    std::optional<std::string> public_ip, private_ip, updated_at;
    std::string created_at;
    bool is_protected = false;
    int slot = 0;
    double boot_seconds = 0;
    std::string next_status;  // "" when nothing is pending; "gone" removes the instance
    Steady::time_point next_at;
    std::set<std::string> image_contents;  // what the boot image held (setup_model.h items)
    bool setup_planned = false;            // set-up is planned once, at the first boot
    std::vector<SetupStep> setup;
    double setup_scale = 0;  // --time-scale at the first boot
    Steady::time_point setup_started;
  };
  struct Image {
    std::string id, name, type, slug, created_at;
    bool needs_gpu = false;
    std::set<std::string> contents;
  };
  struct Snapshot {
    std::string id, name, resource_id, region, status, created_at;
    long long size_bytes = 0;
    std::set<std::string> contents;  // what the instance held when the snapshot was taken
    Steady::time_point available_at;
  };
  struct SshKey {
    std::string id, name, value, fingerprint, type, created_at;
    int size = 0;
  };
  struct SecurityGroup {
    std::string id, name, description, region, status, created_at;
    nlohmann::json rules;
    std::string next_status;
    Steady::time_point next_at;
  };
  struct Fault {
    std::string method;
    std::regex path;
    std::string path_text;
    int status = 500;
    int remaining = 1;
    std::optional<int> retry_after;
    int delay_ms = 0;  // > 0: a slow answer (then handled normally), not an error status
  };
  struct Event {  // emulator calls collected under the lock, made after it
    bool active;
    EmulatedInstance instance;
  };

  SimResponse HandleApi(const SimRequest& request, std::vector<Event>& events);
  SimResponse HandleControl(const SimRequest& request, std::vector<Event>& events);
  SimResponse Instances(const SimRequest& r, const std::vector<std::string>& parts,
                        std::vector<Event>& events);
  SimResponse CreateInstance(const nlohmann::json& body);
  SimResponse InstanceAction(Instance& inst, const nlohmann::json& body,
                             std::vector<Event>& events);
  SimResponse SecurityGroups(const SimRequest& r, const std::vector<std::string>& parts);
  SimResponse SshKeys(const SimRequest& r, const std::vector<std::string>& parts);
  SimResponse Images(const SimRequest& r, const std::vector<std::string>& parts);
  SimResponse Snapshots(const SimRequest& r, const std::vector<std::string>& parts);
  SimResponse InstanceSnapshots(const SimRequest& r, Instance& inst);

  void Seed();
  void TickLocked(Steady::time_point now, std::vector<Event>& events);
  void SetStatus(Instance& inst, const std::string& status, std::vector<Event>& events);
  std::string NewId();
  std::string Now() const;
  Instance* FindInstance(const std::string& id);
  SecurityGroup* FindGroup(const std::string& id);
  nlohmann::json InstanceJson(const Instance& inst) const;
  nlohmann::json GroupJson(const SecurityGroup& g) const;
  nlohmann::json KeyJson(const SshKey& k) const;
  nlohmann::json SnapshotJson(const Snapshot& s) const;
  nlohmann::json SetupJson(const Instance& inst, Steady::time_point now) const;
  // The image contents plus every set-up step finished by `now`.
  std::set<std::string> ContentsAt(const Instance& inst, Steady::time_point now) const;
  Snapshot* FindSnapshot(const std::string& id);
  std::vector<std::string> AllowedActions(const Instance& inst) const;
  bool RateLimited();
  void Emit(std::vector<Event>& events);

  SimConfig config_;
  InstanceEmulator* emulator_;
  std::mutex emit_mu_;  // orders emulator calls; taken before mu_
  std::mutex mu_;
  std::mt19937_64 rng_;
  std::vector<Instance> instances_;
  std::vector<Image> images_;
  std::vector<SshKey> keys_;
  std::vector<SecurityGroup> groups_;
  std::vector<Snapshot> snapshots_;
  std::vector<Fault> faults_;
  int lose_next_creates_ = 0;
  std::optional<int> instance_quota_;
  int next_slot_ = 0;
  nlohmann::json request_log_ = nlohmann::json::array();
  double bucket_tokens_ = 0;
  Steady::time_point bucket_last_;
};

// Error body {code, message} (SPEC23 compute.v1.Error, both required).
SimResponse ErrorResponse(int status, const std::string& code, const std::string& message);

}  // namespace pygrid::sim::genesis
