// Provides YAML-to-JSON conversion for resource files (`pygrid-operator render --file`):
// plain scalars that read as integers, floats, booleans or null become JSON values of that
// type (YAML 1.2 core schema), quoted scalars stay strings.
//
//   StatusOr<nlohmann::json> object = YamlToJson(file_text);
//
// Thread-safety: pure function.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/status.h"

namespace pygrid::bootstrap {

// Parses the first YAML document of `text`; a syntax error is Invalid with the line number.
StatusOr<nlohmann::json> YamlToJson(const std::string& text);

}  // namespace pygrid::bootstrap
