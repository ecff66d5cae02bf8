// Internal: operations on parsed YAML templates. Values enter the tree as whole scalars, never
// as YAML text, so no value can add keys, documents or commands.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <set>
#include <string>

#include "core/status.h"

namespace pygrid::bootstrap::internal {

// Replaces every "{{name}}" inside scalar values with values.at(name) passed through `escape`
// (compose files double '$' so values cannot trigger compose interpolation). "{{file:path}}"
// is looked up in `files`. A placeholder with no value is an error naming it.
Status SubstitutePlaceholders(YAML::Node node, const std::map<std::string, std::string>& values,
                              const std::map<std::string, std::string>& files,
                              const std::function<std::string(const std::string&)>& escape);

// Removes every map entry or list item that is a map with "x-pygrid-if: <flag>" where <flag>
// is not in `true_flags`, and drops the "x-pygrid-if" key from those that stay.
void ApplyConditions(YAML::Node node, const std::set<std::string>& true_flags);

// Emits `node` as YAML text. Scalars that were quoted in the template or substituted are
// emitted quoted (multi-line ones as literal blocks), so a value like "0755" or "true" stays
// a string; plain template scalars stay plain.
std::string EmitYaml(const YAML::Node& node);

// Marks a scalar as a string for EmitYaml (as if it had been quoted in the template).
void MarkAsString(YAML::Node node);

}  // namespace pygrid::bootstrap::internal
