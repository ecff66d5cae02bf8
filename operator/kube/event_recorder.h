// Provides EventRecorder: core/v1 Events about any object, aggregated and rate limited as
// client-go's legacy tools/record does (event.go, events_cache.go):
//
//   EventRecorder events(client, {.component = "pygrid-operator",
//                                 .reporting_controller = "distributor.pygrid.dev/operator",
//                                 .reporting_instance = pod_name});
//   events.Event(cluster, EventType::kWarning, "FailedCreateInstance", "quota exceeded");
//
// - A repeat of an identical event (same source, object, type, reason, message) patches the
//   first one's count and lastTimestamp instead of creating a new Event.
// - Per source+object spam filter: a token bucket of burst 25 refilling one token per 5 min;
//   events beyond it are dropped, so a failing reconcile loop never floods the API.
// - Event() never blocks: a background thread writes, retrying retryable errors up to 12
//   times 10 s apart; RecordNow() writes synchronously and reports the outcome.
// Thread-safety: every method is safe from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/rate.h"
#include "kube/client.h"

namespace pygrid::kube {

enum class EventType { kNormal, kWarning };

struct EventRecorderOptions {
  std::string component;             // source.component
  std::string host;                  // source.host (the node), optional
  std::string reporting_controller;  // reportingComponent (client-go ReportingController)
  std::string reporting_instance;    // reportingInstance (pod name or leader identity)
  const Clock* clock = nullptr;      // null = RealClock
  int spam_burst = 25;
  std::chrono::seconds spam_refill_interval{300};
  size_t cache_size = 4096;  // objects/keys remembered (client-go LRU size)
  size_t queue_size = 1000;  // pending async events; more are dropped
  int max_tries = 12;
  std::chrono::milliseconds retry_interval{10000};
};

class EventRecorder {
 public:
  EventRecorder(KubeClient& client, EventRecorderOptions options);
  // Stops the writer thread; events still queued are dropped.
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Queues an event about `object` (any object with apiVersion, kind and metadata).
  void Event(const Json& object, EventType type, const std::string& reason,
             const std::string& message);
  // Writes at once: OK when created or aggregated, RateLimited when the spam filter dropped
  // it, or the API error.
  Status RecordNow(const Json& object, EventType type, const std::string& reason,
                   const std::string& message);
  // Waits (real time) until every queued event was handled; false on timeout.
  bool Flush(std::chrono::milliseconds timeout);
  // Events dropped by the spam filter or a full queue.
  int dropped() const;

 private:
  // A queued event holds only its involved object's reference, not the object: a mass create
  // queues hundreds of events, and whole objects would be kept until each is written.
  struct Pending {
    Json reference;
    EventType type;
    std::string reason;
    std::string message;
  };
  struct Aggregate {
    std::string name;
    std::string ns;
    int count = 0;
    std::string first_timestamp;
  };
  void Loop();
  std::string Now() const;
  // RecordNow for an object's reference (ReferenceTo).
  Status RecordReference(const Json& ref, EventType type, const std::string& reason,
                         const std::string& message);

  KubeClient& client_;
  const EventRecorderOptions options_;
  const Clock& clock_;
  mutable std::mutex mu_;  // guards the caches and the queue
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::map<std::string, std::unique_ptr<TokenBucket>> spam_;
  std::deque<std::string> spam_order_;
  std::map<std::string, Aggregate> aggregates_;
  std::deque<std::string> aggregate_order_;
  std::deque<Pending> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  int dropped_ = 0;
  long long last_name_nanos_ = 0;
  std::mutex write_mu_;  // one write at a time keeps aggregation counts exact
  std::thread thread_;
};

}  // namespace pygrid::kube
