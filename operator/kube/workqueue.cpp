#include "kube/workqueue.h"

#include <algorithm>

namespace pygrid::kube {
namespace {

double Seconds(Clock::Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

ItemExponentialRateLimiter::ItemExponentialRateLimiter(std::chrono::milliseconds base,
                                                       std::chrono::milliseconds cap)
    : backoff_(BackoffPolicy{base, cap, 2.0, JitterMode::kNone, 0.0}) {}

Clock::Duration ItemExponentialRateLimiter::When(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  const int failures = failures_[key]++;
  return backoff_.BaseDelay(failures);
}

void ItemExponentialRateLimiter::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(key);
}

int ItemExponentialRateLimiter::NumRequeues(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

Clock::Duration MaxOfRateLimiter::When(const std::string& key) {
  Clock::Duration longest = Clock::Duration::zero();
  for (auto& limiter : limiters_) longest = std::max(longest, limiter->When(key));
  return longest;
}

void MaxOfRateLimiter::Forget(const std::string& key) {
  for (auto& limiter : limiters_) limiter->Forget(key);
}

int MaxOfRateLimiter::NumRequeues(const std::string& key) {
  int most = 0;
  for (auto& limiter : limiters_) most = std::max(most, limiter->NumRequeues(key));
  return most;
}

std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(const Clock& clock) {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(std::make_unique<ItemExponentialRateLimiter>(std::chrono::milliseconds(5),
                                                                  std::chrono::seconds(1000)));
  limiters.push_back(std::make_unique<BucketRateLimiter>(10.0, 100, clock));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

WorkQueue::WorkQueue(WorkQueueOptions options)
    : name_(options.name),
      clock_(options.clock ? *options.clock : RealClock::Instance()),
      rate_limiter_(options.rate_limiter ? std::move(options.rate_limiter)
                                         : DefaultControllerRateLimiter(clock_)),
      metrics_(options.metrics ? options.metrics : std::make_shared<WorkqueueMetrics>()),
      metrics_refresh_(options.metrics_refresh) {
  background_ = std::thread([this] { BackgroundLoop(); });
}

WorkQueue::~WorkQueue() {
  ShutDown();
  if (background_.joinable()) background_.join();
}

void WorkQueue::AddLocked(const std::string& key) {
  if (shutting_down_ || dirty_.count(key)) return;
  metrics_->IncAdds();
  dirty_.insert(key);
  added_at_.emplace(key, clock_.Now());
  if (processing_.count(key)) return;  // parked; Done re-queues it
  queue_.push_back(key);
  metrics_->SetDepth(static_cast<double>(queue_.size()));
  ready_cv_.notify_one();
}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, Clock::Duration delay) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  metrics_->IncRetries();
  if (delay <= Clock::Duration::zero()) {
    AddLocked(key);
    return;
  }
  const Clock::TimePoint ready = clock_.Now() + delay;
  auto it = waiting_.find(key);
  if (it != waiting_.end()) {
    if (ready >= it->second) return;  // keep the earlier time
    auto range = waiting_order_.equal_range(it->second);
    for (auto entry = range.first; entry != range.second; ++entry) {
      if (entry->second == key) {
        waiting_order_.erase(entry);
        break;
      }
    }
    it->second = ready;
  } else {
    waiting_.emplace(key, ready);
  }
  waiting_order_.emplace(ready, key);
  background_cv_.notify_one();
}

void WorkQueue::AddRateLimited(const std::string& key) { AddAfter(key, rate_limiter_->When(key)); }

void WorkQueue::Forget(const std::string& key) { rate_limiter_->Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) { return rate_limiter_->NumRequeues(key); }

std::optional<std::string> WorkQueue::PopLocked() {
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  metrics_->SetDepth(static_cast<double>(queue_.size()));
  const Clock::TimePoint now = clock_.Now();
  auto added = added_at_.find(key);
  if (added != added_at_.end()) {
    metrics_->ObserveQueueDuration(Seconds(now - added->second));
    added_at_.erase(added);
  }
  started_at_[key] = now;
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

std::optional<std::string> WorkQueue::Get() {
  std::unique_lock<std::mutex> lock(mu_);
  ready_cv_.wait(lock, [this] { return !queue_.empty() || shutting_down_; });
  if (queue_.empty()) return std::nullopt;
  return PopLocked();
}

std::optional<std::string> WorkQueue::GetFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  ready_cv_.wait_for(lock, timeout, [this] { return !queue_.empty() || shutting_down_; });
  if (queue_.empty()) return std::nullopt;
  return PopLocked();
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto started = started_at_.find(key);
  if (started != started_at_.end()) {
    metrics_->ObserveWorkDuration(Seconds(clock_.Now() - started->second));
    started_at_.erase(started);
  }
  processing_.erase(key);
  if (dirty_.count(key)) {
    queue_.push_back(key);
    metrics_->SetDepth(static_cast<double>(queue_.size()));
    ready_cv_.notify_one();
  } else if (processing_.empty()) {
    drained_cv_.notify_all();
  }
}

int WorkQueue::Len() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(queue_.size());
}

int WorkQueue::DelayedLen() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(waiting_.size());
}

void WorkQueue::TickLocked() {
  const Clock::TimePoint now = clock_.Now();
  while (!waiting_order_.empty() && waiting_order_.begin()->first <= now) {
    const std::string key = waiting_order_.begin()->second;
    waiting_order_.erase(waiting_order_.begin());
    waiting_.erase(key);
    AddLocked(key);
  }
}

void WorkQueue::Tick() {
  std::lock_guard<std::mutex> lock(mu_);
  TickLocked();
}

void WorkQueue::UpdateUnfinishedWork() {
  std::lock_guard<std::mutex> lock(mu_);
  const Clock::TimePoint now = clock_.Now();
  double total = 0;
  double longest = 0;
  for (const auto& entry : started_at_) {
    const double running = Seconds(now - entry.second);
    total += running;
    longest = std::max(longest, running);
  }
  metrics_->SetUnfinishedWorkSeconds(total);
  metrics_->SetLongestRunningProcessorSeconds(longest);
}

void WorkQueue::BackgroundLoop() {
  auto last_metrics = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!shutting_down_) {
    TickLocked();
    // Wait in real time for the next due key, at most 1 s so a FakeClock moved by a test
    // is noticed even without Tick().
    std::chrono::steady_clock::duration wait = std::chrono::seconds(1);
    if (!waiting_order_.empty()) {
      wait = std::min(wait, std::max(std::chrono::steady_clock::duration::zero(),
                                     waiting_order_.begin()->first - clock_.Now()));
    }
    if (metrics_refresh_.count() > 0)
      wait = std::min<std::chrono::steady_clock::duration>(wait, metrics_refresh_);
    background_cv_.wait_for(lock, wait);
    if (metrics_refresh_.count() > 0 &&
        std::chrono::steady_clock::now() - last_metrics >= metrics_refresh_) {
      last_metrics = std::chrono::steady_clock::now();
      lock.unlock();
      UpdateUnfinishedWork();
      lock.lock();
    }
  }
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutting_down_ = true;
  ready_cv_.notify_all();
  background_cv_.notify_all();
}

void WorkQueue::ShutDownWithDrain() {
  std::unique_lock<std::mutex> lock(mu_);
  shutting_down_ = true;
  ready_cv_.notify_all();
  background_cv_.notify_all();
  drained_cv_.wait(lock, [this] { return processing_.empty(); });
}

bool WorkQueue::ShuttingDown() {
  std::lock_guard<std::mutex> lock(mu_);
  return shutting_down_;
}

}  // namespace pygrid::kube
