#include "cli/standalone_commands.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <regex>
#include <set>

#include "api/conditions.h"
#include "api/defaults.h"
#include "api/json.h"
#include "api/naming.h"
#include "api/validation.h"
#include "cli/grid_file.h"
#include "cli/local_operator.h"
#include "cli/standalone_flags.h"
#include "cli/state_dir.h"
#include "controller/credentials.h"
#include "controller/resources.h"
#include "core/base64.h"
#include "kube/atomic_file.h"
#include "kube/file_client.h"
#include "observability/log.h"
#include "observability/redact.h"

namespace pygrid::cli {

namespace {

using nlohmann::json;

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// Ctrl-C (or SIGTERM) finishes the round in flight and stops; a second one ends at once
// (SA_RESETHAND). Either way the state directory holds every completed write.
void InstallSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  action.sa_flags = SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// The reconciler's log goes to <state-dir>/logs/<grid>.log, secrets redacted by the logger.
Status StartLog(const StandaloneFlags& flags, const std::string& grid) {
  if (Status made = kube::MakePrivateDirectories(flags.state_dir + "/logs"); !made.ok())
    return made;
  const std::string path = LogPath(flags.state_dir, grid);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  auto shared_fd = std::shared_ptr<int>(new int(fd), [](int* f) {
    close(*f);
    delete f;
  });
  observability::InitLogging({observability::LogFormat::kText,
                              *observability::ParseLogLevel(flags.log_level),
                              [shared_fd](const std::string& line) {
                                const std::string text = line + "\n";
                                (void)!write(*shared_fd, text.data(), text.size());
                              }});
  return Status::Ok();
}

std::string Key(const std::string& name) { return std::string(kStandaloneNamespace) + "/" + name; }

// What a reconciling command holds: the state directory's lock, its store, the operator.
struct Session {
  StateDirLock lock;
  std::unique_ptr<kube::FileKubeClient> store;
  std::optional<bootstrap::Templates> templates;
  std::unique_ptr<LocalOperator> op;
};

// Locks the state directory, opens the store and wires the operator; prints why not and
// returns the exit code otherwise.
int OpenSession(StandaloneFlags& flags, const std::string& grid, const std::string& token,
                std::unique_ptr<Session>& session, std::ostream& err) {
  const std::string prefix = "pygrid-operator " + flags.command + ": ";
  StatusOr<StateDirLock> lock = StateDirLock::Acquire(flags.state_dir, flags.command + " " + grid);
  if (!lock.ok()) {
    err << prefix << lock.status().message() << "\n";
    return lock.status().IsConflict() ? kExitBusy : kExitFailed;
  }
  StatusOr<std::unique_ptr<kube::FileKubeClient>> store =
      kube::FileKubeClient::Open(StoreDir(flags.state_dir), RealClock::Instance());
  if (!store.ok()) {
    err << prefix << store.status().message() << "\n";
    return kExitFailed;
  }
  if (Status logging = StartLog(flags, grid); !logging.ok()) {
    err << prefix << logging.message() << "\n";
    return kExitFailed;
  }
  StatusOr<bootstrap::SshKeyPair> key = LoadOrCreateOperatorKey(flags.state_dir);
  if (!key.ok()) {
    err << prefix << "the operator's SSH key: " << key.status().message() << "\n";
    return kExitFailed;
  }
  observability::RegisterSecret(key->private_key);
  session = std::make_unique<Session>(Session{std::move(*lock), std::move(*store), {}, nullptr});
  if (!flags.templates_dir.empty()) {
    StatusOr<bootstrap::Templates> loaded = bootstrap::Templates::FromDirectory(flags.templates_dir);
    if (!loaded.ok()) {
      err << prefix << "--templates-dir: " << loaded.status().message() << "\n";
      return kExitInvalid;
    }
    session->templates = std::move(*loaded);
    flags.op.templates = &*session->templates;
  }
  session->op = std::make_unique<LocalOperator>(flags.op, *session->store, token, std::move(*key));
  return kExitOk;
}

// The token, checked with the reconciler's own rules before anything is sent; prints why not.
std::optional<std::string> TokenOrExplain(const StandaloneFlags& flags, std::ostream& err) {
  StatusOr<std::string> token = LoadToken(flags);
  if (!token.ok()) {
    err << "pygrid-operator " << flags.command << ": " << token.status().message() << "\n";
    return std::nullopt;
  }
  observability::RegisterSecret(*token);
  const json secret = {{"metadata", {{"name", "token"}, {"namespace", kStandaloneNamespace}}},
                       {"data", {{"token", Base64Encode(*token)}}}};
  controller::CredentialsOrProblem read =
      controller::ReadToken(secret, kStandaloneNamespace, {"token", "token"});
  if (!read.problem.ok()) {
    err << "pygrid-operator " << flags.command << ": the token is unusable ("
        << read.problem.reason << "): " << read.problem.message << "\n";
    return std::nullopt;
  }
  return *token;
}

void PrintCauses(std::ostream& err, const std::string& what, const Status& status) {
  err << what << " is invalid; nothing was sent to Genesis Cloud:\n";
  for (const FieldCause& cause : status.causes()) {
    err << "  " << cause.field << ": " << cause.message << "\n";
  }
  if (status.causes().empty()) err << "  " << status.message() << "\n";
}

// Shows a grid's instances from its status after every round.
std::function<void()> ShowStatus(LocalOperator& op, ProgressView& view, const std::string& name) {
  return [&op, &view, name] {
    std::optional<json> object = StoredGrid(op.store(), Key(name));
    if (!object) return;
    const api::ClusterStatus status = StatusOfGrid(*object);
    view.Show(GridHeadline(name, status), InstanceStages(status));
  };
}

// The endpoint and the nodes registered at the gateway, asked live.
void PrintReady(LocalOperator& op, const std::string& name, std::ostream& out) {
  std::optional<json> object = StoredGrid(op.store(), Key(name));
  if (!object) return;
  const api::ClusterStatus status = StatusOfGrid(*object);
  StatusOr<api::PyGridCluster> cluster = api::ClusterFromJson(*object);
  std::set<std::string> nodes;
  if (cluster.ok()) {
    api::ApplyDefaults(cluster->spec);
    StatusOr<probe::GatewayProbe> probed =
        op.prober().ProbeGateway(status.endpoint, cluster->spec.pygrid.flavor);
    if (probed.ok()) nodes = probed->connected_nodes;
  }
  if (nodes.empty()) {  // the gateway did not answer just now: what the last round saw
    if (status.gateway && !status.gateway->node_id.empty() && status.gateway->ready)
      nodes.insert(status.gateway->node_id);
    for (const api::WorkerStatus& worker : status.workers)
      if (worker.registered) nodes.insert(worker.node_id);
  }
  out << name << " is Ready\n  endpoint  " << status.endpoint << "\n  nodes     " << nodes.size()
      << " registered at the gateway\n";
  for (const std::string& node : nodes) out << "            " << node << "\n";
}

// Turns Drive's outcome into output and an exit code.
int Conclude(const DriveOutcome& outcome, const StandaloneFlags& flags, const std::string& name,
             const std::string& again, std::ostream& out, std::ostream& err) {
  const std::string prefix = "pygrid-operator " + flags.command + ": ";
  switch (outcome.kind) {
    case DriveOutcome::Kind::kReached:
      return kExitOk;
    case DriveOutcome::Kind::kInterrupted:
      err << prefix << "interrupted; everything done so far is saved in " << flags.state_dir
          << ". Run `" << again << "` to continue.\n";
      return kExitInterrupted;
    case DriveOutcome::Kind::kTimedOut:
      err << prefix << "not done after --timeout; the cloud keeps what was created. `" << again
          << "` continues; `pygrid-operator status " << name << "` shows where it stands.\n";
      return kExitFailed;
    case DriveOutcome::Kind::kStalled:
      err << prefix << "stopped: " << outcome.message << "\n";
      return kExitFailed;
  }
  return kExitFailed;
}

// Runs rounds toward `goal` with progress on `out`, then reports.
int Converge(Session& session, const StandaloneFlags& flags, const std::string& name, Goal goal,
             const std::string& again, std::ostream& out, std::ostream& err) {
  ProgressView view(out, isatty(STDOUT_FILENO) == 1, RealClock::Instance());
  const DriveOutcome outcome = Drive(*session.op, Key(name), goal, flags.timeout, g_stop, view,
                                     ShowStatus(*session.op, view, name));
  view.Finish();
  const int code = Conclude(outcome, flags, name, again, out, err);
  if (code != kExitOk) return code;
  if (goal == Goal::kReady) PrintReady(*session.op, name, out);
  if (goal == Goal::kOneRound) {
    out << "detached: the creates that could be sent are sent; `pygrid-operator status " << name
        << "` shows the last recorded state and `" << again << "` continues.\n";
  }
  if (goal == Goal::kObserved) out << name << " is suspended: nothing is created or deleted.\n";
  return kExitOk;
}

int RunUp(StandaloneFlags& flags, std::ostream& out, std::ostream& err) {
  StatusOr<GridManifest> manifest = ReadGridFile(flags.file);
  if (!manifest.ok()) {
    PrintCauses(err, flags.file, manifest.status());
    return kExitInvalid;
  }
  std::optional<std::string> token = TokenOrExplain(flags, err);
  if (!token) return kExitInvalid;
  std::unique_ptr<Session> session;
  if (int code = OpenSession(flags, manifest->name, *token, session, err); code != kExitOk)
    return code;
  kube::FileKubeClient& store = *session->store;
  const std::string name = manifest->name;
  std::optional<json> existing = StoredGrid(store, Key(name));
  StatusOr<json> applied = Status::Internal("not applied");
  if (existing) {
    if (!(*existing)["metadata"].value("deletionTimestamp", "").empty()) {
      err << "pygrid-operator up: grid " << name << " is being deleted; run `pygrid-operator down "
          << name << "` to finish that first\n";
      return kExitFailed;
    }
    json updated = *existing;
    updated["spec"] = manifest->object["spec"];
    for (const char* field : {"labels", "annotations"}) {
      if (manifest->object["metadata"].contains(field)) {
        updated["metadata"][field] = manifest->object["metadata"][field];
      } else {
        updated["metadata"].erase(field);
      }
    }
    applied = store.Update(controller::PyGridClusters(), kStandaloneNamespace, updated);
  } else {
    applied = store.Create(controller::PyGridClusters(), kStandaloneNamespace, manifest->object);
  }
  if (!applied.ok()) {
    err << "pygrid-operator up: cannot store the grid: " << applied.status().message() << "\n";
    return kExitFailed;
  }
  // Before the first create: down finds the instances by this uid even if the grid's own file
  // is lost.
  const std::string uid = (*applied)["metadata"].value("uid", "");
  if (Status indexed = UpdateGridIndex(flags.state_dir, name, uid); !indexed.ok()) {
    err << "pygrid-operator up: " << indexed.message() << "\n";
    return kExitFailed;
  }
  if (Status provided = session->op->ProvideCredentials(*applied); !provided.ok()) {
    err << "pygrid-operator up: " << provided.message() << "\n";
    return kExitFailed;
  }
  out << "pygrid-operator up: " << name << " (" << api::InstancePrefixFor(name, uid)
      << "-*), state in " << flags.state_dir << ", log in " << LogPath(flags.state_dir, name)
      << "\n";
  // A failure here shows again, with its condition, in the first round.
  (void)session->op->WarmUp(manifest->cluster.spec);
  const Goal goal = flags.detach                     ? Goal::kOneRound
                    : manifest->cluster.spec.suspend ? Goal::kObserved
                                                     : Goal::kReady;
  return Converge(*session, flags, name, goal, "pygrid-operator up -f " + flags.file, out, err);
}

// scale, suspend, resume: one change of the stored spec, validated, then converge.
int RunEdit(StandaloneFlags& flags, std::ostream& out, std::ostream& err) {
  std::optional<std::string> token = TokenOrExplain(flags, err);
  if (!token) return kExitInvalid;
  std::unique_ptr<Session> session;
  if (int code = OpenSession(flags, flags.name, *token, session, err); code != kExitOk) return code;
  const std::string prefix = "pygrid-operator " + flags.command + ": ";
  std::optional<json> object = StoredGrid(*session->store, Key(flags.name));
  if (!object) {
    err << prefix << "no grid named " << flags.name << " in " << flags.state_dir
        << "; create it with `pygrid-operator up -f FILE`\n";
    return kExitFailed;
  }
  if (!(*object)["metadata"].value("deletionTimestamp", "").empty()) {
    err << prefix << "grid " << flags.name << " is being deleted; run `pygrid-operator down "
        << flags.name << "` to finish\n";
    return kExitFailed;
  }
  json& spec = (*object)["spec"];
  if (flags.command == "scale") spec["workers"]["replicas"] = flags.replicas;
  if (flags.command == "suspend" || flags.command == "resume")
    spec["suspend"] = flags.command == "suspend";
  const std::vector<FieldCause> causes = ValidateGridObject(*object);
  if (!causes.empty()) {
    PrintCauses(err, "the change", Status::Invalid(api::JoinCauses(causes), causes));
    return kExitInvalid;
  }
  StatusOr<json> updated =
      session->store->Update(controller::PyGridClusters(), kStandaloneNamespace, *object);
  if (!updated.ok()) {
    err << prefix << "cannot store the change: " << updated.status().message() << "\n";
    return kExitFailed;
  }
  if (Status provided = session->op->ProvideCredentials(*updated); !provided.ok()) {
    err << prefix << provided.message() << "\n";
    return kExitFailed;
  }
  const bool suspended = (*updated)["spec"].value("suspend", false);
  if (suspended && flags.command == "scale") {
    out << flags.name << " is suspended: the new size applies on `pygrid-operator resume "
        << flags.name << "`.\n";
  }
  const Goal goal = flags.detach ? Goal::kOneRound : suspended ? Goal::kObserved : Goal::kReady;
  const std::string again = "pygrid-operator " + flags.command + " " + flags.name +
                            (flags.command == "scale" ? " --replicas " + std::to_string(flags.replicas) : "");
  return Converge(*session, flags, flags.name, goal, again, out, err);
}

// A stand-in for a grid whose state file is lost: enough for the reconciler's deletion, which
// finds the instances by their names (<name>-<uid8>-...) and the group by its name.
json DeletionStub(LocalOperator& op, const std::string& name, const std::string& uid) {
  const std::string now = api::FormatTime(std::chrono::system_clock::now());
  json stub = {{"apiVersion", api::kApiVersion},
               {"kind", api::kKind},
               {"metadata",
                {{"name", name},
                 {"namespace", kStandaloneNamespace},
                 {"uid", uid},
                 {"generation", 1},
                 {"resourceVersion", "0"},
                 {"creationTimestamp", now},
                 {"deletionTimestamp", now},
                 {"finalizers", {api::kFinalizer}}}},
               {"spec", {{"credentialsSecretRef", {{"name", "genesis-credentials"}}}}},
               {"status", json::object()}};
  StatusOr<cloud::SecurityGroup> group =
      op.FindSecurityGroup(api::SecurityGroupNameFor(name, uid, api::ClusterSpec{}));
  if (group.ok()) stub["status"]["securityGroupID"] = group->id;
  return stub;
}

// Without any record of the grid: the account's instances named like one of its, by uid8.
int ExplainUnrecorded(LocalOperator& op, const StandaloneFlags& flags, std::ostream& out,
                      std::ostream& err) {
  StatusOr<std::vector<cloud::Instance>> all = op.AllInstances();
  if (!all.ok()) {
    err << "pygrid-operator down: cannot list the account's instances: " << all.status().message()
        << "\n";
    return kExitFailed;
  }
  const std::regex owned("^" + flags.name + "-([0-9a-f]{8})-(gateway|worker-[0-9]+)$");
  std::map<std::string, std::vector<std::string>> grids;
  for (const cloud::Instance& instance : *all) {
    std::smatch match;
    if (std::regex_match(instance.name, match, owned)) grids[match[1].str()].push_back(instance.name);
  }
  if (grids.empty()) {
    out << "No grid named " << flags.name << " in " << flags.state_dir
        << ", and no instance of one in the account: nothing to delete.\n";
    return kExitOk;
  }
  err << "pygrid-operator down: " << flags.state_dir << " has no record of grid " << flags.name
      << ", but the account has instances of grids with that name (another state directory or "
         "machine may own them):\n";
  for (const auto& [uid8, names] : grids) {
    err << "  --uid " << uid8 << ": " << names.size() << " instance(s):";
    for (const std::string& instance : names) err << " " << instance;
    err << "\n";
  }
  err << "Run `pygrid-operator down " << flags.name << " --uid UID` for the grid to delete.\n";
  return kExitFailed;
}

int RunDown(StandaloneFlags& flags, std::ostream& out, std::ostream& err) {
  static const std::regex uid_form("^[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$");
  if (!flags.uid.empty() && !std::regex_match(flags.uid, uid_form)) {
    err << "pygrid-operator down: --uid must be a grid's uid or its first 8 hex digits\n";
    return kExitInvalid;
  }
  std::optional<std::string> token = TokenOrExplain(flags, err);
  if (!token) return kExitInvalid;
  std::unique_ptr<Session> session;
  if (int code = OpenSession(flags, flags.name, *token, session, err); code != kExitOk) return code;
  kube::FileKubeClient& store = *session->store;
  LocalOperator& op = *session->op;
  const std::string name = flags.name;
  std::optional<json> object = StoredGrid(store, Key(name));
  std::string uid = object ? (*object)["metadata"].value("uid", "") : "";
  if (uid.empty()) {
    StatusOr<std::map<std::string, std::string>> index = ReadGridIndex(flags.state_dir);
    if (index.ok() && index->count(name)) uid = index->at(name);
  }
  if (!flags.uid.empty()) {
    if (!uid.empty() && uid.compare(0, flags.uid.size(), flags.uid) != 0) {
      err << "pygrid-operator down: grid " << name << " in " << flags.state_dir << " has uid "
          << uid << ", not " << flags.uid << "\n";
      return kExitInvalid;
    }
    if (uid.empty()) uid = flags.uid.size() == 8 ? flags.uid + "-0000-4000-8000-000000000000" : flags.uid;
  }
  if (uid.empty()) return ExplainUnrecorded(op, flags, out, err);
  if (!object) {
    out << "pygrid-operator down: no state file for " << name << "; finding its instances by name ("
        << api::InstancePrefixFor(name, uid) << "-*)\n";
    if (Status restored = store.Restore(controller::PyGridClusters(), DeletionStub(op, name, uid));
        !restored.ok()) {
      err << "pygrid-operator down: " << restored.message() << "\n";
      return kExitFailed;
    }
    object = StoredGrid(store, Key(name));
  } else if ((*object)["metadata"].value("deletionTimestamp", "").empty()) {
    if (Status deleted = store.Delete(controller::PyGridClusters(), kStandaloneNamespace, name);
        !deleted.ok()) {
      err << "pygrid-operator down: " << deleted.message() << "\n";
      return kExitFailed;
    }
  }
  if (object) {
    if ((*object)["spec"].value("deletionPolicy", "") == "Retain") {
      out << name << " has deletionPolicy Retain: its instances are kept, the grid is forgotten.\n";
    }
    if (Status provided = op.ProvideCredentials(*object); !provided.ok()) {
      err << "pygrid-operator down: " << provided.message() << "\n";
      return kExitFailed;
    }
  }
  const std::string prefix = api::InstancePrefixFor(name, uid) + "-";
  std::map<std::string, std::string> seen;  // instance name -> id, every one listed meanwhile
  ProgressView view(out, isatty(STDOUT_FILENO) == 1, RealClock::Instance());
  auto show = [&] {
    StatusOr<std::vector<cloud::Instance>> owned = op.InstancesWithPrefix(prefix);
    if (!owned.ok()) return;
    for (const cloud::Instance& instance : *owned) seen[instance.name] = instance.id;
    view.Show(name + ": deleting", DeletionStages(*owned));
  };
  show();
  const DriveOutcome outcome = Drive(op, Key(name), Goal::kGone, flags.timeout, g_stop, view, show);
  view.Finish();
  if (int code = Conclude(outcome, flags, name, "pygrid-operator down " + name, out, err);
      code != kExitOk)
    return code;
  if (Status unindexed = UpdateGridIndex(flags.state_dir, name, ""); !unindexed.ok()) {
    err << "pygrid-operator down: " << unindexed.message() << "\n";
  }
  out << name << " is gone: " << seen.size() << " instance(s) deleted";
  for (const auto& [instance, id] : seen) out << "\n  " << instance << "  " << id;
  out << "\n";
  return kExitOk;
}

}  // namespace

int RunStandalone(const std::string& command, const std::vector<std::string>& args,
                  std::ostream& out, std::ostream& err) {
  StatusOr<StandaloneFlags> flags = ParseStandaloneFlags(command, args);
  if (!flags.ok()) {
    err << "pygrid-operator " << command << ": " << flags.status().message() << "\n";
    return kExitInvalid;
  }
  if (flags->help) {
    out << flags->usage;
    return kExitOk;
  }
  if (command == "status") return RunStatus(flags->state_dir, flags->name, flags->output, out, err);
  InstallSignalHandlers();
  if (command == "up") return RunUp(*flags, out, err);
  if (command == "down") return RunDown(*flags, out, err);
  return RunEdit(*flags, out, err);
}

}  // namespace pygrid::cli
