// genesis-sim's HTTP types and client. The server side is the stand-ins' shared
// HttpServer (tests/sim/common/http_server.h) behind genesis-sim's own request and response
// types: header names lower-cased, one value per query parameter, and drop_connection (closing
// without an answer, the lost-response fault) mapped to HttpResponse::CloseWithoutAnswer.
// Used for the API and for every emulated PyGrid service (small listeners on per-instance
// loopback addresses).
//
//   SimHttpServer server("127.0.0.1", 0, [](const SimRequest& r) { return SimResponse::Json(200,
//   "{}"); }); if (!server.Start(&error)) ...;  server.port();  server.Stop();
//
// Thread-safety: the handler runs concurrently on per-connection threads; Start/Stop are
// called from one controlling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace pygrid::sim::genesis {

// One request; header names lower-case; `path` without the query; `query` decoded.
struct SimRequest {
  std::string method;
  std::string target;
  std::string path;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;
  std::string body;
  // The body was longer than SimHttpLimits::max_body_bytes and is empty here.
  bool body_too_large = false;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// One answer; `drop_connection` closes the socket without sending anything.
struct SimResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
  bool drop_connection = false;

  static SimResponse Json(int status, std::string body) {
    SimResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static SimResponse Text(int status, std::string content_type, std::string body) {
    SimResponse r;
    r.status = status;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    return r;
  }
};

using SimHandler = std::function<SimResponse(const SimRequest&)>;

// Limits of one server: bodies up to 16 MiB (a longer one reaches the handler flagged; the API
// answers 413); the API server gets large thread stacks for its recursive JSON handling.
struct SimHttpLimits {
  size_t max_body_bytes = 16 * 1024 * 1024;
  // Request line plus headers (431 beyond): 8 KiB as the Beast server before, which also keeps
  // the fault rules' std::regex (recursive per character) far from long paths.
  size_t max_header_bytes = 8 * 1024;
  size_t thread_stack_bytes = 8 * 1024 * 1024;
};

class SimHttpServer {
 public:
  SimHttpServer(std::string address, uint16_t port, SimHandler handler, SimHttpLimits limits = {});
  ~SimHttpServer();
  SimHttpServer(const SimHttpServer&) = delete;
  SimHttpServer& operator=(const SimHttpServer&) = delete;

  // Binds and starts accepting; false with `error` set when binding fails.
  bool Start(std::string* error);
  uint16_t port() const;
  // Closes the listener and all connections and joins every thread; idempotent.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Result of a blocking client call; status 0 with `error` set when there was no answer.
struct SimClientResult {
  int status = 0;
  std::string body;
  std::string error;
};

// Sends one request to http://host:port/path (no TLS), waiting at most `timeout_ms`.
SimClientResult SimHttpCall(const std::string& method, const std::string& url,
                            const std::string& body, int timeout_ms,
                            const std::map<std::string, std::string>& headers = {});

}  // namespace pygrid::sim::genesis
