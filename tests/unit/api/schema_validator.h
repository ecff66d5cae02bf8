// A test-only validator for the subset of OpenAPI v3 that the PyGridCluster CRD uses
// (type, properties, required, items, enum, not, minimum/maximum, minLength/maxLength,
// minItems/maxItems, pattern, default), applying schema defaults first as the API server does.
// It lets the tests check the CRD and operator/api/validation.cpp against the same examples.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pygrid::testing {

class SchemaValidator {
 public:
  explicit SchemaValidator(nlohmann::json schema) : schema_(std::move(schema)) {}
  // Loads spec.versions[0].schema.openAPIV3Schema of a CRD file.
  static SchemaValidator FromCrdFile(const std::string& path);

  // Fills schema defaults into `value` (in place) and returns the paths of every violation,
  // e.g. "spec.workers.replicas".
  std::vector<std::string> Validate(nlohmann::json& value) const;
  const nlohmann::json& schema() const { return schema_; }

 private:
  nlohmann::json schema_;
};

}  // namespace pygrid::testing
