#include "core/executor.h"

#include <algorithm>
#include <atomic>
#include <thread>

namespace pygrid {

void BoundedExecutor::RunAll(std::vector<std::function<void()>> tasks) {
  if (tasks.size() <= 1) {
    for (auto& task : tasks) task();
    return;
  }
  std::atomic<size_t> next{0};
  auto drain = [&] {
    for (size_t i = next++; i < tasks.size(); i = next++) tasks[i]();
  };
  const size_t helpers = std::min(tasks.size(), static_cast<size_t>(max_parallel_)) - 1;
  std::vector<std::thread> threads;
  threads.reserve(helpers);
  for (size_t i = 0; i < helpers; ++i) threads.emplace_back(drain);
  drain();
  for (std::thread& thread : threads) thread.join();
}

}  // namespace pygrid
