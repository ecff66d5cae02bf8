// Provides the PyGridCluster API (group distributor.pygrid.dev, version v1alpha1) as plain C++
// types: spec, status, conditions and the object metadata the operator reads.
//
//   StatusOr<PyGridCluster> cluster = ClusterFromJson(object);   // api/json.h
//   ApplyDefaults(cluster->spec);                                 // api/defaults.h
//   std::vector<FieldCause> errors = ValidateCluster(*cluster);   // api/validation.h
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pygrid::api {

inline constexpr char kGroup[] = "distributor.pygrid.dev";
inline constexpr char kVersion[] = "v1alpha1";
inline constexpr char kApiVersion[] = "distributor.pygrid.dev/v1alpha1";
inline constexpr char kKind[] = "PyGridCluster";
inline constexpr char kPlural[] = "pygridclusters";
inline constexpr char kFinalizer[] = "distributor.pygrid.dev/cleanup";

// The PyGrid release family a grid runs (see cloud-init/README.md for what each means).
enum class Flavor { kGateway2020, kNetwork02 };
enum class GpuDriver { kNvidia, kNone };
enum class DeletionPolicy { kDelete, kRetain };

// Phase is a summary for people; conditions are the contract.
enum class Phase {
  kPending,
  kProvisioning,
  kReady,
  kUpdating,
  kDegraded,
  kSuspended,
  kDeleting,
  kFailed
};

const char* FlavorName(Flavor flavor);
const char* GpuDriverName(GpuDriver driver);
const char* DeletionPolicyName(DeletionPolicy policy);
const char* PhaseName(Phase phase);
std::optional<Flavor> ParseFlavor(const std::string& text);
std::optional<GpuDriver> ParseGpuDriver(const std::string& text);
std::optional<DeletionPolicy> ParseDeletionPolicy(const std::string& text);
std::optional<Phase> ParsePhase(const std::string& text);

struct SecretKeyRef {
  std::string name;
  std::string key;  // "" until defaulted to "token"
  bool operator==(const SecretKeyRef& o) const { return name == o.name && key == o.key; }
};

struct GatewaySpec {
  std::string instance_type;
  bool colocated_worker = true;
  std::string startup_timeout;  // "30m": not serving after this long, it is replaced
  bool operator==(const GatewaySpec& o) const {
    return instance_type == o.instance_type && colocated_worker == o.colocated_worker &&
           startup_timeout == o.startup_timeout;
  }
};

struct WorkersSpec {
  int replicas = 1;
  std::string instance_type;
  std::string startup_timeout;  // "30m": not registered after this long, it is replaced
  std::string max_unhealthy;    // "40%" or a count: above it, nothing is replaced
  std::string max_unavailable;  // "1" or "25%": ready workers a rolling update takes out at once
  bool operator==(const WorkersSpec& o) const {
    return replicas == o.replicas && instance_type == o.instance_type &&
           startup_timeout == o.startup_timeout && max_unhealthy == o.max_unhealthy &&
           max_unavailable == o.max_unavailable;
  }
};

struct PyGridSpec {
  Flavor flavor = Flavor::kGateway2020;
  std::string gateway_image;  // "" means the flavour's default
  std::string node_image;     // "" means the flavour's default
  int gateway_port = 0;       // 0 means the flavour's default
  int node_port = 0;          // 0 means the flavour's default
  bool operator==(const PyGridSpec& o) const {
    return flavor == o.flavor && gateway_image == o.gateway_image && node_image == o.node_image &&
           gateway_port == o.gateway_port && node_port == o.node_port;
  }
};

struct NetworkSpec {
  std::string security_group_name;  // "" means pygrid-<cluster name>
  std::vector<std::string> allowed_source_cidrs;
  bool operator==(const NetworkSpec& o) const {
    return security_group_name == o.security_group_name &&
           allowed_source_cidrs == o.allowed_source_cidrs;
  }
};

struct ClusterSpec {
  SecretKeyRef credentials_secret_ref;
  std::string region;
  std::string image;
  // What instances boot from instead of `image`: "auto" (a snapshot of `image` the operator
  // bakes with the driver, Docker and the PyGrid images installed), "none" (always `image`,
  // installing at every boot), or the id or name of the user's own prepared image.
  std::string prepared_image;
  std::vector<std::string> ssh_key_names;
  GatewaySpec gateway;
  WorkersSpec workers;
  PyGridSpec pygrid;
  GpuDriver gpu_driver = GpuDriver::kNvidia;
  NetworkSpec network;
  bool suspend = false;
  std::string provisioning_timeout;  // "45m": not Ready this long after creation is reported
  DeletionPolicy deletion_policy = DeletionPolicy::kDelete;
  bool operator==(const ClusterSpec& o) const {
    return credentials_secret_ref == o.credentials_secret_ref && region == o.region &&
           image == o.image && prepared_image == o.prepared_image &&
           ssh_key_names == o.ssh_key_names && gateway == o.gateway && workers == o.workers &&
           pygrid == o.pygrid && gpu_driver == o.gpu_driver && network == o.network &&
           suspend == o.suspend && provisioning_timeout == o.provisioning_timeout &&
           deletion_policy == o.deletion_policy;
  }
};

// metav1.Condition.
struct Condition {
  std::string type;
  std::string status;  // "True", "False" or "Unknown"
  int64_t observed_generation = 0;
  std::string last_transition_time;  // RFC 3339, UTC, seconds precision
  std::string reason;                // CamelCase
  std::string message;
  bool operator==(const Condition& o) const {
    return type == o.type && status == o.status && observed_generation == o.observed_generation &&
           last_transition_time == o.last_transition_time && reason == o.reason &&
           message == o.message;
  }
};

struct GatewayStatus {
  std::string name;
  std::string node_id;  // the co-located worker's id at the gateway, if any
  std::string instance_id;
  std::string public_ip;
  std::string private_ip;
  std::string state;
  bool ready = false;
  std::string ssh_host_key;
  // When a create was sent that the cloud has not shown yet (RFC 3339); "" once it shows.
  std::string create_requested_at;
  // Hash of the spec fields the instance was built from ("" when unknown: made before v0.2).
  std::string spec_hash;
  // Replacements in a row because start-up failed or timed out (reset once it serves); each
  // doubles the next start-up timeout.
  int startup_failures = 0;
  // Since when it has run without serving (RFC 3339; "" while it serves or is not running):
  // its start-up timeout counts from here, so a restarted instance gets its full time again.
  std::string unready_since;
  bool operator==(const GatewayStatus& o) const {
    return name == o.name && node_id == o.node_id && instance_id == o.instance_id &&
           public_ip == o.public_ip && private_ip == o.private_ip && state == o.state &&
           ready == o.ready && ssh_host_key == o.ssh_host_key &&
           create_requested_at == o.create_requested_at && spec_hash == o.spec_hash &&
           startup_failures == o.startup_failures && unready_since == o.unready_since;
  }
};

struct WorkerStatus {
  std::string name;
  int index = 0;
  std::string node_id;
  std::string instance_id;
  std::string public_ip;
  std::string private_ip;
  std::string state;
  bool registered = false;
  bool ready = false;
  std::string ssh_host_key;
  std::string create_requested_at;  // as GatewayStatus
  std::string gateway_ip;     // the gateway private IP its user data joins (PyGrid joins once)
  std::string spec_hash;      // as GatewayStatus
  int startup_failures = 0;   // as GatewayStatus
  std::string unready_since;  // as GatewayStatus
  bool operator==(const WorkerStatus& o) const {
    return name == o.name && index == o.index && node_id == o.node_id &&
           instance_id == o.instance_id && public_ip == o.public_ip && private_ip == o.private_ip &&
           state == o.state && registered == o.registered && ready == o.ready &&
           ssh_host_key == o.ssh_host_key && create_requested_at == o.create_requested_at &&
           gateway_ip == o.gateway_ip && spec_hash == o.spec_hash &&
           startup_failures == o.startup_failures && unready_since == o.unready_since;
  }
};

inline constexpr char kGatewayAddressBySsh[] = "SSH";
inline constexpr char kGatewayAddressByUserData[] = "UserData";

// The image this grid's creates boot from now.
struct ImageStatus {
  std::string id;
  bool prepared = false;  // holds the driver, Docker and the images (a bake or the user's own)
  bool baked = false;     // the operator's own bake
  bool operator==(const ImageStatus& o) const {
    return id == o.id && prepared == o.prepared && baked == o.baked;
  }
};

struct ClusterStatus {
  std::optional<Phase> phase;
  std::string endpoint;
  std::optional<GatewayStatus> gateway;
  std::vector<WorkerStatus> workers;
  int ready_workers = 0;
  int desired_workers = 0;
  int64_t observed_generation = 0;
  std::string security_group_id;
  // How workers learn the gateway's private address: kGatewayAddressBySsh (created with the
  // gateway, the address delivered over SSH once it is known) or kGatewayAddressByUserData
  // (created once the gateway runs, the address in their user data: the fallback when SSH
  // cannot reach them). "" until the first delivery or fallback (SSH is tried first).
  std::string gateway_address_delivery;
  std::optional<ImageStatus> image;
  std::vector<Condition> conditions;
  bool operator==(const ClusterStatus& o) const {
    return phase == o.phase && endpoint == o.endpoint && gateway == o.gateway &&
           workers == o.workers && ready_workers == o.ready_workers &&
           desired_workers == o.desired_workers && observed_generation == o.observed_generation &&
           security_group_id == o.security_group_id &&
           gateway_address_delivery == o.gateway_address_delivery && image == o.image &&
           conditions == o.conditions;
  }
  bool operator!=(const ClusterStatus& o) const { return !(*this == o); }
};

// The parts of metadata the operator reads and writes.
struct ObjectMeta {
  std::string name;
  std::string namespace_name;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  std::string creation_timestamp;
  std::string deletion_timestamp;  // "" when not being deleted
  std::vector<std::string> finalizers;
};

struct PyGridCluster {
  ObjectMeta metadata;
  ClusterSpec spec;
  ClusterStatus status;
};

}  // namespace pygrid::api
