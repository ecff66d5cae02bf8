// End to end: a grid converges through a storm of Genesis Cloud failures (5xx, 429 bursts
// with Retry-After, server-side rate limiting, slow boots) while the operator keeps to its
// client-side budget (10 requests/s) and never retries before a 429's Retry-After has passed.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "e2e/grid_fixture.h"

namespace pygrid::e2e {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Milliseconds since midnight of an RFC 3339 timestamp ("...T05:12:34.567Z").
double MillisOfDay(const std::string& time) {
  const size_t t = time.find('T');
  if (t == std::string::npos || time.size() < t + 9) return -1;
  const int h = std::stoi(time.substr(t + 1, 2)), m = std::stoi(time.substr(t + 4, 2));
  const double s = std::stod(time.substr(t + 7, time.find('Z') - t - 7));
  return ((h * 60 + m) * 60 + s) * 1000;
}

TEST(FaultStormTest, ConvergesWithinTheRateBudgetAndHonoursRetryAfter) {
  Grid grid({/*boot_seconds=*/3.0});
  grid.InstallCrdAndSecret();
  grid.SimDelete("/_sim/requests");
  // Above 10 requests/s the simulated cloud answers 429 with Retry-After: 1.
  ASSERT_FALSE(grid.SimPost("/_sim/rate-limit", {{"per_second", 10}}).is_null());
  grid.StartOperator();
  ASSERT_EQ(grid.Apply(ClusterYaml("storm", 5)).exit_code, 0);

  // The storm follows the operator's own request count: one in three API reads fails with a
  // 5xx (more than the 20 % the issue asks for), and every 10 requests two in a row, creates
  // included, get 429 with Retry-After: 1. Creates get no 5xx here: an answered 5xx may still
  // have created the instance, so its name waits out the two-minute landing window by design
  // (CrashSafetyTest covers lost and late creates); with the gateway and five workers created
  // at once, a create failing twice in a row would outlast this test's budget.
  auto api_requests = [&] {
    const std::vector<json> requests = grid.Requests();
    size_t count = 0;
    for (const json& request : requests)
      count += request.value("path", "").rfind("/compute/v1/", 0) == 0;
    return count;
  };
  std::atomic<bool> calm{false};
  std::thread storm([&] {
    size_t last_fault = 0, last_burst = 0;
    for (int n = 0; !calm.load(); ++n) {
      const size_t seen = api_requests();
      if (seen >= last_fault + 3) {
        last_fault = seen;
        const int status = n % 3 == 0 ? 500 : n % 3 == 1 ? 502 : 503;
        grid.SimPost("/_sim/faults", {{"method", "GET"},
                                      {"path", "^/compute/v1/"},
                                      {"status", status},
                                      {"count", 1}});
      }
      if (seen >= last_burst + 10) {
        last_burst = seen;
        grid.SimPost("/_sim/faults", {{"method", ""},
                                      {"path", "^/compute/v1/"},
                                      {"status", 429},
                                      {"count", 2},
                                      {"retry_after", 1}});
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
  });
  const bool ready = grid.WaitForCondition("storm", "Ready", "True", seconds(180));
  calm = true;
  storm.join();
  ASSERT_TRUE(ready) << grid.Kubectl("get pgc storm -o yaml").output << grid.OperatorLog(0);
  EXPECT_EQ(StatusOf(grid.Cluster("storm")).value("readyWorkers", 0), 5);

  const std::vector<json> requests = grid.Requests();
  ASSERT_GE(requests.size(), 15u);
  std::vector<double> times;
  int failures = 0, limited = 0;
  for (const json& request : requests) {
    if (request.value("path", "").rfind("/compute/v1/", 0) != 0) continue;
    times.push_back(MillisOfDay(request.value("time", "")));
    const int status = request.value("status", 0);
    failures += status >= 500;
    limited += status == 429;
  }
  EXPECT_GE(failures, 3) << "the storm did not hit";
  EXPECT_GE(limited, 2) << "no 429 burst was seen";
  // Sustained rate: no 3-second window holds more than 3 s x 10/s plus the burst of 10.
  std::sort(times.begin(), times.end());
  size_t busiest = 0;
  for (size_t i = 0, j = 0; j < times.size(); ++j) {
    while (times[j] - times[i] > 3000) ++i;
    busiest = std::max(busiest, j - i + 1);
  }
  EXPECT_LE(busiest, 40u) << "requests in the busiest 3 s window";
  // No request to the same endpoint within 0.9 s after a 429 that asked for 1 s. Requests
  // that arrive within 100 ms were already in flight when the 429 was sent (parallel creates).
  std::map<std::string, double> limited_at;
  int early_retries = 0;
  for (const json& request : requests) {
    const std::string key = request.value("method", "") + " " + request.value("path", "");
    const double at = MillisOfDay(request.value("time", ""));
    auto it = limited_at.find(key);
    if (it != limited_at.end() && at - it->second > 100) {
      if (at - it->second < 900) {
        ++early_retries;
        ADD_FAILURE() << key << " was retried " << (at - it->second)
                      << " ms after a 429 asking for 1 s";
      }
      limited_at.erase(it);
    }
    if (request.value("status", 0) == 429) limited_at[key] = at;
  }
  EXPECT_EQ(early_retries, 0);
}

}  // namespace
}  // namespace pygrid::e2e
