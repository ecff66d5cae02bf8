// Reads what the instance emulation needs out of an instance's #cloud-config user data
// (notes/CLOUD-INIT-CONTRACT.md): the SSH host key, the authorized keys, the PyGrid services
// of /opt/pygrid/docker-compose.yml with their environment and host ports, and what the set-up
// model (setup_model.h) charges for: apt packages, the GPU set-up and the images compose pulls.
// Thread-safety: pure function.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace pygrid::sim::genesis {

// One compose service labelled dev.pygrid.role (gateway|node).
struct PyGridService {
  std::string name;
  std::string role;    // gateway | node
  std::string flavor;  // gateway-2020 | network-0.2
  // ${PYGRID_PRIVATE_IP} already substituted, ${PYGRID_GATEWAY_URL} by start.conf's GATEWAY_URL
  // (empty for a deferred worker until the emulation has the delivered address).
  std::map<std::string, std::string> env;
  // The env keys whose value is ${PYGRID_GATEWAY_URL} (the node's join URL): what a delivered
  // address or a re-join rewrites.
  std::vector<std::string> gateway_url_keys;
  int host_port = 0;    // first "HOST:CONTAINER" mapping
  std::string restart;  // compose restart policy ("" = no)
};

struct UserData {
  std::string host_key_private;  // ssh_keys.ed25519_private
  std::string host_key_public;
  std::vector<std::string> authorized_keys;  // every users[].ssh_authorized_keys entry
  std::vector<PyGridService> services;
  // For the set-up model: cloud-init's package module (package_update, packages), GPU=nvidia in
  // /opt/pygrid/start.conf (pygrid-start then runs pygrid-gpu-setup), and the image of every
  // compose service (labelled or not), in file order, without duplicates.
  bool package_update = false;
  std::vector<std::string> packages;
  std::map<std::string, std::string> start_conf;  // ROLE, GPU, GATEWAY_URL, ...
  bool gpu_nvidia = false;
  // ROLE=worker: pygrid-start pulls before it waits for the gateway, and the operator may
  // deliver a (new) address into /var/lib/pygrid/in/gateway.env.
  bool worker = false;
  // ROLE=worker with GATEWAY_WAIT=ssh: no address yet; it waits for the delivered one.
  bool deferred = false;
  std::vector<std::string> compose_images;
  // cloud-init's power_state module with mode poweroff (the operator's bake builder): the
  // instance shuts itself off once its user data has run. Its `condition` is taken as met (the
  // simulated set-up never fails).
  bool power_off = false;
};

// Parses `text`; false with `error` set when it is not a #cloud-config YAML document or the
// compose file in it does not parse. Absent parts (no compose file, no keys) are not errors.
bool ParseUserData(const std::string& text, const std::string& private_ip, UserData* out,
                   std::string* error);

}  // namespace pygrid::sim::genesis
