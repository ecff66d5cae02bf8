// Contract tests: the real Genesis client (cpprestsdk transport) against a running
// genesis-sim, for every client operation and the failure rules that need a server.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "cloud/genesis/genesis_client.h"
#include "sim_process.h"

namespace pygrid::sim::genesis {
namespace {

using cloud::CreateInstanceRequest;
using cloud::Instance;
using cloud::SecurityGroup;
using cloud::SecurityRule;
using cloud::genesis::GenesisOptions;
using cloud::genesis::MakeGenesisClient;
using nlohmann::json;

const char kKey[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHLroQ0sF9jysvVnoOOSpXRBcBV09/46+OGV9QwgcSv3 test@sim";

std::unique_ptr<cloud::genesis::GenesisClient> Client(
    const SimProcess& sim, std::vector<cloud::RequestRecord>* records = nullptr) {
  GenesisOptions o;
  o.base_url = sim.base_url();
  o.token = kTestToken;
  o.requests_per_second = 1000;  // the sim does not limit unless told to
  o.burst = 1000;
  o.request_timeout = std::chrono::seconds(10);
  o.backoff.initial = std::chrono::milliseconds(10);
  o.backoff.max = std::chrono::milliseconds(50);
  o.jitter_seed = 1;
  if (records != nullptr) {
    auto mu = std::make_shared<std::mutex>();
    o.hook = [records, mu](const cloud::RequestRecord& r) {
      std::lock_guard<std::mutex> lock(*mu);
      records->push_back(r);
    };
  }
  return MakeGenesisClient(o);
}

int CountRequests(const SimProcess& sim, const std::string& method, const std::string& path) {
  int n = 0;
  const json log = sim.Control("GET", "/_sim/requests");
  if (std::getenv("GENESIS_DEBUG")) std::cerr << log.dump() << "\n";
  for (const json& e : log["requests"]) {
    if (e["method"] == method && e["path"] == path) ++n;
  }
  return n;
}

TEST(GenesisContractTest, EveryOperationAgainstTheSimulator) {
  SimProcess sim({"--boot-seconds", "0.3", "--security-group-seconds", "0.2"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  std::vector<cloud::RequestRecord> records;
  auto client = Client(sim, &records);

  auto key = client->CreateSshKey("operator", kKey);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  auto keys = client->FindSshKeysByName({"operator"});
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ((*keys)[0].id, key->id);
  EXPECT_TRUE(client->FindSshKeysByName({"nobody"}).status().IsNotFound());

  std::vector<SecurityRule> rules = {{"tcp", "ingress", 22, 22}, {"all", "egress", {}, {}}};
  auto group = client->CreateSecurityGroup("pygrid", "PyGrid grid", "", rules);
  ASSERT_TRUE(group.ok()) << group.status().ToString();
  EXPECT_EQ(group->status, "creating") << "SPEC23/TF25: creation is asynchronous";
  auto await_created = [&](const std::string& id) {
    StatusOr<SecurityGroup> got = client->GetSecurityGroup(id);
    auto settled = [&] { return !got.ok() || got->status == "created"; };
    Eventually([&] {
      if (!settled()) got = client->GetSecurityGroup(id);
      return settled();
    });
    return got;
  };
  ASSERT_EQ(await_created(group->id)->status, "created");
  auto listed = client->ListSecurityGroups();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(std::count_if(listed->begin(), listed->end(),
                          [&](const SecurityGroup& g) { return g.id == group->id; }),
            1);
  EXPECT_TRUE(client->CreateSecurityGroup("pygrid", "PyGrid grid", "", rules).status().IsConflict())
      << "the simulator refuses a second group with one name";
  rules.push_back({"tcp", "ingress", 5000, 5000});
  auto updated = client->UpdateSecurityGroup(group->id, "pygrid", "PyGrid grid", rules);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  auto applied = await_created(group->id);
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied->rules.size(), 3u);
  EXPECT_EQ(CountRequests(sim, "PUT", "/compute/v1/security-groups/" + group->id), 1);
  EXPECT_TRUE(client->CreateSecurityGroup("default", "", "", rules).status().IsInvalid());

  auto image = client->FindImage("Ubuntu 22.04");
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(client->FindImage("ubuntu-22.04")->id, image->id);

  CreateInstanceRequest req;
  req.name = "c1-gateway";
  req.type = "vcpu-2_memory-4g_disk-80g";
  req.image = image->id;
  req.ssh_key_ids = {key->id};
  req.security_group_ids = {group->id};
  req.startup_script = "#cloud-config\n";
  auto created = client->CreateInstance(req);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->status, "enqueued");
  EXPECT_FALSE(created->public_ip.has_value());
  EXPECT_FALSE(created->updated_at.has_value());

  Instance active;
  ASSERT_TRUE(Eventually([&] {
    auto got = client->GetInstance(created->id);
    if (got.ok()) active = *got;
    return got.ok() && got->status == "active";
  }));
  EXPECT_TRUE(active.public_ip.has_value());
  EXPECT_TRUE(active.private_ip.has_value());
  EXPECT_EQ(active.ssh_keys[0].id, key->id);
  EXPECT_EQ(active.security_groups[0].id, group->id);

  auto found = client->FindInstanceByName("c1-gateway");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, created->id);
  EXPECT_EQ(client->ListInstanceActions(created->id)->size(), 2u);

  ASSERT_TRUE(client->StopInstance(created->id).ok());
  ASSERT_TRUE(Eventually([&] { return client->GetInstance(created->id)->status == "shutoff"; }));
  EXPECT_TRUE(client->StopInstance(created->id).IsConflict());
  ASSERT_TRUE(client->StartInstance(created->id).ok());
  ASSERT_TRUE(Eventually([&] { return client->GetInstance(created->id)->status == "active"; }));

  EXPECT_TRUE(client->DeleteSecurityGroup(group->id).IsConflict());  // still in use
  ASSERT_TRUE(client->DeleteInstance(created->id).ok());
  ASSERT_TRUE(Eventually([&] { return client->GetInstance(created->id).status().IsNotFound(); }));
  EXPECT_TRUE(client->ListInstances()->empty());
  EXPECT_TRUE(client->DeleteSecurityGroup(group->id).ok());
  EXPECT_TRUE(client->DeleteSshKey(key->id).ok());
  EXPECT_TRUE(client->DeleteSshKey(key->id).IsNotFound());

  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front().operation, "CreateSshKey");
  EXPECT_EQ(records.front().status, 201);
}

TEST(GenesisContractTest, ListsEveryPage) {
  SimProcess sim;
  ASSERT_TRUE(sim.ok()) << sim.error();
  auto client = Client(sim);
  auto image = client->FindImage("ubuntu-20.04");
  ASSERT_TRUE(image.ok());
  for (int i = 0; i < 105; ++i) {
    CreateInstanceRequest req{
        "n" + std::to_string(i), "", "vcpu-2_memory-4g_disk-80g", image->id, {}, {}, "", ""};
    ASSERT_TRUE(client->CreateInstance(req).ok());
  }
  sim.Control("DELETE", "/_sim/requests");
  auto all = client->ListInstances();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 105u);
  json log = sim.Control("GET", "/_sim/requests")["requests"];
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0]["query"]["per_page"], "100");
  EXPECT_EQ(log[1]["query"]["page"], "2");
}

TEST(GenesisContractTest, RetriesInjectedServerErrorsAndHonoursRetryAfter) {
  SimProcess sim;
  ASSERT_TRUE(sim.ok()) << sim.error();
  auto client = Client(sim);
  sim.Control(
      "POST", "/_sim/faults",
      {{"method", "GET"}, {"path", "^/compute/v1/instances$"}, {"status", 503}, {"count", 2}});
  ASSERT_TRUE(client->ListInstances().ok());
  EXPECT_EQ(CountRequests(sim, "GET", "/compute/v1/instances"), 3);

  sim.Control("POST", "/_sim/faults",
              {{"method", "GET"},
               {"path", "^/compute/v1/images$"},
               {"status", 429},
               {"count", 1},
               {"retry_after", 1}});
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(client->ListImages().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  EXPECT_EQ(CountRequests(sim, "GET", "/compute/v1/images"), 2);
}

TEST(GenesisContractTest, LostCreateIsAmbiguousAndResolvedByName) {
  SimProcess sim;
  ASSERT_TRUE(sim.ok()) << sim.error();
  auto client = Client(sim);
  auto image = client->FindImage("ubuntu-22.04");
  ASSERT_TRUE(image.ok());
  sim.Control("POST", "/_sim/lose-next-create", {{"count", 1}});
  CreateInstanceRequest req{
      "c1-worker-0", "", "vcpu-2_memory-4g_disk-80g", image->id, {}, {}, "", ""};
  auto created = client->CreateInstance(req);
  ASSERT_FALSE(created.ok());
  EXPECT_TRUE(cloud::IsAmbiguousCreateFailure(created.status())) << created.status().ToString();
  EXPECT_EQ(CountRequests(sim, "POST", "/compute/v1/instances"), 1);  // not retried
  auto found = client->FindInstanceByName("c1-worker-0");
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value());

  sim.Control("POST", "/_sim/faults",
              {{"method", "POST"}, {"path", "^/compute/v1/instances$"}, {"status", 502}});
  EXPECT_TRUE(cloud::IsAmbiguousCreateFailure(client->CreateInstance(req).status()));
  EXPECT_EQ(CountRequests(sim, "POST", "/compute/v1/instances"), 2);
}

TEST(GenesisContractTest, CreateTimeoutIsAmbiguousAndNotRetried) {
  SimProcess sim;
  ASSERT_TRUE(sim.ok()) << sim.error();
  GenesisOptions o;
  o.base_url = sim.base_url();
  o.token = kTestToken;
  o.request_timeout = std::chrono::milliseconds(300);
  auto client = MakeGenesisClient(o);
  auto image = client->FindImage("ubuntu-22.04");
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  sim.Control("POST", "/_sim/faults",
              {{"method", "POST"}, {"path", "^/compute/v1/instances$"}, {"delay_ms", 1500}});
  CreateInstanceRequest req{"slow-0", "", "vcpu-2_memory-4g_disk-80g", image->id, {}, {}, "", ""};
  auto created = client->CreateInstance(req);
  ASSERT_TRUE(created.status().IsTimeout()) << created.status().ToString();
  EXPECT_TRUE(cloud::IsAmbiguousCreateFailure(created.status()));
  // The simulator still performs the create once its delay is over: resolve by name.
  EXPECT_TRUE(Eventually([&] {
    auto found = client->FindInstanceByName("slow-0");
    return found.ok() && found->has_value();
  }));
  EXPECT_EQ(CountRequests(sim, "POST", "/compute/v1/instances"), 1);
}

TEST(GenesisContractTest, MapsSimulatorErrors) {
  SimProcess sim;
  ASSERT_TRUE(sim.ok()) << sim.error();
  auto client = Client(sim);
  auto ml = client->FindImage("ubuntu-ml-nvidia-pytorch");
  ASSERT_TRUE(ml.ok());
  CreateInstanceRequest req{"x", "", "vcpu-2_memory-4g_disk-80g", ml->id, {}, {}, "", ""};
  auto mismatch = client->CreateInstance(req);
  EXPECT_TRUE(mismatch.status().IsInvalid());
  EXPECT_EQ(mismatch.status().remote_code(), "02035");
  EXPECT_EQ(mismatch.status().http_status(), 400);

  sim.Control("POST", "/_sim/quota", {{"instances", 0}});
  req.type = "vcpu-4_memory-12g_disk-80g_nvidia1080ti-1";
  EXPECT_TRUE(client->CreateInstance(req).status().IsQuotaExceeded());
  EXPECT_TRUE(client->GetInstance("nope").status().IsNotFound());

  GenesisOptions bad;
  bad.base_url = sim.base_url();
  bad.token = "wrong-token";
  auto unauthorized = MakeGenesisClient(bad)->ListInstances();
  EXPECT_TRUE(unauthorized.status().IsUnauthorized());
  EXPECT_EQ(unauthorized.status().ToString().find("wrong-token"), std::string::npos);

  GenesisOptions legacy;
  legacy.base_url = sim.base_url();
  legacy.token = kTestToken;
  legacy.auth_header = cloud::genesis::AuthHeader::kXAuthToken;
  EXPECT_TRUE(MakeGenesisClient(legacy)->ListInstances().ok());

  GenesisOptions down;
  down.base_url = "http://127.0.0.1:1/compute/v1";
  down.token = kTestToken;
  down.max_attempts = 1;
  EXPECT_TRUE(MakeGenesisClient(down)->ListInstances().status().IsUnavailable());
}

}  // namespace
}  // namespace pygrid::sim::genesis
