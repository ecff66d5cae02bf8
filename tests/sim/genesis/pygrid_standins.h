// Stand-ins for the PyGrid services of an emulated instance (shared/reference/pygrid.md §5-6):
// a gateway/network app that registers nodes (POST /join, GET /connected-nodes) and a node that
// answers its status and identity routes. Used by the instance emulation (emulation.h).
//
//   auto registry = std::make_shared<Registry>();
//   SimHandler gateway = [=](const SimRequest& r) {
//     return GatewayHandler("network-0.2", *registry, r);
//   };
//
// Thread-safety: the handlers may run on several threads; a Registry locks itself.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sim_http.h"

namespace pygrid::sim::genesis {

// Registered nodes of one gateway (the network's `gridnode` table: id, address).
struct Registry {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> nodes;
};

// The gateway of `flavor` (gateway-2020 | network-0.2): GET /, POST /join, GET /connected-nodes.
SimResponse GatewayHandler(const std::string& flavor, Registry& registry, const SimRequest& r);

// The node `node_id`: GET /, /data-centric/status/, /data-centric/identity/ (and the redirects
// without the trailing slash).
SimResponse NodeHandler(const std::string& node_id, const SimRequest& r);

}  // namespace pygrid::sim::genesis
