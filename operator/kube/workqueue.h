// Provides WorkQueue, client-go's rate-limiting work queue for string keys ("ns/name"), and
// its rate limiters:
//
//   WorkQueue queue({.name = "pygridcluster", .clock = &clock});
//   queue.Add("ns/a");
//   while (auto key = queue.Get()) {
//     if (Reconcile(*key).ok()) queue.Forget(*key); else queue.AddRateLimited(*key);
//     queue.Done(*key);
//   }
//
// Semantics (client-go util/workqueue): a key is queued at most once; a key added while it is
// being processed is queued again when Done is called; AddAfter keeps the earliest time for a
// key; AddRateLimited waits max(per-key 5 ms * 2^failures capped at 1000 s, a shared 10/s
// burst-100 bucket); Forget resets the per-key failures. Time comes from the injected Clock:
// with a FakeClock, call Tick() after Advance() to release due keys.
// Thread-safety: every method is safe from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/clock.h"
#include "core/rate.h"
#include "kube/metrics.h"

namespace pygrid::kube {

// Decides how long a key waits before it is retried (client-go workqueue.RateLimiter).
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // The delay for this retry of `key`; counts the retry.
  virtual Clock::Duration When(const std::string& key) = 0;
  // Drops the retry history of `key`.
  virtual void Forget(const std::string& key) = 0;
  // How many times `key` was retried since the last Forget.
  virtual int NumRequeues(const std::string& key) = 0;
};

// base * 2^failures per key, capped (client-go ItemExponentialFailureRateLimiter).
class ItemExponentialRateLimiter final : public RateLimiter {
 public:
  ItemExponentialRateLimiter(std::chrono::milliseconds base, std::chrono::milliseconds cap);
  Clock::Duration When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) override;

 private:
  ExponentialBackoff backoff_;
  std::mutex mu_;
  std::unordered_map<std::string, int> failures_;
};

// One token bucket for every key; never counts requeues (client-go BucketRateLimiter).
class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(double qps, int burst, const Clock& clock) : bucket_(qps, burst, clock) {}
  Clock::Duration When(const std::string&) override { return bucket_.Reserve(); }
  void Forget(const std::string&) override {}
  int NumRequeues(const std::string&) override { return 0; }

 private:
  TokenBucket bucket_;
};

// The longest delay of several limiters (client-go MaxOfRateLimiter).
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
      : limiters_(std::move(limiters)) {}
  Clock::Duration When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// controller-runtime's default: max(per-key 5 ms -> 1000 s, bucket 10/s burst 100).
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(const Clock& clock);

struct WorkQueueOptions {
  std::string name = "workqueue";
  const Clock* clock = nullptr;               // null = RealClock
  std::unique_ptr<RateLimiter> rate_limiter;  // null = DefaultControllerRateLimiter
  std::shared_ptr<WorkqueueMetrics> metrics;  // null = no-op
  // How often the unfinished-work gauges refresh (client-go: 500 ms); 0 disables the thread.
  std::chrono::milliseconds metrics_refresh{500};
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions options);
  // Shuts down and joins the background thread; pending keys are dropped.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` unless it is already queued; ignored after ShutDown.
  void Add(const std::string& key);
  // Queues `key` once `delay` has passed on the clock (now if delay <= 0).
  void AddAfter(const std::string& key, Clock::Duration delay);
  // AddAfter(key, rate_limiter.When(key)).
  void AddRateLimited(const std::string& key);
  // Resets the rate limiter's failure count for `key`.
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key);

  // Blocks for the next key; nullopt once shut down and no key is left queued.
  std::optional<std::string> Get();
  // Like Get but gives up after `timeout` of real time (nullopt).
  std::optional<std::string> GetFor(std::chrono::milliseconds timeout);
  // Ends the processing of `key`; re-queues it if it was added meanwhile.
  void Done(const std::string& key);

  // Keys queued and ready (not delayed, not in process).
  int Len();
  // Keys waiting for their AddAfter time.
  int DelayedLen();
  // Moves delayed keys whose time has come into the queue (the background thread does this
  // on its own; tests with a FakeClock call it after Advance).
  void Tick();
  // Refreshes the unfinished-work gauges now.
  void UpdateUnfinishedWork();

  // Stops accepting keys; Get drains what is queued, then returns nullopt.
  void ShutDown();
  // ShutDown, then waits until every key handed out by Get is Done.
  void ShutDownWithDrain();
  bool ShuttingDown();
  const std::string& name() const { return name_; }

 private:
  void AddLocked(const std::string& key);
  void TickLocked();
  void BackgroundLoop();
  std::optional<std::string> PopLocked();

  const std::string name_;
  const Clock& clock_;
  std::unique_ptr<RateLimiter> rate_limiter_;
  std::shared_ptr<WorkqueueMetrics> metrics_;
  const std::chrono::milliseconds metrics_refresh_;

  std::mutex mu_;
  std::condition_variable ready_cv_;       // Get waiters
  std::condition_variable background_cv_;  // the delay/metrics thread
  std::condition_variable drained_cv_;     // ShutDownWithDrain
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;
  std::unordered_set<std::string> processing_;
  std::unordered_map<std::string, Clock::TimePoint> added_at_;
  std::unordered_map<std::string, Clock::TimePoint> started_at_;
  std::unordered_map<std::string, Clock::TimePoint> waiting_;  // key -> ready time
  std::multimap<Clock::TimePoint, std::string> waiting_order_;
  bool shutting_down_ = false;
  std::thread background_;
};

}  // namespace pygrid::kube
