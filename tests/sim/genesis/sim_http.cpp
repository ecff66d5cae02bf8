// Synchronous Beast with one thread per connection: the simulator serves a handful of clients
// and the emulated services a few requests each, so simplicity beats scalability here.
#include "sim_http.h"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <list>
#include <mutex>
#include <thread>

namespace pygrid::sim::genesis {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2])));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void ParseTarget(SimRequest& r) {
  const size_t q = r.target.find('?');
  r.path = Decode(r.target.substr(0, q));
  if (q == std::string::npos) return;
  std::string rest = r.target.substr(q + 1);
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t amp = rest.find('&', pos);
    if (amp == std::string::npos) amp = rest.size();
    std::string part = rest.substr(pos, amp - pos);
    if (!part.empty()) {
      size_t eq = part.find('=');
      r.query.emplace(Decode(part.substr(0, eq)),
                      eq == std::string::npos ? "" : Decode(part.substr(eq + 1)));
    }
    pos = amp + 1;
  }
}

}  // namespace

class SimHttpServer::Impl {
 public:
  Impl(std::string address, uint16_t port, SimHandler handler)
      : address_(std::move(address)), want_port_(port), handler_(std::move(handler)) {}

  bool Start(std::string* error) {
    try {
      tcp::endpoint ep(net::ip::make_address(address_), want_port_);
      acceptor_ = std::make_unique<tcp::acceptor>(io_);
      acceptor_->open(ep.protocol());
      acceptor_->set_option(net::socket_base::reuse_address(true));
      acceptor_->bind(ep);
      acceptor_->listen(net::socket_base::max_listen_connections);
      port_ = acceptor_->local_endpoint().port();
    } catch (const std::exception& e) {
      if (error)
        *error =
            "cannot listen on " + address_ + ":" + std::to_string(want_port_) + ": " + e.what();
      acceptor_.reset();
      return false;
    }
    accept_thread_ = std::thread([this] { AcceptLoop(); });
    return true;
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    if (acceptor_) ::shutdown(acceptor_->native_handle(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::list<std::shared_ptr<Conn>> conns;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& c : conns_) ::shutdown(c->socket.native_handle(), SHUT_RDWR);
      conns.swap(conns_);
    }
    for (auto& c : conns) {
      if (c->thread.joinable()) c->thread.join();
    }
    beast::error_code ec;
    if (acceptor_) acceptor_->close(ec);
  }

  uint16_t port() const { return port_; }

 private:
  struct Conn {
    explicit Conn(net::io_context& io) : socket(io) {}
    tcp::socket socket;
    std::thread thread;
    bool done = false;
  };

  void AcceptLoop() {
    for (;;) {
      auto conn = std::make_shared<Conn>(io_);
      beast::error_code ec;
      acceptor_->accept(conn->socket, ec);
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      if (ec) continue;
      // Reap finished connections so a long run does not accumulate threads.
      for (auto it = conns_.begin(); it != conns_.end();) {
        if ((*it)->done) {
          (*it)->thread.join();
          it = conns_.erase(it);
        } else {
          ++it;
        }
      }
      conns_.push_back(conn);
      conn->thread = std::thread([this, conn] {
        Serve(conn->socket);
        std::lock_guard<std::mutex> l(mu_);
        conn->done = true;
      });
    }
  }

  void Serve(tcp::socket& socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(16 * 1024 * 1024);
      beast::error_code ec;
      http::read(socket, buffer, parser, ec);
      if (ec) return;
      const auto& req = parser.get();
      SimRequest r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (const auto& field : req) {
        r.headers[Lower(std::string(field.name_string()))] = std::string(field.value());
      }
      r.body = req.body();
      ParseTarget(r);
      SimResponse resp;
      try {
        resp = handler_(r);
      } catch (const std::exception& e) {
        resp = SimResponse::Text(500, "text/plain", std::string("handler failed: ") + e.what());
      }
      if (resp.drop_connection) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
        return;
      }
      http::response<http::string_body> out{static_cast<http::status>(resp.status), req.version()};
      out.set(http::field::server, "genesis-sim");
      if (resp.status != 204) out.set(http::field::content_type, resp.content_type);
      for (const auto& [k, v] : resp.headers) out.set(k, v);
      out.body() = resp.status == 204 ? std::string() : resp.body;
      out.keep_alive(req.keep_alive());
      out.prepare_payload();
      http::write(socket, out, ec);
      if (ec || !req.keep_alive()) {
        socket.shutdown(tcp::socket::shutdown_send, ec);
        return;
      }
    }
  }

  const std::string address_;
  const uint16_t want_port_;
  SimHandler handler_;
  net::io_context io_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  bool stopping_ = false;
  std::list<std::shared_ptr<Conn>> conns_;
};

SimHttpServer::SimHttpServer(std::string address, uint16_t port, SimHandler handler)
    : impl_(std::make_unique<Impl>(std::move(address), port, std::move(handler))) {}
SimHttpServer::~SimHttpServer() { Stop(); }
bool SimHttpServer::Start(std::string* error) { return impl_->Start(error); }
uint16_t SimHttpServer::port() const { return impl_->port(); }
void SimHttpServer::Stop() { impl_->Stop(); }

SimClientResult SimHttpCall(const std::string& method, const std::string& url,
                            const std::string& body, int timeout_ms,
                            const std::map<std::string, std::string>& headers) {
  SimClientResult result;
  const std::string prefix = "http://";
  if (url.compare(0, prefix.size(), prefix) != 0) {
    result.error = "not an http:// URL: " + url;
    return result;
  }
  std::string rest = url.substr(prefix.size());
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  std::string target = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hostport.rfind(':');
  std::string host = hostport.substr(0, colon);
  std::string port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  try {
    net::io_context io;
    beast::tcp_stream stream(io);
    tcp::resolver resolver(io);
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    stream.connect(resolver.resolve(host, port));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, hostport);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> resp;
    http::read(stream, buffer, resp);
    result.status = resp.result_int();
    result.body = resp.body();
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  } catch (const std::exception& e) {
    result.status = 0;
    result.error = e.what();
  }
  return result;
}

}  // namespace pygrid::sim::genesis
