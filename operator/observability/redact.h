// Provides the process-wide secret registry: every string registered here (the Genesis Cloud
// API token, the SSH private key) is replaced by "[REDACTED]" in every log record before it is
// written, and by Redact() wherever else text leaves the process (events, probe answers).
// Defence in depth: code must still never log a secret on purpose.
//
//   RegisterSecret(credentials.api_token);
//   RegisterSecret(private_key_pem);          // also each long line of a multi-line secret
//   event.message = Redact(status.ToString());
//
// Thread-safety: all functions are safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace pygrid::observability {

// The text that replaces a secret.
inline constexpr std::string_view kRedacted = "[REDACTED]";

// Registers `secret`. Secrets shorter than 4 characters are ignored (they would redact
// ordinary words). For a multi-line secret (a PEM key), each trimmed line of 16 or more
// characters that is not a "-----BEGIN/END" armour line is registered too, so a fragment is
// caught as well.
void RegisterSecret(std::string_view secret);
// `text` with every registered secret replaced by kRedacted (longest secrets first).
std::string Redact(std::string_view text);
// True if any secret is registered (lets hot paths skip Redact).
bool HasSecrets();
// Forgets every secret; for tests only.
void ClearSecretsForTesting();

}  // namespace pygrid::observability
