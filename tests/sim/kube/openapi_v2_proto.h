// The protobuf form of an OpenAPI v2 (Swagger 2.0) document, as kube-apiserver serves
// /openapi/v2 to clients that ask for application/com.github.proto-openapi.spec.v2@v1.0+protobuf
// (client-go's DiscoveryClient.OpenAPISchema, used by kubectl): the gnostic message
// openapi.v2.Document (github.com/google/gnostic-models openapiv2/OpenAPIv2.proto). Pure
// function; thread-safe.
//
//   std::string wire = EncodeOpenApiV2Document(swagger_json);
//
// Encodes the subset of Swagger 2.0 kube-sim emits: swagger, info, paths (get/put/post/delete/
// patch operations with query, path and body parameters and responses), definitions (schemas
// with $ref, type, properties, items, additionalProperties, allOf, the validations, required,
// enum, default, example), security, securityDefinitions (apiKey) and every x- vendor
// extension (encoded as gnostic does, as YAML text; JSON is valid YAML).
#pragma once

#include <string>

#include "sim/kube/util.h"

namespace pygrid::sim::kube {

// The wire bytes of openapi.v2.Document for `swagger` (a Swagger 2.0 JSON document).
std::string EncodeOpenApiV2Document(const json& swagger);

}  // namespace pygrid::sim::kube
