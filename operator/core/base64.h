// Provides standard base64 (RFC 4648 §4), for kubeconfig *-data fields and Secret data, as a
// thin wrapper over OpenSSL's EVP encoder and decoder (EVP_EncodeBlock, EVP_DecodeUpdate).
//
//   std::optional<std::string> pem = Base64Decode(kubeconfig_field);
//   if (!pem) return Status::Invalid("not valid base64");
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>

namespace pygrid {

// Decodes padded base64 as Go's encoding/base64 StdEncoding does (what the API server and
// kubectl write), skipping whitespace and line breaks; nullopt on any other character, on
// data after the padding, or on a final group that is not complete.
std::optional<std::string> Base64Decode(const std::string& text);

// Encodes with padding, on one line.
std::string Base64Encode(const std::string& bytes);

}  // namespace pygrid
