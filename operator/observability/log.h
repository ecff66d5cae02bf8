// Provides the operator's structured logging on Boost.Log: JSON lines by default (zap's
// production shape, as controller-runtime operators log) or human text, a level filter, named
// loggers with key/values, a per-thread reconcile scope, and secret redaction of every record.
//
//   InitLogging({LogFormat::kJson, LogLevel::kInfo});            // once, in main()
//   Logger log("controller.pygridcluster");
//   ReconcileScope scope("pygridcluster", "default", "mnist");   // adds reconcileID etc.
//   log.Info("created instance", {{"instance", id}, {"worker", 2}});
//   // {"ts":"2026-11-26T04:17:44.123Z","level":"info","logger":"controller.pygridcluster",
//   //  "msg":"created instance","controller":"pygridcluster","namespace":"default",
//   //  "name":"mnist","reconcileID":"5c0f...","instance":"abc","worker":2}
//
// Records written with BOOST_LOG_TRIVIAL by other code go through the same sink (format,
// filter, redaction) under logger "boost".
//
// Thread-safety: Logger is an immutable value, usable from any thread; InitLogging should be
// called before other threads log (it may be called again, e.g. by tests).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/status.h"

namespace pygrid::observability {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kJson, kText };

// "debug", "info", "warn"/"warning", "error" (case-insensitive); anything else is Invalid.
StatusOr<LogLevel> ParseLogLevel(std::string_view text);
// "json" or "text"; anything else is Invalid.
StatusOr<LogFormat> ParseLogFormat(std::string_view text);

struct LogOptions {
  LogFormat format = LogFormat::kJson;
  LogLevel level = LogLevel::kInfo;
  // Receives each finished, redacted line (without the newline); nullptr writes to stderr.
  // Called under the sink's lock, one line at a time.
  std::function<void(const std::string& line)> writer;
};

// Installs the one log sink, replacing any earlier one.
void InitLogging(const LogOptions& options);
// Changes the level filter at run time.
void SetLogLevel(LogLevel level);

// A log value: string, integer, floating point or boolean (rendered as the JSON type).
class LogValue {
 public:
  LogValue(const char* v) : value_(std::string(v)) {}       // NOLINT(runtime/explicit)
  LogValue(std::string v) : value_(std::move(v)) {}         // NOLINT(runtime/explicit)
  LogValue(std::string_view v) : value_(std::string(v)) {}  // NOLINT(runtime/explicit)
  LogValue(bool v) : value_(v) {}                           // NOLINT(runtime/explicit)
  LogValue(double v) : value_(v) {}                         // NOLINT(runtime/explicit)
  template <typename T,
            typename = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
  LogValue(T v) : value_(static_cast<int64_t>(v)) {}  // NOLINT(runtime/explicit)

  const std::variant<std::string, int64_t, double, bool>& value() const { return value_; }

 private:
  std::variant<std::string, int64_t, double, bool> value_;
};

struct LogField {
  std::string key;
  LogValue value;
};
using LogFields = std::vector<LogField>;

class Logger {
 public:
  // A logger named `name` ("setup", "controller.pygridcluster", "genesis").
  explicit Logger(std::string name);
  // A child logger named "<name>.<child>" with the same values.
  Logger WithName(std::string_view child) const;
  // A logger that adds `fields` to every record.
  Logger WithValues(LogFields fields) const;
  // True if records at `level` pass the filter (skip building expensive fields otherwise).
  static bool Enabled(LogLevel level);

  void Log(LogLevel level, std::string_view msg, const LogFields& fields = {}) const;
  void Debug(std::string_view msg, const LogFields& fields = {}) const {
    Log(LogLevel::kDebug, msg, fields);
  }
  void Info(std::string_view msg, const LogFields& fields = {}) const {
    Log(LogLevel::kInfo, msg, fields);
  }
  void Warning(std::string_view msg, const LogFields& fields = {}) const {
    Log(LogLevel::kWarning, msg, fields);
  }
  // Adds {"error": status.ToString()} to `fields`.
  void Error(std::string_view msg, const Status& status, const LogFields& fields = {}) const;
  void Error(std::string_view msg, const LogFields& fields = {}) const {
    Log(LogLevel::kError, msg, fields);
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::shared_ptr<const LogFields> values_;
};

// Marks the current thread as inside one reconcile: every record it logs carries
// "controller", "namespace", "name" and "reconcileID" until the scope ends. Scopes nest (the
// inner one wins). Not movable; create it on the reconciling thread's stack.
class ReconcileScope {
 public:
  // An empty `reconcile_id` gets a fresh random UUID, as controller-runtime does.
  ReconcileScope(std::string controller, std::string object_namespace, std::string name,
                 std::string reconcile_id = "");
  ~ReconcileScope();
  ReconcileScope(const ReconcileScope&) = delete;
  ReconcileScope& operator=(const ReconcileScope&) = delete;
  const std::string& reconcile_id() const { return reconcile_id_; }

 private:
  std::string controller_;
  std::string namespace_;
  std::string name_;
  std::string reconcile_id_;
  const ReconcileScope* outer_;
  friend struct ScopeAccess;
};

// A random (version 4) UUID, lower-case with dashes.
std::string NewReconcileId();

}  // namespace pygrid::observability
