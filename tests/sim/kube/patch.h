// The PATCH flavours kube-apiserver accepts and the field-ownership bookkeeping behind
// server-side apply. Pure functions on JSON; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "sim/kube/util.h"

namespace pygrid::sim::kube {

// RFC 7386 JSON merge patch (application/merge-patch+json).
json ApplyMergePatch(const json& target, const json& patch);

// RFC 6902 JSON patch (application/json-patch+json); false with `error` (e.g. a failed "test"
// or a missing path) so the caller can answer 422 as the real server does.
bool ApplyJsonPatch(const json& target, const json& patch, json* out, std::string* error);

// Strategic merge patch for built-in types (application/strategic-merge-patch+json): maps
// merge, null deletes, lists are replaced except the ones with patchStrategy=merge in the
// built-in types kube-sim serves (metadata.finalizers as a set; ownerReferences by uid;
// conditions by type); $patch: replace|delete, $retainKeys, $setElementOrder and
// $deleteFromPrimitiveList directives.
bool ApplyStrategicMergePatch(const json& target, const json& patch, json* out, std::string* error);

// A leaf field path such as {"spec", "workers", "replicas"}.
using FieldPath = std::vector<std::string>;

// The leaf paths `value` sets (scalars, lists and empty objects are leaves); metadata fields
// owned by the server (name, uid, resourceVersion, ...) are left out.
std::vector<FieldPath> LeafPaths(const json& value);
// Leaf paths whose value differs between `before` and `after` (set in `after`).
std::vector<FieldPath> ChangedPaths(const json& before, const json& after);
// managedFields' fieldsV1 encoding ({"f:spec":{"f:replicas":{}}}) of a set of paths, and back.
json ToFieldsV1(const std::vector<FieldPath>& paths);
std::vector<FieldPath> FromFieldsV1(const json& fields);
// ".spec.workers.replicas", as apply conflict messages print a path.
std::string PathString(const FieldPath& path);
// The value at `path` or null.
json ValueAt(const json& object, const FieldPath& path);
// Removes the value at `path` (no-op when absent); empty parent maps are kept.
void RemoveAt(json* object, const FieldPath& path);
// How an apply conflict names the manager of managedFields entry `entry` (printManager in
// k8s.io/apimachinery managedfields/internal/conflict.go): `"kubectl"`, then ` with subresource
// "scale"` when the entry has one, then ` using <api_version>` for an Update.
std::string ConflictManager(const json& entry, const std::string& api_version);
// Sets `value` at `path`, creating intermediate maps.
void SetAt(json* object, const FieldPath& path, const json& value);

}  // namespace pygrid::sim::kube
