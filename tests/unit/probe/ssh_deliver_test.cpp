// DeliverGateway against a real sshd on loopback (PYGRID_INSTANCE_ROOT points at the fixture's
// instance root, as on genesis-sim's instances): the file it leaves in the worker's inbox, its
// atomic replacement, the re-join decision, what ProbeMarker then reports, and its refusals.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bootstrap/ssh_keys.h"
#include "probe/prober.h"
#include "unit/probe/sshd_fixture.h"
#include "unit/probe/sshd_test_base.h"

namespace pygrid::probe {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kOld[] = "http://10.1.2.3:7000";
constexpr char kNew[] = "http://10.1.2.4:7000";

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class SshDeliverTest : public testing::SshdSuite {
 protected:
  void SetUp() override {
    SshdSuite::SetUp();
    if (HasFatalFailure()) return;
    sshd_->RemoveMarkers();
    prober_ = MakeProber({});
  }
  void TearDown() override { sshd_->RemoveMarkers(); }

  // As pygrid-start makes it: the login user's, 0700.
  static std::string MakeInbox() {
    const std::string inbox = sshd_->root() + "/var/lib/pygrid/in";
    fs::create_directories(inbox);
    chmod(inbox.c_str(), 0700);
    return inbox;
  }
  static std::string Delivered() { return sshd_->root() + "/var/lib/pygrid/in/gateway.env"; }
  static bool Marker(const std::string& name) {
    return fs::exists(sshd_->root() + "/var/lib/pygrid/" + name);
  }
  static std::vector<std::string> InboxEntries() {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(sshd_->root() + "/var/lib/pygrid/in"))
      names.push_back(entry.path().filename().string());
    return names;
  }

  ProberPtr prober_;
};

TEST_F(SshDeliverTest, WritesOneLineAtomicallyAndTheMarkerReportsIt) {
  const std::string inbox = MakeInbox();
  sshd_->WriteMarker("waiting", "waiting for the gateway address\n");
  StatusOr<MarkerProbe> before = prober_->ProbeMarker(Target());
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->state, MarkerState::kPending);
  EXPECT_EQ(before->detail, kWaitingForGatewayAddress);
  EXPECT_EQ(before->delivered_gateway_url, "");

  Status delivered = prober_->DeliverGateway(Target(), kOld);
  ASSERT_TRUE(delivered.ok()) << delivered.ToString() << "\n" << sshd_->Log();
  EXPECT_EQ(Slurp(Delivered()), std::string("GATEWAY_URL=") + kOld + "\n");
  EXPECT_EQ(InboxEntries(), std::vector<std::string>{"gateway.env"});  // no temp file left
  StatusOr<MarkerProbe> after = prober_->ProbeMarker(Target());
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->state, MarkerState::kPending);
  EXPECT_EQ(after->delivered_gateway_url, kOld);

  // Replaced by a rename, never rewritten in place: a reader holding the old file (a link to
  // it here) sees it whole, and the new content arrives whole.
  ASSERT_EQ(link(Delivered().c_str(), (inbox + "/old").c_str()), 0);
  ASSERT_TRUE(prober_->DeliverGateway(Target(), kNew).ok());
  EXPECT_EQ(Slurp(inbox + "/old"), std::string("GATEWAY_URL=") + kOld + "\n");
  EXPECT_EQ(Slurp(Delivered()), std::string("GATEWAY_URL=") + kNew + "\n");
}

TEST_F(SshDeliverTest, ReDeliveryToAStartedWorkerRemovesItsMarkers) {
  MakeInbox();
  ASSERT_TRUE(prober_->DeliverGateway(Target(), kOld).ok());
  // The worker started with kOld and is ready: the same address again changes nothing.
  sshd_->WriteMarker("joined", std::string(kOld) + "\n");
  sshd_->WriteMarker("ready", "2026-01-01T00:00:00Z\n");
  ASSERT_TRUE(prober_->DeliverGateway(Target(), kOld).ok());
  EXPECT_TRUE(Marker("ready"));
  StatusOr<MarkerProbe> ready = prober_->ProbeMarker(Target());
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->state, MarkerState::kReady);
  EXPECT_EQ(ready->delivered_gateway_url, kOld);

  // The gateway was replaced: the new address, and no marker left that speaks for the old one
  // (here the simulator's emulation re-joins; on an instance pygrid-rejoin does).
  ASSERT_TRUE(prober_->DeliverGateway(Target(), kNew).ok());
  EXPECT_FALSE(Marker("ready"));
  EXPECT_EQ(Slurp(Delivered()), std::string("GATEWAY_URL=") + kNew + "\n");
  StatusOr<MarkerProbe> pending = prober_->ProbeMarker(Target());
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->state, MarkerState::kPending);
  EXPECT_EQ(pending->delivered_gateway_url, kNew);

  // A failed worker that never joined (no address in time) gets the address and its failed
  // marker goes too.
  sshd_->RemoveMarkers();
  MakeInbox();
  sshd_->WriteMarker("failed", "no gateway address was delivered within 1800 s\n");
  ASSERT_TRUE(prober_->DeliverGateway(Target(), kNew).ok());
  EXPECT_FALSE(Marker("failed"));
}

TEST_F(SshDeliverTest, MalformedAddressesAreRefusedBeforeConnecting) {
  MakeInbox();
  // Nothing listens at this target: a refusal without connecting is Invalid, not Unavailable.
  SshTarget nowhere = Target();
  nowhere.port = testing::FreeLoopbackPort();
  for (const std::string url :
       {"http://10.1.2.3:7000\nGATEWAY_URL=http://6.6.6.6:1", "http://10.1.2.3:7000; reboot",
        "http://$(reboot):7000", "http://gw:7000", "http://10.1.2.3:7000/", "10.1.2.3:7000", ""}) {
    Status status = prober_->DeliverGateway(nowhere, url);
    EXPECT_TRUE(status.IsInvalid()) << url << ": " << status.ToString();
  }
  EXPECT_FALSE(fs::exists(Delivered()));
  EXPECT_TRUE(prober_->DeliverGateway(nowhere, kOld).IsUnavailable());
}

TEST_F(SshDeliverTest, WrongHostKeyIsRefusedAndNothingIsWritten) {
  MakeInbox();
  StatusOr<bootstrap::SshKeyPair> impostor = bootstrap::GenerateEd25519KeyPair("impostor");
  ASSERT_TRUE(impostor.ok());
  SshTarget target = Target();
  target.pinned_host_key = impostor->public_key;
  Status status = prober_->DeliverGateway(target, kOld);
  EXPECT_TRUE(status.IsForbidden()) << status.ToString();
  EXPECT_EQ(status.remote_code(), kHostKeyMismatch);
  EXPECT_FALSE(fs::exists(Delivered()));
}

TEST_F(SshDeliverTest, NoInboxYetIsUnavailableWithTheReason) {
  Status status = prober_->DeliverGateway(Target(), kOld);
  EXPECT_TRUE(status.IsUnavailable()) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr("no inbox yet"));
}

}  // namespace
}  // namespace pygrid::probe
