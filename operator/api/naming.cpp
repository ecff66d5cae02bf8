#include "api/naming.h"

#include <algorithm>
#include <cctype>

namespace pygrid::api {

std::string InstancePrefixFor(const std::string& cluster_name, const std::string& cluster_uid) {
  std::string uid8;
  for (char c : cluster_uid) {
    if (uid8.size() == 8) break;
    if (std::isalnum(static_cast<unsigned char>(c))) uid8 += static_cast<char>(std::tolower(c));
  }
  return cluster_name + "-" + uid8;
}

std::string InstanceNameFor(const std::string& cluster_name, const std::string& cluster_uid,
                            InstanceRole role, int index) {
  const std::string prefix = InstancePrefixFor(cluster_name, cluster_uid);
  if (role == InstanceRole::kGateway) return prefix + "-gateway";
  return prefix + "-worker-" + std::to_string(index);
}

std::optional<ParsedInstanceName> ParseInstanceName(const std::string& prefix,
                                                    const std::string& instance_name) {
  if (instance_name.compare(0, prefix.size() + 1, prefix + "-") != 0) return std::nullopt;
  const std::string rest = instance_name.substr(prefix.size() + 1);
  if (rest == "gateway") return ParsedInstanceName{InstanceRole::kGateway, 0};
  const std::string worker = "worker-";
  if (rest.compare(0, worker.size(), worker) != 0) return std::nullopt;
  const std::string digits = rest.substr(worker.size());
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0'))
    return std::nullopt;
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return ParsedInstanceName{InstanceRole::kWorker, std::stoi(digits)};
}

std::string SharedSecurityGroupNameFor(const std::string& region, std::vector<int> ports) {
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  std::string name = "pygrid-ports";
  for (int port : ports) name += "-" + std::to_string(port);
  if (!region.empty()) name += "-";
  for (char c : region) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace pygrid::api
