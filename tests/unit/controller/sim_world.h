// The simulated world the reconciler tables and the deterministic simulation drive the real
// reconciler against, in one thread, with no sockets and no sleeps:
//  - SimCloud: a CloudProvider whose instances boot on the fake clock (enqueued -> active with
//    addresses after boot_time), with faults a test schedules: a create that fails, is
//    refused (quota), loses its answer, or times out and lands late; list and delete
//    failures; 429 with Retry-After; out-of-band delete/error/stop; and a "crash" that throws
//    SimulatedCrash right after the N-th call took effect (the operator dies mid-round).
//  - SimProber: the gateway answers once its instance has run for app_time (since it last
//    became active: a started instance's services take that long again); a worker is
//    registered when its node runs and was configured (user data) for the gateway's
//    current private IP, and stays registered when its node dies; its node answers while it
//    runs; the co-located node registers with its gateway.
//  - SeededIdentities: deterministic host keys, node ids and secret keys.
// Thread-safety: single-threaded use (the simulation is one thread).
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bootstrap/ssh_keys.h"
#include "cloud/cloud_provider.h"
#include "controller/reconciler.h"
#include "core/clock.h"
#include "probe/prober.h"

namespace pygrid::controller::testing {

// Thrown by SimCloud to model the operator process dying between two calls.
struct SimulatedCrash {};

// One instance as the simulated cloud keeps it.
struct SimInstance {
  cloud::Instance instance;
  Clock::TimePoint created{};     // when the cloud accepted it
  Clock::TimePoint visible_at{};  // when it shows in lists (a late-landing create)
  Clock::TimePoint gone_at{};     // deleting: when it disappears
  Clock::TimePoint started_at{};  // starting: when the start was asked for
  Clock::TimePoint stopped_at{};  // stopping: when the stop was asked for
  bool deleting = false;
  std::string node_id;        // from its user data ("" when it runs no node)
  std::string gateway_ip;     // workers: the gateway private IP their node joins ("" waits)
  std::string delivered_url;  // what SSH delivery wrote into its inbox ("" when nothing)
  std::string user_data;
  std::string host_key;             // the public SSH host key its user data installs
  Clock::TimePoint active_since{};  // when it last became active (created or started again)
  // Its services never come up: with a failed marker (start-up script gave up) or silently;
  // or its node container died after joining (the gateway still lists the registration).
  enum class Broken { kNo, kFailedMarker, kSilent, kNodeDied } broken = Broken::kNo;
};

// A scheduled cloud fault.
enum class CloudFault {
  kCreateUnavailable,  // 503, nothing created
  kCreateQuota,        // refused: quota (not retryable)
  kCreateLostAnswer,   // created, but the answer is lost (Unavailable)
  kCreateLandsLate,    // times out; the instance appears `late_by` later
  kListUnavailable,    // 503 on the next list
  kDeleteUnavailable,  // 503 on the next delete
  kRateLimited,        // 429 Retry-After 2 s on the next call of any kind
  kUnauthorized,       // 401 on the next call of any kind
};

class SimCloud final : public cloud::CloudProvider {
 public:
  explicit SimCloud(const Clock& clock) : clock_(clock) {}

  Clock::Duration boot_time = std::chrono::seconds(20);
  Clock::Duration delete_time = std::chrono::seconds(5);
  Clock::Duration late_by = std::chrono::seconds(30);
  // Security groups are created (and updated) asynchronously: `creating` for this long.
  Clock::Duration group_time = std::chrono::seconds(2);

  void Schedule(CloudFault fault) { faults_.push_back(fault); }
  void ClearFaults() { faults_.clear(); }
  // While on, every call answers 503 (a full outage).
  void SetOutage(bool on) { outage_ = on; }
  // After `calls` more calls have taken effect, the next one throws SimulatedCrash.
  void CrashAfter(int calls) { crash_after_ = calls; }
  bool crash_pending() const { return crash_after_ >= 0; }

  // Out-of-band changes.
  bool DeleteOutOfBand(const std::string& id);
  bool FailOutOfBand(const std::string& id);  // state error
  bool StopOutOfBand(const std::string& id);  // state shutoff (someone stopped it)
  // SSH from the operator to instances whose name starts with `prefix` is blocked (a firewall
  // without the operator's address): deliveries and marker probes cannot connect.
  void BlockSsh(const std::string& prefix) { ssh_blocked_.insert(prefix); }
  bool SshBlocked(const std::string& name) const;
  // What DeliverGateway does on a real instance: writes `url` into the inbox of the live,
  // active instance at `host` whose host key is `pinned`, and its node (re-)joins there. Counts
  // as an operator call for crash injection (a crash right after it took effect).
  Status DeliverGateway(const std::string& host, const std::string& pinned, const std::string& url);
  // Deliveries that took effect, and those whose address was never a private IP of the
  // worker's grid's gateway.
  int deliveries() const { return deliveries_; }
  int wrong_deliveries() const { return wrong_deliveries_; }
  // Its services will never answer (the instance itself stays active).
  bool BreakStartUp(const std::string& id, SimInstance::Broken how);
  // Applies the state changes due by now (they are otherwise applied at the next call), so an
  // observer sees the world as the next call will; counts as no call.
  void AdvanceToNow() { Advance(); }
  // Every instance not yet gone, landed or not.
  const std::vector<SimInstance>& all() const { return instances_; }
  // Live instances (listed, not deleting) of a name prefix.
  std::vector<const SimInstance*> Live(const std::string& prefix) const;
  const std::vector<cloud::SecurityGroup>& groups() const { return groups_; }
  // A group someone else made (status created at once).
  cloud::SecurityGroup AddForeignGroup(const std::string& name,
                                       const std::vector<cloud::SecurityRule>& rules);
  // Creates sent with a security group that was not `created` yet.
  int creates_into_unready_groups() const { return creates_into_unready_groups_; }
  // Sequence numbers for the "no create from an unproven list" invariant.
  int64_t last_mutation_seq() const { return last_mutation_seq_; }
  int64_t last_list_seq() const { return last_list_seq_; }
  // Creates sent by an operator process whose latest successful list predates a mutation that
  // same process made before the round began without getting its answer (a lost or late
  // answer: only a list can show it). Answered creates and deletes the process knows and
  // must keep in its cached list itself (a duplicate name or a needless delete shows if it
  // does not); with several processes and no leader election, the others' changes can be
  // hidden.
  int unproven_creates() const { return unproven_creates_; }
  void BeginRound(int process) {
    process_ = process;
    round_start_mutation_seq_ = own_mutation_seq_[process];
  }
  int calls() const { return calls_; }
  // How many deletes were sent for instance `id` (answered or not).
  int DeletesSent(const std::string& id) const;
  // How many creates were sent for names starting with `prefix` (answered or not).
  int CreatesSent(const std::string& prefix) const;

  StatusOr<std::vector<cloud::Instance>> ListInstances() override;
  StatusOr<cloud::Instance> GetInstance(const std::string& id) override;
  StatusOr<cloud::Instance> CreateInstance(const cloud::CreateInstanceRequest& request) override;
  Status DeleteInstance(const std::string& id) override;
  Status StartInstance(const std::string& id) override;
  Status StopInstance(const std::string& id) override;
  StatusOr<std::vector<cloud::Image>> ListImages() override;
  StatusOr<std::vector<cloud::SshKey>> ListSshKeys() override;
  StatusOr<cloud::SecurityGroup> CreateSecurityGroup(
      const std::string& name, const std::string& description, const std::string& region,
      const std::vector<cloud::SecurityRule>& rules) override;
  StatusOr<cloud::SecurityGroup> UpdateSecurityGroup(
      const std::string& id, const std::string& name, const std::string& description,
      const std::vector<cloud::SecurityRule>& rules) override;
  // Refuses a group an instance still uses (409, as genesis-sim does).
  Status DeleteSecurityGroup(const std::string& id) override;
  StatusOr<std::vector<cloud::SecurityGroup>> ListSecurityGroups() override;

  // Snapshots (the bake helper's block): the simulation runs with baking off (no Bakery in its
  // reconciler deps), so the account never has a snapshot and taking one is refused.
  StatusOr<cloud::Snapshot> CreateSnapshot(const std::string& instance_id,
                                           const std::string& name) override;
  StatusOr<std::vector<cloud::Snapshot>> ListSnapshots() override;
  StatusOr<cloud::Snapshot> GetSnapshot(const std::string& id) override;
  Status DeleteSnapshot(const std::string& id) override;

 private:
  // Advances instance states to the clock's time.
  void Advance();
  // Counts a call, applies a scheduled any-call fault, and throws a pending crash.
  Status Begin(bool mutation);
  // The calling process did not get the answer of the mutation it just sent.
  void Unanswered() { own_mutation_seq_[process_] = seq_; }
  std::optional<CloudFault> Take(std::initializer_list<CloudFault> kinds);
  void MaybeCrash();

  const Clock& clock_;
  std::vector<SimInstance> instances_;
  std::vector<cloud::SecurityGroup> groups_;
  std::deque<CloudFault> faults_;
  int crash_after_ = -1;
  bool outage_ = false;
  int next_id_ = 0;
  int next_ip_ = 0;
  int calls_ = 0;
  int64_t seq_ = 0;
  int64_t last_mutation_seq_ = 0;
  int64_t last_list_seq_ = 0;
  int64_t round_start_mutation_seq_ = 0;
  int process_ = 0;
  std::map<int, int64_t> own_mutation_seq_;
  std::map<int, int64_t> own_list_seq_;
  int unproven_creates_ = 0;
  int creates_into_unready_groups_ = 0;
  std::map<std::string, Clock::TimePoint> group_ready_at_;  // group id -> when `created`
  std::vector<std::string> creates_sent_;
  std::map<std::string, int> deletes_sent_;
  std::set<std::string> ssh_blocked_;
  int deliveries_ = 0;
  int wrong_deliveries_ = 0;
  std::map<std::string, std::set<std::string>> private_ips_;  // by name: every one it had
};

class SimProber final : public probe::Prober {
 public:
  SimProber(SimCloud& cloud, const Clock& clock) : cloud_(cloud), clock_(clock) {}
  Clock::Duration app_time = std::chrono::seconds(10);
  StatusOr<probe::GatewayProbe> ProbeGateway(const std::string& base_url,
                                             api::Flavor flavor) override;
  StatusOr<probe::NodeProbe> ProbeNode(const std::string& base_url, api::Flavor flavor,
                                       const std::string& node_id) override;
  StatusOr<probe::MarkerProbe> ProbeMarker(const probe::SshTarget& target) override;
  Status DeliverGateway(const probe::SshTarget& target, const std::string& gateway_url) override;

 private:
  // The live, active instance at `host`, or nullptr.
  const SimInstance* ActiveAt(const std::string& host) const;
  // True once `sim`'s services have had app_time since it last became active.
  bool AppUp(const SimInstance& sim) const;

  SimCloud& cloud_;
  const Clock& clock_;
};

class SeededIdentities final : public IdentitySource {
 public:
  explicit SeededIdentities(uint64_t seed);
  StatusOr<bootstrap::SshKeyPair> HostKey(const std::string& name) override;
  std::string NodeIdSuffix() override;
  std::string SecretKey() override;

 private:
  std::mt19937_64 rng_;
};

// A CloudProvider that forwards to a shared one (CloudAccounts owns its providers).
std::unique_ptr<cloud::CloudProvider> Forward(cloud::CloudProvider& target);

}  // namespace pygrid::controller::testing
