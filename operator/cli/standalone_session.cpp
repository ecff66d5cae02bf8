#include "cli/internal/standalone_session.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/grid_file.h"
#include "cli/state_dir.h"
#include "controller/credentials.h"
#include "core/base64.h"
#include "kube/atomic_file.h"
#include "observability/log.h"
#include "observability/redact.h"

namespace pygrid::cli::internal {

using nlohmann::json;

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// The reconciler's log goes to <state-dir>/logs/<grid>.log, secrets redacted by the logger.
Status StartLog(const StandaloneFlags& flags, const std::string& grid) {
  if (Status made = kube::MakePrivateDirectories(flags.state_dir + "/logs"); !made.ok())
    return made;
  const std::string path = LogPath(flags.state_dir, grid);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  auto shared_fd = std::shared_ptr<int>(new int(fd), [](int* f) {
    close(*f);
    delete f;
  });
  observability::InitLogging({observability::LogFormat::kText,
                              *observability::ParseLogLevel(flags.log_level),
                              [shared_fd](const std::string& line) {
                                const std::string text = line + "\n";
                                (void)!write(*shared_fd, text.data(), text.size());
                              }});
  return Status::Ok();
}

}  // namespace

const std::atomic<bool>& StopRequested() { return g_stop; }

// Ctrl-C (or SIGTERM) finishes the round in flight and stops; a second one ends at once
// (SA_RESETHAND). Either way the state directory holds every completed write.
void InstallSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  action.sa_flags = SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

std::string GridKey(const std::string& name) {
  return std::string(kStandaloneNamespace) + "/" + name;
}

// Locks the state directory, opens the store and wires the operator; prints why not and
// returns the exit code otherwise.
int OpenSession(StandaloneFlags& flags, const std::string& grid, const std::string& token,
                std::unique_ptr<Session>& session, std::ostream& err) {
  const std::string prefix = "pygrid-operator " + flags.command + ": ";
  StatusOr<StateDirLock> lock = StateDirLock::Acquire(flags.state_dir, flags.command + " " + grid);
  if (!lock.ok()) {
    err << prefix << lock.status().message() << "\n";
    return lock.status().IsConflict() ? kExitBusy : kExitFailed;
  }
  StatusOr<std::unique_ptr<kube::FileKubeClient>> store =
      kube::FileKubeClient::Open(StoreDir(flags.state_dir), RealClock::Instance());
  if (!store.ok()) {
    err << prefix << store.status().message() << "\n";
    return kExitFailed;
  }
  if (Status logging = StartLog(flags, grid); !logging.ok()) {
    err << prefix << logging.message() << "\n";
    return kExitFailed;
  }
  StatusOr<bootstrap::SshKeyPair> key = LoadOrCreateOperatorKey(flags.state_dir);
  if (!key.ok()) {
    err << prefix << "the operator's SSH key: " << key.status().message() << "\n";
    return kExitFailed;
  }
  observability::RegisterSecret(key->private_key);
  session = std::make_unique<Session>(Session{std::move(*lock), std::move(*store), {}, nullptr});
  if (!flags.templates_dir.empty()) {
    StatusOr<bootstrap::Templates> loaded =
        bootstrap::Templates::FromDirectory(flags.templates_dir);
    if (!loaded.ok()) {
      err << prefix << "--templates-dir: " << loaded.status().message() << "\n";
      return kExitInvalid;
    }
    session->templates = std::move(*loaded);
    flags.op.templates = &*session->templates;
  }
  session->op = std::make_unique<LocalOperator>(flags.op, *session->store, token, std::move(*key));
  return kExitOk;
}

// The token, checked with the reconciler's own rules before anything is sent; prints why not.
std::optional<std::string> TokenOrExplain(const StandaloneFlags& flags, std::ostream& err) {
  StatusOr<std::string> token = LoadToken(flags);
  if (!token.ok()) {
    err << "pygrid-operator " << flags.command << ": " << token.status().message() << "\n";
    return std::nullopt;
  }
  observability::RegisterSecret(*token);
  const json secret = {{"metadata", {{"name", "token"}, {"namespace", kStandaloneNamespace}}},
                       {"data", {{"token", Base64Encode(*token)}}}};
  controller::CredentialsOrProblem read =
      controller::ReadToken(secret, kStandaloneNamespace, {"token", "token"});
  if (!read.problem.ok()) {
    err << "pygrid-operator " << flags.command << ": the token is unusable (" << read.problem.reason
        << "): " << read.problem.message << "\n";
    return std::nullopt;
  }
  return *token;
}

void PrintCauses(std::ostream& err, const std::string& what, const Status& status) {
  err << what << " is invalid; nothing was sent to Genesis Cloud:\n";
  for (const FieldCause& cause : status.causes()) {
    err << "  " << cause.field << ": " << cause.message << "\n";
  }
  if (status.causes().empty()) err << "  " << status.message() << "\n";
}

// Turns Drive's outcome into output and an exit code.
int Conclude(const DriveOutcome& outcome, const StandaloneFlags& flags, const std::string& name,
             const std::string& again, std::ostream& out, std::ostream& err) {
  const std::string prefix = "pygrid-operator " + flags.command + ": ";
  switch (outcome.kind) {
    case DriveOutcome::Kind::kReached:
      return kExitOk;
    case DriveOutcome::Kind::kInterrupted:
      err << prefix << "interrupted; everything done so far is saved in " << flags.state_dir
          << ". Run `" << again << "` to continue.\n";
      return kExitInterrupted;
    case DriveOutcome::Kind::kTimedOut:
      err << prefix << "not done after --timeout; the cloud keeps what was created. `" << again
          << "` continues; `pygrid-operator status " << name << "` shows where it stands.\n";
      return kExitFailed;
    case DriveOutcome::Kind::kStalled:
      err << prefix << "stopped: " << outcome.message << "\n";
      return kExitFailed;
  }
  return kExitFailed;
}

}  // namespace pygrid::cli::internal
