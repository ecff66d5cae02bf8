// Benchmark (prints figures, asserts nothing): the real operator against kube-sim and
// genesis-sim.
//  1. Time to Ready for N = 1, 8, 32 workers with boot delay B, as a multiple of B, and the
//     Genesis Cloud API calls by type. With parallel worker creation the ideal is about 2 B
//     (gateway, then all workers), where the original distributor needed (N + 1) B.
//  2. Many clusters with near-zero boot delay: time until all are Ready and the operator's
//     peak RSS.
//
//   build/ci/bin/operator_bench [--boot-seconds 5] [--workers 1,8,32] [--clusters 100,1000]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/grid_fixture.h"

namespace {

using nlohmann::json;
using pygrid::e2e::ClusterYaml;
using pygrid::e2e::Grid;
using pygrid::e2e::StatusOf;
using Clock = std::chrono::steady_clock;

std::vector<int> ParseList(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoi(item));
  return out;
}

// Requests by "METHOD /path" with ids folded to {id}.
std::map<std::string, int> CallsByType(const Grid& grid) {
  std::map<std::string, int> calls;
  const std::vector<json> requests = grid.Requests();
  static const std::regex id("/[0-9a-f]{8}-[0-9a-f-]{27}");
  for (const json& request : requests) {
    calls[request.value("method", "") + " " +
          std::regex_replace(request.value("path", ""), id, "/{id}")]++;
  }
  return calls;
}

long PeakRssKiB(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

bool AllReady(const Grid& grid, int count) {
  json list = json::parse(grid.Kubectl("get pgc -o json").output, nullptr, false);
  if (!list.is_object()) return false;
  int ready = 0;
  for (const json& item : list.value("items", json::array())) {
    for (const json& condition : StatusOf(item).value("conditions", json::array())) {
      if (condition.value("type", "") == "Ready" && condition.value("status", "") == "True")
        ++ready;
    }
  }
  return ready == count;
}

void TimeToReady(double boot, int workers) {
  Grid grid({boot, /*sshd=*/true});
  grid.InstallCrdAndSecret();
  grid.SimDelete("/_sim/requests");
  grid.StartOperator({"--poll-interval=500ms"});
  const auto start = Clock::now();
  grid.Apply(ClusterYaml("bench", workers));
  const bool ready = grid.WaitForCondition("bench", "Ready", "True",
                                           std::chrono::seconds(static_cast<int>(60 + 10 * boot)));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "workers=%-3d boot=%.1fs ready=%s time_to_ready=%.1fs = %.2f x boot (serial would be %d x)\n",
      workers, boot, ready ? "yes" : "NO", seconds, seconds / boot, workers + 1);
  for (const auto& [call, count] : CallsByType(grid))
    std::printf("    %5d  %s\n", count, call.c_str());
}

void ManyClusters(int clusters) {
  Grid grid({/*boot_seconds=*/0.1, /*sshd=*/false});
  grid.InstallCrdAndSecret();
  const int op = grid.StartOperator(
      {"--poll-interval=2s", "--log-level=info", "--max-concurrent-reconciles=4"});
  std::string yaml;
  for (int i = 0; i < clusters; ++i) {
    yaml += ClusterYaml(
                "c" + std::to_string(i), 0,
                "  gateway: {instanceType: vcpu-4_memory-8g_disk-80g, colocatedWorker: false}\n") +
            "---\n";
  }
  const auto start = Clock::now();
  grid.Apply(yaml);
  const bool ready =
      Grid::WaitUntil([&] { return AllReady(grid, clusters); }, std::chrono::seconds(1800));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const std::map<std::string, int> calls = CallsByType(grid);
  int list_calls = 0, total = 0;
  for (const auto& [call, count] : calls) {
    total += count;
    if (call == "GET /compute/v1/instances") list_calls = count;
  }
  std::printf(
      "clusters=%-4d all_ready=%s time=%.1fs peak_rss=%ld KiB genesis_calls=%d (instance lists "
      "%d)\n",
      clusters, ready ? "yes" : "NO", seconds, PeakRssKiB(grid.OperatorPid(op)), total, list_calls);
}

}  // namespace

int main(int argc, char** argv) {
  double boot = 5;
  std::vector<int> workers = {1, 8, 32};
  std::vector<int> clusters = {100, 1000};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--boot-seconds") boot = std::stod(argv[i + 1]);
    if (flag == "--workers") workers = ParseList(argv[i + 1]);
    if (flag == "--clusters") clusters = ParseList(argv[i + 1]);
  }
  std::printf("== time to Ready (boot delay %.1f s)\n", boot);
  for (int n : workers) TimeToReady(boot, n);
  std::printf("== many clusters (1 instance each, boot delay 0.1 s)\n");
  for (int n : clusters) ManyClusters(n);
  return 0;
}
