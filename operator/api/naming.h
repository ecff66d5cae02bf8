// Provides the deterministic names that tie Genesis Cloud instances to their PyGridCluster.
// Genesis Cloud has no labels or tags, so ownership is encoded in the instance name (which is
// also its hostname): a lost status write is recovered by a name scan, and nothing is ever
// created twice.
//
//   InstanceNameFor("mnist", "0a1b2c3d-...", InstanceRole::kWorker, 3)
//     == "mnist-0a1b2c3d-worker-3"
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pygrid::api {

enum class InstanceRole { kGateway, kWorker };

// "<cluster>-<first 8 characters of uid>", the prefix of every instance of one cluster.
std::string InstancePrefixFor(const std::string& cluster_name, const std::string& cluster_uid);
// The instance name and hostname for a role; `index` is ignored for the gateway.
std::string InstanceNameFor(const std::string& cluster_name, const std::string& cluster_uid,
                            InstanceRole role, int index);

struct ParsedInstanceName {
  InstanceRole role;
  int index;  // 0 for the gateway
};
// Parses a name made by InstanceNameFor with the same prefix; nullopt for any other name.
std::optional<ParsedInstanceName> ParseInstanceName(const std::string& prefix,
                                                    const std::string& instance_name);

// The security group the operator shares among every grid of one account and region whose
// instances open the same TCP ports: "pygrid-ports-22-5000-7000-arc-is-haf-1" (ports sorted and
// unique, the region in lower case; no region suffix when `region` is empty). Genesis Cloud
// rules match protocol, direction and ports only (SPEC23 compute.v1.SecurityGroup.Rule; the
// source filter is each instance's firewall), so the port set describes the group completely
// and one deterministic name finds it again after any crash.
std::string SharedSecurityGroupNameFor(const std::string& region, std::vector<int> ports);

}  // namespace pygrid::api
