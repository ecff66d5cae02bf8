#include "bootstrap/ssh_keys.h"

#include <libssh/libssh.h>

#include <cstdlib>
#include <memory>

namespace pygrid::bootstrap {

StatusOr<SshKeyPair> GenerateEd25519KeyPair(const std::string& comment) {
  ssh_key raw = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK) {
    return Status::Internal("libssh could not generate an ed25519 key");
  }
  std::unique_ptr<ssh_key_struct, decltype(&ssh_key_free)> key(raw, &ssh_key_free);
  char* private_b64 = nullptr;
  if (ssh_pki_export_privkey_base64(key.get(), nullptr, nullptr, nullptr, &private_b64) != SSH_OK) {
    return Status::Internal("libssh could not export the private key");
  }
  SshKeyPair pair;
  pair.private_key = private_b64;
  ssh_string_free_char(private_b64);
  char* public_b64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key.get(), &public_b64) != SSH_OK) {
    return Status::Internal("libssh could not export the public key");
  }
  pair.public_key = std::string("ssh-ed25519 ") + public_b64;
  ssh_string_free_char(public_b64);
  if (!comment.empty()) pair.public_key += " " + comment;
  if (pair.private_key.empty() || pair.private_key.back() != '\n') pair.private_key += "\n";
  return pair;
}

}  // namespace pygrid::bootstrap
