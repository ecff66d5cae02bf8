#include "controller/credentials.h"

#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "observability/redact.h"

namespace pygrid::controller {

CredentialsOrProblem ReadToken(const std::optional<nlohmann::json>& secret, const std::string& ns,
                               const api::SecretKeyRef& ref) {
  CredentialsOrProblem out;
  const std::string where = "Secret " + ns + "/" + ref.name;
  auto problem = [&](const char* reason, const std::string& message) {
    out.problem = {reason, message};
    out.token.clear();
    return out;
  };
  if (!secret) return problem("SecretNotFound", where + " does not exist");
  const nlohmann::json data = secret->value("data", nlohmann::json::object());
  if (!data.is_object() || !data.contains(ref.key) || !data[ref.key].is_string()) {
    return problem("SecretKeyMissing", where + " has no key " + ref.key);
  }
  std::optional<std::string> decoded = Base64Decode(data[ref.key].get<std::string>());
  if (!decoded) return problem("TokenMalformed", where + " key " + ref.key + " is not base64");
  std::string token = std::move(*decoded);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' ||
                            token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty()) return problem("TokenEmpty", where + " key " + ref.key + " holds no token");
  if (token.size() > kMaxTokenBytes) {
    return problem("TokenMalformed",
                   where + " key " + ref.key + " holds " + std::to_string(token.size()) +
                       " bytes; an API token is at most " + std::to_string(kMaxTokenBytes));
  }
  for (unsigned char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return problem("TokenMalformed",
                     where + " key " + ref.key +
                         " holds a character that cannot be part of an API token (a control "
                         "character, space or non-ASCII byte)");
    }
  }
  observability::RegisterSecret(token);  // defence in depth for logs
  out.token = std::move(token);
  return out;
}

std::string CredentialsCopyName(const std::string& cluster_uid) {
  return "pygrid-credentials-" + cluster_uid;
}

nlohmann::json CredentialsCopy(const std::string& operator_namespace,
                               const api::ObjectMeta& cluster, const std::string& token) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"type", "Opaque"},
          {"metadata",
           {{"name", CredentialsCopyName(cluster.uid)},
            {"namespace", operator_namespace},
            {"labels",
             {{"app.kubernetes.io/managed-by", "pygrid-operator"},
              {"distributor.pygrid.dev/cluster-namespace", cluster.namespace_name},
              {"distributor.pygrid.dev/cluster-name", cluster.name}}}}},
          {"data", {{kCredentialsCopyKey, Base64Encode(token)}}}};
}

}  // namespace pygrid::controller
