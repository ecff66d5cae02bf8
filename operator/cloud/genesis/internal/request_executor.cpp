#include "cloud/genesis/internal/request_executor.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <thread>

namespace pygrid::cloud::genesis::internal {
namespace {

bool MentionsQuota(const std::string& text) {
  std::string lower = text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("quota") != std::string::npos;
}

}  // namespace

std::optional<std::chrono::milliseconds> ParseRetryAfter(const HttpResponse& response) {
  auto it = response.headers.find("retry-after");
  if (it == response.headers.end()) return std::nullopt;
  const std::string& v = it->second;
  if (v.empty() ||
      !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c) != 0; }) ||
      v.size() > 9) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(std::stoll(v) * 1000);
}

Status MapHttpError(const std::string& operation, const HttpResponse& response,
                    std::chrono::milliseconds default_retry_after) {
  std::string code;
  std::string message;
  try {
    nlohmann::json body = nlohmann::json::parse(response.body);
    if (body.is_object()) {
      if (body.contains("code") && body["code"].is_string()) code = body["code"];
      if (body.contains("message") && body["message"].is_string()) message = body["message"];
    }
  } catch (const std::exception&) {
    // Not the documented {code,message} body (e.g. a proxy's HTML page): keep the status only.
  }
  if (message.empty()) message = "HTTP " + std::to_string(response.status);
  const std::string text = operation + ": " + message;
  const int s = response.status;
  Status status;
  if (s == 429) {
    status = Status::RateLimited(text);
    status.WithRetryAfter(ParseRetryAfter(response).value_or(default_retry_after));
  } else if (s >= 400 && s < 500 && s != 401 && s != 404 && MentionsQuota(message)) {
    // The quota error's code is undocumented (reference §1.13); the message is the signal.
    status = Status::QuotaExceeded(text);
  } else if (s == 401) {
    status = Status::Unauthorized(text);
  } else if (s == 403) {
    status = Status::Forbidden(text);
  } else if (s == 404) {
    status = Status::NotFound(text);
  } else if (s == 409) {
    status = Status::Conflict(text);
  } else if (s >= 500) {
    status = Status::Unavailable(text);
    if (auto after = ParseRetryAfter(response)) status.WithRetryAfter(*after);
  } else {
    status = Status::Invalid(text);
  }
  status.WithHttpStatus(s);
  if (!code.empty()) status.WithRemoteCode(code);
  return status;
}

RequestExecutor::RequestExecutor(GenesisOptions options, std::unique_ptr<HttpTransport> transport)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      clock_(options_.clock != nullptr ? options_.clock : &RealClock::Instance()),
      sleeper_(options_.sleeper ? options_.sleeper
                                : [](Clock::Duration d) { std::this_thread::sleep_for(d); }),
      budget_(options_.requests_per_second, *clock_),
      backoff_(options_.backoff),
      rng_(options_.jitter_seed != 0 ? options_.jitter_seed : std::random_device{}()) {
  if (options_.hook) hook_ = std::make_shared<const RequestHook>(options_.hook);
}

void RequestExecutor::SetHook(RequestHook hook) {
  std::lock_guard<std::mutex> lock(hook_mu_);
  hook_ = hook ? std::make_shared<const RequestHook>(std::move(hook)) : nullptr;
}

std::chrono::milliseconds RequestExecutor::NextBackoff(int retry) {
  std::lock_guard<std::mutex> lock(rng_mu_);
  return backoff_.Delay(retry, rng_);
}

void RequestExecutor::WaitForBudget() {
  for (Clock::Duration wait = budget_.TryAcquire(); wait > Clock::Duration::zero();
       wait = budget_.TryAcquire()) {
    sleeper_(wait);
  }
}

StatusOr<HttpResponse> RequestExecutor::Execute(const std::string& operation,
                                                const std::string& method, const std::string& path,
                                                const std::string& body, bool idempotent) {
  HttpRequest request;
  request.method = method;
  request.path = path;
  request.body = body;
  request.timeout = options_.request_timeout;
  request.headers.emplace_back("Accept", "application/json");
  if (options_.auth_header == AuthHeader::kBearer) {
    request.headers.emplace_back("Authorization", "Bearer " + options_.token);
  } else {
    request.headers.emplace_back("X-Auth-Token", options_.token);
  }
  const int max_attempts = std::max(1, options_.max_attempts);
  for (int attempt = 1;; ++attempt) {
    WaitForBudget();
    const Clock::TimePoint start = clock_->Now();
    TransportResult result = transport_->Send(request);
    RequestRecord record;
    record.operation = operation;
    record.method = method;
    record.status = result.error == TransportError::kNone ? result.response.status : 0;
    record.duration = std::chrono::duration<double>(clock_->Now() - start);
    record.rate_limited = record.status == 429;
    record.attempt = attempt;
    std::shared_ptr<const RequestHook> hook;
    {
      std::lock_guard<std::mutex> lock(hook_mu_);
      hook = hook_;
    }
    if (hook) (*hook)(record);

    Status status;
    bool transient = false;
    if (result.error == TransportError::kTimeout) {
      status = Status::Timeout(operation + ": no answer within " +
                               std::to_string(options_.request_timeout.count()) + " ms");
      transient = true;
    } else if (result.error == TransportError::kConnection) {
      status = Status::Unavailable(operation + ": connection failed: " + result.error_message);
      transient = true;
    } else if (result.response.status >= 200 && result.response.status < 300) {
      return std::move(result.response);
    } else {
      status = MapHttpError(operation, result.response, options_.default_retry_after);
      transient = result.response.status >= 500;
    }

    if (status.IsRateLimited()) {
      const std::chrono::milliseconds after = *status.retry_after();
      // The whole account is paused, also for callers already waiting for the budget (they
      // check it again right before sending) and even when this caller gives up; a pause
      // longer than max_retry_after is cut there so a wild header cannot freeze the client.
      budget_.Pause(std::min(after, options_.max_retry_after));
      if (after > options_.max_retry_after || attempt >= max_attempts) return status;
      continue;
    }
    if (!transient || !idempotent || attempt >= max_attempts) return status;
    std::chrono::milliseconds delay = NextBackoff(attempt - 1);
    // A 503 may say when to come back; never earlier than that, never beyond the cap.
    if (status.retry_after() && *status.retry_after() <= options_.max_retry_after) {
      delay = std::max(delay, *status.retry_after());
    }
    sleeper_(delay);
  }
}

}  // namespace pygrid::cloud::genesis::internal
