// POST /compute/v1/instances: validation and creation (SPEC23 CreateInstance).
#include <algorithm>

#include "genesis_sim.h"
#include "sim_util.h"

namespace pygrid::sim::genesis {

using nlohmann::json;

namespace {

constexpr size_t kMaxStartupScript = 64 * 1024;  // SPEC23 metadata.startup_script: 64 KiB
// SPEC23 compute.v1.Region, plus GO23's EUC-DE-MUC-1.
const std::vector<std::string> kRegions = {"ARC-IS-HAF-1", "NORD-NO-KRS-1", "EUC-DE-MUC-1"};

// SPEC23 compute.v1.Instance.Type enum, plus the 2020 1080 Ti family (PY20 INSTANCE_TYPES)
// up to 10 GPUs.
const std::vector<std::string>& InstanceTypes() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> t;
    auto family = [&](const char* gpu, int cpu_per, int mem_per, int max) {
      for (int k = 1; k <= max; ++k) {
        t.push_back("vcpu-" + std::to_string(cpu_per * k) + "_memory-" +
                    std::to_string(mem_per * k) + "g_disk-80g_" + gpu + "-" + std::to_string(k));
      }
    };
    family("nvidia3090", 4, 24, 8);
    for (int k = 1; k <= 4; ++k) {
      t.push_back("vcpu-" + std::to_string(8 * k) + "_memory-" + std::to_string(48 * k) +
                  "g_disk-80g_nvidia3090-" + std::to_string(k));
      t.push_back("vcpu-" + std::to_string(8 * k) + "_memory-" + std::to_string(32 * k) +
                  "g_disk-80g_nvidia3080-" + std::to_string(k));
    }
    family("nvidia3080", 4, 12, 8);
    family("nvidia3060ti", 4, 12, 8);
    family("nvidia1080ti", 4, 12, 10);
    for (int k = 4; k <= 8; ++k) {
      t.push_back("vcpu-2_memory-8g_disk-80g_amdrx470-" + std::to_string(k));
    }
    for (const char* cpu :
         {"vcpu-2_memory-4g_disk-80g", "vcpu-4_memory-8g_disk-80g", "vcpu-8_memory-16g_disk-80g",
          "vcpu-12_memory-24g_disk-80g", "vcpu-16_memory-32g_disk-80g",
          "vcpu-20_memory-40g_disk-80g", "vcpu-24_memory-48g_disk-80g"}) {
      t.push_back(cpu);
    }
    return t;
  }();
  return types;
}

bool IsStringArray(const json& j) {
  if (!j.is_array()) return false;
  return std::all_of(j.begin(), j.end(), [](const json& x) { return x.is_string(); });
}

bool ValidPassword(const std::string& p) {
  // SPEC23: upper and lower case letters and digits, length 8-72.
  bool upper = false, lower = false, digit = false;
  for (char c : p) {
    upper |= c >= 'A' && c <= 'Z';
    lower |= c >= 'a' && c <= 'z';
    digit |= c >= '0' && c <= '9';
  }
  return p.size() >= 8 && p.size() <= 72 && upper && lower && digit;
}

}  // namespace

SimResponse GenesisSim::CreateInstance(const json& body) {
  auto invalid = [](const std::string& m) { return ErrorResponse(400, kCodeInvalidRequest, m); };
  // SPEC23 CreateInstance: name, hostname, type, image are required.
  for (const char* field : {"name", "hostname", "type", "image"}) {
    if (!body.contains(field) || !body[field].is_string() ||
        body[field].get<std::string>().empty()) {
      return invalid(std::string(field) + " is required");
    }
  }
  const std::string type = body["type"];
  const auto& types = InstanceTypes();
  if (std::find(types.begin(), types.end(), type) == types.end()) {
    return invalid("unknown instance type " + type);
  }
  const std::string image_key = body["image"];
  const Image* image = nullptr;
  for (const Image& im : images_) {
    if (im.id == image_key || (!im.slug.empty() && im.slug == image_key)) image = &im;
  }
  // SPEC23/reference §1.4: `image` is an image id or a snapshot id.
  const Snapshot* snapshot = image == nullptr ? FindSnapshot(image_key) : nullptr;
  if (image == nullptr && snapshot == nullptr) return invalid("unknown image " + image_key);
  if (snapshot != nullptr && snapshot->status != "available") {
    return invalid("snapshot " + image_key + " is not available yet");  // our choice
  }
  // SPEC23: "Only one of ssh_keys or password can be provided".
  if (body.contains("ssh_keys") && body.contains("password")) {
    return invalid("only one of ssh_keys or password can be provided");
  }
  std::vector<Ref> keys;
  if (body.contains("ssh_keys")) {
    if (!IsStringArray(body["ssh_keys"]) || body["ssh_keys"].empty()) {
      return invalid("ssh_keys must be a non-empty list of ids");  // minItems 1
    }
    for (const json& id : body["ssh_keys"]) {
      auto it = std::find_if(keys_.begin(), keys_.end(),
                             [&](const SshKey& k) { return k.id == id.get<std::string>(); });
      if (it == keys_.end()) return invalid("unknown ssh key " + id.get<std::string>());
      keys.push_back({it->id, it->name});
    }
  }
  if (body.contains("password")) {
    if (!body["password"].is_string() || !ValidPassword(body["password"])) {
      return invalid("password must have upper and lower chars, digits and length 8-72");
    }
  }
  std::vector<Ref> groups;
  if (body.contains("security_groups")) {
    if (!IsStringArray(body["security_groups"]) || body["security_groups"].empty()) {
      return invalid("security_groups must be a non-empty list of ids");
    }
    for (const json& id : body["security_groups"]) {
      SecurityGroup* g = FindGroup(id.get<std::string>());
      if (g == nullptr) return invalid("unknown security group " + id.get<std::string>());
      // Undocumented; a group on its way out takes no new instance here.
      if (g->status == "deleting") {
        return invalid("security group " + id.get<std::string>() + " is being deleted");
      }
      groups.push_back({g->id, g->name});
    }
  } else {
    // SPEC23: when omitted, the `standard` group is applied.
    for (const SecurityGroup& g : groups_) {
      if (g.name == "standard") groups.push_back({g.id, g.name});
    }
  }
  std::string script;
  if (body.contains("metadata")) {
    const json& md = body["metadata"];
    if (!md.is_object() || md.empty()) return invalid("metadata must be a non-empty object");
    if (md.contains("startup_script")) {
      if (!md["startup_script"].is_string()) return invalid("startup_script must be a string");
      script = md["startup_script"];
      if (script.size() > kMaxStartupScript) {
        return invalid("startup_script is limited to 64 KiB");
      }
    }
  }
  std::string region = "ARC-IS-HAF-1";  // SPEC23 default; 2020 clients sent none
  if (body.contains("region")) {
    if (!body["region"].is_string() ||
        std::find(kRegions.begin(), kRegions.end(), body["region"].get<std::string>()) ==
            kRegions.end()) {
      return invalid("unknown region");
    }
    region = body["region"];
  }
  // A snapshot is usable in its own region only: GO25 copies one to another region with
  // `replicated_region` or `POST /snapshots/{id}/clone` (the refusal itself is our choice).
  if (snapshot != nullptr && snapshot->region != region) {
    return invalid("snapshot " + image_key + " is in region " + snapshot->region + ", not " +
                   region);
  }
  // DOCS /images: an image that cannot run on the type -> 02035.
  if (image != nullptr && image->needs_gpu && type.find("nvidia") == std::string::npos) {
    return ErrorResponse(400, kCodeImageTypeMismatch,
                         "the selected image cannot be run on this instance");
  }
  if (instance_quota_ && static_cast<int>(instances_.size()) >= *instance_quota_) {
    return ErrorResponse(403, kCodeQuota,
                         "Instance quota exceeded: the account may run at most " +
                             std::to_string(*instance_quota_) + " instances");
  }
  const auto placement = OptionalString(body, "placement_option", "AUTO");
  const auto public_ip_type = OptionalString(body, "public_ip_type", "dynamic");
  if (!placement || !public_ip_type) {
    return invalid("placement_option and public_ip_type must be strings");
  }
  if (body.contains("is_protected") && !body["is_protected"].is_boolean() &&
      !body["is_protected"].is_null()) {
    return invalid("is_protected must be a boolean");
  }
  Instance inst;
  inst.id = NewId();
  inst.name = body["name"];
  inst.hostname = body["hostname"];
  inst.type = type;
  inst.region = region;
  inst.placement = *placement;
  inst.public_ip_type = *public_ip_type;
  inst.is_protected = body.contains("is_protected") && body["is_protected"].is_boolean() &&
                      body["is_protected"].get<bool>();
  inst.startup_script = script;
  inst.image = image != nullptr ? Ref{image->id, image->name} : Ref{snapshot->id, snapshot->name};
  inst.image_contents = image != nullptr ? image->contents : snapshot->contents;
  inst.ssh_keys = keys;
  inst.security_groups = groups;
  inst.status = "enqueued";  // PY20 fixture: enqueued, null IPs, null updated_at
  inst.created_at = Now();
  inst.slot = next_slot_;  // 0, 1, 2, ...: see SetStatus for the address plan
  ++next_slot_;
  inst.boot_seconds = config_.boot_seconds;
  inst.next_status = "creating";
  inst.next_at = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                     std::chrono::duration<double>(inst.boot_seconds * 0.2));
  instances_.push_back(inst);
  return SimResponse::Json(201, json{{"instance", InstanceJson(inst)}}.dump());
}

}  // namespace pygrid::sim::genesis
