#include "kube/status_writer.h"

#include <thread>

namespace pygrid::kube {

StatusWriter::StatusWriter(KubeClient& client, ResourceRef resource, StatusWriterOptions options)
    : client_(client),
      resource_(std::move(resource)),
      options_(std::move(options)),
      rng_(std::random_device{}()) {
  if (!options_.sleep) {
    options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
}

StatusOr<Json> StatusWriter::Write(const Json& object, const Json& desired_status) {
  Json current = object;
  const Json& metadata = object.contains("metadata") ? object["metadata"] : Json::object();
  const std::string ns = metadata.value("namespace", "");
  const std::string name = metadata.value("name", "");
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Status last = Status::Conflict("status write of " + ObjectKey(object) + " never attempted");
  for (int attempt = 0; attempt < options_.steps; ++attempt) {
    if (attempt > 0) {
      double draw;
      {
        std::lock_guard<std::mutex> lock(rng_mu_);
        draw = unit(rng_);
      }
      options_.sleep(std::chrono::milliseconds(static_cast<long long>(
          static_cast<double>(options_.interval.count()) * (1.0 + options_.jitter * draw))));
      StatusOr<Json> fresh = client_.Get(resource_, ns, name);
      if (!fresh.ok()) return fresh.status();
      current = std::move(*fresh);
    }
    if (current.contains("status") && current["status"] == desired_status) return current;
    Json updated = current;
    updated["status"] = desired_status;
    ++writes_;
    StatusOr<Json> written = client_.UpdateStatus(resource_, ns, updated);
    if (written.ok()) return written;
    if (!written.status().IsConflict()) return written.status();
    last = written.status();
  }
  return last;
}

}  // namespace pygrid::kube
