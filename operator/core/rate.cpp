#include "core/rate.h"

#include <algorithm>
#include <cmath>

namespace pygrid {

std::chrono::milliseconds ExponentialBackoff::BaseDelay(int attempt) const {
  const double initial = static_cast<double>(policy_.initial.count());
  const double cap = static_cast<double>(policy_.max.count());
  // Computed in doubles and capped before converting, so large attempts cannot overflow.
  const double raw = initial * std::pow(policy_.factor, std::max(0, attempt));
  const double capped = std::isfinite(raw) ? std::min(raw, cap) : cap;
  return std::chrono::milliseconds(static_cast<long long>(capped));
}

std::chrono::milliseconds ExponentialBackoff::Delay(int attempt, std::mt19937_64& rng) const {
  const std::chrono::milliseconds base = BaseDelay(attempt);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  switch (policy_.jitter) {
    case JitterMode::kNone:
      return base;
    case JitterMode::kFull:
      return std::chrono::milliseconds(
          static_cast<long long>(unit(rng) * static_cast<double>(base.count())));
    case JitterMode::kProportional:
      return std::chrono::milliseconds(static_cast<long long>(
          static_cast<double>(base.count()) * (1.0 + policy_.jitter_fraction * unit(rng))));
  }
  return base;
}

TokenBucket::TokenBucket(double rate, int burst, const Clock& clock)
    : rate_(rate), burst_(std::max(1, burst)), clock_(clock), tokens_(burst_), last_(clock.Now()) {}

void TokenBucket::RefillLocked(Clock::TimePoint now) {
  if (now <= last_) return;
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(static_cast<double>(burst_), tokens_ + elapsed * rate_);
  last_ = now;
}

bool TokenBucket::TryTake() {
  std::lock_guard<std::mutex> lock(mu_);
  RefillLocked(clock_.Now());
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

Clock::Duration TokenBucket::Reserve() {
  std::lock_guard<std::mutex> lock(mu_);
  RefillLocked(clock_.Now());
  tokens_ -= 1.0;
  if (tokens_ >= 0.0 || rate_ <= 0.0) return Clock::Duration::zero();
  // A negative balance is a debt paid back at `rate_`; the caller waits for its share.
  return std::chrono::duration_cast<Clock::Duration>(
      std::chrono::duration<double>(-tokens_ / rate_));
}

void TokenBucket::Drain(Clock::Duration pause) {
  std::lock_guard<std::mutex> lock(mu_);
  RefillLocked(clock_.Now());
  const double debt = std::chrono::duration<double>(pause).count() * rate_;
  tokens_ = std::min(tokens_, -debt);
}

namespace {

int LimitForRate(double rate) {
  if (!(rate > 0.0)) return 0;
  return rate >= 1.0 ? static_cast<int>(std::floor(rate)) : 1;
}

Clock::Duration WindowForRate(double rate) {
  if (!(rate > 0.0) || rate >= 1.0) return std::chrono::seconds(1);
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(1.0 / rate));
}

}  // namespace

SlidingWindowLimiter::SlidingWindowLimiter(double rate, const Clock& clock)
    : SlidingWindowLimiter(LimitForRate(rate), WindowForRate(rate), clock) {}

SlidingWindowLimiter::SlidingWindowLimiter(int limit, Clock::Duration window, const Clock& clock)
    : limit_(std::max(0, limit)),
      window_(window),
      clock_(clock),
      paused_until_(Clock::TimePoint::min()) {}

Clock::Duration SlidingWindowLimiter::TryAcquire() {
  std::lock_guard<std::mutex> lock(mu_);
  const Clock::TimePoint now = clock_.Now();
  if (now < paused_until_) return paused_until_ - now;
  if (limit_ > 0 && static_cast<int>(sent_.size()) >= limit_) {
    // The limit_-th previous send must be a whole window old, so that no half-open window
    // [t, t + window_) holds more than limit_ sends.
    const Clock::TimePoint free_at = sent_.front() + window_;
    if (now < free_at) return free_at - now;
    sent_.pop_front();
  }
  if (limit_ > 0) sent_.push_back(now);
  return Clock::Duration::zero();
}

void SlidingWindowLimiter::Pause(Clock::Duration pause) {
  std::lock_guard<std::mutex> lock(mu_);
  paused_until_ = std::max(paused_until_, clock_.Now() + pause);
}

}  // namespace pygrid
