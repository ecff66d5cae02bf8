// The Genesis client's request budget with many concurrent callers, in virtual time: no
// one-second window (any start) holds more than requests_per_second sends, and a 429's
// Retry-After holds back every caller, including one that was already waiting for the budget
// when the 429 arrived. Callers are real threads; the clock is a FakeClock that moves only
// when every caller is asleep, so nothing here sleeps in real time. Each answer takes 50 ms
// of virtual time, so a 429 is known only 50 ms after its request went out.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "cloud/genesis/genesis_client.h"
#include "unit/cloud/fake_transport.h"  // Answer

namespace pygrid::cloud::genesis {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Answer;

// Virtual time for several threads: a sleeping thread blocks until the clock reaches its
// wake-up time, and the clock moves only when every participant is asleep or done, straight
// to the earliest wake-up. Work between sleeps takes no virtual time.
class VirtualTime {
 public:
  VirtualTime(FakeClock& clock, int participants) : clock_(clock), running_(participants) {}

  void Sleep(Clock::Duration d) {
    std::unique_lock<std::mutex> lock(mu_);
    Sleeper self{clock_.Now() + d};
    sleepers_.push_back(&self);
    --running_;
    AdvanceLocked();
    cv_.wait(lock, [&] { return self.woken; });
  }

  // The calling participant has finished.
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
    AdvanceLocked();
  }

 private:
  struct Sleeper {
    Clock::TimePoint wake;
    bool woken = false;
  };

  void AdvanceLocked() {
    if (running_ > 0 || sleepers_.empty()) return;
    Clock::TimePoint earliest = sleepers_.front()->wake;
    for (const Sleeper* s : sleepers_) earliest = std::min(earliest, s->wake);
    if (earliest > clock_.Now()) clock_.Advance(earliest - clock_.Now());
    for (auto it = sleepers_.begin(); it != sleepers_.end();) {
      if ((*it)->wake <= clock_.Now()) {
        (*it)->woken = true;
        ++running_;
        it = sleepers_.erase(it);
      } else {
        ++it;
      }
    }
    cv_.notify_all();
  }

  FakeClock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  int running_;
  std::list<Sleeper*> sleepers_;
};

thread_local int caller_index = -1;

struct SentRequest {
  Clock::TimePoint at;        // when it went out
  Clock::TimePoint answered;  // when its answer arrived
  int caller;
  int status;
  Clock::Duration retry_after{0};
};

// A transport whose every answer arrives `latency` of virtual time after the request.
class VirtualTransport final : public HttpTransport {
 public:
  using Answerer = std::function<TransportResult(int send_number)>;

  VirtualTransport(FakeClock& clock, VirtualTime& vt, Clock::Duration latency, Answerer answer,
                   std::vector<SentRequest>& sent)
      : clock_(clock), vt_(vt), latency_(latency), answer_(std::move(answer)), sent_(sent) {}

  TransportResult Send(const HttpRequest&) override {
    TransportResult r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      r = answer_(static_cast<int>(sent_.size()) + 1);
      SentRequest sent{clock_.Now(), clock_.Now() + latency_, caller_index, r.response.status};
      auto ra = r.response.headers.find("retry-after");
      if (ra != r.response.headers.end()) sent.retry_after = seconds(std::stoi(ra->second));
      sent_.push_back(sent);
    }
    vt_.Sleep(latency_);
    return r;
  }

 private:
  FakeClock& clock_;
  VirtualTime& vt_;
  const Clock::Duration latency_;
  const Answerer answer_;
  std::mutex mu_;
  std::vector<SentRequest>& sent_;
};

// A wait for the request budget inside the client (the injected sleeper).
struct BudgetWait {
  int caller;
  Clock::TimePoint from;
  Clock::TimePoint until;
};

// The most sends in any half-open window [t, t + 1 s).
int MaxPerSlidingSecond(std::vector<SentRequest> sends) {
  std::sort(sends.begin(), sends.end(),
            [](const SentRequest& a, const SentRequest& b) { return a.at < b.at; });
  int best = 0;
  size_t end = 0;
  for (size_t begin = 0; begin < sends.size(); ++begin) {
    while (end < sends.size() && sends[end].at < sends[begin].at + seconds(1)) ++end;
    best = std::max(best, static_cast<int>(end - begin));
  }
  return best;
}

// The most sends in one calendar second [k s, (k + 1) s).
int MaxPerCalendarSecond(const std::vector<SentRequest>& sends) {
  std::map<long long, int> per_second;
  for (const SentRequest& s : sends) {
    ++per_second[std::chrono::duration_cast<seconds>(s.at.time_since_epoch()).count()];
  }
  int best = 0;
  for (const auto& [second, count] : per_second) best = std::max(best, count);
  return best;
}

double Seconds(Clock::Duration d) { return std::chrono::duration<double>(d).count(); }

class GenesisRateTest : public ::testing::Test {
 protected:
  // Builds the client for `callers` threads; `answer` decides each response from the
  // 1-based send number.
  void Build(int callers, VirtualTransport::Answerer answer, int max_attempts = 5) {
    vt_ = std::make_unique<VirtualTime>(clock_, callers);
    callers_ = callers;
    GenesisOptions options;
    options.base_url = "http://fake/compute/v1";
    options.token = "rate-test-token";
    options.clock = &clock_;
    options.requests_per_second = 10;
    options.max_attempts = max_attempts;
    options.jitter_seed = 3;
    options.sleeper = [this](Clock::Duration d) {
      {
        std::lock_guard<std::mutex> lock(waits_mu_);
        waits_.push_back({caller_index, clock_.Now(), clock_.Now() + d});
      }
      vt_->Sleep(d);
    };
    client_ = MakeGenesisClient(options, std::make_unique<VirtualTransport>(
                                             clock_, *vt_, milliseconds(50), answer, sends_));
  }

  // Runs `calls` GetInstance calls on each caller thread, caller i thinking (13 ms x (i + 1))
  // between calls, so callers drift against each other; returns how many calls failed.
  int Run(int calls) {
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < callers_; ++i) {
      threads.emplace_back([this, i, calls, &failed] {
        caller_index = i;
        for (int c = 0; c < calls; ++c) {
          if (!client_->GetInstance("i1").ok()) ++failed;
          vt_->Sleep(milliseconds(13) * (i + 1));
        }
        vt_->Done();
      });
    }
    for (auto& t : threads) t.join();
    return failed.load();
  }

  static TransportResult Ok() {
    return Answer(200, json{{"instance", {{"id", "i1"}, {"name", "x"}}}}.dump());
  }
  static TransportResult TooMany(int retry_after_s) {
    return Answer(429, R"({"code":"01429","message":"too many requests"})",
                  {{"retry-after", std::to_string(retry_after_s)}});
  }

  FakeClock clock_;
  std::unique_ptr<VirtualTime> vt_;
  int callers_ = 0;
  std::unique_ptr<GenesisClient> client_;
  std::vector<SentRequest> sends_;
  std::mutex waits_mu_;
  std::vector<BudgetWait> waits_;
};

TEST_F(GenesisRateTest, ManyCallersNeverExceedTheBudgetInAnySlidingSecond) {
  Build(16, [](int) { return Ok(); });
  ASSERT_EQ(Run(20), 0);
  ASSERT_EQ(sends_.size(), 320u);
  const int sliding = MaxPerSlidingSecond(sends_);
  std::printf(
      "16 callers x 20 calls at 10/s: max %d per sliding second, %d per calendar second, "
      "%.1f s\n",
      sliding, MaxPerCalendarSecond(sends_), Seconds(clock_.Now().time_since_epoch()));
  EXPECT_LE(sliding, 10);
  EXPECT_EQ(sliding, 10) << "the budget is used, not just respected";
  // 320 sends at 10 per sliding second cannot take less than 31 s.
  EXPECT_GE(clock_.Now().time_since_epoch(), seconds(31));
}

TEST_F(GenesisRateTest, RetryAfterHoldsBackEveryCallerIncludingOnesAlreadyWaiting) {
  constexpr int kThrottledSend = 25;
  Build(12, [](int n) { return n == kThrottledSend ? TooMany(2) : Ok(); });
  ASSERT_EQ(Run(10), 0);
  ASSERT_GE(sends_.size(), static_cast<size_t>(kThrottledSend));
  const SentRequest throttled = sends_[kThrottledSend - 1];
  ASSERT_EQ(throttled.status, 429);
  const Clock::TimePoint pause_end = throttled.answered + seconds(2);
  for (const SentRequest& s : sends_) {
    EXPECT_FALSE(s.at > throttled.answered && s.at < pause_end)
        << "caller " << s.caller << " sent " << Seconds(s.at - throttled.answered)
        << " s after the 429 with Retry-After 2 arrived";
  }
  // Callers that were already waiting for the budget when the 429 arrived, due before the
  // pause ends: each one's next send is after the pause.
  int waiting_across = 0;
  for (const BudgetWait& w : waits_) {
    if (w.caller == throttled.caller ||
        !(w.from < throttled.answered && w.until > throttled.answered && w.until < pause_end)) {
      continue;
    }
    ++waiting_across;
    auto next = std::find_if(sends_.begin(), sends_.end(), [&](const SentRequest& s) {
      return s.caller == w.caller && s.at >= w.until;
    });
    ASSERT_NE(next, sends_.end());
    EXPECT_GE(next->at, pause_end) << "caller " << w.caller << " had waited from before the 429";
  }
  EXPECT_GT(waiting_across, 0) << "the schedule must have callers waiting across the 429";
  EXPECT_LE(MaxPerSlidingSecond(sends_), 10);
}

TEST_F(GenesisRateTest, StormOf429sKeepsTheBudgetAndEveryRetryAfter) {
  // A server in distress: 30% of requests answered 429 with Retry-After 1 or 2.
  std::mt19937_64 rng(2026);
  Build(
      16,
      [&rng](int) {
        const double roll = std::uniform_real_distribution<double>(0, 1)(rng);
        if (roll < 0.15) return TooMany(1);
        if (roll < 0.30) return TooMany(2);
        return Ok();
      },
      /*max_attempts=*/20);
  ASSERT_EQ(Run(15), 0);
  int throttled = 0;
  int early = 0;  // sends inside some 429's Retry-After (counted from its arrival)
  for (const SentRequest& t : sends_) {
    if (t.status != 429) continue;
    ++throttled;
    for (const SentRequest& s : sends_) {
      if (s.at > t.answered && s.at < t.answered + t.retry_after) ++early;
    }
  }
  const int sliding = MaxPerSlidingSecond(sends_);
  std::printf(
      "429 storm (16 callers x 15 calls, 30%% answered 429 with Retry-After 1-2 s): "
      "%zu requests, %d answered 429, max %d per sliding second, %d per calendar second, "
      "%d sends inside a Retry-After, %.1f s\n",
      sends_.size(), throttled, sliding, MaxPerCalendarSecond(sends_), early,
      Seconds(clock_.Now().time_since_epoch()));
  RecordProperty("max_per_sliding_second", sliding);
  EXPECT_EQ(early, 0) << "no send may fall inside a Retry-After";
  EXPECT_GT(throttled, 20);
  EXPECT_LE(sliding, 10);
}

}  // namespace
}  // namespace pygrid::cloud::genesis
