#include "cli/state_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "kube/atomic_file.h"

namespace pygrid::cli {

namespace {

constexpr char kIndexFile[] = "grids.json";
constexpr char kKeyFile[] = "operator_ed25519";

std::string ReadHolder(int fd) {
  char buffer[512] = {};
  const ssize_t n = pread(fd, buffer, sizeof buffer - 1, 0);
  std::string holder = n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
  // "<command>\n<pid>\n", as Acquire writes it.
  const size_t newline = holder.find('\n');
  if (newline == std::string::npos) return "";
  std::string pid = holder.substr(newline + 1);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return "`pygrid-operator " + holder.substr(0, newline) + "` (pid " + pid + ")";
}

}  // namespace

std::string DefaultStateDir() {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/pygrid-operator";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0')
    return std::string(home) + "/.local/state/pygrid-operator";
  return "";
}

std::string StoreDir(const std::string& state_dir) { return state_dir + "/store"; }

std::string LogPath(const std::string& state_dir, const std::string& grid) {
  return state_dir + "/logs/" + grid + ".log";
}

StatusOr<StateDirLock> StateDirLock::Acquire(const std::string& state_dir,
                                             const std::string& command) {
  if (Status made = kube::MakePrivateDirectories(state_dir); !made.ok()) return made;
  const std::string path = state_dir + "/lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    const std::string holder = ReadHolder(fd);
    close(fd);
    if (error == EWOULDBLOCK) {
      return Status::Conflict(
          "the state directory " + state_dir + " is in use by " +
          (holder.empty() ? std::string("another pygrid-operator command") : holder) +
          "; wait for it to finish or stop it (Ctrl-C) first");
    }
    return Status::Unavailable("cannot lock " + path + ": " + std::strerror(error));
  }
  const std::string holder = command + "\n" + std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, holder.data(), holder.size(), 0) < 0) {
    // Only the message for a refused second command suffers; the lock itself holds.
  }
  return StateDirLock(fd);
}

StateDirLock::StateDirLock(StateDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

StateDirLock& StateDirLock::operator=(StateDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

StateDirLock::~StateDirLock() {
  if (fd_ >= 0) close(fd_);  // closing the only descriptor releases the flock
}

StatusOr<bootstrap::SshKeyPair> LoadOrCreateOperatorKey(const std::string& state_dir) {
  const std::string private_path = state_dir + "/" + kKeyFile;
  const std::string public_path = private_path + ".pub";
  StatusOr<std::string> private_key = kube::ReadSmallFile(private_path, 16384);
  StatusOr<std::string> public_key = kube::ReadSmallFile(public_path, 16384);
  if (private_key.ok() && public_key.ok()) {
    if (chmod(private_path.c_str(), 0600) != 0) {
      return Status::Unavailable("cannot restrict the mode of " + private_path);
    }
    std::string pub = *public_key;
    while (!pub.empty() && (pub.back() == '\n' || pub.back() == ' ')) pub.pop_back();
    return bootstrap::SshKeyPair{*private_key, pub};
  }
  if (!private_key.ok() && !private_key.status().IsNotFound()) return private_key.status();
  StatusOr<bootstrap::SshKeyPair> generated = bootstrap::GenerateEd25519KeyPair("pygrid-operator");
  if (!generated.ok()) return generated.status();
  // The public half first: a key pair is complete once the private half exists.
  if (Status written = kube::WriteFileAtomically(public_path, generated->public_key + "\n", 0600);
      !written.ok())
    return written;
  if (Status written = kube::WriteFileAtomically(private_path, generated->private_key, 0600);
      !written.ok())
    return written;
  return *generated;
}

StatusOr<std::map<std::string, std::string>> ReadGridIndex(const std::string& state_dir) {
  const std::string path = state_dir + "/" + kIndexFile;
  StatusOr<std::string> text = kube::ReadSmallFile(path, 1 << 20);
  if (!text.ok()) {
    if (text.status().IsNotFound()) return std::map<std::string, std::string>{};
    return text.status();
  }
  const nlohmann::json index = nlohmann::json::parse(*text, nullptr, false);
  if (!index.is_object() || !index.value("grids", nlohmann::json()).is_object()) {
    return Status::Invalid(path + " is not a grid index; repair or remove it");
  }
  std::map<std::string, std::string> uids;
  for (const auto& [name, entry] : index["grids"].items()) {
    if (entry.is_object() && entry.value("uid", nlohmann::json()).is_string())
      uids[name] = entry["uid"].get<std::string>();
  }
  return uids;
}

Status UpdateGridIndex(const std::string& state_dir, const std::string& name,
                       const std::string& uid) {
  StatusOr<std::map<std::string, std::string>> uids = ReadGridIndex(state_dir);
  if (!uids.ok()) return uids.status();
  if (uid.empty()) {
    if (uids->erase(name) == 0) return Status::Ok();
  } else {
    if ((*uids)[name] == uid) return Status::Ok();
    (*uids)[name] = uid;
  }
  nlohmann::json index = {{"grids", nlohmann::json::object()}};
  for (const auto& [grid, grid_uid] : *uids) index["grids"][grid] = {{"uid", grid_uid}};
  return kube::WriteFileAtomically(state_dir + "/" + kIndexFile, index.dump(2) + "\n", 0600);
}

}  // namespace pygrid::cli
