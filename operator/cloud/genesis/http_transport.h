// Provides the small HTTP seam under the Genesis client: one request in, one response or a
// transport error out. The real implementation wraps cpprestsdk's http_client; unit tests
// give the client a scripted fake instead.
//
//   std::unique_ptr<HttpTransport> http = MakeCpprestTransport("http://127.0.0.1:8080/compute/v1");
//   TransportResult r = http->Send({"GET", "/instances?page=1&per_page=100", headers, "", 10s});
//
// Thread-safety: implementations must allow concurrent Send calls.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pygrid::cloud::genesis {

// One HTTP request; `path` is relative to the transport's base URL and includes the query.
struct HttpRequest {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};
};

// One HTTP answer; header names are lower-case.
struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

// Why no answer arrived.
enum class TransportError {
  kNone,
  kTimeout,     // no complete answer within the timeout
  kConnection,  // refused, reset or closed before a complete answer
};

// Either a response (error == kNone) or a transport error with a message free of secrets.
struct TransportResult {
  TransportError error = TransportError::kNone;
  std::string error_message;
  HttpResponse response;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends `request` and waits for the whole answer; never throws.
  virtual TransportResult Send(const HttpRequest& request) = 0;
};

// A transport over cpprestsdk http_client rooted at `base_url` (http or https).
std::unique_ptr<HttpTransport> MakeCpprestTransport(const std::string& base_url);

}  // namespace pygrid::cloud::genesis
