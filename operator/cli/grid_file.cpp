#include "cli/grid_file.h"

#include <yaml-cpp/yaml.h>

#include <iostream>

#include "api/defaults.h"
#include "api/json.h"
#include "api/validation.h"
#include "bootstrap/yaml_json.h"
#include "kube/atomic_file.h"

namespace pygrid::cli {

namespace {

using nlohmann::json;

// A PyGridCluster has a few dozen nodes; aliases can make a small file expand into billions.
constexpr int kMaxYamlNodes = 10000;
constexpr int kMaxYamlDepth = 32;

Status Problem(const std::string& field, const std::string& message) {
  return Status::Invalid(field + ": " + message, {{field, message, "FieldValueInvalid"}});
}

// Counts the nodes of `node` as the JSON conversion would visit them (aliases expanded), and
// stops as soon as a limit is passed.
bool WithinLimits(const YAML::Node& node, int depth, int& nodes) {
  if (++nodes > kMaxYamlNodes || depth > kMaxYamlDepth) return false;
  if (node.IsMap()) {
    for (const auto& entry : node) {
      if (!WithinLimits(entry.first, depth + 1, nodes)) return false;
      if (!WithinLimits(entry.second, depth + 1, nodes)) return false;
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!WithinLimits(item, depth + 1, nodes)) return false;
    }
  }
  return true;
}

Status CheckYamlShape(const std::string& text) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& error) {
    return Problem("(file)", "not valid YAML: " + std::string(error.what()));
  }
  size_t used = 0;
  for (const YAML::Node& document : documents) used += document.IsNull() ? 0 : 1;
  if (used == 0) return Problem("(file)", "is empty; it must hold one PyGridCluster");
  if (used > 1 || documents.front().IsNull()) {
    return Problem("(file)", "must hold exactly one YAML document (one PyGridCluster)");
  }
  int nodes = 0;
  if (!WithinLimits(documents.front(), 0, nodes)) {
    return Problem("(file)", "nests deeper than " + std::to_string(kMaxYamlDepth) +
                                 " levels or expands to more than " +
                                 std::to_string(kMaxYamlNodes) + " values (YAML aliases?)");
  }
  return Status::Ok();
}

// The parts of a file the operator takes: never status, uid, finalizers or timestamps.
json Sanitised(const json& object) {
  json metadata = {{"name", object["metadata"].value("name", json())},
                   {"namespace", kStandaloneNamespace}};
  for (const char* field : {"labels", "annotations"}) {
    if (object["metadata"].contains(field)) metadata[field] = object["metadata"][field];
  }
  return {{"apiVersion", api::kApiVersion},
          {"kind", api::kKind},
          {"metadata", metadata},
          {"spec", object.value("spec", json::object())}};
}

}  // namespace

std::vector<FieldCause> ValidateGridObject(const json& object) {
  StatusOr<api::PyGridCluster> cluster = api::ClusterFromJson(object);
  if (!cluster.ok()) {
    std::vector<FieldCause> causes = cluster.status().causes();
    if (causes.empty()) causes.push_back({"(file)", cluster.status().message(), ""});
    return causes;
  }
  api::ApplyDefaults(cluster->spec);
  return api::ValidateCluster(*cluster);
}

StatusOr<GridManifest> ParseGridFile(const std::string& text) {
  if (text.size() > kMaxGridFileBytes) {
    return Problem("(file)", "is larger than " + std::to_string(kMaxGridFileBytes) + " bytes");
  }
  if (Status shape = CheckYamlShape(text); !shape.ok()) return shape;
  StatusOr<json> parsed = bootstrap::YamlToJson(text);
  if (!parsed.ok()) return Problem("(file)", parsed.status().message());
  const json& object = *parsed;
  if (!object.is_object()) return Problem("(file)", "must be a mapping (a PyGridCluster object)");
  std::vector<FieldCause> causes;
  if (object.value("apiVersion", json()) != api::kApiVersion) {
    causes.push_back(
        {"apiVersion", std::string("must be ") + api::kApiVersion, "FieldValueInvalid"});
  }
  if (object.value("kind", json()) != api::kKind) {
    causes.push_back({"kind", std::string("must be ") + api::kKind, "FieldValueInvalid"});
  }
  if (!object.value("metadata", json()).is_object()) {
    causes.push_back({"metadata", "must be a mapping with a name", "FieldValueRequired"});
  } else if (!object["metadata"].value("name", json()).is_string()) {
    causes.push_back({"metadata.name", "must be a string", "FieldValueRequired"});
  }
  if (!causes.empty()) return Status::Invalid(api::JoinCauses(causes), causes);

  GridManifest manifest;
  manifest.object = Sanitised(object);
  causes = ValidateGridObject(manifest.object);
  if (!causes.empty()) return Status::Invalid(api::JoinCauses(causes), causes);
  manifest.cluster = *api::ClusterFromJson(manifest.object);
  api::ApplyDefaults(manifest.cluster.spec);
  manifest.name = manifest.cluster.metadata.name;
  return manifest;
}

StatusOr<GridManifest> ReadGridFile(const std::string& path) {
  std::string text;
  if (path == "-") {
    char buffer[4096];
    while (text.size() <= kMaxGridFileBytes && std::cin.read(buffer, sizeof buffer).gcount() > 0)
      text.append(buffer, static_cast<size_t>(std::cin.gcount()));
  } else {
    StatusOr<std::string> read = kube::ReadSmallFile(path, kMaxGridFileBytes);
    if (!read.ok()) return Problem("(file)", read.status().message());
    text = std::move(*read);
  }
  return ParseGridFile(text);
}

}  // namespace pygrid::cli
