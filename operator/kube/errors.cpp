#include "kube/errors.h"

#include <nlohmann/json.hpp>

namespace pygrid::kube {
namespace {

// Kind from the HTTP code alone (apimachinery errors.FromObject / NewGenericServerResponse).
ErrorKind KindForCode(int code) {
  switch (code) {
    case 400:
      return ErrorKind::kInvalid;  // BadRequest
    case 401:
      return ErrorKind::kUnauthorized;
    case 403:
      return ErrorKind::kForbidden;
    case 404:
      return ErrorKind::kNotFound;
    case 405:
      return ErrorKind::kInvalid;  // MethodNotAllowed
    case 406:
      return ErrorKind::kInvalid;  // NotAcceptable
    case 409:
      return ErrorKind::kConflict;
    case 410:
      return ErrorKind::kGone;
    case 413:
      return ErrorKind::kInvalid;  // RequestEntityTooLarge
    case 415:
      return ErrorKind::kInvalid;  // UnsupportedMediaType
    case 422:
      return ErrorKind::kInvalid;
    case 429:
      return ErrorKind::kRateLimited;
    case 504:
      return ErrorKind::kTimeout;  // GatewayTimeout
    default:
      return code >= 500 ? ErrorKind::kUnavailable : ErrorKind::kInvalid;
  }
}

// Kind from the metav1.StatusReason, "" falling back to the code.
ErrorKind KindForReason(const std::string& reason, int code) {
  if (reason == "NotFound") return ErrorKind::kNotFound;
  if (reason == "AlreadyExists") return ErrorKind::kAlreadyExists;
  if (reason == "Conflict") return ErrorKind::kConflict;
  if (reason == "Invalid" || reason == "BadRequest" || reason == "MethodNotAllowed" ||
      reason == "NotAcceptable" || reason == "RequestEntityTooLarge" ||
      reason == "UnsupportedMediaType") {
    return ErrorKind::kInvalid;
  }
  if (reason == "Gone" || reason == "Expired") return ErrorKind::kGone;
  if (reason == "Forbidden") return ErrorKind::kForbidden;
  if (reason == "Unauthorized") return ErrorKind::kUnauthorized;
  if (reason == "TooManyRequests") return ErrorKind::kRateLimited;
  if (reason == "Timeout") return ErrorKind::kTimeout;
  if (reason == "ServerTimeout" || reason == "InternalError" || reason == "ServiceUnavailable") {
    return ErrorKind::kUnavailable;
  }
  return KindForCode(code);
}

bool ParseSeconds(const std::string& text, long long* out) {
  if (text.empty() || text.size() > 9) return false;
  long long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

Status Build(int code, const std::string& reason, std::string message,
             const nlohmann::json* details, const std::string& retry_after_header,
             const std::string& what) {
  const ErrorKind kind = KindForReason(reason, code);
  if (message.empty()) message = reason.empty() ? "HTTP " + std::to_string(code) : reason;
  if (!what.empty()) message = what + ": " + message;
  Status status = Status::Error(kind, std::move(message));
  status.WithHttpStatus(code);
  if (!reason.empty()) status.WithRemoteCode(reason);
  // client-go retries 5xx and 429 (rest.Request, IsRetryableError / SuggestsClientDelay).
  status.WithRetryable(kind == ErrorKind::kUnavailable || kind == ErrorKind::kTimeout ||
                       kind == ErrorKind::kRateLimited || kind == ErrorKind::kConflict);
  long long seconds = 0;
  if (ParseSeconds(retry_after_header, &seconds)) {
    status.WithRetryAfter(std::chrono::seconds(seconds));
  } else if (details && details->contains("retryAfterSeconds") &&
             (*details)["retryAfterSeconds"].is_number_integer()) {
    status.WithRetryAfter(std::chrono::seconds((*details)["retryAfterSeconds"].get<long long>()));
  }
  if (details && details->contains("causes") && (*details)["causes"].is_array()) {
    std::vector<FieldCause> causes;
    for (const auto& cause : (*details)["causes"]) {
      if (!cause.is_object()) continue;
      causes.push_back(FieldCause{cause.value("field", ""), cause.value("message", ""),
                                  cause.value("reason", "")});
    }
    status.WithCauses(std::move(causes));
  }
  return status;
}

}  // namespace

Status StatusFromStatusObject(const nlohmann::json& object, const std::string& what) {
  if (!object.is_object()) return Status::Internal(what + ": malformed Status object");
  const int code = object.contains("code") && object["code"].is_number_integer()
                       ? object["code"].get<int>()
                       : 500;
  const nlohmann::json* details =
      object.contains("details") && object["details"].is_object() ? &object["details"] : nullptr;
  return Build(code, object.value("reason", ""), object.value("message", ""), details, "", what);
}

Status StatusFromResponse(int http_status, const std::string& body,
                          const std::string& retry_after_header, const std::string& what) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.value("kind", "") == "Status") {
    const nlohmann::json* details =
        parsed.contains("details") && parsed["details"].is_object() ? &parsed["details"] : nullptr;
    // The HTTP code wins over the body's (apimachinery trusts the response code).
    return Build(http_status, parsed.value("reason", ""), parsed.value("message", ""), details,
                 retry_after_header, what);
  }
  // Not a Status (a proxy's HTML, an empty body): keep a short, printable excerpt.
  std::string excerpt = body.substr(0, 200);
  for (char& c : excerpt) {
    if (c == '\n' || c == '\r' || static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return Build(http_status, "", excerpt, nullptr, retry_after_header, what);
}

}  // namespace pygrid::kube
