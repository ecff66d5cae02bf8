#include "controller/sim_operator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "api/conditions.h"
#include "api/json.h"
#include "api/naming.h"
#include "bootstrap/templates.h"
#include "controller/resources.h"
#include "core/base64.h"

namespace pygrid::controller::testing {

using nlohmann::json;

json ClusterObject(const std::string& name, int replicas, const std::string& ns,
                   const std::string& secret) {
  return {{"apiVersion", "distributor.pygrid.dev/v1alpha1"},
          {"kind", "PyGridCluster"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec",
           {{"credentialsSecretRef", {{"name", secret}}},
            {"workers", {{"replicas", replicas}}},
            {"gateway", {{"colocatedWorker", false}}},
            {"network", {{"allowedSourceCIDRs", {"203.0.113.0/24"}}}}}}};
}

SimOperator::SimOperator(uint64_t seed, int processes)
    : seed_(seed),
      identities_(seed),
      operator_key_(*bootstrap::GenerateEd25519KeyPair("sim-operator")),
      processes_(static_cast<size_t>(std::max(1, processes))) {
  kube.OnChange([this](const kube::ResourceRef& resource, const std::string& key) {
    OnChange(resource, key);
  });
  for (Process& process : processes_) StartProcess(process);
}

SimOperator::~SimOperator() = default;

void SimOperator::StartProcess(Process& process) {
  process.reconciler.reset();
  process.clouds = std::make_unique<CloudAccounts>(
      [this](const std::string& token) { return Forward(cloud); }, clock,
      CloudAccountsOptions{std::chrono::seconds(5), std::chrono::minutes(10),
                           std::chrono::minutes(10)});
  ReconcilerDeps deps;
  deps.kube = &kube;
  deps.get_cluster = [this](const std::string& key) {
    auto [ns, name] = kube::SplitObjectKey(key);
    return kube.Find(PyGridClusters(), ns, name);
  };
  deps.get_secret = [this](const std::string& key) {
    auto [ns, name] = kube::SplitObjectKey(key);
    return kube.Find(Secrets(), ns, name);
  };
  deps.list_clusters = [this] {
    StatusOr<kube::ListResult> all = kube.List(PyGridClusters(), "");
    return all.ok() ? all->items : std::vector<json>{};
  };
  deps.clouds = process.clouds.get();
  deps.bakery = prepared_images;  // null (baking off) unless a table sets one
  deps.prober = &prober;
  deps.events = [this](const json& object, bool warning, const std::string& reason,
                       const std::string& message) {
    events.push_back({kube::ObjectKey(object), warning, reason, message});
    if (std::getenv("PYGRID_SIM_TRACE") != nullptr)
      std::fprintf(stderr, "  event %s %s: %s\n", kube::ObjectKey(object).c_str(), reason.c_str(),
                   message.c_str());
  };
  deps.operator_key = operator_key_;
  deps.templates = &bootstrap::Templates::Builtin();
  deps.clock = &clock;
  deps.identities = &identities_;
  ReconcilerOptions options;
  options.poll_interval = std::chrono::seconds(10);
  options.resync_interval = std::chrono::seconds(60);
  process.reconciler = std::make_unique<Reconciler>(std::move(deps), options);
  // A new process lists everything and reconciles every object once (the informer's ADDs).
  process.queue.clear();
  process.failures.clear();
  StatusOr<kube::ListResult> all = kube.List(PyGridClusters(), "");
  if (all.ok()) {
    for (const json& object : all->items) process.queue[kube::ObjectKey(object)] = clock.Now();
  }
}

void SimOperator::RefuseWatches(bool on) {
  watches_refused_ = on;
  if (on) return;
  seen_meta_.clear();  // the relist's diff: every object is looked at again
  StatusOr<kube::ListResult> all = kube.List(PyGridClusters(), "");
  if (all.ok()) {
    for (const json& object : all->items) OnChange(PyGridClusters(), kube::ObjectKey(object));
  }
}

void SimOperator::OnChange(const kube::ResourceRef& resource, const std::string& key) {
  if (watches_refused_) return;
  if (resource.resource == Secrets().resource) {
    auto [ns, name] = kube::SplitObjectKey(key);
    StatusOr<kube::ListResult> all = kube.List(PyGridClusters(), ns);
    if (!all.ok()) return;
    for (const json& object : all->items) {
      const json& ref = object["spec"].value("credentialsSecretRef", json::object());
      if (ref.value("name", "") == name) Enqueue(kube::ObjectKey(object));
    }
    return;
  }
  if (resource.resource != PyGridClusters().resource) return;
  auto [ns, name] = kube::SplitObjectKey(key);
  std::optional<json> object = kube.Find(PyGridClusters(), ns, name);
  if (!object) {
    seen_meta_.erase(key);
    Enqueue(key);
    return;
  }
  const json& meta = (*object)["metadata"];
  prefixes_[key] = api::InstancePrefixFor(name, meta.value("uid", ""));
  // Like the manager's generation-changed predicate: status-only writes do not enqueue.
  json interesting = {{"generation", meta.value("generation", 0)},
                      {"deletionTimestamp", meta.value("deletionTimestamp", "")},
                      {"finalizers", meta.value("finalizers", json::array())}};
  auto it = seen_meta_.find(key);
  if (it == seen_meta_.end() || it->second != interesting) {
    seen_meta_[key] = interesting;
    Enqueue(key);
  }
}

void SimOperator::Enqueue(const std::string& key, Clock::Duration after) {
  const Clock::TimePoint due = clock.Now() + after;
  for (Process& process : processes_) {  // every process has its own informer
    auto it = process.queue.find(key);
    if (it == process.queue.end() || due < it->second) process.queue[key] = due;
  }
}

std::optional<std::pair<SimOperator::Process*, std::string>> SimOperator::NextDue() {
  std::optional<std::pair<Process*, std::string>> best;
  Clock::TimePoint best_due{};
  for (Process& process : processes_) {
    for (const auto& [key, due] : process.queue) {
      if (!best || due < best_due) {
        best = std::make_pair(&process, key);
        best_due = due;
      }
    }
  }
  return best;
}

void SimOperator::ApplySecret(const std::string& ns, const std::string& name,
                              const std::string& token) {
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", name}, {"namespace", ns}}},
                 {"data", {{"token", Base64Encode(token)}}}};
  std::optional<json> existing = kube.Find(Secrets(), ns, name);
  if (existing) {
    secret["metadata"]["resourceVersion"] = (*existing)["metadata"]["resourceVersion"];
    (void)kube.Update(Secrets(), ns, secret);
  } else {
    (void)kube.Create(Secrets(), ns, secret);
  }
}

void SimOperator::DeleteSecret(const std::string& ns, const std::string& name) {
  (void)kube.Delete(Secrets(), ns, name);
}

void SimOperator::ApplyCluster(const json& object) {
  const std::string ns = object["metadata"].value("namespace", "default");
  const std::string name = object["metadata"].value("name", "");
  std::optional<json> existing = kube.Find(PyGridClusters(), ns, name);
  if (!existing) {
    (void)kube.Create(PyGridClusters(), ns, object);
    return;
  }
  json updated = *existing;
  updated["spec"] = object["spec"];
  (void)kube.Update(PyGridClusters(), ns, updated);
}

void SimOperator::EditCluster(const std::string& key, const std::function<void(json&)>& edit) {
  auto [ns, name] = kube::SplitObjectKey(key);
  std::optional<json> existing = kube.Find(PyGridClusters(), ns, name);
  if (!existing) return;
  edit(*existing);
  (void)kube.Update(PyGridClusters(), ns, *existing);
}

void SimOperator::DeleteCluster(const std::string& key) {
  auto [ns, name] = kube::SplitObjectKey(key);
  (void)kube.Delete(PyGridClusters(), ns, name);
}

std::optional<json> SimOperator::Cluster(const std::string& key) const {
  auto [ns, name] = kube::SplitObjectKey(key);
  return kube.Find(PyGridClusters(), ns, name);
}

std::string SimOperator::Condition(const std::string& key, const std::string& type,
                                   std::string* reason) const {
  std::optional<json> object = Cluster(key);
  if (!object || !object->contains("status")) return "";
  StatusOr<api::ClusterStatus> status = api::StatusFromJson((*object)["status"]);
  if (!status.ok()) return "";
  const api::Condition* condition = api::FindCondition(status->conditions, type);
  if (condition == nullptr) return "";
  if (reason != nullptr) *reason = condition->reason;
  return condition->status;
}

bool SimOperator::HasEvent(const std::string& key, const std::string& reason) const {
  return std::any_of(events.begin(), events.end(),
                     [&](const RecordedEvent& e) { return e.key == key && e.reason == reason; });
}

void SimOperator::Crash(int which) {
  ++crashes_;
  cloud.CrashAfter(-1);
  StartProcess(processes_[static_cast<size_t>(which) % processes_.size()]);
}

bool SimOperator::Step() {
  std::optional<std::pair<Process*, std::string>> next = NextDue();
  if (!next) return false;
  Process& process = *next->first;
  const std::string key = next->second;
  const Clock::TimePoint due = process.queue[key];
  if (due > clock.Now()) clock.Advance(due - clock.Now());
  process.queue.erase(key);
  ++reconciles_;
  cloud.BeginRound(static_cast<int>(&process - processes_.data()));
  if (std::getenv("PYGRID_SIM_TRACE") != nullptr) {
    std::optional<json> object = Cluster(key);
    std::fprintf(stderr, "t=%llds p%d reconcile %s%s\n",
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(
                                            clock.Now().time_since_epoch())
                                            .count()),
                 static_cast<int>(&process - processes_.data()), key.c_str(),
                 !object                                               ? " (gone)"
                 : (*object)["metadata"].contains("deletionTimestamp") ? " (deleting)"
                                                                       : "");
  }
  if (on_round) on_round(key, true);
  try {
    last_result_ = process.reconciler->Reconcile(key);
  } catch (const SimulatedCrash&) {
    if (on_round) on_round(key, false);
    Crash(static_cast<int>(&process - processes_.data()));
    return true;
  }
  if (on_round) on_round(key, false);
  auto requeue = [&](Clock::Duration after) {
    const Clock::TimePoint at = clock.Now() + after;
    auto it = process.queue.find(key);
    if (it == process.queue.end() || at < it->second) process.queue[key] = at;
  };
  using Action = kube::ReconcileResult::Action;
  switch (last_result_.action()) {
    case Action::kDone:
    case Action::kTerminalError:
      process.failures.erase(key);
      break;
    case Action::kRequeueAfter:
      process.failures.erase(key);
      requeue(last_result_.after());
      break;
    case Action::kRequeue:
    case Action::kError: {
      // The workqueue's per-item exponential backoff (5 ms doubling, here capped at 60 s).
      const int n = std::min(++process.failures[key], 14);
      requeue(std::min<Clock::Duration>(std::chrono::milliseconds(5) * (1 << n),
                                        std::chrono::seconds(60)));
      break;
    }
  }
  return true;
}

void SimOperator::RunFor(Clock::Duration horizon) {
  const Clock::TimePoint end = clock.Now() + horizon;
  for (std::optional<std::pair<Process*, std::string>> next = NextDue();
       next && next->first->queue[next->second] <= end; next = NextDue()) {
    Step();
  }
  if (clock.Now() < end) clock.Advance(end - clock.Now());
}

std::string SimOperator::PrefixOf(const std::string& key) const {
  auto it = prefixes_.find(key);
  return it == prefixes_.end() ? "" : it->second + "-";
}

std::vector<const SimInstance*> SimOperator::Instances(const std::string& key) const {
  const std::string prefix = PrefixOf(key);
  if (prefix.empty()) return {};
  return cloud.Live(prefix);
}

bool SimOperator::Converged(const std::string& key, std::string* why) const {
  auto fail = [&](const std::string& reason) {
    if (why != nullptr) *why = reason;
    return false;
  };
  std::optional<json> object = Cluster(key);
  if (!object) return fail("no such cluster");
  StatusOr<api::PyGridCluster> cluster = api::ClusterFromJson(*object);
  if (!cluster.ok()) return fail("unparsable");
  if (cluster->status.observed_generation != cluster->metadata.generation)
    return fail("observedGeneration behind");
  std::string reason;
  if (Condition(key, "Ready", &reason) != "True") {
    const api::Condition* ready = api::FindCondition(cluster->status.conditions, "Ready");
    return fail("Ready is not True: " + reason + " (" + (ready ? ready->message : "") + ")");
  }
  const int replicas = cluster->spec.workers.replicas;
  if (cluster->status.ready_workers != replicas) return fail("workers not ready");
  std::vector<const SimInstance*> live = Instances(key);
  if (static_cast<int>(live.size()) != replicas + 1)
    return fail(std::to_string(live.size()) + " live instances for " + std::to_string(replicas) +
                " workers");
  return true;
}

}  // namespace pygrid::controller::testing
