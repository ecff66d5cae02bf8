// Deterministic simulation of the whole operator (FoundationDB-style): from a seed, a schedule
// of steps interleaving reconciles with operator crashes (also between any two cloud calls),
// lost and failed creates, 5xx/429/401 bursts, failed lists and deletes, out-of-band deletes
// and failures, spec edits (scale, suspend, images with maxUnavailable 1, 2 or 50%), broken
// start-ups and dead node containers, Secret deletion and restore, cluster deletion and
// status-write conflicts. Invariants are checked after every step (and, for rolling updates,
// around every round: never more serving workers out than maxUnavailable, never more workers
// remediated than maxUnhealthy); after the faults stop,
// every cluster must converge within a bounded simulated time. One thread, a fake clock, no
// sockets: a seed replays bit for bit.
//
// A failure prints the seed and a shrunk schedule. Replay one seed:
//   PYGRID_SIM_SEED=1234 build/ci/bin/simulation_test
// Soak (more seeds, longer schedules):
//   PYGRID_SIM_SEEDS=20000 PYGRID_SIM_STEPS=600 build/ci/bin/simulation_test
// Trace a replay (every round, create and delete, on stderr): PYGRID_SIM_TRACE=1
//
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "api/defaults.h"
#include "api/json.h"
#include "controller/sim_operator.h"
#include "observability/log.h"

namespace pygrid::controller::testing {
namespace {

using nlohmann::json;

enum class Kind {
  kReconcile,
  kCrash,
  kCrashMidRound,
  kCloudFault,
  kOutOfBandDelete,
  kOutOfBandError,
  kScale,
  kSuspend,
  kDeleteSecret,
  kRestoreSecret,
  kDeleteCluster,
  kStatusConflict,
  kWait,
  kOutOfBandStop,
  kDeleteNamespace,
  kOutage,
  kMalformedToken,
  kRefusedWatches,
  kEditImage,
  kBreakStartUp,
  kBlockSsh,
};

const char* KindName(Kind kind) {
  static const char* const kNames[] = {"reconcile",      "crash",           "crash-mid-round",
                                       "cloud-fault",    "oob-delete",      "oob-error",
                                       "scale",          "suspend",         "delete-secret",
                                       "restore-secret", "delete-cluster",  "status-conflict",
                                       "wait",           "oob-stop",        "delete-namespace",
                                       "outage",         "malformed-token", "refused-watches",
                                       "edit-image",     "break-start-up",  "block-ssh"};
  return kNames[static_cast<int>(kind)];
}

// One step of a schedule: a kind and two free numbers its application interprets.
struct Event {
  Kind kind;
  uint32_t a;
  uint32_t b;
};

struct Options {
  bool late_creates = true;  // creates that land after the client gave up
  // Operator processes acting at once. With more than one (no leader election) two creates for
  // one name can race, so "never two live instances with one name" is checked only after the
  // faults stop; everything else holds at every step.
  int processes = 1;
};

std::vector<Event> Generate(uint64_t seed, int steps) {
  std::mt19937_64 rng(seed);
  std::vector<Event> schedule;
  // Weighted: most steps reconcile, so the grid makes progress between faults.
  const std::vector<std::pair<Kind, int>> weights = {
      {Kind::kReconcile, 60},    {Kind::kCrash, 2},           {Kind::kCrashMidRound, 3},
      {Kind::kCloudFault, 8},    {Kind::kOutOfBandDelete, 2}, {Kind::kOutOfBandError, 2},
      {Kind::kScale, 4},         {Kind::kSuspend, 1},         {Kind::kDeleteSecret, 1},
      {Kind::kRestoreSecret, 2}, {Kind::kDeleteCluster, 1},   {Kind::kStatusConflict, 2},
      {Kind::kWait, 5},          {Kind::kOutOfBandStop, 2},   {Kind::kDeleteNamespace, 1},
      {Kind::kOutage, 2},        {Kind::kMalformedToken, 1},  {Kind::kRefusedWatches, 1},
      {Kind::kEditImage, 2},     {Kind::kBreakStartUp, 2},    {Kind::kBlockSsh, 1}};
  int total = 0;
  for (const auto& [kind, weight] : weights) total += weight;
  for (int i = 0; i < steps; ++i) {
    int pick = static_cast<int>(rng() % total);
    Kind kind = Kind::kReconcile;
    for (const auto& [k, weight] : weights) {
      if (pick < weight) {
        kind = k;
        break;
      }
      pick -= weight;
    }
    schedule.push_back({kind, static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())});
  }
  return schedule;
}

const std::vector<std::string> kClusters = {"default/mnist", "default/cifar", "team-b/mnist"};

class Simulation {
 public:
  Simulation(uint64_t seed, Options options) : op_(seed, options.processes), options_(options) {
    op_.ApplySecret("default", "creds", "token-a");
    op_.ApplySecret("team-b", "creds", "token-a");  // one account, two namespaces
    // A team's own security group that default/cifar names: used, never changed or deleted.
    op_.cloud.AddForeignGroup("prod-web", ForeignRules());
    for (size_t i = 0; i < kClusters.size(); ++i) {
      auto [ns, name] = kube::SplitObjectKey(kClusters[i]);
      json cluster = ClusterObject(name, 1 + static_cast<int>(i), ns);
      cluster["spec"]["gateway"]["startupTimeout"] = "2m";
      cluster["spec"]["workers"]["startupTimeout"] = "2m";
      if (kClusters[i] == "default/cifar") {
        cluster["spec"]["network"]["securityGroupName"] = "prod-web";
      }
      op_.ApplyCluster(cluster);
    }
    op_.on_round = [this](const std::string& key, bool before) { CheckRound(key, before); };
  }

  // Applies the schedule; returns "" or the first violated invariant.
  std::string Run(const std::vector<Event>& schedule) {
    for (size_t i = 0; i < schedule.size(); ++i) {
      Apply(schedule[i]);
      std::string broken = CheckInvariants();
      if (!broken.empty()) return "after step " + std::to_string(i) + ": " + broken;
    }
    // The faults stop: restore what the schedule broke, then everything must converge.
    op_.cloud.ClearFaults();
    op_.cloud.CrashAfter(-1);
    op_.ApplySecret("default", "creds", "token-a");
    if (!deleted_namespaces_.count("team-b")) op_.ApplySecret("team-b", "creds", "token-a");
    for (const std::string& key : kClusters) {
      op_.EditCluster(key, [](json& c) { c["spec"]["suspend"] = false; });
    }
    // Converged within 10 minutes of simulated time, checked every 10 s.
    std::string unconverged = "never checked";
    for (int i = 0; i < 60 && !unconverged.empty(); ++i) {
      PersonActsOnBlockedRemediation();
      op_.RunFor(std::chrono::seconds(10));
      std::string broken = CheckInvariants();
      if (!broken.empty()) return "while converging: " + broken;
      unconverged = Unconverged();
    }
    if (op_.cloud.unproven_creates() > 0) return "a create was sent from an unproven list";
    if (unconverged.empty()) return CheckInvariants(/*converged=*/true);
    return unconverged;
  }

 private:
  // More workers failed than maxUnhealthy: by design the operator replaces none and says so
  // (RemediationAllowed=False); a person deletes the broken instances, which the operator then
  // recreates as lost.
  void PersonActsOnBlockedRemediation() {
    for (const std::string& key : kClusters) {
      if (op_.Condition(key, "RemediationAllowed") != "False") continue;
      for (const SimInstance* sim : op_.Instances(key)) {
        if (sim->broken != SimInstance::Broken::kNo) op_.cloud.DeleteOutOfBand(sim->instance.id);
      }
    }
  }

  // "" when every cluster reached its spec (or is gone with every instance), else why not.
  std::string Unconverged() const {
    for (const std::string& key : kClusters) {
      if (deleted_.count(key)) {
        if (op_.Cluster(key)) return key + " was deleted but still exists";
        if (options_.processes > 1) continue;
        for (const SimInstance& sim : op_.cloud.all()) {
          if (sim.instance.name.compare(0, op_.PrefixOf(key).size(), op_.PrefixOf(key)) == 0)
            return key + " was deleted but its instance " + sim.instance.name + " is left";
        }
        continue;
      }
      std::string why;
      if (!op_.Converged(key, &why)) return key + " did not converge: " + why;
    }
    // The grids that share the operator's group (same ports, same account) are both gone: the
    // last one took the group along.
    if (options_.processes == 1 && deleted_.count("default/mnist") &&
        deleted_.count("team-b/mnist")) {
      for (const cloud::SecurityGroup& group : op_.cloud.groups()) {
        if (group.name.rfind("pygrid-", 0) == 0)
          return "security group " + group.name + " outlived every grid that used it";
      }
    }
    return "";
  }

  void Apply(const Event& event) {
    const std::string& key = kClusters[event.a % kClusters.size()];
    switch (event.kind) {
      case Kind::kReconcile:
        op_.Step();
        break;
      case Kind::kCrash:
        op_.Crash(static_cast<int>(event.b % options_.processes));
        break;
      case Kind::kCrashMidRound:
        op_.cloud.CrashAfter(static_cast<int>(event.b % 6));
        op_.Step();
        op_.cloud.CrashAfter(-1);
        break;
      case Kind::kCloudFault: {
        std::vector<CloudFault> faults = {
            CloudFault::kCreateUnavailable, CloudFault::kCreateQuota,
            CloudFault::kCreateLostAnswer,  CloudFault::kListUnavailable,
            CloudFault::kDeleteUnavailable, CloudFault::kRateLimited,
            CloudFault::kUnauthorized};
        if (options_.late_creates) faults.push_back(CloudFault::kCreateLandsLate);
        op_.cloud.Schedule(faults[event.b % faults.size()]);
        break;
      }
      case Kind::kBreakStartUp: {
        // An instance whose services never come up: with a failed marker, or silently (then
        // only its start-up timeout, 2 minutes here, replaces it); or a worker whose node
        // container died after it joined (the gateway keeps listing it).
        std::vector<const SimInstance*> live = op_.Instances(key);
        const bool any_broken = std::any_of(live.begin(), live.end(), [](const SimInstance* s) {
          return s->broken != SimInstance::Broken::kNo;
        });
        if (live.empty() || any_broken) break;
        // Sometimes two workers at once: beyond maxUnhealthy (40%: 1 of 1 or 2, 2 of 3) the
        // operator replaces none and waits for a person (PersonActsOnBlockedRemediation).
        std::vector<const SimInstance*> workers;
        for (const SimInstance* sim : live) {
          if (sim->instance.name.find("-worker-") != std::string::npos) workers.push_back(sim);
        }
        if (event.b % 4 == 3 && workers.size() >= 2) {
          for (size_t k = 0; k < 2; ++k) {
            op_.cloud.BreakStartUp(workers[(event.a + k) % workers.size()]->instance.id,
                                   SimInstance::Broken::kFailedMarker);
          }
          break;
        }
        const SimInstance* victim = live[event.b % live.size()];
        const bool worker = victim->instance.name.find("-worker-") != std::string::npos;
        op_.cloud.BreakStartUp(victim->instance.id,
                               event.b % 3 == 0   ? SimInstance::Broken::kFailedMarker
                               : event.b % 3 == 1 ? SimInstance::Broken::kSilent
                               : worker           ? SimInstance::Broken::kNodeDied
                                                  : SimInstance::Broken::kSilent);
        break;
      }
      case Kind::kEditImage:
        // A spec change that rolls every worker (or, for the gateway image, the whole grid).
        op_.EditCluster(key, [&](json& c) {
          c["spec"]["pygrid"][event.b % 3 == 0 ? "gatewayImage" : "nodeImage"] =
              "openmined/grid:v" + std::to_string(event.b % 4);
          const json batches[] = {1, 2, "50%"};
          c["spec"]["workers"]["maxUnavailable"] = batches[event.a % 3];
        });
        break;
      case Kind::kBlockSsh:
        // From now on a firewall keeps the operator's SSH out of this grid's instances: the
        // gateway address cannot be delivered, so the grid must fall back to user data.
        if (!op_.PrefixOf(key).empty()) op_.cloud.BlockSsh(op_.PrefixOf(key));
        break;
      case Kind::kRefusedWatches:
        // Every watch refused for up to two minutes: edits meanwhile arrive by the relist.
        op_.RefuseWatches(true);
        if (event.b % 2 == 0) {
          op_.EditCluster(key, [&](json& c) { c["spec"]["workers"]["replicas"] = event.b % 3; });
        }
        op_.RunFor(std::chrono::seconds(event.b % 120));
        op_.RefuseWatches(false);
        break;
      case Kind::kOutage:
        // The whole API fails for up to a minute of simulated time, with reconciles going on.
        op_.cloud.SetOutage(true);
        op_.RunFor(std::chrono::seconds(event.b % 60));
        op_.cloud.SetOutage(false);
        break;
      case Kind::kMalformedToken: {
        auto [ns, name] = kube::SplitObjectKey(key);
        if (deleted_namespaces_.count(ns)) break;
        op_.ApplySecret(ns, "creds", "token-a\r\nX-Injected: " + std::to_string(event.b));
        break;
      }
      case Kind::kDeleteNamespace:
        // team-b goes with everything in it: its Secret and cluster at the same moment.
        op_.kube.DeleteNamespace("team-b");
        deleted_.insert("team-b/mnist");
        deleted_namespaces_.insert("team-b");
        break;
      case Kind::kOutOfBandStop:
      case Kind::kOutOfBandDelete:
      case Kind::kOutOfBandError: {
        std::vector<const SimInstance*> live = op_.Instances(key);
        if (live.empty()) break;
        const std::string id = live[event.b % live.size()]->instance.id;
        if (event.kind == Kind::kOutOfBandDelete) {
          op_.cloud.DeleteOutOfBand(id);
        } else if (event.kind == Kind::kOutOfBandStop) {
          op_.cloud.StopOutOfBand(id);
        } else {
          op_.cloud.FailOutOfBand(id);
        }
        break;
      }
      case Kind::kScale:
        op_.EditCluster(key, [&](json& c) { c["spec"]["workers"]["replicas"] = event.b % 4; });
        break;
      case Kind::kSuspend:
        op_.EditCluster(key, [&](json& c) { c["spec"]["suspend"] = event.b % 2 == 0; });
        break;
      case Kind::kDeleteSecret: {
        auto [ns, name] = kube::SplitObjectKey(key);
        op_.DeleteSecret(ns, "creds");
        break;
      }
      case Kind::kRestoreSecret: {
        auto [ns, name] = kube::SplitObjectKey(key);
        if (deleted_namespaces_.count(ns)) break;  // a deleted namespace takes no new objects
        op_.ApplySecret(ns, "creds", "token-a");
        break;
      }
      case Kind::kDeleteCluster:
        if (op_.Cluster(key)) {
          op_.DeleteCluster(key);
          deleted_.insert(key);
        }
        break;
      case Kind::kStatusConflict:
        op_.kube.FailNext("update/status", "pygridclusters",
                          Status::Conflict("injected conflict").WithHttpStatus(409));
        break;
      case Kind::kWait:
        op_.RunFor(std::chrono::seconds(event.b % 30));
        break;
    }
  }

  std::string CheckInvariants(bool converged = false) {
    if (!round_violation_.empty()) return round_violation_;
    if (op_.cloud.wrong_deliveries() > 0)
      return "a worker was given an address that is not its running gateway's";
    // Never two live instances with one name.
    std::map<std::string, int> names;
    for (const SimInstance* sim : op_.cloud.Live("")) {
      if (++names[sim->instance.name] > 1 && (options_.processes == 1 || converged))
        return "two live instances named " + sim->instance.name;
    }
    // A deleted cluster's finalizer is removed only when none of its instances is left. (Not
    // with two operators: one's create can race the other's deletion and land after it.)
    for (const std::string& key : options_.processes == 1 ? deleted_ : std::set<std::string>{}) {
      if (op_.Cluster(key)) continue;
      const std::string prefix = op_.PrefixOf(key);
      for (const SimInstance& sim : op_.cloud.all()) {
        if (!sim.deleting && sim.instance.name.compare(0, prefix.size(), prefix) == 0)
          return key + " is gone but its instance " + sim.instance.name + " is live";
      }
    }
    // No create is sent while suspended (spec.suspend true before and after the step).
    for (const std::string& key : kClusters) {
      std::optional<json> object = op_.Cluster(key);
      if (!object || op_.PrefixOf(key).empty()) continue;
      const bool suspended = (*object)["spec"].value("suspend", false);
      const int sent = op_.cloud.CreatesSent(op_.PrefixOf(key));
      if (suspended && suspended_counts_.count(key) && sent > suspended_counts_[key])
        return key + ": a create was sent while suspended";
      if (suspended) {
        suspended_counts_[key] = sent;
      } else {
        suspended_counts_.erase(key);
      }
    }
    if (op_.cloud.unproven_creates() > 0) return "a create was sent from an unproven list";
    if (op_.cloud.creates_into_unready_groups() > 0)
      return "an instance was created into a security group the cloud had not applied yet";
    // A group the operator did not make is never changed or deleted.
    const auto& groups = op_.cloud.groups();
    auto foreign = std::find_if(groups.begin(), groups.end(),
                                [](const cloud::SecurityGroup& g) { return g.name == "prod-web"; });
    if (foreign == groups.end()) return "the foreign security group prod-web was deleted";
    if (foreign->rules != ForeignRules()) return "the foreign security group prod-web was changed";
    return "";
  }

  // The indexes (below replicas) of `key`'s workers that serve as the world really is: the
  // gateway answers and lists the worker, and its node answers as itself. With `instances`, the
  // ids of those serving instances by index.
  std::set<int> ServingIndexes(const std::string& key,
                               std::map<int, std::vector<std::string>>* instances = nullptr) {
    std::set<int> serving;
    std::optional<json> object = op_.Cluster(key);
    const std::string prefix = op_.PrefixOf(key);  // "<name>-<uid8>-"
    if (!object || prefix.empty()) return serving;
    const int replicas = (*object)["spec"]["workers"].value("replicas", 1);
    const SimInstance* gateway = nullptr;
    for (const SimInstance* sim : op_.cloud.Live(prefix)) {
      if (sim->instance.name == prefix + "gateway") gateway = sim;
    }
    if (gateway == nullptr || !gateway->instance.public_ip) return serving;
    StatusOr<probe::GatewayProbe> listed =
        op_.prober.ProbeGateway("http://" + *gateway->instance.public_ip + ":1", api::Flavor{});
    if (!listed.ok() || !listed->answers) return serving;
    for (const SimInstance* sim : op_.cloud.Live(prefix + "worker-")) {
      const int index = std::atoi(sim->instance.name.c_str() + prefix.size() + 7);
      if (index >= replicas || !sim->instance.public_ip ||
          !listed->connected_nodes.count(sim->node_id))
        continue;
      StatusOr<probe::NodeProbe> node = op_.prober.ProbeNode(
          "http://" + *sim->instance.public_ip + ":1", api::Flavor{}, sim->node_id);
      if (!node.ok() || !node->answers) continue;
      serving.insert(index);
      if (instances != nullptr) (*instances)[index].push_back(sim->instance.id);
    }
    return serving;
  }

  // Around each round: a rolling update never takes more than maxUnavailable serving workers
  // out (counting those already out). Judged against the world, not the operator's view. Not
  // for a deleted or suspended cluster, a round that replaced the gateway (which recreates the
  // grid by design), or two operator processes (each sizes its batch alone).
  void CheckRound(const std::string& key, bool before) {
    if (options_.processes > 1 || !round_violation_.empty()) return;
    std::optional<json> object = op_.Cluster(key);
    if (before) {
      round_serving_.clear();
      round_ok_ = object && !(*object)["metadata"].contains("deletionTimestamp") &&
                  !(*object)["spec"].value("suspend", false);
      if (!round_ok_) return;
      op_.cloud.AdvanceToNow();  // the world as the round's first call will find it
      ServingIndexes(key, &round_serving_);
      round_events_ = op_.events.size();
      round_deletes_.clear();
      for (const SimInstance& sim : op_.cloud.all())
        round_deletes_[sim.instance.id] = op_.cloud.DeletesSent(sim.instance.id);
      return;
    }
    if (!round_ok_ || !object) return;
    auto deleted = [&](const std::string& id) {
      return op_.cloud.DeletesSent(id) > round_deletes_[id];
    };
    const std::string prefix = op_.PrefixOf(key);
    for (const SimInstance& sim : op_.cloud.all()) {
      if (sim.instance.name == prefix + "gateway" && deleted(sim.instance.id)) return;
    }
    StatusOr<api::PyGridCluster> cluster = api::ClusterFromJson(*object);
    if (!cluster.ok()) return;
    api::ApplyDefaults(cluster->spec);
    // A gateway built from another spec is replaced with every worker (even when a crash cut
    // the round before the gateway's own delete went out).
    const std::optional<api::GatewayStatus>& gateway = cluster->status.gateway;
    if (gateway && BuiltFromOlderSpec(gateway->spec_hash,
                                      SpecHashFor(api::InstanceRole::kGateway, cluster->spec)))
      return;
    const int replicas = cluster->spec.workers.replicas;
    const int max_unavailable = api::MaxUnavailableWorkers(cluster->spec.workers).value_or(1);
    // Remediation never replaces more workers in one round than maxUnhealthy allows (beyond
    // it, nothing is replaced at all).
    int remediated = 0;
    for (size_t i = round_events_; i < op_.events.size(); ++i) {
      const RecordedEvent& event = op_.events[i];
      if (event.key == key &&
          (event.reason == "StartupFailed" || event.reason == "StartupTimeout") &&
          event.message.find("worker-") != std::string::npos)
        ++remediated;
    }
    const int allowed = api::MaxUnhealthyWorkers(cluster->spec.workers).value_or(0);
    if (remediated > allowed) {
      round_violation_ = key + ": a round replaced " + std::to_string(remediated) +
                         " workers that failed to start, more than maxUnhealthy allows (" +
                         std::to_string(allowed) + ")";
      return;
    }
    int taken = 0;
    for (const auto& [index, ids] : round_serving_) {
      if (std::all_of(ids.begin(), ids.end(), deleted)) ++taken;
    }
    const int left = static_cast<int>(round_serving_.size()) - taken;
    if (taken > 0 && left < replicas - max_unavailable) {
      round_violation_ = key + ": a round took " + std::to_string(taken) +
                         " serving workers out, leaving " + std::to_string(left) + " of " +
                         std::to_string(replicas) + " (maxUnavailable " +
                         cluster->spec.workers.max_unavailable + ")";
    }
  }

  static std::vector<cloud::SecurityRule> ForeignRules() {
    return {{"tcp", "ingress", 443, 443}, {"tcp", "ingress", 22, 22}};
  }

  SimOperator op_;
  Options options_;
  std::set<std::string> deleted_;
  std::set<std::string> deleted_namespaces_;
  std::map<std::string, int> suspended_counts_;
  // CheckRound's state: serving worker instances by index and deletes sent, at round start.
  bool round_ok_ = false;
  std::map<int, std::vector<std::string>> round_serving_;
  std::map<std::string, int> round_deletes_;
  size_t round_events_ = 0;
  std::string round_violation_;
};

std::string Describe(const std::vector<Event>& schedule) {
  std::ostringstream out;
  for (size_t i = 0; i < schedule.size(); ++i) {
    out << "  " << i << ": " << KindName(schedule[i].kind) << " " << schedule[i].a % 3 << " "
        << schedule[i].b << "\n";
  }
  return out.str();
}

// Removes chunks of the schedule while the failure persists (delta debugging, bounded).
std::vector<Event> Shrink(uint64_t seed, std::vector<Event> schedule, Options options) {
  for (size_t chunk = schedule.size() / 2; chunk >= 1; chunk /= 2) {
    for (size_t start = 0; start + chunk <= schedule.size();) {
      std::vector<Event> candidate = schedule;
      candidate.erase(candidate.begin() + start, candidate.begin() + start + chunk);
      if (!Simulation(seed, options).Run(candidate).empty()) {
        schedule = std::move(candidate);
      } else {
        start += chunk;
      }
    }
    if (chunk == 1) break;
  }
  return schedule;
}

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value == nullptr ? fallback : std::strtoull(value, nullptr, 10);
}

// Runs `seeds` schedules of `steps` steps; returns the first failure with its seed and a
// shrunk schedule, or "".
std::string RunSeeds(uint64_t first, uint64_t seeds, int steps, Options options) {
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    const std::vector<Event> schedule = Generate(seed, steps);
    const std::string failure = Simulation(seed, options).Run(schedule);
    if (failure.empty()) continue;
    const std::vector<Event> shrunk = Shrink(seed, schedule, options);
    return "seed " + std::to_string(seed) + ": " + failure +
           "\nreplay: PYGRID_SIM_SEED=" + std::to_string(seed) +
           " build/ci/bin/simulation_test\nshrunk schedule (" + std::to_string(shrunk.size()) +
           " of " + std::to_string(schedule.size()) +
           " steps; it fails with: " + Simulation(seed, options).Run(shrunk) + "):\n" +
           Describe(shrunk);
  }
  return "";
}

// Captures every log line, so the run is quiet and no secret can hide in one.
class LogCapture {
 public:
  LogCapture() {
    observability::InitLogging({observability::LogFormat::kJson, observability::LogLevel::kInfo,
                                [this](const std::string& line) {
                                  ++lines_;
                                  if (line.find("token-a") != std::string::npos) ++leaks_;
                                }});
  }
  ~LogCapture() { observability::InitLogging({}); }
  int lines() const { return lines_; }
  int leaks() const { return leaks_; }

 private:
  int lines_ = 0;
  int leaks_ = 0;
};

TEST(SimulationTest, InvariantsHoldAndEveryClusterConverges) {
  LogCapture logs;
  const uint64_t one = EnvNumber("PYGRID_SIM_SEED", 0);
  const uint64_t first = one != 0 ? one : 1;
  const uint64_t seeds = one != 0 ? 1 : EnvNumber("PYGRID_SIM_SEEDS", 1000);
  const int steps = static_cast<int>(EnvNumber("PYGRID_SIM_STEPS", 100));
  const std::string failure = RunSeeds(first, seeds, steps, Options{});
  EXPECT_EQ(failure, "");
  EXPECT_GT(logs.lines(), 0);
  EXPECT_EQ(logs.leaks(), 0) << "the API token appeared in a log line";
  std::printf("simulation: %llu seeds x %d steps, %d log lines\n",
              static_cast<unsigned long long>(seeds), steps, logs.lines());
}

// What holds with two operators and no leader election: they may race two creates for one name
// (the planner then keeps the one status records), but every live grid still converges to
// exactly its instances. Not guaranteed: a deleted grid leaving nothing behind, since one
// operator's create can land after the other finished the deletion.
TEST(SimulationTest, TwoOperatorsWithoutLeaderElectionStillConverge) {
  LogCapture logs;
  Options options;
  options.processes = 2;
  const uint64_t seeds = EnvNumber("PYGRID_SIM_SEEDS", 1000) / 8;
  EXPECT_EQ(RunSeeds(100000, seeds, 100, options), "");
  EXPECT_EQ(logs.leaks(), 0);
}

TEST(SimulationTest, SameSeedReplaysTheSameHistory) {
  LogCapture logs;
  auto history = [](uint64_t seed) {
    SimOperator op(seed);
    (void)op;
    Simulation simulation(seed, Options{});
    const std::vector<Event> schedule = Generate(seed, 120);
    return simulation.Run(schedule) + Describe(schedule);
  };
  EXPECT_EQ(history(42), history(42));
  EXPECT_NE(Describe(Generate(42, 50)), Describe(Generate(43, 50)));
}

}  // namespace
}  // namespace pygrid::controller::testing
