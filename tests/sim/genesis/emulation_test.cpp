// Instance emulation tests: genesis-sim runs what each instance's user data describes, so a
// node registers at its gateway only when the user data names the right gateway address.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sim_http.h"
#include "sim_process.h"

namespace pygrid::sim::genesis {
namespace {

using nlohmann::json;

std::string Indent(const std::string& text, const std::string& pad) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += pad + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

// A cloud-config following notes/CLOUD-INIT-CONTRACT.md with one PyGrid service.
std::string UserData(const std::string& compose_services, const std::string& host_private = "",
                     const std::string& host_public = "", const std::string& authorized = "") {
  std::string text = "#cloud-config\n";
  if (!host_private.empty()) {
    text += "ssh_deletekeys: true\nssh_genkeytypes: []\nssh_keys:\n  ed25519_private: |\n" +
            Indent(host_private, "    ") + "  ed25519_public: " + host_public + "\n";
  }
  text +=
      "users:\n  - name: ubuntu\n    ssh_authorized_keys:\n      - " +
      (authorized.empty()
           ? std::string("ssh-ed25519 "
                         "AAAAC3NzaC1lZDI1NTE5AAAAIHLroQ0sF9jysvVnoOOSpXRBcBV09/46+OGV9QwgcSv3 op")
           : authorized) +
      "\n";
  text += "write_files:\n  - path: /opt/pygrid/docker-compose.yml\n    content: |\n" +
          Indent("version: \"2.4\"\nservices:\n" + compose_services, "      ");
  return text;
}

std::string NetworkService(int port) {
  return "  network:\n    image: openmined/grid-network:v0.2.9\n    restart: unless-stopped\n"
         "    environment:\n      PORT: \"" +
         std::to_string(port) +
         "\"\n"
         "      DATABASE_URL: \"postgresql://pygrid:pw@db:5432/network\"\n"
         "      SECRET_KEY: \"s\"\n    ports:\n      - \"" +
         std::to_string(port) + ":" + std::to_string(port) +
         "\"\n    labels:\n      dev.pygrid.role: gateway\n"
         "      dev.pygrid.flavor: network-0.2\n"
         "  db:\n    image: postgres:12\n";  // not a PyGrid service: ignored
}

std::string NodeService(const std::string& id, const std::string& network_url, int port) {
  return "  node:\n    image: openmined/grid-node:v0.2.9\n    restart: unless-stopped\n"
         "    environment:\n      NETWORK: \"" +
         network_url + "\"\n      NODE_ID: \"" + id +
         "\"\n      ADDRESS: \"http://${PYGRID_PRIVATE_IP}:" + std::to_string(port) +
         "/\"\n"
         "      PORT: \"" +
         std::to_string(port) +
         "\"\n"
         "      DATABASE_URL: \"sqlite:///node.db\"\n    ports:\n      - \"" +
         std::to_string(port) + ":" + std::to_string(port) +
         "\"\n    labels:\n"
         "      dev.pygrid.role: node\n      dev.pygrid.flavor: network-0.2\n";
}

std::string ImageId(const SimProcess& sim) {
  const ApiResult images = Api(sim, "GET", "/images");
  for (const json& im : images.body["images"]) {
    if (im["slug"] == "ubuntu-22.04") return im["id"];
  }
  return "";
}

// Creates an instance with `user_data` and waits until it is active; returns its JSON.
json CreateActive(const SimProcess& sim, const std::string& name, const std::string& user_data) {
  json body = {{"name", name},
               {"hostname", name},
               {"type", "vcpu-2_memory-4g_disk-80g"},
               {"image", ImageId(sim)},
               {"metadata", {{"startup_script", user_data}}}};
  ApiResult created = Api(sim, "POST", "/instances", body);
  EXPECT_EQ(created.status, 201) << created.raw;
  const std::string id = created.body["instance"]["id"];
  json instance;
  EXPECT_TRUE(Eventually([&] {
    instance = Api(sim, "GET", "/instances/" + id).body["instance"];
    return instance["status"] == "active";
  }));
  return instance;
}

std::string ReadyMarker(const SimProcess& sim, const json& instance) {
  return sim.state_dir() + "/instances/" + instance["id"].get<std::string>() +
         "/var/lib/pygrid/ready";
}

TEST(GenesisEmulationTest, NodesJoinTheGatewayTheirUserDataNames) {
  SimProcess sim({"--boot-seconds", "0.2", "--no-sshd"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  const json gw = CreateActive(sim, "gw", UserData(NetworkService(7000)));
  const std::string gw_private = gw["private_ip"];
  const std::string gw_public = gw["public_ip"];
  ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(ReadyMarker(sim, gw)); }))
      << sim.Control("GET", "/_sim/instances").dump();

  SimClientResult root = SimHttpCall("GET", "http://" + gw_public + ":7000/", "", 3000);
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, "Open Grid Network");
  // The gateway answers on the private address too (that is where workers join).
  EXPECT_EQ(SimHttpCall("GET", "http://" + gw_private + ":7000/", "", 3000).status, 200);

  const json w1 = CreateActive(
      sim, "w1", UserData(NodeService("alice", "http://" + gw_private + ":7000", 5000)));
  const json w2 = CreateActive(
      sim, "w2", UserData(NodeService("bob", "http://" + gw_private + ":7000/", 5000)));
  ASSERT_TRUE(Eventually([&] {
    return ConnectedNodes(gw, 7000) == json({"alice", "bob"});
  })) << ConnectedNodes(gw, 7000).dump();
  ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(ReadyMarker(sim, w2)); }));

  const std::string w1_url = "http://" + w1["public_ip"].get<std::string>() + ":5000";
  SimClientResult identity = SimHttpCall("GET", w1_url + "/data-centric/identity/", "", 3000);
  EXPECT_EQ(json::parse(identity.body), json({{"success", true}, {"identity", "alice"}}));
  SimClientResult status = SimHttpCall("GET", w1_url + "/data-centric/status/", "", 3000);
  EXPECT_EQ(json::parse(status.body), json({{"success", true}, {"status", "OpenGrid"}}));
  EXPECT_EQ(SimHttpCall("GET", w1_url + "/data-centric/status", "", 3000).status, 308);

  const std::string join = "http://" + gw_public + ":7000/join";
  SimClientResult again =
      SimHttpCall("POST", join, R"({"node-id":"alice","node-address":"http://x/"})", 3000);
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(json::parse(again.body)["message"], "This ID has already been registered");
  SimClientResult bad = SimHttpCall("POST", join, "not json", 3000);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["message"], "Invalid JSON format.");

  json described = sim.Control("GET", "/_sim/instances");
  ASSERT_EQ(described["instances"].size(), 3u);
  EXPECT_EQ(described["instances"][1]["emulation"]["services"][0]["join_status"], 200);
  EXPECT_EQ(described["instances"][1]["emulation"]["ready"], true);
}

TEST(GenesisEmulationTest, WrongGatewayAddressMeansTheWorkerNeverRegisters) {
  SimProcess sim({"--boot-seconds", "0.1", "--no-sshd"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  const json gw = CreateActive(sim, "gw", UserData(NetworkService(7000)));
  // The gateway's public address instead of its private one, on an unused port: unreachable.
  const json w =
      CreateActive(sim, "w",
                   UserData(NodeService(
                       "carol", "http://" + gw["private_ip"].get<std::string>() + ":7999", 5000)));
  // With restart: unless-stopped the node keeps retrying (Docker restarts it).
  ASSERT_TRUE(Eventually([&] {
    json d = sim.Control("GET", "/_sim/instances")["instances"][1]["emulation"];
    return d["services"][0]["join_attempts"].get<int>() >= 2;
  }));
  EXPECT_EQ(ConnectedNodes(gw, 7000), json::array());
  EXPECT_FALSE(std::filesystem::exists(ReadyMarker(sim, w)));
  const std::string w_url = "http://" + w["public_ip"].get<std::string>() + ":5000/";
  EXPECT_EQ(SimHttpCall("GET", w_url, "", 2000).status, 0);  // never started serving
}

TEST(GenesisEmulationTest, StopTakesServicesDownAndStartBringsThemBack) {
  SimProcess sim({"--boot-seconds", "0.2", "--no-sshd"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  const json gw = CreateActive(sim, "gw", UserData(NetworkService(7000)));
  const std::string id = gw["id"];
  const std::string url = "http://" + gw["public_ip"].get<std::string>() + ":7000/";
  ASSERT_EQ(SimHttpCall("POST", url + "join", R"({"node-id":"n","node-address":"a"})", 3000).status,
            200);
  ASSERT_EQ(Api(sim, "POST", "/instances/" + id + "/actions", {{"action", "stop"}}).status, 204);
  ASSERT_TRUE(Eventually([&] { return SimHttpCall("GET", url, "", 1000).status == 0; }));
  EXPECT_FALSE(std::filesystem::exists(ReadyMarker(sim, gw)));
  ASSERT_TRUE(Eventually(
      [&] { return Api(sim, "GET", "/instances/" + id).body["instance"]["status"] == "shutoff"; }));
  ASSERT_EQ(Api(sim, "POST", "/instances/" + id + "/actions", {{"action", "start"}}).status, 204);
  ASSERT_TRUE(Eventually([&] { return SimHttpCall("GET", url, "", 1000).status == 200; }));
  EXPECT_EQ(ConnectedNodes(gw, 7000), json({"n"}));  // the database volume survived
  sim.Control("POST", "/_sim/instances/" + id + "/error");
  EXPECT_TRUE(Eventually([&] { return SimHttpCall("GET", url, "", 1000).status == 0; }));
}

TEST(GenesisEmulationTest, SshdAdmitsTheAuthorizedKeyWithThePinnedHostKey) {
  if (access("/usr/sbin/sshd", X_OK) != 0 || access("/usr/bin/ssh", X_OK) != 0 ||
      access("/usr/bin/ssh-keygen", X_OK) != 0) {
    GTEST_SKIP() << "no sshd/ssh/ssh-keygen";
  }
  const testing::TempDir tmp;
  const std::string dir = tmp.path();
  ASSERT_EQ(std::system(("ssh-keygen -q -t ed25519 -N '' -C host -f " + dir +
                         "/host && "
                         "ssh-keygen -q -t ed25519 -N '' -C op -f " +
                         dir + "/op")
                            .c_str()),
            0);
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  };
  const int ssh_port = 20000 + static_cast<int>(getpid() % 20000);
  SimProcess sim({"--boot-seconds", "0.1", "--ssh-port", std::to_string(ssh_port)});
  ASSERT_TRUE(sim.ok()) << sim.error();
  const json inst = CreateActive(sim, "gw",
                                 UserData(NetworkService(7000), slurp(dir + "/host"),
                                          slurp(dir + "/host.pub"), slurp(dir + "/op.pub")));
  const std::string ip = inst["public_ip"];
  ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(ReadyMarker(sim, inst)); }));
  {
    std::ofstream known(dir + "/known_hosts");
    known << "[" << ip << "]:" << ssh_port << " " << slurp(dir + "/host.pub") << "\n";
  }
  const std::string user =
      sim.Control("GET", "/_sim/instances")["instances"][0]["emulation"]["sshd"]["user"];
  const std::string ssh = "ssh -i " + dir +
                          "/op -o BatchMode=yes -o StrictHostKeyChecking=yes "
                          "-o UserKnownHostsFile=" +
                          dir + "/known_hosts -o ConnectTimeout=5 -p " + std::to_string(ssh_port) +
                          " " + user + "@" + ip + " ";
  // The probe's command: the marker under PYGRID_INSTANCE_ROOT (set by sshd's SetEnv).
  const std::string probe =
      ssh + "'test -f \"${PYGRID_INSTANCE_ROOT:-}/var/lib/pygrid/ready\"' 2>" + dir + "/err";
  EXPECT_TRUE(Eventually([&] { return std::system(probe.c_str()) == 0; }, 30))
      << slurp(dir + "/err");
  // A host key other than the pinned one is refused.
  {
    std::ofstream known(dir + "/known_hosts");
    known << "[" << ip << "]:" << ssh_port << " " << slurp(dir + "/op.pub") << "\n";
  }
  EXPECT_NE(std::system(probe.c_str()), 0);
}

}  // namespace
}  // namespace pygrid::sim::genesis
