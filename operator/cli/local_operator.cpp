#include "cli/local_operator.h"

#include <thread>

#include "api/conditions.h"
#include "api/json.h"
#include "cloud/genesis/genesis_client.h"
#include "controller/planner.h"
#include "controller/resources.h"
#include "core/base64.h"
#include "kube/workqueue.h"
#include "observability/redact.h"

namespace pygrid::cli {

namespace {

using nlohmann::json;

// The namespace of the reconciler's token copies. Secrets are never written, so it only has to
// differ from the grid's own namespace.
constexpr char kOperatorNamespace[] = "pygrid-system";

}  // namespace

LocalOperator::LocalOperator(const LocalOperatorOptions& options, kube::FileKubeClient& store,
                             std::string token, bootstrap::SshKeyPair operator_key)
    : store_(store), token_(std::move(token)), prober_(probe::MakeProber()) {
  clouds_ = std::make_unique<controller::CloudAccounts>(
      [options](const std::string& account_token) -> cloud::CloudProviderPtr {
        cloud::genesis::GenesisOptions genesis;
        genesis.base_url = options.genesis_api_url;
        genesis.token = account_token;
        genesis.requests_per_second = options.genesis_requests_per_second;
        genesis.request_timeout = options.genesis_request_timeout;
        return cloud::genesis::MakeGenesisClient(std::move(genesis));
      },
      RealClock::Instance(),
      controller::CloudAccountsOptions{
          std::chrono::duration_cast<Clock::Duration>(options.poll_interval / 2),
          std::chrono::minutes(10), std::chrono::seconds(30)});
  controller::ReconcilerDeps deps;
  deps.kube = &store_;
  deps.get_cluster = [this](const std::string& key) {
    auto [ns, name] = kube::SplitObjectKey(key);
    return store_.Find(controller::PyGridClusters(), ns, name);
  };
  deps.get_secret = [this](const std::string& key) {
    auto [ns, name] = kube::SplitObjectKey(key);
    return store_.Find(controller::Secrets(), ns, name);
  };
  deps.list_clusters = [this] {
    StatusOr<kube::ListResult> all = store_.List(controller::PyGridClusters(), "");
    return all.ok() ? all->items : std::vector<json>{};
  };
  deps.clouds = clouds_.get();
  deps.prober = prober_.get();
  deps.events = [this](const json&, bool warning, const std::string& reason,
                       const std::string& message) {
    std::lock_guard<std::mutex> lock(events_mu_);
    events_.push_back(observability::Redact(std::string(warning ? "warning " : "event ") + reason +
                                            ": " + message));
  };
  deps.operator_key = std::move(operator_key);
  deps.templates =
      options.templates != nullptr ? options.templates : &bootstrap::Templates::Builtin();
  deps.clock = &RealClock::Instance();
  deps.executor = &executor_;
  controller::ReconcilerOptions reconciler_options;
  reconciler_options.poll_interval = options.poll_interval;
  reconciler_options.resync_interval = options.resync_interval;
  reconciler_options.ssh_port = options.ssh_port;
  reconciler_options.ssh_user = options.ssh_user;
  reconciler_options.operator_namespace = kOperatorNamespace;
  reconciler_ = std::make_unique<controller::Reconciler>(std::move(deps), reconciler_options);
}

LocalOperator::~LocalOperator() = default;

Status LocalOperator::ProvideCredentials(const json& cluster) {
  const json ref =
      cluster.value("spec", json::object()).value("credentialsSecretRef", json::object());
  const std::string ns = cluster["metadata"].value("namespace", "");
  const std::string name = ref.value("name", "");
  if (name.empty()) return Status::Ok();  // the planner reports the missing reference
  const json secret = {{"apiVersion", "v1"},
                       {"kind", "Secret"},
                       {"metadata", {{"name", name}, {"namespace", ns}}},
                       {"type", "Opaque"},
                       {"data", {{ref.value("key", "token"), Base64Encode(token_)}}}};
  if (store_.Find(controller::Secrets(), ns, name)) return Status::Ok();
  return store_.Create(controller::Secrets(), ns, secret).status();
}

kube::ReconcileResult LocalOperator::Reconcile(const std::string& key) {
  return reconciler_->Reconcile(key);
}

StatusOr<std::vector<cloud::Instance>> LocalOperator::AllInstances() {
  return clouds_->Instances(token_);
}

StatusOr<std::vector<cloud::Instance>> LocalOperator::InstancesWithPrefix(
    const std::string& prefix) {
  StatusOr<std::vector<cloud::Instance>> all = clouds_->Instances(token_);
  if (!all.ok()) return all.status();
  std::vector<cloud::Instance> owned;
  for (const cloud::Instance& instance : *all) {
    if (instance.name.compare(0, prefix.size(), prefix) == 0) owned.push_back(instance);
  }
  return owned;
}

StatusOr<cloud::SecurityGroup> LocalOperator::FindSecurityGroup(const std::string& name) {
  return clouds_->FindSecurityGroup(token_, name, "");
}

Status LocalOperator::WarmUp(const api::ClusterSpec& spec) {
  return clouds_->ImageId(token_, spec.image).status();
}

std::vector<std::string> LocalOperator::TakeEvents() {
  std::lock_guard<std::mutex> lock(events_mu_);
  std::vector<std::string> taken;
  taken.swap(events_);
  return taken;
}

std::optional<json> StoredGrid(kube::FileKubeClient& store, const std::string& key) {
  auto [ns, name] = kube::SplitObjectKey(key);
  return store.Find(controller::PyGridClusters(), ns, name);
}

api::ClusterStatus StatusOfGrid(const json& object) {
  if (!object.contains("status")) return {};
  StatusOr<api::ClusterStatus> status = api::StatusFromJson(object["status"]);
  return status.ok() ? *status : api::ClusterStatus{};
}

namespace {

// Whether `goal` is reached, or (in `stalled`) why it never will be while this process runs.
bool Reached(const std::optional<json>& object, Goal goal, std::string& stalled) {
  if (!object) {
    if (goal != Goal::kGone) stalled = "the grid is gone from the state directory";
    return goal == Goal::kGone;
  }
  const api::ClusterStatus status = StatusOfGrid(*object);
  // The token is fixed for this process, and the spec was validated before it was stored (a
  // grid being deleted may be a stand-in without a valid spec: deletion goes by name).
  std::vector<const char*> fixed = {"CredentialsValid"};
  if (goal != Goal::kGone) fixed.push_back("SpecValid");
  for (const char* type : fixed) {
    const api::Condition* condition = api::FindCondition(status.conditions, type);
    if (condition == nullptr || condition->status != "False") continue;
    stalled = std::string(type) + " is False (" + condition->reason + ")" +
              (std::string(type) == "CredentialsValid"
                   ? ": the token from GENESISCLOUD_TOKEN or --token-file is not usable"
                   : ": " + observability::Redact(condition->message));
    return false;
  }
  if (goal == Goal::kGone) return false;
  const int64_t generation = (*object)["metadata"].value("generation", int64_t{0});
  if (status.observed_generation != generation) return false;
  if (goal == Goal::kSuspended) {
    return api::IsConditionTrue(status.conditions, api::kConditionSuspended);
  }
  const api::Condition* up_to_date = api::FindCondition(status.conditions, api::kConditionUpToDate);
  if (up_to_date != nullptr && up_to_date->status == "False") return false;  // still rolling out
  return api::IsConditionTrue(status.conditions, api::kConditionReady);
}

// For --detach: true while a new grid's first create is still held back (its security group is
// being made by the cloud), so the detached `up` waits for the creates it can send.
bool FirstCreateHeldBack(const std::optional<json>& object) {
  if (!object) return false;
  const api::ClusterStatus status = StatusOfGrid(*object);
  const bool sent = status.gateway && (!status.gateway->instance_id.empty() ||
                                       !status.gateway->create_requested_at.empty());
  const api::Condition* ready = api::FindCondition(status.conditions, api::kConditionReady);
  return !sent && ready != nullptr && ready->reason == controller::kReasonSecurityGroupPending;
}

}  // namespace

DriveOutcome Drive(LocalOperator& op, const std::string& key, Goal goal,
                   std::chrono::milliseconds timeout, const std::atomic<bool>& stop,
                   ProgressView& view, const std::function<void()>& show) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + timeout;
  // The workqueue's per-item backoff (client-go: 5 ms doubling), capped lower for a person.
  kube::ItemExponentialRateLimiter backoff(std::chrono::milliseconds(5), std::chrono::seconds(30));
  while (true) {
    const kube::ReconcileResult result = op.Reconcile(key);
    for (const std::string& event : op.TakeEvents()) view.Note(event);
    show();
    std::string stalled;
    const std::optional<json> stored = StoredGrid(op.store(), key);
    if (Reached(stored, goal, stalled) ||
        (goal == Goal::kOneRound && !FirstCreateHeldBack(stored))) {
      return {DriveOutcome::Kind::kReached, ""};
    }
    if (!stalled.empty()) return {DriveOutcome::Kind::kStalled, stalled};
    Clock::duration wait = std::chrono::seconds(0);
    switch (result.action()) {
      case kube::ReconcileResult::Action::kRequeueAfter:
        backoff.Forget(key);
        wait = result.after();
        break;
      case kube::ReconcileResult::Action::kRequeue:
      case kube::ReconcileResult::Action::kError:
        wait = backoff.When(key);
        if (!result.error().ok())
          view.Note("retrying: " + observability::Redact(result.error().message()));
        break;
      case kube::ReconcileResult::Action::kDone:
      case kube::ReconcileResult::Action::kTerminalError:
        // Nothing brings this object back but a change, and nobody else changes it here.
        return {DriveOutcome::Kind::kStalled,
                result.error().ok() ? "the reconciler is waiting for a change of the grid"
                                    : observability::Redact(result.error().message())};
    }
    const Clock::time_point next = Clock::now() + wait;
    while (Clock::now() < next) {
      if (stop.load()) return {DriveOutcome::Kind::kInterrupted, ""};
      if (Clock::now() >= deadline) return {DriveOutcome::Kind::kTimedOut, ""};
      std::this_thread::sleep_for(
          std::min<Clock::duration>(std::chrono::milliseconds(100), next - Clock::now()));
      view.Tick();
    }
    if (stop.load()) return {DriveOutcome::Kind::kInterrupted, ""};
    if (Clock::now() >= deadline) return {DriveOutcome::Kind::kTimedOut, ""};
  }
}

}  // namespace pygrid::cli
