// Provides pygrid::Clock, the one way code reads time, so tests can inject a FakeClock
// instead of sleeping:
//
//   FakeClock clock;
//   TokenBucket bucket(10, 100, clock);
//   clock.Advance(std::chrono::seconds(1));
//
// Thread-safety: RealClock is stateless; FakeClock is safe to use from several threads.
#pragma once

#include <atomic>
#include <chrono>

namespace pygrid {

class Clock {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;
  // Monotonic time, for intervals and deadlines.
  virtual TimePoint Now() const = 0;
  // Wall-clock time, for timestamps shown to people (conditions, events).
  virtual WallTime WallNow() const = 0;
};

// The process clock (std::chrono steady_clock and system_clock).
class RealClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
  // A shared instance for production wiring.
  static RealClock& Instance() {
    static RealClock clock;
    return clock;
  }
};

// A clock that moves only when told to. Both Now() and WallNow() advance together.
class FakeClock final : public Clock {
 public:
  FakeClock() : offset_ns_(0) {}
  TimePoint Now() const override { return TimePoint(Duration(offset_ns_.load())); }
  WallTime WallNow() const override {
    return WallTime(std::chrono::duration_cast<WallTime::duration>(
        std::chrono::nanoseconds(kWallEpochNs + offset_ns_.load())));
  }
  void Advance(Duration by) { offset_ns_ += std::chrono::nanoseconds(by).count(); }

 private:
  // 2026-01-01T00:00:00Z, so wall timestamps in tests look plausible.
  static constexpr long long kWallEpochNs = 1767225600LL * 1000000000LL;
  std::atomic<long long> offset_ns_;
};

}  // namespace pygrid
