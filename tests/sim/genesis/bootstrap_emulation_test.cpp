// The end-to-end check of the emulation: user data rendered by the operator's own
// bootstrap code, a gateway and two workers in genesis-sim, and the workers registered at the
// gateway's /connected-nodes; with a deliberately wrong gateway address they are not. A
// deferred worker registers only once the real prober delivered the address to the
// emulator's sshd, and follows a re-delivered one to a replacement gateway.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api/defaults.h"
#include "api/naming.h"
#include "bootstrap/ssh_keys.h"
#include "bootstrap/user_data.h"
#include "probe/prober.h"
#include "setup_model.h"
#include "sim_http.h"
#include "sim_process.h"

namespace pygrid::sim::genesis {
namespace {

using api::ClusterSpec;
using api::Flavor;
using api::InstanceRole;
using nlohmann::json;

constexpr char kCluster[] = "mnist";
constexpr char kUid[] = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";

ClusterSpec Spec(Flavor flavor) {
  ClusterSpec spec;
  spec.credentials_secret_ref.name = "genesis-credentials";
  spec.pygrid.flavor = flavor;
  spec.gpu_driver = api::GpuDriver::kNone;
  spec.gateway.colocated_worker = true;
  api::ApplyDefaults(spec);
  return spec;
}

const bootstrap::SshKeyPair& OperatorKey() {
  static const bootstrap::SshKeyPair key = *bootstrap::GenerateEd25519KeyPair("operator");
  return key;
}
const bootstrap::SshKeyPair& HostKey() {
  static const bootstrap::SshKeyPair key = *bootstrap::GenerateEd25519KeyPair("host");
  return key;
}

// `gateway_ip` empty for a worker: a deferred worker.
std::string Render(const ClusterSpec& spec, InstanceRole role, int index,
                   const std::string& gateway_ip) {
  const bootstrap::SshKeyPair& op = OperatorKey();
  const bootstrap::SshKeyPair& host = HostKey();
  bootstrap::InstanceUserDataInput input;
  input.role = role;
  input.index = index;
  input.hostname = api::InstanceNameFor(kCluster, kUid, role, index);
  input.node_id = input.hostname;
  if (role == InstanceRole::kWorker) {
    input.gateway_private_ip = gateway_ip;
  } else {
    input.secret_key = "00112233445566778899aabbccddeeff";
  }
  input.operator_public_key = op.public_key;
  input.host_private_key = host.private_key;
  input.host_public_key = host.public_key;
  StatusOr<std::string> rendered = bootstrap::RenderUserData(spec, input);
  EXPECT_TRUE(rendered.ok()) << rendered.status().ToString();
  return rendered.ok() ? *rendered : "";
}

json CreateActive(const SimProcess& sim, const std::string& name, const std::string& user_data) {
  const ApiResult images = Api(sim, "GET", "/images");
  std::string image;
  for (const json& im : images.body["images"]) {
    if (im["slug"] == "ubuntu-22.04") image = im["id"];
  }
  json body = {{"name", name},
               {"hostname", name},
               {"type", "vcpu-2_memory-4g_disk-80g"},
               {"image", image},
               {"metadata", {{"startup_script", user_data}}}};
  ApiResult created = Api(sim, "POST", "/instances", body);
  EXPECT_EQ(created.status, 201) << created.raw;
  const std::string id = created.body["instance"].value("id", "");
  json instance;
  EXPECT_TRUE(Eventually([&] {
    instance = Api(sim, "GET", "/instances/" + id).body["instance"];
    return instance["status"] == "active";
  }));
  return instance;
}

bool Has(const json& ids, const std::string& id) {
  if (!ids.is_array()) return false;
  for (const json& x : ids) {
    if (x == id) return true;
  }
  return false;
}

class BootstrapEmulationTest : public ::testing::TestWithParam<Flavor> {};

TEST_P(BootstrapEmulationTest, RenderedWorkersRegisterAtTheGateway) {
  SimProcess sim({"--boot-seconds", "0.2", "--no-sshd"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  const ClusterSpec spec = Spec(GetParam());
  const json gw = CreateActive(sim, api::InstanceNameFor(kCluster, kUid, InstanceRole::kGateway, 0),
                               Render(spec, InstanceRole::kGateway, 0, ""));
  const std::string gw_ip = gw["private_ip"];
  for (int i = 0; i < 2; ++i) {
    CreateActive(sim, api::InstanceNameFor(kCluster, kUid, InstanceRole::kWorker, i),
                 Render(spec, InstanceRole::kWorker, i, gw_ip));
  }
  const std::string w0 = api::InstanceNameFor(kCluster, kUid, InstanceRole::kWorker, 0);
  const std::string w1 = api::InstanceNameFor(kCluster, kUid, InstanceRole::kWorker, 1);
  json nodes;
  EXPECT_TRUE(Eventually([&] {
    nodes = ConnectedNodes(gw, spec.pygrid.gateway_port);
    return Has(nodes, w0) && Has(nodes, w1);
  })) << nodes.dump()
      << "\n"
      << sim.Control("GET", "/_sim/instances").dump();
  // The co-located worker of the gateway instance registers too.
  EXPECT_TRUE(Has(nodes, api::InstanceNameFor(kCluster, kUid, InstanceRole::kGateway, 0)))
      << nodes.dump();
}

TEST_P(BootstrapEmulationTest, WorkersWithAWrongGatewayAddressNeverRegister) {
  SimProcess sim({"--boot-seconds", "0.1", "--no-sshd"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  const ClusterSpec spec = Spec(GetParam());
  const json gw = CreateActive(sim, api::InstanceNameFor(kCluster, kUid, InstanceRole::kGateway, 0),
                               Render(spec, InstanceRole::kGateway, 0, ""));
  // An address in the gateway's private network where no instance lives, like a wrong IP in
  // a real grid's user data.
  std::string wrong = gw["private_ip"];
  wrong = wrong.substr(0, wrong.rfind('.')) + ".250";
  for (int i = 0; i < 2; ++i) {
    CreateActive(sim, api::InstanceNameFor(kCluster, kUid, InstanceRole::kWorker, i),
                 Render(spec, InstanceRole::kWorker, i, wrong));
  }
  ASSERT_TRUE(Eventually([&] {
    const json all = sim.Control("GET", "/_sim/instances")["instances"];
    for (size_t i = 1; i < all.size(); ++i) {
      if (all[i]["emulation"]["services"][0]["join_attempts"].get<int>() < 2) return false;
    }
    return all.size() == 3;
  }));
  const json nodes = ConnectedNodes(gw, spec.pygrid.gateway_port);
  EXPECT_FALSE(Has(nodes, api::InstanceNameFor(kCluster, kUid, InstanceRole::kWorker, 0)));
  EXPECT_FALSE(Has(nodes, api::InstanceNameFor(kCluster, kUid, InstanceRole::kWorker, 1)));
}

// The set-up model reads what the operator's real templates ask for: cloud-init's packages,
// the GPU set-up of pygrid-start and the flavour's images.
TEST_P(BootstrapEmulationTest, SetUpModelSeesWhatTheRenderedUserDataInstalls) {
  ClusterSpec spec = Spec(GetParam());
  spec.gpu_driver = api::GpuDriver::kNvidia;
  const api::FlavorDefaults images = api::DefaultsFor(GetParam());
  const std::string gateway_image = std::string("image:") + images.gateway_image;
  const std::string node_image = std::string("image:") + images.node_image;
  auto items = [](const std::string& user_data) {
    UserData parsed;
    std::string error;
    EXPECT_TRUE(ParseUserData(user_data, "127.0.2.1", &parsed, &error)) << error;
    std::vector<std::string> out;
    for (const SetupStep& s : PlanSetup(parsed, {}, SetupFigures{})) out.push_back(s.item);
    return out;
  };
  EXPECT_EQ(items(Render(spec, InstanceRole::kGateway, 0, "")),
            (std::vector<std::string>{kStepAptUpdate, kItemDocker, kItemNvidiaDriver,
                                      kItemContainerToolkit, gateway_image, node_image}));
  EXPECT_EQ(items(Render(spec, InstanceRole::kWorker, 0, "127.0.2.1")),
            (std::vector<std::string>{kStepAptUpdate, kItemDocker, kItemNvidiaDriver,
                                      kItemContainerToolkit, node_image}));
  spec.gpu_driver = api::GpuDriver::kNone;
  EXPECT_EQ(items(Render(spec, InstanceRole::kWorker, 0, "127.0.2.1")),
            (std::vector<std::string>{kStepAptUpdate, kItemDocker, node_image}));
}

// Where the operator's SSH reaches an emulated instance: the emulator's sshd on its public
// address, as the user running the test (the simulator's --ssh-user default).
probe::SshTarget TargetOf(const json& instance, int ssh_port) {
  probe::SshTarget target;
  target.host = instance["public_ip"];
  target.port = ssh_port;
  const passwd* account = getpwuid(getuid());
  target.user = account != nullptr ? account->pw_name : "";
  target.private_key = OperatorKey().private_key;
  target.pinned_host_key = HostKey().public_key;
  target.timeout = std::chrono::seconds(10);
  return target;
}

// The entry for instance `id` in a /_sim/ listing (`what`: instances or setup).
json SimEntry(const SimProcess& sim, const std::string& what, const std::string& id) {
  const json listing = sim.Control("GET", "/_sim/" + what);
  if (listing.is_object() && listing["instances"].is_array()) {
    for (const json& i : listing["instances"]) {
      if (i["id"] == id) return i;
    }
  }
  return nullptr;
}

json EmulationOf(const SimProcess& sim, const std::string& id) {
  const json entry = SimEntry(sim, "instances", id);
  return entry.is_object() ? entry["emulation"] : json(nullptr);
}

TEST_P(BootstrapEmulationTest, DeferredWorkerJoinsTheDeliveredGatewayAndFollowsAReplacement) {
  if (access("/usr/sbin/sshd", X_OK) != 0) GTEST_SKIP() << "no /usr/sbin/sshd";
  const int ssh_port = 20000 + static_cast<int>(getpid() % 20000);
  SimProcess sim({"--boot-seconds", "0.2", "--ssh-port", std::to_string(ssh_port)});
  ASSERT_TRUE(sim.ok()) << sim.error();
  const ClusterSpec spec = Spec(GetParam());
  const std::string gw_name = api::InstanceNameFor(kCluster, kUid, InstanceRole::kGateway, 0);
  const std::string worker_name = api::InstanceNameFor(kCluster, kUid, InstanceRole::kWorker, 0);
  // Created together: the worker knows nothing of the gateway.
  const json worker = CreateActive(sim, worker_name, Render(spec, InstanceRole::kWorker, 0, ""));
  const json gw = CreateActive(sim, gw_name, Render(spec, InstanceRole::kGateway, 0, ""));
  const std::string worker_id = worker["id"];
  const probe::SshTarget target = TargetOf(worker, ssh_port);
  probe::ProberPtr prober = probe::MakeProber();

  // Waiting, and saying so through the real marker command; not registered anywhere.
  StatusOr<probe::MarkerProbe> marker = Status::Internal("not probed");
  ASSERT_TRUE(Eventually([&] {
    marker = prober->ProbeMarker(target);
    return marker.ok() && marker->detail == probe::kWaitingForGatewayAddress;
  })) << (marker.ok() ? marker->detail : marker.status().ToString())
      << "\n"
      << EmulationOf(sim, worker_id).dump();
  EXPECT_EQ(marker->state, probe::MarkerState::kPending);
  EXPECT_EQ(marker->delivered_gateway_url, "");
  EXPECT_EQ(EmulationOf(sim, worker_id)["setup"], "waiting-for-address");
  const json setup = SimEntry(sim, "setup", worker_id);
  EXPECT_EQ(setup["phase"], "waiting-for-address") << setup.dump();
  EXPECT_TRUE(EmulationOf(sim, worker_id)["services"].empty());
  ASSERT_TRUE(
      Eventually([&] { return Has(ConnectedNodes(gw, spec.pygrid.gateway_port), gw_name); }));
  EXPECT_FALSE(Has(ConnectedNodes(gw, spec.pygrid.gateway_port), worker_name));

  // The worker is registered at `gateway` and its marker says ready, for the address at `url`.
  auto expect_joined = [&](const json& gateway, const std::string& url) {
    json nodes;
    EXPECT_TRUE(Eventually([&] {
      nodes = ConnectedNodes(gateway, spec.pygrid.gateway_port);
      return Has(nodes, worker_name);
    })) << nodes.dump()
        << "\n"
        << EmulationOf(sim, worker_id).dump();
    EXPECT_TRUE(Eventually([&] {
      marker = prober->ProbeMarker(target);
      return marker.ok() && marker->state == probe::MarkerState::kReady;
    })) << (marker.ok() ? marker->detail : marker.status().ToString());
    EXPECT_EQ(marker.ok() ? marker->delivered_gateway_url : "", url);
  };

  const std::string url = bootstrap::GatewayJoinURL(spec, gw["private_ip"]);
  Status delivered = prober->DeliverGateway(target, url);
  ASSERT_TRUE(delivered.ok()) << delivered.ToString();
  expect_joined(gw, url);

  // The gateway is replaced: the new one's address is delivered, the worker re-joins there.
  ASSERT_EQ(Api(sim, "DELETE", "/instances/" + gw["id"].get<std::string>()).status, 204);
  const json gw2 = CreateActive(sim, gw_name, Render(spec, InstanceRole::kGateway, 0, ""));
  const std::string url2 = bootstrap::GatewayJoinURL(spec, gw2["private_ip"]);
  ASSERT_TRUE(prober->DeliverGateway(target, url2).ok());
  // Acknowledged only with the old marker gone: from now on "ready" means the new gateway.
  marker = prober->ProbeMarker(target);
  ASSERT_TRUE(marker.ok()) << marker.status().ToString();
  EXPECT_EQ(marker->delivered_gateway_url, url2);
  if (marker->state == probe::MarkerState::kReady) {
    EXPECT_TRUE(Has(ConnectedNodes(gw2, spec.pygrid.gateway_port), worker_name));
  }
  expect_joined(gw2, url2);
  EXPECT_EQ(EmulationOf(sim, worker_id)["rejoins"], 1);
}

TEST_P(BootstrapEmulationTest, MalformedDeliveryFailsTheDeferredWorker) {
  SimProcess sim({"--boot-seconds", "0.1", "--no-sshd"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  const ClusterSpec spec = Spec(GetParam());
  const json worker =
      CreateActive(sim, api::InstanceNameFor(kCluster, kUid, InstanceRole::kWorker, 0),
                   Render(spec, InstanceRole::kWorker, 0, ""));
  const std::string root =
      sim.state_dir() + "/instances/" + worker["id"].get<std::string>() + "/var/lib/pygrid";
  ASSERT_TRUE(Eventually([&] { return std::filesystem::is_directory(root + "/in"); }));
  // Written the way the delivery command writes: a temporary file renamed into place.
  std::ofstream(root + "/in/.gateway.env.tmp") << "GATEWAY_URL=http://gateway:7000\n";
  std::filesystem::rename(root + "/in/.gateway.env.tmp", root + "/in/gateway.env");
  std::string reason;
  ASSERT_TRUE(Eventually([&] {
    std::ifstream in(root + "/failed");
    return std::getline(in, reason) && !reason.empty();
  }));
  EXPECT_EQ(reason,
            "the delivered gateway address in /var/lib/pygrid/in/gateway.env is malformed "
            "(expected one line GATEWAY_URL=http://<IPv4>:<port>)");
  EXPECT_FALSE(std::filesystem::exists(root + "/ready"));
}

INSTANTIATE_TEST_SUITE_P(Flavors, BootstrapEmulationTest,
                         ::testing::Values(Flavor::kGateway2020, Flavor::kNetwork02),
                         [](const ::testing::TestParamInfo<Flavor>& param_info) {
                           return param_info.param == Flavor::kGateway2020 ? "gateway2020"
                                                                           : "network02";
                         });

}  // namespace
}  // namespace pygrid::sim::genesis
