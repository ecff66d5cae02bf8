// Provides HttpServer: a minimal HTTP/1.1 server for the operator's own endpoints (/metrics,
// /healthz, /readyz), so those need no web framework. One request per connection
// ("Connection: close"), GET and HEAD only, requests handled one at a time.
//
//   auto server = HttpServer::Start(":8081", [](const HttpRequest& r) {
//     return HttpResponse{200, "text/plain; charset=utf-8", "ok"};
//   });
//   if (!server.ok()) return server.status();
//   if (*server) LogInfo("listening", (*server)->port());   // nullptr: "0" disabled it
//
// Thread-safety: port() is safe from any thread; call Stop() (or destroy the server) from one
// thread only. The handler runs on the server's own thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace pygrid::observability {

struct HttpRequest {
  std::string method;  // "GET" or "HEAD"
  std::string path;    // "/readyz"
  std::string query;   // "verbose&exclude=x" (without '?'), undecoded
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// True when the query string has parameter `name` (with or without a value).
bool HasQueryParameter(const std::string& query, const std::string& name);
// Every value of parameter `name` in the query ("exclude=a&exclude=b" -> {a, b}).
std::vector<std::string> QueryValues(const std::string& query, const std::string& name);

class HttpServer {
 public:
  // Binds `bind_address` in Go's host:port form (":8080" = every interface, "127.0.0.1:0",
  // "[::1]:9090", "localhost:0") and serves `handler` on a background thread. "0" and ""
  // disable the server: OK with a nullptr. A bind failure is Unavailable; a malformed address
  // is Invalid.
  static StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& bind_address,
                                                     HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound TCP port (the real one when 0 was asked for).
  int port() const { return port_; }
  // Stops accepting, finishes the request in progress and joins the thread; idempotent.
  void Stop();

 private:
  HttpServer(int listen_fd, int port, HttpHandler handler);
  void Serve();
  void HandleConnection(int fd);

  int listen_fd_;
  int port_;
  int wake_pipe_[2] = {-1, -1};
  HttpHandler handler_;
  struct Thread;
  std::unique_ptr<Thread> thread_;
};

}  // namespace pygrid::observability
