#include "api/defaults.h"

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
  if (spec.gateway.instance_type.empty()) spec.gateway.instance_type = kDefaultInstanceType;
  if (spec.workers.instance_type.empty()) spec.workers.instance_type = kDefaultInstanceType;
  const FlavorDefaults flavor = DefaultsFor(spec.pygrid.flavor);
  if (spec.pygrid.gateway_image.empty()) spec.pygrid.gateway_image = flavor.gateway_image;
  if (spec.pygrid.node_image.empty()) spec.pygrid.node_image = flavor.node_image;
  if (spec.pygrid.gateway_port == 0) spec.pygrid.gateway_port = flavor.gateway_port;
  if (spec.pygrid.node_port == 0) spec.pygrid.node_port = flavor.node_port;
}

std::string SecurityGroupNameFor(const std::string& cluster_name, const std::string& cluster_uid,
                                 const ClusterSpec& spec) {
  if (!spec.network.security_group_name.empty()) return spec.network.security_group_name;
  return "pygrid-" + InstancePrefixFor(cluster_name, cluster_uid);
}

}  // namespace pygrid::api
