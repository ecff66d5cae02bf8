// Provides the operator's own SSH identity: one ed25519 key pair kept in a Secret of type
// kubernetes.io/ssh-auth in the operator's namespace, created on first start. Its public key
// goes into every instance's user data; its private key only into the SSH probe.
//
//   StatusOr<bootstrap::SshKeyPair> key = EnsureOperatorKey(client, "pygrid-system",
//                                                           "pygrid-operator-ssh");
//
// Thread-safety: safe to call concurrently (several replicas race on create; the loser reads).
#pragma once

#include <string>

#include "bootstrap/ssh_keys.h"
#include "core/status.h"

namespace pygrid::kube {
class KubeClient;
}  // namespace pygrid::kube

namespace pygrid::cli {

StatusOr<bootstrap::SshKeyPair> EnsureOperatorKey(kube::KubeClient& client, const std::string& ns,
                                                  const std::string& name);

}  // namespace pygrid::cli
