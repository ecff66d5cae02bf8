#include "unit/probe/sshd_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "bootstrap/ssh_keys.h"
#include "testing/wait.h"

namespace pygrid::probe::testing {
namespace {

int BindLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_in addr{};
  socklen_t length = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) return 0;
  return ntohs(addr.sin_port);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

SilentListener::SilentListener() {
  fd_ = BindLoopback(0);
  if (fd_ >= 0 && listen(fd_, 16) == 0) port_ = BoundPort(fd_);
}

SilentListener::~SilentListener() {
  if (fd_ >= 0) close(fd_);
}

LocalSshd::~LocalSshd() { Stop(); }

bool LocalSshd::Start(const std::string& authorized_key) {
  const passwd* account = getpwuid(getuid());
  if (account == nullptr) return false;
  user_ = account->pw_name;
  StatusOr<bootstrap::SshKeyPair> host = bootstrap::GenerateEd25519KeyPair("probe-test-host");
  if (!host.ok()) return false;
  host_public_key_ = host->public_key;
  const std::string host_key = dir_.Write("host_key", host->private_key);
  chmod(host_key.c_str(), 0600);  // sshd refuses a host key others can read
  const std::string authorized = dir_.Write("authorized_keys", authorized_key + "\n");
  std::filesystem::create_directories(dir_.path() + "/root/var/lib/pygrid");
  log_path_ = dir_.path() + "/sshd.log";
  // sshd needs its privilege separation directory when started as root.
  if (getuid() == 0) std::filesystem::create_directories("/run/sshd");
  std::ostringstream config;
  config << "ListenAddress 127.0.0.1\n"
         << "HostKey " << host_key << "\n"
         << "AuthorizedKeysFile " << authorized << "\n"
         << "PidFile " << dir_.path() << "/sshd.pid\n"
         << "StrictModes no\n"
         << "UsePAM no\n"
         << "PubkeyAuthentication yes\n"
         << "PasswordAuthentication no\n"
         << "KbdInteractiveAuthentication no\n"
         << "PermitRootLogin prohibit-password\n"
         << "LogLevel VERBOSE\n"
         // SHLVL=1 keeps bash from sourcing ~/.bashrc for the command (bash does that for ssh
         // sessions only at shell level 1): a developer's or CI root's bashrc can take seconds,
         // where a real instance's bashrc returns at once for non-interactive shells.
         << "SetEnv PYGRID_INSTANCE_ROOT=" << dir_.path() << "/root SHLVL=1\n";
  dir_.Write("sshd_config", config.str());
  std::string why;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (StartOnce(&why)) return true;
  }
  std::ofstream(log_path_, std::ios::app) << "\n[fixture] " << why << "\n";
  return false;
}

bool LocalSshd::StartOnce(std::string* why) {
  port_ = FreeLoopbackPort();
  const std::string config = dir_.path() + "/sshd_config";
  process_ = std::make_unique<pygrid::testing::ChildProcess>(
      std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f", config, "-p",
                               std::to_string(port_)},
      log_path_, /*pipe_stdout=*/false);
  if (!process_->started()) {
    *why = "posix_spawn /usr/sbin/sshd failed";
    return false;
  }
  bool accepts = false;
  pygrid::testing::Eventually(
      [&] {
        const int fd = pygrid::testing::ConnectLoopback(port_, 1);
        accepts = fd >= 0;
        if (accepts) close(fd);
        return accepts || !process_->Running();
      },
      std::chrono::seconds(20), std::chrono::milliseconds(20));
  if (accepts) return true;
  // Exited: most likely another process took the port in between.
  *why = process_->Running() ? "sshd did not accept connections within 20 s"
                             : "sshd exited during start-up (see log)";
  Stop();
  return false;
}

void LocalSshd::Stop() { process_.reset(); }

void LocalSshd::WriteMarker(const std::string& name, const std::string& content) const {
  dir_.Write("root/var/lib/pygrid/" + name, content);
}

void LocalSshd::RemoveMarkers() const {
  std::error_code ignored;
  std::filesystem::remove(dir_.path() + "/root/var/lib/pygrid/ready", ignored);
  std::filesystem::remove(dir_.path() + "/root/var/lib/pygrid/failed", ignored);
  std::filesystem::remove(dir_.path() + "/root/var/lib/pygrid/waiting", ignored);
  std::filesystem::remove(dir_.path() + "/root/var/lib/pygrid/joined", ignored);
  std::filesystem::remove_all(dir_.path() + "/root/var/lib/pygrid/in", ignored);
}

std::string LocalSshd::Log() const { return ReadFile(log_path_); }

}  // namespace pygrid::probe::testing
