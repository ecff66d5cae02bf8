// The /scale subresource of custom resources, as apiextensions-apiserver serves it
// (pkg/registry/customresource/etcd.go ScaleREST and validator.go): the autoscaling/v1 Scale a
// custom resource shows through its CRD's scale paths, the one value a /scale write changes,
// and the checks every write of such a resource gets. Pure functions; thread-safe. The
// handlers that use them are ApiServer's (scale.cc).
//
//   json scale;
//   bool found = false;
//   std::string err;
//   if (ScaleFromCustomResource(cr, *type.scale, &scale, &found, &err) && found) ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/kube/resource_types.h"
#include "sim/kube/schema.h"
#include "sim/kube/util.h"

namespace pygrid::sim::kube {

// scaleFromCustomResource: apiVersion autoscaling/v1, kind Scale, the resource's name,
// namespace, uid, resourceVersion and creationTimestamp; spec.replicas from the spec path
// (left out when 0, as the Go type's omitempty does), status.replicas from the status path (0
// when absent), status.selector from the selector path when the CRD names one and it is set.
// `spec_found` says whether the spec path holds a value. False with unstructured's accessor
// error when a path crosses or ends at a value of the wrong type.
bool ScaleFromCustomResource(const json& cr, const ScalePaths& paths, json* scale, bool* spec_found,
                             std::string* error);

// unstructured.SetNestedField: `replicas` at the spec path, creating the maps on the way;
// false with its error when a value on the way is not a map.
bool SetSpecReplicas(json* cr, const ScalePaths& paths, int64_t replicas, std::string* error);

// ValidateScaleSpec and ValidateScaleStatus, which run on every write of a resource whose CRD
// serves /scale: the replicas paths hold non-negative int32 values (or nothing) and the
// selector path a string. The field is the path as the CRD writes it (".spec.replicas").
std::vector<FieldError> ValidateScaleFields(const json& cr, const ScalePaths& paths);

}  // namespace pygrid::sim::kube
