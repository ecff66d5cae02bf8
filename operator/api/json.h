// Provides the JSON mapping of the PyGridCluster API, both ways, over nlohmann::json.
//
// Reading tolerates unknown fields (a newer CRD may add some) and reports every field of the
// wrong type with its path; writing emits only what the operator owns, so
// ClusterFromJson(ClusterToJson(c)) == c for every value c of the API types.
//
//   StatusOr<PyGridCluster> cluster = ClusterFromJson(object_from_api_server);
//   nlohmann::json patch = {{"status", StatusToJson(cluster->status)}};
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "api/types.h"
#include "core/status.h"

namespace pygrid::api {

// Parses a whole PyGridCluster object. Wrong types become an Invalid status whose causes name
// each field (e.g. "spec.workers.replicas: must be an integer").
StatusOr<PyGridCluster> ClusterFromJson(const nlohmann::json& object);
// Parses only a spec (the value of .spec).
StatusOr<ClusterSpec> SpecFromJson(const nlohmann::json& spec);
// Parses only a status (the value of .status).
StatusOr<ClusterStatus> StatusFromJson(const nlohmann::json& status);

nlohmann::json ClusterToJson(const PyGridCluster& cluster);
nlohmann::json SpecToJson(const ClusterSpec& spec);
nlohmann::json StatusToJson(const ClusterStatus& status);

}  // namespace pygrid::api
