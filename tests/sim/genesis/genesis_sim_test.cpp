// Simulator rule tests: raw HTTP against a running genesis-sim, asserting the documented
// envelopes, required fields (SPEC23), status codes, validation, life cycle and control API.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <set>
#include <thread>

#include "sim_http.h"
#include "sim_process.h"

namespace pygrid::sim::genesis {
namespace {

using nlohmann::json;

// Required properties per the official schema (SPEC23 components.schemas).
const std::vector<std::string> kInstanceRequired = {"id",
                                                    "name",
                                                    "hostname",
                                                    "type",
                                                    "public_ip",
                                                    "public_ip_type",
                                                    "private_ip",
                                                    "status",
                                                    "ssh_keys",
                                                    "image",
                                                    "security_groups",
                                                    "volumes",
                                                    "region",
                                                    "placement_option",
                                                    "created_at",
                                                    "updated_at"};
const std::vector<std::string> kImageRequired = {"id", "name", "type", "regions", "created_at"};
const std::vector<std::string> kSshKeyRequired = {"id",   "name", "value",     "fingerprint",
                                                  "type", "size", "created_at"};
const std::vector<std::string> kSecurityGroupRequired = {"id",     "name",  "description", "region",
                                                         "status", "rules", "created_at"};
const std::vector<std::string> kRuleRequired = {"protocol", "direction"};
const std::vector<std::string> kListRequired = {"total_count", "page", "per_page"};
const std::vector<std::string> kErrorRequired = {"code", "message"};

void ExpectFields(const json& j, const std::vector<std::string>& fields, const std::string& what) {
  ASSERT_TRUE(j.is_object()) << what << ": " << j.dump();
  for (const std::string& f : fields) EXPECT_TRUE(j.contains(f)) << what << " lacks " << f;
}

void ExpectError(const ApiResult& r, int status, const std::string& code = "") {
  EXPECT_EQ(r.status, status) << r.raw;
  ExpectFields(r.body, kErrorRequired, "error body");
  if (!code.empty()) {
    EXPECT_EQ(r.body.value("code", ""), code) << r.raw;
  }
}

const char kEd25519[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHLroQ0sF9jysvVnoOOSpXRBcBV09/46+OGV9QwgcSv3 test@sim";

std::string ImageId(const SimProcess& sim, const std::string& slug) {
  return ImageIdBySlug(sim, slug);
}

json CreateBody(const SimProcess& sim, const std::string& name) {
  return {{"name", name},
          {"hostname", name},
          {"type", "vcpu-2_memory-4g_disk-80g"},
          {"image", ImageId(sim, "ubuntu-22.04")}};
}

// Waits for `status` (deadline 20 s; a loaded CI machine is slow).
json WaitStatus(const SimProcess& sim, const std::string& id, const std::string& status) {
  json last = PollInstanceStatus(sim, id, status);
  if (last.value("status", "") != status) {
    ADD_FAILURE() << "instance " << id << " never reached " << status << "; last " << last.dump();
  }
  return last;
}

TEST(GenesisSimTest, WritesUrlEndingInComputeV1AndStopsOnSigterm) {
  SimProcess sim;
  ASSERT_TRUE(sim.ok()) << sim.error();
  EXPECT_EQ(sim.base_url().rfind("/compute/v1"), sim.base_url().size() - 11);
  const int status = sim.Terminate();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(GenesisSimTest, RejectsMissingOrWrongTokenAndAcceptsBothHeaders) {
  SimProcess sim;
  ASSERT_TRUE(sim.ok()) << sim.error();
  ExpectError(Api(sim, "GET", "/instances", nullptr, {}), 401);
  ExpectError(Api(sim, "GET", "/instances", nullptr, {{"Authorization", "Bearer nope"}}), 401);
  EXPECT_EQ(Api(sim, "GET", "/instances", nullptr, {{"X-Auth-Token", kTestToken}}).status, 200);
  EXPECT_EQ(Api(sim, "GET", "/instances").status, 200);
  ExpectError(Api(sim, "GET", "/nothing-here"), 404, "02001");
}

TEST(GenesisSimTest, EveryResponseCarriesTheSchemaRequiredFields) {
  SimProcess sim;
  ASSERT_TRUE(sim.ok()) << sim.error();
  ApiResult images = Api(sim, "GET", "/images");
  ASSERT_EQ(images.status, 200);
  ExpectFields(images.body, kListRequired, "images list");
  ASSERT_GE(images.body["images"].size(), 4u);
  for (const json& im : images.body["images"]) ExpectFields(im, kImageRequired, "image");

  ApiResult key = Api(sim, "POST", "/ssh-keys", {{"name", "me"}, {"value", kEd25519}});
  ASSERT_EQ(key.status, 201) << key.raw;
  ExpectFields(key.body, kSshKeyRequired, "ssh key (bare)");
  EXPECT_EQ(key.body["type"], "ed25519");
  EXPECT_EQ(key.body["size"], 256);
  EXPECT_EQ(key.body["fingerprint"].get<std::string>().size(), 47u);  // 16 hex pairs
  ExpectFields(Api(sim, "GET", "/ssh-keys/" + key.body["id"].get<std::string>()).body,
               kSshKeyRequired, "ssh key get");
  ApiResult keys = Api(sim, "GET", "/ssh-keys");
  ExpectFields(keys.body, kListRequired, "ssh key list");
  ExpectFields(keys.body["ssh_keys"][0], kSshKeyRequired, "ssh key list item");

  json body = CreateBody(sim, "req");
  body["ssh_keys"] = {key.body["id"]};
  ApiResult created = Api(sim, "POST", "/instances", body);
  ASSERT_EQ(created.status, 201) << created.raw;
  ExpectFields(created.body["instance"], kInstanceRequired, "created instance");
  ApiResult list = Api(sim, "GET", "/instances");
  ExpectFields(list.body, kListRequired, "instance list");
  ExpectFields(list.body["instances"][0], kInstanceRequired, "listed instance");

  json rules = json::array({{{"protocol", "tcp"},
                             {"direction", "ingress"},
                             {"port_range_min", 22},
                             {"port_range_max", 22}}});
  ApiResult group = Api(sim, "POST", "/security-groups", {{"name", "pygrid"}, {"rules", rules}});
  ASSERT_EQ(group.status, 201) << group.raw;
  ExpectFields(group.body["security_group"], kSecurityGroupRequired, "created group");
  ApiResult groups = Api(sim, "GET", "/security-groups");
  ExpectFields(groups.body, kListRequired, "group list");
  for (const json& g : groups.body["security_groups"]) {
    ExpectFields(g, kSecurityGroupRequired, "listed group");
    for (const json& r : g["rules"]) ExpectFields(r, kRuleRequired, "rule");
  }
}

TEST(GenesisSimTest, PagingFollowsTheDocumentedParameters) {
  SimProcess sim;
  ASSERT_TRUE(sim.ok()) << sim.error();
  for (int i = 0; i < 60; ++i) {
    ASSERT_EQ(
        Api(sim, "POST", "/ssh-keys", {{"name", "k" + std::to_string(i)}, {"value", kEd25519}})
            .status,
        201);
  }
  ApiResult first = Api(sim, "GET", "/ssh-keys");  // defaults: page 1, per_page 50
  EXPECT_EQ(first.body["ssh_keys"].size(), 50u);
  EXPECT_EQ(first.body["total_count"], 60);
  EXPECT_EQ(first.body["per_page"], 50);
  ApiResult second = Api(sim, "GET", "/ssh-keys?page=2&per_page=50");
  EXPECT_EQ(second.body["ssh_keys"].size(), 10u);
  EXPECT_EQ(second.body["page"], 2);
  EXPECT_EQ(Api(sim, "GET", "/ssh-keys?page=9&per_page=50").body["ssh_keys"].size(), 0u);
  EXPECT_EQ(Api(sim, "GET", "/ssh-keys?per_page=100").body["ssh_keys"].size(), 60u);
  ExpectError(Api(sim, "GET", "/ssh-keys?per_page=101"), 400);
  ExpectError(Api(sim, "GET", "/ssh-keys?page=0"), 400);
}

TEST(GenesisSimTest, CreateInstanceValidation) {
  SimProcess sim;
  ASSERT_TRUE(sim.ok()) << sim.error();
  for (const char* field : {"name", "hostname", "type", "image"}) {
    json body = CreateBody(sim, "v");
    body.erase(field);
    ExpectError(Api(sim, "POST", "/instances", body), 400);
  }
  json unknown_type = CreateBody(sim, "v");
  unknown_type["type"] = "vcpu-999_memory-1g";
  ExpectError(Api(sim, "POST", "/instances", unknown_type), 400);

  ApiResult key = Api(sim, "POST", "/ssh-keys", {{"name", "me"}, {"value", kEd25519}});
  json both = CreateBody(sim, "v");
  both["ssh_keys"] = {key.body["id"]};
  both["password"] = "Secret123";
  ExpectError(Api(sim, "POST", "/instances", both), 400);

  json mismatch = CreateBody(sim, "v");
  mismatch["image"] = ImageId(sim, "ubuntu-ml-nvidia-pytorch");
  ExpectError(Api(sim, "POST", "/instances", mismatch), 400, "02035");
  mismatch["type"] = "vcpu-4_memory-12g_disk-80g_nvidia1080ti-1";
  EXPECT_EQ(Api(sim, "POST", "/instances", mismatch).status, 201);

  json big = CreateBody(sim, "v");
  big["metadata"] = {{"startup_script", std::string(64 * 1024 + 1, '#')}};
  ExpectError(Api(sim, "POST", "/instances", big), 400);
  big["metadata"] = {{"startup_script", std::string(64 * 1024, '#')}};
  EXPECT_EQ(Api(sim, "POST", "/instances", big).status, 201);

  json no_region = CreateBody(sim, "v");
  ApiResult ok = Api(sim, "POST", "/instances", no_region);
  ASSERT_EQ(ok.status, 201);
  EXPECT_EQ(ok.body["instance"]["region"], "ARC-IS-HAF-1");
  EXPECT_EQ(ok.body["instance"]["security_groups"][0]["name"], "standard");
  ExpectError(Api(sim, "GET", "/instances/does-not-exist"), 404);
}

TEST(GenesisSimTest, InstanceLifeCycle) {
  SimProcess sim({"--boot-seconds", "0.5"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  ApiResult created = Api(sim, "POST", "/instances", CreateBody(sim, "life"));
  ASSERT_EQ(created.status, 201);
  const json& fresh = created.body["instance"];
  EXPECT_EQ(fresh["status"], "enqueued");
  EXPECT_TRUE(fresh["public_ip"].is_null());
  EXPECT_TRUE(fresh["private_ip"].is_null());
  EXPECT_TRUE(fresh["updated_at"].is_null());
  const std::string id = fresh["id"];

  json active = WaitStatus(sim, id, "active");
  EXPECT_TRUE(active["public_ip"].is_string());
  EXPECT_TRUE(active["private_ip"].is_string());
  EXPECT_NE(active["public_ip"], active["private_ip"]);
  EXPECT_TRUE(active["updated_at"].is_string());
  EXPECT_EQ(Api(sim, "GET", "/instances/" + id + "/actions").body["actions"],
            json::array({"stop", "reset"}));

  ExpectError(Api(sim, "POST", "/instances/" + id + "/actions", {{"action", "start"}}), 409);
  ExpectError(Api(sim, "POST", "/instances/" + id + "/actions", {{"action", "dance"}}), 400);
  ApiResult stop = Api(sim, "POST", "/instances/" + id + "/actions", {{"action", "stop"}});
  EXPECT_EQ(stop.status, 204);
  EXPECT_TRUE(stop.raw.empty());
  EXPECT_EQ(Api(sim, "GET", "/instances/" + id).body["instance"]["status"], "stopping");
  WaitStatus(sim, id, "shutoff");
  EXPECT_EQ(Api(sim, "POST", "/instances/" + id + "/actions", {{"action", "start"}}).status, 204);
  EXPECT_EQ(Api(sim, "GET", "/instances/" + id).body["instance"]["status"], "starting");
  WaitStatus(sim, id, "active");

  ApiResult patched = Api(sim, "PATCH", "/instances/" + id, {{"name", "renamed"}});
  EXPECT_EQ(patched.status, 200);
  EXPECT_EQ(patched.body["instance"]["name"], "renamed");

  ApiResult del = Api(sim, "DELETE", "/instances/" + id);
  EXPECT_EQ(del.status, 204);
  EXPECT_EQ(Api(sim, "GET", "/instances/" + id).body["instance"]["status"], "deleting");
  WaitStatus(sim, id, "gone");
}

TEST(GenesisSimTest, SecurityGroupsAreAsynchronousAndReserveNames) {
  SimProcess sim({"--security-group-seconds", "0.3"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  ApiResult list = Api(sim, "GET", "/security-groups");
  ASSERT_EQ(list.body["security_groups"].size(), 1u);
  EXPECT_EQ(list.body["security_groups"][0]["name"], "standard");
  EXPECT_EQ(list.body["security_groups"][0]["status"], "created");

  json rules = json::array({{{"protocol", "tcp"},
                             {"direction", "ingress"},
                             {"port_range_min", 5000},
                             {"port_range_max", 5001}}});
  for (const char* reserved : {"standard", "default"}) {
    ExpectError(Api(sim, "POST", "/security-groups", {{"name", reserved}, {"rules", rules}}), 400);
  }
  ExpectError(Api(sim, "POST", "/security-groups", {{"name", "x"}, {"rules", json::array()}}), 400);
  ExpectError(Api(sim, "POST", "/security-groups",
                  {{"name", "x"}, {"rules", {{{"protocol", "sctp"}, {"direction", "ingress"}}}}}),
              400);
  ApiResult created = Api(sim, "POST", "/security-groups", {{"name", "pygrid"}, {"rules", rules}});
  ASSERT_EQ(created.status, 201);
  EXPECT_EQ(created.body["security_group"]["status"], "creating");
  EXPECT_EQ(created.body["security_group"]["region"], "ARC-IS-HAF-1");
  const std::string id = created.body["security_group"]["id"];
  std::string status;
  testing::Eventually(
      [&] {
        status = Api(sim, "GET", "/security-groups/" + id).body["security_group"]["status"];
        return status == "created";
      },
      std::chrono::seconds(20), std::chrono::milliseconds(25));
  EXPECT_EQ(status, "created");
  ApiResult updated =
      Api(sim, "PUT", "/security-groups/" + id, {{"name", "pygrid"}, {"rules", rules}});
  EXPECT_EQ(updated.status, 200);
  EXPECT_EQ(updated.body["security_group"]["status"], "updating");
  EXPECT_EQ(Api(sim, "DELETE", "/security-groups/" + id).status, 204);
  // A group on its way out takes no new instance (undocumented; the simulator's choice).
  json into_deleting = CreateBody(sim, "late");
  into_deleting["security_groups"] = {id};
  ExpectError(Api(sim, "POST", "/instances", into_deleting), 400);
  int code = 200;
  testing::Eventually(
      [&] {
        code = Api(sim, "GET", "/security-groups/" + id).status;
        return code == 404;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(25));
  EXPECT_EQ(code, 404);
}

TEST(GenesisSimTest, ControlApiInjectsFaultsAndRecordsRequests) {
  SimProcess sim;
  ASSERT_TRUE(sim.ok()) << sim.error();
  ASSERT_FALSE(sim.Control("POST", "/_sim/faults",
                           {{"method", "GET"},
                            {"path", "^/compute/v1/images"},
                            {"status", 429},
                            {"count", 2},
                            {"retry_after", 7}})
                   .is_null());
  SimClientResult limited = SimHttpCall("GET", sim.base_url() + "/images", "", 5000);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(Api(sim, "GET", "/images").status, 429);
  EXPECT_EQ(Api(sim, "GET", "/images").status, 200);
  EXPECT_EQ(Api(sim, "GET", "/instances").status, 200);

  json log = sim.Control("GET", "/_sim/requests")["requests"];
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0]["status"], 429);
  EXPECT_EQ(log[2]["status"], 200);
  EXPECT_EQ(log[3]["path"], "/compute/v1/instances");
  EXPECT_TRUE(log[0].contains("time"));

  // Lost response: the create happens, the client sees the connection close.
  sim.Control("POST", "/_sim/lose-next-create", {{"count", 1}});
  ApiResult lost = Api(sim, "POST", "/instances", CreateBody(sim, "lost"));
  EXPECT_EQ(lost.status, 0);
  EXPECT_EQ(Api(sim, "GET", "/instances").body["total_count"], 1);

  // Quota: creates beyond it fail with the quota error.
  sim.Control("POST", "/_sim/quota", {{"instances", 1}});
  ApiResult over = Api(sim, "POST", "/instances", CreateBody(sim, "over"));
  ExpectError(over, 403, "02070");
  EXPECT_NE(over.body["message"].get<std::string>().find("quota"), std::string::npos);

  // An instance that dies, then one deleted out of band.
  const std::string id = Api(sim, "GET", "/instances").body["instances"][0]["id"];
  WaitStatus(sim, id, "active");
  sim.Control("POST", "/_sim/instances/" + id + "/error");
  EXPECT_EQ(Api(sim, "GET", "/instances/" + id).body["instance"]["status"], "error");
  json described = sim.Control("GET", "/_sim/instances");
  ASSERT_EQ(described["instances"].size(), 1u);
  EXPECT_TRUE(described["instances"][0].contains("emulation"));
  sim.Control("DELETE", "/_sim/instances/" + id);
  EXPECT_EQ(Api(sim, "GET", "/instances/" + id).status, 404);

  sim.Control("POST", "/_sim/reset");
  EXPECT_EQ(sim.Control("GET", "/_sim/requests")["requests"].size(), 0u);
  EXPECT_EQ(Api(sim, "GET", "/security-groups").body["total_count"], 1);
}

TEST(GenesisSimTest, DeterministicGivenSeed) {
  auto ids = [](const std::string& seed) {
    SimProcess sim({"--seed", seed});
    EXPECT_TRUE(sim.ok()) << sim.error();
    std::vector<std::string> out;
    const ApiResult images = Api(sim, "GET", "/images");
    for (const json& im : images.body["images"]) out.push_back(im["id"]);
    out.push_back(Api(sim, "POST", "/instances", CreateBody(sim, "d")).body["instance"]["id"]);
    return out;
  };
  EXPECT_EQ(ids("7"), ids("7"));
  EXPECT_NE(ids("7"), ids("8"));
}

TEST(GenesisSimTest, HandlesConcurrentClients) {
  SimProcess sim;
  ASSERT_TRUE(sim.ok()) << sim.error();
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        ApiResult r =
            Api(sim, "POST", "/ssh-keys",
                {{"name", "k" + std::to_string(t) + "-" + std::to_string(i)}, {"value", kEd25519}});
        if (r.status == 201) ++created;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(created.load(), 80);
  ApiResult all = Api(sim, "GET", "/ssh-keys?per_page=100");
  EXPECT_EQ(all.body["total_count"], 80);
  std::set<std::string> unique;
  for (const json& k : all.body["ssh_keys"]) unique.insert(k["id"].get<std::string>());
  EXPECT_EQ(unique.size(), 80u);
}

}  // namespace
}  // namespace pygrid::sim::genesis
