// Provides Executor: runs a batch of independent tasks and returns when all are done, so the
// reconciler can fan out cloud calls and probes without owning threads:
//
//   InlineExecutor inline_executor;               // tests and the simulation: one by one
//   BoundedExecutor pool(8);                      // production: at most 8 at once
//   pool.RunAll({[&] { a = cloud.CreateInstance(ra); }, [&] { b = cloud.CreateInstance(rb); }});
//
// Tasks must not throw. Thread-safety: RunAll may be called from several threads at once; each
// call waits only for its own tasks.
#pragma once

#include <functional>
#include <vector>

namespace pygrid {

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs every task and returns once all have finished.
  virtual void RunAll(std::vector<std::function<void()>> tasks) = 0;
};

// Runs the tasks in order on the calling thread (deterministic).
class InlineExecutor final : public Executor {
 public:
  void RunAll(std::vector<std::function<void()>> tasks) override {
    for (auto& task : tasks) task();
  }
};

// Runs the tasks on at most `max_parallel` threads per call (the caller's thread is one of them).
class BoundedExecutor final : public Executor {
 public:
  explicit BoundedExecutor(int max_parallel) : max_parallel_(max_parallel < 1 ? 1 : max_parallel) {}
  void RunAll(std::vector<std::function<void()>> tasks) override;

 private:
  const int max_parallel_;
};

}  // namespace pygrid
