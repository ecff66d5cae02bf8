// Server-side printing: meta.k8s.io/v1 Table responses (for `Accept: application/json;as=Table;
// v=v1;g=meta.k8s.io`) built from a CRD's additionalPrinterColumns or, for built-ins, from the
// columns kube-apiserver's printers define. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "sim/kube/resource_types.h"

namespace pygrid::sim::kube {

// Evaluates a printer-column JSONPath (".a.b", ".a[0].b", ".a['x.y']"); null when absent.
json EvaluateJsonPath(const json& object, const std::string& path);

// columnDefinitions for `type`.
json TableColumns(const ResourceType& type);
// One row for `object` (cells plus the object as PartialObjectMetadata or as-is when
// include_object is "Object"; none when "None").
json TableRow(const ResourceType& type, const json& object, const std::string& include_object,
              std::chrono::system_clock::time_point now);
// A full Table; `list_meta` becomes its metadata (resourceVersion, continue).
json MakeTable(const ResourceType& type, const std::vector<json>& objects, const json& list_meta,
               const std::string& include_object, bool with_columns,
               std::chrono::system_clock::time_point now);

}  // namespace pygrid::sim::kube
