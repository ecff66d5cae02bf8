#include "core/rate.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace pygrid
