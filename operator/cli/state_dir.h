// Provides the standalone commands' state directory, where one researcher's grids live without
// Kubernetes (default $XDG_STATE_HOME/pygrid-operator, else ~/.local/state/pygrid-operator):
//
//   <dir>/                       0700
//     lock                       flock'd by the command that reconciles (up, scale, down, ...)
//     grids.json                 name -> uid of every grid, written before its first create
//     operator_ed25519[.pub]     the operator's SSH key (0600), in every instance's user data
//     store/                     kube::FileKubeClient: one file per PyGridCluster (spec, status)
//     logs/<name>.log            the reconciler's log (secrets redacted)
//
//   StatusOr<StateDirLock> lock = StateDirLock::Acquire(dir, "up mnist");
//   if (!lock.ok()) ... lock.status().IsConflict(): another command holds it ...
//
// The API token is never written here. Thread-safety: plain functions; StateDirLock is a
// move-only owner of the lock.
#pragma once

#include <map>
#include <string>

#include "bootstrap/ssh_keys.h"
#include "core/status.h"

namespace pygrid::cli {

// $XDG_STATE_HOME/pygrid-operator, or $HOME/.local/state/pygrid-operator; "" when neither
// variable is set.
std::string DefaultStateDir();
// The folder of the FileKubeClient inside a state directory.
std::string StoreDir(const std::string& state_dir);
// The log file of one grid.
std::string LogPath(const std::string& state_dir, const std::string& grid);

// The exclusive lock of a state directory: while one command reconciles a grid, no other may
// (never two reconcilers on one grid). The kernel drops it when the process dies, kill -9
// included.
class StateDirLock {
 public:
  // Takes the lock without waiting, creating the directory (0700) if needed. Conflict, naming
  // the holder's command and pid, when another process has it.
  static StatusOr<StateDirLock> Acquire(const std::string& state_dir, const std::string& command);
  StateDirLock(StateDirLock&& other) noexcept;
  StateDirLock& operator=(StateDirLock&& other) noexcept;
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;
  ~StateDirLock();

 private:
  explicit StateDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The operator's SSH key pair from the state directory, made (ed25519, 0600) on first use.
StatusOr<bootstrap::SshKeyPair> LoadOrCreateOperatorKey(const std::string& state_dir);

// grids.json: grid name -> cluster uid. Empty when the file does not exist.
StatusOr<std::map<std::string, std::string>> ReadGridIndex(const std::string& state_dir);
// Sets (or, with an empty uid, removes) one entry, atomically.
Status UpdateGridIndex(const std::string& state_dir, const std::string& name,
                       const std::string& uid);

}  // namespace pygrid::cli
