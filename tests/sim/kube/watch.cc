// Watch streams. Semantics from https://kubernetes.io/docs/reference/using-api/api-concepts/
// ("Efficient detection of changes", "Watch bookmarks", "Resource versions"): newline-delimited
// {"type","object"} events over chunked HTTP; resourceVersion unset or "0" starts with
// synthetic ADDED events for the current state; a resourceVersion older than the retained
// history yields HTTP 200 and one ERROR event carrying a 410 Expired Status ("too old resource
// version"), as the watch cache does; BOOKMARK objects carry only kind, apiVersion and
// metadata.resourceVersion. Objects moving in or out of a label selector are reported as
// ADDED/DELETED (k8s.io/apiserver/pkg/storage/cacher, watchCacheEvent filtering).
#include <chrono>

#include "sim/kube/api_server.h"
#include "sim/kube/selectors.h"
#include "sim/kube/table.h"

namespace pygrid::sim::kube {

HttpResponse ApiServer::Watch(const HttpRequest& req, const RequestInfo& info) {
  Selector labels, fields;
  HttpResponse error;
  if (!ParseSelectors(req, info, &labels, &fields, &error)) return error;
  long timeout_s = 1800;
  uint64_t start_rv = 0;
  const std::string rv_param = req.Query("resourceVersion");
  try {
    if (req.HasQuery("timeoutSeconds")) timeout_s = std::stol(req.Query("timeoutSeconds"));
    if (!rv_param.empty() && rv_param != "0") start_rv = std::stoull(rv_param);
  } catch (const std::exception&) {
    return ErrorResponse(400, "BadRequest", "invalid timeoutSeconds or resourceVersion");
  }
  const bool bookmarks = IsTrue(req.Query("allowWatchBookmarks"));
  const bool table = WantsTable(req);
  const std::string include_object = req.Query("includeObject", "Metadata");
  const std::string ns = info.namespace_;
  std::shared_ptr<const ResourceType> type = info.type;

  return HttpResponse::Stream(200, "application/json", [=](ChunkWriter& out) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + std::chrono::seconds(timeout_s);
    const auto interval = std::chrono::milliseconds(options_.bookmark_interval_ms);
    auto next_bookmark = clock::now() + interval;
    bool first_table = true;
    auto line = [&](const std::string& ev_type, const json& stored) {
      json obj = ToExternal(*type, stored);
      if (table) {
        obj = MakeTable(*type, {obj},
                        {{"resourceVersion", obj["metadata"].value("resourceVersion", "")}},
                        include_object, first_table, std::chrono::system_clock::now());
        first_table = false;
      }
      return DumpJson(json{{"type", ev_type}, {"object", obj}}) + "\n";
    };
    auto matches = [&](const json& o) {
      if (o.is_null()) return false;
      if (!ns.empty() && o["metadata"].value("namespace", "") != ns) return false;
      return labels.Matches(o) && fields.Matches(o);
    };
    std::unique_lock<std::mutex> lock(mu_);
    ++open_watches_;
    const uint64_t epoch = watch_epoch_;
    uint64_t bm_epoch = bookmark_epoch_;
    std::vector<std::string> pending;
    uint64_t pos = rv_;
    bool done = false;
    auto expired = [&](uint64_t from) {
      json status = StatusBody(410, "Expired",
                               "too old resource version: " + std::to_string(from) + " (" +
                                   std::to_string(compacted_rv_ + 1) + ")");
      pending.push_back(DumpJson(json{{"type", "ERROR"}, {"object", status}}) + "\n");
      done = true;
    };
    if (start_rv != 0) {
      pos = start_rv;
      if (start_rv < compacted_rv_) expired(start_rv);
    } else {
      for (const auto& [key, obj] : objects_[type->storage_key]) {
        if (matches(obj)) pending.push_back(line("ADDED", obj));
      }
    }
    while (true) {
      if (!pending.empty()) {
        std::vector<std::string> batch;
        batch.swap(pending);
        lock.unlock();
        bool ok = true;
        for (const auto& l : batch) {
          if (!(ok = out.Write(l))) break;
        }
        lock.lock();
        if (!ok) break;
      }
      if (done || stopping_ || epoch != watch_epoch_ || clock::now() >= deadline) break;
      if (pos < compacted_rv_) {
        expired(pos);
        continue;
      }
      for (const auto& e : history_) {
        if (e.rv <= pos) continue;
        pos = e.rv;
        if (e.storage_key != type->storage_key) continue;
        bool now_in = e.type != "DELETED" && matches(e.object);
        bool was_in = e.type != "ADDED" && matches(e.old);
        if (e.type == "DELETED" && was_in) {
          pending.push_back(line("DELETED", e.object));
        } else if (now_in && was_in) {
          pending.push_back(line("MODIFIED", e.object));
        } else if (now_in) {
          pending.push_back(line("ADDED", e.object));
        } else if (was_in) {
          pending.push_back(line("DELETED", e.object));
        }
      }
      if (pos < rv_) pos = rv_;
      if (!pending.empty()) continue;
      if (bookmarks && (clock::now() >= next_bookmark || bm_epoch != bookmark_epoch_)) {
        json obj = {{"kind", type->kind},
                    {"apiVersion", type->ApiVersion()},
                    {"metadata",
                     {{"resourceVersion", std::to_string(pos)}, {"creationTimestamp", nullptr}}}};
        pending.push_back(DumpJson(json{{"type", "BOOKMARK"}, {"object", obj}}) + "\n");
        next_bookmark = clock::now() + interval;
        bm_epoch = bookmark_epoch_;
        continue;
      }
      auto wake =
          std::min(deadline, bookmarks ? next_bookmark : clock::now() + std::chrono::seconds(5));
      cv_.wait_until(lock, wake);
    }
    --open_watches_;
  });
}

}  // namespace pygrid::sim::kube
