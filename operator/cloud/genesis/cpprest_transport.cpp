#include <cpprest/http_client.h>

#include <cctype>
#include <mutex>
#include <system_error>

#include "cloud/genesis/http_transport.h"

namespace pygrid::cloud::genesis {
namespace {

namespace http = web::http;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One http_client per distinct timeout, because cpprestsdk fixes the timeout per client;
// clients are kept so connections are reused.
class CpprestTransport final : public HttpTransport {
 public:
  explicit CpprestTransport(std::string base_url) : base_url_(std::move(base_url)) {}

  TransportResult Send(const HttpRequest& request) override {
    TransportResult result;
    try {
      // cpprestsdk silently re-sends a request whose pooled keep-alive connection turns out
      // to be closed. That must never happen to a POST (a create could run twice), so
      // non-idempotent methods get a fresh client and therefore a fresh connection.
      std::unique_ptr<http::client::http_client> one_shot;
      const bool fresh = request.method == "POST" || request.method == "PATCH";
      if (fresh) one_shot = NewClient(request.timeout);
      http::client::http_client& client = fresh ? *one_shot : ClientFor(request.timeout);
      http::http_request req(http::method(request.method));
      req.set_request_uri(request.path);
      for (const auto& [name, value] : request.headers) req.headers().add(name, value);
      if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
          request.method == "PATCH") {
        req.set_body(request.body, "application/json");
      }
      http::http_response resp = client.request(req).get();
      result.response.status = resp.status_code();
      for (const auto& [name, value] : resp.headers()) {
        result.response.headers[Lower(name)] = value;
      }
      result.response.body = resp.extract_utf8string(true).get();
    } catch (const http::http_exception& e) {
      result.error = e.error_code() == std::errc::timed_out ? TransportError::kTimeout
                                                            : TransportError::kConnection;
      // cpprest messages name the failing step, never the request headers.
      result.error_message = e.what();
    } catch (const std::exception& e) {
      result.error = TransportError::kConnection;
      result.error_message = e.what();
    }
    return result;
  }

 private:
  http::client::http_client& ClientFor(std::chrono::milliseconds timeout) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = clients_.find(timeout.count());
    if (it != clients_.end()) return *it->second;
    auto client = NewClient(timeout);
    auto& ref = *client;
    clients_.emplace(timeout.count(), std::move(client));
    return ref;
  }

  std::unique_ptr<http::client::http_client> NewClient(std::chrono::milliseconds timeout) const {
    http::client::http_client_config config;
    config.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
    return std::make_unique<http::client::http_client>(base_url_, config);
  }

  const std::string base_url_;
  std::mutex mu_;
  std::map<long long, std::unique_ptr<http::client::http_client>> clients_;
};

}  // namespace

std::unique_ptr<HttpTransport> MakeCpprestTransport(const std::string& base_url) {
  return std::make_unique<CpprestTransport>(base_url);
}

}  // namespace pygrid::cloud::genesis
