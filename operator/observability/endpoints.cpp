#include "observability/endpoints.h"

#include <algorithm>
#include <set>

#include "observability/redact.h"

namespace pygrid::observability {
namespace {

constexpr const char* kText = "text/plain; charset=utf-8";

// Runs a check, turning an escaping exception into a failure rather than a dead probe server.
Status RunCheck(const HealthChecks::Check& check) {
  try {
    return check();
  } catch (const std::exception& e) {
    return Status::Internal(e.what());
  }
}

}  // namespace

HttpHandler MetricsHandler(const Metrics& metrics) {
  return [&metrics](const HttpRequest& request) {
    if (request.path != "/metrics") return HttpResponse{404, kText, "404 page not found\n"};
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics.Serialize()};
  };
}

HealthChecks::HealthChecks() {
  healthz_.emplace_back("ping", [] { return Status::Ok(); });
  readyz_.emplace_back("ping", [] { return Status::Ok(); });
}

void HealthChecks::AddHealthzCheck(std::string name, Check check) {
  std::lock_guard<std::mutex> lock(mu_);
  healthz_.emplace_back(std::move(name), std::move(check));
}

void HealthChecks::AddReadyzCheck(std::string name, Check check) {
  std::lock_guard<std::mutex> lock(mu_);
  readyz_.emplace_back(std::move(name), std::move(check));
}

HttpHandler HealthChecks::Handler() const {
  return [this](const HttpRequest& request) { return Serve(request); };
}

HttpResponse HealthChecks::Serve(const HttpRequest& request) const {
  std::vector<NamedCheck> checks;
  std::string rest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const char* root : {"/healthz", "/readyz"}) {
      const std::string prefix(root);
      if (request.path.compare(0, prefix.size(), prefix) != 0) continue;
      rest = request.path.substr(prefix.size());
      if (!rest.empty() && rest != "/" && rest[0] != '/') continue;
      checks = prefix == "/healthz" ? healthz_ : readyz_;
      break;
    }
  }
  if (checks.empty()) return {404, kText, "404 page not found\n"};
  if (rest.empty() || rest == "/") return Aggregate(checks, request);
  // One check by name, as controller-runtime serves /healthz/<name>.
  const std::string name = rest.substr(1);
  for (const auto& [check_name, check] : checks) {
    if (check_name != name) continue;
    Status status = RunCheck(check);
    if (status.ok()) return {200, kText, "ok"};
    return {500, kText, "internal server error: " + Redact(status.message()) + "\n"};
  }
  return {404, kText, "404 page not found\n"};
}

HttpResponse HealthChecks::Aggregate(const std::vector<NamedCheck>& checks,
                                     const HttpRequest& request) const {
  std::vector<std::string> excluded_list = QueryValues(request.query, "exclude");
  std::set<std::string> excluded(excluded_list.begin(), excluded_list.end());
  std::vector<std::pair<std::string, std::string>> lines;  // (name, line) sorted by name
  bool failed = false;
  for (const auto& [name, check] : checks) {
    if (excluded.erase(name) > 0) {
      lines.emplace_back(name, "[+]" + name + " excluded: ok");
      continue;
    }
    if (RunCheck(check).ok()) {
      lines.emplace_back(name, "[+]" + name + " ok");
    } else {
      // The reason stays in the logs: probe endpoints are unauthenticated.
      lines.emplace_back(name, "[-]" + name + " failed: reason withheld");
      failed = true;
    }
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string listing;
  for (const auto& line : lines) listing += line.second + "\n";
  // Always verbose on failure, as controller-runtime is.
  if (failed) return {500, kText, listing + "healthz check failed\n"};
  if (!HasQueryParameter(request.query, "verbose")) return {200, kText, "ok"};
  return {200, kText, listing + "healthz check passed\n"};
}

}  // namespace pygrid::observability
