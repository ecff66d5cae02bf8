// Provides the reading of a PyGridCluster file for the standalone commands, with the same rules
// as the CRD and the in-cluster operator (api::ClusterFromJson, api::ApplyDefaults,
// api::ValidateCluster), plus guards against hostile files, before anything touches the cloud:
//
//   StatusOr<GridManifest> grid = ReadGridFile("grid.yaml");
//   if (!grid.ok()) for (const FieldCause& c : grid.status().causes()) ... c.field, c.message
//
// Only metadata.name, labels, annotations and spec are taken from the file: a status, uid or
// finalizer written into it is ignored, so a file cannot make the operator adopt or delete
// instances it does not own. metadata.namespace is ignored too: a state directory is one
// namespace ("default").
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/types.h"
#include "core/status.h"

namespace pygrid::cli {

// The namespace every standalone grid lives in.
inline constexpr char kStandaloneNamespace[] = "default";
// The largest file accepted; a PyGridCluster is well under 4 KiB.
inline constexpr size_t kMaxGridFileBytes = 256 * 1024;

struct GridManifest {
  std::string name;
  nlohmann::json object;  // apiVersion, kind, metadata (name, namespace, labels, annotations), spec
  api::PyGridCluster cluster;  // parsed and defaulted
};

// Parses the text of a file. Invalid with one FieldCause per problem (field path and message).
StatusOr<GridManifest> ParseGridFile(const std::string& text);
// Reads and parses `path` ("-" is standard input).
StatusOr<GridManifest> ReadGridFile(const std::string& path);
// The validation errors of a stored object after a change (scale, suspend): parse, default,
// validate, as the CRD would on a kubectl edit.
std::vector<FieldCause> ValidateGridObject(const nlohmann::json& object);

}  // namespace pygrid::cli
