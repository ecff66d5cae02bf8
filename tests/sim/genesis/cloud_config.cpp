#include "cloud_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <sstream>

namespace pygrid::sim::genesis {
namespace {

constexpr char kComposePath[] = "/opt/pygrid/docker-compose.yml";
constexpr char kStartConfPath[] = "/opt/pygrid/start.conf";

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

// Compose accepts both a mapping and a list of "KEY=VALUE" strings for labels/environment.
std::map<std::string, std::string> KeyValues(const YAML::Node& node) {
  std::map<std::string, std::string> out;
  if (!node) return out;  // absent keys of a const node are invalid nodes in yaml-cpp
  if (node.IsMap()) {
    for (const auto& kv : node) {
      out[kv.first.as<std::string>()] = kv.second.IsNull() ? "" : kv.second.as<std::string>();
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      const std::string s = item.as<std::string>();
      const size_t eq = s.find('=');
      out[s.substr(0, eq)] = eq == std::string::npos ? "" : s.substr(eq + 1);
    }
  }
  return out;
}

int HostPort(const YAML::Node& ports) {
  if (!ports || !ports.IsSequence()) return 0;
  for (const auto& p : ports) {
    if (!p.IsScalar()) continue;
    std::string s = p.as<std::string>();  // "HOST:CONTAINER" or "IP:HOST:CONTAINER"
    const size_t last = s.rfind(':');
    if (last == std::string::npos) continue;
    std::string host = s.substr(0, last);
    const size_t prev = host.rfind(':');
    if (prev != std::string::npos) host = host.substr(prev + 1);
    try {
      return std::stoi(host);
    } catch (const std::exception&) {
      continue;
    }
  }
  return 0;
}

}  // namespace

bool ParseUserData(const std::string& text, const std::string& private_ip, UserData* out,
                   std::string* error) {
  if (text.rfind("#cloud-config", 0) != 0) {
    *error = "user data is not a #cloud-config document";
    return false;
  }
  try {
    YAML::Node root = YAML::Load(text);
    if (YAML::Node keys = root["ssh_keys"]; keys.IsMap()) {
      if (keys["ed25519_private"])
        out->host_key_private = keys["ed25519_private"].as<std::string>();
      if (keys["ed25519_public"]) out->host_key_public = keys["ed25519_public"].as<std::string>();
    }
    if (YAML::Node users = root["users"]; users.IsSequence()) {
      for (const auto& u : users) {
        if (!u.IsMap() || !u["ssh_authorized_keys"].IsSequence()) continue;
        for (const auto& k : u["ssh_authorized_keys"]) {
          out->authorized_keys.push_back(k.as<std::string>());
        }
      }
    }
    if (YAML::Node power = root["power_state"]; power.IsMap() && power["mode"].IsScalar()) {
      out->power_off = power["mode"].as<std::string>() == "poweroff";
    }
    if (root["package_update"]) out->package_update = root["package_update"].as<bool>(false);
    if (YAML::Node packages = root["packages"]; packages.IsSequence()) {
      for (const auto& p : packages) {
        // An item is a name or [name, version] (cloud-init package module).
        if (p.IsScalar()) out->packages.push_back(p.as<std::string>());
        if (p.IsSequence() && p.size() > 0) out->packages.push_back(p[0].as<std::string>());
      }
    }
    std::string compose_text;
    if (YAML::Node files = root["write_files"]; files.IsSequence()) {
      for (const auto& f : files) {
        if (!f.IsMap() || !f["path"] || !f["content"]) continue;
        const std::string path = f["path"].as<std::string>();
        if (path == kComposePath) compose_text = f["content"].as<std::string>();
        if (path == kStartConfPath) {
          // KEY=VALUE lines, read (never sourced) by pygrid-start (cloud-init/README.md).
          std::istringstream conf(f["content"].as<std::string>());
          for (std::string line; std::getline(conf, line);) {
            const size_t eq = line.find('=');
            if (eq != std::string::npos) out->start_conf[line.substr(0, eq)] = line.substr(eq + 1);
          }
          out->gpu_nvidia = out->start_conf["GPU"] == "nvidia";
          out->worker = out->start_conf["ROLE"] == "worker";
          out->deferred = out->worker && out->start_conf["GATEWAY_WAIT"] == "ssh";
        }
      }
    }
    if (compose_text.empty()) return true;
    YAML::Node compose = YAML::Load(compose_text);
    if (!compose["services"] || !compose["services"].IsMap()) return true;
    for (const auto& kv : compose["services"]) {
      const YAML::Node& svc = kv.second;
      if (svc["image"]) {
        const std::string image = svc["image"].as<std::string>();
        auto& images = out->compose_images;
        if (std::find(images.begin(), images.end(), image) == images.end()) {
          images.push_back(image);
        }
      }
      std::map<std::string, std::string> labels = KeyValues(svc["labels"]);
      auto role = labels.find("dev.pygrid.role");
      if (role == labels.end()) continue;
      PyGridService s;
      s.name = kv.first.as<std::string>();
      s.role = role->second;
      s.flavor = labels.count("dev.pygrid.flavor") ? labels["dev.pygrid.flavor"] : "";
      s.env = KeyValues(svc["environment"]);
      const std::string gateway_url = out->start_conf["GATEWAY_URL"];
      for (auto& [k, v] : s.env) {
        // Compose interpolation from /opt/pygrid/.env, written at boot by pygrid-start: the
        // private IP from `hostname -I`, the gateway URL from start.conf or the delivery.
        ReplaceAll(v, "${PYGRID_PRIVATE_IP}", private_ip);
        ReplaceAll(v, "$PYGRID_PRIVATE_IP", private_ip);
        if (v == "${PYGRID_GATEWAY_URL}" || v == "$PYGRID_GATEWAY_URL") {
          s.gateway_url_keys.push_back(k);
          v = gateway_url;
        }
      }
      s.host_port = HostPort(svc["ports"]);
      if (svc["restart"]) s.restart = svc["restart"].as<std::string>();
      out->services.push_back(s);
    }
  } catch (const std::exception& e) {
    *error = std::string("cannot parse user data: ") + e.what();
    return false;
  }
  return true;
}

}  // namespace pygrid::sim::genesis
