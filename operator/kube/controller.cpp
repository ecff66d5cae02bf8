#include "kube/controller.h"

#include <exception>

namespace pygrid::kube {
namespace {

WorkQueueOptions QueueOptions(ControllerOptions& options) {
  WorkQueueOptions queue;
  queue.name = options.name;
  queue.clock = options.clock;
  queue.rate_limiter = std::move(options.rate_limiter);
  MetricsProvider& provider = options.metrics ? *options.metrics : NoopMetricsProvider();
  queue.metrics = provider.NewWorkqueueMetrics(options.name);
  return queue;
}

}  // namespace

ReconcileResult ReconcileResult::RequeueAfter(Clock::Duration after) {
  ReconcileResult result(Action::kRequeueAfter);
  result.after_ = after;
  return result;
}

ReconcileResult ReconcileResult::Error(Status error) {
  ReconcileResult result(Action::kError);
  result.error_ = std::move(error);
  return result;
}

ReconcileResult ReconcileResult::Terminal(Status error) {
  ReconcileResult result(Action::kTerminalError);
  result.error_ = std::move(error);
  return result;
}

Controller::Controller(ControllerOptions options, ReconcileFunc reconcile)
    : name_(options.name),
      workers_(std::max(1, options.workers)),
      clock_(options.clock ? *options.clock : RealClock::Instance()),
      reconcile_(std::move(reconcile)),
      on_error_(std::move(options.on_error)),
      metrics_((options.metrics ? *options.metrics : NoopMetricsProvider())
                   .NewControllerMetrics(options.name)),
      queue_(QueueOptions(options)) {}

Controller::~Controller() { Stop(); }

void Controller::Start() {
  if (started_.exchange(true)) return;
  metrics_->Init(workers_);
  std::lock_guard<std::mutex> lock(threads_mu_);
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { WorkerLoop(); });
}

void Controller::Stop() {
  stopped_.store(true);
  queue_.ShutDown();
  JoinWorkers();
}

void Controller::JoinWorkers() {
  std::lock_guard<std::mutex> lock(threads_mu_);
  for (auto& thread : threads_) {
    // A reconcile that stops its own controller must not join itself.
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();
    } else if (thread.joinable()) {
      thread.join();
    }
  }
  threads_.clear();
}

void Controller::StopAndDrain() {
  queue_.ShutDown();
  JoinWorkers();
  stopped_.store(true);
}

void Controller::WorkerLoop() {
  while (auto key = queue_.Get()) {
    // After Stop (e.g. the lease is lost) keys still queued are handed back untouched.
    if (!stopped_.load()) ProcessOne(*key);
    queue_.Done(*key);
    if (stopped_.load()) break;
  }
}

void Controller::ProcessOne(const std::string& key) {
  active_.fetch_add(1);
  metrics_->AddActiveWorkers(1);
  const auto start = clock_.Now();
  ReconcileResult result = ReconcileResult::Done();
  try {
    result = reconcile_(key);
  } catch (const std::exception& e) {
    metrics_->IncReconcilePanics();
    result = ReconcileResult::Error(Status::Internal(std::string("reconcile threw: ") + e.what()));
  } catch (...) {
    metrics_->IncReconcilePanics();
    result = ReconcileResult::Error(Status::Internal("reconcile threw a non-standard exception"));
  }
  metrics_->ObserveReconcileTime(std::chrono::duration<double>(clock_.Now() - start).count());
  metrics_->AddActiveWorkers(-1);
  active_.fetch_sub(1);

  switch (result.action()) {
    case ReconcileResult::Action::kDone:
      queue_.Forget(key);
      metrics_->IncReconcile(ReconcileOutcome::kSuccess);
      break;
    case ReconcileResult::Action::kRequeueAfter:
      queue_.Forget(key);
      queue_.AddAfter(key, result.after());
      metrics_->IncReconcile(ReconcileOutcome::kRequeueAfter);
      break;
    case ReconcileResult::Action::kRequeue:
      queue_.AddRateLimited(key);
      metrics_->IncReconcile(ReconcileOutcome::kRequeue);
      break;
    case ReconcileResult::Action::kError:
      queue_.AddRateLimited(key);
      metrics_->IncReconcileErrors();
      metrics_->IncReconcile(ReconcileOutcome::kError);
      if (on_error_) on_error_(key, result.error(), false);
      break;
    case ReconcileResult::Action::kTerminalError:
      queue_.Forget(key);
      metrics_->IncReconcileErrors();
      metrics_->IncTerminalReconcileErrors();
      metrics_->IncReconcile(ReconcileOutcome::kError);
      if (on_error_) on_error_(key, result.error(), true);
      break;
  }
}

}  // namespace pygrid::kube
