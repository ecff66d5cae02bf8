#include "kube/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pygrid::kube {

namespace {

Status Failed(const std::string& what, const std::string& path, int error) {
  return Status::Unavailable(what + " " + path + ": " + std::strerror(error));
}

std::string Parent(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string Base(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Failed("cannot open folder", dir, errno);
  const int synced = fsync(fd);
  const int error = errno;
  close(fd);
  if (synced != 0) return Failed("cannot sync folder", dir, error);
  return Status::Ok();
}

}  // namespace

bool IsSafeFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.size() <= 253 &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode) {
  const std::string temporary = Parent(path) + "/." + Base(path) + ".tmp";
  const int fd =
      open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Failed("cannot create", temporary, errno);
  Status result = Status::Ok();
  if (fchmod(fd, mode) != 0) result = Failed("cannot set the mode of", temporary, errno);
  size_t written = 0;
  while (result.ok() && written < content.size()) {
    const ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) result = Failed("cannot write", temporary, errno);
    if (n > 0) written += static_cast<size_t>(n);
  }
  if (result.ok() && fsync(fd) != 0) result = Failed("cannot sync", temporary, errno);
  if (close(fd) != 0 && result.ok()) result = Failed("cannot close", temporary, errno);
  if (result.ok() && rename(temporary.c_str(), path.c_str()) != 0) {
    result = Failed("cannot rename " + temporary + " to", path, errno);
  }
  if (!result.ok()) {
    unlink(temporary.c_str());
    return result;
  }
  return SyncDirectory(Parent(path));
}

Status RemoveFileDurably(const std::string& path) {
  if (unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Failed("cannot remove", path, errno);
  }
  return SyncDirectory(Parent(path));
}

Status MakePrivateDirectories(const std::string& given) {
  std::string path = given;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  struct stat info {};
  if (lstat(path.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) return Status::Invalid(path + " exists and is not a folder");
    if ((info.st_mode & 077) != 0 && chmod(path.c_str(), 0700) != 0) {
      return Failed("cannot restrict the mode of", path, errno);
    }
    return Status::Ok();
  }
  if (errno != ENOENT) return Failed("cannot inspect", path, errno);
  const std::string parent = Parent(path);
  if (parent != path) {
    struct stat parent_info {};
    if (lstat(parent.c_str(), &parent_info) != 0) {
      if (Status made = MakePrivateDirectories(parent); !made.ok()) return made;
    }
  }
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Failed("cannot create folder", path, errno);
  }
  if (chmod(path.c_str(), 0700) != 0) return Failed("cannot restrict the mode of", path, errno);
  return SyncDirectory(parent);
}

StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return Failed("cannot open", path, errno);
  }
  struct stat info {};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    return Status::Invalid(path + " is not a regular file");
  }
  std::string content;
  char buffer[65536];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      return Failed("cannot read", path, error);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > max_bytes) {
      close(fd);
      return Status::Invalid(path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  close(fd);
  return content;
}

}  // namespace pygrid::kube
