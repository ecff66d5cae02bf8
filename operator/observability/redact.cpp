#include "observability/redact.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <vector>

namespace pygrid::observability {
namespace {

struct SecretRegistry {
  std::shared_mutex mu;
  std::vector<std::string> secrets;  // longest first; guarded by mu
  std::atomic<bool> any{false};
};

SecretRegistry& Registry() {
  static SecretRegistry* registry = new SecretRegistry();  // never destroyed: used at exit
  return *registry;
}

void AddLocked(SecretRegistry& r, std::string secret) {
  if (secret.size() < 4) return;
  if (std::find(r.secrets.begin(), r.secrets.end(), secret) != r.secrets.end()) return;
  r.secrets.push_back(std::move(secret));
  std::stable_sort(r.secrets.begin(), r.secrets.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  r.any = true;
}

std::string Trim(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t begin = s.find_first_not_of(ws);
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(ws) - begin + 1);
}

}  // namespace

void RegisterSecret(std::string_view secret) {
  SecretRegistry& r = Registry();
  std::unique_lock<std::shared_mutex> lock(r.mu);
  std::string whole = Trim(std::string(secret));
  AddLocked(r, whole);
  if (whole.find('\n') == std::string::npos) return;
  std::istringstream lines(whole);
  std::string line;
  while (std::getline(lines, line)) {
    line = Trim(line);
    if (line.size() >= 16 && line.rfind("-----", 0) != 0) AddLocked(r, line);
  }
}

std::string Redact(std::string_view text) {
  SecretRegistry& r = Registry();
  std::string out(text);
  if (!r.any) return out;
  std::shared_lock<std::shared_mutex> lock(r.mu);
  for (const std::string& secret : r.secrets) {
    for (size_t pos = out.find(secret); pos != std::string::npos;
         pos = out.find(secret, pos + kRedacted.size())) {
      out.replace(pos, secret.size(), kRedacted);
    }
  }
  return out;
}

bool HasSecrets() { return Registry().any; }

void ClearSecretsForTesting() {
  SecretRegistry& r = Registry();
  std::unique_lock<std::shared_mutex> lock(r.mu);
  r.secrets.clear();
  r.any = false;
}

}  // namespace pygrid::observability
