// Provides standard base64 (RFC 4648), for kubeconfig *-data fields and Secret data.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>

namespace pygrid {

// Decodes padded or unpadded base64, ignoring whitespace; nullopt on any other character.
std::optional<std::string> Base64Decode(const std::string& text);

// Encodes with padding.
std::string Base64Encode(const std::string& bytes);

}  // namespace pygrid
