// Structural-schema handling of custom resources as kube-apiserver's apiextensions does it:
// pruning of unknown fields, defaulting, validation with field-path error causes, and the
// OpenAPI v3 documents that `kubectl explain` reads. Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "sim/kube/util.h"

namespace pygrid::sim::kube {

// One validation failure; `reason` is a metav1.CauseType ("FieldValueInvalid", ...), `message`
// is the text after "<field>: " in the Status message.
struct FieldError {
  std::string field;
  std::string reason;
  std::string message;
};

// Removes fields the schema does not declare (unless x-kubernetes-preserve-unknown-fields);
// appends the removed paths ("spec.foo") to `pruned`. apiVersion/kind/metadata of the root
// object are kept.
void PruneUnknownFields(const json& schema, json* object, std::vector<std::string>* pruned);

// Fills in `default`s top-down (a defaulted object gets its own nested defaults), including
// for null values of non-nullable fields.
void ApplyDefaults(const json& schema, json* object);

// Validates against the schema (type, nullable, required, enum, minimum/maximum (+exclusive),
// minLength/maxLength, pattern, minItems/maxItems, uniqueItems, x-kubernetes-int-or-string).
// The root's metadata is not validated here.
std::vector<FieldError> ValidateObject(const json& schema, const json& object);

// Formats `v` as Go's field.Invalid does in messages (`500`, `"abc"`, `true`, `"null"`).
std::string FormatInvalidValue(const json& v);

// The components.schemas name kube-apiserver gives a CRD kind: reversed group + version + kind
// ("dev.pygrid.distributor.v1alpha1.PyGridCluster").
std::string OpenApiDefinitionName(const std::string& group, const std::string& version,
                                  const std::string& kind);

}  // namespace pygrid::sim::kube
