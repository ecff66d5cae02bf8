// A scripted HttpTransport for Genesis client unit tests: answers from a queue (or a handler)
// and records every request. Thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "cloud/genesis/http_transport.h"

namespace pygrid::cloud::genesis::testing {

inline TransportResult Answer(int status, std::string body,
                              std::map<std::string, std::string> headers = {}) {
  TransportResult r;
  r.response.status = status;
  r.response.body = std::move(body);
  r.response.headers = std::move(headers);
  return r;
}

inline TransportResult Failure(TransportError error) {
  TransportResult r;
  r.error = error;
  r.error_message = error == TransportError::kTimeout ? "timed out" : "connection reset";
  return r;
}

class FakeTransport final : public HttpTransport {
 public:
  struct Shared {
    std::mutex mu;
    std::deque<TransportResult> queue;
    std::function<TransportResult(const HttpRequest&)> handler;
    std::vector<HttpRequest> requests;
  };

  explicit FakeTransport(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  TransportResult Send(const HttpRequest& request) override {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->requests.push_back(request);
    if (!shared_->queue.empty()) {
      TransportResult r = shared_->queue.front();
      shared_->queue.pop_front();
      return r;
    }
    if (shared_->handler) return shared_->handler(request);
    return Answer(500, R"({"code":"09999","message":"fake transport has no script"})");
  }

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace pygrid::cloud::genesis::testing
