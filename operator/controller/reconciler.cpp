#include "controller/reconciler.h"

#include <algorithm>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "api/conditions.h"
#include "api/defaults.h"
#include "api/json.h"
#include "api/naming.h"
#include "api/validation.h"
#include "bootstrap/user_data.h"
#include "controller/planner.h"
#include "controller/resources.h"
#include "core/base64.h"
#include "kube/client.h"
#include "kube/event_recorder.h"
#include "observability/log.h"
#include "observability/metrics.h"
#include "observability/redact.h"
#include "probe/prober.h"

namespace pygrid::controller {

using kube::ReconcileResult;
using nlohmann::json;

namespace {

const observability::Logger& Log() {
  static const observability::Logger logger("controller.pygridcluster");
  return logger;
}

std::string RandomHex(size_t digits) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  std::ostringstream out;
  out << std::hex;
  for (size_t i = 0; i < digits; ++i) out << (rng() & 0xf);
  return out.str();
}

bool HasFinalizer(const json& object) {
  const json& finalizers = object["metadata"].value("finalizers", json::array());
  return std::find(finalizers.begin(), finalizers.end(), api::kFinalizer) != finalizers.end();
}

// Security group rules: SSH and the grid's two ports in, everything out (apt, image pulls).
// Genesis Cloud rules match protocol, direction and ports only (SPEC23
// compute.v1.SecurityGroup.Rule), so spec.network.allowedSourceCIDRs is enforced on each
// instance by cloud-init/pygrid-firewall.sh.
std::vector<cloud::SecurityRule> GridRules(const api::ClusterSpec& spec) {
  std::vector<cloud::SecurityRule> rules;
  std::vector<int> ports = {22, spec.pygrid.gateway_port, spec.pygrid.node_port};
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  for (int port : ports) rules.push_back({"tcp", "ingress", port, port});
  rules.push_back({"all", "egress", std::nullopt, std::nullopt});
  return rules;
}

}  // namespace

// One reconcile of one object: holds the working copy (its resourceVersion advances with
// every write) and the status being built.
class Reconciler::Round {
 public:
  Round(Reconciler& owner, std::string ns, std::string name)
      : owner_(owner),
        deps_(owner.deps_),
        options_(owner.options_),
        ns_(std::move(ns)),
        name_(std::move(name)) {}

  ReconcileResult Run();

 private:
  ReconcileResult RunDeletion();
  ReconcileResult RunLive();
  ReconcileResult InvalidSpec(const std::vector<FieldCause>& causes, const std::string& summary);

  // Writes `status` to /status when it differs from the object's; Conflict when stale.
  Status WriteStatus(api::ClusterStatus status);
  Status UpdateFinalizers(bool present);
  // Reads the API token from the referenced Secret; sets CredentialsValid when it cannot.
  std::optional<std::string> LoadToken();
  void Event(kube::EventType type, const std::string& reason, const std::string& message);
  void SetCondition(const char* type, bool ok, const std::string& reason,
                    const std::string& message);
  // Maps a cloud error onto conditions/events and the requeue decision.
  ReconcileResult CloudFailure(const std::string& what, const Status& error);
  Observations Observe(const std::string& token, const std::vector<cloud::Instance>& all);
  // Executes the plan's creates and deletes; returns the first error worth a requeue.
  std::optional<ReconcileResult> Act(const std::string& token, Plan& plan);
  void PublishMetrics(const api::ClusterStatus& before);

  Reconciler& owner_;
  const ReconcilerDeps& deps_;
  const ReconcilerOptions& options_;
  const std::string ns_, name_;
  json object_;
  api::PyGridCluster cluster_;
  api::ClusterStatus status_;  // what this round will write
};

Reconciler::Reconciler(ReconcilerDeps deps, ReconcilerOptions options)
    : deps_(std::move(deps)), options_(std::move(options)) {}

Reconciler::~Reconciler() = default;

ReconcileResult Reconciler::Reconcile(const std::string& key) {
  auto [ns, name] = kube::SplitObjectKey(key);
  observability::ReconcileScope scope(kControllerName, ns, name);
  Round round(*this, ns, name);
  return round.Run();
}

void Reconciler::PublishInstanceCounts(const std::string& key,
                                       std::map<std::pair<std::string, std::string>, int> counts) {
  if (deps_.metrics == nullptr) return;
  std::lock_guard<std::mutex> lock(counts_mu_);
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
  std::optional<json> cached = deps_.get_cluster(ns_ + "/" + name_);
  if (!cached) {
    if (deps_.metrics != nullptr) deps_.metrics->ForgetCluster(ns_, name_);
    owner_.PublishInstanceCounts(ns_ + "/" + name_, {});
    return ReconcileResult::Done();
  }
  object_ = std::move(*cached);
  StatusOr<api::PyGridCluster> parsed = api::ClusterFromJson(object_);
  if (!parsed.ok()) {
    // Fields of the wrong type (only possible without the CRD's schema): keep what status
    // we can read and say what is wrong.
    StatusOr<api::ClusterStatus> old = api::StatusFromJson(object_.value("status", json()));
    status_ = old.ok() ? *old : api::ClusterStatus{};
    cluster_.metadata.generation = object_["metadata"].value("generation", int64_t{0});
    return InvalidSpec(parsed.status().causes(), parsed.status().message());
  }
  cluster_ = std::move(*parsed);
  status_ = cluster_.status;
  if (!cluster_.metadata.deletion_timestamp.empty()) return RunDeletion();
  return RunLive();
}

ReconcileResult Reconciler::Round::InvalidSpec(const std::vector<FieldCause>& causes,
                                               const std::string& summary) {
  const std::string message = causes.empty() ? summary : api::JoinCauses(causes);
  const api::Condition* before = api::FindCondition(status_.conditions, api::kConditionSpecValid);
  const bool news = before == nullptr || before->status != "False" || before->message != message;
  SetCondition(api::kConditionSpecValid, false, "InvalidSpec", message);
  SetCondition(api::kConditionReady, false, "InvalidSpec", "the spec is invalid: " + message);
  status_.phase = api::Phase::kFailed;
  status_.observed_generation = cluster_.metadata.generation;
  if (news) Event(kube::EventType::kWarning, "InvalidSpec", message);
  Log().Info("spec is invalid; waiting for it to change", {{"causes", message}});
  Status written = WriteStatus(status_);
  if (written.IsConflict()) return ReconcileResult::Requeue();
  // No retry loop: the next spec change (a new generation) brings the key back.
  return ReconcileResult::Done();
}

void Reconciler::Round::SetCondition(const char* type, bool ok, const std::string& reason,
                                     const std::string& message) {
  api::SetCondition(
      status_.conditions,
      {type, ok ? "True" : "False", cluster_.metadata.generation, "", reason, message},
      deps_.clock->WallNow());
}

void Reconciler::Round::Event(kube::EventType type, const std::string& reason,
                              const std::string& message) {
  if (deps_.events != nullptr) deps_.events->Event(object_, type, reason, message);
}

Status Reconciler::Round::WriteStatus(api::ClusterStatus status) {
  const json desired = api::StatusToJson(status);
  if (object_.contains("status") && object_["status"] == desired) return Status::Ok();
  json body = object_;
  body["status"] = desired;
  StatusOr<json> written = deps_.kube->UpdateStatus(PyGridClusters(), ns_, body);
  if (!written.ok()) {
    if (!written.status().IsConflict() && !written.status().IsNotFound()) {
      Log().Error("status write failed", written.status());
    }
    return written.status();
  }
  object_ = std::move(*written);
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
  return Status::Ok();
}

std::optional<std::string> Reconciler::Round::LoadToken() {
  const api::SecretKeyRef& ref = cluster_.spec.credentials_secret_ref;
  const std::string where = "Secret " + ns_ + "/" + ref.name;
  std::optional<json> secret = deps_.get_secret(ns_ + "/" + ref.name);
  std::string reason, message;
  std::string token;
  if (!secret) {
    reason = "SecretNotFound";
    message = where + " does not exist";
  } else if (!(*secret)["data"].contains(ref.key)) {
    reason = "SecretKeyMissing";
    message = where + " has no key " + ref.key;
  } else {
    std::optional<std::string> decoded =
        Base64Decode((*secret)["data"][ref.key].get<std::string>());
    token = decoded.value_or("");
    while (!token.empty() &&
           (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
      token.pop_back();
    }
    if (!token.empty()) observability::RegisterSecret(token);  // defence in depth for logs
    if (token.empty()) {
      reason = "TokenEmpty";
      message = where + " key " + ref.key + " holds no token";
    }
  }
  if (!reason.empty()) {
    const api::Condition* before =
        api::FindCondition(status_.conditions, api::kConditionCredentialsValid);
    if (before == nullptr || before->reason != reason)
      Event(kube::EventType::kWarning, reason, message);
    SetCondition(api::kConditionCredentialsValid, false, reason, message);
    return std::nullopt;
  }
  return token;
}

ReconcileResult Reconciler::Round::CloudFailure(const std::string& what, const Status& error) {
  Log().Error(what + " failed", error);
  if (error.IsUnauthorized() || error.IsForbidden()) {
    const api::Condition* before =
        api::FindCondition(status_.conditions, api::kConditionCredentialsValid);
    if (before == nullptr || before->reason != "TokenRejected") {
      Event(kube::EventType::kWarning, "TokenRejected",
            "Genesis Cloud rejected the API token (" + std::string(ErrorKindName(error.kind())) +
                ")");
    }
    SetCondition(api::kConditionCredentialsValid, false, "TokenRejected",
                 "Genesis Cloud rejected the token from Secret " + ns_ + "/" +
                     cluster_.spec.credentials_secret_ref.name);
    SetCondition(api::kConditionReady, false, "TokenRejected",
                 "Genesis Cloud rejected the API token");
    WriteStatus(status_);
    return ReconcileResult::RequeueAfter(options_.resync_interval);
  }
  if (error.IsRateLimited()) {
    SetCondition(api::kConditionReady, false, "RateLimited",
                 what + ": Genesis Cloud asked the operator to slow down");
    WriteStatus(status_);
    Clock::Duration after = options_.poll_interval;
    if (error.retry_after() && *error.retry_after() > after) after = *error.retry_after();
    return ReconcileResult::RequeueAfter(after);
  }
  if (!error.retryable()) {
    // Permanent (invalid type or image, quota): say so, retry only on a slow interval.
    const std::string reason = error.IsQuotaExceeded() ? "QuotaExceeded" : "CloudRequestRejected";
    Event(kube::EventType::kWarning, reason, what + ": " + error.ToString());
    SetCondition(api::kConditionReady, false, reason, what + ": " + error.ToString());
    WriteStatus(status_);
    return ReconcileResult::RequeueAfter(options_.resync_interval);
  }
  return ReconcileResult::Error(error);
}

ReconcileResult Reconciler::Round::RunDeletion() {
  if (!HasFinalizer(object_)) return ReconcileResult::Done();
  status_.phase = api::Phase::kDeleting;
  SetCondition(api::kConditionReady, false, "Deleting", "the cluster is being deleted");
  if (cluster_.spec.deletion_policy == api::DeletionPolicy::kRetain) {
    Event(kube::EventType::kNormal, "InstancesRetained",
          "deletionPolicy is Retain: the cluster's Genesis Cloud instances are kept");
    Status removed = UpdateFinalizers(false);
    if (removed.IsConflict()) return ReconcileResult::Requeue();
    if (!removed.ok() && !removed.IsNotFound()) return ReconcileResult::Error(removed);
    return ReconcileResult::Done();
  }
  std::optional<std::string> token = LoadToken();
  if (!token) {
    WriteStatus(status_);
    // Without credentials the instances cannot be deleted; the Secret's watch retriggers.
    return ReconcileResult::RequeueAfter(options_.resync_interval);
  }
  deps_.clouds->Invalidate(*token);
  StatusOr<std::vector<cloud::Instance>> all = deps_.clouds->Instances(*token);
  if (!all.ok()) return CloudFailure("listing instances", all.status());
  Observations seen;
  seen.instances = *all;
  DeletionPlan plan = PlanDeletion(cluster_, seen);
  cloud::CloudProvider& cloud = deps_.clouds->For(*token);
  for (const Action& action : plan.actions) {
    Status deleted = cloud.DeleteInstance(action.instance_id);
    if (!deleted.ok() && !deleted.IsNotFound())
      return CloudFailure("deleting " + action.name, deleted);
    Event(kube::EventType::kNormal, "InstanceDeleted", action.message);
  }
  if (!plan.actions.empty()) deps_.clouds->Invalidate(*token);
  if (!plan.done) {
    Status written = WriteStatus(status_);
    if (written.IsConflict()) return ReconcileResult::Requeue();
    return ReconcileResult::RequeueAfter(options_.poll_interval);
  }
  // Every instance is gone (404): drop the security group the operator made, if unused.
  if (!status_.security_group_id.empty() && cluster_.spec.network.security_group_name.empty()) {
    bool used = false;
    for (const cloud::Instance& instance : *all) {
      for (const cloud::ResourceRef& group : instance.security_groups)
        used |= group.id == status_.security_group_id;
    }
    if (!used) {
      Status deleted = cloud.DeleteSecurityGroup(status_.security_group_id);
      if (!deleted.ok() && !deleted.IsNotFound())
        return CloudFailure("deleting the security group", deleted);
    }
  }
  Status removed = UpdateFinalizers(false);
  if (removed.IsConflict()) return ReconcileResult::Requeue();
  if (!removed.ok() && !removed.IsNotFound()) return ReconcileResult::Error(removed);
  Log().Info("cluster deleted; every instance is gone");
  if (deps_.metrics != nullptr) deps_.metrics->ForgetCluster(ns_, name_);
  owner_.PublishInstanceCounts(ns_ + "/" + name_, {});
  return ReconcileResult::Done();
}

ReconcileResult Reconciler::Round::RunLive() {
  if (!HasFinalizer(object_)) {
    Status added = UpdateFinalizers(true);
    if (added.IsConflict()) return ReconcileResult::Requeue();
    if (added.IsNotFound()) return ReconcileResult::Done();
    if (!added.ok()) return ReconcileResult::Error(added);
  }
  const api::ClusterStatus before = status_;
  api::ApplyDefaults(cluster_.spec);
  std::vector<FieldCause> causes = api::ValidateCluster(cluster_);
  if (!causes.empty()) return InvalidSpec(causes, "");
  SetCondition(api::kConditionSpecValid, true, "Valid", "the spec is valid");

  std::optional<std::string> token = LoadToken();
  if (!token) {
    SetCondition(api::kConditionReady, false, "CredentialsInvalid",
                 api::FindCondition(status_.conditions, api::kConditionCredentialsValid)->message);
    status_.phase = api::Phase::kFailed;
    status_.observed_generation = cluster_.metadata.generation;
    Status written = WriteStatus(status_);
    if (written.IsConflict()) return ReconcileResult::Requeue();
    PublishMetrics(before);
    return ReconcileResult::RequeueAfter(options_.resync_interval);
  }

  // The security group, once per spec generation.
  if (status_.security_group_id.empty() ||
      status_.observed_generation != cluster_.metadata.generation) {
    StatusOr<cloud::SecurityGroup> group = deps_.clouds->EnsureSecurityGroup(
        *token, api::SecurityGroupNameFor(name_, cluster_.spec),
        "PyGrid grid " + ns_ + "/" + name_ + " (managed by pygrid-operator)", cluster_.spec.region,
        GridRules(cluster_.spec));
    if (!group.ok()) return CloudFailure("ensuring the security group", group.status());
    status_.security_group_id = group->id;
  }
  StatusOr<std::vector<cloud::Instance>> all = deps_.clouds->Instances(*token);
  if (!all.ok()) return CloudFailure("listing instances", all.status());
  SetCondition(api::kConditionCredentialsValid, true, "TokenAccepted",
               "Genesis Cloud accepts the token");

  Observations seen = Observe(*token, *all);
  cluster_.status = status_;
  Plan plan = PlanCluster(cluster_, seen);
  // Keep this round's SpecValid/CredentialsValid and stamp transition times against before.
  api::ClusterStatus planned = plan.status;
  planned.conditions = status_.conditions;
  for (const api::Condition& condition : plan.status.conditions) {
    api::SetCondition(planned.conditions, condition, deps_.clock->WallNow());
  }
  status_ = planned;
  if (cluster_.spec.suspend) {
    plan.actions.clear();
    SetCondition(api::kConditionReady, plan.ready, plan.ready ? "Ready" : "Suspended",
                 "spec.suspend is true: instances are not created or deleted");
  }
  std::optional<ReconcileResult> failed = Act(*token, plan);
  Status written = WriteStatus(status_);
  if (written.IsConflict()) return ReconcileResult::Requeue();
  if (!written.ok() && !written.IsNotFound()) return ReconcileResult::Error(written);
  PublishMetrics(before);
  if (failed) return *failed;
  if (plan.settled) return ReconcileResult::RequeueAfter(options_.resync_interval);
  return ReconcileResult::RequeueAfter(options_.poll_interval);
}

Observations Reconciler::Round::Observe(const std::string& token,
                                        const std::vector<cloud::Instance>& all) {
  Observations seen;
  const std::string prefix = api::InstancePrefixFor(name_, cluster_.metadata.uid) + "-";
  for (const cloud::Instance& instance : all) {
    if (instance.name.compare(0, prefix.size(), prefix) == 0) seen.instances.push_back(instance);
  }
  const std::string gateway_name =
      api::InstanceNameFor(name_, cluster_.metadata.uid, api::InstanceRole::kGateway, 0);
  std::map<std::string, std::string> pinned;  // instance name -> pinned host key
  if (status_.gateway) pinned[status_.gateway->name] = status_.gateway->ssh_host_key;
  for (const api::WorkerStatus& worker : status_.workers) pinned[worker.name] = worker.ssh_host_key;
  for (const cloud::Instance& instance : seen.instances) {
    if (instance.name != gateway_name || instance.status != "active" || !instance.public_ip)
      continue;
    StatusOr<probe::GatewayProbe> gateway = deps_.prober->ProbeGateway(
        "http://" + *instance.public_ip + ":" + std::to_string(cluster_.spec.pygrid.gateway_port),
        cluster_.spec.pygrid.flavor);
    if (gateway.ok()) {
      seen.gateway_answers = gateway->answers;
      seen.connected_nodes = gateway->connected_nodes;
    }
  }
  // SSH marker probes explain instances that are up but not (yet) serving.
  std::vector<std::pair<std::string, std::future<StatusOr<probe::MarkerProbe>>>> probes;
  for (const cloud::Instance& instance : seen.instances) {
    if (static_cast<int>(probes.size()) >= options_.max_marker_probes) break;
    if (instance.status != "active" || !instance.public_ip) continue;
    const std::string& key = pinned[instance.name];
    if (key.empty()) continue;
    const bool is_gateway = instance.name == gateway_name;
    const std::string node_id = [&] {
      if (is_gateway) return status_.gateway ? status_.gateway->node_id : std::string();
      for (const api::WorkerStatus& w : status_.workers) {
        if (w.name == instance.name) return w.node_id;
      }
      return std::string();
    }();
    const bool serving =
        is_gateway ? seen.gateway_answers : seen.connected_nodes.count(node_id) > 0;
    if (serving) continue;
    probe::SshTarget target;
    target.host = *instance.public_ip;
    target.port = options_.ssh_port;
    target.user = options_.ssh_user;
    target.private_key = deps_.operator_key.private_key;
    target.pinned_host_key = key;
    target.timeout = options_.ssh_timeout;
    probe::Prober* prober = deps_.prober;
    probes.emplace_back(instance.name, std::async(std::launch::async, [prober, target] {
                          return prober->ProbeMarker(target);
                        }));
  }
  for (auto& [instance_name, future] : probes) {
    StatusOr<probe::MarkerProbe> marker = future.get();
    if (marker.ok()) {
      seen.markers[instance_name] = *marker;
    } else if (marker.status().remote_code() == probe::kHostKeyMismatch) {
      seen.markers[instance_name] = {probe::MarkerState::kFailed,
                                     "SSH host key does not match the pinned key"};
      Event(kube::EventType::kWarning, "HostKeyMismatch",
            "instance " + instance_name +
                " presented an SSH host key other than the one the operator gave it");
    } else {
      seen.markers[instance_name] = {probe::MarkerState::kUnreachable, marker.status().message()};
    }
  }
  return seen;
}

std::optional<ReconcileResult> Reconciler::Round::Act(const std::string& token, Plan& plan) {
  if (plan.actions.empty()) return std::nullopt;
  cloud::CloudProvider& cloud = deps_.clouds->For(token);
  std::optional<ReconcileResult> outcome;
  auto keep_first = [&](ReconcileResult result) {
    if (!outcome) outcome = std::move(result);
  };

  // Deletes, all at once.
  std::vector<std::pair<const Action*, std::future<Status>>> deletes;
  for (const Action& action : plan.actions) {
    if (action.kind != ActionKind::kDeleteInstance) continue;
    deletes.emplace_back(&action, std::async(std::launch::async, [&cloud, id = action.instance_id] {
      return cloud.DeleteInstance(id);
    }));
  }
  for (auto& [action, future] : deletes) {
    Status deleted = future.get();
    if (!deleted.ok() && !deleted.IsNotFound()) {
      keep_first(CloudFailure("deleting " + action->name, deleted));
      continue;
    }
    const bool warning =
        action->reason == "InstanceFailed" || action->reason == "DuplicateInstance";
    Event(warning ? kube::EventType::kWarning : kube::EventType::kNormal, action->reason,
          action->message);
    for (api::WorkerStatus& worker : status_.workers) {
      if (worker.instance_id == action->instance_id) worker.state = "deleting";
    }
    if (status_.gateway && status_.gateway->instance_id == action->instance_id)
      status_.gateway->state = "deleting";
  }

  // Creates: first write each new instance's identity (pinned host key, node id) to status,
  // so a crash after the POST leaves enough to adopt the instance by its name.
  struct Create {
    const Action* action;
    bootstrap::SshKeyPair host_key;
    std::string node_id;
  };
  std::vector<Create> creates;
  for (const Action& action : plan.actions) {
    if (action.kind == ActionKind::kDeleteInstance) continue;
    StatusOr<bootstrap::SshKeyPair> host_key = bootstrap::GenerateEd25519KeyPair(action.name);
    if (!host_key.ok()) return ReconcileResult::Error(host_key.status());
    const bool runs_node =
        action.kind == ActionKind::kCreateWorker || cluster_.spec.gateway.colocated_worker;
    creates.push_back({&action, *host_key, runs_node ? action.name + "-" + RandomHex(4) : ""});
    if (!action.reason.empty()) Event(kube::EventType::kWarning, action.reason, action.message);
  }
  if (creates.empty()) {
    if (!deletes.empty()) deps_.clouds->Invalidate(token);
    return outcome;
  }
  auto entry_for = [&](const Action& action) -> std::pair<std::string*, std::string*> {
    if (action.kind == ActionKind::kCreateGateway) {
      if (!status_.gateway) status_.gateway = api::GatewayStatus{};
      status_.gateway->name = action.name;
      return {&status_.gateway->ssh_host_key, &status_.gateway->node_id};
    }
    for (api::WorkerStatus& worker : status_.workers) {
      if (worker.name == action.name) return {&worker.ssh_host_key, &worker.node_id};
    }
    api::WorkerStatus worker;
    worker.name = action.name;
    worker.index = action.index;
    status_.workers.push_back(worker);
    return {&status_.workers.back().ssh_host_key, &status_.workers.back().node_id};
  };
  for (const Create& create : creates) {
    auto [key, node] = entry_for(*create.action);
    *key = create.host_key.public_key;
    *node = create.node_id;
  }
  Status intent = WriteStatus(status_);
  if (intent.IsConflict()) return ReconcileResult::Requeue();
  if (!intent.ok()) return ReconcileResult::Error(intent);

  StatusOr<std::string> image = deps_.clouds->ImageId(token, cluster_.spec.image);
  if (!image.ok()) return CloudFailure("finding image " + cluster_.spec.image, image.status());
  StatusOr<std::vector<std::string>> ssh_keys =
      deps_.clouds->SshKeyIds(token, cluster_.spec.ssh_key_names);
  if (!ssh_keys.ok())
    return CloudFailure("finding the SSH keys of spec.sshKeyNames", ssh_keys.status());

  std::vector<std::pair<const Create*, std::future<StatusOr<cloud::Instance>>>> posts;
  for (const Create& create : creates) {
    const Action& action = *create.action;
    bootstrap::InstanceUserDataInput input;
    input.role = action.kind == ActionKind::kCreateGateway ? api::InstanceRole::kGateway
                                                           : api::InstanceRole::kWorker;
    input.index = action.index;
    input.hostname = action.name;
    input.node_id = create.node_id;
    if (input.role == api::InstanceRole::kWorker) {
      input.gateway_private_ip = status_.gateway ? status_.gateway->private_ip : "";
    } else {
      input.secret_key = RandomHex(64);
    }
    input.operator_public_key = deps_.operator_key.public_key;
    input.host_private_key = create.host_key.private_key;
    input.host_public_key = create.host_key.public_key;
    StatusOr<std::string> user_data =
        bootstrap::RenderUserData(cluster_.spec, input, *deps_.templates);
    if (!user_data.ok())
      return CloudFailure("rendering the user data of " + action.name, user_data.status());
    cloud::CreateInstanceRequest request;
    request.name = action.name;
    request.hostname = action.name;
    request.type = input.role == api::InstanceRole::kGateway ? cluster_.spec.gateway.instance_type
                                                             : cluster_.spec.workers.instance_type;
    request.image = *image;
    request.ssh_key_ids = *ssh_keys;
    request.security_group_ids = {status_.security_group_id};
    request.startup_script = std::move(*user_data);
    request.region = cluster_.spec.region;
    posts.emplace_back(&create, std::async(std::launch::async, [&cloud, request] {
      return cloud.CreateInstance(request);
    }));
  }
  for (auto& [create, future] : posts) {
    const Action& action = *create->action;
    StatusOr<cloud::Instance> created = future.get();
    if (!created.ok() && cloud::IsAmbiguousCreateFailure(created.status())) {
      // The cloud may have created it: look it up by its unique name before anything else.
      const std::string failure = ErrorKindName(created.status().kind());
      StatusOr<std::optional<cloud::Instance>> found = cloud.FindInstanceByName(action.name);
      if (found.ok() && found->has_value()) {
        created = **found;
        Event(kube::EventType::kNormal, "InstanceAdopted",
              "the create of " + action.name + " failed ambiguously (" + failure +
                  ") but the instance exists; adopting it");
      }
    }
    if (!created.ok()) {
      keep_first(CloudFailure("creating instance " + action.name, created.status()));
      continue;
    }
    Event(kube::EventType::kNormal, "InstanceCreated",
          "created " +
              std::string(action.kind == ActionKind::kCreateGateway ? "gateway" : "worker") +
              " instance " + action.name + " (" + created->id + ")");
    Log().Info("created instance", {{"instance", action.name}, {"id", created->id}});
    if (action.kind == ActionKind::kCreateGateway) {
      status_.gateway->instance_id = created->id;
      status_.gateway->state = created->status;
    } else {
      for (api::WorkerStatus& worker : status_.workers) {
        if (worker.name != action.name) continue;
        worker.instance_id = created->id;
        worker.state = created->status;
      }
    }
  }
  deps_.clouds->Invalidate(token);
  return outcome;
}

void Reconciler::Round::PublishMetrics(const api::ClusterStatus& before) {
  if (deps_.metrics == nullptr) return;
  observability::ClusterState state;
  state.cluster_namespace = ns_;
  state.name = name_;
  state.uid = cluster_.metadata.uid;
  state.flavor = api::FlavorName(cluster_.spec.pygrid.flavor);
  state.phase = status_.phase ? api::PhaseName(*status_.phase) : "";
  state.ready = status_.phase == api::Phase::kReady;
  state.workers_desired = cluster_.spec.workers.replicas;
  state.workers_ready = status_.ready_workers;
  deps_.metrics->SetClusterState(state);
  const bool first_ready = status_.phase == api::Phase::kReady &&
                           before.phase != api::Phase::kReady &&
                           before.phase != api::Phase::kDegraded;
  if (first_ready) {
    std::optional<std::chrono::system_clock::time_point> created =
        api::ParseTime(cluster_.metadata.creation_timestamp);
    if (created) {
      deps_.metrics->ObserveClusterProvisioned(
          cluster_.metadata.uid,
          std::chrono::duration<double>(deps_.clock->WallNow() - *created).count());
    }
  }
  std::map<std::pair<std::string, std::string>, int> counts;
  if (status_.gateway && !status_.gateway->instance_id.empty()) {
    ++counts[{"gateway", status_.gateway->state}];
  }
  for (const api::WorkerStatus& worker : status_.workers) {
    if (!worker.instance_id.empty()) ++counts[{"worker", worker.state}];
  }
  owner_.PublishInstanceCounts(ns_ + "/" + name_, std::move(counts));
}

}  // namespace pygrid::controller
