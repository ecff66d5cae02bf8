// Provides the defaulting rules of the PyGridCluster API: the same defaults the CRD schema
// declares, plus the per-flavour image and port defaults that a schema cannot express.
//
//   ApplyDefaults(cluster.spec);
//   FlavorDefaults d = DefaultsFor(cluster.spec.pygrid.flavor);
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "api/types.h"

namespace pygrid::api {

inline constexpr char kDefaultRegion[] = "ARC-IS-HAF-1";
inline constexpr char kDefaultImage[] = "Ubuntu 22.04";
// spec.preparedImage: bake a prepared snapshot of spec.image (the default), or never.
inline constexpr char kPreparedImageAuto[] = "auto";
inline constexpr char kPreparedImageNone[] = "none";
inline constexpr char kDefaultInstanceType[] = "vcpu-4_memory-12g_disk-80g_nvidia1080ti-1";
inline constexpr char kDefaultSecretKey[] = "token";

// Images and ports of a PyGrid flavour (facts: shared/reference/pygrid.md §2–4).
struct FlavorDefaults {
  const char* gateway_image;
  const char* node_image;
  int gateway_port;
  int node_port;
};

FlavorDefaults DefaultsFor(Flavor flavor);

inline constexpr char kDefaultStartupTimeout[] = "30m";
inline constexpr char kDefaultProvisioningTimeout[] = "45m";
inline constexpr char kDefaultMaxUnhealthy[] = "40%";
inline constexpr char kDefaultMaxUnavailable[] = "1";

// "90s", "30m", "2h" as seconds; nullopt for anything else.
std::optional<std::chrono::seconds> ParseDuration(const std::string& text);
// spec.workers.maxUnhealthy as a count of workers: "40%" of `replicas` rounded up (a
// MachineHealthCheck rounds down; on grids of one or two workers that would never replace a
// single broken one), or a plain number; nullopt when malformed.
std::optional<int> MaxUnhealthyWorkers(const WorkersSpec& workers);
// spec.workers.maxUnavailable as a count of ready workers a rolling update may take out at
// once: a plain number, or a percentage of `replicas` rounded down as a Deployment's, but at
// least 1 (there is no surge: a replacement takes its predecessor's index and name, so a
// rollout with 0 could never start). nullopt when malformed, 0 or 0%, or above 100%.
std::optional<int> MaxUnavailableWorkers(const WorkersSpec& workers);

// Fills every unset field of `spec` with its default; idempotent.
void ApplyDefaults(ClusterSpec& spec);

// The security group of a cluster: spec.network.securityGroupName (an existing group the
// operator uses but never changes or deletes), or, when empty, the group the operator owns:
// "pygrid-<cluster name>-<uid8>", unique per cluster (two clusters named alike in two
// namespaces never share it).
std::string SecurityGroupNameFor(const std::string& cluster_name, const std::string& cluster_uid,
                                 const ClusterSpec& spec);

}  // namespace pygrid::api
