#include "controller/resources.h"

#include "api/types.h"

namespace pygrid::controller {

const kube::ResourceRef& PyGridClusters() {
  static const kube::ResourceRef ref{api::kGroup, api::kVersion, api::kPlural, true};
  return ref;
}

const kube::ResourceRef& Secrets() {
  static const kube::ResourceRef ref{"", "v1", "secrets", true};
  return ref;
}

}  // namespace pygrid::controller
