// Provides Controller: N worker threads pulling keys from a WorkQueue and calling a reconcile
// function, with controller-runtime's result handling and metrics
// (pkg/internal/controller/controller.go, reconcileHandler):
//
//   Controller controller({.name = "pygridcluster", .workers = 2},
//                         [&](const std::string& key) { return reconciler.Reconcile(key); });
//   informer.AddEventHandler(EnqueueHandlers(controller.queue()));  // kube/informer.h
//   controller.Start();
//   ...
//   controller.Stop();  // losing the lease: no further reconcile starts
//
// Results: Done -> Forget, "success"; RequeueAfter(d) -> Forget + AddAfter(d),
// "requeue_after"; Requeue -> AddRateLimited, "requeue"; Error -> AddRateLimited, "error";
// Terminal -> no requeue, "error" plus the terminal counter. An exception escaping reconcile
// is caught, counted as a panic and handled as an Error.
// Thread-safety: Enqueue/Start/Stop are safe from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "kube/metrics.h"
#include "kube/workqueue.h"

namespace pygrid::kube {

// What a reconcile asks the loop to do next.
class ReconcileResult {
 public:
  enum class Action { kDone, kRequeue, kRequeueAfter, kError, kTerminalError };

  static ReconcileResult Done() { return ReconcileResult(Action::kDone); }
  // Retry with the rate limiter's backoff (controller-runtime's deprecated Requeue=true).
  static ReconcileResult Requeue() { return ReconcileResult(Action::kRequeue); }
  // Look again after `after` (resets the backoff).
  static ReconcileResult RequeueAfter(Clock::Duration after);
  // Retry with backoff; `error` is counted and handed to the error hook.
  static ReconcileResult Error(Status error);
  // Do not retry; only a new event brings the key back.
  static ReconcileResult Terminal(Status error);

  Action action() const { return action_; }
  Clock::Duration after() const { return after_; }
  const Status& error() const { return error_; }

 private:
  explicit ReconcileResult(Action action) : action_(action) {}
  Action action_;
  Clock::Duration after_{};
  Status error_;
};

using ReconcileFunc = std::function<ReconcileResult(const std::string& key)>;

struct ControllerOptions {
  std::string name = "controller";
  int workers = 1;
  const Clock* clock = nullptr;               // null = RealClock
  MetricsProvider* metrics = nullptr;         // null = no-op
  std::unique_ptr<RateLimiter> rate_limiter;  // null = DefaultControllerRateLimiter
  // Called with every error result (for logging); must not block.
  std::function<void(const std::string& key, const Status& error, bool terminal)> on_error;
};

class Controller {
 public:
  Controller(ControllerOptions options, ReconcileFunc reconcile);
  // Stops (without draining) and joins the workers.
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts the workers and initialises the metrics; a second call does nothing.
  void Start();
  // Stops handing out keys at once; reconciles in flight finish, queued keys are dropped.
  // Returns after every worker has exited.
  void Stop();
  // Stops accepting keys, lets the workers finish every queued key, then joins them.
  void StopAndDrain();

  // Queues a key ("ns/name").
  void Enqueue(const std::string& key) { queue_.Add(key); }
  WorkQueue& queue() { return queue_; }
  const std::string& name() const { return name_; }
  // Workers currently inside the reconcile function.
  int active_workers() const { return active_.load(); }

 private:
  void WorkerLoop();
  void JoinWorkers();
  void ProcessOne(const std::string& key);

  const std::string name_;
  const int workers_;
  const Clock& clock_;
  ReconcileFunc reconcile_;
  std::function<void(const std::string&, const Status&, bool)> on_error_;
  std::shared_ptr<ControllerMetrics> metrics_;
  WorkQueue queue_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<int> active_{0};
  std::mutex threads_mu_;
  std::vector<std::thread> threads_;
};

}  // namespace pygrid::kube
