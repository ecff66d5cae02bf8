// The set-up time model of genesis-sim: how long an instance's user data would really take
// before its services start (apt index refresh, Docker, NVIDIA driver and container toolkit,
// image pulls), given what the boot image already holds. The figures and their sources are in
// README.md ("Set-up time model").
//
//   UserData needs;  // from ParseUserData
//   std::vector<SetupStep> steps = PlanSetup(needs, image_contents, SetupFigures{});
//   double real = TotalSeconds(steps);  // the simulator charges real * --time-scale
//
// Thread-safety: pure functions.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "cloud_config.h"

namespace pygrid::sim::genesis {

// What an image can hold; image pulls are "image:<reference>".
inline constexpr char kItemDocker[] = "docker";
inline constexpr char kItemNvidiaDriver[] = "nvidia-driver";
inline constexpr char kItemContainerToolkit[] = "nvidia-container-toolkit";
// Not an item an image can hold: cloud-init refreshes the apt index on every instance's first
// boot when the user data has package_update or packages.
inline constexpr char kStepAptUpdate[] = "apt-update";

// Real-world durations in seconds (README.md cites each one or calls it an estimate).
struct SetupFigures {
  double apt_update = 15;
  double docker = 60;
  double nvidia_driver = 180;
  double container_toolkit = 30;
  double pull_pytorch_image = 75;  // openmined/grid-node, openmined/grid-gateway (torch inside)
  double pull_small_image = 10;    // openmined/grid-network (Flask, no torch), redis
  double pull_other_image = 30;
};

// One step of the set-up, in the order the user data runs them.
struct SetupStep {
  std::string item;  // kItem*, kStepAptUpdate or "image:<reference>"
  double seconds = 0;
};

// The steps `user_data` still needs on an image that holds `contents` (items as above).
std::vector<SetupStep> PlanSetup(const UserData& user_data, const std::set<std::string>& contents,
                                 const SetupFigures& figures);

// Seconds a pull of `reference` takes per `figures`.
double PullSeconds(const std::string& reference, const SetupFigures& figures);

double TotalSeconds(const std::vector<SetupStep>& steps);

}  // namespace pygrid::sim::genesis
