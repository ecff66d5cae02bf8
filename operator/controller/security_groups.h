// Provides what a grid needs of a Genesis Cloud security group: its rules, the name of the group
// the operator shares among grids with the same ports, and what a user's own group lacks.
//
//   std::vector<cloud::SecurityRule> rules = GridRules(spec);  // tcp 22 + the grid's ports in
//   std::string name = SharedSecurityGroupName(spec);           // pygrid-ports-22-5000-7000-...
//
// Genesis Cloud rules match protocol, direction and ports only (SPEC23
// compute.v1.SecurityGroup.Rule), so spec.network.allowedSourceCIDRs is enforced on each
// instance by cloud-init/pygrid-firewall.sh, and grids that open the same ports in one region
// can share one group. Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "api/types.h"
#include "cloud/cloud_provider.h"

namespace pygrid::controller {

// SSH and the grid's two ports in (tcp), everything out (apt, image pulls).
std::vector<cloud::SecurityRule> GridRules(const api::ClusterSpec& spec);

// The shared group for the grid's region and ports (api::SharedSecurityGroupNameFor).
std::string SharedSecurityGroupName(const api::ClusterSpec& spec);

// True while the cloud is still applying the group (SPEC23 status enqueued, creating or
// updating) or removing it (deleting: its name is free again once it is gone): no instance may
// be created into it now, look again later. A group without a status (the 2020 API listed
// none) counts as applied.
bool IsSecurityGroupPending(const cloud::SecurityGroup& group);

// What a group the operator does not own lacks of `needed` ("" when nothing): an ingress rule
// is covered by any rule of the same protocol (or "all") whose port range contains its port.
std::string MissingRules(const cloud::SecurityGroup& group,
                         const std::vector<cloud::SecurityRule>& needed);

}  // namespace pygrid::controller
