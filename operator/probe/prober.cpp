// The real Prober (implementation in progress: every probe reports Internal for now).
#include "probe/prober.h"

namespace pygrid::probe {

const char kMarkerCommand[] =
    "r=\"${PYGRID_INSTANCE_ROOT:-}/var/lib/pygrid\"; "
    "if [ -f \"$r/ready\" ]; then echo ready; "
    "elif [ -f \"$r/failed\" ]; then printf 'failed: '; head -c 500 \"$r/failed\"; "
    "else printf 'pending: '; (cloud-init status 2>/dev/null || echo booting) | tail -n 1; fi";

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

class PendingProber : public Prober {
 public:
  StatusOr<GatewayProbe> ProbeGateway(const std::string&, api::Flavor) override {
    return Status::Internal("gateway probe not implemented yet");
  }
  StatusOr<MarkerProbe> ProbeMarker(const SshTarget&) override {
    return Status::Internal("marker probe not implemented yet");
  }
};

}  // namespace

ProberPtr MakeProber(ProberOptions) { return std::make_unique<PendingProber>(); }

}  // namespace pygrid::probe
