// Waiting for a condition in tests: poll it until it holds or a deadline passes. The one
// polling loop the tests use (a deadline, never a fixed sleep to observe quiet time).
#pragma once

#include <chrono>
#include <thread>

namespace pygrid::testing {

// Calls `condition` every `poll` until it returns true (true) or `timeout` passes; checks it
// once more at the deadline, so a condition that holds by then counts.
template <typename Condition>
bool Eventually(Condition&& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(50)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(poll);  // polling with a deadline
  }
  return static_cast<bool>(condition());
}

}  // namespace pygrid::testing
