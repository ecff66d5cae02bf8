// Provides the rate-control primitives every remote client here shares:
//  - ExponentialBackoff: delay for attempt n, with full or proportional jitter
//    (Genesis client: full jitter; informer: 800 ms -> 30 s; workqueue: 5 ms -> 1000 s).
//  - TokenBucket: a client-side rate limit with bursts (kube QPS/burst; workqueue 10/s
//    burst 100), driven by an injected Clock.
//  - SlidingWindowLimiter: a strict ceiling, at most N sends in any window of one second
//    whatever its start, with a pause every caller honours (Genesis 10 requests/s, 429s).
//
//   ExponentialBackoff backoff({std::chrono::milliseconds(800), std::chrono::seconds(30),
//                               2.0, JitterMode::kProportional, 1.0});
//   auto delay = backoff.Delay(attempt, rng);
//
//   TokenBucket bucket(10.0, 10, clock);
//   auto wait = bucket.Reserve();  // how long the caller must wait before acting
//
//   SlidingWindowLimiter limiter(10.0, clock);
//   for (auto wait = limiter.TryAcquire(); wait > Clock::Duration::zero();
//        wait = limiter.TryAcquire()) {
//     sleep(wait);  // then ask again: a pause may have been set meanwhile
//   }
//   Send();  // at once: the send was counted by the TryAcquire that returned zero
//
// Thread-safety: ExponentialBackoff is immutable; TokenBucket and SlidingWindowLimiter are
// internally locked.
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <random>

#include "core/clock.h"

namespace pygrid {

enum class JitterMode {
  kNone,          // exactly base * factor^attempt, capped
  kFull,          // uniform in [0, capped delay] (AWS "full jitter")
  kProportional,  // capped delay * (1 + jitter * uniform[0,1)) (client-go wait.Jitter)
};

struct BackoffPolicy {
  std::chrono::milliseconds initial{5};
  std::chrono::milliseconds max{1000 * 1000};
  double factor = 2.0;
  JitterMode jitter = JitterMode::kNone;
  double jitter_fraction = 0.0;  // only for kProportional
};

class ExponentialBackoff {
 public:
  explicit ExponentialBackoff(BackoffPolicy policy) : policy_(policy) {}
  // The capped delay before retry number `attempt` (0-based), without jitter.
  std::chrono::milliseconds BaseDelay(int attempt) const;
  // The delay before retry number `attempt`, with the policy's jitter drawn from `rng`.
  std::chrono::milliseconds Delay(int attempt, std::mt19937_64& rng) const;
  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
};

class TokenBucket {
 public:
  // `rate` tokens per second refill, at most `burst` stored; starts full.
  TokenBucket(double rate, int burst, const Clock& clock);
  // Takes a token if one is available now.
  bool TryTake();
  // Takes a token, possibly from the future, and returns how long the caller must wait
  // before using it (zero when one was available). Waiting callers are served in order.
  Clock::Duration Reserve();
  // Sets the bucket empty for `pause` (used after a 429 to stop every caller at once).
  void Drain(Clock::Duration pause);
  double rate() const { return rate_; }
  int burst() const { return burst_; }

 private:
  void RefillLocked(Clock::TimePoint now);

  const double rate_;
  const int burst_;
  const Clock& clock_;
  std::mutex mu_;
  double tokens_;
  Clock::TimePoint last_;
};

// A strict request budget: at most limit() acquisitions in any window() (sliding, any start
// time), and none at all while a pause set by Pause() lasts. There are no reservations: the
// decision and the accounting happen together in TryAcquire, which a caller makes right
// before it sends, after any waiting, so a pause set while it slept still holds it back.
// Waiting callers are not served in order; each retries when its suggested wait is over.
class SlidingWindowLimiter {
 public:
  // "`rate` requests per second": floor(rate) per second for rate >= 1, one per 1/rate
  // seconds below that; rate <= 0 means no ceiling (pauses still apply).
  SlidingWindowLimiter(double rate, const Clock& clock);
  // At most `limit` acquisitions in any `window`; `limit` <= 0 means no ceiling.
  SlidingWindowLimiter(int limit, Clock::Duration window, const Clock& clock);

  // Counts a send now and returns zero if the budget allows it; otherwise counts nothing and
  // returns how long until it might (the caller waits that long and asks again).
  Clock::Duration TryAcquire();
  // No acquisition succeeds until `pause` from now (a longer pause already set is kept).
  void Pause(Clock::Duration pause);

  int limit() const { return limit_; }
  Clock::Duration window() const { return window_; }

 private:
  const int limit_;
  const Clock::Duration window_;
  const Clock& clock_;
  std::mutex mu_;
  std::deque<Clock::TimePoint> sent_;  // the last limit_ acquisition times, oldest first
  Clock::TimePoint paused_until_;
};

}  // namespace pygrid
