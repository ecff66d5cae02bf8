// The server is tests/sim/common's HttpServer; this file adapts the types and keeps the small
// blocking client genesis-sim's node stand-ins use to join their gateway.
#include "sim_http.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

#include "sim/common/http_server.h"

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

SimRequest ToSimRequest(const HttpRequest& in) {
  SimRequest r;
  r.method = in.method;
  r.target = in.target;
  r.path = in.path;
  for (const auto& [k, v] : in.query) r.query.emplace(k, v);  // first value wins
  for (const auto& [k, v] : in.headers) r.headers.emplace(Lower(k), v);
  r.body = in.body;
  r.body_too_large = in.body_too_large;
  return r;
}

HttpResponse ToHttpResponse(const SimResponse& in) {
  if (in.drop_connection) return HttpResponse::CloseWithoutAnswer();
  HttpResponse out;
  out.status = in.status;
  out.headers.emplace_back("Server", "genesis-sim");
  if (in.status != 204) {
    out.headers.emplace_back("Content-Type", in.content_type);
    out.body = in.body;
  }
  for (const auto& [k, v] : in.headers) out.headers.emplace_back(k, v);
  return out;
}

}  // namespace

class SimHttpServer::Impl {
 public:
  Impl(std::string address, uint16_t port, SimHandler handler, SimHttpLimits limits)
      : where_(address + ":" + std::to_string(port)),
        server_(Options(std::move(address), port, limits),
                [handler = std::move(handler)](const HttpRequest& req) {
                  return ToHttpResponse(handler(ToSimRequest(req)));
                }) {}

  HttpServer& server() { return server_; }
  const std::string& where() const { return where_; }

 private:
  static HttpServerOptions Options(std::string address, uint16_t port, SimHttpLimits limits) {
    HttpServerOptions o;
    o.host = std::move(address);
    o.port = port;
    o.max_body_bytes = limits.max_body_bytes;
    o.max_header_bytes = limits.max_header_bytes;
    o.thread_stack_bytes = limits.thread_stack_bytes;
    return o;
  }

  std::string where_;
  HttpServer server_;
};

SimHttpServer::SimHttpServer(std::string address, uint16_t port, SimHandler handler,
                             SimHttpLimits limits)
    : impl_(std::make_unique<Impl>(std::move(address), port, std::move(handler), limits)) {}
SimHttpServer::~SimHttpServer() { Stop(); }
bool SimHttpServer::Start(std::string* error) {
  std::string err;
  if (impl_->server().Start(&err)) return true;
  if (error) *error = "cannot listen on " + impl_->where() + ": " + err;
  return false;
}
uint16_t SimHttpServer::port() const { return impl_->server().port(); }
void SimHttpServer::Stop() { impl_->server().Stop(); }

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
