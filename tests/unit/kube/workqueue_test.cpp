// Workqueue semantics with an injected clock: dedup, re-add while processing, AddAfter,
// per-item backoff growth and cap, the global bucket, Forget/NumRequeues, shutdown draining
// and the workqueue_* metric hooks.
#include "kube/workqueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace pygrid::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class RecordingQueueMetrics : public WorkqueueMetrics {
 public:
  void SetDepth(double depth) override { this->depth = depth; }
  void IncAdds() override { ++adds; }
  void ObserveQueueDuration(double s) override { queue_durations.push_back(s); }
  void ObserveWorkDuration(double s) override { work_durations.push_back(s); }
  void SetUnfinishedWorkSeconds(double s) override { unfinished = s; }
  void SetLongestRunningProcessorSeconds(double s) override { longest = s; }
  void IncRetries() override { ++retries; }
  std::atomic<double> depth{0};
  std::atomic<int> adds{0};
  std::atomic<int> retries{0};
  std::vector<double> queue_durations;
  std::vector<double> work_durations;
  double unfinished = -1;
  double longest = -1;
};

class WorkQueueTest : public ::testing::Test {
 protected:
  WorkQueueTest() : metrics_(std::make_shared<RecordingQueueMetrics>()) {
    WorkQueueOptions options;
    options.name = "test";
    options.clock = &clock_;
    options.metrics = metrics_;
    options.metrics_refresh = milliseconds(0);
    queue_ = std::make_unique<WorkQueue>(std::move(options));
  }
  FakeClock clock_;
  std::shared_ptr<RecordingQueueMetrics> metrics_;
  std::unique_ptr<WorkQueue> queue_;
};

TEST_F(WorkQueueTest, AnItemIsQueuedAtMostOnce) {
  queue_->Add("a");
  queue_->Add("b");
  queue_->Add("a");
  EXPECT_EQ(queue_->Len(), 2);
  EXPECT_EQ(metrics_->adds.load(), 2);
  EXPECT_EQ(metrics_->depth.load(), 2.0);
  EXPECT_EQ(*queue_->Get(), "a");
  EXPECT_EQ(*queue_->Get(), "b");
  EXPECT_EQ(queue_->Len(), 0);
}

TEST_F(WorkQueueTest, ReAddWhileProcessingIsRequeuedOnDone) {
  queue_->Add("a");
  ASSERT_EQ(*queue_->Get(), "a");
  queue_->Add("a");
  queue_->Add("a");
  EXPECT_EQ(queue_->Len(), 0) << "must not be handed to a second worker while in process";
  EXPECT_FALSE(queue_->GetFor(milliseconds(10)).has_value());
  queue_->Done("a");
  EXPECT_EQ(queue_->Len(), 1);
  EXPECT_EQ(*queue_->Get(), "a");
  queue_->Done("a");
  EXPECT_EQ(queue_->Len(), 0);
}

TEST_F(WorkQueueTest, AddAfterWaitsForTheClockAndKeepsTheEarliestTime) {
  queue_->AddAfter("a", seconds(10));
  queue_->AddAfter("b", seconds(10));
  queue_->AddAfter("b", seconds(2));   // earlier wins
  queue_->AddAfter("a", seconds(30));  // later is ignored
  EXPECT_EQ(queue_->DelayedLen(), 2);
  EXPECT_EQ(metrics_->retries.load(), 4);
  clock_.Advance(seconds(2));
  queue_->Tick();
  EXPECT_EQ(queue_->Len(), 1);
  EXPECT_EQ(*queue_->Get(), "b");
  clock_.Advance(milliseconds(7999));
  queue_->Tick();
  EXPECT_EQ(queue_->Len(), 0);
  clock_.Advance(milliseconds(1));
  queue_->Tick();
  EXPECT_EQ(*queue_->Get(), "a");
  EXPECT_EQ(queue_->DelayedLen(), 0);
}

TEST(RateLimiters, PerItemBackoffDoublesFrom5msAndCapsAt1000s) {
  ItemExponentialRateLimiter limiter(milliseconds(5), seconds(1000));
  std::vector<long long> delays;
  for (int i = 0; i < 5; ++i) {
    delays.push_back(std::chrono::duration_cast<milliseconds>(limiter.When("a")).count());
  }
  EXPECT_EQ(delays, (std::vector<long long>{5, 10, 20, 40, 80}));
  EXPECT_EQ(limiter.NumRequeues("a"), 5);
  EXPECT_EQ(limiter.When("b"), milliseconds(5)) << "failures are per item";
  for (int i = 0; i < 40; ++i) limiter.When("a");
  EXPECT_EQ(limiter.When("a"), seconds(1000));
  limiter.Forget("a");
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
  EXPECT_EQ(limiter.When("a"), milliseconds(5));
}

TEST(RateLimiters, DefaultControllerLimiterIsMaxOfItemBackoffAndGlobalBucket) {
  FakeClock clock;
  auto limiter = DefaultControllerRateLimiter(clock);
  // The bucket starts with 100 tokens: the first 100 distinct items wait only 5 ms.
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(limiter->When("item-" + std::to_string(i)), milliseconds(5)) << i;
  }
  // Then every new item waits its turn at 10/s.
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(limiter->When("x")), milliseconds(100));
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(limiter->When("y")), milliseconds(200));
  clock.Advance(seconds(10));  // refills (and repays the debt)
  EXPECT_EQ(limiter->When("z"), milliseconds(5));
  // Per-item backoff dominates once it is longer than the bucket's wait.
  for (int i = 0; i < 12; ++i) limiter->When("hot");
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(limiter->When("hot")), milliseconds(5 << 12));
  EXPECT_EQ(limiter->NumRequeues("hot"), 13);
}

TEST_F(WorkQueueTest, AddRateLimitedBacksOffAndForgetResets) {
  queue_->AddRateLimited("a");  // 5 ms
  EXPECT_EQ(queue_->Len(), 0);
  clock_.Advance(milliseconds(5));
  queue_->Tick();
  ASSERT_EQ(*queue_->Get(), "a");
  queue_->Done("a");
  queue_->AddRateLimited("a");  // 10 ms
  clock_.Advance(milliseconds(9));
  queue_->Tick();
  EXPECT_EQ(queue_->Len(), 0);
  clock_.Advance(milliseconds(1));
  queue_->Tick();
  EXPECT_EQ(queue_->Len(), 1);
  EXPECT_EQ(queue_->NumRequeues("a"), 2);
  queue_->Forget("a");
  EXPECT_EQ(queue_->NumRequeues("a"), 0);
}

TEST_F(WorkQueueTest, DurationsAndUnfinishedWorkAreReported) {
  queue_->Add("a");
  clock_.Advance(seconds(3));
  ASSERT_EQ(*queue_->Get(), "a");
  ASSERT_EQ(metrics_->queue_durations.size(), 1u);
  EXPECT_DOUBLE_EQ(metrics_->queue_durations[0], 3.0);
  queue_->Add("b");
  clock_.Advance(seconds(1));
  ASSERT_EQ(*queue_->Get(), "b");
  clock_.Advance(seconds(2));
  queue_->UpdateUnfinishedWork();
  EXPECT_DOUBLE_EQ(metrics_->unfinished, 5.0);  // a: 3 s, b: 2 s
  EXPECT_DOUBLE_EQ(metrics_->longest, 3.0);
  queue_->Done("a");
  ASSERT_EQ(metrics_->work_durations.size(), 1u);
  EXPECT_DOUBLE_EQ(metrics_->work_durations[0], 3.0);
}

TEST_F(WorkQueueTest, ShutDownDrainsQueuedItemsThenEnds) {
  queue_->Add("a");
  queue_->Add("b");
  queue_->ShutDown();
  queue_->Add("c");  // ignored
  EXPECT_EQ(*queue_->Get(), "a");
  EXPECT_EQ(*queue_->Get(), "b");
  EXPECT_FALSE(queue_->Get().has_value());
  EXPECT_TRUE(queue_->ShuttingDown());
}

TEST_F(WorkQueueTest, ShutDownWithDrainWaitsForItemsInProcess) {
  queue_->Add("a");
  ASSERT_EQ(*queue_->Get(), "a");
  std::atomic<bool> drained{false};
  std::thread closer([&] {
    queue_->ShutDownWithDrain();
    drained = true;
  });
  // The closer must still be waiting: "a" is in process.
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (!queue_->ShuttingDown() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_FALSE(drained.load());
  queue_->Done("a");
  closer.join();
  EXPECT_TRUE(drained.load());
}

TEST_F(WorkQueueTest, GetBlocksUntilAnAddFromAnotherThread) {
  std::thread adder([&] { queue_->Add("late"); });
  EXPECT_EQ(*queue_->Get(), "late");
  adder.join();
}

}  // namespace
}  // namespace pygrid::kube
