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

}  // namespace pygrid
