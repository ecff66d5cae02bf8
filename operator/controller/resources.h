// Provides the Kubernetes resources the controller works with and small decoding helpers.
//
//   StatusOr<json> object = client.Get(PyGridClusters(), "default", "mnist");
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "core/status.h"
#include "kube/client.h"

namespace pygrid::controller {

// distributor.pygrid.dev/v1alpha1 pygridclusters.
const kube::ResourceRef& PyGridClusters();
// core/v1 secrets.
const kube::ResourceRef& Secrets();

// Decodes standard base64 (Secret data); Invalid on malformed input.
StatusOr<std::string> DecodeBase64(const std::string& text);
// Encodes standard base64 with padding.
std::string EncodeBase64(const std::string& bytes);

}  // namespace pygrid::controller
