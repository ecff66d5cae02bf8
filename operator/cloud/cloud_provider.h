// Provides pygrid::cloud::CloudProvider: everything the operator needs from a GPU cloud (list,
// get, create, delete, start/stop instances; look up images and SSH keys; list, create, update
// and delete security groups; snapshot instances and list, get and delete snapshots), with plain
// domain structs and pygrid::Status errors. Nothing here knows about Kubernetes or about a
// particular cloud; cloud/genesis/ implements it for Genesis Cloud.
//
//   std::unique_ptr<CloudProvider> cloud = genesis::MakeGenesisClient(options);
//   StatusOr<Instance> created = cloud->CreateInstance(request);
//   if (!created.ok() && IsAmbiguousCreateFailure(created.status())) {
//     // The create may have happened: look it up by its unique name, never re-POST blindly.
//     StatusOr<std::optional<Instance>> found = cloud->FindInstanceByName(request.name);
//   }
//
// Thread-safety: implementations are safe to call from several threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace pygrid::cloud {

// A named reference to another resource as embedded in an instance ({id, name}).
struct ResourceRef {
  std::string id;
  std::string name;
  bool operator==(const ResourceRef& o) const { return id == o.id && name == o.name; }
};

// One virtual machine as the cloud reports it. `status` is the provider's raw string
// (Genesis: enqueued, creating, active, stopping, shutoff/stopped, starting, deleting, error).
struct Instance {
  std::string id;
  std::string name;
  std::string hostname;
  std::string type;
  ResourceRef image;
  std::string status;
  std::string region;
  std::optional<std::string> public_ip;   // null until the instance is active
  std::optional<std::string> private_ip;  // null until the instance is active
  std::vector<ResourceRef> ssh_keys;
  std::vector<ResourceRef> security_groups;
  std::string created_at;                 // RFC 3339 as sent by the cloud
  std::optional<std::string> updated_at;  // null until the first update
};

// An image an instance can boot from (base OS, preconfigured, or an account snapshot).
struct Image {
  std::string id;
  std::string name;
  std::string type;                 // base-os | preconfigured | snapshot
  std::optional<std::string> slug;  // e.g. "ubuntu-ml-nvidia-pytorch", when the cloud has one
  std::vector<std::string> regions;
  std::string created_at;
};

// An SSH public key registered with the account.
struct SshKey {
  std::string id;
  std::string name;
  std::string value;  // the public key text
  std::string fingerprint;
  std::string created_at;
};

// One firewall rule; ports are absent for icmp/all.
struct SecurityRule {
  std::string protocol;   // tcp | udp | icmp | all
  std::string direction;  // ingress | egress
  std::optional<int> port_range_min;
  std::optional<int> port_range_max;
  bool operator==(const SecurityRule& o) const {
    return protocol == o.protocol && direction == o.direction &&
           port_range_min == o.port_range_min && port_range_max == o.port_range_max;
  }
};

// A security group; `status` is the provider's raw string (enqueued, creating, updating, created,
// deleting, error: SPEC23 compute.v1.SecurityGroup.Status).
struct SecurityGroup {
  std::string id;
  std::string name;
  std::string description;
  std::string region;
  std::string status;
  std::vector<SecurityRule> rules;
  std::string created_at;
};

// A snapshot of an instance's disk (SPEC23 compute.v1.Snapshot). `status` is the provider's raw
// string: snapshotting, then available (or error). Regional: only instances in `region` can
// boot from it, by giving its id as CreateInstanceRequest::image.
struct Snapshot {
  std::string id;
  std::string name;
  std::string resource_id;  // the instance it was taken of
  std::string region;
  std::string status;
  std::string created_at;  // RFC 3339 as sent by the cloud
};

// What to create. `name` must be unique within the account: it is the idempotency key the
// caller uses to resolve an ambiguous create. `region` empty means the cloud's default.
struct CreateInstanceRequest {
  std::string name;
  std::string hostname;
  std::string type;
  std::string image;  // image id (a snapshot id works too)
  std::vector<std::string> ssh_key_ids;
  std::vector<std::string> security_group_ids;  // empty: the cloud applies its default group
  std::string startup_script;                   // cloud-config or bash, <= 64 KiB
  std::string region;
};

// What the client reports after every HTTP attempt (for metrics): `operation` is a stable
// name such as "ListInstances", `status` the HTTP status or 0 when there was no answer,
// `attempt` counts from 1, `rate_limited` is true for a 429.
struct RequestRecord {
  std::string operation;
  std::string method;
  int status = 0;
  std::chrono::duration<double> duration{0};
  bool rate_limited = false;
  int attempt = 1;
};

// Called synchronously after every attempt, possibly from several threads at once; it must be
// cheap and thread-safe, and it never sees credentials.
using RequestHook = std::function<void(const RequestRecord&)>;

// True when `status` from CreateInstance leaves the outcome unknown (timeout, connection
// failure, 5xx, lost response): the instance may or may not exist.
bool IsAmbiguousCreateFailure(const Status& status);

class CloudProvider {
 public:
  virtual ~CloudProvider() = default;

  // Sets the hook called after every HTTP attempt (empty removes it); safe while calls are in
  // flight. Implementations without HTTP requests ignore it.
  virtual void SetRequestHook(RequestHook hook) {}

  // All instances of the account, every page.
  virtual StatusOr<std::vector<Instance>> ListInstances() = 0;
  // One instance; NotFound once it is gone.
  virtual StatusOr<Instance> GetInstance(const std::string& id) = 0;
  // Creates an instance and returns it as first reported (status enqueued/creating, no IPs).
  //
  // Ambiguous-create contract: a create is NEVER retried by the client after a timeout, a
  // connection reset or a 5xx, because the cloud may have performed it. Such failures come
  // back with IsAmbiguousCreateFailure() true; the caller resolves them by listing instances
  // and looking up the unique `request.name` (FindInstanceByName) before creating again.
  // Unambiguous refusals (401, 4xx validation, quota) are returned as they are. A 429 means
  // the cloud did nothing, so an implementation may wait out its Retry-After and send again;
  // if it gives up, the result is RateLimited with the Retry-After.
  virtual StatusOr<Instance> CreateInstance(const CreateInstanceRequest& request) = 0;
  // Deletes an instance; NotFound when it is already gone. Deletion is asynchronous: the
  // instance shows `deleting` until GetInstance returns NotFound.
  virtual Status DeleteInstance(const std::string& id) = 0;
  // Asks a stopped instance to start (asynchronous).
  virtual Status StartInstance(const std::string& id) = 0;
  // Asks a running instance to stop (asynchronous).
  virtual Status StopInstance(const std::string& id) = 0;
  // The instance whose name equals `name`, if any; lists every page. Invalid (not a random
  // pick) if several instances share the name.
  virtual StatusOr<std::optional<Instance>> FindInstanceByName(const std::string& name);

  // All images (every page).
  virtual StatusOr<std::vector<Image>> ListImages() = 0;
  // The image whose id, slug or name equals `key` (id first, then slug, then name); NotFound
  // when none does. Account snapshots are images too.
  virtual StatusOr<Image> FindImage(const std::string& key);

  // All SSH keys (every page).
  virtual StatusOr<std::vector<SshKey>> ListSshKeys() = 0;
  // The keys named `names`, in that order; NotFound naming the first missing one.
  virtual StatusOr<std::vector<SshKey>> FindSshKeysByName(const std::vector<std::string>& names);

  // All security groups (every page).
  virtual StatusOr<std::vector<SecurityGroup>> ListSecurityGroups() = 0;
  // Asks for a security group named `name` with `rules` and returns it as first reported:
  // creation is asynchronous (status enqueued/creating until `created`, or `error`), so the
  // caller looks again later (ListSecurityGroups) instead of waiting here. Like an instance
  // create it is never retried after an ambiguous failure: look the name up before creating
  // again.
  virtual StatusOr<SecurityGroup> CreateSecurityGroup(const std::string& name,
                                                      const std::string& description,
                                                      const std::string& region,
                                                      const std::vector<SecurityRule>& rules) = 0;
  // Replaces the rules of group `id` (asynchronous too: status `updating` until applied).
  virtual StatusOr<SecurityGroup> UpdateSecurityGroup(const std::string& id,
                                                      const std::string& name,
                                                      const std::string& description,
                                                      const std::vector<SecurityRule>& rules) = 0;
  // Deletes a security group by id; NotFound when it is already gone. The API may refuse a
  // group that instances still use (Conflict).
  virtual Status DeleteSecurityGroup(const std::string& id) = 0;

  // Asks for a snapshot named `name` of instance `instance_id` (active or shut off) and returns
  // it as first reported (status snapshotting). Like a create it is never retried after an
  // ambiguous failure: the caller looks the name up (ListSnapshots) before asking again.
  virtual StatusOr<Snapshot> CreateSnapshot(const std::string& instance_id,
                                            const std::string& name) = 0;
  // All snapshots of the account (every page).
  virtual StatusOr<std::vector<Snapshot>> ListSnapshots() = 0;
  // One snapshot; NotFound once it is gone.
  virtual StatusOr<Snapshot> GetSnapshot(const std::string& id) = 0;
  // Deletes a snapshot; NotFound when it is already gone.
  virtual Status DeleteSnapshot(const std::string& id) = 0;
};

using CloudProviderPtr = std::unique_ptr<CloudProvider>;

}  // namespace pygrid::cloud
