#include "bootstrap/builder_data.h"

#include <algorithm>
#include <regex>

#include "bootstrap/internal/yaml_tree.h"
#include "bootstrap/user_data.h"

namespace pygrid::bootstrap {

std::vector<std::string> GridImages(const api::ClusterSpec& spec) {
  std::vector<std::string> images = {spec.pygrid.gateway_image, spec.pygrid.node_image};
  images.erase(std::remove(images.begin(), images.end(), std::string()), images.end());
  std::sort(images.begin(), images.end());
  images.erase(std::unique(images.begin(), images.end()), images.end());
  return images;
}

StatusOr<std::string> RenderBuilderUserData(const api::ClusterSpec& spec,
                                            const std::string& hostname,
                                            const Templates& templates) {
  static const std::regex label("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$");
  if (!std::regex_match(hostname, label)) {
    return Status::Invalid("builder hostname must be a DNS-1123 label of at most 63 characters");
  }
  // The packages come from the instances' own template, so a prepared image holds exactly what
  // their user data would have installed.
  const std::string* base_text = templates.Find("user-data.yaml");
  const std::string* gpu_setup = templates.Find("pygrid-gpu-setup.sh");
  if (base_text == nullptr || gpu_setup == nullptr) {
    return Status::Invalid("templates lack user-data.yaml or pygrid-gpu-setup.sh");
  }
  YAML::Node base;
  try {
    base = YAML::Load(*base_text);
  } catch (const YAML::Exception& error) {
    return Status::Invalid(std::string("template user-data.yaml is not valid YAML: ") +
                           error.what());
  }
  const bool gpu = spec.gpu_driver == api::GpuDriver::kNvidia;

  // A compose file naming every image and nothing else: `docker-compose pull` fetches them as
  // the instances' `docker-compose up` would, and instances overwrite the file with their own.
  YAML::Node compose;
  compose["version"] = "2.4";
  internal::MarkAsString(compose["version"]);
  const std::vector<std::string> images = GridImages(spec);
  for (size_t i = 0; i < images.size(); ++i) {
    YAML::Node service;
    service["image"] = images[i];
    internal::MarkAsString(service["image"]);
    compose["services"]["image" + std::to_string(i)] = service;
  }

  YAML::Node out;
  out["hostname"] = hostname;
  internal::MarkAsString(out["hostname"]);
  out["preserve_hostname"] = false;
  out["ssh_pwauth"] = false;
  out["disable_root"] = true;
  out["package_update"] = true;
  out["packages"] = base["packages"];
  auto file = [](const std::string& path, const std::string& permissions,
                 const std::string& content) {
    YAML::Node f;
    f["path"] = path;
    f["owner"] = "root:root";
    f["permissions"] = permissions;
    internal::MarkAsString(f["permissions"]);
    f["content"] = content;
    return f;
  };
  if (gpu)
    out["write_files"].push_back(file("/usr/local/sbin/pygrid-gpu-setup", "0755", *gpu_setup));
  // Read by nothing on the builder; says what the disk was prepared for (and the simulator's
  // set-up model reads GPU= as it does for instances).
  out["write_files"].push_back(
      file("/opt/pygrid/start.conf", "0600",
           std::string("ROLE=builder\nGPU=") + (gpu ? "nvidia" : "none") + "\n"));
  out["write_files"].push_back(file(kComposePath, "0600", internal::EmitYaml(compose)));
  std::string script = "set -eu; ";
  if (gpu) script += "/usr/local/sbin/pygrid-gpu-setup; ";
  script += std::string("docker-compose -f ") + kComposePath + " pull; mkdir -p /var/lib/pygrid; " +
            "touch " + kBakedMarkerPath;
  YAML::Node run;
  run.push_back("sh");
  run.push_back("-c");
  run.push_back(script);
  out["runcmd"].push_back(run);
  // Powers off only when everything above succeeded: a failed bake stays up (the operator times
  // it out and deletes it) instead of becoming a snapshot that lacks something.
  out["power_state"]["mode"] = "poweroff";
  out["power_state"]["message"] = "pygrid image prepared";
  YAML::Node condition;
  condition.push_back("test");
  condition.push_back("-f");
  condition.push_back(kBakedMarkerPath);
  out["power_state"]["condition"] = condition;
  std::string text = "#cloud-config\n" + internal::EmitYaml(out);
  if (text.size() > kMaxStartupScriptBytes) {
    return Status::Invalid("builder user data is " + std::to_string(text.size()) +
                           " bytes; Genesis Cloud accepts at most 64 KiB");
  }
  return text;
}

}  // namespace pygrid::bootstrap
