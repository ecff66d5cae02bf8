#include "core/base64.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>

namespace pygrid {

std::optional<std::string> Base64Decode(const std::string& text) {
  // OpenSSL's PEM decoder treats '-' as the start of an "-----END" line and stops there;
  // in a kubeconfig field or Secret value it is simply not base64.
  if (text.find('-') != std::string::npos) return std::nullopt;
  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> ctx(EVP_ENCODE_CTX_new(),
                                                                      EVP_ENCODE_CTX_free);
  if (!ctx) return std::nullopt;
  EVP_DecodeInit(ctx.get());
  // Decoded output never exceeds 3 bytes per 4 input characters.
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t written = 0;
  constexpr size_t kChunk = 1 << 16;  // EVP_DecodeUpdate takes an int length
  for (size_t pos = 0; pos < text.size(); pos += kChunk) {
    const int in_len = static_cast<int>(std::min(kChunk, text.size() - pos));
    int out_len = 0;
    if (EVP_DecodeUpdate(ctx.get(), reinterpret_cast<unsigned char*>(&out[written]), &out_len,
                         reinterpret_cast<const unsigned char*>(text.data() + pos), in_len) < 0) {
      return std::nullopt;
    }
    written += static_cast<size_t>(out_len);
  }
  int final_len = 0;
  if (EVP_DecodeFinal(ctx.get(), reinterpret_cast<unsigned char*>(&out[written]), &final_len) !=
      1) {
    return std::nullopt;
  }
  out.resize(written + static_cast<size_t>(final_len));
  return out;
}

std::string Base64Encode(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + the NUL EVP_EncodeBlock writes
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace pygrid
