#include "controller/reconciler.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "api/conditions.h"
#include "api/defaults.h"
#include "api/json.h"
#include "api/naming.h"
#include "api/validation.h"
#include "bootstrap/user_data.h"
#include "controller/credentials.h"
#include "controller/instance_state.h"
#include "controller/planner.h"
#include "controller/resources.h"
#include "controller/security_groups.h"
#include "kube/client.h"
#include "kube/status_writer.h"
#include "observability/log.h"
#include "observability/metrics.h"
#include "probe/prober.h"

namespace pygrid::controller {

using kube::ReconcileResult;
using nlohmann::json;

namespace {

const observability::Logger& Log() {
  static const observability::Logger logger("controller.pygridcluster");
  return logger;
}

bool HasFinalizer(const json& object) {
  const json& finalizers = object["metadata"].value("finalizers", json::array());
  return std::find(finalizers.begin(), finalizers.end(), api::kFinalizer) != finalizers.end();
}

// The parsed object, or (when fields have the wrong type, only possible without the CRD's
// schema) its metadata and old status with the parse errors as spec errors.
void ParseObject(const json& object, Observations& seen) {
  StatusOr<api::PyGridCluster> parsed = api::ClusterFromJson(object);
  if (parsed.ok()) {
    seen.cluster = std::move(*parsed);
    api::ApplyDefaults(seen.cluster.spec);
    seen.spec_errors = api::ValidateCluster(seen.cluster);
    return;
  }
  const json& metadata = object.value("metadata", json::object());
  seen.cluster.metadata.name = metadata.value("name", "");
  seen.cluster.metadata.namespace_name = metadata.value("namespace", "");
  seen.cluster.metadata.uid = metadata.value("uid", "");
  seen.cluster.metadata.generation = metadata.value("generation", int64_t{0});
  seen.cluster.metadata.deletion_timestamp = metadata.value("deletionTimestamp", "");
  StatusOr<api::ClusterStatus> old = api::StatusFromJson(object.value("status", json()));
  if (old.ok()) seen.cluster.status = *old;
  seen.spec_errors = parsed.status().causes();
  if (seen.spec_errors.empty()) seen.spec_errors.push_back({"", parsed.status().message(), ""});
  // Deletion still needs the credentials: read their reference on its own if it is readable.
  const json spec = object.value("spec", json::object());
  const json ref = spec.is_object() ? spec.value("credentialsSecretRef", json::object()) : json();
  if (ref.is_object() && ref.value("name", json()).is_string()) {
    seen.cluster.spec.credentials_secret_ref.name = ref["name"].get<std::string>();
    const json key = ref.value("key", json("token"));
    seen.cluster.spec.credentials_secret_ref.key =
        key.is_string() ? key.get<std::string>() : "token";
  }
}

}  // namespace

// One reconcile of one object: holds the working copy (its resourceVersion advances with
// every write).
class Reconciler::Round {
 public:
  Round(Reconciler& owner, std::string key)
      : owner_(owner), deps_(owner.deps_), options_(owner.options_), key_(std::move(key)) {
    std::tie(ns_, name_) = kube::SplitObjectKey(key_);
  }

  ReconcileResult Run();

 private:
  // The object to reconcile: the cache's copy, or a live read when the cache has not yet
  // seen this reconciler's last write (planning from an older status could create twice).
  std::optional<json> LoadObject();
  Observations Observe();
  void ObserveCloud(Observations& seen);
  // The shared-group names other grids of this account that are not being deleted need.
  std::set<std::string> GroupsNeededElsewhere(const std::string& uid);
  void ObserveProbes(Observations& seen);
  // How the operator reaches the instance at `host` over SSH, whose host key must be `pinned`.
  probe::SshTarget SshTargetFor(const std::string& host, const std::string& pinned) const;
  // Writes action.gateway_ip's join URL into the worker's inbox over SSH (pinned host key).
  Status DeliverGateway(const Observations& seen, const Action& action);
  ActReport Act(const Observations& seen, Plan& plan);
  ActionOutcome Create(const api::ClusterSpec& spec, const Action& action,
                       const api::ClusterStatus& status, const api::ImageStatus& image,
                       const std::vector<std::string>& ssh_keys);
  Status RecordIntent(const api::ClusterSpec& spec, Plan& plan);
  // Writes the answered creates into the account's cached list and marks creates refused
  // because their security group is gone; true when an outcome is unknown (list again).
  bool RecordCreates(const Plan& plan, const std::vector<size_t>& creates, ActReport& report);
  Status UpdateFinalizers(bool present);
  // Creates or refreshes the operator's copy of the cluster's token.
  Status StoreCredentials(const Observations& seen);
  Status WriteStatus(const api::ClusterStatus& status);
  void Emit(const std::vector<PlannedEvent>& events);
  ReconcileResult Next(const NextStep& next);
  void PublishMetrics(const api::ClusterStatus& before, const api::ClusterStatus& after,
                      const Observations& seen);

  Reconciler& owner_;
  const ReconcilerDeps& deps_;
  const ReconcilerOptions& options_;
  const std::string key_;
  std::string ns_, name_;
  json object_;
  std::string token_;                                       // a secret: never logged
  std::map<std::string, bootstrap::SshKeyPair> host_keys_;  // this round's creates (secrets)
  bool gone_ = false;  // the finalizer was removed: the object may no longer exist
  // The status the server holds as far as this round knows (parsed, or last written).
  std::optional<api::ClusterStatus> known_status_;
};

namespace {

kube::StatusWriterOptions WriterOptions(int attempts) {
  kube::StatusWriterOptions options;
  options.steps = attempts;
  options.sleep = [](std::chrono::milliseconds) {};  // a fresh read follows every conflict
  return options;
}

}  // namespace

Reconciler::Reconciler(ReconcilerDeps deps, ReconcilerOptions options)
    : deps_(std::move(deps)),
      options_(std::move(options)),
      status_writer_(*deps_.kube, PyGridClusters(), WriterOptions(options_.status_write_attempts)) {
  if (deps_.executor == nullptr) deps_.executor = &inline_executor_;
  if (deps_.identities == nullptr) {
    own_identities_ = MakeIdentitySource();
    deps_.identities = own_identities_.get();
  }
}

Reconciler::~Reconciler() = default;

ReconcileResult Reconciler::Reconcile(const std::string& key) {
  auto [ns, name] = kube::SplitObjectKey(key);
  observability::ReconcileScope scope(kControllerName, ns, name);
  Round round(*this, key);
  return round.Run();
}

std::optional<ProbeObservation> Reconciler::CachedProbes(const std::string& key,
                                                         const std::string& fingerprint,
                                                         Clock::TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = probes_.find(key);
  if (it == probes_.end() || it->second.fingerprint != fingerprint ||
      now - it->second.at >= options_.resync_interval)
    return std::nullopt;
  return it->second.probes;
}

void Reconciler::CacheProbes(const std::string& key, const std::string& fingerprint,
                             Clock::TimePoint now, const ProbeObservation& probes) {
  std::lock_guard<std::mutex> lock(mu_);
  probes_[key] = {fingerprint, now, probes};
}

namespace {

// The value for `key`, "" when absent (mu held).
std::string ValueOf(const std::map<std::string, std::string>& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? "" : it->second;
}

// Stores `value`, or forgets the key when it is "" (mu held).
void Store(std::map<std::string, std::string>& map, const std::string& key,
           const std::string& value) {
  if (value.empty()) {
    map.erase(key);
  } else {
    map[key] = value;
  }
}

}  // namespace

std::string Reconciler::CopiedToken(const std::string& uid) {
  std::lock_guard<std::mutex> lock(mu_);
  return ValueOf(copied_tokens_, uid);
}

void Reconciler::SetCopiedToken(const std::string& uid, const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  Store(copied_tokens_, uid, token);
}

std::string Reconciler::WrittenVersion(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  return ValueOf(written_versions_, key);
}

void Reconciler::SetWrittenVersion(const std::string& key, const std::string& version) {
  std::lock_guard<std::mutex> lock(mu_);
  Store(written_versions_, key, version);
  if (version.empty()) probes_.erase(key);
}

void Reconciler::PublishInstanceCounts(const std::string& key,
                                       std::map<std::pair<std::string, std::string>, int> counts) {
  if (deps_.metrics == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (counts.empty()) {
    instance_counts_.erase(key);
  } else {
    instance_counts_[key] = std::move(counts);
  }
  observability::InstanceCounts total;
  for (const auto& [unused, per_cluster] : instance_counts_) {
    for (const auto& [role_state, count] : per_cluster) total[role_state] += count;
  }
  deps_.metrics->SetInstanceCounts(total);
}

ReconcileResult Reconciler::Round::Run() {
  std::optional<json> object = LoadObject();
  if (!object) {
    if (deps_.metrics != nullptr) deps_.metrics->ForgetCluster(ns_, name_);
    owner_.PublishInstanceCounts(key_, {});
    owner_.SetWrittenVersion(key_, "");
    return ReconcileResult::Done();
  }
  object_ = std::move(*object);
  const Observations seen = Observe();
  if (seen.spec_errors.empty() || object_.contains("status")) known_status_ = seen.cluster.status;
  Plan plan = PlanRound(seen);
  const ActReport report = Act(seen, plan);
  const Conclusion done = Conclude(seen, plan, report);
  if (!gone_) {
    Status written = WriteStatus(done.status);
    if (!written.ok() && !written.IsNotFound()) {
      Emit(done.events);
      return written.IsConflict() ? ReconcileResult::Requeue() : ReconcileResult::Error(written);
    }
  }
  Emit(done.events);
  PublishMetrics(seen.cluster.status, done.status, seen);
  return Next(done.next);
}

std::optional<json> Reconciler::Round::LoadObject() {
  std::optional<json> cached = deps_.get_cluster(key_);
  const std::string written = owner_.WrittenVersion(key_);
  if (!cached || written.empty() || (*cached)["metadata"].value("resourceVersion", "") == written) {
    return cached;
  }
  StatusOr<json> live = deps_.kube->Get(PyGridClusters(), ns_, name_);
  if (live.ok()) return *live;
  if (live.status().IsNotFound()) return std::nullopt;
  return cached;  // the API is unreachable: the cache is the best we have, and writes are
                  // conditional on its resourceVersion anyway
}

Observations Reconciler::Round::Observe() {
  Observations seen;
  seen.now = deps_.clock->WallNow();
  seen.address_delivery_grace = options_.address_delivery_grace;
  ParseObject(object_, seen);
  seen.has_finalizer = HasFinalizer(object_);
  seen.being_deleted = !seen.cluster.metadata.deletion_timestamp.empty();
  if (seen.being_deleted) {
    if (!seen.has_finalizer) return seen;
    if (seen.spec_errors.empty() &&
        seen.cluster.spec.deletion_policy == api::DeletionPolicy::kRetain)
      return seen;
  } else if (!seen.spec_errors.empty()) {
    return seen;
  }
  const api::SecretKeyRef& ref = seen.cluster.spec.credentials_secret_ref;
  const std::optional<json> secret =
      ref.name.empty() ? std::nullopt : deps_.get_secret(ns_ + "/" + ref.name);
  CredentialsOrProblem credentials = ReadToken(secret, ns_, ref);
  if (!credentials.problem.ok() && seen.being_deleted) {
    // The user's Secret went first (or with its namespace): the operator's copy remains.
    StatusOr<json> copy = deps_.kube->Get(Secrets(), options_.operator_namespace,
                                          CredentialsCopyName(seen.cluster.metadata.uid));
    if (copy.ok()) {
      CredentialsOrProblem copied =
          ReadToken(*copy, options_.operator_namespace,
                    {copy->at("metadata").value("name", ""), kCredentialsCopyKey});
      if (copied.problem.ok()) {
        credentials = std::move(copied);
        credentials.problem.from_copy = true;
      }
    }
  }
  credentials.problem.copy_current =
      credentials.problem.from_copy ||
      (!credentials.token.empty() &&
       owner_.CopiedToken(seen.cluster.metadata.uid) == credentials.token);
  seen.credentials = credentials.problem;
  if (!credentials.problem.ok()) return seen;
  token_ = std::move(credentials.token);
  ObserveCloud(seen);
  if (!seen.being_deleted && seen.cloud.listed) ObserveProbes(seen);
  return seen;
}

void Reconciler::Round::ObserveCloud(Observations& seen) {
  const api::ClusterSpec& spec = seen.cluster.spec;
  const bool owned = spec.network.security_group_name.empty();
  if (!seen.being_deleted) {
    // Every round, from the account's cached group list (no request while it is fresh). The
    // group is shared by every grid of the account with the same region and ports, and never
    // waited for: while the cloud applies it the planner holds the creates back a poll.
    StatusOr<cloud::SecurityGroup> group =
        owned ? deps_.clouds->EnsureSecurityGroup(
                    token_, SharedSecurityGroupName(spec),
                    "PyGrid grids opening these ports (managed by pygrid-operator)", spec.region,
                    GridRules(spec))
              : deps_.clouds->FindSecurityGroup(token_, spec.network.security_group_name,
                                                spec.region);
    if (!group.ok()) {
      seen.cloud.error = group.status();
      seen.cloud.error_during = owned
                                    ? "ensuring the security group"
                                    : "finding security group " + spec.network.security_group_name;
      return;
    }
    seen.cloud.security_group_id = group->id;
    seen.cloud.security_group_pending = IsSecurityGroupPending(*group);
    if (!owned) seen.cloud.security_group_missing = MissingRules(*group, GridRules(spec));
  }
  // Deletion decides that nothing is left, so it lists afresh: a cached list could predate an
  // instance made since by someone else (another operator process, a late create).
  if (seen.being_deleted) deps_.clouds->Invalidate(token_);
  StatusOr<CloudAccounts::InstanceList> all = deps_.clouds->InstanceSnapshot(token_);
  if (!all.ok()) {
    seen.cloud.error = all.status();
    seen.cloud.error_during = "listing instances";
    return;
  }
  if (seen.being_deleted && owned) {
    StatusOr<std::vector<cloud::SecurityGroup>> groups = deps_.clouds->SecurityGroups(token_);
    if (!groups.ok()) {
      seen.cloud.error = groups.status();
      seen.cloud.error_during = "listing security groups";
      return;
    }
    seen.cloud.account_groups = std::move(*groups);
    seen.cloud.groups_needed_elsewhere = GroupsNeededElsewhere(seen.cluster.metadata.uid);
  }
  const std::string prefix = api::InstancePrefixFor(name_, seen.cluster.metadata.uid) + "-";
  for (const cloud::Instance& instance : **all) {
    if (instance.name.compare(0, prefix.size(), prefix) == 0)
      seen.cloud.instances.push_back(instance);
  }
  // Only a deletion round looks at the others (who else uses a security group).
  if (seen.being_deleted && owned) seen.cloud.account_instances = **all;
  seen.cloud.listed = true;
}

std::set<std::string> Reconciler::Round::GroupsNeededElsewhere(const std::string& uid) {
  std::set<std::string> names;
  if (!deps_.list_clusters) return names;
  for (const json& object : deps_.list_clusters()) {
    const json& meta = object.value("metadata", json::object());
    if (meta.value("uid", "") == uid || !meta.value("deletionTimestamp", "").empty()) continue;
    StatusOr<api::PyGridCluster> other = api::ClusterFromJson(object);
    // One that does not parse creates nothing; once it does, it ensures its group again.
    if (!other.ok()) continue;
    api::ApplyDefaults(other->spec);
    if (!other->spec.network.security_group_name.empty()) continue;
    const api::SecretKeyRef& ref = other->spec.credentials_secret_ref;
    const std::string ns = meta.value("namespace", "");
    const CredentialsOrProblem credentials =
        ReadToken(ref.name.empty() ? std::nullopt : deps_.get_secret(ns + "/" + ref.name), ns, ref);
    // Another account's grid needs that account's group; one without usable credentials creates
    // nothing (and ensures the group again once it can).
    if (!credentials.problem.ok() || credentials.token != token_) continue;
    names.insert(SharedSecurityGroupName(other->spec));
  }
  return names;
}

void Reconciler::Round::ObserveProbes(Observations& seen) {
  const api::PyGridCluster& cluster = seen.cluster;
  const api::ClusterStatus& status = cluster.status;
  // A ready grid whose instances and spec are unchanged is probed once per resync interval; any
  // change of an instance (lost, stopped, replaced) probes at once.
  std::string fingerprint;
  for (const cloud::Instance& instance : seen.cloud.instances) {
    fingerprint += instance.id + "=" + instance.status + ";";
  }
  const Clock::TimePoint now = deps_.clock->Now();
  // Not while any instance runs an older spec: a rollout's batches are sized by fresh
  // readiness (a generation alone does not tell: a round that stopped early, say for a bad
  // token, records the new generation without having probed).
  if (status.phase == api::Phase::kReady && !AnyBuiltFromOlderSpec(cluster) &&
      status.observed_generation == cluster.metadata.generation) {
    std::optional<ProbeObservation> cached = owner_.CachedProbes(key_, fingerprint, now);
    if (cached) {
      seen.probes = std::move(*cached);
      return;
    }
  }
  const std::string gateway_name =
      api::InstanceNameFor(name_, cluster.metadata.uid, api::InstanceRole::kGateway, 0);
  for (const cloud::Instance& instance : seen.cloud.instances) {
    if (instance.name != gateway_name || !IsRunning(instance)) continue;
    StatusOr<probe::GatewayProbe> gateway = deps_.prober->ProbeGateway(
        "http://" + *instance.public_ip + ":" + std::to_string(cluster.spec.pygrid.gateway_port),
        cluster.spec.pygrid.flavor);
    if (gateway.ok()) {
      seen.probes.gateway_answers = gateway->answers;
      seen.probes.connected_nodes = gateway->connected_nodes;
    }
  }
  // SSH marker probes explain instances that are up but not (yet) serving.
  struct MarkerJob {
    std::string name;
    probe::SshTarget target;
    StatusOr<probe::MarkerProbe> result = Status::Internal("not probed");
  };
  std::vector<MarkerJob> jobs;
  for (const cloud::Instance& instance : seen.cloud.instances) {
    if (static_cast<int>(jobs.size()) >= options_.max_marker_probes) break;
    if (!IsRunning(instance)) continue;
    const bool is_gateway = instance.name == gateway_name;
    std::string pinned, node_id;
    if (is_gateway && status.gateway) {
      pinned = status.gateway->ssh_host_key;
      node_id = status.gateway->node_id;
    }
    for (const api::WorkerStatus& worker : status.workers) {
      if (!is_gateway && worker.name == instance.name) {
        pinned = worker.ssh_host_key;
        node_id = worker.node_id;
      }
    }
    if (pinned.empty()) continue;
    const bool serving =
        is_gateway ? seen.probes.gateway_answers : seen.probes.connected_nodes.count(node_id) > 0;
    if (serving) continue;
    MarkerJob job;
    job.name = instance.name;
    job.target = SshTargetFor(*instance.public_ip, pinned);
    jobs.push_back(std::move(job));
  }
  // Each worker the gateway lists is asked itself: a registration outlives a dead node.
  struct NodeJob {
    std::string name, url, node_id;
    StatusOr<probe::NodeProbe> result = Status::Internal("not probed");
  };
  std::vector<NodeJob> node_jobs;
  for (const cloud::Instance& instance : seen.cloud.instances) {
    if (instance.name == gateway_name || !IsRunning(instance)) continue;
    for (const api::WorkerStatus& worker : status.workers) {
      if (worker.name != instance.name || worker.node_id.empty() ||
          !seen.probes.connected_nodes.count(worker.node_id))
        continue;
      node_jobs.push_back(
          {instance.name,
           "http://" + *instance.public_ip + ":" + std::to_string(cluster.spec.pygrid.node_port),
           worker.node_id});
    }
  }
  std::vector<std::function<void()>> tasks;
  for (MarkerJob& job : jobs) {
    tasks.push_back(
        [&job, prober = deps_.prober] { job.result = prober->ProbeMarker(job.target); });
  }
  const api::Flavor flavor = cluster.spec.pygrid.flavor;
  for (NodeJob& job : node_jobs) {
    tasks.push_back([&job, flavor, prober = deps_.prober] {
      job.result = prober->ProbeNode(job.url, flavor, job.node_id);
    });
  }
  deps_.executor->RunAll(std::move(tasks));
  for (NodeJob& job : node_jobs) {
    seen.probes.nodes[job.name] =
        job.result.ok() ? *job.result : probe::NodeProbe{false, job.result.status().message()};
  }
  owner_.CacheProbes(key_, fingerprint, now, seen.probes);
  for (MarkerJob& job : jobs) {
    if (job.result.ok()) {
      seen.probes.markers[job.name] = *job.result;
      if (!job.result->delivered_gateway_url.empty())
        seen.probes.delivered_gateway[job.name] = job.result->delivered_gateway_url;
    } else if (job.result.status().remote_code() == probe::kHostKeyMismatch) {
      seen.probes.markers[job.name] = {probe::MarkerState::kFailed,
                                       "SSH host key does not match the pinned key"};
      seen.probes.identity_mismatch.insert(job.name);  // the planner replaces it, with an event
    } else {
      seen.probes.markers[job.name] = {probe::MarkerState::kUnreachable,
                                       job.result.status().message()};
    }
  }
}

ActReport Reconciler::Round::Act(const Observations& seen, Plan& plan) {
  const api::ClusterSpec& spec = seen.cluster.spec;
  ActReport report;
  report.outcomes.resize(plan.actions.size());
  bool failed = false;
  // The cached instance list keeps this process's answered creates and deletes; anything whose
  // outcome is unknown (or a start or stop) makes the next round list again.
  bool invalidate = false;
  auto stop_rest = [&](size_t from) {
    for (size_t i = from; i < plan.actions.size(); ++i) report.outcomes[i].ran = false;
  };

  // Finalizer and credentials copy first: nothing is created for an object that could vanish
  // without cleanup.
  for (size_t i = 0; i < plan.actions.size(); ++i) {
    const ActionKind kind = plan.actions[i].kind;
    if (kind != ActionKind::kAddFinalizer && kind != ActionKind::kStoreCredentials) continue;
    report.outcomes[i].result =
        kind == ActionKind::kAddFinalizer ? UpdateFinalizers(true) : StoreCredentials(seen);
    if (!report.outcomes[i].result.ok()) {
      stop_rest(i + 1);
      return report;
    }
  }

  // Deletes, starts and address deliveries, in parallel.
  std::vector<std::function<void()>> changes;
  for (size_t i = 0; i < plan.actions.size(); ++i) {
    const ActionKind kind = plan.actions[i].kind;
    if (kind == ActionKind::kDeliverGateway) {
      changes.push_back([this, &seen, &plan, &report, i] {
        report.outcomes[i].result = DeliverGateway(seen, plan.actions[i]);
      });
      continue;
    }
    if (kind != ActionKind::kDeleteInstance && kind != ActionKind::kStartInstance &&
        kind != ActionKind::kStopInstance)
      continue;
    changes.push_back([this, &plan, &report, i] {
      cloud::CloudProvider& cloud = deps_.clouds->For(token_);
      const Action& action = plan.actions[i];
      switch (action.kind) {
        case ActionKind::kDeleteInstance:
          report.outcomes[i].result = cloud.DeleteInstance(action.id);
          break;
        case ActionKind::kStartInstance:
          report.outcomes[i].result = cloud.StartInstance(action.id);
          break;
        default:
          report.outcomes[i].result = cloud.StopInstance(action.id);
          break;
      }
    });
  }
  deps_.executor->RunAll(std::move(changes));
  for (size_t i = 0; i < plan.actions.size(); ++i) {
    const Action& action = plan.actions[i];
    const Status& result = report.outcomes[i].result;
    if (action.kind == ActionKind::kDeleteInstance && (result.ok() || result.IsNotFound())) {
      deps_.clouds->RecordDeleting(token_, action.id);
    } else if (action.kind == ActionKind::kDeleteInstance ||
               action.kind == ActionKind::kStartInstance ||
               action.kind == ActionKind::kStopInstance) {
      invalidate = true;
    }
  }

  // Creates: record the intent, resolve the image and keys once, then POST in parallel.
  std::vector<size_t> creates;
  for (size_t i = 0; i < plan.actions.size(); ++i) {
    if (plan.actions[i].kind == ActionKind::kCreateInstance) creates.push_back(i);
  }
  if (!creates.empty()) {
    // The image first: the intent records it (status.image), and a baked one never changes
    // the spec hash (SpecHashFor ignores it), so nothing running is replaced for it.
    StatusOr<api::ImageStatus> image = ImageForCreates(*deps_.clouds, deps_.bakery, token_, spec);
    Status ready = image.status();
    if (ready.ok()) {
      const bool switched = image->baked && !(plan.status.image && plan.status.image->baked);
      plan.status.image = *image;
      ready = RecordIntent(spec, plan);
      if (ready.ok() && switched && deps_.events) {
        deps_.events(object_, false, "PreparedImage",
                     "New instances boot from the baked image " + image->id +
                         " (driver, Docker and PyGrid images installed)");
      }
    }
    std::vector<std::string> ssh_keys;
    if (ready.ok()) {
      StatusOr<std::vector<std::string>> keys = deps_.clouds->SshKeyIds(token_, spec.ssh_key_names);
      ready = keys.status();
      if (keys.ok()) ssh_keys = *keys;
    }
    if (!ready.ok()) {
      for (size_t i : creates) report.outcomes[i].result = ready;
    } else {
      std::vector<std::function<void()>> posts;
      for (size_t i : creates) {
        posts.push_back([this, &spec, &plan, &report, &image, &ssh_keys, i] {
          report.outcomes[i] = Create(spec, plan.actions[i], plan.status, *image, ssh_keys);
        });
      }
      deps_.executor->RunAll(std::move(posts));
      invalidate |= RecordCreates(plan, creates, report);
    }
  }
  if (invalidate) deps_.clouds->Invalidate(token_);

  for (size_t i = 0; i < plan.actions.size(); ++i) {
    const ActionKind kind = plan.actions[i].kind;
    if (kind == ActionKind::kAddFinalizer || kind == ActionKind::kStoreCredentials ||
        kind == ActionKind::kDeliverGateway)
      continue;
    if (kind == ActionKind::kDeleteSecurityGroup || kind == ActionKind::kDropCredentials ||
        kind == ActionKind::kRemoveFinalizer)
      continue;
    const Status& result = report.outcomes[i].result;
    failed |= !result.ok() && !(kind == ActionKind::kDeleteInstance && result.IsNotFound());
  }

  // Last: the security group and the finalizer, only when everything before succeeded.
  for (size_t i = 0; i < plan.actions.size(); ++i) {
    const Action& action = plan.actions[i];
    if (action.kind != ActionKind::kDeleteSecurityGroup &&
        action.kind != ActionKind::kDropCredentials && action.kind != ActionKind::kRemoveFinalizer)
      continue;
    if (failed) {
      report.outcomes[i].ran = false;
      continue;
    }
    if (action.kind == ActionKind::kDeleteSecurityGroup) {
      report.outcomes[i].result = deps_.clouds->For(token_).DeleteSecurityGroup(action.id);
      // In use after all (a grid created into it since the list): its users delete it later.
      if (report.outcomes[i].result.IsConflict()) continue;
    } else if (action.kind == ActionKind::kDropCredentials) {
      const std::string& uid = seen.cluster.metadata.uid;
      Status dropped =
          deps_.kube->Delete(Secrets(), options_.operator_namespace, CredentialsCopyName(uid));
      report.outcomes[i].result = dropped.IsNotFound() ? Status::Ok() : dropped;
      if (report.outcomes[i].result.ok()) owner_.SetCopiedToken(uid, "");
    } else {
      report.outcomes[i].result = UpdateFinalizers(false);
      if (report.outcomes[i].result.ok() || report.outcomes[i].result.IsNotFound()) {
        report.outcomes[i].result = Status::Ok();
        gone_ = true;
      }
    }
    failed |= !report.outcomes[i].result.ok() && !report.outcomes[i].result.IsNotFound();
  }
  return report;
}

bool Reconciler::Round::RecordCreates(const Plan& plan, const std::vector<size_t>& creates,
                                      ActReport& report) {
  bool unknown = false;
  std::optional<bool> group_gone;  // asked at most once per round
  for (size_t i : creates) {
    ActionOutcome& outcome = report.outcomes[i];
    if (outcome.created) {
      deps_.clouds->RecordCreated(token_, *outcome.created);
      continue;
    }
    const Status& result = outcome.result;
    unknown |= cloud::IsAmbiguousCreateFailure(result);
    // A refusal naming what the request referenced: is it the security group that went?
    if ((result.IsInvalid() || result.IsNotFound()) && !plan.status.security_group_id.empty()) {
      if (!group_gone) {
        StatusOr<bool> gone =
            deps_.clouds->SecurityGroupGone(token_, plan.status.security_group_id);
        group_gone = gone.ok() && *gone;
      }
      outcome.group_gone = *group_gone;
    }
  }
  return unknown;
}

Status Reconciler::Round::RecordIntent(const api::ClusterSpec& spec, Plan& plan) {
  // Secrets stay in memory for this round: the host private keys go only into user data.
  host_keys_.clear();
  for (const Action& action : plan.actions) {
    if (action.kind != ActionKind::kCreateInstance) continue;
    StatusOr<bootstrap::SshKeyPair> host_key = deps_.identities->HostKey(action.name);
    if (!host_key.ok()) return host_key.status();
    const bool runs_node =
        action.role == api::InstanceRole::kWorker || spec.gateway.colocated_worker;
    InstanceIdentity identity;
    identity.ssh_host_key = host_key->public_key;
    identity.requested_at = api::FormatTime(deps_.clock->WallNow());
    identity.spec_hash = SpecHashFor(action.role, spec);
    if (action.role == api::InstanceRole::kWorker) identity.gateway_ip = action.gateway_ip;
    if (runs_node) identity.node_id = action.name + "-" + deps_.identities->NodeIdSuffix();
    RecordIdentity(plan.status, action.name, identity);
    host_keys_[action.name] = std::move(*host_key);
  }
  return WriteStatus(plan.status);
}

ActionOutcome Reconciler::Round::Create(const api::ClusterSpec& spec, const Action& action,
                                        const api::ClusterStatus& status,
                                        const api::ImageStatus& image,
                                        const std::vector<std::string>& ssh_keys) {
  ActionOutcome outcome;
  const bootstrap::SshKeyPair& host_key = host_keys_.at(action.name);
  bootstrap::InstanceUserDataInput input;
  input.role = action.role;
  input.index = action.index;
  input.hostname = action.name;
  if (action.role == api::InstanceRole::kWorker) {
    input.gateway_private_ip = action.gateway_ip;  // "": it waits for delivery over SSH
    for (const api::WorkerStatus& worker : status.workers) {
      if (worker.name == action.name) input.node_id = worker.node_id;
    }
  } else {
    input.secret_key = deps_.identities->SecretKey();
    if (input.secret_key.empty()) {
      outcome.result = Status::Internal("no randomness for the gateway's SECRET_KEY");
      return outcome;
    }
    if (status.gateway) input.node_id = status.gateway->node_id;
  }
  input.operator_public_key = deps_.operator_key.public_key;
  input.host_private_key = host_key.private_key;
  input.host_public_key = host_key.public_key;
  input.prepared_image = image.prepared;
  StatusOr<std::string> user_data = bootstrap::RenderUserData(spec, input, *deps_.templates);
  if (!user_data.ok()) {
    outcome.result = user_data.status();
    return outcome;
  }
  cloud::CreateInstanceRequest request;
  request.name = action.name;
  request.hostname = action.name;
  request.type = action.role == api::InstanceRole::kGateway ? spec.gateway.instance_type
                                                            : spec.workers.instance_type;
  request.image = image.id;
  request.ssh_key_ids = ssh_keys;
  request.security_group_ids = {status.security_group_id};
  request.startup_script = std::move(*user_data);
  request.region = spec.region;
  cloud::CloudProvider& cloud = deps_.clouds->For(token_);
  StatusOr<cloud::Instance> created = cloud.CreateInstance(request);
  if (!created.ok() && cloud::IsAmbiguousCreateFailure(created.status())) {
    // The cloud may have created it: look it up by its unique name before anything else.
    StatusOr<std::optional<cloud::Instance>> found = cloud.FindInstanceByName(action.name);
    if (found.ok() && found->has_value()) {
      created = **found;
      outcome.adopted = true;
    }
  }
  if (!created.ok()) {
    outcome.result = created.status();
    return outcome;
  }
  Log().Info("created instance", {{"instance", action.name}, {"id", created->id}});
  outcome.created = *created;
  return outcome;
}

probe::SshTarget Reconciler::Round::SshTargetFor(const std::string& host,
                                                 const std::string& pinned) const {
  probe::SshTarget target;
  target.host = host;
  target.port = options_.ssh_port;
  target.user = options_.ssh_user;
  target.private_key = deps_.operator_key.private_key;
  target.pinned_host_key = pinned;
  target.timeout = options_.ssh_timeout;
  return target;
}

Status Reconciler::Round::DeliverGateway(const Observations& seen, const Action& action) {
  std::string host, pinned;
  for (const cloud::Instance& instance : seen.cloud.instances) {
    if (instance.id == action.id) host = instance.public_ip.value_or("");
  }
  for (const api::WorkerStatus& worker : seen.cluster.status.workers) {
    if (worker.name == action.name) pinned = worker.ssh_host_key;
  }
  if (host.empty() || pinned.empty()) {
    return Status::Unavailable("worker " + action.name + " has no address or pinned host key yet");
  }
  Status delivered = deps_.prober->DeliverGateway(
      SshTargetFor(host, pinned), GatewayJoinUrl(seen.cluster.spec, action.gateway_ip));
  if (delivered.ok()) {
    Log().Info("delivered the gateway address",
               {{"instance", action.name}, {"gateway", action.gateway_ip}});
  } else {
    Log().Info("could not deliver the gateway address yet",
               {{"instance", action.name}, {"error", delivered.message()}});
  }
  return delivered;
}

Status Reconciler::Round::StoreCredentials(const Observations& seen) {
  const api::ObjectMeta& meta = seen.cluster.metadata;
  const json copy = CredentialsCopy(options_.operator_namespace, meta, token_);
  StatusOr<json> created = deps_.kube->Create(Secrets(), options_.operator_namespace, copy);
  if (!created.ok() && created.status().IsAlreadyExists()) {
    StatusOr<json> existing =
        deps_.kube->Get(Secrets(), options_.operator_namespace, CredentialsCopyName(meta.uid));
    if (!existing.ok()) return existing.status();
    json updated = copy;
    updated["metadata"]["resourceVersion"] = (*existing)["metadata"].value("resourceVersion", "");
    created = deps_.kube->Update(Secrets(), options_.operator_namespace, updated);
  }
  if (!created.ok()) return created.status();
  owner_.SetCopiedToken(meta.uid, token_);
  return Status::Ok();
}

Status Reconciler::Round::UpdateFinalizers(bool present) {
  json body = object_;
  json finalizers = json::array();
  for (const json& f : object_["metadata"].value("finalizers", json::array())) {
    if (f != api::kFinalizer) finalizers.push_back(f);
  }
  if (present) finalizers.push_back(api::kFinalizer);
  body["metadata"]["finalizers"] = finalizers;
  StatusOr<json> written = deps_.kube->Update(PyGridClusters(), ns_, body);
  if (!written.ok()) return written.status();
  object_ = std::move(*written);
  owner_.SetWrittenVersion(key_, object_["metadata"].value("resourceVersion", ""));
  return Status::Ok();
}

Status Reconciler::Round::WriteStatus(const api::ClusterStatus& status) {
  if (known_status_ && *known_status_ == status) return Status::Ok();  // nothing changed
  kube::StatusWriter& writer = owner_.status_writer_;
  const int before = writer.writes();
  StatusOr<json> written = writer.Write(object_, api::StatusToJson(status));
  if (!written.ok()) {
    if (!written.status().IsConflict() && !written.status().IsNotFound()) {
      Log().Error("status write failed", written.status());
    }
    return written.status();
  }
  known_status_ = status;
  if (writer.writes() != before) {
    object_ = std::move(*written);
    owner_.SetWrittenVersion(key_, object_["metadata"].value("resourceVersion", ""));
  }
  return Status::Ok();
}

void Reconciler::Round::Emit(const std::vector<PlannedEvent>& events) {
  if (!deps_.events) return;
  for (const PlannedEvent& event : events) {
    deps_.events(object_, event.warning, event.reason, event.message);
  }
}

ReconcileResult Reconciler::Round::Next(const NextStep& next) {
  switch (next.kind) {
    case NextStep::Kind::kWaitForChange:
      return ReconcileResult::Done();
    case NextStep::Kind::kForget:
      if (deps_.metrics != nullptr) deps_.metrics->ForgetCluster(ns_, name_);
      owner_.PublishInstanceCounts(key_, {});
      owner_.SetWrittenVersion(key_, "");
      return ReconcileResult::Done();
    case NextStep::Kind::kPoll:
    case NextStep::Kind::kSettled:
      return ReconcileResult::RequeueAfter(options_.poll_interval);
    case NextStep::Kind::kSoon:
      return ReconcileResult::RequeueAfter(options_.poll_interval / 4);
    case NextStep::Kind::kSteady:
      if (!next.error.ok()) Log().Error("reconcile stalled", next.error);
      return ReconcileResult::RequeueAfter(options_.resync_interval);
    case NextStep::Kind::kAfter:
      return ReconcileResult::RequeueAfter(
          std::max<Clock::Duration>(options_.poll_interval, next.after));
    case NextStep::Kind::kBackoff:
      if (next.error.ok()) return ReconcileResult::Requeue();
      return ReconcileResult::Error(next.error);
  }
  return ReconcileResult::Requeue();
}

void Reconciler::Round::PublishMetrics(const api::ClusterStatus& before,
                                       const api::ClusterStatus& after, const Observations& seen) {
  if (deps_.metrics == nullptr || gone_) return;
  const api::PyGridCluster& cluster = seen.cluster;
  observability::ClusterState state;
  state.cluster_namespace = ns_;
  state.name = name_;
  state.uid = cluster.metadata.uid;
  state.flavor = api::FlavorName(cluster.spec.pygrid.flavor);
  state.phase = after.phase ? api::PhaseName(*after.phase) : "";
  state.ready = after.phase == api::Phase::kReady;
  state.workers_desired = cluster.spec.workers.replicas;
  state.workers_ready = after.ready_workers;
  deps_.metrics->SetClusterState(state);
  const bool first_ready = after.phase == api::Phase::kReady &&
                           before.phase != api::Phase::kReady &&
                           before.phase != api::Phase::kDegraded;
  if (first_ready) {
    std::optional<std::chrono::system_clock::time_point> created =
        api::ParseTime(cluster.metadata.creation_timestamp);
    if (created) {
      deps_.metrics->ObserveClusterProvisioned(
          cluster.metadata.uid, std::chrono::duration<double>(seen.now - *created).count());
    }
  }
  std::map<std::pair<std::string, std::string>, int> counts;
  if (after.gateway && !after.gateway->instance_id.empty()) {
    ++counts[{"gateway", after.gateway->state}];
  }
  for (const api::WorkerStatus& worker : after.workers) {
    if (!worker.instance_id.empty()) ++counts[{"worker", worker.state}];
  }
  owner_.PublishInstanceCounts(key_, std::move(counts));
}

}  // namespace pygrid::controller
