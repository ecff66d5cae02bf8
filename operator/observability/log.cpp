#include "observability/log.h"

#include <atomic>
#include <boost/log/attributes/constant.hpp>
#include <boost/log/attributes/value_extraction.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions/message.hpp>
#include <boost/log/sinks/basic_sink_backend.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/trivial.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "observability/redact.h"

namespace pygrid::observability {

// Lets the sink read a scope's private fields.
struct ScopeAccess {
  static const std::string& Controller(const ReconcileScope& s) { return s.controller_; }
  static const std::string& Namespace(const ReconcileScope& s) { return s.namespace_; }
  static const std::string& Name(const ReconcileScope& s) { return s.name_; }
  static const std::string& Id(const ReconcileScope& s) { return s.reconcile_id_; }
};

namespace {

namespace logging = boost::log;
namespace sinks = boost::log::sinks;

thread_local const ReconcileScope* current_scope = nullptr;
std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};

// Everything one of our records carries, attached to the Boost.Log record as one attribute.
struct Payload {
  std::chrono::system_clock::time_point ts;
  LogLevel level;
  std::string logger;
  std::string msg;
  std::string controller, object_namespace, name, reconcile_id;  // empty outside a scope
  std::vector<const LogFields*> field_sets;                      // logger values, then call's
};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warn";
    default:
      return "error";
  }
}

LogLevel FromTrivial(logging::trivial::severity_level s) {
  if (s <= logging::trivial::debug) return LogLevel::kDebug;
  if (s == logging::trivial::info) return LogLevel::kInfo;
  if (s == logging::trivial::warning) return LogLevel::kWarning;
  return LogLevel::kError;
}

// RFC 3339 in UTC with milliseconds: 2026-11-26T04:17:44.123Z.
std::string FormatTime(std::chrono::system_clock::time_point tp) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

nlohmann::ordered_json ToJson(const LogValue& value) {
  return std::visit(
      [](const auto& v) -> nlohmann::ordered_json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return Redact(v);
        } else {
          return v;
        }
      },
      value.value());
}

std::string ToText(const LogValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return nlohmann::json(Redact(v)).dump(-1, ' ', false,
                                                nlohmann::json::error_handler_t::replace);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else {
          return nlohmann::json(v).dump();
        }
      },
      value.value());
}

std::string FormatJson(const Payload& p) {
  nlohmann::ordered_json line;
  line["ts"] = FormatTime(p.ts);
  line["level"] = LevelName(p.level);
  line["logger"] = p.logger;
  line["msg"] = Redact(p.msg);
  if (!p.reconcile_id.empty()) {
    line["controller"] = p.controller;
    line["namespace"] = p.object_namespace;
    line["name"] = p.name;
    line["reconcileID"] = p.reconcile_id;
  }
  for (const LogFields* fields : p.field_sets) {
    for (const LogField& f : *fields) {
      // The envelope keys are reserved: a clashing field is kept under a prefixed key.
      std::string key = line.contains(f.key) ? "field." + f.key : f.key;
      line[key] = ToJson(f.value);
    }
  }
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string FormatText(const Payload& p) {
  std::string level = LevelName(p.level);
  for (char& c : level) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string line = FormatTime(p.ts) + "\t" + level + "\t" + p.logger + "\t" + Redact(p.msg);
  if (!p.reconcile_id.empty()) {
    line += "\tcontroller=" + p.controller + " namespace=" + p.object_namespace +
            " name=" + p.name + " reconcileID=" + p.reconcile_id;
  }
  bool first = true;
  for (const LogFields* fields : p.field_sets) {
    for (const LogField& f : *fields) {
      line += (first ? "\t" : " ") + f.key + "=" + ToText(f.value);
      first = false;
    }
  }
  return Redact(line);
}

// The one sink: formats each record, redacts it and hands the line to the writer.
class LineBackend : public sinks::basic_sink_backend<sinks::synchronized_feeding> {
 public:
  LineBackend(LogFormat format, std::function<void(const std::string&)> writer)
      : format_(format), writer_(std::move(writer)) {}

  void consume(const logging::record_view& rec) {
    std::string line;
    if (auto payload = logging::extract<std::shared_ptr<const Payload>>("Payload", rec)) {
      line = format_ == LogFormat::kJson ? FormatJson(**payload) : FormatText(**payload);
    } else {
      Payload foreign;
      foreign.ts = std::chrono::system_clock::now();
      foreign.level = LogLevel::kInfo;
      if (auto sev = logging::extract<logging::trivial::severity_level>("Severity", rec)) {
        foreign.level = FromTrivial(*sev);
      }
      foreign.logger = "boost";
      if (auto msg = logging::extract<std::string>("Message", rec)) foreign.msg = *msg;
      if (const ReconcileScope* s = current_scope) {
        foreign.controller = ScopeAccess::Controller(*s);
        foreign.object_namespace = ScopeAccess::Namespace(*s);
        foreign.name = ScopeAccess::Name(*s);
        foreign.reconcile_id = ScopeAccess::Id(*s);
      }
      line = format_ == LogFormat::kJson ? FormatJson(foreign) : FormatText(foreign);
    }
    writer_(line);
  }

 private:
  LogFormat format_;
  std::function<void(const std::string&)> writer_;
};

using LineSink = sinks::synchronous_sink<LineBackend>;
boost::shared_ptr<LineSink>& InstalledSink() {
  static boost::shared_ptr<LineSink>* sink = new boost::shared_ptr<LineSink>();
  return *sink;
}

bool PassesFilter(const logging::attribute_value_set& attrs) {
  LogLevel level = LogLevel::kInfo;
  if (auto ours = logging::extract<LogLevel>("Level", attrs)) {
    level = *ours;
  } else if (auto sev = logging::extract<logging::trivial::severity_level>("Severity", attrs)) {
    level = FromTrivial(*sev);
  }
  return static_cast<int>(level) >= min_level.load();
}

std::mutex init_mu;
std::atomic<bool> sink_installed{false};

// Replaces the sink; the caller holds init_mu.
void InstallSinkLocked(const LogOptions& options) {
  auto core = logging::core::get();
  boost::shared_ptr<LineSink>& sink = InstalledSink();
  if (sink) {
    core->remove_sink(sink);
    sink->flush();
  }
  std::function<void(const std::string&)> writer = options.writer;
  if (!writer) {
    writer = [](const std::string& line) {
      std::fwrite(line.data(), 1, line.size(), stderr);
      std::fputc('\n', stderr);
      std::fflush(stderr);
    };
  }
  sink = boost::make_shared<LineSink>(boost::make_shared<LineBackend>(options.format, writer));
  core->add_sink(sink);
  core->set_filter(&PassesFilter);
  min_level = static_cast<int>(options.level);
  sink_installed = true;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

StatusOr<LogLevel> ParseLogLevel(std::string_view text) {
  std::string t = Lower(text);
  if (t == "debug") return LogLevel::kDebug;
  if (t == "info") return LogLevel::kInfo;
  if (t == "warn" || t == "warning") return LogLevel::kWarning;
  if (t == "error") return LogLevel::kError;
  return Status::Invalid("unknown log level \"" + std::string(text) +
                         "\" (want debug, info, warn or error)");
}

StatusOr<LogFormat> ParseLogFormat(std::string_view text) {
  std::string t = Lower(text);
  if (t == "json") return LogFormat::kJson;
  if (t == "text") return LogFormat::kText;
  return Status::Invalid("unknown log format \"" + std::string(text) + "\" (want json or text)");
}

void InitLogging(const LogOptions& options) {
  std::lock_guard<std::mutex> lock(init_mu);
  InstallSinkLocked(options);
}

void SetLogLevel(LogLevel level) { min_level = static_cast<int>(level); }

Logger::Logger(std::string name)
    : name_(std::move(name)), values_(std::make_shared<const LogFields>()) {}

Logger Logger::WithName(std::string_view child) const {
  Logger copy = *this;
  copy.name_ = name_.empty() ? std::string(child) : name_ + "." + std::string(child);
  return copy;
}

Logger Logger::WithValues(LogFields fields) const {
  Logger copy = *this;
  LogFields merged = *values_;
  for (auto& f : fields) merged.push_back(std::move(f));
  copy.values_ = std::make_shared<const LogFields>(std::move(merged));
  return copy;
}

bool Logger::Enabled(LogLevel level) { return static_cast<int>(level) >= min_level.load(); }

void Logger::Log(LogLevel level, std::string_view msg, const LogFields& fields) const {
  if (!Enabled(level)) return;
  // Without InitLogging, Boost.Log's default sink would print unformatted, unredacted records.
  if (!sink_installed) {
    std::lock_guard<std::mutex> lock(init_mu);
    if (!sink_installed) InstallSinkLocked(LogOptions{});
  }
  auto payload = std::make_shared<Payload>();
  payload->ts = std::chrono::system_clock::now();
  payload->level = level;
  payload->logger = name_;
  payload->msg = std::string(msg);
  if (const ReconcileScope* s = current_scope) {
    payload->controller = ScopeAccess::Controller(*s);
    payload->object_namespace = ScopeAccess::Namespace(*s);
    payload->name = ScopeAccess::Name(*s);
    payload->reconcile_id = ScopeAccess::Id(*s);
  }
  // The pointers stay valid: the record is formatted synchronously inside push_record.
  payload->field_sets = {values_.get(), &fields};
  logging::attribute_set attrs;
  attrs.insert("Level", logging::attributes::constant<LogLevel>(level));
  attrs.insert("Payload", logging::attributes::constant<std::shared_ptr<const Payload>>(payload));
  auto core = logging::core::get();
  try {
    logging::record rec = core->open_record(attrs);
    if (rec) core->push_record(boost::move(rec));
  } catch (const std::exception&) {
    // Logging must never take the operator down (e.g. a writer that throws on a full disk).
  }
}

void Logger::Error(std::string_view msg, const Status& status, const LogFields& fields) const {
  LogFields with_error = fields;
  with_error.push_back({"error", status.ToString()});
  Log(LogLevel::kError, msg, with_error);
}

ReconcileScope::ReconcileScope(std::string controller, std::string object_namespace,
                               std::string name, std::string reconcile_id)
    : controller_(std::move(controller)),
      namespace_(std::move(object_namespace)),
      name_(std::move(name)),
      reconcile_id_(reconcile_id.empty() ? NewReconcileId() : std::move(reconcile_id)),
      outer_(current_scope) {
  current_scope = this;
}

ReconcileScope::~ReconcileScope() { current_scope = outer_; }

std::string NewReconcileId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng();
  uint64_t lo = rng();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;                  // version 4
  lo = (lo & ~(0xC000ULL << 48)) | (0x8000ULL << 48);  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

}  // namespace pygrid::observability
