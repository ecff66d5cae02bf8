#include "api/validation.h"

#include <regex>
#include <set>

#include "api/defaults.h"

namespace pygrid::api {

namespace {

// These patterns are the CRD's, character for character
// (crds/pygridclusters.distributor.pygrid.dev.yaml); the agreement test keeps them so.
const std::regex& Dns1123Subdomain() {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
  return re;
}
const std::regex& SecretKeyPattern() {
  static const std::regex re("^[-._a-zA-Z0-9]+$");
  return re;
}
const std::regex& RegionPattern() {
  static const std::regex re("^[A-Z]+-[A-Z]{2}-[A-Z]{3}-[0-9]+$");
  return re;
}
const std::regex& ImagePattern() {
  static const std::regex re("^[A-Za-z0-9][A-Za-z0-9 ._:+/-]*$");
  return re;
}
const std::regex& SshKeyNamePattern() {
  static const std::regex re("^[A-Za-z0-9][A-Za-z0-9 ._@-]*$");
  return re;
}
const std::regex& InstanceTypePattern() {
  static const std::regex re("^vcpu-[0-9]+_memory-[0-9]+g(_disk-[0-9]+g)?(_[a-z0-9-]+-[0-9]+)?$");
  return re;
}
const std::regex& ContainerImagePattern() {
  static const std::regex re(
      "^$|^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
      "(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$");
  return re;
}
const std::regex& SecurityGroupPattern() {
  static const std::regex re("^$|^[a-zA-Z0-9][a-zA-Z0-9._-]*$");
  return re;
}
const std::regex& CidrPattern() {
  static const std::regex re(
      "^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
      "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/([0-9]|[12][0-9]|3[0-2])$");
  return re;
}
const std::regex& Dns1123Label() {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  return re;
}

class Checker {
 public:
  explicit Checker(std::vector<FieldCause>& causes) : causes_(causes) {}

  void Fail(const std::string& field, const std::string& message, const char* reason) {
    causes_.push_back({field, message, reason});
  }
  // Length, then pattern: the order the API server reports them in is irrelevant, but one
  // error per field keeps messages short.
  void Text(const std::string& field, const std::string& value, size_t min_length,
            size_t max_length, const std::regex& pattern, const char* pattern_hint) {
    if (value.size() < min_length) {
      Fail(field,
           min_length == 1 ? "must not be empty"
                           : "must be at least " + std::to_string(min_length) + " characters",
           "FieldValueRequired");
    } else if (value.size() > max_length) {
      Fail(field, "must be at most " + std::to_string(max_length) + " characters",
           "FieldValueTooLong");
    } else if (!std::regex_match(value, pattern)) {
      Fail(field, std::string("must be ") + pattern_hint, "FieldValueInvalid");
    }
  }
  void Range(const std::string& field, long long value, long long min, long long max) {
    if (value < min || value > max) {
      Fail(field, "must be between " + std::to_string(min) + " and " + std::to_string(max),
           "FieldValueInvalid");
    }
  }

 private:
  std::vector<FieldCause>& causes_;
};

}  // namespace

std::vector<FieldCause> ValidateSpec(const ClusterSpec& spec) {
  std::vector<FieldCause> causes;
  Checker check(causes);
  check.Text("spec.credentialsSecretRef.name", spec.credentials_secret_ref.name, 1, 253,
             Dns1123Subdomain(), "a DNS-1123 subdomain (lower case letters, digits, '-' and '.')");
  check.Text("spec.credentialsSecretRef.key", spec.credentials_secret_ref.key, 1, 253,
             SecretKeyPattern(), "a Secret key (letters, digits, '-', '_' and '.')");
  check.Text("spec.region", spec.region, 0, 1000, RegionPattern(),
             "a Genesis Cloud region such as ARC-IS-HAF-1");
  check.Text("spec.image", spec.image, 1, 128, ImagePattern(),
             "an image name, slug or id (letters, digits, space and ._:+/-)");
  check.Text("spec.preparedImage", spec.prepared_image, 1, 128, ImagePattern(),
             "auto (bake one), none (never), or the name or id of your own prepared image");
  if (spec.ssh_key_names.size() > 10) {
    check.Fail("spec.sshKeyNames", "must have at most 10 items", "FieldValueTooMany");
  }
  for (size_t i = 0; i < spec.ssh_key_names.size(); ++i) {
    check.Text("spec.sshKeyNames[" + std::to_string(i) + "]", spec.ssh_key_names[i], 1, 64,
               SshKeyNamePattern(), "an SSH key name (letters, digits, space and ._@-)");
  }
  constexpr char kInstanceTypeHint[] =
      "a Genesis Cloud instance type such as vcpu-4_memory-12g_disk-80g_nvidia1080ti-1";
  check.Text("spec.gateway.instanceType", spec.gateway.instance_type, 0, 1000,
             InstanceTypePattern(), kInstanceTypeHint);
  check.Range("spec.workers.replicas", spec.workers.replicas, 0, 100);
  for (const auto& [field, text] :
       {std::pair<const char*, std::string>{"spec.gateway.startupTimeout",
                                            spec.gateway.startup_timeout},
        {"spec.workers.startupTimeout", spec.workers.startup_timeout},
        {"spec.provisioningTimeout", spec.provisioning_timeout}}) {
    std::optional<std::chrono::seconds> timeout = ParseDuration(text);
    if (!text.empty() &&
        (!timeout || *timeout < std::chrono::minutes(1) || *timeout > std::chrono::hours(24))) {
      check.Fail(field, "must be a duration from 1m to 24h such as 30m (s, m or h)",
                 "FieldValueInvalid");
    }
  }
  if (!spec.workers.max_unhealthy.empty() && !MaxUnhealthyWorkers(spec.workers)) {
    check.Fail("spec.workers.maxUnhealthy", "must be a count such as 2 or a percentage such as 40%",
               "FieldValueInvalid");
  }
  if (!spec.workers.max_unavailable.empty() && !MaxUnavailableWorkers(spec.workers)) {
    check.Fail("spec.workers.maxUnavailable",
               "must be a count of at least 1 such as 2 or a percentage from 1% to 100% such as "
               "25% (a rolling update replaces a worker in place, so 0 could never start one)",
               "FieldValueInvalid");
  }
  check.Text("spec.workers.instanceType", spec.workers.instance_type, 0, 1000,
             InstanceTypePattern(), kInstanceTypeHint);
  check.Text("spec.pygrid.gatewayImage", spec.pygrid.gateway_image, 0, 255, ContainerImagePattern(),
             "a container image reference such as openmined/grid-gateway:latest");
  check.Text("spec.pygrid.nodeImage", spec.pygrid.node_image, 0, 255, ContainerImagePattern(),
             "a container image reference such as openmined/grid-node:latest");
  for (const auto& [field, port] :
       {std::pair<const char*, int>{"spec.pygrid.gatewayPort", spec.pygrid.gateway_port},
        {"spec.pygrid.nodePort", spec.pygrid.node_port}}) {
    check.Range(field, port, 0, 65535);
    if (port == 22) check.Fail(field, "must not be 22, which SSH uses", "FieldValueForbidden");
  }
  const std::string& group = spec.network.security_group_name;
  check.Text("spec.network.securityGroupName", group, 0, 64, SecurityGroupPattern(),
             "a security group name (letters, digits and ._-, starting with a letter or digit)");
  if (group == "standard" || group == "default") {
    check.Fail("spec.network.securityGroupName",
               "must not be standard or default, which Genesis Cloud reserves",
               "FieldValueForbidden");
  }
  const auto& cidrs = spec.network.allowed_source_cidrs;
  if (cidrs.empty()) {
    check.Fail("spec.network.allowedSourceCIDRs", "must have at least 1 item",
               "FieldValueRequired");
  } else if (cidrs.size() > 20) {
    check.Fail("spec.network.allowedSourceCIDRs", "must have at most 20 items",
               "FieldValueTooMany");
  }
  for (size_t i = 0; i < cidrs.size(); ++i) {
    check.Text("spec.network.allowedSourceCIDRs[" + std::to_string(i) + "]", cidrs[i], 0, 1000,
               CidrPattern(), "an IPv4 CIDR such as 203.0.113.0/24");
  }
  return causes;
}

std::vector<FieldCause> ValidateCluster(const PyGridCluster& cluster) {
  std::vector<FieldCause> causes;
  Checker check(causes);
  check.Text(
      "metadata.name", cluster.metadata.name, 1, kMaxClusterNameLength, Dns1123Label(),
      "a DNS-1123 label (lower case letters, digits and '-'), so instance hostnames are valid");
  std::vector<FieldCause> spec_causes = ValidateSpec(cluster.spec);
  causes.insert(causes.end(), spec_causes.begin(), spec_causes.end());
  const PyGridSpec& pygrid = cluster.spec.pygrid;
  if (cluster.spec.gateway.colocated_worker && pygrid.gateway_port != 0 &&
      pygrid.gateway_port == pygrid.node_port) {
    check.Fail(
        "spec.pygrid.nodePort",
        "must differ from spec.pygrid.gatewayPort while spec.gateway.colocatedWorker is true",
        "FieldValueInvalid");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < cluster.spec.ssh_key_names.size(); ++i) {
    if (!seen.insert(cluster.spec.ssh_key_names[i]).second) {
      check.Fail("spec.sshKeyNames[" + std::to_string(i) + "]", "is a duplicate",
                 "FieldValueDuplicate");
    }
  }
  return causes;
}

std::string JoinCauses(const std::vector<FieldCause>& causes) {
  std::string out;
  for (const FieldCause& cause : causes) {
    if (!out.empty()) out += "; ";
    out += cause.field + ": " + cause.message;
  }
  return out;
}

}  // namespace pygrid::api
