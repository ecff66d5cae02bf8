// HttpServer on synchronous Boost.Beast: one thread per connection keeps the streaming path
// simple (a watch producer just blocks on its own thread) and the stand-ins never see more
// than a few dozen connections.
#include "sim/common/http_server.h"

#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <list>
#include <mutex>
#include <thread>

namespace pygrid::sim {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

// A thread with a chosen stack size (std::thread cannot set one).
class BigStackThread {
 public:
  BigStackThread() = default;
  BigStackThread(const BigStackThread&) = delete;
  BigStackThread& operator=(const BigStackThread&) = delete;
  ~BigStackThread() { Join(); }

  // Starts `fn`; false (and `fn` not run) when the thread cannot be created.
  bool Start(size_t stack_bytes, std::function<void()> fn) {
    fn_ = std::move(fn);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack_bytes);
    started_ = pthread_create(&id_, &attr, &BigStackThread::Run, this) == 0;
    pthread_attr_destroy(&attr);
    return started_;
  }
  void Join() {
    if (started_) pthread_join(id_, nullptr);
    started_ = false;
  }

 private:
  static void* Run(void* self) {
    static_cast<BigStackThread*>(self)->fn_();
    return nullptr;
  }
  std::function<void()> fn_;
  pthread_t id_{};
  bool started_ = false;
};

bool IEquals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentDecode(const std::string& s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string HttpRequest::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return "";
}

std::string HttpRequest::Query(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

bool HttpRequest::HasQuery(const std::string& name) const { return query.count(name) > 0; }

HttpResponse HttpResponse::Text(int status, const std::string& content_type, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", content_type);
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Stream(int status, const std::string& content_type,
                                  std::function<void(ChunkWriter&)> producer) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", content_type);
  r.producer = std::move(producer);
  return r;
}

HttpResponse HttpResponse::CloseWithoutAnswer() {
  HttpResponse r;
  r.close_without_answer = true;
  return r;
}

HttpResponse& HttpResponse::With(const std::string& name, const std::string& value) {
  headers.emplace_back(name, value);
  return *this;
}

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}

  struct Connection {
    tcp::socket socket;
    std::atomic<bool> streaming{false};
    std::atomic<bool> finished{false};
    BigStackThread thread;
    explicit Connection(tcp::socket s) : socket(std::move(s)) {}
  };

  // Writes chunks to a Beast stream; any error marks the sink closed.
  template <class Stream>
  class StreamChunkWriter : public ChunkWriter {
   public:
    StreamChunkWriter(Stream& stream, const std::atomic<bool>& stopping)
        : stream_(stream), stopping_(stopping) {}
    bool Write(const std::string& data) override {
      if (!ok_ || stopping_ || data.empty()) return ok_ && !stopping_;
      boost::system::error_code ec;
      net::write(stream_, http::make_chunk(net::buffer(data)), ec);
      if (ec) ok_ = false;
      return ok_;
    }
    bool Stopping() const override { return stopping_; }
    bool ok() const { return ok_; }

   private:
    Stream& stream_;
    const std::atomic<bool>& stopping_;
    bool ok_ = true;
  };

  bool Start(std::string* error) {
    try {
      if (!options_.tls_cert_pem.empty()) {
        ssl_ctx_ = std::make_unique<ssl::context>(ssl::context::tls_server);
        ssl_ctx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                              ssl::context::no_sslv3);
        ssl_ctx_->use_certificate_chain(
            net::buffer(options_.tls_cert_pem.data(), options_.tls_cert_pem.size()));
        ssl_ctx_->use_private_key(
            net::buffer(options_.tls_key_pem.data(), options_.tls_key_pem.size()),
            ssl::context::pem);
      }
      tcp::endpoint ep(net::ip::make_address(options_.host), options_.port);
      acceptor_ = std::make_unique<tcp::acceptor>(io_);
      acceptor_->open(ep.protocol());
      acceptor_->set_option(net::socket_base::reuse_address(true));
      acceptor_->bind(ep);
      acceptor_->listen(net::socket_base::max_listen_connections);
      port_ = acceptor_->local_endpoint().port();
    } catch (const std::exception& e) {
      if (error) *error = std::string("http server start failed: ") + e.what();
      return false;
    }
    accept_thread_ = std::thread([this] { AcceptLoop(); });
    return true;
  }

  void AcceptLoop() {
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_->accept(socket, ec);
      if (stopping_) break;
      if (ec) continue;
      std::lock_guard<std::mutex> lock(mu_);
      ReapLocked();
      connections_.emplace_back(std::make_unique<Connection>(std::move(socket)));
      Connection* conn = connections_.back().get();
      // Handlers recurse over request JSON (up to Go's nesting limit of 10,000 levels, some
      // kilobytes of stack per level in unoptimised builds): 8 MiB is not enough.
      if (!conn->thread.Start(options_.thread_stack_bytes, [this, conn] {
            Serve(conn);
            conn->finished = true;
          })) {
        connections_.pop_back();
      }
    }
  }

  void ReapLocked() {
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->finished) {
        (*it)->thread.Join();
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void Serve(Connection* conn) {
    boost::system::error_code ec;
    std::string remote;
    auto ep = conn->socket.remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    conn->socket.set_option(tcp::no_delay(true), ec);
    if (ssl_ctx_) {
      ssl::stream<tcp::socket&> stream(conn->socket, *ssl_ctx_);
      stream.handshake(ssl::stream_base::server, ec);
      if (ec) return;
      ServeStream(stream, conn, remote);
      stream.shutdown(ec);
    } else {
      ServeStream(conn->socket, conn, remote);
    }
    conn->socket.shutdown(tcp::socket::shutdown_both, ec);
    conn->socket.close(ec);
  }

  template <class Stream>
  void ServeStream(Stream& stream, Connection* conn, const std::string& remote) {
    boost::beast::flat_buffer buffer;
    while (!stopping_) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.max_body_bytes);
      parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
      boost::system::error_code ec;
      http::read(stream, buffer, parser, ec);
      // body_limit is only reported once the start line and every header field are parsed.
      const bool too_large = ec == http::error::body_limit;
      if (ec && !too_large) {
        // net/http's answers to requests it cannot parse (server.go, conn.serve).
        // Unlike Go, which may reset a peer that is still sending, the rest of the request is
        // drained so that the peer can read the answer.
        if (ec == http::error::header_limit) {
          WriteRaw(stream, "431 Request Header Fields Too Large");
          DiscardRest(stream);
        } else if (IsParseError(ec)) {
          WriteRaw(stream, "400 Bad Request");
          DiscardRest(stream);
        }
        return;
      }
      auto& msg = parser.get();
      HttpRequest req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      req.remote = remote;
      auto qpos = req.target.find('?');
      req.path = PercentDecode(req.target.substr(0, qpos), false);
      if (qpos != std::string::npos) ParseQuery(req.target.substr(qpos + 1), &req.query);
      for (const auto& field : msg) {
        req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      if (too_large) {
        req.body_too_large = true;
      } else {
        req.body = std::move(msg.body());
      }
      // The unread rest of an oversized body would be taken for the next request.
      bool keep_alive = msg.keep_alive() && !too_large;

      HttpResponse resp;
      try {
        resp = handler_(req);
      } catch (const std::exception& e) {
        resp = HttpResponse::Text(500, "text/plain", std::string("handler error: ") + e.what());
      }
      if (resp.close_without_answer) return;  // Serve() shuts the socket down
      if (resp.producer) {
        http::response<http::empty_body> head{static_cast<http::status>(resp.status), 11};
        for (const auto& [k, v] : resp.headers) head.set(k, v);
        head.chunked(true);
        head.keep_alive(keep_alive);
        http::response_serializer<http::empty_body> sr{head};
        http::write_header(stream, sr, ec);
        if (ec) return;
        conn->streaming = true;
        StreamChunkWriter<Stream> writer(stream, stopping_);
        resp.producer(writer);
        conn->streaming = false;
        if (!writer.ok() || stopping_) return;
        net::write(stream, http::make_chunk_last(), ec);
        if (ec) return;
      } else {
        http::response<http::string_body> out{static_cast<http::status>(resp.status), 11};
        for (const auto& [k, v] : resp.headers) out.set(k, v);
        out.body() = std::move(resp.body);
        out.keep_alive(keep_alive);
        out.prepare_payload();
        http::write(stream, out, ec);
        if (ec) return;
      }
      if (too_large) DiscardRest(stream);
      if (!keep_alive) return;
    }
  }

  // True for Beast's HTTP parse errors, but not for a peer that closed (between or inside a
  // request): nobody is left to answer then.
  static bool IsParseError(const boost::system::error_code& ec) {
    const boost::system::error_code http_error = http::error::end_of_stream;
    return ec.category() == http_error.category() && ec != http::error::end_of_stream &&
           ec != http::error::partial_message;
  }

  // Writes Go's plain-text error answer for a request that could not be parsed.
  template <class Stream>
  static void WriteRaw(Stream& stream, const std::string& status) {
    const std::string out = "HTTP/1.1 " + status +
                            "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: "
                            "close\r\n\r\n" +
                            status;
    boost::system::error_code ec;
    net::write(stream, net::buffer(out), ec);
  }

  // Reads and drops what the peer still sends of an oversized body, so that closing the
  // socket does not reset the connection before the peer has read the answer (as Go's server
  // lingers). Bounded; Stop() ends it by shutting the socket down.
  template <class Stream>
  static void DiscardRest(Stream& stream) {
    // The answer is complete (Content-Length): tell the peer no more comes.
    ::shutdown(stream.lowest_layer().native_handle(), SHUT_WR);
    char scratch[64 * 1024];
    size_t total = 0;
    boost::system::error_code ec;
    while (!ec && total < 256u * 1024 * 1024) total += stream.read_some(net::buffer(scratch), ec);
  }

  static void ParseQuery(const std::string& q, std::multimap<std::string, std::string>* out) {
    size_t start = 0;
    while (start <= q.size()) {
      size_t end = q.find('&', start);
      if (end == std::string::npos) end = q.size();
      std::string part = q.substr(start, end - start);
      if (!part.empty()) {
        auto eq = part.find('=');
        std::string k = PercentDecode(part.substr(0, eq), true);
        std::string v = eq == std::string::npos ? "" : PercentDecode(part.substr(eq + 1), true);
        out->emplace(std::move(k), std::move(v));
      }
      start = end + 1;
    }
  }

  void CloseStreams() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : connections_) {
      if (c->streaming && !c->finished) ::shutdown(c->socket.native_handle(), SHUT_RDWR);
    }
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    if (acceptor_) ::shutdown(acceptor_->native_handle(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::list<std::unique_ptr<Connection>> conns;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& c : connections_) {
        if (!c->finished) ::shutdown(c->socket.native_handle(), SHUT_RDWR);
      }
      conns.swap(connections_);
    }
    for (auto& c : conns) c->thread.Join();
    boost::system::error_code ec;
    if (acceptor_) acceptor_->close(ec);
  }

  uint16_t port() const { return port_; }

 private:
  HttpServerOptions options_;
  HttpHandler handler_;
  net::io_context io_;
  std::unique_ptr<ssl::context> ssl_ctx_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  uint16_t port_ = 0;
  std::mutex mu_;
  std::list<std::unique_ptr<Connection>> connections_;
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Stop(); }

bool HttpServer::Start(std::string* error) { return impl_->Start(error); }

uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::Stop() { impl_->Stop(); }

void HttpServer::CloseStreams() { impl_->CloseStreams(); }

}  // namespace pygrid::sim
