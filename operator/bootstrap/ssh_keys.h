// Provides SSH key generation for the operator's identity and per-instance host keys (so the
// operator can pin every instance's host key instead of trusting it on first use).
//
//   StatusOr<SshKeyPair> host = GenerateEd25519KeyPair("mnist-0a1b2c3d-gateway");
//   // host->private_key goes into the user data only; host->public_key into status.
//
// Thread-safety: safe to call from several threads (libssh key generation is reentrant).
#pragma once

#include <string>

#include "core/status.h"

namespace pygrid::bootstrap {

struct SshKeyPair {
  std::string private_key;  // OpenSSH private key format; a secret, never logged
  std::string public_key;   // "ssh-ed25519 AAAA... comment"
};

StatusOr<SshKeyPair> GenerateEd25519KeyPair(const std::string& comment);

}  // namespace pygrid::bootstrap
