// The controller loop: result handling (success, error, requeue, requeue_after, terminal,
// exceptions) with its metrics, concurrency across keys, and Stop ending reconciles at once.
#include "kube/controller.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <set>

#include "testing/wait.h"

namespace pygrid::kube {
namespace {

using std::chrono::seconds;

class RecordingControllerMetrics : public ControllerMetrics {
 public:
  void Init(int workers) override { init_workers = workers; }
  void IncReconcile(ReconcileOutcome outcome) override {
    std::lock_guard<std::mutex> lock(mu);
    ++results[ReconcileOutcomeLabel(outcome)];
  }
  void IncReconcileErrors() override { ++errors; }
  void IncTerminalReconcileErrors() override { ++terminal; }
  void IncReconcilePanics() override { ++panics; }
  void ObserveReconcileTime(double) override { ++timed; }
  void AddActiveWorkers(int delta) override { active += delta; }
  int Result(const std::string& label) {
    std::lock_guard<std::mutex> lock(mu);
    return results[label];
  }
  int TotalResults() {
    std::lock_guard<std::mutex> lock(mu);
    int total = 0;
    for (const auto& entry : results) total += entry.second;
    return total;
  }
  std::mutex mu;
  std::map<std::string, int> results;
  std::atomic<int> init_workers{0}, errors{0}, terminal{0}, panics{0}, timed{0}, active{0};
};

class RecordingProvider : public MetricsProvider {
 public:
  std::shared_ptr<ControllerMetrics> NewControllerMetrics(const std::string&) override {
    return controller;
  }
  std::shared_ptr<RecordingControllerMetrics> controller =
      std::make_shared<RecordingControllerMetrics>();
};

template <typename Pred>
bool PollUntil(Pred&& pred, std::chrono::seconds limit = seconds(20)) {
  return ::pygrid::testing::Eventually(std::forward<Pred>(pred), limit,
                                       std::chrono::milliseconds(2));
}

TEST(Controller, EveryResultIsAccountedAndRequeuedAsControllerRuntimeDoes) {
  FakeClock clock;
  RecordingProvider provider;
  std::mutex mu;
  std::map<std::string, int> calls;
  std::vector<std::string> error_keys;
  ControllerOptions options;
  options.name = "widgets";
  options.workers = 2;
  options.clock = &clock;
  options.metrics = &provider;
  options.on_error = [&](const std::string& key, const Status&, bool) {
    std::lock_guard<std::mutex> lock(mu);
    error_keys.push_back(key);
  };
  Controller controller(std::move(options), [&](const std::string& key) -> ReconcileResult {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++calls[key];
    }
    if (key == "ns/ok") return ReconcileResult::Done();
    if (key == "ns/err") return ReconcileResult::Error(Status::Unavailable("cloud down"));
    if (key == "ns/requeue") return ReconcileResult::Requeue();
    if (key == "ns/later") return ReconcileResult::RequeueAfter(seconds(30));
    if (key == "ns/terminal") return ReconcileResult::Terminal(Status::Invalid("bad spec"));
    throw std::runtime_error("boom");
  });
  controller.Start();
  for (const char* key : {"ns/ok", "ns/err", "ns/requeue", "ns/later", "ns/terminal", "ns/throw"}) {
    controller.Enqueue(key);
  }
  auto& m = *provider.controller;
  // The error hook is the last thing a worker does for a key.
  ASSERT_TRUE(PollUntil([&] {
    std::lock_guard<std::mutex> lock(mu);
    return m.TotalResults() == 6 && error_keys.size() == 3;
  }));
  EXPECT_EQ(m.timed.load(), 6);
  EXPECT_EQ(m.init_workers.load(), 2);
  EXPECT_EQ(m.Result("success"), 1);
  EXPECT_EQ(m.Result("error"), 3);  // err, terminal, throw
  EXPECT_EQ(m.Result("requeue"), 1);
  EXPECT_EQ(m.Result("requeue_after"), 1);
  EXPECT_EQ(m.errors.load(), 3);
  EXPECT_EQ(m.terminal.load(), 1);
  EXPECT_EQ(m.panics.load(), 1);
  ASSERT_TRUE(PollUntil([&] { return m.active.load() == 0; }));
  // Rate-limited: err, requeue, throw (5 ms each); requeue_after: later (30 s).
  WorkQueue& queue = controller.queue();
  EXPECT_EQ(queue.NumRequeues("ns/err"), 1);
  EXPECT_EQ(queue.NumRequeues("ns/throw"), 1);
  EXPECT_EQ(queue.NumRequeues("ns/later"), 0);
  EXPECT_EQ(queue.NumRequeues("ns/ok"), 0);
  EXPECT_EQ(queue.DelayedLen(), 4);
  clock.Advance(std::chrono::milliseconds(5));
  queue.Tick();
  ASSERT_TRUE(PollUntil([&] { return m.TotalResults() == 9; }));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(calls["ns/err"], 2);
    EXPECT_EQ(calls["ns/later"], 1);
    EXPECT_EQ(calls["ns/terminal"], 1);
    EXPECT_EQ(calls["ns/ok"], 1);
  }
  clock.Advance(seconds(30));
  queue.Tick();
  ASSERT_TRUE(PollUntil([&] {
    std::lock_guard<std::mutex> lock(mu);
    return calls["ns/later"] == 2;
  }));
  controller.Stop();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_GE(error_keys.size(), 5u);  // err and throw failed twice, terminal once
}

TEST(Controller, StopEndsReconcilingAtOnceWithoutDrainingTheQueue) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::vector<std::string> reconciled;
  ControllerOptions options;
  options.workers = 1;
  Controller controller(std::move(options), [&](const std::string& key) {
    std::unique_lock<std::mutex> lock(mu);
    reconciled.push_back(key);
    if (key == "a") cv.wait(lock, [&] { return release; });
    return ReconcileResult::Done();
  });
  controller.Enqueue("a");
  controller.Enqueue("b");
  controller.Enqueue("c");
  controller.Start();
  ASSERT_TRUE(PollUntil([&] { return controller.active_workers() == 1; }));
  std::thread stopper([&] { controller.Stop(); });
  ASSERT_TRUE(PollUntil([&] { return controller.queue().ShuttingDown(); }));
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  stopper.join();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(reconciled, std::vector<std::string>{"a"});
}

TEST(Controller, OneKeyIsNeverReconciledByTwoWorkersAtOnce) {
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::atomic<int> done{0};
  ControllerOptions options;
  options.workers = 4;
  Controller controller(std::move(options), [&](const std::string&) {
    const int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    --in_flight;
    ++done;
    return ReconcileResult::Done();
  });
  controller.Start();
  for (int i = 0; i < 200; ++i) {
    controller.Enqueue("same");
    if (i % 20 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(PollUntil([&] { return controller.queue().Len() == 0 && in_flight.load() == 0; }));
  controller.StopAndDrain();
  EXPECT_EQ(max_in_flight.load(), 1);
  EXPECT_GE(done.load(), 1);
}

}  // namespace
}  // namespace pygrid::kube
