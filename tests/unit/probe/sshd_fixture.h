// A real OpenSSH server (/usr/sbin/sshd) on a free loopback port, playing one grid instance for
// the SSH marker probe: its own ed25519 host key, one authorized client key, and
// PYGRID_INSTANCE_ROOT pointing at a temp folder where tests place the readiness marker.
//
//   LocalSshd sshd;
//   ASSERT_TRUE(sshd.Start(client.public_key)) << sshd.Log();
//   sshd.WriteMarker("ready", "");   // <root>/var/lib/pygrid/ready
//
// Thread-safety: one test thread uses a LocalSshd; the server itself serves many connections.
#pragma once

#include <memory>
#include <string>

#include "testing/child_process.h"
#include "testing/net.h"
#include "testing/process.h"

namespace pygrid::probe::testing {

class LocalSshd {
 public:
  LocalSshd() = default;
  ~LocalSshd();  // stops sshd
  LocalSshd(const LocalSshd&) = delete;
  LocalSshd& operator=(const LocalSshd&) = delete;

  // Generates the host key, writes the config and starts sshd -D on a free port, retrying on
  // a port race; true once the port accepts connections. `authorized_key` is the client's
  // "ssh-ed25519 AAAA..." line.
  bool Start(const std::string& authorized_key);
  // Terminates sshd and waits for it. Idempotent.
  void Stop();

  int port() const { return port_; }
  // The host public key line sshd presents ("ssh-ed25519 AAAA... comment").
  const std::string& host_public_key() const { return host_public_key_; }
  // The user the test runs as (sshd can only log in as that user when not root).
  const std::string& user() const { return user_; }
  // Writes <root>/var/lib/pygrid/<name> with `content`.
  void WriteMarker(const std::string& name, const std::string& content) const;
  // Removes every marker (ready, failed, waiting), the inbox and what it holds, and joined.
  void RemoveMarkers() const;
  // The folder PYGRID_INSTANCE_ROOT names (the instance's "/").
  std::string root() const { return dir_.path() + "/root"; }
  // sshd's own log (stderr, LogLevel VERBOSE), for failure messages and log assertions.
  std::string Log() const;

 private:
  bool StartOnce(std::string* why);

  pygrid::testing::TempDir dir_;
  std::unique_ptr<pygrid::testing::ChildProcess> process_;
  int port_ = 0;
  std::string host_public_key_;
  std::string user_;
  std::string log_path_;
};

// A loopback port nobody listens on right now (bound to port 0, read, closed).
using pygrid::testing::FreeLoopbackPort;

// A socket that listens on loopback but never accepts: connections complete in the kernel and
// then hear nothing, which is how a hung server looks. Closed on destruction.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace pygrid::probe::testing
