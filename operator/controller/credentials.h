// Provides ReadToken: the Genesis Cloud API token from a PyGridCluster's credentials Secret,
// checked before it goes anywhere near an HTTP header.
//
//   CredentialsOrProblem read = ReadToken(secret_json, "team-a", spec.credentials_secret_ref);
//   if (!read.problem.ok()) ... read.problem.reason == "TokenMalformed" ...
//
// A token is 1 to 4096 printable ASCII characters without spaces (after trailing whitespace,
// as `echo token | base64` leaves it, is trimmed). Anything else (a newline inside, NUL, a
// second header smuggled in with CR LF, 200 KB of data) is TokenMalformed and is never sent.
// Messages never contain the token. Thread-safety: pure functions.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "api/types.h"
#include "controller/planner.h"

namespace pygrid::controller {

inline constexpr size_t kMaxTokenBytes = 4096;

struct CredentialsOrProblem {
  CredentialsObservation problem;  // ok() when `token` is usable
  std::string token;               // a secret
};

CredentialsOrProblem ReadToken(const std::optional<nlohmann::json>& secret, const std::string& ns,
                               const api::SecretKeyRef& ref);

// The operator's copy of a cluster's token: a Secret in the operator's namespace named after
// the cluster's uid, key "token", labelled with the cluster's namespace and name.
inline constexpr char kCredentialsCopyKey[] = "token";
std::string CredentialsCopyName(const std::string& cluster_uid);
nlohmann::json CredentialsCopy(const std::string& operator_namespace,
                               const api::ObjectMeta& cluster, const std::string& token);

}  // namespace pygrid::controller
