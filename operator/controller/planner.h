// Provides the planner: a pure function from everything one reconcile observed to the actions
// that move the grid toward its spec and the complete status that describes it. No I/O, no
// clock, no randomness; the time comes in with the observations. The planner is the only
// author of the status: conditions, phase and per-instance entries are set here and nowhere
// else, and the reconciler (controller/reconciler.h) only observes, acts and writes.
//
//   Observations seen = ...;                        // cluster, credentials, instances, probes
//   Plan plan = PlanRound(seen);
//   ActReport report = Act(plan.actions);           // the reconciler's executor
//   Conclusion done = Conclude(seen, plan, report); // final status + next step
//   WriteStatus(done.status);
//
// Rules (ARCHITECTURE.md "Reconcile"; operator-conventions.md §4.1):
//  - An object that cannot be parsed or validated is a condition (SpecValid=False, phase
//    Failed) and waits for the next spec change; it is never retried in a loop. If it is being
//    deleted, deletion still proceeds by name (the name and uid are always readable).
//  - Missing or rejected credentials are a condition (CredentialsValid=False) that fixes
//    itself when the Secret changes; the phase is not Failed.
//  - No create is ever planned from an instance list that was not read completely this round.
//  - Instances are matched to the cluster by name (<cluster>-<uid8>-gateway|worker-<i>).
//  - Ready in one boot: workers are created in the same round as their gateway. A worker
//    created before the gateway has a private IP prepares everything and waits; the operator
//    delivers the address over SSH (kDeliverGateway) once the gateway has one, and again to
//    every worker after a gateway replacement. What was delivered is on the instance (the
//    marker probe reads it), so a restarted operator neither guesses nor sends twice. When SSH
//    cannot reach a worker within Observations::address_delivery_grace, it is replaced by one
//    whose user data carries the address, and the grid falls back to that path for good
//    (status.gatewayAddressDelivery=UserData): workers wait for a running gateway, and a
//    replaced gateway takes its workers with it.
//  - Scale up fills the lowest free indexes; scale down deletes the highest first.
//  - `error` instances are deleted and created again; stopped ones (shutoff) are started; an
//    instance the status recorded that
//    the cloud no longer lists was deleted out of band and is created again (InstanceLost).
//  - A retryable cloud failure shows in CloudReachable=False at once and turns Ready False
//    (CloudUnavailable) once it has lasted kCloudOutageGrace; it clears on the next success.
//  - Workers join the gateway once (pygrid.md §5): on the UserData path, when the gateway is
//    lost or fails, every worker is deleted too and recreated after the new gateway is up.
//  - A create whose answer was lost may still land: no second create for that name within
//    kCreateLandingWindow of the first (status createRequestedAt), and no finalizer removal.
//  - An instance that presents another SSH host key than status pins was made with another
//    identity (two creates raced for its name) and is replaced (IdentityMismatch).
//  - Duplicate names (only possible after a cloud-side mishap, or two operators without
//    leader election) keep the instance the status records (its identity is the recorded
//    one), else the oldest.
//  - Spec changes roll out: an instance whose recorded specHash differs from the spec's is out of
//    date. Workers are replaced at most spec.workers.maxUnavailable at a time among the ready ones
//    (phase Updating, UpToDate=False); a changed gateway is replaced with its workers (nodes join
//    once).
//  - A grid not yet up within spec.provisioningTimeout of its creation (or resume) says so in
//    Ready (reason ProvisioningTimeout, with what is missing) and a warning event, once; the
//    operator keeps working on it.
//  - spec.suspend: nothing is created or deleted, every running instance is stopped (phase
//    Suspended, condition Suspended); on resume the stopped instances are started again, not
//    recreated. Deletion while suspended still deletes everything.
//  - Credentials outlive their Secret: the token is copied into a Secret in the operator's
//    namespace while the cluster exists, so deleting a namespace (which deletes the user's
//    Secret and the cluster at once) or the Secret first still deletes every instance.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/naming.h"
#include "api/types.h"
#include "cloud/cloud_provider.h"
#include "core/status.h"
#include "probe/prober.h"

namespace pygrid::controller {

// What reading the credentials Secret gave. `reason` is empty when a usable token was read.
struct CredentialsObservation {
  std::string reason;   // SecretNotFound | SecretKeyMissing | TokenEmpty | TokenMalformed
  std::string message;  // for people; never contains the token
  // The token came from the operator's own copy (the user's Secret is gone: deletion only).
  bool from_copy = false;
  // The operator's copy holds this token already (known this process's life).
  bool copy_current = false;
  bool ok() const { return reason.empty(); }
};

// Default of Observations::address_delivery_grace: a real instance's sshd answers a minute or
// two after the create; five minutes leaves room for a slow region without keeping a grid
// whose firewall shuts the operator out waiting long.
inline constexpr std::chrono::seconds kDefaultAddressDeliveryGrace{300};

// What the cloud showed this round.
struct CloudObservation {
  // True when the account's instance list was read completely this round (not from a list
  // older than the last create or delete). Only then may the plan create anything.
  bool listed = false;
  std::vector<cloud::Instance> instances;  // the cluster's instances (names with its prefix)
  // Every instance of the account, when listed (to see who else uses a security group).
  std::vector<cloud::Instance> account_instances;
  std::string security_group_id;  // the grid's group, "" when not ensured this round
  // The grid's group exists but the cloud has not applied it yet (status creating/updating):
  // no instance may be created into it this round.
  bool security_group_pending = false;
  // Deletion of a grid with an operator-made group: the account's security groups, and the
  // shared-group names other grids of the account that are not being deleted still need.
  std::vector<cloud::SecurityGroup> account_groups;
  std::set<std::string> groups_needed_elsewhere;
  // A named (not owned) group that lacks rules the grid needs: what is missing, for people.
  std::string security_group_missing;
  // The first failure while observing the cloud (listing, security group), and what it was
  // doing. A rejected token shows here as Unauthorized/Forbidden.
  std::optional<Status> error;
  std::string error_during;
};

// What the probes showed this round.
struct ProbeObservation {
  bool gateway_answers = false;           // the gateway app answered as its flavour does
  std::set<std::string> connected_nodes;  // the gateway's /connected-nodes
  std::map<std::string, probe::MarkerProbe> markers;  // by instance name, where probed
  // Own node endpoints of the workers the gateway lists (by instance name): a registration
  // outlives a dead node container, so a worker is ready only when its node answers too.
  std::map<std::string, probe::NodeProbe> nodes;
  // Instances whose SSH host key is not the one status pins: another create's identity (two
  // creates raced for the name). They can never register under the recorded node id.
  std::set<std::string> identity_mismatch;
  // The gateway URL each probed worker holds in its inbox (the marker probe reads it), by
  // instance name; absent when not probed or nothing was delivered.
  std::map<std::string, std::string> delivered_gateway;
};

// Everything one round observed.
struct Observations {
  // The object: metadata always; spec defaulted when it parsed; status as last written.
  api::PyGridCluster cluster;
  // Why the object cannot be used (parse or validation errors); empty when it is valid.
  std::vector<FieldCause> spec_errors;
  bool has_finalizer = false;
  bool being_deleted = false;
  // Observed only when needed (not for an invalid live spec, not for Retain deletion).
  std::optional<CredentialsObservation> credentials;
  CloudObservation cloud;
  ProbeObservation probes;
  std::chrono::system_clock::time_point now{};
  // How long SSH may fail to reach a running worker that waits for the gateway's address
  // (counted from the later of its and its gateway's creation) before the grid falls back to
  // workers configured by user data.
  std::chrono::seconds address_delivery_grace{kDefaultAddressDeliveryGrace};
};

enum class ActionKind {
  kAddFinalizer,         // before anything is created
  kStoreCredentials,     // copy the token into the operator's namespace (deletion needs it)
  kDeleteInstance,       //
  kStartInstance,        // an instance stopped out of band (or on resume) is started again
  kStopInstance,         // spec.suspend: running instances are stopped (the API's stop action)
  kCreateInstance,       // after the intent (identity) is recorded in status
  kDeliverGateway,       // write the gateway's address into a worker's inbox over SSH
  kDeleteSecurityGroup,  // a group the operator made, once no instance and no other grid uses it
  kDropCredentials,      // the copy goes with the finalizer
  kRemoveFinalizer,      // last, and only if every earlier action succeeded
};

struct Action {
  ActionKind kind = ActionKind::kCreateInstance;
  api::InstanceRole role = api::InstanceRole::kGateway;
  int index = 0;     // worker index
  std::string name;  // the instance name
  std::string id;    // the instance (or security group) to delete
  // Workers: the gateway private IP a create's user data names ("" for a worker that waits for
  // delivery), or the one kDeliverGateway delivers.
  std::string gateway_ip;
  std::string reason;    // CamelCase event reason, "" for no event
  std::string message;   // event message
  bool warning = false;  // event type
};

// An event the planner wants emitted (besides those its actions carry).
struct PlannedEvent {
  bool warning = false;
  std::string reason;
  std::string message;
};

// When to look again.
struct NextStep {
  enum class Kind {
    kWaitForChange,  // only a change of the object or its Secret brings it back
    kPoll,           // converging: look again at the poll interval
    kSoon,           // something completes within moments (a delivered gateway address: the
                     // node joins; a security group being applied): a quarter of the poll
                     // interval
    kSettled,        // ready and idle: look again at the poll interval (the account's list is
                     // shared and probes are cached, so a lost instance shows within a poll)
    kSteady,         // stalled on something outside (credentials, quota): the resync interval
    kAfter,          // after `after` (the cloud asked for a pause)
    kBackoff,        // retry with the workqueue's backoff (`error` says why)
    kForget,         // the object is gone (its finalizer was removed)
  };
  Kind kind = Kind::kPoll;
  std::chrono::milliseconds after{0};
  Status error;
};

struct Plan {
  std::vector<Action> actions;  // in the order they must run
  api::ClusterStatus status;    // complete; conditions stamped against the previous status
  std::vector<PlannedEvent> events;
  NextStep next;
};

// How long after a create whose answer was lost (timeout, reset, 5xx) the instance may still
// appear. No second create is sent for that name, and a deleted cluster keeps its finalizer,
// until the window has passed or the instance shows. Generous against the client's 30 s
// request timeout: a POST the API accepted late lands within it.
inline constexpr std::chrono::minutes kCreateLandingWindow{2};

// How long the cloud may fail (5xx, timeouts) before Ready says so.
inline constexpr std::chrono::seconds kCloudOutageGrace{30};

// Plans one round.
Plan PlanRound(const Observations& seen);

// The outcome of one action, as the reconciler ran it.
struct ActionOutcome {
  Status result;                           // OK, or why it failed
  std::optional<cloud::Instance> created;  // for creates: the instance (new or adopted)
  bool adopted = false;                    // the create failed ambiguously but the name exists
  // The create was refused because its security group no longer exists (deleted meanwhile,
  // e.g. by the last other grid using it): nothing was created; ensure the group again.
  bool group_gone = false;
  bool ran = true;  // false when an earlier failure stopped the round
};

// The outcomes of Plan::actions, index for index.
struct ActReport {
  std::vector<ActionOutcome> outcomes;
};

struct Conclusion {
  api::ClusterStatus status;
  std::vector<PlannedEvent> events;
  NextStep next;
};

// The final status and next step after acting: records created instances, marks deleted ones,
// and turns failures into conditions and a retry decision.
Conclusion Conclude(const Observations& seen, const Plan& plan, const ActReport& report);

// Identity recorded before a create (write-ahead intent), so a crash after the POST leaves
// enough in status to adopt the instance by its name.
struct InstanceIdentity {
  std::string ssh_host_key;  // public key the instance will present
  std::string node_id;       // "" when the instance runs no node
  std::string requested_at;  // RFC 3339: when the create is sent
  std::string gateway_ip;    // workers: the gateway private IP their user data joins ("" waits)
  std::string spec_hash;     // SpecHashFor(role, spec) of the spec it is built from
};

// A hash of the spec fields an instance of `role` is built from (type, image, GPU setting,
// flavour, PyGrid images and ports, allowed CIDRs, SSH keys; the gateway also the co-located
// worker setting). An instance whose recorded hash differs is out of date.
std::string SpecHashFor(api::InstanceRole role, const api::ClusterSpec& spec);

// The URL a worker's node joins: http://<gateway private IP>:<gatewayPort> (what user data and
// SSH delivery give a worker, and what the marker probe reads back from its inbox).
std::string GatewayJoinUrl(const api::ClusterSpec& spec, const std::string& gateway_ip);

// Ready's reason while creates are held until Genesis Cloud has applied the grid's security
// group (the standalone `up --detach` waits through it).
inline constexpr char kReasonSecurityGroupPending[] = "SecurityGroupPending";

// True when an instance recorded with `recorded_hash` was built from another spec than the one
// whose SpecHashFor is `current`. An empty record (made before hashes existed) is never out of
// date.
bool BuiltFromOlderSpec(const std::string& recorded_hash, const std::string& current);

// True when the status records any instance built from an older spec than the cluster's.
bool AnyBuiltFromOlderSpec(const api::PyGridCluster& cluster);

// Records `identity` for the instance `name` (an entry the plan's status already has).
void RecordIdentity(api::ClusterStatus& status, const std::string& name,
                    const InstanceIdentity& identity);

}  // namespace pygrid::controller
