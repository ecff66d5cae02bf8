#include "controller/sim_world.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "controller/instance_state.h"

namespace pygrid::controller::testing {

namespace {

// "      NODE_ID=value" in the rendered start.conf; "" when absent or empty.
std::string ConfValue(const std::string& user_data, const std::string& key) {
  const std::string needle = "\n      " + key + "=";
  size_t at = 0;
  std::string value;
  while ((at = user_data.find(needle, at)) != std::string::npos) {
    at += needle.size();
    const size_t end = user_data.find('\n', at);
    std::string candidate = user_data.substr(at, end - at);
    if (!candidate.empty() && candidate.front() != '"') value = candidate;
  }
  return value;
}

// The value of the first "key: value" line for `key` in a YAML document, unquoted.
std::string YamlValue(const std::string& yaml, const std::string& key) {
  const size_t at = yaml.find(key + ":");
  if (at == std::string::npos) return "";
  const size_t start = at + key.size() + 1;
  std::string value = yaml.substr(start, yaml.find('\n', start) - start);
  while (!value.empty() && (value.front() == ' ' || value.front() == '"' || value.front() == '\''))
    value.erase(value.begin());
  while (!value.empty() && (value.back() == ' ' || value.back() == '"' || value.back() == '\''))
    value.pop_back();
  return value;
}

std::string HostOf(const std::string& url) {
  std::string rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  return rest.substr(0, rest.find(':'));
}

// RFC 3339 with microseconds, as Genesis Cloud sends it, for the fake clock's wall time at
// `at`; `id` microseconds are added so stamps are unique and sort in creation order.
std::string Stamp(const Clock& clock, Clock::TimePoint at, int id) {
  const auto wall =
      clock.WallNow() +
      std::chrono::duration_cast<std::chrono::system_clock::duration>(at - clock.Now());
  const long long micros =
      std::chrono::duration_cast<std::chrono::microseconds>(wall.time_since_epoch()).count() + id;
  const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[64];
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(text, sizeof text, "%s.%06lldZ", date, micros % 1000000);
  return text;
}

}  // namespace

std::optional<CloudFault> SimCloud::Take(std::initializer_list<CloudFault> kinds) {
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (std::find(kinds.begin(), kinds.end(), *it) != kinds.end()) {
      CloudFault fault = *it;
      faults_.erase(it);
      return fault;
    }
  }
  return std::nullopt;
}

void SimCloud::MaybeCrash() {
  if (crash_after_ < 0) return;
  if (crash_after_ == 0) {
    crash_after_ = -1;
    throw SimulatedCrash{};
  }
  --crash_after_;
}

Status SimCloud::Begin(bool mutation) {
  MaybeCrash();
  Advance();
  ++calls_;
  ++seq_;
  if (outage_) return Status::Unavailable("503 Service Unavailable").WithHttpStatus(503);
  if (mutation) last_mutation_seq_ = seq_;
  if (auto fault = Take({CloudFault::kRateLimited, CloudFault::kUnauthorized})) {
    if (*fault == CloudFault::kRateLimited) {
      return Status::RateLimited("429 Too Many Requests")
          .WithHttpStatus(429)
          .WithRetryAfter(std::chrono::seconds(2));
    }
    return Status::Unauthorized("401 invalid token").WithHttpStatus(401);
  }
  return Status::Ok();
}

void SimCloud::Advance() {
  const Clock::TimePoint now = clock_.Now();
  for (SimInstance& sim : instances_) {
    if (sim.deleting) continue;
    if (sim.instance.status == "stopping" && now >= sim.stopped_at + delete_time) {
      sim.instance.status = "shutoff";
    }
    if (sim.instance.status == "starting" && now >= sim.started_at + boot_time / 2) {
      sim.instance.status = "active";  // addresses are kept across stop and start
      sim.active_since = sim.started_at + boot_time / 2;
    }
    if (sim.instance.status == "enqueued" && now >= sim.visible_at + boot_time) {
      sim.instance.status = "active";
      sim.active_since = sim.visible_at + boot_time;
      ++next_ip_;
      // Benchmarking addresses (RFC 2544): strings only, nothing is ever sent to them.
      const std::string host =
          std::to_string(next_ip_ / 250 % 250) + "." + std::to_string(next_ip_ % 250 + 1);
      sim.instance.public_ip = "198.18." + host;
      sim.instance.private_ip = "198.19." + host;
      private_ips_[sim.instance.name].insert(*sim.instance.private_ip);
    }
  }
  instances_.erase(
      std::remove_if(instances_.begin(), instances_.end(),
                     [&](const SimInstance& i) { return i.deleting && now >= i.gone_at; }),
      instances_.end());
  for (cloud::SecurityGroup& group : groups_) {
    if (group.status != "created" && now >= group_ready_at_[group.id]) group.status = "created";
  }
}

std::vector<const SimInstance*> SimCloud::Live(const std::string& prefix) const {
  std::vector<const SimInstance*> live;
  const Clock::TimePoint now = clock_.Now();
  for (const SimInstance& sim : instances_) {
    if (sim.deleting || now < sim.visible_at) continue;
    if (sim.instance.name.compare(0, prefix.size(), prefix) == 0) live.push_back(&sim);
  }
  return live;
}

bool SimCloud::DeleteOutOfBand(const std::string& id) {
  Advance();
  const size_t before = instances_.size();
  instances_.erase(std::remove_if(instances_.begin(), instances_.end(),
                                  [&](const SimInstance& i) { return i.instance.id == id; }),
                   instances_.end());
  return instances_.size() != before;
}

bool SimCloud::StopOutOfBand(const std::string& id) {
  Advance();
  for (SimInstance& sim : instances_) {
    if (sim.instance.id == id && !sim.deleting && sim.instance.status == "active") {
      sim.instance.status = "shutoff";
      return true;
    }
  }
  return false;
}

bool SimCloud::BreakStartUp(const std::string& id, SimInstance::Broken how) {
  for (SimInstance& sim : instances_) {
    if (sim.instance.id == id && !sim.deleting) {
      sim.broken = how;
      return true;
    }
  }
  return false;
}

bool SimCloud::FailOutOfBand(const std::string& id) {
  Advance();
  for (SimInstance& sim : instances_) {
    if (sim.instance.id == id && !sim.deleting) {
      sim.instance.status = "error";
      return true;
    }
  }
  return false;
}

StatusOr<std::vector<cloud::Instance>> SimCloud::ListInstances() {
  if (Status s = Begin(false); !s.ok()) return s;
  if (Take({CloudFault::kListUnavailable})) {
    return Status::Unavailable("503 Service Unavailable").WithHttpStatus(503);
  }
  std::vector<cloud::Instance> listed;
  const Clock::TimePoint now = clock_.Now();
  for (const SimInstance& sim : instances_) {
    if (now >= sim.visible_at) listed.push_back(sim.instance);
  }
  last_list_seq_ = own_list_seq_[process_] = seq_;
  return listed;
}

StatusOr<cloud::Instance> SimCloud::GetInstance(const std::string& id) {
  if (Status s = Begin(false); !s.ok()) return s;
  for (const SimInstance& sim : instances_) {
    if (sim.instance.id == id && clock_.Now() >= sim.visible_at) return sim.instance;
  }
  return Status::NotFound("instance " + id + " not found").WithHttpStatus(404);
}

int SimCloud::CreatesSent(const std::string& prefix) const {
  return static_cast<int>(std::count_if(
      creates_sent_.begin(), creates_sent_.end(),
      [&](const std::string& name) { return name.compare(0, prefix.size(), prefix) == 0; }));
}

StatusOr<cloud::Instance> SimCloud::CreateInstance(const cloud::CreateInstanceRequest& request) {
  if (own_list_seq_[process_] < round_start_mutation_seq_) ++unproven_creates_;
  if (Status s = Begin(true); !s.ok()) return s;
  creates_sent_.push_back(request.name);
  if (std::getenv("PYGRID_SIM_TRACE") != nullptr) {
    std::fprintf(stderr, "  [p%d] create %s\n", process_, request.name.c_str());
  }
  std::optional<CloudFault> fault =
      Take({CloudFault::kCreateUnavailable, CloudFault::kCreateQuota, CloudFault::kCreateLostAnswer,
            CloudFault::kCreateLandsLate});
  if (fault == CloudFault::kCreateUnavailable) {
    return Status::Unavailable("503 Service Unavailable").WithHttpStatus(503);
  }
  if (fault == CloudFault::kCreateQuota) {
    return Status::QuotaExceeded("instance quota exceeded").WithHttpStatus(403);
  }
  for (const std::string& id : request.security_group_ids) {
    auto group = std::find_if(groups_.begin(), groups_.end(),
                              [&](const cloud::SecurityGroup& g) { return g.id == id; });
    // genesis-sim's answer (the API documents none): 400 naming the unknown group.
    if (group == groups_.end()) {
      return Status::Invalid("unknown security group " + id)
          .WithHttpStatus(400)
          .WithRemoteCode("02002");
    }
    if (group->status != "created") ++creates_into_unready_groups_;
  }
  SimInstance sim;
  const Clock::TimePoint now = clock_.Now();
  sim.created = now;
  sim.visible_at = fault == CloudFault::kCreateLandsLate ? now + late_by : now;
  sim.instance.id = "i-" + std::to_string(++next_id_);
  sim.instance.name = request.name;
  sim.instance.hostname = request.hostname;
  sim.instance.type = request.type;
  sim.instance.image = {request.image, request.image};
  sim.instance.status = "enqueued";
  sim.instance.region = request.region;
  for (const std::string& group : request.security_group_ids)
    sim.instance.security_groups.push_back({group, group});
  sim.instance.created_at = Stamp(clock_, sim.visible_at, next_id_);
  sim.user_data = request.startup_script;
  sim.node_id = ConfValue(request.startup_script, "NODE_ID");
  sim.gateway_ip = HostOf(ConfValue(request.startup_script, "GATEWAY_URL"));
  sim.host_key = YamlValue(request.startup_script, "ed25519_public");
  instances_.push_back(sim);
  if (fault == CloudFault::kCreateLostAnswer || fault == CloudFault::kCreateLandsLate) Unanswered();
  if (fault == CloudFault::kCreateLostAnswer) {
    return Status::Unavailable("connection closed before the answer");
  }
  if (fault == CloudFault::kCreateLandsLate) {
    return Status::Timeout("no answer within the request timeout");
  }
  return sim.instance;
}

int SimCloud::DeletesSent(const std::string& id) const {
  auto it = deletes_sent_.find(id);
  return it == deletes_sent_.end() ? 0 : it->second;
}

Status SimCloud::DeleteInstance(const std::string& id) {
  if (Status s = Begin(true); !s.ok()) return s;
  ++deletes_sent_[id];
  if (std::getenv("PYGRID_SIM_TRACE") != nullptr) {
    std::fprintf(stderr, "  [p%d] delete %s\n", process_, id.c_str());
  }
  if (Take({CloudFault::kDeleteUnavailable})) {
    return Status::Unavailable("503 Service Unavailable").WithHttpStatus(503);
  }
  for (SimInstance& sim : instances_) {
    if (sim.instance.id != id || clock_.Now() < sim.visible_at) continue;
    if (!sim.deleting) {
      sim.deleting = true;
      sim.instance.status = "deleting";
      sim.gone_at = clock_.Now() + delete_time;
    }
    return Status::Ok();
  }
  return Status::NotFound("instance " + id + " not found").WithHttpStatus(404);
}

Status SimCloud::StartInstance(const std::string& id) {
  if (Status s = Begin(true); !s.ok()) return s;
  for (SimInstance& sim : instances_) {
    if (sim.instance.id != id) continue;
    if (sim.instance.status != "shutoff" && sim.instance.status != "stopped") {
      return Status::Conflict("instance " + id + " is " + sim.instance.status +
                              "; only a stopped instance can be started")
          .WithHttpStatus(409);
    }
    sim.instance.status = "starting";
    sim.started_at = clock_.Now();
    return Status::Ok();
  }
  return Status::NotFound("instance " + id + " not found").WithHttpStatus(404);
}

Status SimCloud::StopInstance(const std::string& id) {
  if (Status s = Begin(true); !s.ok()) return s;
  for (SimInstance& sim : instances_) {
    if (sim.instance.id != id) continue;
    // TF25 instance_status_resource.go: stop is allowed from active, starting or error.
    if (sim.instance.status != "active" && sim.instance.status != "starting" &&
        sim.instance.status != "error") {
      return Status::Conflict("instance " + id + " is " + sim.instance.status +
                              "; it cannot be stopped now")
          .WithHttpStatus(409);
    }
    sim.instance.status = "stopping";
    sim.stopped_at = clock_.Now();
    return Status::Ok();
  }
  return Status::NotFound("instance " + id + " not found").WithHttpStatus(404);
}

StatusOr<std::vector<cloud::Image>> SimCloud::ListImages() {
  if (Status s = Begin(false); !s.ok()) return s;
  return std::vector<cloud::Image>{
      {"img-ubuntu-2204", "Ubuntu 22.04", "base-os", std::string("ubuntu-22.04"), {}, ""},
      {"img-ubuntu-2004", "Ubuntu 20.04", "base-os", std::string("ubuntu-20.04"), {}, ""}};
}

StatusOr<std::vector<cloud::SshKey>> SimCloud::ListSshKeys() {
  if (Status s = Begin(false); !s.ok()) return s;
  return std::vector<cloud::SshKey>{};
}

cloud::SecurityGroup SimCloud::AddForeignGroup(const std::string& name,
                                               const std::vector<cloud::SecurityRule>& rules) {
  cloud::SecurityGroup group{
      "sg-" + std::to_string(++next_id_),   name, "a team's group", "", "created", rules,
      Stamp(clock_, clock_.Now(), next_id_)};
  groups_.push_back(group);
  return group;
}

StatusOr<cloud::SecurityGroup> SimCloud::CreateSecurityGroup(
    const std::string& name, const std::string& description, const std::string& region,
    const std::vector<cloud::SecurityRule>& rules) {
  if (Status s = Begin(true); !s.ok()) return s;
  for (const cloud::SecurityGroup& group : groups_) {
    // genesis-sim: a second group with one name is 409 (the API documents nothing).
    if (group.name == name) {
      return Status::Conflict("a security group named " + name + " exists").WithHttpStatus(409);
    }
  }
  cloud::SecurityGroup group{
      "sg-" + std::to_string(++next_id_),   name, description, region, "creating", rules,
      Stamp(clock_, clock_.Now(), next_id_)};
  group_ready_at_[group.id] = clock_.Now() + group_time;
  groups_.push_back(group);
  return group;
}

StatusOr<cloud::SecurityGroup> SimCloud::UpdateSecurityGroup(
    const std::string& id, const std::string& name, const std::string& description,
    const std::vector<cloud::SecurityRule>& rules) {
  if (Status s = Begin(true); !s.ok()) return s;
  for (cloud::SecurityGroup& group : groups_) {
    if (group.id != id) continue;
    group.name = name;
    group.description = description;
    group.rules = rules;
    group.status = "updating";
    group_ready_at_[group.id] = clock_.Now() + group_time;
    return group;
  }
  return Status::NotFound("security group not found").WithHttpStatus(404);
}

Status SimCloud::DeleteSecurityGroup(const std::string& id) {
  if (Status s = Begin(true); !s.ok()) return s;
  for (const SimInstance& sim : instances_) {
    for (const cloud::ResourceRef& ref : sim.instance.security_groups) {
      if (ref.id == id) {
        return Status::Conflict("security group is in use by " + sim.instance.name)
            .WithHttpStatus(409);
      }
    }
  }
  const size_t before = groups_.size();
  groups_.erase(std::remove_if(groups_.begin(), groups_.end(),
                               [&](const cloud::SecurityGroup& g) { return g.id == id; }),
                groups_.end());
  if (groups_.size() == before) return Status::NotFound("security group not found");
  return Status::Ok();
}

StatusOr<std::vector<cloud::SecurityGroup>> SimCloud::ListSecurityGroups() {
  if (Status s = Begin(false); !s.ok()) return s;
  return groups_;
}

// Snapshots (bake helper's block): baking is off in the simulation, see sim_world.h.
StatusOr<cloud::Snapshot> SimCloud::CreateSnapshot(const std::string& instance_id,
                                                   const std::string& name) {
  if (Status s = Begin(true); !s.ok()) return s;
  return Status::Invalid("the simulation does not bake (" + name + " of " + instance_id + ")");
}

StatusOr<std::vector<cloud::Snapshot>> SimCloud::ListSnapshots() {
  if (Status s = Begin(false); !s.ok()) return s;
  return std::vector<cloud::Snapshot>{};
}

StatusOr<cloud::Snapshot> SimCloud::GetSnapshot(const std::string& id) {
  if (Status s = Begin(false); !s.ok()) return s;
  return Status::NotFound("snapshot " + id + " not found");
}

Status SimCloud::DeleteSnapshot(const std::string& id) {
  if (Status s = Begin(true); !s.ok()) return s;
  return Status::NotFound("snapshot " + id + " not found");
}

const SimInstance* SimProber::ActiveAt(const std::string& host) const {
  const SimInstance* found = nullptr;
  for (const SimInstance& sim : cloud_.all()) {
    if (!sim.deleting && sim.instance.status == "active" && sim.instance.public_ip == host)
      found = &sim;
  }
  return found;
}

bool SimProber::AppUp(const SimInstance& sim) const {
  return clock_.Now() >= sim.active_since + app_time;
}

StatusOr<probe::GatewayProbe> SimProber::ProbeGateway(const std::string& base_url,
                                                      api::Flavor flavor) {
  probe::GatewayProbe answer;
  const SimInstance* gateway = ActiveAt(HostOf(base_url));
  if (gateway == nullptr || gateway->broken != SimInstance::Broken::kNo || !AppUp(*gateway)) {
    answer.detail = "connection refused";
    return answer;
  }
  answer.answers = true;
  if (!gateway->node_id.empty()) answer.connected_nodes.insert(gateway->node_id);
  for (const SimInstance& sim : cloud_.all()) {
    // Registered once its node ran; the registration outlives the node (pygrid.md §7: the
    // gateway's database keeps it).
    const bool joined =
        sim.broken == SimInstance::Broken::kNo || sim.broken == SimInstance::Broken::kNodeDied;
    if (sim.deleting || sim.instance.status != "active" || sim.node_id.empty() || !joined) continue;
    if (sim.gateway_ip != gateway->instance.private_ip) continue;
    if (!AppUp(sim)) continue;
    answer.connected_nodes.insert(sim.node_id);
  }
  return answer;
}

StatusOr<probe::NodeProbe> SimProber::ProbeNode(const std::string& base_url, api::Flavor flavor,
                                                const std::string& node_id) {
  const SimInstance* node = ActiveAt(HostOf(base_url));
  if (node == nullptr || node->broken != SimInstance::Broken::kNo || !AppUp(*node))
    return probe::NodeProbe{false, "node " + base_url + " does not answer: connection refused"};
  if (node->node_id != node_id)
    return probe::NodeProbe{false, "node " + base_url + ": it answers as another node"};
  return probe::NodeProbe{true, "node " + base_url + " answers"};
}

bool SimCloud::SshBlocked(const std::string& name) const {
  for (const std::string& prefix : ssh_blocked_) {
    if (name.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

Status SimCloud::DeliverGateway(const std::string& host, const std::string& pinned,
                                const std::string& url) {
  Advance();
  for (SimInstance& sim : instances_) {
    if (sim.deleting || sim.instance.status != "active" || sim.instance.public_ip != host) continue;
    if (SshBlocked(sim.instance.name)) break;
    if (sim.host_key != pinned) {
      return Status::Forbidden("the server's host key is not the pinned one")
          .WithRemoteCode(probe::kHostKeyMismatch);
    }
    sim.delivered_url = url;
    sim.gateway_ip = HostOf(url);
    ++deliveries_;
    // The list the round planned from may be a poll old: the gateway may have failed or gone
    // since (the next round replaces it and delivers again). Never another grid's address.
    const std::string& name = sim.instance.name;
    const std::string gateway = name.substr(0, name.find("-worker-")) + "-gateway";
    if (!private_ips_[gateway].count(sim.gateway_ip)) ++wrong_deliveries_;
    MaybeCrash();  // the file is written: a crash now must not lose track of it
    return Status::Ok();
  }
  return Status::Unavailable("no SSH connection to " + host + ": connection timed out");
}

Status SimProber::DeliverGateway(const probe::SshTarget& target, const std::string& gateway_url) {
  return cloud_.DeliverGateway(target.host, target.pinned_host_key, gateway_url);
}

StatusOr<probe::MarkerProbe> SimProber::ProbeMarker(const probe::SshTarget& target) {
  for (const SimInstance& sim : cloud_.all()) {
    if (sim.deleting || sim.instance.public_ip != target.host) continue;
    if (cloud_.SshBlocked(sim.instance.name)) {
      return probe::MarkerProbe{probe::MarkerState::kUnreachable,
                                "no SSH connection to " + target.host + ": connection timed out"};
    }
    if (sim.host_key != target.pinned_host_key) {
      return Status::Forbidden("the server's host key is not the pinned one")
          .WithRemoteCode(probe::kHostKeyMismatch);
    }
    if (sim.broken == SimInstance::Broken::kFailedMarker) {
      return probe::MarkerProbe{probe::MarkerState::kFailed, "service node did not answer"};
    }
  }
  for (const SimInstance& sim : cloud_.all()) {
    if (sim.deleting || sim.instance.public_ip != target.host || sim.delivered_url.empty())
      continue;
    return probe::MarkerProbe{probe::MarkerState::kPending, "cloud-init status: running",
                              sim.delivered_url};
  }
  return probe::MarkerProbe{probe::MarkerState::kPending, "cloud-init status: running"};
}

SeededIdentities::SeededIdentities(uint64_t seed) : rng_(seed) {}

StatusOr<bootstrap::SshKeyPair> SeededIdentities::HostKey(const std::string& name) {
  // One real key for every instance: its bytes never influence a decision.
  static const bootstrap::SshKeyPair key = *bootstrap::GenerateEd25519KeyPair("sim-host");
  bootstrap::SshKeyPair copy = key;
  char tag[24];
  std::snprintf(tag, sizeof tag, " %016llx", static_cast<unsigned long long>(rng_()));
  copy.public_key = key.public_key.substr(0, key.public_key.rfind(' ')) + tag;
  return copy;
}

std::string SeededIdentities::NodeIdSuffix() {
  char text[8];
  std::snprintf(text, sizeof text, "%04x", static_cast<unsigned>(rng_() & 0xffff));
  return text;
}

std::string SeededIdentities::SecretKey() {
  char text[20];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(rng_()));
  return std::string(text) + std::string(text) + std::string(text) + std::string(text);
}

namespace {

class ForwardingCloud final : public cloud::CloudProvider {
 public:
  explicit ForwardingCloud(cloud::CloudProvider& target) : t_(target) {}
  StatusOr<std::vector<cloud::Instance>> ListInstances() override { return t_.ListInstances(); }
  StatusOr<cloud::Instance> GetInstance(const std::string& id) override {
    return t_.GetInstance(id);
  }
  StatusOr<cloud::Instance> CreateInstance(const cloud::CreateInstanceRequest& r) override {
    return t_.CreateInstance(r);
  }
  Status DeleteInstance(const std::string& id) override { return t_.DeleteInstance(id); }
  Status StartInstance(const std::string& id) override { return t_.StartInstance(id); }
  Status StopInstance(const std::string& id) override { return t_.StopInstance(id); }
  StatusOr<std::vector<cloud::Image>> ListImages() override { return t_.ListImages(); }
  StatusOr<std::vector<cloud::SshKey>> ListSshKeys() override { return t_.ListSshKeys(); }
  StatusOr<cloud::SecurityGroup> CreateSecurityGroup(
      const std::string& name, const std::string& description, const std::string& region,
      const std::vector<cloud::SecurityRule>& rules) override {
    return t_.CreateSecurityGroup(name, description, region, rules);
  }
  StatusOr<cloud::SecurityGroup> UpdateSecurityGroup(
      const std::string& id, const std::string& name, const std::string& description,
      const std::vector<cloud::SecurityRule>& rules) override {
    return t_.UpdateSecurityGroup(id, name, description, rules);
  }
  Status DeleteSecurityGroup(const std::string& id) override { return t_.DeleteSecurityGroup(id); }
  StatusOr<std::vector<cloud::SecurityGroup>> ListSecurityGroups() override {
    return t_.ListSecurityGroups();
  }
  StatusOr<cloud::Snapshot> CreateSnapshot(const std::string& instance_id,
                                           const std::string& name) override {
    return t_.CreateSnapshot(instance_id, name);
  }
  StatusOr<std::vector<cloud::Snapshot>> ListSnapshots() override { return t_.ListSnapshots(); }
  StatusOr<cloud::Snapshot> GetSnapshot(const std::string& id) override {
    return t_.GetSnapshot(id);
  }
  Status DeleteSnapshot(const std::string& id) override { return t_.DeleteSnapshot(id); }

 private:
  cloud::CloudProvider& t_;
};

}  // namespace

std::unique_ptr<cloud::CloudProvider> Forward(cloud::CloudProvider& target) {
  return std::make_unique<ForwardingCloud>(target);
}

}  // namespace pygrid::controller::testing
