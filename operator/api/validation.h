// Provides validation of PyGridCluster resources: every error with its field path, in the
// words `kubectl` users know ("spec.workers.replicas: must be between 0 and 100").
//
// ValidateSpec checks what the CRD schema checks too (tests/unit/api runs the same examples
// through both); ValidateCluster adds the rules a schema cannot express (name length for
// instance hostnames, distinct ports). Both expect a defaulted spec (api/defaults.h), as the
// API server validates after defaulting.
//
//   std::vector<FieldCause> errors = ValidateCluster(cluster);
//   if (!errors.empty()) SetSpecInvalid(errors);
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "api/types.h"
#include "core/status.h"

namespace pygrid::api {

// Longest cluster name whose instance names (<name>-<uid8>-worker-<i>) stay valid hostnames.
inline constexpr size_t kMaxClusterNameLength = 40;

// Errors in `spec` that the CRD's OpenAPI schema also rejects.
std::vector<FieldCause> ValidateSpec(const ClusterSpec& spec);
// Every error in `cluster`: ValidateSpec plus the cross-field and metadata rules.
std::vector<FieldCause> ValidateCluster(const PyGridCluster& cluster);

// "spec.a: x; spec.b: y", for conditions and events.
std::string JoinCauses(const std::vector<FieldCause>& causes);

}  // namespace pygrid::api
