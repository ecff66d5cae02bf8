#include "cli/operator_identity.h"

#include <nlohmann/json.hpp>

#include "controller/resources.h"
#include "core/base64.h"
#include "kube/client.h"

namespace pygrid::cli {

namespace {

constexpr char kPrivateKey[] = "ssh-privatekey";  // the key kubernetes.io/ssh-auth requires
constexpr char kPublicKey[] = "ssh-publickey";

StatusOr<bootstrap::SshKeyPair> FromSecret(const nlohmann::json& secret, const std::string& where) {
  const nlohmann::json& data = secret.value("data", nlohmann::json::object());
  if (!data.contains(kPrivateKey) || !data.contains(kPublicKey)) {
    return Status::Invalid(where + " lacks " + kPrivateKey + " or " + kPublicKey);
  }
  std::optional<std::string> private_key = Base64Decode(data[kPrivateKey].get<std::string>());
  std::optional<std::string> public_key = Base64Decode(data[kPublicKey].get<std::string>());
  if (!private_key || !public_key) return Status::Invalid(where + " holds malformed base64");
  std::string pub = *public_key;
  while (!pub.empty() && (pub.back() == '\n' || pub.back() == ' ')) pub.pop_back();
  return bootstrap::SshKeyPair{*private_key, pub};
}

}  // namespace

StatusOr<bootstrap::SshKeyPair> EnsureOperatorKey(kube::KubeClient& client, const std::string& ns,
                                                  const std::string& name) {
  const std::string where = "Secret " + ns + "/" + name;
  StatusOr<nlohmann::json> existing = client.Get(controller::Secrets(), ns, name);
  if (existing.ok()) return FromSecret(*existing, where);
  if (!existing.status().IsNotFound()) return existing.status();
  StatusOr<bootstrap::SshKeyPair> generated = bootstrap::GenerateEd25519KeyPair("pygrid-operator");
  if (!generated.ok()) return generated.status();
  nlohmann::json secret = {{"apiVersion", "v1"},
                           {"kind", "Secret"},
                           {"metadata",
                            {{"name", name},
                             {"namespace", ns},
                             {"labels",
                              {{"app.kubernetes.io/name", "pygrid-operator"},
                               {"app.kubernetes.io/component", "ssh-identity"}}}}},
                           {"type", "kubernetes.io/ssh-auth"},
                           {"data",
                            {{kPrivateKey, Base64Encode(generated->private_key)},
                             {kPublicKey, Base64Encode(generated->public_key)}}}};
  StatusOr<nlohmann::json> created = client.Create(controller::Secrets(), ns, secret);
  if (created.ok()) return *generated;
  if (!created.status().IsAlreadyExists()) return created.status();
  // Another replica won the race: use its key.
  StatusOr<nlohmann::json> winner = client.Get(controller::Secrets(), ns, name);
  if (!winner.ok()) return winner.status();
  return FromSecret(*winner, where);
}

}  // namespace pygrid::cli
