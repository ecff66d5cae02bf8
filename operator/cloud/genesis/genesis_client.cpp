#include "cloud/genesis/genesis_client.h"

#include <nlohmann/json.hpp>

#include "cloud/genesis/internal/list_pager.h"
#include "cloud/genesis/internal/request_executor.h"

namespace pygrid::cloud::genesis {
namespace {

using internal::RequestExecutor;
using nlohmann::json;

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::string> OptStr(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<int> OptInt(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int>();
}

ResourceRef ParseRef(const json& j) {
  if (!j.is_object()) return {};
  return {Str(j, "id"), Str(j, "name")};
}

std::vector<ResourceRef> ParseRefs(const json& j, const char* key) {
  std::vector<ResourceRef> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const json& item : *it) out.push_back(ParseRef(item));
  return out;
}

Instance ParseInstance(const json& j) {
  Instance i;
  i.id = Str(j, "id");
  i.name = Str(j, "name");
  i.hostname = Str(j, "hostname");
  i.type = Str(j, "type");
  if (j.contains("image")) i.image = ParseRef(j["image"]);
  i.status = Str(j, "status");
  i.region = Str(j, "region");
  i.public_ip = OptStr(j, "public_ip");
  i.private_ip = OptStr(j, "private_ip");
  i.ssh_keys = ParseRefs(j, "ssh_keys");
  i.security_groups = ParseRefs(j, "security_groups");
  i.created_at = Str(j, "created_at");
  i.updated_at = OptStr(j, "updated_at");
  return i;
}

Image ParseImage(const json& j) {
  Image i;
  i.id = Str(j, "id");
  i.name = Str(j, "name");
  i.type = Str(j, "type");
  i.slug = OptStr(j, "slug");
  if (j.contains("regions") && j["regions"].is_array()) {
    for (const json& r : j["regions"]) {
      if (r.is_string()) i.regions.push_back(r.get<std::string>());
    }
  }
  i.created_at = Str(j, "created_at");
  return i;
}

SshKey ParseSshKey(const json& j) {
  return {Str(j, "id"), Str(j, "name"), Str(j, "value"), Str(j, "fingerprint"),
          Str(j, "created_at")};
}

Snapshot ParseSnapshot(const json& j) {
  Snapshot s;
  s.id = Str(j, "id");
  s.name = Str(j, "name");
  s.resource_id = Str(j, "resource_id");
  s.region = Str(j, "region");
  s.status = Str(j, "status");
  s.created_at = Str(j, "created_at");
  return s;
}

SecurityRule ParseRule(const json& j) {
  return {Str(j, "protocol"), Str(j, "direction"), OptInt(j, "port_range_min"),
          OptInt(j, "port_range_max")};
}

SecurityGroup ParseSecurityGroup(const json& j) {
  SecurityGroup g;
  g.id = Str(j, "id");
  g.name = Str(j, "name");
  g.description = Str(j, "description");
  g.region = Str(j, "region");
  g.status = Str(j, "status");
  if (j.contains("rules") && j["rules"].is_array()) {
    for (const json& r : j["rules"]) g.rules.push_back(ParseRule(r));
  }
  g.created_at = Str(j, "created_at");
  return g;
}

json RuleJson(const SecurityRule& r) {
  json j = {{"protocol", r.protocol}, {"direction", r.direction}};
  if (r.port_range_min) j["port_range_min"] = *r.port_range_min;
  if (r.port_range_max) j["port_range_max"] = *r.port_range_max;
  return j;
}

json RulesJson(const std::vector<SecurityRule>& rules) {
  json out = json::array();
  for (const SecurityRule& r : rules) out.push_back(RuleJson(r));
  return out;
}

// Parses a response body and extracts `key` (an object), or maps a malformed body to an
// Unavailable status that is not retried (the remote answered, just not as documented).
StatusOr<json> Envelope(const std::string& operation, const HttpResponse& response,
                        const char* key) {
  try {
    json body = json::parse(response.body);
    if (key == nullptr) {
      if (body.is_object()) return body;
    } else if (body.is_object() && body.contains(key) && body[key].is_object()) {
      return body[key];
    }
  } catch (const std::exception&) {
  }
  return Status::Unavailable(operation + ": malformed response body (HTTP " +
                             std::to_string(response.status) + ")")
      .WithHttpStatus(response.status)
      .WithRetryable(false);
}

class GenesisClientImpl final : public GenesisClient {
 public:
  GenesisClientImpl(GenesisOptions options, std::unique_ptr<HttpTransport> transport)
      : exec_(std::move(options), std::move(transport)) {}

  void SetRequestHook(RequestHook hook) override { exec_.SetHook(std::move(hook)); }

  StatusOr<std::vector<Instance>> ListInstances() override {
    return ListAll<Instance>("ListInstances", "/instances", "instances", ParseInstance);
  }

  StatusOr<Instance> GetInstance(const std::string& id) override {
    return One<Instance>("GetInstance", "GET", "/instances/" + id, "", true, "instance",
                         ParseInstance);
  }

  StatusOr<Instance> CreateInstance(const CreateInstanceRequest& req) override {
    json body = {{"name", req.name},
                 {"hostname", req.hostname.empty() ? req.name : req.hostname},
                 {"type", req.type},
                 {"image", req.image}};
    if (!req.ssh_key_ids.empty()) body["ssh_keys"] = req.ssh_key_ids;
    if (!req.security_group_ids.empty()) body["security_groups"] = req.security_group_ids;
    if (!req.startup_script.empty()) body["metadata"] = {{"startup_script", req.startup_script}};
    if (!req.region.empty()) body["region"] = req.region;
    auto r = exec_.Execute("CreateInstance", "POST", "/instances", body.dump(), false);
    if (!r.ok()) return r.status();
    auto j = Envelope("CreateInstance", *r, "instance");
    if (!j.ok()) return j.status();
    return ParseInstance(*j);
  }

  Status DeleteInstance(const std::string& id) override {
    return exec_.Execute("DeleteInstance", "DELETE", "/instances/" + id, "", true).status();
  }

  Status StartInstance(const std::string& id) override {
    return Action("StartInstance", id, "start");
  }
  Status StopInstance(const std::string& id) override { return Action("StopInstance", id, "stop"); }

  StatusOr<std::vector<std::string>> ListInstanceActions(const std::string& id) override {
    auto r = exec_.Execute("ListInstanceActions", "GET", "/instances/" + id + "/actions", "", true);
    if (!r.ok()) return r.status();
    auto j = Envelope("ListInstanceActions", *r, nullptr);
    if (!j.ok()) return j.status();
    std::vector<std::string> out;
    if (j->contains("actions") && (*j)["actions"].is_array()) {
      for (const json& a : (*j)["actions"]) {
        if (a.is_string()) out.push_back(a.get<std::string>());
      }
    }
    return out;
  }

  StatusOr<std::vector<Image>> ListImages() override {
    return ListAll<Image>("ListImages", "/images", "images", ParseImage);
  }

  StatusOr<std::vector<SshKey>> ListSshKeys() override {
    return ListAll<SshKey>("ListSshKeys", "/ssh-keys", "ssh_keys", ParseSshKey);
  }

  StatusOr<SshKey> CreateSshKey(const std::string& name, const std::string& value) override {
    json body = {{"name", name}, {"value", value}};
    auto r = exec_.Execute("CreateSshKey", "POST", "/ssh-keys", body.dump(), false);
    if (!r.ok()) return r.status();
    auto j = Envelope("CreateSshKey", *r, nullptr);  // SSH keys come back bare (SPEC23)
    if (!j.ok()) return j.status();
    return ParseSshKey(*j);
  }

  Status DeleteSshKey(const std::string& id) override {
    return exec_.Execute("DeleteSshKey", "DELETE", "/ssh-keys/" + id, "", true).status();
  }

  StatusOr<std::vector<SecurityGroup>> ListSecurityGroups() override {
    return ListAll<SecurityGroup>("ListSecurityGroups", "/security-groups", "security_groups",
                                  ParseSecurityGroup);
  }

  StatusOr<SecurityGroup> GetSecurityGroup(const std::string& id) override {
    return One<SecurityGroup>("GetSecurityGroup", "GET", "/security-groups/" + id, "", true,
                              "security_group", ParseSecurityGroup);
  }

  StatusOr<SecurityGroup> CreateSecurityGroup(const std::string& name,
                                              const std::string& description,
                                              const std::string& region,
                                              const std::vector<SecurityRule>& rules) override {
    json body = {{"name", name}, {"description", description}, {"rules", RulesJson(rules)}};
    if (!region.empty()) body["region"] = region;
    // Not retried on ambiguity (see CloudProvider): the caller looks the name up first.
    auto r = exec_.Execute("CreateSecurityGroup", "POST", "/security-groups", body.dump(), false);
    if (!r.ok()) return r.status();
    auto j = Envelope("CreateSecurityGroup", *r, "security_group");
    if (!j.ok()) return j.status();
    return ParseSecurityGroup(*j);
  }

  StatusOr<SecurityGroup> UpdateSecurityGroup(const std::string& id, const std::string& name,
                                              const std::string& description,
                                              const std::vector<SecurityRule>& rules) override {
    // SPEC23 updates security groups with PUT {name, description, rules}; GO25 renamed it to
    // PATCH with the same body. We follow the 2023 baseline.
    json body = {{"name", name}, {"description", description}, {"rules", RulesJson(rules)}};
    auto r =
        exec_.Execute("UpdateSecurityGroup", "PUT", "/security-groups/" + id, body.dump(), true);
    if (!r.ok()) return r.status();
    auto j = Envelope("UpdateSecurityGroup", *r, "security_group");
    if (!j.ok()) return j.status();
    return ParseSecurityGroup(*j);
  }

  Status DeleteSecurityGroup(const std::string& id) override {
    return exec_.Execute("DeleteSecurityGroup", "DELETE", "/security-groups/" + id, "", true)
        .status();
  }

  StatusOr<Snapshot> CreateSnapshot(const std::string& instance_id,
                                    const std::string& name) override {
    // SPEC23 CreateSnapshot: POST /instances/{id}/snapshots {name} -> 201 {"snapshot"}. Not
    // retried on ambiguity (see CloudProvider): the caller looks the name up first.
    const json body = {{"name", name}};
    return One<Snapshot>("CreateSnapshot", "POST", "/instances/" + instance_id + "/snapshots",
                         body.dump(), false, "snapshot", ParseSnapshot);
  }

  StatusOr<std::vector<Snapshot>> ListSnapshots() override {
    return ListAll<Snapshot>("ListSnapshots", "/snapshots", "snapshots", ParseSnapshot);
  }

  StatusOr<Snapshot> GetSnapshot(const std::string& id) override {
    return One<Snapshot>("GetSnapshot", "GET", "/snapshots/" + id, "", true, "snapshot",
                         ParseSnapshot);
  }

  Status DeleteSnapshot(const std::string& id) override {
    return exec_.Execute("DeleteSnapshot", "DELETE", "/snapshots/" + id, "", true).status();
  }

 private:
  Status Action(const char* operation, const std::string& id, const char* action) {
    json body = {{"action", action}};
    // Actions are idempotent in effect (start on a starting instance is refused, not doubled).
    return exec_.Execute(operation, "POST", "/instances/" + id + "/actions", body.dump(), true)
        .status();
  }

  // One object from a `{"<key>": {...}}` answer, parsed; `retry` as RequestExecutor::Execute.
  template <typename T, typename Parse>
  StatusOr<T> One(const std::string& operation, const char* method, const std::string& path,
                  const std::string& body, bool retry, const char* key, Parse parse) {
    auto r = exec_.Execute(operation, method, path, body, retry);
    if (!r.ok()) return r.status();
    auto j = Envelope(operation, *r, key);
    if (!j.ok()) return j.status();
    return parse(*j);
  }

  // Every page of a list endpoint, parsed; see internal/list_pager.h for when a listing is
  // trusted to be complete.
  template <typename T, typename Parse>
  StatusOr<std::vector<T>> ListAll(const std::string& operation, const std::string& path,
                                   const char* key, Parse parse) {
    auto items = internal::ReadAllPages(operation, key, [&](int page, int per_page) {
      auto r = exec_.Execute(
          operation, "GET",
          path + "?page=" + std::to_string(page) + "&per_page=" + std::to_string(per_page), "",
          true);
      if (!r.ok()) return StatusOr<json>(r.status());
      return Envelope(operation, *r, nullptr);
    });
    if (!items.ok()) return items.status();
    std::vector<T> out;
    out.reserve(items->size());
    try {
      for (const json& item : *items) out.push_back(parse(item));
    } catch (const std::exception&) {
      return Status::Unavailable(operation + ": malformed list item").WithRetryable(false);
    }
    return out;
  }

  RequestExecutor exec_;
};

}  // namespace

std::unique_ptr<GenesisClient> MakeGenesisClient(GenesisOptions options) {
  std::string base = options.base_url;
  return MakeGenesisClient(std::move(options), MakeCpprestTransport(base));
}

std::unique_ptr<GenesisClient> MakeGenesisClient(GenesisOptions options,
                                                 std::unique_ptr<HttpTransport> transport) {
  return std::make_unique<GenesisClientImpl>(std::move(options), std::move(transport));
}

}  // namespace pygrid::cloud::genesis
