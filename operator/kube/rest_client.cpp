#include "kube/rest_client.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/rate.h"
#include "kube/errors.h"

namespace pygrid::kube {
namespace {

namespace http = web::http;
namespace client = web::http::client;

// Checks that `pem` holds at least one certificate (and, with `key_pem`, that the key matches
// the first one), so a broken kubeconfig fails at start-up with a clear message instead of at
// the first TLS handshake.
Status ValidatePem(const std::string& pem, const std::string& key_pem, const std::string& what) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  ERR_clear_error();
  if (!cert) return Status::Invalid(what + " is not a PEM certificate");
  if (key_pem.empty()) return Status::Ok();
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  ERR_clear_error();
  if (!key) return Status::Invalid("client key is not a PEM private key");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return Status::Invalid("client key does not match the client certificate");
  }
  return Status::Ok();
}

std::string ContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJsonPatch:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

std::string ObjectPath(const ResourceRef& resource, const std::string& ns, const std::string& name,
                       const std::string& subresource) {
  std::string path = resource.CollectionPath(ns) + "/" + name;
  if (!subresource.empty()) path += "/" + subresource;
  return path;
}

std::string TrimRight(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

Status FromException(const std::exception& e, const std::string& what) {
  if (const auto* http_error = dynamic_cast<const http::http_exception*>(&e)) {
    if (http_error->error_code() == std::errc::timed_out) {
      return Status::Timeout(what + ": request timed out");
    }
  }
  return Status::Unavailable(what + ": " + e.what());
}

}  // namespace

struct RestClient::Impl {
  RestConfig config;
  std::shared_ptr<RestClientMetrics> metrics;
  const Clock* clock = nullptr;
  std::string host;
  std::unique_ptr<client::http_client> http;
  std::unique_ptr<TokenBucket> limiter;
  std::mutex token_mu;
  std::string token;
  Clock::TimePoint token_read_at;
  bool token_read = false;

  client::http_client_config MakeHttpConfig(std::chrono::seconds timeout) const {
    client::http_client_config http_config;
    http_config.set_timeout(timeout);
    http_config.set_validate_certificates(!config.insecure_skip_tls_verify);
    const std::string ca = config.ca_pem;
    const std::string cert = config.client_cert_pem;
    const std::string key = config.client_key_pem;
    http_config.set_ssl_context_callback([ca, cert, key](boost::asio::ssl::context& ctx) {
      if (!ca.empty()) {
        // Trust only the configured CA, as client-go does (its root pool holds the CA data
        // alone). cpprestsdk has loaded the system's trust store into every connection's context
        // by now, about 1 MiB that each pooled connection would keep: a fresh store frees it.
        if (X509_STORE* only_ca = X509_STORE_new()) {
          SSL_CTX_set_cert_store(ctx.native_handle(), only_ca);
        }
        ctx.add_certificate_authority(boost::asio::buffer(ca));
      }
      if (!cert.empty()) {
        ctx.use_certificate_chain(boost::asio::buffer(cert));
        ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
      }
    });
    return http_config;
  }

  // The bearer token to send, re-reading the token file when it is due (client-go
  // cachingTokenSource keeps the previous token when a re-read fails).
  std::string BearerToken() {
    if (!config.bearer_token.empty()) return config.bearer_token;
    if (config.token_file.empty()) return "";
    std::lock_guard<std::mutex> lock(token_mu);
    const auto now = clock->Now();
    if (!token_read || now - token_read_at >= config.token_reload_period) {
      std::ifstream in(config.token_file, std::ios::binary);
      if (in) {
        std::ostringstream text;
        text << in.rdbuf();
        const std::string fresh = TrimRight(text.str());
        if (!fresh.empty()) token = fresh;
      }
      token_read = true;
      token_read_at = now;
    }
    return token;
  }

  void Prepare(http::http_request& request, const std::string& verb) {
    request.headers().add("Accept", "application/json");
    request.headers().add("User-Agent", config.user_agent);
    const std::string bearer = BearerToken();
    if (!bearer.empty()) request.headers().add("Authorization", "Bearer " + bearer);
    if (limiter) {
      const auto wait = limiter->Reserve();
      if (wait > Clock::Duration::zero()) {
        metrics->ObserveRateLimiterWait(verb, host, wait);
        std::this_thread::sleep_for(wait);
      }
    }
  }

  StatusOr<Json> Do(const http::method& method, const std::string& path_and_query, const Json* body,
                    const std::string& content_type, const std::string& what) {
    http::http_request request(method);
    request.set_request_uri(web::uri(path_and_query));
    Prepare(request, method);
    if (body) {
      // A byte container keeps cpprest from re-typing a char stream as bytes (UBSan flags
      // set_body(std::string)).
      const std::string text = body->dump();
      std::vector<uint8_t> bytes(text.begin(), text.end());
      const size_t length = bytes.size();
      request.set_body(Concurrency::streams::bytestream::open_istream(std::move(bytes)), length,
                       content_type);
    }
    const auto start = std::chrono::steady_clock::now();
    std::string code = "<error>";
    try {
      http::http_response response = http->request(request).get();
      code = std::to_string(response.status_code());
      const std::string text = response.extract_utf8string(true).get();
      metrics->ObserveRequest(method, code, host, std::chrono::steady_clock::now() - start);
      if (response.status_code() >= 400) {
        std::string retry_after;
        auto it = response.headers().find("Retry-After");
        if (it != response.headers().end()) retry_after = it->second;
        Status error = StatusFromResponse(response.status_code(), text, retry_after, what);
        if (limiter && error.IsRateLimited() && error.retry_after()) {
          // The server asked this client to slow down: hold every caller, not just this one.
          limiter->Drain(*error.retry_after());
        }
        return error;
      }
      Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) {
        return Status::Internal(what + ": response is not JSON")
            .WithHttpStatus(response.status_code());
      }
      return parsed;
    } catch (const std::exception& e) {
      if (code == "<error>") {
        metrics->ObserveRequest(method, code, host, std::chrono::steady_clock::now() - start);
      }
      return FromException(e, what);
    }
  }

  Status RunWatch(const std::string& path_and_query, const WatchOptions& options,
                  const WatchHandler& handler, Cancellation* cancel, const std::string& what);
};

Status RestClient::Impl::RunWatch(const std::string& path_and_query, const WatchOptions& options,
                                  const WatchHandler& handler, Cancellation* cancel,
                                  const std::string& what) {
  // The server ends the stream after timeoutSeconds; the idle timeout is only a safety net
  // for a server that stops talking.
  client::http_client watch_http(
      web::uri(config.server), MakeHttpConfig(std::chrono::seconds(options.timeout_seconds + 60)));
  pplx::cancellation_token_source source;
  const int cancel_id = cancel ? cancel->OnCancel([&source] { source.cancel(); }) : 0;
  struct Unregister {
    Cancellation* cancel;
    int id;
    ~Unregister() {
      if (cancel) cancel->Remove(id);
    }
  } unregister{cancel, cancel_id};

  http::http_request request(http::methods::GET);
  request.set_request_uri(web::uri(path_and_query));
  Prepare(request, "GET");
  const auto start = std::chrono::steady_clock::now();
  bool answered = false;
  try {
    http::http_response response = watch_http.request(request, source.get_token()).get();
    answered = true;
    // client-go labels a watch with its HTTP method, GET.
    metrics->ObserveRequest("GET", std::to_string(response.status_code()), host,
                            std::chrono::steady_clock::now() - start);
    if (response.status_code() != 200) {
      const std::string text = response.extract_utf8string(true).get();
      std::string retry_after;
      auto it = response.headers().find("Retry-After");
      if (it != response.headers().end()) retry_after = it->second;
      return StatusFromResponse(response.status_code(), text, retry_after, what);
    }
    auto buffer = response.body().streambuf();
    std::vector<uint8_t> chunk(64 * 1024);
    std::string pending;
    while (!(cancel && cancel->cancelled())) {
      const size_t available = static_cast<size_t>(std::max<std::streamsize>(0, buffer.in_avail()));
      // Ask for what is there, or block for one byte: a producer/consumer buffer only
      // completes a read when that many bytes have arrived.
      const size_t want = std::max<size_t>(1, std::min(available, chunk.size()));
      const size_t got = buffer.getn(chunk.data(), want).get();
      if (got == 0) break;  // the server ended the stream
      pending.append(reinterpret_cast<const char*>(chunk.data()), got);
      size_t line_start = 0;
      for (size_t newline; (newline = pending.find('\n', line_start)) != std::string::npos;
           line_start = newline + 1) {
        const std::string line = pending.substr(line_start, newline - line_start);
        if (TrimRight(line).empty()) continue;
        Json event = Json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!event.is_object() || !event.contains("type") || !event["type"].is_string()) {
          return Status::Internal(what + ": malformed watch event");
        }
        WatchEvent parsed{event["type"].get<std::string>(),
                          event.contains("object") ? std::move(event["object"]) : Json()};
        if (parsed.type == "ERROR") return StatusFromStatusObject(parsed.object, what);
        if (!handler(parsed)) {
          source.cancel();
          return Status::Ok();
        }
      }
      pending.erase(0, line_start);
    }
    return Status::Ok();
  } catch (const pplx::task_canceled&) {
    return Status::Ok();
  } catch (const std::exception& e) {
    if (cancel && cancel->cancelled()) return Status::Ok();
    if (!answered) {
      metrics->ObserveRequest("GET", "<error>", host, std::chrono::steady_clock::now() - start);
    }
    return FromException(e, what);
  }
}

RestClient::RestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RestClient::~RestClient() = default;

StatusOr<std::unique_ptr<RestClient>> RestClient::Create(const RestConfig& config,
                                                         RestClientOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->metrics = options.metrics ? options.metrics : std::make_shared<RestClientMetrics>();
  impl->clock = options.clock ? options.clock : &RealClock::Instance();
  if (!config.ca_pem.empty()) {
    Status st = ValidatePem(config.ca_pem, "", "certificate authority (" + config.origin + ")");
    if (!st.ok()) return st;
  }
  if (!config.client_cert_pem.empty()) {
    Status st = ValidatePem(config.client_cert_pem, config.client_key_pem,
                            "client certificate (" + config.origin + ")");
    if (!st.ok()) return st;
  }
  try {
    web::uri base(config.server);
    if (base.scheme() != "https" && base.scheme() != "http") {
      return Status::Invalid("server " + config.server + " is not an http(s) URL");
    }
    impl->host = base.host() + (base.port() > 0 ? ":" + std::to_string(base.port()) : "");
    impl->http =
        std::make_unique<client::http_client>(base, impl->MakeHttpConfig(config.request_timeout));
  } catch (const std::exception& e) {
    return Status::Invalid("server " + config.server + " is not a valid URL: " + e.what());
  }
  if (config.qps > 0) {
    impl->limiter = std::make_unique<TokenBucket>(config.qps, config.burst, *impl->clock);
  }
  return std::unique_ptr<RestClient>(new RestClient(std::move(impl)));
}

const RestConfig& RestClient::config() const { return impl_->config; }

StatusOr<Json> RestClient::Request(const std::string& method, const std::string& path,
                                   const Json* body) {
  return impl_->Do(method, path, body, "application/json", method + " " + path);
}

StatusOr<Json> RestClient::Get(const ResourceRef& resource, const std::string& ns,
                               const std::string& name) {
  const std::string path = ObjectPath(resource, ns, name, "");
  return impl_->Do(http::methods::GET, path, nullptr, "", "GET " + path);
}

StatusOr<Json> RestClient::ListPage(const ResourceRef& resource, const std::string& ns,
                                    const ListOptions& options) {
  web::uri_builder uri(resource.CollectionPath(ns));
  if (!options.label_selector.empty()) uri.append_query("labelSelector", options.label_selector);
  if (!options.field_selector.empty()) uri.append_query("fieldSelector", options.field_selector);
  if (!options.resource_version.empty()) {
    uri.append_query("resourceVersion", options.resource_version);
  }
  if (options.limit > 0) uri.append_query("limit", options.limit);
  if (!options.continue_token.empty()) uri.append_query("continue", options.continue_token);
  return impl_->Do(http::methods::GET, uri.to_string(), nullptr, "",
                   "LIST " + resource.CollectionPath(ns));
}

StatusOr<Json> RestClient::Create(const ResourceRef& resource, const std::string& ns,
                                  const Json& object) {
  const std::string path = resource.CollectionPath(ns);
  return impl_->Do(http::methods::POST, path, &object, "application/json", "POST " + path);
}

StatusOr<Json> RestClient::Update(const ResourceRef& resource, const std::string& ns,
                                  const Json& object, const std::string& subresource) {
  const std::string name =
      object.contains("metadata") ? object["metadata"].value("name", "") : std::string();
  if (name.empty()) return Status::Invalid("update of an object without metadata.name");
  const std::string path = ObjectPath(resource, ns, name, subresource);
  return impl_->Do(http::methods::PUT, path, &object, "application/json", "PUT " + path);
}

StatusOr<Json> RestClient::Patch(const ResourceRef& resource, const std::string& ns,
                                 const std::string& name, PatchType type, const Json& patch,
                                 const std::string& subresource) {
  const std::string path = ObjectPath(resource, ns, name, subresource);
  return impl_->Do(http::methods::PATCH, path, &patch, ContentType(type), "PATCH " + path);
}

Status RestClient::Delete(const ResourceRef& resource, const std::string& ns,
                          const std::string& name, const DeleteOptions& options) {
  const std::string path = ObjectPath(resource, ns, name, "");
  Json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (!options.precondition_uid.empty()) body["preconditions"]["uid"] = options.precondition_uid;
  if (!options.precondition_resource_version.empty()) {
    body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
  }
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  return impl_->Do(http::methods::DEL, path, &body, "application/json", "DELETE " + path).status();
}

Status RestClient::Watch(const ResourceRef& resource, const std::string& ns,
                         const WatchOptions& options, const WatchHandler& handler,
                         Cancellation* cancel) {
  web::uri_builder uri(resource.CollectionPath(ns));
  uri.append_query("watch", "1");
  if (!options.resource_version.empty()) {
    uri.append_query("resourceVersion", options.resource_version);
  }
  if (!options.label_selector.empty()) uri.append_query("labelSelector", options.label_selector);
  if (!options.field_selector.empty()) uri.append_query("fieldSelector", options.field_selector);
  if (options.allow_bookmarks) uri.append_query("allowWatchBookmarks", "true");
  if (options.timeout_seconds > 0) uri.append_query("timeoutSeconds", options.timeout_seconds);
  return impl_->RunWatch(uri.to_string(), options, handler, cancel,
                         "WATCH " + resource.CollectionPath(ns));
}

}  // namespace pygrid::kube
