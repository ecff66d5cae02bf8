// observability_fixture_exporter: serves observability::Metrics with realistic, moving values
// (reconciles of every result, a busy workqueue, Kubernetes and Genesis Cloud requests with
// 2xx/429/5xx/no answer, clusters in several phases) so that a real Prometheus can scrape it
// and every dashboard and alert query has data. Used by prometheus_e2e_test; handy by hand:
//
//   observability_fixture_exporter --listen 127.0.0.1:9464 --seconds 600
//
// Prints "port=<bound port>" on stdout once listening; exits on SIGTERM/SIGINT or after
// --seconds (default 120) so that an abandoned fixture never outlives its test for long.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "core/clock.h"
#include "observability/endpoints.h"
#include "observability/http_server.h"
#include "observability/metrics.h"

namespace {

volatile std::sig_atomic_t stop_requested = 0;
void OnSignal(int) { stop_requested = 1; }

}  // namespace

int main(int argc, char** argv) {
  using namespace pygrid::observability;
  std::string listen = "127.0.0.1:0";
  int seconds = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--listen") == 0) listen = argv[i + 1];
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::stoi(argv[i + 1]);
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  Metrics metrics;
  ControllerMetrics controller = metrics.RegisterController("pygridcluster", 2);
  WorkqueueMetrics queue = metrics.NewWorkqueueMetrics("pygridcluster");
  metrics.SetLeader("pygrid-operator", true);
  metrics.SetClusterState({"default", "mnist", "6f1c0d2e", "duet", "Ready", true, 2, 2});
  metrics.SetClusterState({"team-a", "cifar", "a93b11f0", "syft", "Provisioning", false, 3, 1});
  metrics.SetClusterState({"team-a", "old", "0c7d5e21", "duet", "Deleting", false, 1, 0});
  metrics.ObserveClusterProvisioned("6f1c0d2e", 412);

  auto server = HttpServer::Start(listen, MetricsHandler(metrics));
  if (!server.ok() || *server == nullptr) {
    std::fprintf(stderr, "cannot listen on %s: %s\n", listen.c_str(),
                 server.ok() ? "disabled" : server.status().ToString().c_str());
    return 1;
  }
  std::printf("port=%d\n", (*server)->port());
  std::fflush(stdout);

  std::mt19937 rng(7);  // fixed seed: the same traffic every run
  std::uniform_real_distribution<double> unit(0, 1);
  const pygrid::Clock& clock = pygrid::RealClock::Instance();
  const auto deadline = clock.Now() + std::chrono::seconds(seconds);
  for (int tick = 0; !stop_requested && clock.Now() < deadline; ++tick) {
    // One reconcile per tick: mostly requeue_after while clusters converge, some errors.
    double r = unit(rng);
    ReconcileResult result = r < 0.45   ? ReconcileResult::kRequeueAfter
                             : r < 0.75 ? ReconcileResult::kSuccess
                             : r < 0.85 ? ReconcileResult::kRequeue
                             : r < 0.95 ? ReconcileResult::kError
                                        : ReconcileResult::kTerminalError;
    queue.IncAdds();
    queue.SetDepth(tick % 5);
    queue.ObserveQueueDuration(0.001 + 0.05 * unit(rng));
    controller.AddActiveWorkers(1);
    controller.ObserveReconcile(result, 0.02 + 1.5 * unit(rng));
    controller.AddActiveWorkers(-1);
    queue.ObserveWorkDuration(0.02 + 1.5 * unit(rng));
    if (result != ReconcileResult::kSuccess) queue.IncRetries();
    queue.SetUnfinishedWorkSeconds(0.5 * unit(rng));
    queue.SetLongestRunningProcessorSeconds(0.3 * unit(rng));

    metrics.ObserveRestRequest("GET", 200, "127.0.0.1:6443");
    metrics.ObserveRestRequest("PATCH", tick % 17 == 0 ? 409 : 200, "127.0.0.1:6443");
    if (tick % 23 == 0) metrics.ObserveRestRequest("GET", 0, "127.0.0.1:6443");

    metrics.ObserveGenesisRequest("ListInstances", "GET", 200, 0.05 + 0.2 * unit(rng));
    double g = unit(rng);
    int code = g < 0.7 ? 201 : g < 0.85 ? 429 : g < 0.95 ? 503 : 0;
    metrics.ObserveGenesisRequest("CreateInstance", "POST", code, 0.3 + 2 * unit(rng), false,
                                  tick % 3 == 0);

    // A cluster comes and goes every few ticks, so provisioning times and deletions move.
    const std::string uid = "e2e-" + std::to_string(tick / 8);
    if (tick % 8 == 0) {
      metrics.SetClusterState({"team-b", "burst", uid, "duet", "Provisioning", false, 1, 0});
    } else if (tick % 8 == 4) {
      metrics.SetClusterState({"team-b", "burst", uid, "duet", "Ready", true, 1, 1});
      metrics.ObserveClusterProvisioned(uid, 180 + 400 * unit(rng));
    } else if (tick % 8 == 7) {
      metrics.ForgetCluster("team-b", "burst");
    }
    metrics.SetInstanceCounts({{{"gateway", "active"}, 3},
                               {{"worker", "active"}, 3 + tick % 2},
                               {{"worker", "building"}, 1 - tick % 2},
                               {{"worker", "deleting"}, 1}});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  (*server)->Stop();
  return 0;
}
