// The real Prober: a thin composition of the HTTP and SSH halves in internal/probes.h.
#include "probe/prober.h"

#include "probe/internal/probes.h"

namespace pygrid::probe {

// The readiness marker files are written by pygrid-start (cloud-init/README.md). When neither
// exists, the last line of `cloud-init status` says how far boot got; it is read even when the
// command exits non-zero (it does so for "status: error"), and "booting" stands in when it
// prints nothing (not installed yet, or the instance is too early in boot).
const char kMarkerCommand[] =
    "r=\"${PYGRID_INSTANCE_ROOT:-}/var/lib/pygrid\"; "
    "if [ -f \"$r/ready\" ]; then echo ready; "
    "elif [ -f \"$r/failed\" ]; then printf 'failed: '; head -c 500 \"$r/failed\"; "
    "else s=$(cloud-init status 2>/dev/null | tail -n 1); printf 'pending: %s\\n' "
    "\"${s:-booting}\"; fi";

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

 private:
  const ProberOptions options_;
};

}  // namespace

ProberPtr MakeProber(ProberOptions options) { return std::make_unique<NetworkProber>(options); }

}  // namespace pygrid::probe
