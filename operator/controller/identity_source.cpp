// The production IdentitySource: ed25519 host keys from libssh, secrets from OpenSSL's CSPRNG.
#include <openssl/rand.h>

#include <cstdio>

#include "controller/reconciler.h"

namespace pygrid::controller {

namespace {

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return "";  // the caller treats an empty secret as a failure
  }
  std::string hex;
  char digits[3];
  for (unsigned char c : raw) {
    std::snprintf(digits, sizeof digits, "%02x", c);
    hex += digits;
  }
  return hex;
}

class CryptoIdentitySource final : public IdentitySource {
 public:
  StatusOr<bootstrap::SshKeyPair> HostKey(const std::string& name) override {
    return bootstrap::GenerateEd25519KeyPair(name);
  }
  std::string NodeIdSuffix() override { return RandomHex(2); }
  std::string SecretKey() override { return RandomHex(32); }
};

}  // namespace

std::unique_ptr<IdentitySource> MakeIdentitySource() {
  return std::make_unique<CryptoIdentitySource>();
}

}  // namespace pygrid::controller
