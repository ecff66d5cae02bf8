// Formats follow k8s.io/apimachinery: metav1.Time (RFC 3339, seconds), metav1.MicroTime
// (RFC 3339 with 6 fractional digits), util/duration.HumanDuration for ages.
#include "sim/kube/util.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <ctime>
#include <iomanip>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>

#include "sim/common/json_depth.h"

namespace pygrid::sim::kube {

namespace {

// Aliases can make a small document expand enormously ("billion laughs"); go-yaml refuses
// that, and so does kube-sim once a document converts to more nodes than this.
constexpr size_t kMaxYamlNodes = 1000000;

json YamlToJson(const YAML::Node& node, size_t* budget) {
  if ((*budget)++ > kMaxYamlNodes) {
    throw std::runtime_error("yaml: document contains excessive aliasing");
  }
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      for (const auto& item : node) arr.push_back(YamlToJson(item, budget));
      return arr;
    }
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (const auto& kv : node) obj[kv.first.as<std::string>()] = YamlToJson(kv.second, budget);
      return obj;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") return s;  // quoted scalar: always a string
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      if (s == "null" || s == "~" || s == "Null" || s == "NULL") return nullptr;
      if (!s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' ||
                         s[0] == '+' || s[0] == '.')) {
        try {
          size_t pos = 0;
          long long v = std::stoll(s, &pos);
          if (pos == s.size()) return v;
          double d = std::stod(s, &pos);
          if (pos == s.size()) return d;
        } catch (...) {
        }
      }
      return s;
    }
  }
  return nullptr;
}

std::mutex rng_mu;
std::mt19937_64& Rng() {
  static std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

}  // namespace

std::string ToValidUtf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    size_t len = b0 < 0x80                  ? 1
                 : b0 >= 0xC2 && b0 <= 0xDF ? 2
                 : b0 >= 0xE0 && b0 <= 0xEF ? 3
                 : b0 >= 0xF0 && b0 <= 0xF4 ? 4
                                            : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    }
    if (ok && len >= 3) {
      // Overlong forms, surrogates and code points above U+10FFFF.
      const auto b1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(b0 == 0xE0 && b1 < 0xA0) && !(b0 == 0xED && b1 >= 0xA0) &&
           !(b0 == 0xF0 && b1 < 0x90) && !(b0 == 0xF4 && b1 >= 0x90);
    }
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string DumpJson(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool ParseBody(const std::string& raw, json* out, std::string* error) {
  if (JsonNestingDepth(raw) > kMaxJsonNestingDepth) {
    if (error) *error = "json: exceeded max depth";
    return false;
  }
  const std::string body = ToValidUtf8(raw);
  try {
    *out = json::parse(body);
    return true;
  } catch (const std::exception&) {
  }
  try {
    size_t budget = 0;
    *out = YamlToJson(YAML::Load(body), &budget);
    return true;
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return false;
  }
}

std::string FormatTime(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatMicroTime(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1000000;
  char buf[48];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::ostringstream os;
  os << buf << '.' << std::setw(6) << std::setfill('0') << us << 'Z';
  return os.str();
}

bool ParseTime(const std::string& s, std::chrono::system_clock::time_point* out) {
  std::tm tm{};
  std::istringstream is(s);
  is >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (is.fail()) return false;
  *out = std::chrono::system_clock::from_time_t(timegm(&tm));
  return true;
}

std::string HumanDuration(std::chrono::system_clock::duration d) {
  using namespace std::chrono;
  long long secs = duration_cast<seconds>(d).count();
  if (secs < -1) return "<invalid>";
  if (secs < 0) return "0s";
  auto s = [](long long v, const char* u) { return std::to_string(v) + u; };
  if (secs < 60 * 2) return s(secs, "s");
  long long minutes = secs / 60;
  if (minutes < 10) {
    long long rem = secs % 60;
    return rem == 0 ? s(minutes, "m") : s(minutes, "m") + s(rem, "s");
  }
  if (minutes < 60 * 3) return s(minutes, "m");
  long long hours = minutes / 60;
  if (hours < 8) {
    long long rem = minutes % 60;
    return rem == 0 ? s(hours, "h") : s(hours, "h") + s(rem, "m");
  }
  if (hours < 48) return s(hours, "h");
  if (hours < 24 * 8) {
    long long rem = hours % 24;
    return rem == 0 ? s(hours / 24, "d") : s(hours / 24, "d") + s(rem, "h");
  }
  if (hours < 24 * 365 * 2) return s(hours / 24, "d");
  if (hours < 24 * 365 * 8) {
    long long dy = (hours / 24) % 365;
    return dy == 0 ? s(hours / 24 / 365, "y") : s(hours / 24 / 365, "y") + s(dy, "d");
  }
  return s(hours / 24 / 365, "y");
}

std::string Base64Encode(const std::string& in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

bool Base64Decode(const std::string& in, std::string* out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4 != 0) return false;
  out->clear();
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = in[i + j];
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        v[j] = 0;
        ++pad;
      } else {
        if (pad) return false;
        v[j] = val(c);
        if (v[j] < 0) return false;
      }
    }
    unsigned n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out->push_back(static_cast<char>((n >> 16) & 255));
    if (pad < 2) out->push_back(static_cast<char>((n >> 8) & 255));
    if (pad < 1) out->push_back(static_cast<char>(n & 255));
  }
  return true;
}

std::string NewUid() {
  std::lock_guard<std::mutex> lock(rng_mu);
  std::uniform_int_distribution<int> hex(0, 15);
  const char* digits = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      out += '-';
    } else if (i == 14) {
      out += '4';
    } else if (i == 19) {
      out += digits[8 + hex(Rng()) % 4];
    } else {
      out += digits[hex(Rng())];
    }
  }
  return out;
}

std::string RandomSuffix(size_t n) {
  // k8s.io/apimachinery/pkg/util/rand: alphanums without vowels and confusable characters.
  static const std::string alphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::lock_guard<std::mutex> lock(rng_mu);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string out;
  for (size_t i = 0; i < n; ++i) out += alphabet[pick(Rng())];
  return out;
}

bool IsTrue(const std::string& v) {
  return v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True";
}

json StatusBody(int code, const std::string& reason, const std::string& message,
                const json& details) {
  json s = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason},
            {"code", code}};
  if (!details.is_null()) s["details"] = details;
  if (reason.empty()) s.erase("reason");
  return s;
}

}  // namespace pygrid::sim::kube
