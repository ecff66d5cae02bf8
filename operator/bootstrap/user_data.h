// Provides the user data of PyGrid instances: a #cloud-config document that installs Docker
// (and with gpu.driver=nvidia the NVIDIA driver and container toolkit), writes the flavour's
// compose file, starts the services, and writes /var/lib/pygrid/ready once they answer.
// Rendered from the cloud-init/ templates as a YAML tree; see cloud-init/README.md.
//
//   InstanceUserDataInput input;
//   input.role = api::InstanceRole::kWorker; input.index = 2; ...
//   StatusOr<std::string> user_data = RenderUserData(defaulted_spec, input);
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "api/naming.h"
#include "api/types.h"
#include "bootstrap/templates.h"
#include "core/status.h"

namespace pygrid::bootstrap {

// Genesis Cloud's limit on metadata.startup_script (shared reference genesis-cloud-api.md §1.4).
inline constexpr size_t kMaxStartupScriptBytes = 64 * 1024;
inline constexpr char kReadyMarkerPath[] = "/var/lib/pygrid/ready";
inline constexpr char kFailedMarkerPath[] = "/var/lib/pygrid/failed";
inline constexpr char kComposePath[] = "/opt/pygrid/docker-compose.yml";
inline constexpr char kLoginUser[] = "ubuntu";
// A worker's inbox: created by pygrid-start (owner kLoginUser, mode 0700), so the operator can
// write the gateway address into it over SSH without sudo (cloud-init/README.md).
inline constexpr char kInboxPath[] = "/var/lib/pygrid/in";
// The delivered address: one line "GATEWAY_URL=http://<IPv4>:<port>".
inline constexpr char kDeliveredGatewayPath[] = "/var/lib/pygrid/in/gateway.env";
// Re-joins a started worker to the address in the inbox (a gateway replacement).
inline constexpr char kRejoinPath[] = "/usr/local/sbin/pygrid-rejoin";

struct InstanceUserDataInput {
  api::InstanceRole role = api::InstanceRole::kGateway;
  int index = 0;
  std::string hostname;  // the instance name (DNS-1123 label)
  std::string node_id;   // id the node registers under; unused on a gateway without a worker
  // Workers only: where their node joins. Empty renders a deferred worker, which prepares
  // everything else and waits for the address in kDeliveredGatewayPath.
  std::string gateway_private_ip;
  std::string secret_key;           // gateways only: the app's SECRET_KEY (a secret)
  std::string operator_public_key;  // the operator's SSH key, for user ubuntu
  std::vector<std::string> extra_authorized_keys;
  std::string host_private_key;  // the instance's ed25519 host key (a secret)
  std::string host_public_key;
  // The boot image already holds what the packages module would install (a baked snapshot or
  // the user's own prepared image): no package_update/packages, so no apt run at boot.
  bool prepared_image = false;
};

// True for a worker rendered without the gateway's address (see gateway_private_ip).
bool IsDeferredWorker(const InstanceUserDataInput& input);

// The URL workers join: http://<gateway private IP>:<gatewayPort>.
std::string GatewayJoinURL(const api::ClusterSpec& spec, const std::string& gateway_private_ip);

// Renders the compose file alone (what /opt/pygrid/docker-compose.yml will hold).
StatusOr<std::string> RenderCompose(const api::ClusterSpec& spec,
                                    const InstanceUserDataInput& input,
                                    const Templates& templates = Templates::Builtin());

// Renders the whole user data. `spec` must be defaulted (api::ApplyDefaults). Inputs are
// checked (IP, hostname, node id, key formats); the result must fit kMaxStartupScriptBytes.
StatusOr<std::string> RenderUserData(const api::ClusterSpec& spec,
                                     const InstanceUserDataInput& input,
                                     const Templates& templates = Templates::Builtin());

}  // namespace pygrid::bootstrap
