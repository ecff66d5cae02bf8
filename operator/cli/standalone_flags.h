// Provides the command line of the standalone commands (no Kubernetes):
//
//   pygrid-operator up -f grid.yaml [--detach]
//   pygrid-operator status [NAME] [-o yaml|json]
//   pygrid-operator scale NAME --replicas N [--detach]
//   pygrid-operator suspend NAME | resume NAME [--detach]
//   pygrid-operator down NAME [--uid UID8]
//
// Every flag can also be set as PYGRID_<FLAG> in the environment, like `run`'s. The token comes
// from GENESISCLOUD_TOKEN or --token-file, never from a flag's value (it would show in `ps`).
//
// Thread-safety: pure functions (LoadToken reads the environment and a file).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "cli/local_operator.h"
#include "core/status.h"

namespace pygrid::cli {

// Exit codes of the standalone commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;   // the cloud, a timeout, a stalled grid
inline constexpr int kExitInvalid = 2;  // usage, an invalid file or token: nothing was sent
inline constexpr int kExitBusy = 3;     // another command holds the state directory
inline constexpr int kExitInterrupted = 130;

struct StandaloneFlags {
  std::string command;  // up, status, scale, suspend, resume, down
  std::string name;     // NAME (all but up)
  std::string file;     // up -f
  int replicas = -1;    // scale --replicas
  std::string uid;      // down --uid: the uid (or its first 8 characters) of an unrecorded grid
  std::string output = "yaml";  // status -o
  bool detach = false;
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  std::string state_dir;
  std::string token_file;
  std::string templates_dir;
  std::string log_level = "info";
  LocalOperatorOptions op;
  bool help = false;
  std::string usage;
};

// True for the commands this parser handles.
bool IsStandaloneCommand(const std::string& command);
// Parses the arguments after the command. Invalid, naming the flag, on a usage error.
StatusOr<StandaloneFlags> ParseStandaloneFlags(const std::string& command,
                                               const std::vector<std::string>& args);
// The token from --token-file or GENESISCLOUD_TOKEN, trailing whitespace trimmed. Invalid when
// neither is set, the file is unreadable, or the file lies inside `state_dir` (the token never
// lives there). Messages never contain the token.
StatusOr<std::string> LoadToken(const StandaloneFlags& flags);

}  // namespace pygrid::cli
