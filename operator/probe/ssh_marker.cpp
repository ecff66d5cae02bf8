// The SSH half of the probes over libssh with a pinned host key: the readiness marker and the
// gateway address delivery. libssh stays in this file.
#include <libssh/libssh.h>

#include <algorithm>
#include <memory>
#include <sstream>

#include "probe/internal/probes.h"

namespace pygrid::probe::internal {
namespace {

using Clock = std::chrono::steady_clock;
using SessionPtr = std::unique_ptr<ssh_session_struct, void (*)(ssh_session)>;
using KeyPtr = std::unique_ptr<ssh_key_struct, void (*)(ssh_key)>;
using ChannelPtr = std::unique_ptr<ssh_channel_struct, void (*)(ssh_channel)>;

void FreeSession(ssh_session session) {
  if (ssh_is_connected(session)) ssh_disconnect(session);
  ssh_free(session);
}

void FreeChannel(ssh_channel channel) {
  ssh_channel_close(channel);
  ssh_channel_free(channel);
}

// The marker output is two lines with a 500-byte reason at most, the delivery's a line or two;
// anything much bigger is not our command.
constexpr size_t kMaxOutput = 4096;

std::string Where(const SshTarget& target) {
  return target.host + ":" + std::to_string(target.port);
}

std::string SessionError(ssh_session session) { return Printable(ssh_get_error(session), 200); }

// The pinned "type base64 [comment]" line as a libssh key; its type is in *type_name.
StatusOr<KeyPtr> ImportPinnedKey(const SshTarget& target, std::string* type_name) {
  std::istringstream words(target.pinned_host_key);
  std::string blob;
  words >> *type_name >> blob;
  enum ssh_keytypes_e type = ssh_key_type_from_name(type_name->c_str());
  ssh_key raw = nullptr;
  if (type_name->empty() || blob.empty() || type == SSH_KEYTYPE_UNKNOWN ||
      ssh_pki_import_pubkey_base64(blob.c_str(), type, &raw) != SSH_OK) {
    return Status::Invalid("the pinned host key of " + target.host +
                           " is not an OpenSSH public key line (\"ssh-ed25519 AAAA...\")");
  }
  return KeyPtr(raw, &ssh_key_free);
}

// Host key algorithms to offer: only the pinned key's, so a server with several host keys
// presents the one we can compare.
std::string HostKeyAlgorithms(const std::string& type_name) {
  if (type_name == "ssh-rsa") return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
  return type_name;
}

Status HostKeyMismatch(const SshTarget& target) {
  return Status::Forbidden("host key of " + target.host + " does not match the pinned key")
      .WithRemoteCode(kHostKeyMismatch);
}

// What running one command over SSH came to: either no connection (reached=false, `detail`
// says why: the normal state of a booting instance) or the command's output.
struct SshOutcome {
  bool reached = false;
  std::string detail;
  std::string output;
};

// Connects to `target` with the pinned host key, authenticates, runs `command` with `input` on
// its standard input (then EOF) and reads its output; `what` names the command in messages.
// The error contract is Prober::ProbeMarker's.
StatusOr<SshOutcome> RunOverSsh(const SshTarget& target, const char* command,
                                const std::string& input, const std::string& what) {
  const Clock::time_point deadline = Clock::now() + target.timeout;
  if (target.host.empty() || target.host.find_first_of("@ \t\r\n") != std::string::npos ||
      target.port <= 0 || target.port > 65535 || target.user.empty()) {
    return Status::Invalid("SSH target \"" + Printable(target.host, 100) + "\" port " +
                           std::to_string(target.port) + " user \"" + Printable(target.user, 100) +
                           "\" is not usable");
  }
  std::string key_type;
  StatusOr<KeyPtr> pinned = ImportPinnedKey(target, &key_type);
  if (!pinned.ok()) return pinned.status();
  // Read before connecting, so a broken key is reported even while the instance is down.
  ssh_key raw_identity = nullptr;
  if (ssh_pki_import_privkey_base64(target.private_key.c_str(), nullptr, nullptr, nullptr,
                                    &raw_identity) != SSH_OK ||
      raw_identity == nullptr) {
    return Status::Invalid("the SSH private key for " + target.host +
                           " could not be read (expected an unencrypted OpenSSH private key)");
  }
  KeyPtr identity(raw_identity, &ssh_key_free);

  SessionPtr session(ssh_new(), &FreeSession);
  if (!session) return Status::Internal("libssh could not allocate a session");
  ssh_session s = session.get();
  const unsigned int port = static_cast<unsigned int>(target.port);
  const long timeout_ms = static_cast<long>(std::max<int64_t>(target.timeout.count(), 1));
  const long seconds = timeout_ms / 1000;
  const long micros = (timeout_ms % 1000) * 1000;
  const int no_log = SSH_LOG_NOLOG;
  const int no = 0;
  const bool no_config = false;
  const std::string algorithms = HostKeyAlgorithms(key_type);
  // Trust comes only from the pinned key: no ~/.ssh/config (it could add a ProxyCommand or
  // rewrite the host), no known_hosts files, no agent, no password or keyboard prompts.
  if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no_config) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_HOST, target.host.c_str()) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_USER, target.user.c_str()) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_HOSTKEYS, algorithms.c_str()) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &seconds) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &micros) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_PASSWORD_AUTH, &no) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_KBDINT_AUTH, &no) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_GSSAPI_AUTH, &no) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &no_log) != SSH_OK) {
    return Status::Invalid("libssh rejected the options for " + Where(target) + ": " +
                           SessionError(s));
  }

  if (ssh_connect(s) != SSH_OK) {
    const std::string error = SessionError(s);
    // libssh's key exchange names the method that found no match: a server without a host
    // key of the pinned type is not the pinned server either.
    if (error.find("server host key algo") != std::string::npos) return HostKeyMismatch(target);
    // Refused, timed out, reset or a cut handshake: the instance is not (yet) reachable.
    return SshOutcome{false, "no SSH connection to " + Where(target) + ": " + error, ""};
  }

  ssh_key raw_server_key = nullptr;
  if (ssh_get_server_publickey(s, &raw_server_key) != SSH_OK || raw_server_key == nullptr) {
    return Status::Unavailable("SSH server " + Where(target) + " presented no host key");
  }
  KeyPtr server_key(raw_server_key, &ssh_key_free);
  if (ssh_key_type(server_key.get()) != ssh_key_type(pinned->get()) ||
      ssh_key_cmp(server_key.get(), pinned->get(), SSH_KEY_CMP_PUBLIC) != 0) {
    // Checked before authenticating: nothing of ours reaches a server we cannot identify.
    return HostKeyMismatch(target);
  }

  int auth = ssh_userauth_publickey(s, nullptr, identity.get());
  if (auth == SSH_AUTH_DENIED || auth == SSH_AUTH_PARTIAL) {
    return Status::Unauthorized("SSH server " + Where(target) + " rejected the operator's key " +
                                "for user \"" + Printable(target.user, 100) + "\"");
  }
  if (auth != SSH_AUTH_SUCCESS) {
    return SshOutcome{
        false, "SSH authentication with " + Where(target) + " did not complete: " + SessionError(s),
        ""};
  }

  ChannelPtr channel(ssh_channel_new(s), &FreeChannel);
  if (!channel || ssh_channel_open_session(channel.get()) != SSH_OK ||
      ssh_channel_request_exec(channel.get(), command) != SSH_OK ||
      (!input.empty() &&
       ssh_channel_write(channel.get(), input.data(), static_cast<uint32_t>(input.size())) !=
           static_cast<int>(input.size())) ||
      ssh_channel_send_eof(channel.get()) != SSH_OK) {
    return Status::Unavailable("could not run " + what + " on " + Where(target) + ": " +
                               SessionError(s));
  }
  std::string output;
  char buffer[1024];
  while (!ssh_channel_is_eof(channel.get()) && output.size() < kMaxOutput) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return Status::Timeout(what + " on " + Where(target) + " did not finish in time");
    }
    int n = ssh_channel_read_timeout(channel.get(), buffer, sizeof(buffer), 0,
                                     static_cast<int>(left.count()));
    if (n == SSH_ERROR) {
      return Status::Unavailable("reading the output of " + what + " on " + Where(target) +
                                 " failed: " + SessionError(s));
    }
    if (n > 0) output.append(buffer, static_cast<size_t>(n));
  }
  return SshOutcome{true, "", output};
}

}  // namespace

StatusOr<MarkerProbe> ProbeMarkerOverSsh(const SshTarget& target) {
  StatusOr<SshOutcome> outcome =
      RunOverSsh(target, kMarkerCommand, "", "the readiness marker command");
  if (!outcome.ok()) return outcome.status();
  if (!outcome->reached) return MarkerProbe{MarkerState::kUnreachable, outcome->detail, ""};
  return ParseMarkerOutput(outcome->output);
}

Status DeliverGatewayOverSsh(const SshTarget& target, const std::string& gateway_url) {
  // Checked first: the URL reaches a shell on the instance (as data on standard input, but a
  // newline or anything but the address has no business there).
  if (!IsGatewayJoinURL(gateway_url)) {
    return Status::Invalid("the gateway address \"" + Printable(gateway_url, 100) +
                           "\" is not http://<IPv4>:<port>");
  }
  StatusOr<SshOutcome> outcome =
      RunOverSsh(target, kDeliverCommand, gateway_url + "\n", "the gateway delivery command");
  if (!outcome.ok()) return outcome.status();
  if (!outcome->reached) return Status::Unavailable(outcome->detail);
  return ParseDeliverOutput(outcome->output, Where(target));
}

}  // namespace pygrid::probe::internal
