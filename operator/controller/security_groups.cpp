#include "controller/security_groups.h"

#include <algorithm>

#include "api/naming.h"

namespace pygrid::controller {

namespace {

std::vector<int> GridPorts(const api::ClusterSpec& spec) {
  std::vector<int> ports = {22, spec.pygrid.gateway_port, spec.pygrid.node_port};
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

}  // namespace

std::vector<cloud::SecurityRule> GridRules(const api::ClusterSpec& spec) {
  std::vector<cloud::SecurityRule> rules;
  for (int port : GridPorts(spec)) rules.push_back({"tcp", "ingress", port, port});
  rules.push_back({"all", "egress", std::nullopt, std::nullopt});
  return rules;
}

std::string SharedSecurityGroupName(const api::ClusterSpec& spec) {
  return api::SharedSecurityGroupNameFor(spec.region, GridPorts(spec));
}

bool IsSecurityGroupPending(const cloud::SecurityGroup& group) {
  return group.status == "enqueued" || group.status == "creating" || group.status == "updating" ||
         group.status == "deleting";
}

std::string MissingRules(const cloud::SecurityGroup& group,
                         const std::vector<cloud::SecurityRule>& needed) {
  std::string missing;
  for (const cloud::SecurityRule& rule : needed) {
    if (rule.direction != "ingress") continue;
    bool covered = false;
    for (const cloud::SecurityRule& have : group.rules) {
      const bool protocol = have.protocol == "all" || have.protocol == rule.protocol;
      const bool ports =
          !have.port_range_min ||
          (*have.port_range_min <= *rule.port_range_min &&
           have.port_range_max.value_or(*have.port_range_min) >= *rule.port_range_min);
      covered |= have.direction == "ingress" && protocol && ports;
    }
    if (!covered) {
      missing += (missing.empty() ? "" : ", ") + rule.protocol + " ingress on port " +
                 std::to_string(*rule.port_range_min);
    }
  }
  return missing;
}

}  // namespace pygrid::controller
