// Benchmark (prints figures, asserts nothing): the real operator against kube-sim and
// genesis-sim.
//  1. Time to Ready for N = 1, 8, 32 workers with boot delay B, as a multiple of B, and the
//     Genesis Cloud API calls by type. With parallel worker creation the ideal is about 2 B
//     (gateway, then all workers), where the original distributor needed (N + 1) B.
//  2. Mass create: C single-instance clusters in one account (boot delay 4 s): Genesis calls
//     per instance, instance-list pages per poll interval, time as a multiple of the API floor
//     (calls / 10 req/s), and the operator's peak RSS and CPU.
//  3. (--modelled on|only) Modelled real-world time to Ready with genesis-sim's set-up time
//     model (issue 14): the 2020 script's model beside today's operator and the operator on a
//     baked image, for a first grid and a scale-up by one worker (see ModelledTable); then the
//     operator baking its own image beside a first grid, and a scale-up after it.
//
//   build/ci/bin/operator_bench [--boot-seconds 5] [--workers 1,8,32] [--clusters 300]
//                               [--mass-boot-seconds 4]
//                               [--modelled off|on|only] [--modelled-workers 1,8,32]
//                               [--modelled-scale 0.02] [--modelled-boot 50]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/grid_fixture.h"
#include "sim/genesis/setup_model.h"
#include "testing/process.h"

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

// A numeric field of /proc/PID/status ("VmHWM:" is the peak RSS in KiB, "Threads:" the
// thread count); -1 when absent.
long ProcStatus(int pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
  }
  return -1;
}
// The operator's Kubernetes API requests by "verb resource[/subresource]", from kube-sim's
// request log (its last 10,000 requests).
std::map<std::string, int> KubeCallsByType(const Grid& grid) {
  std::map<std::string, int> calls;
  const auto fetched =
      pygrid::testing::RunCommand("curl -sk --max-time 30 " + grid.KubeSimUrl() + "/_sim/requests");
  const json log = json::parse(fetched.output, nullptr, false);
  if (!log.is_object()) return calls;
  for (const json& request : log.value("requests", json::array())) {
    if (request.value("userAgent", "").rfind("pygrid-operator", 0) != 0) continue;
    const std::string subresource = request.value("subresource", "");
    calls[request.value("verb", "") + " " + request.value("resource", "") +
          (subresource.empty() ? "" : "/" + subresource)]++;
  }
  return calls;
}

long PeakRssKiB(int pid) { return ProcStatus(pid, "VmHWM:"); }

// User plus system CPU seconds the process has used so far (/proc/PID/stat fields 14 and 15).
double CpuSeconds(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t end_of_name = text.rfind(')');
  if (end_of_name == std::string::npos) return -1;
  std::istringstream fields(text.substr(end_of_name + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Seconds since midnight UTC of a wall-clock time (the simulator logs RFC 3339 UTC times).
double SecondOfDay(std::chrono::system_clock::time_point at) {
  const double since_epoch = std::chrono::duration<double>(at.time_since_epoch()).count();
  return since_epoch - 86400.0 * static_cast<long long>(since_epoch / 86400.0);
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

// When the first and the last instance create reached genesis-sim, in seconds after
// `start_of_day` (SecondOfDay of the apply); -1 when none did.
std::pair<double, double> CreateWindow(const Grid& grid, double start_of_day) {
  double first = -1, last = -1;
  for (const json& request : grid.Requests()) {
    if (request.value("method", "") != "POST" ||
        request.value("path", "") != "/compute/v1/instances")
      continue;
    const std::string time = request.value("time", "");
    const size_t t = time.find('T');
    if (t == std::string::npos) continue;
    const double at = std::stod(time.substr(t + 1, 2)) * 3600 +
                      std::stod(time.substr(t + 4, 2)) * 60 + std::stod(time.substr(t + 7, 6)) -
                      start_of_day;
    if (first < 0) first = at;
    last = at;
  }
  return {first, last};
}

void TimeToReady(double boot, int workers) {
  Grid grid({boot, /*sshd=*/true});
  grid.InstallCrdAndSecret();
  grid.SimDelete("/_sim/requests");
  grid.StartOperator({"--poll-interval=500ms"});
  const auto start = Clock::now();
  const double start_of_day = SecondOfDay(std::chrono::system_clock::now());
  grid.Apply(ClusterYaml("bench", workers));
  const bool ready = grid.WaitForCondition("bench", "Ready", "True",
                                           std::chrono::seconds(static_cast<int>(60 + 10 * boot)));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "workers=%-3d boot=%.1fs ready=%s time_to_ready=%.1fs = %.2f x boot (serial would be %d x)\n",
      workers, boot, ready ? "yes" : "NO", seconds, seconds / boot, workers + 1);
  // The floor: the last create cannot go out before (N+1) creates at the API budget, and its
  // instance boots B after it; what is left is the operator's own overhead.
  const auto [first_create, last_create] = CreateWindow(grid, start_of_day);
  std::printf(
      "    creates sent %.2fs..%.2fs after the apply; ready %.2fs after the last create's boot "
      "(%.2f x boot from the first create)\n",
      first_create, last_create, seconds - last_create - boot, (seconds - first_create) / boot);
  for (const auto& [call, count] : CallsByType(grid))
    std::printf("    %5d  %s\n", count, call.c_str());
}

// Mass create: C single-instance clusters in one account with boot delay `boot`. Prints the
// Genesis calls per instance (all, and without the shared instance lists, which cost a constant
// per poll interval), the lists per poll interval, and the time as a multiple of the API floor
// (calls / 10 requests per second, the client's budget), plus the operator's peak RSS.
void ManyClusters(int clusters, double boot) {
  constexpr double kPollSeconds = 2;
  constexpr double kBudget = 10;  // requests per second (the client's default, HARKER21)
  Grid grid({boot, /*sshd=*/false});
  grid.InstallCrdAndSecret();
  const int op = grid.StartOperator(
      {"--poll-interval=2s", "--log-level=info", "--max-concurrent-reconciles=4"});
  grid.SimDelete("/_sim/requests");
  std::string yaml;
  for (int i = 0; i < clusters; ++i) {
    yaml += ClusterYaml(
                "c" + std::to_string(i), 0,
                "  gateway: {instanceType: vcpu-4_memory-8g_disk-80g, colocatedWorker: false}\n") +
            "---\n";
  }
  const auto start = Clock::now();
  const double start_of_day = SecondOfDay(std::chrono::system_clock::now());
  grid.Apply(yaml);
  // Checked once a second: `kubectl get` of hundreds of objects costs CPU the operator needs.
  bool ready = false;
  while (!ready && Clock::now() - start < std::chrono::minutes(30)) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    ready = AllReady(grid, clusters);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const auto [first_create, last_create] = CreateWindow(grid, start_of_day);
  const std::map<std::string, int> calls = CallsByType(grid);
  int list_calls = 0, group_calls = 0, total = 0;
  for (const auto& [call, count] : calls) {
    total += count;
    if (call == "GET /compute/v1/instances") list_calls = count;
    if (call.find("/security-groups") != std::string::npos) group_calls += count;
  }
  const double floor = total / kBudget;
  std::printf(
      "clusters=%-4d boot=%.1fs all_ready=%s time=%.1fs genesis_calls=%d (instance list pages "
      "%d, security-group calls %d) peak_rss=%ld KiB operator_cpu=%.1fs\n"
      "    calls/instance=%.2f (without instance lists %.2f; list pages per %.0fs poll "
      "interval %.2f) time/API floor=%.2f (floor %.1fs = calls / %.0f req/s)\n",
      clusters, boot, ready ? "yes" : "NO", seconds, total, list_calls, group_calls,
      PeakRssKiB(grid.OperatorPid(op)), CpuSeconds(grid.OperatorPid(op)),
      static_cast<double>(total) / clusters, static_cast<double>(total - list_calls) / clusters,
      kPollSeconds, list_calls / (seconds / kPollSeconds), seconds / floor, floor, kBudget);
  std::printf("    instance creates sent from %.1fs to %.1fs after the apply\n", first_create,
              last_create);
  int kube_total = 0;
  const std::map<std::string, int> kube_calls = KubeCallsByType(grid);
  for (const auto& [call, count] : kube_calls) kube_total += count;
  std::printf("    Kubernetes API requests by the operator: %d (%.1f per cluster, %.1f/s)\n",
              kube_total, static_cast<double>(kube_total) / clusters, kube_total / seconds);
  for (const auto& [call, count] : kube_calls) std::printf("    %5d  %s\n", count, call.c_str());
  const int pid = grid.OperatorPid(op);
  std::printf("    operator at the end: threads=%ld rss=%ld KiB (anonymous %ld KiB)\n",
              ProcStatus(pid, "Threads:"), ProcStatus(pid, "VmRSS:"), ProcStatus(pid, "RssAnon:"));
  for (const auto& [call, count] : calls) std::printf("    %5d  %s\n", count, call.c_str());
}

// ---- 3. Modelled real-world time to Ready (issue 14) ----------------------------------------
//
// genesis-sim charges each instance the set-up its user data would really take (apt refresh,
// Docker, NVIDIA driver and toolkit, image pulls; tests/sim/genesis/README.md "Set-up time
// model") times its --time-scale s, and boots in B x s; the operator runs with its default poll
// interval (10 s) times s. A wall time is then T(s) = s x M + O: M the modelled real-world time,
// O the machinery's unscaled work (API calls, SSH probes, kubectl, status writes: about 1-4 s
// here, noisy). Every grid is run at s and 4 s, which gives M = (T(4s) - T(s)) / 3s and
// O = (4 T(s) - T(4s)) / 3; the wide ratio keeps the noise of O out of M (0.5 s of noise is
// 8 modelled seconds at s = 0.02). The raw wall times go to stderr.

struct ModelledOptions {
  double scale = 0.02;
  double boot = 50;  // real create -> active (PY20 sample, shared/reference §1.4)
  std::vector<int> workers = {1, 8, 32};
};

constexpr char kGpuType[] = "vcpu-4_memory-12g_disk-80g_nvidia1080ti-1";

// spec.preparedImage `prepared`: none for "today" and for a snapshot set by hand as spec.image;
// auto where the operator bakes its own.
std::string GpuClusterYaml(const std::string& name, int replicas, const std::string& image,
                           const std::string& prepared = "none") {
  return std::string("apiVersion: distributor.pygrid.dev/v1alpha1\n") +
         "kind: PyGridCluster\n"
         "metadata: {name: " +
         name +
         ", namespace: default}\nspec:\n  credentialsSecretRef: {name: genesis-credentials}\n" +
         (image.empty() ? "" : "  image: \"" + image + "\"\n") + "  preparedImage: " + prepared +
         "\n" + "  gpu: {driver: nvidia}\n  gateway: {instanceType: " + kGpuType +
         ", colocatedWorker: true}\n  workers: {replicas: " + std::to_string(replicas) +
         ", instanceType: " + kGpuType + "}\n  network: {allowedSourceCIDRs: [127.0.0.0/8]}\n";
}

// Until the cluster's current generation is Ready with `workers` ready workers.
bool WaitReadyWorkers(const Grid& grid, const std::string& name, int workers,
                      std::chrono::seconds timeout) {
  return Grid::WaitUntil(
      [&] {
        const json cluster = grid.Cluster(name);
        if (!cluster.is_object()) return false;
        const json status = StatusOf(cluster);
        if (status.value("observedGeneration", -1) != cluster["metadata"].value("generation", -2) ||
            status.value("readyWorkers", -1) != workers) {
          return false;
        }
        for (const json& c : status.value("conditions", json::array())) {
          if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
        }
        return false;
      },
      timeout);
}

// An authenticated Genesis Cloud API call to the simulator (the e2e fixture's test token).
json GenesisApi(const Grid& grid, const std::string& method, const std::string& path,
                const json& body = nullptr) {
  using pygrid::testing::ShellQuote;
  std::string command =
      "curl -fsS --max-time 10 -X " + method + " -H " +
      ShellQuote(std::string("Authorization: Bearer ") + pygrid::e2e::kGenesisToken);
  if (!body.is_null())
    command += " -H 'Content-Type: application/json' -d " + ShellQuote(body.dump());
  const auto result =
      pygrid::testing::RunCommand(command + " " + ShellQuote(grid.genesis_url() + path));
  if (result.exit_code != 0) return nullptr;
  return json::parse(result.output, nullptr, false);
}

// An instance's modelled set-up (real seconds, /_sim/setup): before `docker-compose up`, and
// its pulls.
struct SetupSplit {
  double before_compose = 0, pulls = 0;
};

// The largest set-up among cluster `cluster`'s instances whose name ends in `suffix`.
SetupSplit ModelledSetup(const Grid& grid, const std::string& cluster, const std::string& suffix) {
  SetupSplit most;
  const json setup = grid.SimGet("/_sim/setup");
  for (const json& i : setup.value("instances", json::array())) {
    const std::string name = i.value("name", "");
    const bool match = name.rfind(cluster + "-", 0) == 0 && name.size() >= suffix.size() &&
                       name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    if (!match) continue;
    SetupSplit split;
    for (const json& step : i.value("steps", json::array())) {
      const bool pull = step.value("item", "").rfind("image:", 0) == 0;
      (pull ? split.pulls : split.before_compose) += step.value("seconds", 0.0);
    }
    if (split.before_compose + split.pulls > most.before_compose + most.pulls) most = split;
  }
  return most;
}

// One grid at one time scale: wall seconds to Ready, first with N workers, then N + 1.
struct GridTimes {
  double first = -1, scale_up = -1;
  SetupSplit gateway, worker;  // modelled set-up of the gateway and of worker 0
};

GridTimes TimeGrid(const Grid& grid, double scale, const std::string& name, int workers,
                   const std::string& image) {
  GridTimes t;
  // 3,000 modelled seconds and a minute for the machinery.
  const auto timeout = std::chrono::seconds(static_cast<int>(60 + 3000 * scale));
  auto start = Clock::now();
  grid.Apply(GpuClusterYaml(name, workers, image));
  if (WaitReadyWorkers(grid, name, workers, timeout)) {
    t.first = std::chrono::duration<double>(Clock::now() - start).count();
  }
  t.gateway = ModelledSetup(grid, name, "-gateway");
  t.worker = ModelledSetup(grid, name, "-worker-0");
  start = Clock::now();
  grid.Apply(GpuClusterYaml(name, workers + 1, image));
  if (WaitReadyWorkers(grid, name, workers + 1, timeout)) {
    t.scale_up = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return t;
}

// Today's operator and the operator on a baked image, N workers, at time scale `scale`.
struct ScaleRun {
  GridTimes today, baked;
};

// The model at time scale `scale` in `grid` (booting in B x scale), and the operator with its
// default poll interval (10 s) times scale.
void StartModelled(Grid& grid, double scale) {
  grid.InstallCrdAndSecret();
  grid.SimPost("/_sim/time-scale", {{"scale", scale}});
  grid.SimPost("/_sim/snapshot-seconds", {{"seconds", 0.1}});
  const int poll_ms = std::max(10, static_cast<int>(10000 * scale));
  grid.StartOperator({"--poll-interval=" + std::to_string(poll_ms) + "ms", "--log-level=info"});
}

ScaleRun RunAtScale(const ModelledOptions& o, double scale, int workers) {
  Grid grid({o.boot * scale, /*sshd=*/true});
  StartModelled(grid, scale);
  ScaleRun run;
  run.today = TimeGrid(grid, scale, "today", workers, "");
  // Bake: snapshot today's gateway (driver, Docker, toolkit, both PyGrid images), delete that
  // grid, and run one whose spec.image is the snapshot (resolved through GET /images).
  std::string gateway_id, snapshot_id;
  for (const json& i : grid.Instances()) {
    const std::string name = i.value("name", "");
    if (name.rfind("today-", 0) == 0 && name.find("-gateway") != std::string::npos) {
      gateway_id = i.value("id", "");
    }
  }
  const json snap = GenesisApi(grid, "POST", "/instances/" + gateway_id + "/snapshots",
                               {{"name", "pygrid-baked"}});
  if (snap.is_object()) snapshot_id = snap["snapshot"].value("id", "");
  Grid::WaitUntil(
      [&] {
        const json s = GenesisApi(grid, "GET", "/snapshots/" + snapshot_id);
        return s.is_object() && s["snapshot"].value("status", "") == "available";
      },
      std::chrono::seconds(30));
  grid.Kubectl("delete pgc today --wait=true --timeout=300s");
  run.baked = TimeGrid(grid, scale, "baked", workers, snapshot_id);
  std::fprintf(stderr, "  (scale %g, N=%d: wall seconds today %.2f / %.2f, baked %.2f / %.2f)\n",
               scale, workers, run.today.first, run.today.scale_up, run.baked.first,
               run.baked.scale_up);
  return run;
}

// The model's own time to Ready with no machinery (one boot): the gateway and its workers are
// created together; each boots and sets up, workers pull too, then wait for the gateway's
// address and for it to answer. A scale-up worker finds its gateway up.
double FloorFirst(const ModelledOptions& o, const GridTimes& t) {
  const double gateway_up = o.boot + t.gateway.before_compose + t.gateway.pulls;
  const double worker_up = o.boot + t.worker.before_compose + t.worker.pulls;
  return std::max(gateway_up, worker_up);
}
double FloorScaleUp(const ModelledOptions& o, const GridTimes& t) {
  return o.boot + t.worker.before_compose + t.worker.pulls;
}

// The 2020 script (shared/reference/original-distributor.md §2.2-2.7) from its `nvidia+docker`
// snapshot: gateway B + 12 s (5 s status polls, 5 s sleep, SSH marker check), then each worker
// in turn B + 17 s (10 s polls, 10 s sleep). Its snapshot holds the driver and Docker but no
// PyGrid image (the build marker is touched before the pulls and the snapshot taken at once),
// and its markers come after the pulls: the gateway pulls grid-gateway and grid-node, each
// worker grid-node and redis. Figures: genesis-sim's SetupFigures.
struct Script2020 {
  double first, scale_up;
};
Script2020 Model2020(const ModelledOptions& o, int workers) {
  const pygrid::sim::genesis::SetupFigures f;
  const double gateway = (o.boot + 12) + 2 * f.pull_pytorch_image;
  const double worker = (o.boot + 17) + f.pull_pytorch_image + f.pull_small_image;
  return {gateway + workers * worker, worker};
}

// "M s + O s (floor F s)" from wall times at scale s and 4 s.
std::string Modelled(double at_s, double at_4s, double scale, double floor) {
  char text[80];
  if (at_s < 0 || at_4s < 0) {
    std::snprintf(text, sizeof(text), "NOT READY (floor %.0f s)", floor);
  } else {
    std::snprintf(text, sizeof(text), "%5.0f s %+5.1f s (floor %4.0f s)",
                  (at_4s - at_s) / (3 * scale), (4 * at_s - at_4s) / 3, floor);
  }
  return text;
}

// ---- 3b. The operator bakes its own prepared image (spec.preparedImage auto) --------------
//
// A fresh account: the first grid is created while the bake runs beside it (it boots from the
// base image), then, once the bake is done (snapshot available, builder gone), a scale-up by
// one worker boots from the baked snapshot. Same s / 4 s method as above.

struct OperatorBakeTimes {
  double first = -1, bake_done = -1, scale_up = -1;  // wall seconds
  GridTimes first_grid;                              // its gateway's and worker 0's set-up
  SetupSplit builder, scale_up_worker;               // modelled set-ups
};

bool BakeDone(const Grid& grid) {
  bool builder = false;
  for (const json& i : grid.Instances()) {
    const std::string name = i.value("name", "");
    builder |= name.rfind("pygrid-base-", 0) == 0 && name.find("-builder") != std::string::npos;
  }
  const json list = GenesisApi(grid, "GET", "/snapshots");
  if (builder || !list.is_object()) return false;
  for (const json& snap : list.value("snapshots", json::array())) {
    if (snap.value("name", "").rfind("pygrid-base-", 0) == 0 &&
        snap.value("status", "") == "available")
      return true;
  }
  return false;
}

OperatorBakeTimes RunOperatorBake(const ModelledOptions& o, double scale, int workers) {
  Grid grid({o.boot * scale, /*sshd=*/true});
  StartModelled(grid, scale);
  OperatorBakeTimes t;
  const auto timeout = std::chrono::seconds(static_cast<int>(60 + 3000 * scale));
  const auto start = Clock::now();
  grid.Apply(GpuClusterYaml("auto", workers, "", "auto"));
  // Both clocks at once: the grid's Ready and the bake's end, whichever comes first.
  Grid::WaitUntil(
      [&] {
        const double now = std::chrono::duration<double>(Clock::now() - start).count();
        if (t.first < 0 && WaitReadyWorkers(grid, "auto", workers, std::chrono::seconds(0))) {
          t.first = now;
        }
        if (t.builder.before_compose == 0)
          t.builder = ModelledSetup(grid, "pygrid-base", "-builder");
        if (t.bake_done < 0 && BakeDone(grid)) t.bake_done = now;
        return t.first >= 0 && t.bake_done >= 0;
      },
      timeout);
  t.first_grid.gateway = ModelledSetup(grid, "auto", "-gateway");
  t.first_grid.worker = ModelledSetup(grid, "auto", "-worker-0");
  const auto scaled = Clock::now();
  grid.Apply(GpuClusterYaml("auto", workers + 1, "", "auto"));
  if (WaitReadyWorkers(grid, "auto", workers + 1, timeout)) {
    t.scale_up = std::chrono::duration<double>(Clock::now() - scaled).count();
  }
  t.scale_up_worker = ModelledSetup(grid, "auto", "-worker-" + std::to_string(workers));
  std::fprintf(stderr,
               "  (scale %g, N=%d, operator bakes: wall seconds first %.2f, bake done %.2f, "
               "+1 worker %.2f)\n",
               scale, workers, t.first, t.bake_done, t.scale_up);
  return t;
}

void OperatorBakesTable(const ModelledOptions& o) {
  std::printf(
      "== the operator bakes its own prepared image (spec.preparedImage auto, a fresh account): "
      "first grid while the bake runs, then +1 worker after it\n");
  std::printf("%-3s | %-34s | %-34s | %-34s\n", "N", "first grid (base image)",
              "bake done (from the grid's create)", "+1 worker (baked image)");
  for (int n : o.workers) {
    const OperatorBakeTimes a = RunOperatorBake(o, o.scale, n);
    const OperatorBakeTimes b = RunOperatorBake(o, 4 * o.scale, n);
    // The builder's steps are a co-located gateway's (both images): its own when it was seen.
    const SetupSplit& steps = a.builder.before_compose > 0 ? a.builder : a.first_grid.gateway;
    const double builder = o.boot + steps.before_compose + steps.pulls;
    const double worker = o.boot + a.scale_up_worker.before_compose + a.scale_up_worker.pulls;
    std::printf("%-3d | %-34s | %-34s | %-34s\n", n,
                Modelled(a.first, b.first, o.scale, FloorFirst(o, a.first_grid)).c_str(),
                Modelled(a.bake_done, b.bake_done, o.scale, builder).c_str(),
                Modelled(a.scale_up, b.scale_up, o.scale, worker).c_str());
    std::fflush(stdout);
  }
  std::printf(
      "   floors: bake = B + the builder's modelled set-up (its snapshot time is the simulator's "
      "0.1 s); +1 worker = B + its modelled set-up on the baked image\n");
}

void ModelledTable(const ModelledOptions& o) {
  std::printf(
      "== modelled real-world time to Ready: boot B = %.0f s, genesis-sim set-up model, GPU "
      "grid (nvidia driver), time scales %.3g and %.3g\n",
      o.boot, o.scale, 4 * o.scale);
  std::printf("   cells: modelled real seconds + unscaled machinery seconds (the model's floor)\n");
  std::printf("%-3s %-10s | %-14s | %-34s | %-34s\n", "N", "", "2020 script", "operator today",
              "operator, baked image");
  std::fflush(stdout);
  for (int n : o.workers) {
    const ScaleRun a = RunAtScale(o, o.scale, n);
    const ScaleRun b = RunAtScale(o, 4 * o.scale, n);
    const Script2020 script = Model2020(o, n);
    std::printf("%-3d %-10s | %10.0f s   | %-34s | %-34s\n", n, "first grid", script.first,
                Modelled(a.today.first, b.today.first, o.scale, FloorFirst(o, a.today)).c_str(),
                Modelled(a.baked.first, b.baked.first, o.scale, FloorFirst(o, a.baked)).c_str());
    std::printf(
        "%-3s %-10s | %10.0f s   | %-34s | %-34s\n", "", "+1 worker", script.scale_up,
        Modelled(a.today.scale_up, b.today.scale_up, o.scale, FloorScaleUp(o, a.today)).c_str(),
        Modelled(a.baked.scale_up, b.baked.scale_up, o.scale, FloorScaleUp(o, a.baked)).c_str());
    std::fflush(stdout);
  }
  // Without an `nvidia+docker` snapshot the 2020 script first built one: its Ubuntu 18.04
  // gateway installed Docker (with the apt refresh) and the driver before its build marker,
  // which came before the pulls; then it took the snapshot and waited for it.
  const pygrid::sim::genesis::SetupFigures f;
  const double build = f.apt_update + f.docker + f.nvidia_driver - 2 * f.pull_pytorch_image;
  std::printf(
      "   2020 script on an account without its snapshot: first grid %+.0f s plus the snapshot's "
      "own time (undocumented), once\n",
      build);
  OperatorBakesTable(o);
}

}  // namespace

int main(int argc, char** argv) {
  double boot = 5;
  std::vector<int> workers = {1, 8, 32};
  double mass_boot = 4;
  std::vector<int> clusters = {300};
  std::string modelled = "off";
  ModelledOptions modelled_options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--modelled") modelled = argv[i + 1];
    if (flag == "--modelled-workers") modelled_options.workers = ParseList(argv[i + 1]);
    if (flag == "--modelled-scale") modelled_options.scale = std::stod(argv[i + 1]);
    if (flag == "--modelled-boot") modelled_options.boot = std::stod(argv[i + 1]);
    if (flag == "--boot-seconds") boot = std::stod(argv[i + 1]);
    if (flag == "--workers") workers = ParseList(argv[i + 1]);
    if (flag == "--clusters") clusters = ParseList(argv[i + 1]);
    if (flag == "--mass-boot-seconds") mass_boot = std::stod(argv[i + 1]);
  }
  if (modelled == "only") {
    ModelledTable(modelled_options);
    return 0;
  }
  std::printf("== time to Ready (boot delay %.1f s)\n", boot);
  for (int n : workers) TimeToReady(boot, n);
  std::printf("== mass create (1 instance per cluster, one account, boot delay %.1f s)\n",
              mass_boot);
  for (int n : clusters) ManyClusters(n, mass_boot);
  if (modelled == "on") ModelledTable(modelled_options);
  return 0;
}
