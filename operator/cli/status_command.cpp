// `pygrid-operator status [NAME]`: the stored status block, as `kubectl get pgc NAME -o yaml`
// shows it, or a table of every grid as `kubectl get pgc` does.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>

#include "api/conditions.h"
#include "api/json.h"
#include "cli/grid_file.h"
#include "cli/local_operator.h"
#include "cli/standalone_commands.h"
#include "cli/standalone_flags.h"
#include "cli/state_dir.h"
#include "controller/resources.h"
#include "kube/file_client.h"

namespace pygrid::cli {

namespace {

using nlohmann::json;

YAML::Node ToYaml(const json& value) {
  YAML::Node node;
  if (value.is_object()) {
    node = YAML::Node(YAML::NodeType::Map);
    for (const auto& [key, item] : value.items()) node[key] = ToYaml(item);
  } else if (value.is_array()) {
    node = YAML::Node(YAML::NodeType::Sequence);
    for (const json& item : value) node.push_back(ToYaml(item));
  } else if (value.is_string()) {
    node = value.get<std::string>();
  } else if (value.is_null()) {
    node = YAML::Node(YAML::NodeType::Null);
  } else {
    node = value.dump();
  }
  return node;
}

// "6m", "2h", "3d" as kubectl's AGE column.
std::string Age(const std::string& created) {
  std::optional<std::chrono::system_clock::time_point> at = api::ParseTime(created);
  if (!at) return "<unknown>";
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - *at)
          .count();
  if (seconds < 120) return std::to_string(std::max<long long>(seconds, 0)) + "s";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m";
  if (seconds < 172800) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

}  // namespace

int RunStatus(const std::string& state_dir, const std::string& name, const std::string& output,
              std::ostream& out, std::ostream& err) {
  StatusOr<std::unique_ptr<kube::FileKubeClient>> store =
      kube::FileKubeClient::Open(StoreDir(state_dir), RealClock::Instance(), {/*read_only=*/true});
  if (!store.ok()) {
    err << "pygrid-operator status: " << store.status().message() << "\n";
    return kExitFailed;
  }
  if (!name.empty()) {
    std::optional<json> object =
        StoredGrid(**store, std::string(kStandaloneNamespace) + "/" + name);
    if (!object) {
      err << "pygrid-operator status: no grid named " << name << " in " << state_dir << "\n";
      return kExitFailed;
    }
    const json status = object->value("status", json::object());
    if (output == "json") {
      out << json({{"status", status}}).dump(2) << "\n";
      return kExitOk;
    }
    YAML::Emitter yaml;
    yaml << ToYaml(json({{"status", status}}));
    out << "# " << name << " in " << state_dir
        << " as last recorded (status never contacts Genesis Cloud; up, scale or resume refresh "
           "it)\n"
        << yaml.c_str() << "\n";
    return kExitOk;
  }
  StatusOr<kube::ListResult> grids =
      (*store)->List(controller::PyGridClusters(), kStandaloneNamespace);
  if (!grids.ok() || grids->items.empty()) {
    out << "No grids in " << state_dir << ".\n";
    return kExitOk;
  }
  out << std::left << std::setw(20) << "NAME" << std::setw(13) << "PHASE" << std::setw(30)
      << "ENDPOINT" << std::setw(8) << "READY"
      << "AGE\n";
  for (const json& object : grids->items) {
    const api::ClusterStatus status = StatusOfGrid(object);
    const bool deleting = !object["metadata"].value("deletionTimestamp", "").empty();
    const std::string phase = deleting       ? "Deleting"
                              : status.phase ? api::PhaseName(*status.phase)
                                             : "Pending";
    out << std::left << std::setw(20) << object["metadata"].value("name", "") << std::setw(13)
        << phase << std::setw(30) << (status.endpoint.empty() ? "<none>" : status.endpoint)
        << std::setw(8)
        << (std::to_string(status.ready_workers) + "/" + std::to_string(status.desired_workers))
        << Age(object["metadata"].value("creationTimestamp", "")) << "\n";
  }
  return kExitOk;
}

}  // namespace pygrid::cli
