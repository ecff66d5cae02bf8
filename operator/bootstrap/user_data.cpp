#include "bootstrap/user_data.h"

#include <regex>
#include <set>

#include "bootstrap/internal/yaml_tree.h"

namespace pygrid::bootstrap {

namespace {

using api::ClusterSpec;
using api::Flavor;
using api::GpuDriver;
using api::InstanceRole;

const char* FlavorDirectory(Flavor flavor) {
  return flavor == Flavor::kNetwork02 ? "network-0.2" : "gateway-2020";
}

// The path a node answers on when it is up: the 0.2.x node has a status route; the early-2020
// node only its index page (shared reference pygrid.md §6).
const char* NodeCheckPath(Flavor flavor) {
  return flavor == Flavor::kNetwork02 ? "/data-centric/status/" : "/";
}

// Compose interpolates "$NAME" and "${NAME}" in values; "$$" is a literal dollar sign.
std::string ComposeLiteral(const std::string& value) {
  std::string out;
  for (char c : value) {
    out += c;
    if (c == '$') out += '$';
  }
  return out;
}

std::string Unchanged(const std::string& value) { return value; }

Status CheckInput(const ClusterSpec& spec, const InstanceUserDataInput& input) {
  static const std::regex hostname("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$");
  static const std::regex node_id("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");
  static const std::regex ipv4(
      "^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
      "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$");
  static const std::regex public_key(
      "^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp[0-9]+) [A-Za-z0-9+/=]+( [^\\n\\r]*)?$");
  std::vector<FieldCause> causes;
  if (!std::regex_match(input.hostname, hostname)) {
    causes.push_back({"hostname", "must be a DNS-1123 label of at most 63 characters", ""});
  }
  const bool runs_node = input.role == InstanceRole::kWorker || spec.gateway.colocated_worker;
  if (runs_node && !std::regex_match(input.node_id, node_id)) {
    causes.push_back({"nodeID", "must be 1-63 letters, digits, '.', '_' or '-'", ""});
  }
  // Empty on a worker: a deferred worker, which waits for the address over SSH.
  if (input.role == InstanceRole::kWorker && !input.gateway_private_ip.empty() &&
      !std::regex_match(input.gateway_private_ip, ipv4)) {
    causes.push_back({"gatewayPrivateIP", "must be an IPv4 address (or empty: deferred)", ""});
  }
  if (input.role == InstanceRole::kGateway && input.secret_key.empty()) {
    causes.push_back({"secretKey", "must not be empty", ""});
  }
  if (!std::regex_match(input.operator_public_key, public_key)) {
    causes.push_back({"operatorPublicKey", "must be one OpenSSH public key line", ""});
  }
  for (const std::string& key : input.extra_authorized_keys) {
    if (!std::regex_match(key, public_key)) {
      causes.push_back({"authorizedKeys", "must be OpenSSH public key lines", ""});
    }
  }
  if (input.host_public_key.rfind("ssh-ed25519 ", 0) != 0 ||
      input.host_private_key.find("PRIVATE KEY-----") == std::string::npos) {
    causes.push_back({"hostKey", "must be an ed25519 key pair in OpenSSH format", ""});
  }
  static const std::regex cidr(
      "^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
      "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/([0-9]|[12][0-9]|3[0-2])$");
  for (const std::string& source : spec.network.allowed_source_cidrs) {
    if (!std::regex_match(source, cidr))
      causes.push_back({"allowedSourceCIDRs", "must be IPv4 CIDRs", ""});
  }
  if (!causes.empty()) return Status::Invalid("user data inputs are invalid", causes);
  return Status::Ok();
}

// /opt/pygrid/start.conf: KEY=VALUE lines read (never sourced) by pygrid-start.sh. Every
// value here is operator-made and checked by CheckInput, so none holds a newline.
std::string StartConf(const ClusterSpec& spec, const InstanceUserDataInput& input) {
  const int gateway_port = spec.pygrid.gateway_port;
  const std::string node_check = "http://127.0.0.1:" + std::to_string(spec.pygrid.node_port) +
                                 NodeCheckPath(spec.pygrid.flavor);
  std::string role, gateway_url, gateway_wait, node_id, checks;
  if (input.role == InstanceRole::kGateway) {
    role = "gateway";
    gateway_url = "http://127.0.0.1:" + std::to_string(gateway_port);
    checks = gateway_url + "/";
    if (spec.gateway.colocated_worker) {
      checks += " " + node_check;
      node_id = input.node_id;
    }
  } else {
    role = "worker";
    if (IsDeferredWorker(input)) {
      gateway_wait = "ssh";
    } else {
      gateway_url = GatewayJoinURL(spec, input.gateway_private_ip);
    }
    checks = node_check;
    node_id = input.node_id;
  }
  std::string conf;
  conf += "ROLE=" + role + "\n";
  conf += std::string("GPU=") + (spec.gpu_driver == GpuDriver::kNvidia ? "nvidia" : "none") + "\n";
  // A deferred worker has no GATEWAY_URL: pygrid-start waits for the operator to deliver it
  // into kInboxPath (cloud-init/README.md, "Deferred workers").
  if (gateway_wait.empty()) conf += "GATEWAY_URL=" + gateway_url + "\n";
  if (!gateway_wait.empty()) conf += "GATEWAY_WAIT=" + gateway_wait + "\n";
  // The owner of the inbox the operator writes to over SSH, without sudo.
  if (input.role == InstanceRole::kWorker) conf += std::string("LOGIN_USER=") + kLoginUser + "\n";
  conf += "NODE_ID=" + node_id + "\n";
  conf += "CHECK_URLS=" + checks + "\n";
  // Read by pygrid-firewall: who may reach SSH and the grid's ports (the security group
  // restricts ports only).
  std::string cidrs;
  for (const std::string& cidr : spec.network.allowed_source_cidrs)
    cidrs += (cidrs.empty() ? "" : " ") + cidr;
  conf += "ALLOWED_CIDRS=" + cidrs + "\n";
  conf += "PORTS=22 " + std::to_string(spec.pygrid.gateway_port) + " " +
          std::to_string(spec.pygrid.node_port) + "\n";
  return conf;
}

StatusOr<YAML::Node> LoadTemplate(const Templates& templates, const std::string& path) {
  const std::string* text = templates.Find(path);
  if (text == nullptr) return Status::Invalid("no template " + path);
  try {
    return YAML::Load(*text);
  } catch (const YAML::Exception& error) {
    return Status::Invalid("template " + path + " is not valid YAML: " + error.what());
  }
}

// Gives every node service the GPUs through the NVIDIA container runtime.
void AddGpu(YAML::Node compose) {
  for (auto service : compose["services"]) {
    YAML::Node labels = service.second["labels"];
    if (!labels || !labels["dev.pygrid.role"] || labels["dev.pygrid.role"].Scalar() != "node")
      continue;
    service.second["runtime"] = "nvidia";
    YAML::Node env = service.second["environment"];
    env["NVIDIA_VISIBLE_DEVICES"] = "all";
    internal::MarkAsString(env["NVIDIA_VISIBLE_DEVICES"]);
    env["NVIDIA_DRIVER_CAPABILITIES"] = "compute,utility";
    internal::MarkAsString(env["NVIDIA_DRIVER_CAPABILITIES"]);
  }
}

}  // namespace

bool IsDeferredWorker(const InstanceUserDataInput& input) {
  return input.role == InstanceRole::kWorker && input.gateway_private_ip.empty();
}

std::string GatewayJoinURL(const ClusterSpec& spec, const std::string& gateway_private_ip) {
  return "http://" + gateway_private_ip + ":" + std::to_string(spec.pygrid.gateway_port);
}

StatusOr<std::string> RenderCompose(const ClusterSpec& spec, const InstanceUserDataInput& input,
                                    const Templates& templates) {
  const std::string path =
      std::string("compose/") + FlavorDirectory(spec.pygrid.flavor) +
      (input.role == InstanceRole::kGateway ? "/gateway.yaml" : "/worker.yaml");
  StatusOr<YAML::Node> compose = LoadTemplate(templates, path);
  if (!compose.ok()) return compose.status();
  std::set<std::string> flags;
  if (spec.gateway.colocated_worker) flags.insert("colocatedWorker");
  internal::ApplyConditions(*compose, flags);
  std::map<std::string, std::string> values = {
      {"gatewayImage", spec.pygrid.gateway_image},
      {"nodeImage", spec.pygrid.node_image},
      {"gatewayPort", std::to_string(spec.pygrid.gateway_port)},
      {"nodePort", std::to_string(spec.pygrid.node_port)},
      {"nodeID", input.node_id},
      {"secretKey", input.secret_key},
  };
  // The built-in templates take the URL from ${PYGRID_GATEWAY_URL}; a customised copy made
  // before that may still say {{gatewayURL}}, which only a worker with an address can fill.
  if (input.role == InstanceRole::kWorker && !IsDeferredWorker(input)) {
    values["gatewayURL"] = GatewayJoinURL(spec, input.gateway_private_ip);
  }
  Status substituted = internal::SubstitutePlaceholders(*compose, values, {}, &ComposeLiteral);
  if (!substituted.ok()) return substituted;
  if (spec.gpu_driver == GpuDriver::kNvidia) AddGpu(*compose);
  return internal::EmitYaml(*compose);
}

StatusOr<std::string> RenderUserData(const ClusterSpec& spec, const InstanceUserDataInput& input,
                                     const Templates& templates) {
  Status checked = CheckInput(spec, input);
  if (!checked.ok()) return checked;
  StatusOr<std::string> compose = RenderCompose(spec, input, templates);
  if (!compose.ok()) return compose.status();
  StatusOr<YAML::Node> user_data = LoadTemplate(templates, "user-data.yaml");
  if (!user_data.ok()) return user_data.status();
  const std::map<std::string, std::string> values = {
      {"hostname", input.hostname},
      {"hostPrivateKey", input.host_private_key},
      {"hostPublicKey", input.host_public_key},
      {"startConf", StartConf(spec, input)},
      {"composeFile", *compose},
  };
  Status substituted =
      internal::SubstitutePlaceholders(*user_data, values, templates.files(), &Unchanged);
  if (!substituted.ok()) return substituted;
  if (input.prepared_image) {
    user_data->remove("package_update");
    user_data->remove("packages");
  }
  YAML::Node keys = (*user_data)["users"][0]["ssh_authorized_keys"];
  keys.push_back(input.operator_public_key);
  for (const std::string& key : input.extra_authorized_keys) keys.push_back(key);
  for (auto key : keys) internal::MarkAsString(key);
  std::string text = "#cloud-config\n" + internal::EmitYaml(*user_data);
  if (text.size() > kMaxStartupScriptBytes) {
    return Status::Invalid("user data for " + input.hostname + " is " +
                           std::to_string(text.size()) + " bytes; Genesis Cloud accepts at most " +
                           std::to_string(kMaxStartupScriptBytes) + " (64 KiB) in startup_script");
  }
  return text;
}

}  // namespace pygrid::bootstrap
