#include "core/rate.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace pygrid {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ExponentialBackoffTest, GrowsByFactorAndCaps) {
  ExponentialBackoff backoff({milliseconds(5), seconds(1000), 2.0, JitterMode::kNone, 0});
  EXPECT_EQ(backoff.BaseDelay(0), milliseconds(5));
  EXPECT_EQ(backoff.BaseDelay(1), milliseconds(10));
  EXPECT_EQ(backoff.BaseDelay(10), milliseconds(5120));
  EXPECT_EQ(backoff.BaseDelay(30), seconds(1000));
  EXPECT_EQ(backoff.BaseDelay(5000), seconds(1000));  // no overflow
}

TEST(ExponentialBackoffTest, FullJitterStaysWithinZeroAndBase) {
  ExponentialBackoff backoff({milliseconds(100), seconds(10), 2.0, JitterMode::kFull, 0});
  std::mt19937_64 rng(42);
  bool saw_below_half = false;
  for (int i = 0; i < 200; ++i) {
    milliseconds delay = backoff.Delay(3, rng);
    EXPECT_GE(delay, milliseconds(0));
    EXPECT_LE(delay, milliseconds(800));
    if (delay < milliseconds(400)) saw_below_half = true;
  }
  EXPECT_TRUE(saw_below_half);
}

TEST(ExponentialBackoffTest, ProportionalJitterAddsUpToFraction) {
  ExponentialBackoff backoff({milliseconds(800), seconds(30), 2.0, JitterMode::kProportional, 1.0});
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100; ++i) {
    milliseconds delay = backoff.Delay(0, rng);
    EXPECT_GE(delay, milliseconds(800));
    EXPECT_LT(delay, milliseconds(1600));
  }
}

TEST(TokenBucketTest, BurstThenRate) {
  FakeClock clock;
  TokenBucket bucket(10.0, 3, clock);
  EXPECT_TRUE(bucket.TryTake());
  EXPECT_TRUE(bucket.TryTake());
  EXPECT_TRUE(bucket.TryTake());
  EXPECT_FALSE(bucket.TryTake());
  clock.Advance(milliseconds(100));
  EXPECT_TRUE(bucket.TryTake());
  EXPECT_FALSE(bucket.TryTake());
}

TEST(TokenBucketTest, ReserveQueuesCallersAtTheRate) {
  FakeClock clock;
  TokenBucket bucket(10.0, 1, clock);
  EXPECT_EQ(bucket.Reserve(), Clock::Duration::zero());
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(bucket.Reserve()), milliseconds(100));
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(bucket.Reserve()), milliseconds(200));
}

TEST(TokenBucketTest, DrainBlocksEveryoneForThePause) {
  FakeClock clock;
  TokenBucket bucket(10.0, 10, clock);
  bucket.Drain(seconds(2));
  EXPECT_FALSE(bucket.TryTake());
  clock.Advance(milliseconds(1900));
  EXPECT_FALSE(bucket.TryTake());
  clock.Advance(milliseconds(200));
  EXPECT_TRUE(bucket.TryTake());
}

milliseconds Ms(Clock::Duration d) { return std::chrono::duration_cast<milliseconds>(d); }

// Every limiter test runs on a fake clock.
class SlidingWindowLimiterTest : public ::testing::Test {
 protected:
  FakeClock clock;
};

TEST_F(SlidingWindowLimiterTest, AtMostLimitInOneWindowThenAsLaneFreesUp) {
  SlidingWindowLimiter limiter(10.0, clock);
  EXPECT_EQ(limiter.limit(), 10);
  EXPECT_EQ(limiter.window(), seconds(1));
  for (int i = 0; i < 10; ++i) ASSERT_EQ(limiter.TryAcquire(), Clock::Duration::zero()) << i;
  EXPECT_EQ(Ms(limiter.TryAcquire()), milliseconds(1000));
  clock.Advance(milliseconds(999));
  EXPECT_EQ(Ms(limiter.TryAcquire()), milliseconds(1)) << "a refused try counts nothing";
  clock.Advance(milliseconds(1));
  EXPECT_EQ(limiter.TryAcquire(), Clock::Duration::zero());
}

TEST_F(SlidingWindowLimiterTest, NoBurstAboveTheLimitAcrossASecondBoundary) {
  // The token bucket allowed 10 at t = 0.9 s and 10 more at t = 1.0 s (19 within 1 s).
  SlidingWindowLimiter limiter(10.0, clock);
  clock.Advance(milliseconds(900));
  for (int i = 0; i < 10; ++i) ASSERT_EQ(limiter.TryAcquire(), Clock::Duration::zero());
  clock.Advance(milliseconds(100));
  EXPECT_EQ(Ms(limiter.TryAcquire()), milliseconds(900));
}

TEST_F(SlidingWindowLimiterTest, SpreadSendsFreeTheirSlotsOneByOne) {
  SlidingWindowLimiter limiter(3, seconds(1), clock);
  ASSERT_EQ(limiter.TryAcquire(), Clock::Duration::zero());  // t = 0
  clock.Advance(milliseconds(400));
  ASSERT_EQ(limiter.TryAcquire(), Clock::Duration::zero());  // t = 0.4
  ASSERT_EQ(limiter.TryAcquire(), Clock::Duration::zero());  // t = 0.4
  clock.Advance(milliseconds(600));
  ASSERT_EQ(limiter.TryAcquire(), Clock::Duration::zero());  // t = 1.0: the t = 0 one left
  EXPECT_EQ(Ms(limiter.TryAcquire()), milliseconds(400));
}

TEST_F(SlidingWindowLimiterTest, PauseHoldsBackACallerThatWasAlreadyWaiting) {
  SlidingWindowLimiter limiter(1, seconds(1), clock);
  ASSERT_EQ(limiter.TryAcquire(), Clock::Duration::zero());
  const Clock::Duration wait = limiter.TryAcquire();  // this caller now sleeps 1 s
  ASSERT_EQ(Ms(wait), milliseconds(1000));
  clock.Advance(milliseconds(100));
  limiter.Pause(seconds(2));                // another caller's 429, Retry-After 2
  clock.Advance(wait - milliseconds(100));  // the sleeper wakes and asks again
  EXPECT_EQ(Ms(limiter.TryAcquire()), milliseconds(1100));
  clock.Advance(milliseconds(1099));
  EXPECT_GT(limiter.TryAcquire(), Clock::Duration::zero());
  clock.Advance(milliseconds(1));
  EXPECT_EQ(limiter.TryAcquire(), Clock::Duration::zero());
}

TEST_F(SlidingWindowLimiterTest, AShorterPauseDoesNotCutALongerOne) {
  SlidingWindowLimiter limiter(10.0, clock);
  limiter.Pause(seconds(5));
  limiter.Pause(seconds(1));
  EXPECT_EQ(Ms(limiter.TryAcquire()), milliseconds(5000));
}

TEST_F(SlidingWindowLimiterTest, RatesMapToAWholeLimitPerWindow) {
  SlidingWindowLimiter fractional(2.5, clock);
  EXPECT_EQ(fractional.limit(), 2);
  EXPECT_EQ(fractional.window(), seconds(1));
  SlidingWindowLimiter slow(0.5, clock);
  EXPECT_EQ(slow.limit(), 1);
  EXPECT_EQ(slow.window(), seconds(2));
  SlidingWindowLimiter unlimited(0.0, clock);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(unlimited.TryAcquire(), Clock::Duration::zero());
  unlimited.Pause(seconds(1));
  EXPECT_EQ(Ms(unlimited.TryAcquire()), milliseconds(1000)) << "pauses apply without a ceiling";
}

TEST_F(SlidingWindowLimiterTest, RandomScheduleNeverExceedsTheLimitInAnyWindow) {
  // 20 callers that try at random moments and retry after the suggested wait; every
  // accepted time is checked against the 10 accepted before it.
  SlidingWindowLimiter limiter(10.0, clock);
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int> gap_us(0, 150000);
  std::multimap<Clock::TimePoint, int> next_try;  // when each caller tries next
  for (int c = 0; c < 20; ++c)
    next_try.emplace(clock.Now() + std::chrono::microseconds(gap_us(rng)), c);
  std::vector<Clock::TimePoint> accepted;
  size_t paused_at = 0;
  while (accepted.size() < 2000) {
    auto it = next_try.begin();
    const auto [at, caller] = *it;
    next_try.erase(it);
    if (at > clock.Now()) clock.Advance(at - clock.Now());
    if (accepted.size() % 97 == 96 && paused_at != accepted.size()) {
      limiter.Pause(milliseconds(700));  // now and then a 429
      paused_at = accepted.size();
    }
    const Clock::Duration wait = limiter.TryAcquire();
    if (wait == Clock::Duration::zero()) {
      accepted.push_back(clock.Now());
      if (accepted.size() > 10) {
        ASSERT_GE(accepted.back() - accepted[accepted.size() - 11], seconds(1));
      }
      next_try.emplace(clock.Now() + std::chrono::microseconds(gap_us(rng)), caller);
    } else {
      next_try.emplace(clock.Now() + wait, caller);
    }
  }
}

}  // namespace
}  // namespace pygrid
