// The real Prober: a thin composition of the HTTP and SSH halves in internal/probes.h.
#include "probe/prober.h"

#include "probe/internal/probes.h"

namespace pygrid::probe {

// The readiness marker files are written by pygrid-start (cloud-init/README.md). When neither
// exists, the line of /var/lib/pygrid/waiting says what the start script waits for, or else the
// last line of `cloud-init status` how far boot got; it is read even when the command exits
// non-zero (it does so for "status: error"), and "booting" stands in when it prints nothing
// (not installed yet, or the instance is too early in boot). A reason is flattened to one line,
// so that the delivered gateway address, if any, is always the last line.
const char kMarkerCommand[] =
    "r=\"${PYGRID_INSTANCE_ROOT:-}/var/lib/pygrid\"; "
    "if [ -f \"$r/ready\" ]; then echo ready; "
    "elif [ -f \"$r/failed\" ]; then printf 'failed: '; head -c 500 \"$r/failed\" | "
    "tr '\\r\\n' '  '; echo; "
    "elif [ -f \"$r/waiting\" ]; then printf 'pending: '; head -c 200 \"$r/waiting\" | "
    "tr '\\r\\n' '  '; echo; "
    "else s=$(cloud-init status 2>/dev/null | tail -n 1); printf 'pending: %s\\n' "
    "\"${s:-booting}\"; fi; "
    "g=$(sed -n 's/^GATEWAY_URL=//p' \"$r/in/gateway.env\" 2>/dev/null | head -n 1 | head -c 100); "
    "[ -z \"$g\" ] || printf 'gateway: %s\\n' \"$g\"";

// Writes the URL from standard input into the inbox pygrid-start made for the login user
// (a temporary file in the same folder, then a rename), under the lock pygrid-start takes on
// that folder while it reads the address and starts the node. A worker that already started
// with another address (the address its node joined is in /var/lib/pygrid/joined; or a marker
// exists) is moved to the new one: `sudo -n pygrid-rejoin --detach` checks the file, removes
// the markers and re-joins in the background. Under PYGRID_INSTANCE_ROOT (genesis-sim) there is
// no sudo: the command removes the markers before the file changes, and the emulation re-joins
// when it sees the change.
const char kDeliverCommand[] =
    "r=\"${PYGRID_INSTANCE_ROOT:-}/var/lib/pygrid\"; d=\"$r/in\"; "
    "IFS= read -r u || [ -n \"$u\" ] || { echo 'error: no address on standard input'; exit 2; }; "
    "case \"$u\" in http://*) ;; *) echo 'error: not an http:// address'; exit 2;; esac; "
    "if [ ! -d \"$d\" ] || [ ! -w \"$d\" ]; then "
    "echo 'error: no inbox yet (pygrid-start has not started)'; exit 3; fi; "
    "exec 9<\"$d\"; flock -w 20 9 || { echo 'error: the inbox stayed locked'; exit 4; }; "
    "j=$(cat \"$r/joined\" 2>/dev/null || true); m=; "
    "if [ \"$j\" != \"$u\" ] && { [ -n \"$j\" ] || [ -f \"$r/ready\" ] || [ -f \"$r/failed\" ]; }; "
    "then m=1; fi; "
    "if [ -n \"$m\" ] && [ -n \"${PYGRID_INSTANCE_ROOT:-}\" ]; then rm -f \"$r/ready\" "
    "\"$r/failed\"; fi; "
    "t=$(mktemp \"$d/.gateway.env.XXXXXX\") || { echo 'error: cannot write to the inbox'; exit 5; "
    "}; "
    "if ! { printf 'GATEWAY_URL=%s\\n' \"$u\" > \"$t\" && mv -f \"$t\" \"$d/gateway.env\"; }; then "
    "rm -f \"$t\"; echo 'error: cannot write to the inbox'; exit 5; fi; "
    "if [ -z \"$m\" ]; then echo delivered; exit 0; fi; "
    "exec 9<&-; "
    "if [ -z \"${PYGRID_INSTANCE_ROOT:-}\" ] && ! e=$(sudo -n /usr/local/sbin/pygrid-rejoin "
    "--detach 2>&1); "
    "then printf 'error: pygrid-rejoin did not start: %s\\n' \"$(printf '%s' \"$e\" | tr '\\n' ' ' "
    "| "
    "head -c 300)\"; exit 6; fi; "
    "echo 'delivered; re-joining'";

const char* MarkerStateName(MarkerState state) {
  switch (state) {
    case MarkerState::kReady:
      return "Ready";
    case MarkerState::kFailed:
      return "Failed";
    case MarkerState::kPending:
      return "Pending";
    case MarkerState::kUnreachable:
      return "Unreachable";
  }
  return "Unknown";
}

namespace {

// Stateless apart from its options, hence safe to share between reconciler threads.
class NetworkProber : public Prober {
 public:
  explicit NetworkProber(ProberOptions options) : options_(options) {}

  StatusOr<GatewayProbe> ProbeGateway(const std::string& base_url, api::Flavor flavor) override {
    return internal::ProbeGatewayOverHttp(base_url, flavor, options_.http_timeout);
  }

  StatusOr<NodeProbe> ProbeNode(const std::string& base_url, api::Flavor flavor,
                                const std::string& node_id) override {
    return internal::ProbeNodeOverHttp(base_url, flavor, node_id, options_.http_timeout);
  }

  StatusOr<MarkerProbe> ProbeMarker(const SshTarget& target) override {
    return internal::ProbeMarkerOverSsh(target);
  }

  Status DeliverGateway(const SshTarget& target, const std::string& gateway_url) override {
    return internal::DeliverGatewayOverSsh(target, gateway_url);
  }

 private:
  const ProberOptions options_;
};

}  // namespace

ProberPtr MakeProber(ProberOptions options) { return std::make_unique<NetworkProber>(options); }

}  // namespace pygrid::probe
