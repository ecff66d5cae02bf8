#include "observability/http_server.h"

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "observability/serving_certificate.h"

namespace pygrid::observability {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

constexpr const char* kText = "text/plain; charset=utf-8";
// A probe or scrape request is one line and a few headers; nothing legitimate comes close.
constexpr uint32_t kMaxHeaderBytes = 16 * 1024;
constexpr uint64_t kMaxBodyBytes = 16 * 1024;

// Splits Go's "host:port" (host may be empty or a bracketed IPv6 literal).
bool SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  if (port->empty() || port->size() > 5) return false;
  for (char c : *port) {
    if (c < '0' || c > '9') return false;
  }
  return std::stoul(*port) <= 65535;
}

// What every connection of one server shares.
struct ServerState {
  HttpHandler handler;
  std::chrono::milliseconds deadline;
  std::atomic<int> open_connections{0};
};

using Response = http::response<http::string_body>;

Response ToBeast(const HttpResponse& answer, unsigned version, bool head) {
  Response res{static_cast<http::status>(answer.status), version};
  res.set(http::field::content_type, answer.content_type);
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(false);
  if (head) {
    res.content_length(answer.body.size());  // what GET would send, without the body
  } else {
    res.body() = answer.body;
    res.prepare_payload();
  }
  return res;
}

HttpResponse Answer(const HttpHandler& handler, const http::request<http::string_body>& req) {
  const std::string target(req.target());
  if (target.empty() || target[0] != '/') return {400, kText, "bad request\n"};
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    return {405, kText, "method not allowed\n"};
  }
  HttpRequest request;
  request.method = std::string(req.method_string());
  const size_t q = target.find('?');
  request.path = target.substr(0, q);
  if (q != std::string::npos) request.query = target.substr(q + 1);
  request.authorization = std::string(req[http::field::authorization]);
  try {
    return handler(request);
  } catch (const std::exception&) {
    return {500, kText, "internal server error\n"};
  }
}

// One connection: (TLS handshake,) one request, one answer, close. `Stream` is
// beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(Stream stream, std::shared_ptr<ServerState> state)
      : stream_(std::move(stream)), state_(std::move(state)) {}
  ~Session() { --state_->open_connections; }

  void Run() {
    auto self = this->shared_from_this();
    Transport().expires_after(state_->deadline);  // handshake and request together
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
        if (!ec) self->Read();
      });
    } else {
      Read();
    }
  }

 private:
  beast::tcp_stream& Transport() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxBodyBytes);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return;  // gone or too slow: nothing to answer
    }
    if (ec) {  // malformed or over the limits
      Write(ToBeast({400, kText, "bad request\n"}, 11, false));
      return;
    }
    const auto& req = parser_->get();
    const HttpResponse answer = Answer(state_->handler, req);
    Write(ToBeast(answer, req.version() == 10 ? 10 : 11, req.method() == http::verb::head));
  }

  void Write(Response response) {
    response_ = std::move(response);
    // The handler may have taken a while (an API review): the answer gets a fresh deadline.
    Transport().expires_after(state_->deadline);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (!ec) self->Finish();
                      });
  }

  void Finish() {
    if constexpr (kTls) {
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  Stream stream_;
  std::shared_ptr<ServerState> state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
};

beast::error_code Listen(tcp::acceptor& acceptor, const tcp::endpoint& endpoint, bool dual_stack) {
  beast::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return ec;
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (endpoint.address().is_v6()) acceptor.set_option(net::ip::v6_only(!dual_stack), ec);
  ec = {};
  acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor.close(ignored);
  }
  return ec;
}

}  // namespace

bool HasQueryParameter(const std::string& query, const std::string& name) {
  std::istringstream in(query);
  std::string part;
  while (std::getline(in, part, '&')) {
    if (part.substr(0, part.find('=')) == name) return true;
  }
  return false;
}

std::vector<std::string> QueryValues(const std::string& query, const std::string& name) {
  std::vector<std::string> values;
  std::istringstream in(query);
  std::string part;
  while (std::getline(in, part, '&')) {
    size_t eq = part.find('=');
    if (eq != std::string::npos && part.substr(0, eq) == name)
      values.push_back(part.substr(eq + 1));
  }
  return values;
}

struct HttpServer::Impl {
  // Declared before the io_context: TLS streams still open when it is destroyed use it.
  std::optional<ssl::context> tls;
  std::shared_ptr<ServingCertificate> certificate;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  net::steady_timer retry_timer{ioc};
  std::shared_ptr<ServerState> state;
  int max_connections = 64;
  std::vector<std::thread> threads;

  void Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;
      if (ec) {
        // Out of descriptors or similar: try again shortly rather than spin.
        retry_timer.expires_after(std::chrono::milliseconds(100));
        retry_timer.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec) Accept();
        });
        return;
      }
      if (state->open_connections.load() >= max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        ++state->open_connections;
        beast::tcp_stream stream(std::move(socket));
        if (tls) {
          std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
              beast::ssl_stream<beast::tcp_stream>(std::move(stream), *tls), state)
              ->Run();
        } else {
          std::make_shared<Session<beast::tcp_stream>>(std::move(stream), state)->Run();
        }
      }
      Accept();
    });
  }
};

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& bind_address,
                                                        HttpHandler handler) {
  HttpServerOptions options;
  options.bind_address = bind_address;
  options.handler = std::move(handler);
  return Start(std::move(options));
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options) {
  const std::string& address = options.bind_address;
  if (address.empty() || address == "0") return std::unique_ptr<HttpServer>();
  std::string host;
  std::string port;
  if (!SplitHostPort(address, &host, &port)) {
    return Status::Invalid("bind address \"" + address + "\" is not host:port");
  }
  auto impl = std::make_unique<Impl>();
  if (options.certificate) {
    try {
      impl->tls.emplace(ssl::context::tls_server);
      impl->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    } catch (const std::exception& e) {
      return Status::Internal(std::string("TLS setup: ") + e.what());
    }
    SSL_CTX_set_min_proto_version(impl->tls->native_handle(), TLS1_2_VERSION);
    options.certificate->InstallOn(impl->tls->native_handle());
    impl->certificate = options.certificate;
  }
  const auto port_number = static_cast<uint16_t>(std::stoul(port));
  beast::error_code ec;
  if (host.empty()) {
    // Go's ":port" listens on every IPv4 and IPv6 address; fall back to IPv4 without IPv6.
    ec = Listen(impl->acceptor, tcp::endpoint(net::ip::address_v6::any(), port_number), true);
    if (ec)
      ec = Listen(impl->acceptor, tcp::endpoint(net::ip::address_v4::any(), port_number), false);
  } else {
    tcp::resolver resolver(impl->ioc);
    auto found =
        resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec) {
      return Status::Invalid("cannot resolve bind address \"" + address + "\": " + ec.message());
    }
    ec = net::error::host_not_found;
    for (const auto& entry : found) {
      ec = Listen(impl->acceptor, entry.endpoint(), false);
      if (!ec) break;
    }
  }
  if (ec) return Status::Unavailable("cannot listen on \"" + address + "\": " + ec.message());
  const int bound_port = impl->acceptor.local_endpoint(ec).port();

  impl->state = std::make_shared<ServerState>();
  impl->state->handler = std::move(options.handler);
  impl->state->deadline = options.connection_deadline;
  impl->max_connections = std::max(1, options.max_connections);
  impl->Accept();
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc] { ioc->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl), bound_port));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (impl_->threads.empty()) return;
  impl_->ioc.stop();
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
  // Closing now (not in the destructor) makes new connections fail fast instead of queueing.
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

}  // namespace pygrid::observability
