// Images, SSH keys and security groups of the simulated account.
#include <algorithm>

#include "genesis_sim.h"
#include "sim_util.h"

namespace pygrid::sim::genesis {

using nlohmann::json;

namespace {

const std::vector<std::string> kImageRegions = {"ARC-IS-HAF-1", "NORD-NO-KRS-1"};

bool Reserved(const std::string& name) {
  // SPEC23 CreateSecurityGroup: `default` and `standard` are reserved words.
  return name == "default" || name == "standard";
}

// Validates SPEC23 compute.v1.SecurityGroup.Rule items (protocol and direction required,
// enums as documented) and returns them normalised, or an error message.
std::optional<std::string> NormaliseRules(const json& in, json* out) {
  if (!in.is_array() || in.empty()) return "rules must be a non-empty list";  // minItems 1
  *out = json::array();
  for (const json& r : in) {
    if (!r.is_object()) return "each rule must be an object";
    const std::string protocol = OptionalString(r, "protocol", "").value_or("?");
    const std::string direction = OptionalString(r, "direction", "").value_or("?");
    if (protocol != "tcp" && protocol != "udp" && protocol != "icmp" && protocol != "all") {
      return "rule protocol must be one of tcp, udp, icmp, all";
    }
    if (direction != "ingress" && direction != "egress") {
      return "rule direction must be ingress or egress";
    }
    json rule = {{"protocol", protocol},
                 {"direction", direction},
                 {"port_range_min", nullptr},
                 {"port_range_max", nullptr}};
    for (const char* key : {"port_range_min", "port_range_max"}) {
      if (r.contains(key) && !r[key].is_null()) {
        if (!r[key].is_number_integer() || r[key].get<int64_t>() < 1 ||
            r[key].get<int64_t>() > 65535) {
          return std::string(key) + " must be a port number";
        }
        rule[key] = r[key];
      }
    }
    if (rule["port_range_min"].is_number() && rule["port_range_max"].is_number() &&
        rule["port_range_min"].get<int>() > rule["port_range_max"].get<int>()) {
      return "port_range_min must not exceed port_range_max";
    }
    out->push_back(rule);
  }
  return std::nullopt;
}

}  // namespace

void GenesisSim::Seed() {
  rng_.seed(config_.seed);
  const std::string t0 = "2020-03-24T18:14:01.223Z";
  // Base images as in PY20 ("Ubuntu 18.04", type base-os) with JS24/GO25-style slugs; one
  // preconfigured ML image (DOCS: OS + frameworks) that needs an NVIDIA GPU.
  // Set-up model contents: a base OS holds nothing the user data installs; the ML image holds
  // the NVIDIA driver (its name says so), not Docker or the container toolkit.
  images_ = {{NewId(), "Ubuntu 18.04", "base-os", "ubuntu-18.04", t0, false, {}},
             {NewId(), "Ubuntu 20.04", "base-os", "ubuntu-20.04", t0, false, {}},
             {NewId(), "Ubuntu 22.04", "base-os", "ubuntu-22.04", t0, false, {}},
             {NewId(),
              "Ubuntu 20.04 ML (PyTorch, TensorFlow, NVIDIA driver)",
              "preconfigured",
              "ubuntu-ml-nvidia-pytorch",
              t0,
              true,
              {kItemNvidiaDriver}}};
  // PY20 quickstart: the account has a pre-existing `standard` group.
  SecurityGroup standard;
  standard.id = NewId();
  standard.name = "standard";
  standard.description = "The recommended security group default applied by Genesis Cloud";
  standard.region = "ARC-IS-HAF-1";
  standard.status = "created";
  standard.created_at = t0;
  standard.rules = json::array({{{"protocol", "icmp"},
                                 {"direction", "ingress"},
                                 {"port_range_min", nullptr},
                                 {"port_range_max", nullptr}},
                                {{"protocol", "tcp"},
                                 {"direction", "ingress"},
                                 {"port_range_min", 22},
                                 {"port_range_max", 22}},
                                {{"protocol", "all"},
                                 {"direction", "egress"},
                                 {"port_range_min", nullptr},
                                 {"port_range_max", nullptr}}});
  groups_ = {standard};
  keys_.clear();
  instances_.clear();
  snapshots_.clear();
  faults_.clear();
  lose_next_creates_ = 0;
  instance_quota_.reset();
  next_slot_ = 0;
  request_log_ = json::array();
  bucket_tokens_ = config_.rate_limit_per_second;
  bucket_last_ = Steady::now();
}

GenesisSim::SecurityGroup* GenesisSim::FindGroup(const std::string& id) {
  return FindById(groups_, id);
}

json GenesisSim::GroupJson(const SecurityGroup& g) const {
  // SPEC23 compute.v1.SecurityGroup required fields.
  return {{"id", g.id},
          {"name", g.name},
          {"description", g.description},
          {"region", g.region},
          {"status", g.status},
          {"rules", g.rules},
          {"created_at", g.created_at}};
}

json GenesisSim::KeyJson(const SshKey& k) const {
  // SPEC23 compute.v1.SSHKey required fields; returned bare (no envelope).
  return {{"id", k.id},
          {"name", k.name},
          {"value", k.value},
          {"fingerprint", k.fingerprint},
          {"type", k.type},
          {"size", k.size},
          {"created_at", k.created_at}};
}

SimResponse GenesisSim::Images(const SimRequest& r, const std::vector<std::string>& parts) {
  if (parts.size() != 1 || r.method != "GET") {
    return ErrorResponse(404, kCodeInvalidRoute, "Invalid route");
  }
  int page, per_page;
  if (auto err = ParsePaging(r, &page, &per_page)) return *err;
  const auto type = r.query.find("type");
  std::vector<json> items;
  for (const Image& im : images_) {
    if (type != r.query.end() && type->second != im.type) continue;
    // SPEC23 compute.v1.Image required fields, plus the JS24/GO25 `slug`.
    items.push_back({{"id", im.id},
                     {"name", im.name},
                     {"type", im.type},
                     {"slug", im.slug},
                     {"regions", kImageRegions},
                     {"created_at", im.created_at}});
  }
  // The account's snapshots are images too (SPEC23 Image.Type `snapshot`; in 2020 DIST found
  // its `nvidia+docker` snapshot in this list), usable in their own region only.
  for (const Snapshot& s : snapshots_) {
    if (type != r.query.end() && type->second != "snapshot") continue;
    items.push_back({{"id", s.id},
                     {"name", s.name},
                     {"type", "snapshot"},
                     {"slug", nullptr},
                     {"regions", {s.region}},
                     {"created_at", s.created_at}});
  }
  return ListResponse("images", items, page, per_page);
}

SimResponse GenesisSim::SshKeys(const SimRequest& r, const std::vector<std::string>& parts) {
  json body;
  if (r.method == "POST" || r.method == "PUT") {
    if (auto err = ParseJsonObject(r.body, &body)) return *err;
  }
  if (parts.size() == 1) {
    if (r.method == "GET") {
      return ListOf(r, "ssh_keys", keys_, [this](const SshKey& k) { return KeyJson(k); });
    }
    if (r.method != "POST") return ErrorResponse(405, kCodeInvalidRoute, "Invalid route");
    // SPEC23 CreateSSHKey: name and value required.
    if (!body.contains("name") || !body["name"].is_string() ||
        body["name"].get<std::string>().empty() || !body.contains("value") ||
        !body["value"].is_string()) {
      return ErrorResponse(400, kCodeInvalidRequest, "name and value are required");
    }
    SshKey k;
    if (!DescribeSshKey(body["value"], &k.type, &k.size, &k.fingerprint)) {
      return ErrorResponse(400, kCodeInvalidRequest, "value is not an OpenSSH public key");
    }
    k.id = NewId();
    k.name = body["name"];
    k.value = body["value"];
    k.created_at = Now();
    keys_.push_back(k);
    return SimResponse::Json(201, KeyJson(k).dump());
  }
  auto it =
      std::find_if(keys_.begin(), keys_.end(), [&](const SshKey& k) { return k.id == parts[1]; });
  if (parts.size() != 2 || it == keys_.end()) {
    return ErrorResponse(404, kCodeNotFound, "ssh key not found");
  }
  if (r.method == "GET") return SimResponse::Json(200, KeyJson(*it).dump());
  if (r.method == "PUT") {
    if (!body.contains("name") || !body["name"].is_string()) {
      return ErrorResponse(400, kCodeInvalidRequest, "name is required");
    }
    it->name = body["name"];
    return SimResponse::Json(200, KeyJson(*it).dump());
  }
  if (r.method == "DELETE") {
    keys_.erase(it);
    return SimResponse::Json(204, "");
  }
  return ErrorResponse(405, kCodeInvalidRoute, "Invalid route");
}

SimResponse GenesisSim::SecurityGroups(const SimRequest& r, const std::vector<std::string>& parts) {
  json body;
  if (r.method == "POST" || r.method == "PUT") {
    if (auto err = ParseJsonObject(r.body, &body)) return *err;
  }
  const auto later =
      Steady::now() + std::chrono::duration_cast<Steady::duration>(
                          std::chrono::duration<double>(config_.security_group_seconds));
  if (parts.size() == 1) {
    if (r.method == "GET") {
      return ListOf(r, "security_groups", groups_,
                    [this](const SecurityGroup& g) { return GroupJson(g); });
    }
    if (r.method != "POST") return ErrorResponse(405, kCodeInvalidRoute, "Invalid route");
    if (!body.contains("name") || !body["name"].is_string() ||
        body["name"].get<std::string>().empty()) {
      return ErrorResponse(400, kCodeInvalidRequest, "name is required");
    }
    const std::string name = body["name"];
    if (Reserved(name)) {
      return ErrorResponse(400, kCodeInvalidRequest, "the name " + name + " is reserved");
    }
    json rules;
    if (auto err = NormaliseRules(body.contains("rules") ? body["rules"] : json(), &rules)) {
      return ErrorResponse(400, kCodeInvalidRequest, *err);
    }
    const auto description = OptionalString(body, "description", "");
    const auto region = OptionalString(body, "region", "ARC-IS-HAF-1");  // older DOCS default
    if (!description || !region) {
      return ErrorResponse(400, kCodeInvalidRequest, "description and region must be strings");
    }
    for (const SecurityGroup& g : groups_) {
      if (g.name == name) {
        return ErrorResponse(409, kCodeConflict, "a security group named " + name + " exists");
      }
    }
    SecurityGroup g;
    g.id = NewId();
    g.name = name;
    g.description = *description;
    g.region = *region;
    g.rules = rules;
    g.created_at = Now();
    g.status = "creating";  // asynchronous: TF25 polls until `created`
    g.next_status = "created";
    g.next_at = later;
    groups_.push_back(g);
    return SimResponse::Json(201, json{{"security_group", GroupJson(g)}}.dump());
  }
  SecurityGroup* g = parts.size() == 2 ? FindGroup(parts[1]) : nullptr;
  if (g == nullptr) return ErrorResponse(404, kCodeNotFound, "security group not found");
  if (r.method == "GET")
    return SimResponse::Json(200, json{{"security_group", GroupJson(*g)}}.dump());
  if (r.method == "PUT") {
    // SPEC23 UpdateSecurityGroup (PUT; PATCH in GO25): name and rules required.
    if (g->name == "standard") {
      return ErrorResponse(400, kCodeInvalidRequest, "the standard group cannot be changed");
    }
    if (!body.contains("name") || !body["name"].is_string() || Reserved(body["name"])) {
      return ErrorResponse(400, kCodeInvalidRequest, "name is required and must not be reserved");
    }
    json rules;
    if (auto err = NormaliseRules(body.contains("rules") ? body["rules"] : json(), &rules)) {
      return ErrorResponse(400, kCodeInvalidRequest, *err);
    }
    g->name = body["name"];
    if (body.contains("description") && body["description"].is_string()) {
      g->description = body["description"];
    }
    g->rules = rules;
    g->status = "updating";
    g->next_status = "created";
    g->next_at = later;
    return SimResponse::Json(200, json{{"security_group", GroupJson(*g)}}.dump());
  }
  if (r.method == "DELETE") {
    if (g->name == "standard") {
      return ErrorResponse(400, kCodeInvalidRequest, "the standard group cannot be deleted");
    }
    for (const Instance& i : instances_) {
      for (const Ref& ref : i.security_groups) {
        if (ref.id == g->id && i.status != "deleting") {
          return ErrorResponse(409, kCodeConflict, "security group is in use by " + i.name);
        }
      }
    }
    if (g->status != "deleting") {
      g->status = "deleting";  // TF25: DELETE -> 204, then GET -> 404
      g->next_status = "gone";
      g->next_at = later;
    }
    return SimResponse::Json(204, "");
  }
  return ErrorResponse(405, kCodeInvalidRoute, "Invalid route");
}

}  // namespace pygrid::sim::genesis
