// Provides the readiness probes the reconciler runs against a grid's instances, behind the
// `Prober` interface so the reconciler never touches a socket and tests can fake it:
//
//   std::unique_ptr<Prober> prober = MakeProber({});
//   StatusOr<GatewayProbe> gw = prober->ProbeGateway("http://203.0.113.7:7000",
//                                                    api::Flavor::kNetwork02);
//   if (gw.ok() && gw->answers && gw->connected_nodes.count("mnist-0a1b2c3d-worker-0")) ...
//   StatusOr<NodeProbe> node = prober->ProbeNode("http://203.0.113.8:5000",
//                                                api::Flavor::kNetwork02, worker_node_id);
//
//   SshTarget target{.host = "203.0.113.7", .private_key = operator_key,
//                    .pinned_host_key = recorded_host_public_key};
//   StatusOr<MarkerProbe> marker = prober->ProbeMarker(target);
//   if (!marker.ok() && marker.status().remote_code() == kHostKeyMismatch) ...  // alarm
//   else if (marker.ok() && marker->state == MarkerState::kFailed) ...  // marker->detail says why
//
// "Not there yet" (connection refused, timeout, a booting instance) is an OK result with
// answers=false / kUnreachable, because it is the normal state of a converging grid; an error
// Status means something a human must look at (host key mismatch, rejected credentials, a
// malformed key) or a remote that answered nonsense.
//
// Thread-safety: every Prober made by MakeProber is safe to call from several threads at once;
// each call uses its own HTTP client or SSH session.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "api/types.h"
#include "core/status.h"

namespace pygrid::probe {

// What GET <base_url>/ and GET <base_url>/connected-nodes said about a grid's gateway.
struct GatewayProbe {
  // True only when GET / answered as the flavour's gateway does (network-0.2: 200 with a body
  // containing "Open Grid Network"; gateway-2020: 200 with an HTML page).
  bool answers = false;
  // Node ids from /connected-nodes ({"grid-nodes": [...]}); empty when unknown.
  std::set<std::string> connected_nodes;
  // For people (status messages, events): why it does not answer, or what was odd.
  std::string detail;
};

// What GET on one worker node's own endpoint said (pygrid.md §6). A node the gateway lists may
// be dead: registrations live in the gateway's database and outlive the node's container.
struct NodeProbe {
  // network-0.2: GET /data-centric/identity/ answered 200 {"success": true, "identity": id}
  // with the node id the worker was given; gateway-2020: GET / answered 200 (its HTML page).
  bool answers = false;
  // For people: why it does not answer (refused, another identity, an error status).
  std::string detail;
};

// The readiness marker state of an instance, as cloud-init/README.md defines it.
enum class MarkerState {
  kReady,        // /var/lib/pygrid/ready exists: every service answers and the node is registered
  kFailed,       // /var/lib/pygrid/failed exists; detail holds its (truncated) reason
  kPending,      // neither exists yet; detail holds cloud-init's status line (or "booting")
  kUnreachable,  // no SSH connection (refused, timed out, handshake cut); detail says which
};

// The CamelCase name of `state` ("Ready", "Failed", "Pending", "Unreachable").
const char* MarkerStateName(MarkerState state);

// Result of ProbeMarker.
struct MarkerProbe {
  MarkerState state = MarkerState::kUnreachable;
  std::string detail;
};

// Where and how to reach one instance over SSH. Holds a secret (private_key): never log it.
struct SshTarget {
  std::string host;
  int port = 22;
  std::string user = "ubuntu";
  // The operator's private key, OpenSSH format ("-----BEGIN OPENSSH PRIVATE KEY-----...").
  std::string private_key;
  // The instance's host public key as generated for its user data:
  // "ssh-ed25519 AAAA... [comment]". The server's key must equal it (type and blob).
  std::string pinned_host_key;
  // Bound on each step (TCP connect, key exchange, authentication) and on the command's
  // output, measured from the start of the probe; a silent server is given up after it.
  std::chrono::milliseconds timeout{10000};
};

// Status::remote_code() of the Forbidden error ProbeMarker returns when the server's host key
// is not the pinned one (nothing was sent to that server: no authentication, no command).
inline constexpr char kHostKeyMismatch[] = "HostKeyMismatch";

// The readiness probes. Implementations must be safe to call concurrently.
class Prober {
 public:
  virtual ~Prober() = default;

  // GETs <base_url>/ and, when that answers as `flavor`'s gateway, <base_url>/connected-nodes.
  // Refused/timed-out/not-the-gateway: OK with answers=false and a detail. A malformed
  // /connected-nodes body: OK with answers=true, empty nodes, detail saying so. Errors only for
  // a malformed base_url (Invalid).
  virtual StatusOr<GatewayProbe> ProbeGateway(const std::string& base_url, api::Flavor flavor) = 0;

  // GETs the flavour's status path of the node at <base_url> (see NodeProbe) and checks that it
  // answers as node `node_id`. Refused/timed-out/another identity: OK with answers=false and a
  // detail. Errors only for a malformed base_url (Invalid).
  virtual StatusOr<NodeProbe> ProbeNode(const std::string& base_url, api::Flavor flavor,
                                        const std::string& node_id) = 0;

  // Connects to `target` with libssh, requires the server's host key to equal
  // target.pinned_host_key (no known_hosts, no trust on first use), authenticates with
  // target.private_key, runs kMarkerCommand and classifies its output.
  // Refused/timeout/cut handshake → OK with kUnreachable. Errors: host key mismatch (including
  // a server with no key of the pinned type) → Forbidden with remote_code kHostKeyMismatch;
  // key rejected → Unauthorized; an unparsable pinned or private key → Invalid (checked before
  // connecting); the command not finishing in time → Timeout; unrecognised command output →
  // Unavailable. No message contains the private key.
  virtual StatusOr<MarkerProbe> ProbeMarker(const SshTarget& target) = 0;

  // Writes `gateway_url` into the worker's inbox at `target` (TEMPORARY lead stub; the
  // instance-side branch replaces it).
  virtual Status DeliverGateway(const SshTarget& target, const std::string& gateway_url) {
    return Status::Unavailable("not implemented");
  }
};

using ProberPtr = std::unique_ptr<Prober>;

// Options of the real Prober.
struct ProberOptions {
  // Per HTTP request (connect + response), for each of the two gateway GETs and the node GET.
  std::chrono::milliseconds http_timeout{5000};
};

// The shell command ProbeMarker runs on the instance (POSIX sh; honours PYGRID_INSTANCE_ROOT,
// which the test simulator's sshd sets and real instances leave unset).
extern const char kMarkerCommand[];

// The real Prober: HTTP over cpprestsdk, SSH over libssh. Thread-safe.
ProberPtr MakeProber(ProberOptions options = {});

}  // namespace pygrid::probe
