// Provides pygrid::Status and pygrid::StatusOr<T>: the one error value for every remote
// failure (Kubernetes API, Genesis Cloud API, SSH, HTTP probes) and for local validation.
//
// Errors are values, not exceptions: code at a library boundary catches whatever its
// dependency throws (cpprestsdk, nlohmann::json, libssh) and returns a Status instead.
//
//   StatusOr<Instance> got = cloud.GetInstance(id);
//   if (!got.ok()) {
//     if (got.status().IsNotFound()) return MarkLost(id);
//     if (got.status().retryable()) return RequeueAfter(got.status().RetryDelay());
//     return Fail(got.status());
//   }
//   Use(*got);
//
// Thread-safety: Status and StatusOr are values; const access is safe from any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace pygrid {

// What went wrong, independent of which remote said so.
enum class ErrorKind {
  kOk = 0,
  kNotFound,       // the object does not exist (HTTP 404)
  kAlreadyExists,  // create of a name that exists (Kubernetes 409 AlreadyExists)
  kConflict,       // stale version or state conflict (HTTP 409)
  kUnauthorized,   // missing or rejected credentials (HTTP 401)
  kForbidden,      // authenticated but not allowed (HTTP 403)
  kInvalid,        // the request itself is wrong; retrying cannot help (400, 422)
  kGone,           // a resourceVersion or continue token expired (HTTP 410)
  kRateLimited,    // slow down; see RetryAfter (HTTP 429)
  kQuotaExceeded,  // an account limit was reached; needs a human
  kUnavailable,    // the remote or the network failed; retrying may help (5xx, resets)
  kTimeout,        // no answer in time; the outcome of a write is unknown
  kInternal,       // a bug or an impossible state on our side
};

// Returns the CamelCase name of `kind` (e.g. "NotFound"); stable, used in condition reasons.
const char* ErrorKindName(ErrorKind kind);

// One field-level cause of an Invalid error (`spec.workers.replicas`, "must be <= 100").
struct FieldCause {
  std::string field;
  std::string message;
  std::string reason;  // optional machine-readable reason, e.g. "FieldValueInvalid"
  bool operator==(const FieldCause& other) const {
    return field == other.field && message == other.message && reason == other.reason;
  }
};

// [[nodiscard]]: dropping a Status (or StatusOr) loses an error; write `(void)` with a
// comment where that is really intended.
class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() = default;

  static Status Ok() { return Status(); }
  // An error of `kind` with a human-readable message. `retryable` defaults by kind
  // (Unavailable, Timeout, RateLimited, Conflict are retryable; the rest are not).
  static Status Error(ErrorKind kind, std::string message);

  static Status NotFound(std::string message) {
    return Error(ErrorKind::kNotFound, std::move(message));
  }
  static Status AlreadyExists(std::string message) {
    return Error(ErrorKind::kAlreadyExists, std::move(message));
  }
  static Status Conflict(std::string message) {
    return Error(ErrorKind::kConflict, std::move(message));
  }
  static Status Unauthorized(std::string message) {
    return Error(ErrorKind::kUnauthorized, std::move(message));
  }
  static Status Forbidden(std::string message) {
    return Error(ErrorKind::kForbidden, std::move(message));
  }
  static Status Invalid(std::string message) {
    return Error(ErrorKind::kInvalid, std::move(message));
  }
  static Status Invalid(std::string message, std::vector<FieldCause> causes);
  static Status Gone(std::string message) { return Error(ErrorKind::kGone, std::move(message)); }
  static Status RateLimited(std::string message) {
    return Error(ErrorKind::kRateLimited, std::move(message));
  }
  static Status QuotaExceeded(std::string message) {
    return Error(ErrorKind::kQuotaExceeded, std::move(message));
  }
  static Status Unavailable(std::string message) {
    return Error(ErrorKind::kUnavailable, std::move(message));
  }
  static Status Timeout(std::string message) {
    return Error(ErrorKind::kTimeout, std::move(message));
  }
  static Status Internal(std::string message) {
    return Error(ErrorKind::kInternal, std::move(message));
  }

  // Builder-style setters for what a remote told us; each returns *this.
  Status& WithHttpStatus(int http_status) {
    http_status_ = http_status;
    return *this;
  }
  Status& WithRemoteCode(std::string code) {
    remote_code_ = std::move(code);
    return *this;
  }
  Status& WithRetryAfter(std::chrono::milliseconds after) {
    retry_after_ = after;
    return *this;
  }
  Status& WithRetryable(bool retryable) {
    retryable_ = retryable;
    return *this;
  }
  Status& WithCauses(std::vector<FieldCause> causes) {
    causes_ = std::move(causes);
    return *this;
  }

  bool ok() const { return kind_ == ErrorKind::kOk; }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  // HTTP status the remote answered, 0 when there was no HTTP answer.
  int http_status() const { return http_status_; }
  // The remote's own error code (Genesis Cloud "02035", Kubernetes reason "Expired"), or "".
  const std::string& remote_code() const { return remote_code_; }
  bool retryable() const { return retryable_; }
  // The delay the remote asked for (Retry-After), if any.
  const std::optional<std::chrono::milliseconds>& retry_after() const { return retry_after_; }
  const std::vector<FieldCause>& causes() const { return causes_; }

  bool IsNotFound() const { return kind_ == ErrorKind::kNotFound; }
  bool IsAlreadyExists() const { return kind_ == ErrorKind::kAlreadyExists; }
  bool IsConflict() const { return kind_ == ErrorKind::kConflict; }
  bool IsUnauthorized() const { return kind_ == ErrorKind::kUnauthorized; }
  bool IsForbidden() const { return kind_ == ErrorKind::kForbidden; }
  bool IsInvalid() const { return kind_ == ErrorKind::kInvalid; }
  bool IsGone() const { return kind_ == ErrorKind::kGone; }
  bool IsRateLimited() const { return kind_ == ErrorKind::kRateLimited; }
  bool IsQuotaExceeded() const { return kind_ == ErrorKind::kQuotaExceeded; }
  bool IsUnavailable() const { return kind_ == ErrorKind::kUnavailable; }
  bool IsTimeout() const { return kind_ == ErrorKind::kTimeout; }

  // "NotFound (HTTP 404, code 02001): instance abc not found"; never contains credentials
  // because no constructor is ever given one.
  std::string ToString() const;

 private:
  Status(ErrorKind kind, std::string message);

  ErrorKind kind_ = ErrorKind::kOk;
  std::string message_;
  int http_status_ = 0;
  std::string remote_code_;
  bool retryable_ = false;
  std::optional<std::chrono::milliseconds> retry_after_;
  std::vector<FieldCause> causes_;
};

// Either a value or a non-OK Status. Accessing the value of an error is a bug (asserts).
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : data_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  StatusOr(Status status) : data_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(data_); }
  // The error, or an OK Status when there is a value. A reference, so that
  // `for (auto& c : result.status().causes())` does not iterate a destroyed temporary.
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }

  const T& value() const& { return std::get<T>(data_); }
  T& value() & { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace pygrid
