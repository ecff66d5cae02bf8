#include "core/status.h"

namespace pygrid {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kOk:
      return "OK";
    case ErrorKind::kNotFound:
      return "NotFound";
    case ErrorKind::kAlreadyExists:
      return "AlreadyExists";
    case ErrorKind::kConflict:
      return "Conflict";
    case ErrorKind::kUnauthorized:
      return "Unauthorized";
    case ErrorKind::kForbidden:
      return "Forbidden";
    case ErrorKind::kInvalid:
      return "Invalid";
    case ErrorKind::kGone:
      return "Gone";
    case ErrorKind::kRateLimited:
      return "RateLimited";
    case ErrorKind::kQuotaExceeded:
      return "QuotaExceeded";
    case ErrorKind::kUnavailable:
      return "Unavailable";
    case ErrorKind::kTimeout:
      return "Timeout";
    case ErrorKind::kInternal:
      return "Internal";
  }
  return "Unknown";
}

namespace {
bool RetryableByDefault(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConflict:
    case ErrorKind::kRateLimited:
    case ErrorKind::kUnavailable:
    case ErrorKind::kTimeout:
      return true;
    default:
      return false;
  }
}
}  // namespace

Status::Status(ErrorKind kind, std::string message)
    : kind_(kind), message_(std::move(message)), retryable_(RetryableByDefault(kind)) {}

Status Status::Error(ErrorKind kind, std::string message) {
  return Status(kind, std::move(message));
}

Status Status::Invalid(std::string message, std::vector<FieldCause> causes) {
  Status status(ErrorKind::kInvalid, std::move(message));
  status.causes_ = std::move(causes);
  return status;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = ErrorKindName(kind_);
  if (http_status_ != 0 || !remote_code_.empty()) {
    out += " (";
    if (http_status_ != 0) out += "HTTP " + std::to_string(http_status_);
    if (!remote_code_.empty()) {
      if (http_status_ != 0) out += ", ";
      out += "code " + remote_code_;
    }
    out += ")";
  }
  out += ": " + message_;
  for (const FieldCause& cause : causes_) {
    out += "; " + cause.field + ": " + cause.message;
  }
  return out;
}

}  // namespace pygrid
