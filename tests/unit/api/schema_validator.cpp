#include "schema_validator.h"

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "bootstrap/yaml_json.h"

namespace pygrid::testing {

using nlohmann::json;

SchemaValidator SchemaValidator::FromCrdFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  StatusOr<json> crd = bootstrap::YamlToJson(text.str());
  if (!crd.ok()) throw std::runtime_error(path + ": " + crd.status().message());
  return SchemaValidator((*crd)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]);
}

namespace {

bool HasType(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  return true;
}

// Returns true when `value` violates nothing in `schema`'s value-level keywords (used by "not").
bool Violates(const json& schema, const json& value, const std::string& path,
              std::vector<std::string>& errors);

void Walk(const json& schema, json& value, const std::string& path,
          std::vector<std::string>& errors) {
  if (schema.contains("type") && !HasType(value, schema["type"].get<std::string>())) {
    errors.push_back(path);
    return;
  }
  // x-kubernetes-int-or-string: an integer or a string; its anyOf names just those two types.
  if (schema.value("x-kubernetes-int-or-string", false) && !value.is_number_integer() &&
      !value.is_string()) {
    errors.push_back(path);
    return;
  }
  Violates(schema, value, path, errors);
  if (value.is_object() && schema.contains("properties")) {
    for (const auto& [key, child_schema] : schema["properties"].items()) {
      if (!value.contains(key) && child_schema.contains("default"))
        value[key] = child_schema["default"];
    }
    if (schema.contains("required")) {
      for (const auto& key : schema["required"]) {
        if (!value.contains(key.get<std::string>()))
          errors.push_back(path + "." + key.get<std::string>());
      }
    }
    for (auto& [key, child] : value.items()) {
      if (schema["properties"].contains(key))
        Walk(schema["properties"][key], child, path + "." + key, errors);
    }
  }
  if (value.is_array() && schema.contains("items")) {
    for (size_t i = 0; i < value.size(); ++i) {
      Walk(schema["items"], value[i], path + "[" + std::to_string(i) + "]", errors);
    }
  }
}

bool Violates(const json& schema, const json& value, const std::string& path,
              std::vector<std::string>& errors) {
  const size_t before = errors.size();
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& allowed : schema["enum"]) found = found || allowed == value;
    if (!found) errors.push_back(path);
  }
  if (value.is_number()) {
    if (schema.contains("minimum") && value.get<double>() < schema["minimum"].get<double>())
      errors.push_back(path);
    if (schema.contains("maximum") && value.get<double>() > schema["maximum"].get<double>())
      errors.push_back(path);
  }
  if (value.is_string()) {
    // Kubernetes counts characters; the examples are ASCII, so bytes equal characters.
    const std::string text = value.get<std::string>();
    if (schema.contains("minLength") && text.size() < schema["minLength"].get<size_t>())
      errors.push_back(path);
    if (schema.contains("maxLength") && text.size() > schema["maxLength"].get<size_t>())
      errors.push_back(path);
    if (schema.contains("pattern") &&
        !std::regex_search(text, std::regex(schema["pattern"].get<std::string>()))) {
      errors.push_back(path);
    }
  }
  if (value.is_array()) {
    if (schema.contains("minItems") && value.size() < schema["minItems"].get<size_t>())
      errors.push_back(path);
    if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<size_t>())
      errors.push_back(path);
  }
  if (schema.contains("not")) {
    std::vector<std::string> inner;
    if (!Violates(schema["not"], value, path, inner)) errors.push_back(path);
  }
  return errors.size() > before;
}

}  // namespace

std::vector<std::string> SchemaValidator::Validate(json& value) const {
  std::vector<std::string> errors;
  // The examples are whole objects; validation starts at the root like the API server's.
  Walk(schema_, value, "", errors);
  for (std::string& error : errors) {
    if (!error.empty() && error[0] == '.') error.erase(0, 1);
  }
  return errors;
}

}  // namespace pygrid::testing
