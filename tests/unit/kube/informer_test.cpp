// The informer against a scripted in-memory KubeClient, in fake time: when watches fail (refused,
// 5xx, reset mid-stream, very short) it relists after a backoff, so changes made meanwhile reach
// the cache and the handlers as adds, updates and deletes; the backoff grows 800 ms -> 30 s
// (jitter 1.0) and starts again after a healthy period. The informer's sleeper blocks until
// the test lets it go and then advances a FakeClock, so nothing here sleeps in real time and
// the test sees (and acts during) every backoff.
#include "kube/informer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace pygrid::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const ResourceRef kConfigMaps{"", "v1", "configmaps", true};
constexpr auto kRealTimeLimit = seconds(20);  // only bounds a failing test

double Seconds(Clock::Duration d) { return std::chrono::duration<double>(d).count(); }

// ConfigMaps in memory, listed in one page; every Watch runs `watch_script` (default: refused
// with a 503, as an API server whose watch cache is down).
class ScriptedKube final : public KubeClient {
 public:
  using WatchScript = std::function<Status(int watch_number, const WatchHandler& handler)>;

  // Creates or replaces default/`name` with data.value = `value`; returns the object.
  Json Put(const std::string& name, const std::string& value) {
    std::lock_guard<std::mutex> lock(mu_);
    Json object = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata",
         {{"name", name}, {"namespace", "default"}, {"resourceVersion", std::to_string(++rv_)}}},
        {"data", {{"value", value}}}};
    objects_[name] = object;
    return object;
  }
  void Remove(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_.erase(name);
    ++rv_;
  }
  void SetWatchScript(WatchScript script) {
    std::lock_guard<std::mutex> lock(mu_);
    script_ = std::move(script);
  }
  int lists() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lists_;
  }
  int watches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return watches_;
  }

  StatusOr<Json> ListPage(const ResourceRef&, const std::string&, const ListOptions&) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++lists_;
    Json items = Json::array();
    for (const auto& entry : objects_) items.push_back(entry.second);
    return Json{{"kind", "ConfigMapList"},
                {"metadata", {{"resourceVersion", std::to_string(rv_)}}},
                {"items", items}};
  }

  Status Watch(const ResourceRef&, const std::string&, const WatchOptions&,
               const WatchHandler& handler, Cancellation*) override {
    WatchScript script;
    int number;
    {
      std::lock_guard<std::mutex> lock(mu_);
      number = ++watches_;
      script = script_;
    }
    if (script) return script(number, handler);
    return Status::Unavailable(
               "configmaps watch: the server is currently unable to handle the "
               "request")
        .WithHttpStatus(503);
  }

  StatusOr<Json> Get(const ResourceRef&, const std::string&, const std::string&) override {
    return Status::Internal("not used");
  }
  StatusOr<Json> Create(const ResourceRef&, const std::string&, const Json&) override {
    return Status::Internal("not used");
  }
  StatusOr<Json> Update(const ResourceRef&, const std::string&, const Json&,
                        const std::string&) override {
    return Status::Internal("not used");
  }
  StatusOr<Json> Patch(const ResourceRef&, const std::string&, const std::string&, PatchType,
                       const Json&, const std::string&) override {
    return Status::Internal("not used");
  }
  Status Delete(const ResourceRef&, const std::string&, const std::string&,
                const DeleteOptions&) override {
    return Status::Internal("not used");
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Json> objects_;
  long long rv_ = 100;
  int lists_ = 0;
  int watches_ = 0;
  WatchScript script_;
};

// The informer's sleeper: the n-th sleep blocks the informer thread until the test releases
// it, then advances the clock by the delay asked for.
class StepSleeper {
 public:
  explicit StepSleeper(FakeClock& clock) : clock_(clock) {}

  void Sleep(Clock::Duration d) {
    std::unique_lock<std::mutex> lock(mu_);
    delays_.push_back(d);
    const size_t number = delays_.size();
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_ >= number || open_; });
    clock_.Advance(d);
  }

  // Waits until the informer is in its n-th sleep (1-based).
  bool WaitForSleep(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kRealTimeLimit, [&] { return delays_.size() >= n; });
  }
  // Ends the current sleep.
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = delays_.size();
    cv_.notify_all();
  }
  // Lets every sleep pass from now on (before Stop).
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  Clock::Duration Delay(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    return delays_.at(n - 1);
  }

 private:
  FakeClock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Clock::Duration> delays_;
  size_t released_ = 0;
  bool open_ = false;
};

// Handler calls as "add default/a 101", "update default/a 102", "delete default/b 101", with
// the fake time each arrived.
class Recorder {
 public:
  explicit Recorder(const FakeClock& clock) : clock_(clock) {}

  EventHandlers Handlers() {
    EventHandlers h;
    h.on_add = [this](const Json& o) { Record("add", o); };
    h.on_update = [this](const Json&, const Json& o) { Record("update", o); };
    h.on_delete = [this](const Json& o) { Record("delete", o); };
    return h;
  }

  // Waits until `event` was recorded; returns the fake time it arrived.
  std::optional<Clock::TimePoint> WaitFor(const std::string& event) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, kRealTimeLimit, [&] { return at_.count(event) > 0; });
    auto it = at_.find(event);
    if (it == at_.end()) return std::nullopt;
    return it->second;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return at_.size();
  }

 private:
  void Record(const char* kind, const Json& object) {
    std::lock_guard<std::mutex> lock(mu_);
    at_.emplace(std::string(kind) + " " + ObjectKey(object) + " " + ResourceVersionOf(object),
                clock_.Now());
    cv_.notify_all();
  }

  const FakeClock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Clock::TimePoint> at_;
};

class InformerFallbackTest : public ::testing::Test {
 protected:
  void TearDown() override {
    sleeper_.Open();
    if (informer_) informer_->Stop();
  }

  void Start() {
    InformerOptions options;
    options.resource = kConfigMaps;
    options.ns = "default";
    options.seed = 12;
    options.clock = &clock_;
    options.sleeper = [this](Clock::Duration d) { sleeper_.Sleep(d); };
    options.on_error = [this](const Status& s) {
      std::lock_guard<std::mutex> lock(errors_mu_);
      errors_.push_back(s);
    };
    informer_ = std::make_unique<Informer>(kube_, options);
    informer_->AddEventHandler(recorder_.Handlers());
    informer_->Start();
    ASSERT_TRUE(informer_->WaitForSync(kRealTimeLimit));
  }

  std::string ValueOf(const std::string& key) {
    auto object = informer_->Get(key);
    return object ? (*object)["data"].value("value", "") : "<absent>";
  }

  FakeClock clock_;
  StepSleeper sleeper_{clock_};
  ScriptedKube kube_;
  Recorder recorder_{clock_};
  std::mutex errors_mu_;
  std::vector<Status> errors_;
  std::unique_ptr<Informer> informer_;
};

// The backoff before relist number n (1-based) with jitter 1.0: [base, 2 x base).
void ExpectBackoff(Clock::Duration delay, int n) {
  const Clock::Duration base =
      std::min<Clock::Duration>(milliseconds(800) * (1LL << std::min(n - 1, 20)), seconds(30));
  EXPECT_GE(delay, base) << "backoff " << n;
  EXPECT_LT(delay, 2 * base) << "backoff " << n;
}

TEST_F(InformerFallbackTest, ChangesMadeWhileWatchesAreRefusedArriveWithTheNextRelist) {
  kube_.Put("a", "1");
  const Json b = kube_.Put("b", "1");
  Start();
  ASSERT_TRUE(sleeper_.WaitForSleep(1)) << "the refused watch leads to a backoff";
  const Clock::TimePoint changed_at = clock_.Now();
  const Json a2 = kube_.Put("a", "2");
  kube_.Remove("b");
  const Json c = kube_.Put("c", "1");
  sleeper_.Release();

  const auto updated = recorder_.WaitFor("update default/a " + ResourceVersionOf(a2));
  ASSERT_TRUE(updated.has_value()) << "the change never reached the handlers";
  EXPECT_TRUE(recorder_.WaitFor("delete default/b " + ResourceVersionOf(b)).has_value());
  EXPECT_TRUE(recorder_.WaitFor("add default/c " + ResourceVersionOf(c)).has_value());
  EXPECT_EQ(ValueOf("default/a"), "2");
  EXPECT_EQ(ValueOf("default/b"), "<absent>");
  EXPECT_EQ(ValueOf("default/c"), "1");
  EXPECT_EQ(*updated - changed_at, sleeper_.Delay(1)) << "applied by the relist after 1 backoff";
  ExpectBackoff(*updated - changed_at, 1);
  std::printf("spec change made as watches start being refused: applied after %.2f s\n",
              Seconds(*updated - changed_at));

  ASSERT_TRUE(sleeper_.WaitForSleep(2));
  EXPECT_EQ(kube_.lists(), 2);
  EXPECT_EQ(kube_.watches(), 2);
  std::lock_guard<std::mutex> lock(errors_mu_);
  ASSERT_GE(errors_.size(), 2u);
  EXPECT_EQ(errors_[0].http_status(), 503) << "each refused watch is reported";
}

TEST_F(InformerFallbackTest, WhileEveryWatchIsRefusedRelistsBackOffUpToTheCap) {
  kube_.Put("spec", "0");
  Start();
  Clock::Duration total{0};
  std::printf("refused watches -> relist after   (cumulative)   spec change applied after\n");
  for (int n = 1; n <= 30; ++n) {
    ASSERT_TRUE(sleeper_.WaitForSleep(n));
    const Clock::Duration delay = sleeper_.Delay(n);
    ExpectBackoff(delay, n);
    total += delay;
    EXPECT_EQ(kube_.lists(), n) << "one list per refused watch";
    // A change made just after the n-th refusal, the worst moment: it waits a whole backoff.
    const Clock::TimePoint changed_at = clock_.Now();
    const Json changed = kube_.Put("spec", std::to_string(n));
    sleeper_.Release();
    const auto applied = recorder_.WaitFor("update default/spec " + ResourceVersionOf(changed));
    ASSERT_TRUE(applied.has_value()) << "change after refused watch " << n << " never arrived";
    EXPECT_EQ(*applied - changed_at, delay);
    EXPECT_LT(*applied - changed_at, seconds(60)) << "not the 300 s watch timeout";
    std::printf("%4d                 %6.2f s        (%7.2f s)         %6.2f s\n", n, Seconds(delay),
                Seconds(total), Seconds(*applied - changed_at));
  }
  EXPECT_EQ(ValueOf("default/spec"), "30");
}

TEST_F(InformerFallbackTest, WatchEndingWithAnErrorRelistsAndCatchesUpOnLostEvents) {
  kube_.Put("a", "1");
  kube_.Put("b", "1");
  kube_.SetWatchScript([this](int number, const WatchHandler& handler) {
    if (number > 1) return Status::Unavailable("refused");
    // One event arrives, a second change is lost with the connection.
    handler({"MODIFIED", kube_.Put("a", "2")});
    kube_.Put("b", "2");
    return Status::Unavailable("configmaps watch: connection reset by peer");
  });
  Start();
  ASSERT_TRUE(sleeper_.WaitForSleep(1));
  EXPECT_EQ(ValueOf("default/a"), "2") << "the event before the reset was applied";
  EXPECT_EQ(ValueOf("default/b"), "1");
  sleeper_.Release();
  ASSERT_TRUE(sleeper_.WaitForSleep(2));
  EXPECT_EQ(ValueOf("default/b"), "2") << "the relist recovered the change the reset lost";
  EXPECT_EQ(kube_.lists(), 2);
  std::lock_guard<std::mutex> lock(errors_mu_);
  ASSERT_FALSE(errors_.empty());
  EXPECT_NE(errors_[0].message().find("connection reset"), std::string::npos);
}

TEST_F(InformerFallbackTest, BackoffStartsAgainAfterAHealthyPeriod) {
  kube_.Put("a", "1");
  kube_.SetWatchScript([this](int number, const WatchHandler&) {
    // Watch 4 runs for 5 minutes before its connection drops; the others are refused.
    if (number == 4) clock_.Advance(std::chrono::minutes(5));
    return Status::Unavailable(number == 4 ? "reset" : "refused");
  });
  Start();
  for (int n = 1; n <= 3; ++n) {
    ASSERT_TRUE(sleeper_.WaitForSleep(n));
    ExpectBackoff(sleeper_.Delay(n), n);
    sleeper_.Release();
  }
  ASSERT_TRUE(sleeper_.WaitForSleep(4));
  ExpectBackoff(sleeper_.Delay(4), 1);  // 800 ms again, not 6.4 s
}

TEST_F(InformerFallbackTest, VeryShortCleanWatchRelistsButALongOneRewatches) {
  kube_.Put("a", "1");
  kube_.SetWatchScript([this](int number, const WatchHandler&) {
    switch (number) {
      case 1:
        return Status::Ok();  // closed at once without an event: "very short watch"
      case 2:
      case 3:
        clock_.Advance(std::chrono::minutes(6));  // a normal server-side timeout
        return Status::Ok();
      default:
        return Status::Unavailable("refused");
    }
  });
  Start();
  ASSERT_TRUE(sleeper_.WaitForSleep(1));
  EXPECT_EQ(kube_.lists(), 1);
  EXPECT_EQ(kube_.watches(), 1);
  sleeper_.Release();
  ASSERT_TRUE(sleeper_.WaitForSleep(2));
  EXPECT_EQ(kube_.lists(), 2) << "relisted after the very short watch";
  EXPECT_EQ(kube_.watches(), 4) << "watches 2 and 3 ended normally and were resumed";
}

TEST_F(InformerFallbackTest, GoneRelistsWithoutBackoff) {
  kube_.Put("a", "1");
  kube_.SetWatchScript([](int number, const WatchHandler&) {
    return number == 1 ? Status::Gone("too old resource version") : Status::Unavailable("refused");
  });
  Start();
  ASSERT_TRUE(sleeper_.WaitForSleep(1));
  EXPECT_EQ(kube_.lists(), 2) << "the 410 relisted before any backoff";
  EXPECT_EQ(kube_.watches(), 2);
}

}  // namespace
}  // namespace pygrid::kube
