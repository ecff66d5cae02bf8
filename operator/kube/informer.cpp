#include "kube/informer.h"

#include "kube/workqueue.h"

namespace pygrid::kube {

EventHandlers EnqueueHandlers(WorkQueue& queue) {
  EventHandlers handlers;
  handlers.on_add = [&queue](const Json& object) { queue.Add(ObjectKey(object)); };
  handlers.on_update = [&queue](const Json&, const Json& object) { queue.Add(ObjectKey(object)); };
  handlers.on_delete = [&queue](const Json& object) { queue.Add(ObjectKey(object)); };
  return handlers;
}

void StripManagedFields(Json& object) {
  auto metadata = object.find("metadata");
  if (metadata != object.end() && metadata->is_object()) metadata->erase("managedFields");
}

Informer::Informer(KubeClient& client, InformerOptions options)
    : client_(client),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock::Instance()),
      rng_(options_.seed ? options_.seed : std::random_device{}()),
      backoff_(options_.backoff) {}

Informer::~Informer() { Stop(); }

void Informer::AddEventHandler(EventHandlers handlers) { handlers_.push_back(std::move(handlers)); }

void Informer::Start() {
  if (started_.exchange(true)) return;
  thread_ = std::thread([this] { Run(); });
}

void Informer::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_.store(true);
    if (current_watch_) current_watch_->Cancel();
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(sync_mu_);
  sync_cv_.wait_for(lock, timeout, [this] { return synced_.load(); });
  return synced_.load();
}

std::optional<Json> Informer::Get(const std::string& key) const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  return *it->second;
}

std::vector<Json> Informer::List() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  std::vector<Json> out;
  out.reserve(cache_.size());
  for (const auto& entry : cache_) out.push_back(*entry.second);
  return out;
}

std::vector<std::shared_ptr<const Json>> Informer::Objects() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  std::vector<std::shared_ptr<const Json>> out;
  out.reserve(cache_.size());
  for (const auto& entry : cache_) out.push_back(entry.second);
  return out;
}

std::vector<std::string> Informer::Keys() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  std::vector<std::string> out;
  out.reserve(cache_.size());
  for (const auto& entry : cache_) out.push_back(entry.first);
  return out;
}

size_t Informer::Size() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  return cache_.size();
}

std::string Informer::LastResourceVersion() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  return resource_version_;
}

bool Informer::SleepFor(std::chrono::milliseconds delay) {
  if (options_.sleeper) {
    if (stopping_.load()) return false;
    options_.sleeper(delay);
    return !stopping_.load();
  }
  std::unique_lock<std::mutex> lock(stop_mu_);
  stop_cv_.wait_for(lock, delay, [this] { return stopping_.load(); });
  return !stopping_.load();
}

bool Informer::BackOff() {
  // client-go's exponentialBackoffManager: the delay grows with every backoff and starts
  // again once backoff_reset passed without one (a healthy period).
  const Clock::TimePoint now = clock_.Now();
  if (last_backoff_ && now - *last_backoff_ > options_.backoff_reset) failures_ = 0;
  last_backoff_ = now;
  return SleepFor(backoff_.Delay(failures_++, rng_));
}

void Informer::Report(const Status& status) {
  if (options_.on_error) options_.on_error(status);
}

void Informer::Run() {
  while (!stopping_.load()) {
    Status listed = ListAndReplace();
    if (!listed.ok()) {
      Report(listed);
      if (!BackOff()) return;
      continue;
    }
    if (!WatchUntilRelist()) return;
  }
}

bool Informer::WatchUntilRelist() {
  for (;;) {
    bool got_events = false;
    const Clock::TimePoint started = clock_.Now();
    Status watched = WatchOnce(&got_events);
    if (stopping_.load()) return false;
    // The resume point left the server's history: only a fresh list can catch up.
    if (watched.IsGone()) return true;
    if (!watched.ok()) {
      // As client-go's reflector: any other watch failure (refused, 5xx, 403, reset, an
      // ERROR event) ends ListAndWatch, and the next round relists after a backoff. Re-watching
      // instead would miss every change made while watches fail.
      Report(watched);
      return BackOff();
    }
    if (!got_events && clock_.Now() - started < std::chrono::seconds(1)) {
      // client-go: a watch that ends within a second without events is an error ("very
      // short watch"), so a server that closes at once is neither hammered nor trusted.
      Report(Status::Unavailable("watch of " + options_.resource.resource +
                                 " ended within 1 s without events"));
      return BackOff();
    }
  }
}

Status Informer::ListAndReplace() {
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  list_options.field_selector = options_.field_selector;
  StatusOr<ListResult> listed =
      client_.List(options_.resource, options_.ns, list_options, options_.page_size);
  if (!listed.ok()) return listed.status();

  std::map<std::string, Cached> fresh;
  for (auto& item : listed->items) {
    std::string key = ObjectKey(item);
    fresh.emplace(std::move(key), Prepare(std::move(item)));
  }
  listed->items.clear();
  std::vector<Cached> deleted;
  std::map<std::string, Cached> old;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    old.swap(cache_);
    cache_ = fresh;
    resource_version_ = listed->resource_version;
  }
  for (auto& entry : old) {
    if (!fresh.count(entry.first)) deleted.push_back(std::move(entry.second));
  }
  for (const auto& object : deleted) {
    for (auto& handlers : handlers_) {
      if (handlers.on_delete) handlers.on_delete(*object);
    }
  }
  for (const auto& entry : fresh) {
    auto previous = old.find(entry.first);
    for (auto& handlers : handlers_) {
      if (previous == old.end()) {
        if (handlers.on_add) handlers.on_add(*entry.second);
      } else if (ResourceVersionOf(*previous->second) != ResourceVersionOf(*entry.second)) {
        if (handlers.on_update) handlers.on_update(*previous->second, *entry.second);
      }
    }
  }
  list_count_.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    synced_.store(true);
  }
  sync_cv_.notify_all();
  return Status::Ok();
}

Status Informer::WatchOnce(bool* got_events) {
  Cancellation cancel;
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopping_.load()) return Status::Ok();
    current_watch_ = &cancel;
  }
  WatchOptions watch;
  watch.resource_version = LastResourceVersion();
  watch.label_selector = options_.label_selector;
  watch.field_selector = options_.field_selector;
  watch.allow_bookmarks = true;
  std::uniform_int_distribution<int64_t> timeout(options_.min_watch_timeout.count(),
                                                 options_.max_watch_timeout.count());
  watch.timeout_seconds = timeout(rng_);
  Status status = client_.Watch(
      options_.resource, options_.ns, watch,
      [this, got_events](const WatchEvent& event) {
        *got_events = true;
        Apply(event);
        return !stopping_.load();
      },
      &cancel);
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    current_watch_ = nullptr;
  }
  return status;
}

void Informer::Apply(const WatchEvent& event) {
  const std::string rv = ResourceVersionOf(event.object);
  if (event.type == "BOOKMARK") {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (!rv.empty()) resource_version_ = rv;
    return;
  }
  // An unknown type is ignored, as client-go's watchHandler logs and skips it.
  if (event.type != "DELETED" && event.type != "ADDED" && event.type != "MODIFIED") return;
  const std::string key = ObjectKey(event.object);
  const Cached object = Prepare(event.object);
  Cached previous;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) previous = it->second;
    if (event.type == "DELETED") {
      cache_.erase(key);
    } else {
      cache_[key] = object;
    }
    if (!rv.empty()) resource_version_ = rv;
  }
  for (auto& handlers : handlers_) {
    if (event.type == "DELETED") {
      if (handlers.on_delete) handlers.on_delete(*object);
    } else if (previous) {
      if (handlers.on_update) handlers.on_update(*previous, *object);
    } else if (handlers.on_add) {
      handlers.on_add(*object);
    }
  }
}

Informer::Cached Informer::Prepare(Json object) const {
  if (options_.transform) options_.transform(object);
  return std::make_shared<const Json>(std::move(object));
}

}  // namespace pygrid::kube
