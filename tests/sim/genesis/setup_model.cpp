#include "setup_model.h"

#include <algorithm>

namespace pygrid::sim::genesis {

namespace {

bool Has(const std::vector<std::string>& list, const char* name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// The repository part of an image reference: "openmined/grid-node:latest" -> "openmined/grid-node".
std::string Repository(const std::string& reference) {
  std::string repo = reference.substr(0, reference.find('@'));
  const size_t slash = repo.rfind('/');
  const size_t colon = repo.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    repo = repo.substr(0, colon);
  }
  return repo;
}

}  // namespace

double PullSeconds(const std::string& reference, const SetupFigures& figures) {
  const std::string repo = Repository(reference);
  // The node images carry torch (pygrid.md §9); the early-2020 gateway is built on
  // openmined/pysyft-lite, which carries syft and with it torch.
  if (repo == "openmined/grid-node" || repo == "openmined/grid-gateway") {
    return figures.pull_pytorch_image;
  }
  if (repo == "openmined/grid-network" || repo == "redis") return figures.pull_small_image;
  return figures.pull_other_image;
}

std::vector<SetupStep> PlanSetup(const UserData& user_data, const std::set<std::string>& contents,
                                 const SetupFigures& figures) {
  std::vector<SetupStep> steps;
  auto missing = [&](const std::string& item) { return contents.count(item) == 0; };
  // cloud-init's package module runs first (config stage), then runcmd: pygrid-start runs
  // pygrid-gpu-setup, then `docker-compose up -d`, which pulls what is missing.
  if (user_data.package_update || !user_data.packages.empty()) {
    steps.push_back({kStepAptUpdate, figures.apt_update});
  }
  const auto& p = user_data.packages;
  if ((Has(p, "docker.io") || Has(p, "docker-ce") || Has(p, "docker-compose")) &&
      missing(kItemDocker)) {
    steps.push_back({kItemDocker, figures.docker});
  }
  if (user_data.gpu_nvidia) {
    if (missing(kItemNvidiaDriver)) steps.push_back({kItemNvidiaDriver, figures.nvidia_driver});
    if (missing(kItemContainerToolkit)) {
      steps.push_back({kItemContainerToolkit, figures.container_toolkit});
    }
  }
  for (const std::string& image : user_data.compose_images) {
    const std::string item = "image:" + image;
    if (missing(item)) steps.push_back({item, PullSeconds(image, figures)});
  }
  return steps;
}

double TotalSeconds(const std::vector<SetupStep>& steps) {
  double total = 0;
  for (const SetupStep& s : steps) total += s.seconds;
  return total;
}

}  // namespace pygrid::sim::genesis
