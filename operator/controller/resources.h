// Provides the Kubernetes resources the controller works with.
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

}  // namespace pygrid::controller
