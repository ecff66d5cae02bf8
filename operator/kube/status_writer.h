// Provides StatusWriter: writes an object's /status subresource only when the status differs,
// retrying on 409 Conflict with a fresh read (client-go retry.RetryOnConflict with
// retry.DefaultRetry: 5 attempts, 10 ms apart, jitter 0.1):
//
//   StatusWriter writer(client, kPyGridClusters);
//   StatusOr<Json> written = writer.Write(cached_object, desired_status);
//
// Thread-safety: Write may be called from several threads at once (one writer serves every
// worker); writes to one object should come from one worker (the workqueue guarantees that).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <random>

#include "kube/client.h"

namespace pygrid::kube {

struct StatusWriterOptions {
  int steps = 5;                           // DefaultRetry.Steps
  std::chrono::milliseconds interval{10};  // DefaultRetry.Duration
  double jitter = 0.1;                     // DefaultRetry.Jitter
  // How to wait between attempts; tests may replace it. Default: sleep.
  std::function<void(std::chrono::milliseconds)> sleep;
};

class StatusWriter {
 public:
  StatusWriter(KubeClient& client, ResourceRef resource, StatusWriterOptions options = {});

  // Makes the server's status of `object` equal `desired_status`. Skips the request when
  // object["status"] already equals it; otherwise PUTs /status with object's resourceVersion;
  // on Conflict re-reads, and stops if the fresh status already matches. Returns the object
  // as the server last returned it (or `object` when nothing was written); NotFound when
  // the object is gone; Conflict when all attempts conflicted.
  StatusOr<Json> Write(const Json& object, const Json& desired_status);

  // How many PUTs the writer sent (for tests and debugging).
  int writes() const { return writes_.load(); }

 private:
  KubeClient& client_;
  const ResourceRef resource_;
  StatusWriterOptions options_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  std::atomic<int> writes_{0};
};

}  // namespace pygrid::kube
