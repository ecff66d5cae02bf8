// Internal to cli/: what the standalone commands (standalone_commands.cpp, down_command.cpp)
// share: the state directory's session (lock, store, log, operator), the checked token, the
// stop flag set by Ctrl-C, and how outcomes become output and exit codes.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "bootstrap/templates.h"
#include "cli/local_operator.h"
#include "cli/standalone_flags.h"
#include "cli/state_dir.h"
#include "kube/file_client.h"

namespace pygrid::cli::internal {

// What a reconciling command holds: the state directory's lock, its store, the operator.
struct Session {
  StateDirLock lock;
  std::unique_ptr<kube::FileKubeClient> store;
  std::optional<bootstrap::Templates> templates;
  std::unique_ptr<LocalOperator> op;
};

// Ctrl-C (or SIGTERM) sets StopRequested(): the round in flight ends, then the command stops;
// a second one ends the process at once. Either way the state directory holds every write.
void InstallSignalHandlers();
const std::atomic<bool>& StopRequested();

// "default/<name>": the key of a standalone grid.
std::string GridKey(const std::string& name);

// Locks the state directory, opens the store and the log, loads the operator's key and wires
// the operator. Returns kExitOk, or prints why not and returns the exit code.
int OpenSession(StandaloneFlags& flags, const std::string& grid, const std::string& token,
                std::unique_ptr<Session>& session, std::ostream& err);
// The token, checked with the reconciler's own rules before anything is sent (and registered
// for redaction); nullopt after printing why it cannot be used.
std::optional<std::string> TokenOrExplain(const StandaloneFlags& flags, std::ostream& err);
// Prints the field errors of an invalid file or change.
void PrintCauses(std::ostream& err, const std::string& what, const Status& status);
// Turns Drive's outcome into a message and an exit code (kExitOk when the goal was reached).
int Conclude(const DriveOutcome& outcome, const StandaloneFlags& flags, const std::string& name,
             const std::string& again, std::ostream& out, std::ostream& err);

// `down NAME` (down_command.cpp).
int RunDown(StandaloneFlags& flags, std::ostream& out, std::ostream& err);

}  // namespace pygrid::cli::internal
