// Small helpers shared by the stand-ins (kube-sim, genesis-sim).
#pragma once

#include <signal.h>

#include <string>
#include <vector>

namespace pygrid::sim {

// The non-empty '/'-separated segments of `path` ("/a//b/" -> {"a", "b"}).
std::vector<std::string> SplitPath(const std::string& path);

// Blocks SIGTERM and SIGINT in this thread and every thread it starts later (call it before
// starting any), and ignores SIGPIPE. Returns the blocked set, for sigwait in main.
sigset_t BlockStopSignals();

}  // namespace pygrid::sim
