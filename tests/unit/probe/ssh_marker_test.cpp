// ProbeMarker against a real sshd on loopback: marker states, host key pinning, client key
// rejection, unreachable and hung servers, and that the private key never leaks into results.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "bootstrap/ssh_keys.h"
#include "probe/prober.h"
#include "testing/wait.h"
#include "unit/probe/sshd_fixture.h"
#include "unit/probe/sshd_test_base.h"

namespace pygrid::probe {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The base64 lines of an OpenSSH private key: none may appear in any message.
std::vector<std::string> SecretLines(const std::string& private_key) {
  std::vector<std::string> lines;
  std::istringstream in(private_key);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.find("-----") == std::string::npos) lines.push_back(line);
  }
  return lines;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

class SshMarkerTest : public testing::SshdSuite {
 protected:
  void SetUp() override {
    SshdSuite::SetUp();
    if (HasFatalFailure()) return;
    prober_ = MakeProber({});
  }

  // Asserts that no line of any private key used in these tests is in `text`.
  static void ExpectNoSecret(const std::string& text, const std::string& private_key) {
    for (const std::string& line : SecretLines(private_key)) {
      EXPECT_THAT(text, Not(HasSubstr(line)));
    }
    EXPECT_THAT(text, Not(HasSubstr("PRIVATE KEY")));
  }

  static std::string Describe(const StatusOr<MarkerProbe>& result) {
    if (!result.ok()) return result.status().ToString();
    return std::string(MarkerStateName(result->state)) + ": " + result->detail;
  }

  ProberPtr prober_;
};

TEST_F(SshMarkerTest, ReadyMarkerIsReady) {
  sshd_->WriteMarker("ready", "");
  StatusOr<MarkerProbe> result = prober_->ProbeMarker(Target());
  sshd_->RemoveMarkers();
  ASSERT_TRUE(result.ok()) << Describe(result) << "\n" << sshd_->Log();
  EXPECT_EQ(result->state, MarkerState::kReady) << result->detail;
  ExpectNoSecret(Describe(result), client_->private_key);
}

TEST_F(SshMarkerTest, FailedMarkerIsFailedWithItsReason) {
  sshd_->WriteMarker("failed", "docker-compose up failed: pull access denied\n");
  StatusOr<MarkerProbe> result = prober_->ProbeMarker(Target());
  sshd_->RemoveMarkers();
  ASSERT_TRUE(result.ok()) << Describe(result) << "\n" << sshd_->Log();
  EXPECT_EQ(result->state, MarkerState::kFailed);
  EXPECT_EQ(result->detail, "docker-compose up failed: pull access denied");
}

TEST_F(SshMarkerTest, FailedReasonIsCutAt500Bytes) {
  sshd_->WriteMarker("failed", std::string(2000, 'x'));
  StatusOr<MarkerProbe> result = prober_->ProbeMarker(Target());
  sshd_->RemoveMarkers();
  ASSERT_TRUE(result.ok()) << Describe(result);
  EXPECT_EQ(result->state, MarkerState::kFailed);
  EXPECT_EQ(Count(result->detail, "x"), 500u);
}

TEST_F(SshMarkerTest, ReadyWinsOverFailed) {
  sshd_->WriteMarker("failed", "old failure");
  sshd_->WriteMarker("ready", "");
  StatusOr<MarkerProbe> result = prober_->ProbeMarker(Target());
  sshd_->RemoveMarkers();
  ASSERT_TRUE(result.ok()) << Describe(result);
  EXPECT_EQ(result->state, MarkerState::kReady);
}

TEST_F(SshMarkerTest, NoMarkerIsPending) {
  sshd_->RemoveMarkers();
  StatusOr<MarkerProbe> result = prober_->ProbeMarker(Target());
  ASSERT_TRUE(result.ok()) << Describe(result) << "\n" << sshd_->Log();
  EXPECT_EQ(result->state, MarkerState::kPending);
  EXPECT_FALSE(result->detail.empty());
}

TEST_F(SshMarkerTest, WrongHostKeyIsRefusedBeforeAuthenticating) {
  const size_t accepted_before = Count(sshd_->Log(), "Accepted publickey");
  const size_t failed_before = Count(sshd_->Log(), "Failed publickey");
  StatusOr<bootstrap::SshKeyPair> impostor = bootstrap::GenerateEd25519KeyPair("impostor");
  ASSERT_TRUE(impostor.ok());
  sshd_->WriteMarker("ready", "");

  // With the right client key: had it authenticated, sshd would log "Accepted publickey".
  SshTarget target = Target();
  target.pinned_host_key = impostor->public_key;
  StatusOr<MarkerProbe> result = prober_->ProbeMarker(target);
  ASSERT_FALSE(result.ok()) << Describe(result);
  EXPECT_TRUE(result.status().IsForbidden()) << result.status().ToString();
  EXPECT_EQ(result.status().remote_code(), kHostKeyMismatch);
  EXPECT_EQ(result.status().message(), "host key of 127.0.0.1 does not match the pinned key");

  // With a wrong client key too: had it tried, the answer would be Unauthorized.
  target.private_key = impostor->private_key;
  StatusOr<MarkerProbe> both_wrong = prober_->ProbeMarker(target);
  ASSERT_FALSE(both_wrong.ok());
  EXPECT_EQ(both_wrong.status().remote_code(), kHostKeyMismatch);
  ExpectNoSecret(both_wrong.status().ToString(), impostor->private_key);

  // A good probe afterwards is logged; once it is, no earlier attempt may have been.
  StatusOr<MarkerProbe> good = prober_->ProbeMarker(Target());
  sshd_->RemoveMarkers();
  ASSERT_TRUE(good.ok()) << Describe(good);
  pygrid::testing::Eventually(
      [&] { return Count(sshd_->Log(), "Accepted publickey") != accepted_before; },
      std::chrono::seconds(10), std::chrono::milliseconds(20));
  const std::string log = sshd_->Log();
  EXPECT_EQ(Count(log, "Accepted publickey"), accepted_before + 1) << log;
  EXPECT_EQ(Count(log, "Failed publickey"), failed_before) << log;
}

TEST_F(SshMarkerTest, PinnedKeyOfAnotherTypeIsAMismatch) {
  // The server has only an ed25519 host key; a pinned ECDSA key can never match it.
  pygrid::testing::TempDir dir;
  pygrid::testing::CommandResult made = pygrid::testing::RunCommand(
      "ssh-keygen -q -t ecdsa -N '' -f " + pygrid::testing::ShellQuote(dir.path() + "/ecdsa"));
  ASSERT_EQ(made.exit_code, 0) << made.output;
  std::ifstream in(dir.path() + "/ecdsa.pub");
  std::string ecdsa_public;
  std::getline(in, ecdsa_public);
  ASSERT_THAT(ecdsa_public, ::testing::StartsWith("ecdsa-sha2-nistp256 "));
  SshTarget target = Target();
  target.pinned_host_key = ecdsa_public;
  StatusOr<MarkerProbe> result = prober_->ProbeMarker(target);
  ASSERT_FALSE(result.ok()) << Describe(result);
  EXPECT_TRUE(result.status().IsForbidden()) << result.status().ToString();
  EXPECT_EQ(result.status().remote_code(), kHostKeyMismatch);
}

TEST_F(SshMarkerTest, ConcurrentProbesAgree) {
  // The reconciler probes several instances at once through one Prober.
  sshd_->WriteMarker("failed", "gpu driver install failed");
  constexpr int kThreads = 4;
  std::vector<StatusOr<MarkerProbe>> results(kThreads, Status::Internal("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([this, i, &results] { results[i] = prober_->ProbeMarker(Target()); });
  }
  for (std::thread& thread : threads) thread.join();
  sshd_->RemoveMarkers();
  for (const StatusOr<MarkerProbe>& result : results) {
    ASSERT_TRUE(result.ok()) << Describe(result);
    EXPECT_EQ(result->state, MarkerState::kFailed);
    EXPECT_EQ(result->detail, "gpu driver install failed");
  }
}

TEST_F(SshMarkerTest, WrongClientKeyIsUnauthorized) {
  StatusOr<bootstrap::SshKeyPair> stranger = bootstrap::GenerateEd25519KeyPair("stranger");
  ASSERT_TRUE(stranger.ok());
  SshTarget target = Target();
  target.private_key = stranger->private_key;
  StatusOr<MarkerProbe> result = prober_->ProbeMarker(target);
  ASSERT_FALSE(result.ok()) << Describe(result);
  EXPECT_TRUE(result.status().IsUnauthorized()) << result.status().ToString();
  ExpectNoSecret(result.status().ToString(), stranger->private_key);
  ExpectNoSecret(result.status().ToString(), client_->private_key);
}

TEST_F(SshMarkerTest, MalformedKeysAreInvalidAndNotEchoed) {
  SshTarget target = Target();
  target.pinned_host_key = "ssh-ed25519 not-base64!";
  StatusOr<MarkerProbe> bad_pin = prober_->ProbeMarker(target);
  ASSERT_FALSE(bad_pin.ok());
  EXPECT_TRUE(bad_pin.status().IsInvalid()) << bad_pin.status().ToString();

  target = Target();
  // A truncated key: the secret part must not be echoed back in the error.
  target.private_key = client_->private_key.substr(0, client_->private_key.size() / 2);
  StatusOr<MarkerProbe> bad_key = prober_->ProbeMarker(target);
  ASSERT_FALSE(bad_key.ok()) << Describe(bad_key);
  EXPECT_TRUE(bad_key.status().IsInvalid()) << bad_key.status().ToString();
  ExpectNoSecret(bad_key.status().ToString(), client_->private_key);

  // A broken key is reported even when the instance cannot be reached.
  target.port = testing::FreeLoopbackPort();
  StatusOr<MarkerProbe> bad_key_down = prober_->ProbeMarker(target);
  ASSERT_FALSE(bad_key_down.ok()) << Describe(bad_key_down);
  EXPECT_TRUE(bad_key_down.status().IsInvalid());
}

TEST_F(SshMarkerTest, ClosedPortIsUnreachableNotAnError) {
  SshTarget target = Target();
  target.port = testing::FreeLoopbackPort();
  StatusOr<MarkerProbe> result = prober_->ProbeMarker(target);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->state, MarkerState::kUnreachable);
  EXPECT_THAT(result->detail, HasSubstr("127.0.0.1:" + std::to_string(target.port)));
  ExpectNoSecret(result->detail, client_->private_key);
}

TEST_F(SshMarkerTest, SilentServerIsUnreachableAfterTheTimeout) {
  testing::SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  SshTarget target = Target();
  target.port = silent.port();
  target.timeout = std::chrono::milliseconds(800);
  const auto start = std::chrono::steady_clock::now();
  StatusOr<MarkerProbe> result = prober_->ProbeMarker(target);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->state, MarkerState::kUnreachable);
  // Generous: only proves the probe does not hang for libssh's default of minutes.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

}  // namespace
}  // namespace pygrid::probe
