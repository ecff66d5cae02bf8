// Provides HttpServer: the server behind the operator's own endpoints (/metrics, /healthz,
// /readyz), plain HTTP or HTTPS. Boost.Beast reads and writes the HTTP/1.1 messages and
// Boost.Asio (with OpenSSL for TLS) does the sockets; this file only maps a request to an
// HttpRequest, the handler's HttpResponse back, and bounds what a client may cost (a deadline
// per connection, a header size limit, a connection cap). One request per connection
// ("Connection: close"), GET and HEAD only.
//
//   auto server = HttpServer::Start(":8081", [](const HttpRequest& r) {
//     return HttpResponse{200, "text/plain; charset=utf-8", "ok"};
//   });
//   if (!server.ok()) return server.status();
//   if (*server) LogInfo("listening", (*server)->port());   // nullptr: "0" disabled it
//
// Thread-safety: port() is safe from any thread; call Stop() (or destroy the server) from one
// thread only. The handler runs on the server's threads, possibly on several at once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace pygrid::observability {

class ServingCertificate;

struct HttpRequest {
  std::string method;         // "GET" or "HEAD"
  std::string path;           // "/readyz"
  std::string query;          // "verbose&exclude=x" (without '?'), undecoded
  std::string authorization;  // the Authorization header ("Bearer <token>"), "" when absent
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

struct HttpServerOptions {
  // Go's host:port form (":8080" = every interface, "127.0.0.1:0", "[::1]:9090",
  // "localhost:0"); "0" and "" disable the server.
  std::string bind_address;
  HttpHandler handler;
  // Serve HTTPS with this certificate (TLS 1.2 or later; HTTP/1.1 only, no ALPN "h2", so
  // HTTP/2 rapid reset, CVE-2023-44487, does not apply); null serves plain HTTP.
  std::shared_ptr<ServingCertificate> certificate;
  // Threads running the handler; a handler that blocks (an API call) holds one.
  int threads = 2;
  // A connection must finish its TLS handshake, send its request and take the answer within
  // this time (kubelet's default probe timeout is 1 s; a stuck client costs no more).
  std::chrono::milliseconds connection_deadline{2000};
  // Connections beyond this many open ones are closed at once.
  int max_connections = 64;
};

class HttpServer {
 public:
  // Binds and serves on background threads. A disabled address is OK with a nullptr; a bind
  // failure is Unavailable; a malformed address is Invalid.
  static StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options);
  // Plain HTTP with the default limits.
  static StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& bind_address,
                                                     HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound TCP port (the real one when 0 was asked for).
  int port() const { return port_; }
  // Stops accepting, lets running handlers return, closes every connection and joins the
  // threads; idempotent.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl, int port);

  std::unique_ptr<Impl> impl_;
  int port_;
};

}  // namespace pygrid::observability
