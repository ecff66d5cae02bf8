// Provides `pygrid-operator run` (the default command): parses the operator's flags, each with
// an environment fallback PYGRID_<FLAG_IN_UPPER_SNAKE_CASE> (e.g. PYGRID_LOG_LEVEL), sets up
// logging and signal handling, and runs the manager until SIGTERM/SIGINT.
//
//   pygrid-operator --leader-elect --metrics-bind-address=:8080 --poll-interval=10s
//
// Thread-safety: single-threaded command; installs process signal handlers.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>
#include <vector>

#include "cli/manager.h"
#include "core/status.h"

namespace pygrid::cli {

// Parses a Go-style duration ("500ms", "10s", "5m", "1h30m"); Invalid otherwise.
StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text);

// Parses flags into options; `help` is set when --help was given. Usage errors are Invalid
// with a message naming the flag.
struct ParsedFlags {
  ManagerOptions manager;
  std::string log_format = "json";
  std::string log_level = "info";
  bool help = false;
  std::string usage;
};
StatusOr<ParsedFlags> ParseRunFlags(const std::vector<std::string>& args);

int RunOperator(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pygrid::cli
