#include "controller/resources.h"

#include "api/types.h"

namespace pygrid::controller {

const kube::ResourceRef& PyGridClusters() {
  static const kube::ResourceRef ref{api::kGroup, api::kVersion, api::kPlural, true};
  return ref;
}

const kube::ResourceRef& Secrets() {
  static const kube::ResourceRef ref{"", "v1", "secrets", true};
  return ref;
}

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

StatusOr<std::string> DecodeBase64(const std::string& text) {
  std::string out;
  int buffer = 0, bits = 0;
  size_t padding = 0;
  for (char c : text) {
    if (c == '\n' || c == '\r') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const int value = Value(c);
    if (value < 0 || padding > 0) return Status::Invalid("not valid base64");
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if (padding > 2) return Status::Invalid("not valid base64");
  return out;
}

std::string EncodeBase64(const std::string& bytes) {
  std::string out;
  int buffer = 0, bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3f]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

}  // namespace pygrid::controller
