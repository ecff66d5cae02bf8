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
  std::string role;                        // gateway | node
  std::string flavor;                      // gateway-2020 | network-0.2
  std::map<std::string, std::string> env;  // ${PYGRID_PRIVATE_IP} already substituted
  int host_port = 0;                       // first "HOST:CONTAINER" mapping
  std::string restart;                     // compose restart policy ("" = no)
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
  std::vector<std::string> compose_images;
};

// Parses `text`; false with `error` set when it is not a #cloud-config YAML document or the
// compose file in it does not parse. Absent parts (no compose file, no keys) are not errors.
bool ParseUserData(const std::string& text, const std::string& private_ip, UserData* out,
                   std::string* error);

}  // namespace pygrid::sim::genesis
