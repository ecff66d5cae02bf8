// A small HTTP/1.1 server for the local stand-ins (kube-sim, genesis-sim), on Boost.Beast.
//
// Provides HttpServer: plain TCP or TLS (PEM cert + key), one thread per connection with
// keep-alive, a single request handler, and long-lived chunked streaming responses (watch
// streams). Usage:
//
//   pygrid::sim::HttpServer server({.port = 0}, [](const pygrid::sim::HttpRequest& req) {
//     if (req.path == "/stream") {
//       return pygrid::sim::HttpResponse::Stream(200, "application/json",
//           [](pygrid::sim::ChunkWriter& out) { out.Write("{}\n"); });  // returns = end
//     }
//     return pygrid::sim::HttpResponse::Text(200, "application/json", "{}");
//   });
//   server.Start();            // binds; server.port() is the bound port
//   ...
//   server.Stop();             // closes the listener and every open connection, joins threads
//
// Header names are matched case-insensitively (HttpRequest::Header); query parameters are
// percent-decoded. A body over HttpServerOptions::max_body_bytes reaches the handler flagged
// (HttpRequest::body_too_large) so it can answer 413; requests that do not parse are answered
// as Go's net/http does (400, or 431 for oversized headers); HttpResponse::CloseWithoutAnswer
// drops the connection instead of answering (a lost-response fault). Connection threads get
// large stacks (HttpServerOptions::thread_stack_bytes) for handlers that recurse over deeply
// nested JSON. This header pulls in no Boost headers so test and sim code stays light.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pygrid::sim {

// One parsed request; immutable once handed to the handler.
struct HttpRequest {
  std::string method;                             // "GET", "POST", ...
  std::string target;                             // raw request target, e.g. "/api/v1/pods?watch=1"
  std::string path;                               // percent-decoded path without the query
  std::multimap<std::string, std::string> query;  // decoded query parameters
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // "ip:port" of the peer
  // True when the body was longer than HttpServerOptions::max_body_bytes: `body` is then
  // empty, and the connection is closed after the response (the rest of the body is unread).
  bool body_too_large = false;

  // The first value of header `name` (case-insensitive), or "" when absent.
  std::string Header(const std::string& name) const;
  // The first value of query parameter `name`, or `fallback` when absent.
  std::string Query(const std::string& name, const std::string& fallback = "") const;
  // True when query parameter `name` is present (with any value).
  bool HasQuery(const std::string& name) const;
};

// The sink of a streaming response. Write blocks until the chunk is on the wire; it returns
// false once the peer is gone or the server is stopping, after which the producer must return.
// Only the producer callback's thread may use it.
class ChunkWriter {
 public:
  virtual ~ChunkWriter() = default;
  // Sends one HTTP chunk (non-empty); false when the connection is closed.
  virtual bool Write(const std::string& data) = 0;
  // True once the server is stopping; producers should return promptly.
  virtual bool Stopping() const = 0;
};

// A response: either a complete body or a chunked stream produced by `producer`.
struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type is among them
  std::string body;
  // When set, the server sends the headers with chunked encoding, calls producer on the
  // connection's thread, and ends the stream (last chunk) when it returns.
  std::function<void(ChunkWriter&)> producer;
  // When set, nothing is sent: the connection is closed as if the server had died after
  // processing the request (a stand-in's "lost response" fault).
  bool close_without_answer = false;

  // A complete response with the given Content-Type.
  static HttpResponse Text(int status, const std::string& content_type, std::string body);
  // A chunked streaming response with the given Content-Type.
  static HttpResponse Stream(int status, const std::string& content_type,
                             std::function<void(ChunkWriter&)> producer);
  // An answer that closes the connection without sending anything.
  static HttpResponse CloseWithoutAnswer();
  // Adds a header; returns *this for chaining.
  HttpResponse& With(const std::string& name, const std::string& value);
};

// Called concurrently from connection threads; must be thread-safe and must not throw
// (an exception becomes a 500 with a plain-text body).
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Listening options. When tls_cert_pem is non-empty the server speaks HTTPS only.
struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;         // 0 picks a free port
  std::string tls_cert_pem;  // server certificate chain (PEM)
  std::string tls_key_pem;   // its private key (PEM); never logged
  // Longest body read into HttpRequest::body; a longer one reaches the handler as
  // body_too_large (Content-Length is checked before reading, chunked bodies as they arrive).
  size_t max_body_bytes = 64 * 1024 * 1024;
  // Longest request line plus header fields: Go's http.Server default (MaxHeaderBytes 1 MiB,
  // plus the 4 KiB it allows on top), which kube-apiserver keeps. Longer ones are answered
  // "431 Request Header Fields Too Large", unparseable requests "400 Bad Request", both as
  // Go's net/http words them (plain text, then the connection is closed).
  size_t max_header_bytes = 1024 * 1024 + 4096;
  // Stack of each connection thread (reserved address space; pages are used as needed).
  size_t thread_stack_bytes = 64 * 1024 * 1024;
};

// An HTTP/1.1 server. Start and Stop are called from one controlling thread; the handler runs
// on per-connection threads.
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();  // calls Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting; returns false (with `error` set) when binding or the TLS
  // setup fails.
  bool Start(std::string* error);
  // The bound port (valid after a successful Start).
  uint16_t port() const;
  // Closes the listener and every connection (ending open streams), then joins all threads.
  // Idempotent.
  void Stop();
  // Closes every open connection that is currently streaming a response; others stay.
  void CloseStreams();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-decodes `s` ("+" stays "+", as in a path; query decoding maps "+" to space).
std::string PercentDecode(const std::string& s, bool plus_is_space);

}  // namespace pygrid::sim
