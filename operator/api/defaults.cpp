#include "api/defaults.h"

#include <algorithm>
#include <utility>

#include "api/naming.h"

namespace pygrid::api {

FlavorDefaults DefaultsFor(Flavor flavor) {
  switch (flavor) {
    case Flavor::kGateway2020:
      // Early-2020 compose files: gateway on 5000, nodes from 3000 (pygrid.md §3 B–D).
      return {"openmined/grid-gateway:latest", "openmined/grid-node:latest", 5000, 3000};
    case Flavor::kNetwork02:
      // Final 0.2.x compose file: network on 7000, nodes from 5000 (pygrid.md §3 G).
      return {"openmined/grid-network:production", "openmined/grid-node:production", 7000, 5000};
  }
  return {"", "", 0, 0};
}

void ApplyDefaults(ClusterSpec& spec) {
  if (spec.credentials_secret_ref.key.empty()) spec.credentials_secret_ref.key = kDefaultSecretKey;
  if (spec.region.empty()) spec.region = kDefaultRegion;
  if (spec.image.empty()) spec.image = kDefaultImage;
  if (spec.prepared_image.empty()) spec.prepared_image = kPreparedImageAuto;
  if (spec.gateway.instance_type.empty()) spec.gateway.instance_type = kDefaultInstanceType;
  if (spec.workers.instance_type.empty()) spec.workers.instance_type = kDefaultInstanceType;
  if (spec.gateway.startup_timeout.empty()) spec.gateway.startup_timeout = kDefaultStartupTimeout;
  if (spec.workers.startup_timeout.empty()) spec.workers.startup_timeout = kDefaultStartupTimeout;
  if (spec.provisioning_timeout.empty()) spec.provisioning_timeout = kDefaultProvisioningTimeout;
  if (spec.workers.max_unhealthy.empty()) spec.workers.max_unhealthy = kDefaultMaxUnhealthy;
  if (spec.workers.max_unavailable.empty()) spec.workers.max_unavailable = kDefaultMaxUnavailable;
  const FlavorDefaults flavor = DefaultsFor(spec.pygrid.flavor);
  if (spec.pygrid.gateway_image.empty()) spec.pygrid.gateway_image = flavor.gateway_image;
  if (spec.pygrid.node_image.empty()) spec.pygrid.node_image = flavor.node_image;
  if (spec.pygrid.gateway_port == 0) spec.pygrid.gateway_port = flavor.gateway_port;
  if (spec.pygrid.node_port == 0) spec.pygrid.node_port = flavor.node_port;
}

std::optional<std::chrono::seconds> ParseDuration(const std::string& text) {
  if (text.size() < 2 || text.size() > 8) return std::nullopt;
  long long value = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  switch (text.back()) {
    case 's':
      return std::chrono::seconds(value);
    case 'm':
      return std::chrono::seconds(value * 60);
    case 'h':
      return std::chrono::seconds(value * 3600);
    default:
      return std::nullopt;
  }
}

namespace {

// "40%" or "2": the number (0 to 100) and whether it was a percentage; nullopt otherwise.
std::optional<std::pair<int, bool>> CountOrPercent(const std::string& text) {
  const bool percent = !text.empty() && text.back() == '%';
  const std::string digits = percent ? text.substr(0, text.size() - 1) : text;
  if (digits.empty() || digits.size() > 4) return std::nullopt;
  int value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  // Counts above 100 are beyond spec.workers.replicas' maximum; a leading zero is refused as
  // the CRD's pattern refuses it.
  if (value > 100 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  return std::make_pair(value, percent);
}

}  // namespace

std::optional<int> MaxUnhealthyWorkers(const WorkersSpec& workers) {
  std::optional<std::pair<int, bool>> parsed = CountOrPercent(workers.max_unhealthy);
  if (!parsed) return std::nullopt;
  const auto [value, percent] = *parsed;
  // Rounded up: one broken worker is replaced.
  return percent ? (workers.replicas * value + 99) / 100 : value;
}

std::optional<int> MaxUnavailableWorkers(const WorkersSpec& workers) {
  std::optional<std::pair<int, bool>> parsed = CountOrPercent(workers.max_unavailable);
  if (!parsed || parsed->first == 0) return std::nullopt;
  const auto [value, percent] = *parsed;
  return percent ? std::max(1, workers.replicas * value / 100) : value;
}

std::string SecurityGroupNameFor(const std::string& cluster_name, const std::string& cluster_uid,
                                 const ClusterSpec& spec) {
  if (!spec.network.security_group_name.empty()) return spec.network.security_group_name;
  return "pygrid-" + InstancePrefixFor(cluster_name, cluster_uid);
}

}  // namespace pygrid::api
