#include "cli/standalone_commands.h"

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <set>

#include "api/conditions.h"
#include "api/defaults.h"
#include "api/json.h"
#include "api/naming.h"
#include "api/validation.h"
#include "cli/grid_file.h"
#include "cli/internal/standalone_session.h"
#include "cli/state_dir.h"
#include "controller/resources.h"

namespace pygrid::cli {

namespace {

using internal::Conclude;
using internal::GridKey;
using internal::OpenSession;
using internal::PrintCauses;
using internal::Session;
using internal::StopRequested;
using internal::TokenOrExplain;
using nlohmann::json;

// Shows a grid's instances from its status after every round.
std::function<void()> ShowStatus(LocalOperator& op, ProgressView& view, const std::string& name) {
  return [&op, &view, name] {
    std::optional<json> object = StoredGrid(op.store(), GridKey(name));
    if (!object) return;
    const api::ClusterStatus status = StatusOfGrid(*object);
    view.Show(GridHeadline(name, status), InstanceStages(status));
  };
}

// The endpoint and the grid's nodes registered at the gateway, asked live. PyGrid keeps the ids
// of removed or replaced nodes listed forever; those are counted, not listed.
void PrintReady(LocalOperator& op, const std::string& name, std::ostream& out) {
  std::optional<json> object = StoredGrid(op.store(), GridKey(name));
  if (!object) return;
  const api::ClusterStatus status = StatusOfGrid(*object);
  std::set<std::string> ours;
  if (status.gateway && !status.gateway->node_id.empty()) ours.insert(status.gateway->node_id);
  for (const api::WorkerStatus& worker : status.workers)
    if (worker.state != "deleting" && !worker.node_id.empty()) ours.insert(worker.node_id);
  std::set<std::string> listed;
  StatusOr<api::PyGridCluster> cluster = api::ClusterFromJson(*object);
  if (cluster.ok()) {
    api::ApplyDefaults(cluster->spec);
    StatusOr<probe::GatewayProbe> probed =
        op.prober().ProbeGateway(status.endpoint, cluster->spec.pygrid.flavor);
    if (probed.ok()) listed = probed->connected_nodes;
  }
  std::vector<std::string> registered;
  for (const std::string& node : listed)
    if (ours.count(node)) registered.push_back(node);
  if (listed.empty()) {  // the gateway did not answer just now: what the last round saw
    if (status.gateway && status.gateway->ready && !status.gateway->node_id.empty())
      registered.push_back(status.gateway->node_id);
    for (const api::WorkerStatus& worker : status.workers)
      if (worker.registered) registered.push_back(worker.node_id);
  }
  out << name << " is Ready\n  endpoint  " << status.endpoint << "\n  nodes     "
      << registered.size() << " registered at the gateway";
  if (listed.size() > registered.size()) {
    out << " (it also lists " << listed.size() - registered.size()
        << " id(s) of removed or replaced workers, as PyGrid keeps them)";
  }
  out << "\n";
  for (const std::string& node : registered) out << "            " << node << "\n";
}

// Runs rounds toward `goal` with progress on `out`, then reports.
int Converge(Session& session, const StandaloneFlags& flags, const std::string& name, Goal goal,
             const std::string& again, std::ostream& out, std::ostream& err) {
  ProgressView view(out, isatty(STDOUT_FILENO) == 1, RealClock::Instance());
  const DriveOutcome outcome = Drive(*session.op, GridKey(name), goal, flags.timeout,
                                     StopRequested(), view, ShowStatus(*session.op, view, name));
  view.Finish();
  const int code = Conclude(outcome, flags, name, again, out, err);
  if (code != kExitOk) return code;
  if (goal == Goal::kReady) PrintReady(*session.op, name, out);
  if (goal == Goal::kOneRound) {
    out << "detached: the creates that could be sent are sent; `pygrid-operator status " << name
        << "` shows the last recorded state and `" << again << "` continues.\n";
  }
  if (goal == Goal::kSuspended) {
    out << name << " is suspended: every instance is stopped; `pygrid-operator resume " << name
        << "` starts them again.\n";
  }
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
  std::optional<json> existing = StoredGrid(store, GridKey(name));
  StatusOr<json> applied = Status::Internal("not applied");
  if (existing) {
    if (!(*existing)["metadata"].value("deletionTimestamp", "").empty()) {
      err << "pygrid-operator up: grid " << name << " is being deleted; run `pygrid-operator down "
          << name << "` to finish that first\n";
      return kExitFailed;
    }
    // The CRD's transition rule: the region of a grid never changes.
    StatusOr<api::PyGridCluster> stored = api::ClusterFromJson(*existing);
    if (stored.ok()) {
      api::ApplyDefaults(stored->spec);
      if (stored->spec.region != manifest->cluster.spec.region) {
        PrintCauses(err, flags.file,
                    Status::Invalid("", {{"spec.region",
                                          "cannot change (from " + stored->spec.region +
                                              "); take the grid down and up again instead",
                                          "FieldValueInvalid"}}));
        return kExitInvalid;
      }
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
                    : manifest->cluster.spec.suspend ? Goal::kSuspended
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
  std::optional<json> object = StoredGrid(*session->store, GridKey(flags.name));
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
  const Goal goal = flags.detach ? Goal::kOneRound : suspended ? Goal::kSuspended : Goal::kReady;
  const std::string again =
      "pygrid-operator " + flags.command + " " + flags.name +
      (flags.command == "scale" ? " --replicas " + std::to_string(flags.replicas) : "");
  return Converge(*session, flags, flags.name, goal, again, out, err);
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
  internal::InstallSignalHandlers();
  if (command == "up") return RunUp(*flags, out, err);
  if (command == "down") return internal::RunDown(*flags, out, err);
  return RunEdit(*flags, out, err);
}

}  // namespace pygrid::cli
