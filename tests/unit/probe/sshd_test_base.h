// A gtest fixture base for the SSH probes: one real sshd (LocalSshd) and one operator key per
// test suite, and the SshTarget that reaches it with the pinned host key.
//
//   class MyTest : public pygrid::probe::testing::SshdSuite {};
//   TEST_F(MyTest, X) { prober->ProbeMarker(Target()); sshd_->WriteMarker("ready", ""); }
//
// Thread-safety: as gtest fixtures; suites run one after another and each starts its own sshd.
#pragma once

#include <gtest/gtest.h>

#include <chrono>

#include "bootstrap/ssh_keys.h"
#include "probe/prober.h"
#include "unit/probe/sshd_fixture.h"

namespace pygrid::probe::testing {

class SshdSuite : public ::testing::Test {
 protected:
  // One sshd per suite: starting it costs more than every probe together. The tests share its
  // instance root, so each removes the markers it wrote.
  static void SetUpTestSuite() {
    client_ = new bootstrap::SshKeyPair(*bootstrap::GenerateEd25519KeyPair("operator"));
    sshd_ = new LocalSshd();
    started_ = sshd_->Start(client_->public_key);
  }
  static void TearDownTestSuite() {
    delete sshd_;
    delete client_;
    sshd_ = nullptr;
    client_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(started_) << sshd_->Log(); }

  SshTarget Target() const {
    SshTarget target;
    target.host = "127.0.0.1";
    target.port = sshd_->port();
    target.user = sshd_->user();
    target.private_key = client_->private_key;
    target.pinned_host_key = sshd_->host_public_key();
    target.timeout = std::chrono::seconds(15);
    return target;
  }

  static inline bootstrap::SshKeyPair* client_ = nullptr;
  static inline LocalSshd* sshd_ = nullptr;
  static inline bool started_ = false;
};

}  // namespace pygrid::probe::testing
