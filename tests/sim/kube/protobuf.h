// Decodes the Kubernetes protobuf envelope for the few built-in kinds kubectl's generators
// send as protobuf (`kubectl create configmap|secret|namespace|role|clusterrole|rolebinding|
// clusterrolebinding`, `kubectl auth can-i|whoami`). Pure; thread-safe.
#pragma once

#include <string>

#include "sim/kube/util.h"

namespace pygrid::sim::kube {

// Decodes an `application/vnd.kubernetes.protobuf` body ("k8s\0" + runtime.Unknown) holding a
// v1 ConfigMap, Secret or Namespace, or an rbac.authorization.k8s.io/v1 Role, ClusterRole,
// RoleBinding or ClusterRoleBinding, or a SelfSubjectAccessReview or SelfSubjectReview, into its
// JSON form; false with `error` for anything else.
bool DecodeKubernetesProtobuf(const std::string& body, json* out, std::string* error);

}  // namespace pygrid::sim::kube
