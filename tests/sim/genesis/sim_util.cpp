#include "sim_util.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "genesis_sim.h"
#include "sim/common/json_depth.h"

namespace pygrid::sim::genesis {

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

namespace {

std::optional<int> PositiveInt(const std::string& s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int v = std::stoi(s);
  if (v < 1) return std::nullopt;
  return v;
}

}  // namespace

std::optional<SimResponse> ParseJsonObject(const std::string& body, nlohmann::json* out) {
  // A pre-scan keeps nlohmann's recursive copies and comparisons far from the stack limit.
  if (JsonNestingDepth(body) > kMaxJsonNestingDepth) {
    return ErrorResponse(400, kCodeInvalidRequest, "request body is nested too deeply");
  }
  try {
    *out = nlohmann::json::parse(body);
  } catch (const std::exception&) {
    return ErrorResponse(400, kCodeInvalidRequest, "request body is not valid JSON");
  }
  if (!out->is_object()) {
    return ErrorResponse(400, kCodeInvalidRequest, "request body must be a JSON object");
  }
  return std::nullopt;
}

std::optional<std::string> OptionalString(const nlohmann::json& obj, const char* key,
                                          const std::string& fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<SimResponse> ParsePaging(const SimRequest& r, int* page, int* per_page) {
  *page = 1;
  *per_page = 50;
  if (auto it = r.query.find("page"); it != r.query.end()) {
    auto v = PositiveInt(it->second);
    if (!v) return ErrorResponse(400, kCodeInvalidRequest, "page must be a positive integer");
    *page = *v;
  }
  if (auto it = r.query.find("per_page"); it != r.query.end()) {
    auto v = PositiveInt(it->second);
    // SPEC23: "A positive integer lower or equal to 100"; larger values are refused here
    // (the real behaviour is undocumented, refusing catches client bugs).
    if (!v || *v > 100) {
      return ErrorResponse(400, kCodeInvalidRequest,
                           "per_page must be a positive integer lower or equal to 100");
    }
    *per_page = *v;
  }
  return std::nullopt;
}

SimResponse ListResponse(const std::string& key, const std::vector<nlohmann::json>& items, int page,
                         int per_page) {
  nlohmann::json slice = nlohmann::json::array();
  const size_t start = static_cast<size_t>(page - 1) * static_cast<size_t>(per_page);
  for (size_t i = start; i < items.size() && i < start + static_cast<size_t>(per_page); ++i) {
    slice.push_back(items[i]);
  }
  nlohmann::json body = {
      {key, slice}, {"total_count", items.size()}, {"page", page}, {"per_page", per_page}};
  return SimResponse::Json(200, body.dump());
}

bool DescribeSshKey(const std::string& value, std::string* type, int* size,
                    std::string* fingerprint) {
  std::istringstream in(value);
  std::string algo, b64;
  in >> algo >> b64;
  if (b64.empty()) return false;
  if (algo == "ssh-ed25519") {
    *type = "ed25519";
    *size = 256;
  } else if (algo == "ssh-rsa") {
    *type = "rsa";
  } else if (algo == "ecdsa-sha2-nistp256" || algo == "ecdsa-sha2-nistp384" ||
             algo == "ecdsa-sha2-nistp521") {
    // The only curves OpenSSH has (a stoi of any suffix threw on "ecdsa-sha2-nistpx").
    *type = "ecdsa";
    *size = std::stoi(algo.substr(16));
  } else {
    return false;
  }
  std::string blob(b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(blob.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n <= 0) return false;
  size_t pad = 0;
  while (pad < 2 && b64.size() > pad && b64[b64.size() - 1 - pad] == '=') ++pad;
  blob.resize(static_cast<size_t>(n) - pad);
  if (*type == "rsa") {
    // Blob: string "ssh-rsa", mpint e, mpint n; the size is n's bit length.
    auto read_len = [&](size_t at) -> size_t {
      if (at + 4 > blob.size()) return std::string::npos;
      const auto* p = reinterpret_cast<const unsigned char*>(blob.data() + at);
      return (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
    };
    size_t at = 0;
    for (int field = 0; field < 2; ++field) {
      size_t len = read_len(at);
      if (len == std::string::npos) return false;
      at += 4 + len;
    }
    size_t len = read_len(at);
    if (len == std::string::npos || at + 4 + len > blob.size()) return false;
    size_t off = at + 4;
    while (len > 0 && blob[off] == '\0') {
      ++off;
      --len;
    }
    *size = static_cast<int>(len * 8);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(blob.data(), blob.size(), md, &md_len, EVP_md5(), nullptr);
  std::string fp;
  char hex[4];
  for (unsigned int i = 0; i < md_len; ++i) {
    std::snprintf(hex, sizeof(hex), i == 0 ? "%02x" : ":%02x", md[i]);
    fp += hex;
  }
  *fingerprint = fp;
  return true;
}

}  // namespace pygrid::sim::genesis
