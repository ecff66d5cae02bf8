// Request decoding as kube-apiserver does it before any handler logic: a body is unmarshalled
// into the resource's Go type, so a value of the wrong JSON type is a 400 naming the Go field
// (`json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type
// string`), a JSON null leaves the field unset, and unknown metadata fields vanish. Custom
// resources are unstructured: only their ObjectMeta is decoded, and a malformed metadata field
// is dropped rather than refused (apiextensions-apiserver GetObjectMetaWithOptions with
// DropMalformedFields). kube-sim's handlers rely on this: after Decode, every field they read
// has the type they expect. Pure functions; thread-safe.
//
//   std::string err;
//   if (!DecodeRequestObject(*info.type, &obj, &err)) return 400 "<Kind> in version ...: " + err
#pragma once

#include <string>

#include "sim/kube/resource_types.h"
#include "sim/kube/util.h"

namespace pygrid::sim::kube {

// Normalizes `obj` (a JSON object in the request's apiVersion) the way decoding into the Go
// type of `type` would; false with the decoder's error text when the real server refuses it.
bool DecodeRequestObject(const ResourceType& type, json* obj, std::string* error);

// Normalizes an autoscaling/v1 Scale (the body of a /scale write, or a patched Scale) as
// decoding into the Go type would; false with the decoder's error text. apiVersion and kind
// are left for the caller to check.
bool DecodeScale(json* scale, std::string* error);

// Checks a DELETE body (meta/v1 DeleteOptions); false with the decoder's error text.
bool DecodeDeleteOptions(json* options, std::string* error);

}  // namespace pygrid::sim::kube
