// Provides Informer: a list-then-watch cache of one resource, kept in sync the way client-go's
// reflector does it, with add/update/delete handlers:
//
//   Informer informer(client, {.resource = kPyGridClusters, .ns = "team-a"});
//   informer.AddEventHandler(EnqueueHandlers(controller.queue()));
//   informer.Start();
//   if (!informer.WaitForSync(std::chrono::seconds(30))) ...;
//   std::optional<Json> obj = informer.Get("team-a/mnist");
//
// Behaviour (client-go tools/cache/reflector.go ListAndWatch, tools/pager): paged list (500
// per page); watch from the list's resourceVersion with allowWatchBookmarks=true and a random
// timeoutSeconds in [5, 10] min; when a stream ends cleanly, re-watch from the last
// resourceVersion seen (events and bookmarks advance it); on 410 Gone/Expired, relist at once.
// A watch that fails to start or ends with any other error, or ends within 1 s without an
// event, is followed by a relist after a backoff, so changes made while watches are refused
// still arrive (the relist replaces the cache and emits adds, updates and deletes for the
// difference). Failed lists are retried after the same backoff: 800 ms x 2 up to 30 s, jitter
// 1.0 (each wait in [base, 2 x base)), starting again from 800 ms once 2 min passed without
// a backoff. Handlers run on the informer's thread in event order and must not block.
// Thread-safety: cache reads, HasSynced and Stop are safe from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/rate.h"
#include "kube/client.h"

namespace pygrid::kube {

class WorkQueue;

// Callbacks for cache changes; any may be empty.
struct EventHandlers {
  std::function<void(const Json& object)> on_add;
  std::function<void(const Json& old_object, const Json& new_object)> on_update;
  // On a relist the last known state is passed (client-go DeletedFinalStateUnknown).
  std::function<void(const Json& object)> on_delete;
};

// Handlers that queue ObjectKey(object) for every add, update and delete.
EventHandlers EnqueueHandlers(WorkQueue& queue);

// Changes an object before it is cached and handed to the handlers (client-go
// SharedIndexInformer.SetTransform), to keep only what the readers need.
using Transform = std::function<void(Json& object)>;

// Drops metadata.managedFields (controller-runtime cache.TransformStripManagedFields): the
// server's field-ownership bookkeeping, often larger than the spec, which no controller reads.
// An update sent without it keeps the stored one (the API server fills it from the live object).
void StripManagedFields(Json& object);

struct InformerOptions {
  ResourceRef resource;
  std::string ns;  // "" = every namespace (or cluster-scoped)
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  std::chrono::seconds min_watch_timeout{300};
  std::chrono::seconds max_watch_timeout{600};
  BackoffPolicy backoff{std::chrono::milliseconds(800), std::chrono::seconds(30), 2.0,
                        JitterMode::kProportional, 1.0};
  // The backoff starts again from `backoff.initial` when this long passed since the last
  // backoff (client-go's reflector: 2 min).
  std::chrono::seconds backoff_reset{120};
  uint64_t seed = 0;  // 0 = random
  // Injected time: `clock` times watches and the backoff reset (null: the real clock);
  // `sleeper`, when set, replaces the real wait between attempts (tests advance a FakeClock
  // in it; it should return promptly once Stop is called).
  const Clock* clock = nullptr;
  std::function<void(Clock::Duration)> sleeper;
  // Reports list/watch failures (for logs); called on the informer thread.
  std::function<void(const Status&)> on_error;
  // Applied to every listed or watched object before it is cached (null: kept whole).
  Transform transform;
};

class Informer {
 public:
  Informer(KubeClient& client, InformerOptions options);
  // Stops and joins.
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Registers handlers; call before Start.
  void AddEventHandler(EventHandlers handlers);
  // Starts the list/watch thread; a second call does nothing.
  void Start();
  // Ends the current watch and joins the thread. Idempotent.
  void Stop();

  // True once the first list has been stored in the cache.
  bool HasSynced() const { return synced_.load(); }
  // Waits (real time) until HasSynced or `timeout`; returns HasSynced().
  bool WaitForSync(std::chrono::milliseconds timeout);

  // The cached object for "ns/name" (or "name"), if any. Returns a copy.
  std::optional<Json> Get(const std::string& key) const;
  // Copies of every cached object, in key order.
  std::vector<Json> List() const;
  // Every cached object, in key order, shared rather than copied (they never change once
  // cached): for a reader that scans them all, as a handler looking for an object's users.
  std::vector<std::shared_ptr<const Json>> Objects() const;
  std::vector<std::string> Keys() const;
  size_t Size() const;
  // The resourceVersion the next watch would start from.
  std::string LastResourceVersion() const;
  // How many full lists have succeeded (1 after the initial sync); tests watch relists.
  int list_count() const { return list_count_.load(); }

 private:
  void Run();
  // Watches, re-watching after clean ends, until a watch calls for a relist; false if stopped.
  bool WatchUntilRelist();
  Status ListAndReplace();
  // Returns the watch outcome and whether any event arrived.
  Status WatchOnce(bool* got_events);
  void Apply(const WatchEvent& event);
  // Waits the next backoff delay; false when stopped.
  bool BackOff();
  // Passes a list/watch failure to options_.on_error, if set.
  void Report(const Status& status);
  bool SleepFor(std::chrono::milliseconds delay);  // false when stopped

  KubeClient& client_;
  const InformerOptions options_;
  std::vector<EventHandlers> handlers_;
  const Clock& clock_;
  std::mt19937_64 rng_;
  ExponentialBackoff backoff_;
  int failures_ = 0;                              // informer thread only
  std::optional<Clock::TimePoint> last_backoff_;  // informer thread only

  // Cached objects are shared, immutable once stored: a handler, a relist's diff and the cache
  // hold one copy between them.
  using Cached = std::shared_ptr<const Json>;
  // The event's object as cached: transformed, when a transform is set.
  Cached Prepare(Json object) const;

  mutable std::mutex cache_mu_;
  std::map<std::string, Cached> cache_;
  std::string resource_version_;

  std::atomic<bool> synced_{false};
  std::atomic<int> list_count_{0};
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  mutable std::mutex sync_mu_;
  mutable std::condition_variable sync_cv_;
  Cancellation* current_watch_ = nullptr;  // guarded by stop_mu_
  std::thread thread_;
};

}  // namespace pygrid::kube
