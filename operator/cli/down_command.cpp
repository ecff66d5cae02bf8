// `pygrid-operator down NAME`: the reconciler's deletion of a grid, also after its state file
// (or the whole state directory) is lost.
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <regex>

#include "api/conditions.h"
#include "api/defaults.h"
#include "api/naming.h"
#include "cli/grid_file.h"
#include "cli/internal/standalone_session.h"
#include "cli/state_dir.h"
#include "controller/resources.h"

namespace pygrid::cli::internal {

namespace {

using nlohmann::json;

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
    if (std::regex_match(instance.name, match, owned))
      grids[match[1].str()].push_back(instance.name);
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

}  // namespace

int RunDown(StandaloneFlags& flags, std::ostream& out, std::ostream& err) {
  static const std::regex uid_form(
      "^[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$");
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
  std::optional<json> object = StoredGrid(store, GridKey(name));
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
    if (uid.empty())
      uid = flags.uid.size() == 8 ? flags.uid + "-0000-4000-8000-000000000000" : flags.uid;
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
    object = StoredGrid(store, GridKey(name));
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
  const DriveOutcome outcome =
      Drive(op, GridKey(name), Goal::kGone, flags.timeout, StopRequested(), view, show);
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

}  // namespace pygrid::cli::internal
