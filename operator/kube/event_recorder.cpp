#include "kube/event_recorder.h"

#include <algorithm>
#include <ctime>
#include <sstream>

namespace pygrid::kube {
namespace {

const ResourceRef kEvents{"", "v1", "events", true};

Json ReferenceTo(const Json& object) {
  const Json& metadata = object.contains("metadata") ? object["metadata"] : Json::object();
  Json ref = Json::object();
  ref["apiVersion"] = object.value("apiVersion", "");
  ref["kind"] = object.value("kind", "");
  ref["name"] = metadata.value("name", "");
  if (!metadata.value("namespace", "").empty()) ref["namespace"] = metadata["namespace"];
  if (!metadata.value("uid", "").empty()) ref["uid"] = metadata["uid"];
  if (!metadata.value("resourceVersion", "").empty()) {
    ref["resourceVersion"] = metadata["resourceVersion"];
  }
  return ref;
}

// client-go getSpamKey: source and involved object, not reason or message.
std::string SpamKey(const EventRecorderOptions& options, const Json& ref) {
  return options.component + "\x1f" + options.host + "\x1f" + ref.value("kind", "") + "\x1f" +
         ref.value("namespace", "") + "\x1f" + ref.value("name", "") + "\x1f" +
         ref.value("uid", "") + "\x1f" + ref.value("apiVersion", "");
}

const char* TypeName(EventType type) { return type == EventType::kWarning ? "Warning" : "Normal"; }

}  // namespace

EventRecorder::EventRecorder(KubeClient& client, EventRecorderOptions options)
    : client_(client),
      options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : RealClock::Instance()) {
  thread_ = std::thread([this] { Loop(); });
}

EventRecorder::~EventRecorder() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string EventRecorder::Now() const {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(clock_.WallNow());
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

void EventRecorder::Event(const Json& object, EventType type, const std::string& reason,
                          const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.size() >= options_.queue_size) {
    ++dropped_;  // client-go's broadcaster drops when its channel is full
    return;
  }
  queue_.push_back(Pending{ReferenceTo(object), type, reason, message});
  cv_.notify_one();
}

Status EventRecorder::RecordNow(const Json& object, EventType type, const std::string& reason,
                                const std::string& message) {
  return RecordReference(ReferenceTo(object), type, reason, message);
}

Status EventRecorder::RecordReference(const Json& ref, EventType type, const std::string& reason,
                                      const std::string& message) {
  const std::string spam_key = SpamKey(options_, ref);
  const std::string key = spam_key + "\x1f" + TypeName(type) + "\x1f" + reason + "\x1f" + message;
  std::lock_guard<std::mutex> write_lock(write_mu_);
  Aggregate aggregate;
  bool seen = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto bucket = spam_.find(spam_key);
    if (bucket == spam_.end()) {
      if (spam_.size() >= options_.cache_size && !spam_order_.empty()) {
        spam_.erase(spam_order_.front());
        spam_order_.pop_front();
      }
      const double rate =
          1.0 / static_cast<double>(std::max<long long>(1, options_.spam_refill_interval.count()));
      bucket =
          spam_.emplace(spam_key, std::make_unique<TokenBucket>(rate, options_.spam_burst, clock_))
              .first;
      spam_order_.push_back(spam_key);
    }
    if (!bucket->second->TryTake()) {
      ++dropped_;
      return Status::RateLimited("event " + reason + " about " + ref.value("name", "") +
                                 " dropped by the spam filter");
    }
    auto it = aggregates_.find(key);
    if (it != aggregates_.end()) {
      aggregate = it->second;
      seen = true;
    }
  }
  const std::string now = Now();
  if (seen) {
    Json patch = {{"count", aggregate.count + 1}, {"lastTimestamp", now}, {"message", message}};
    StatusOr<Json> patched =
        client_.Patch(kEvents, aggregate.ns, aggregate.name, PatchType::kMerge, patch);
    if (patched.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      aggregates_[key].count = aggregate.count + 1;
      return Status::Ok();
    }
    if (!patched.status().IsNotFound()) return patched.status();
    // The event expired or was deleted (client-go recreates it).
  }
  std::string ns = ref.value("namespace", "");
  if (ns.empty()) ns = "default";
  long long nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.WallNow().time_since_epoch())
          .count();
  {
    // Names must be unique even when two events share a timestamp (a coarse or fake clock).
    std::lock_guard<std::mutex> lock(mu_);
    nanos = std::max(nanos, last_name_nanos_ + 1);
    last_name_nanos_ = nanos;
  }
  std::ostringstream name;
  name << ref.value("name", "") << "." << std::hex << nanos;
  Json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", name.str()}, {"namespace", ns}}},
      {"involvedObject", ref},
      {"reason", reason},
      {"message", message},
      {"type", TypeName(type)},
      {"source", {{"component", options_.component}}},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1},
  };
  if (!options_.host.empty()) event["source"]["host"] = options_.host;
  if (!options_.reporting_controller.empty()) {
    event["reportingComponent"] = options_.reporting_controller;
  }
  if (!options_.reporting_instance.empty()) {
    event["reportingInstance"] = options_.reporting_instance;
  }
  StatusOr<Json> created = client_.Create(kEvents, ns, event);
  if (!created.ok()) return created.status();
  std::lock_guard<std::mutex> lock(mu_);
  if (!aggregates_.count(key)) {
    if (aggregates_.size() >= options_.cache_size && !aggregate_order_.empty()) {
      aggregates_.erase(aggregate_order_.front());
      aggregate_order_.pop_front();
    }
    aggregate_order_.push_back(key);
  }
  aggregates_[key] = Aggregate{name.str(), ns, 1, now};
  return Status::Ok();
}

void EventRecorder::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Pending next = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    for (int attempt = 0; attempt < options_.max_tries; ++attempt) {
      Status status = RecordReference(next.reference, next.type, next.reason, next.message);
      if (status.ok() || status.IsRateLimited() || !status.retryable()) break;
      std::unique_lock<std::mutex> wait_lock(mu_);
      if (cv_.wait_for(wait_lock, options_.retry_interval, [this] { return stopping_; })) return;
    }
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

bool EventRecorder::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
}

int EventRecorder::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace pygrid::kube
