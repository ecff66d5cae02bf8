// Small helpers shared by the genesis-sim sources (validation, paging, time formatting).
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sim/common/util.h"
#include "sim_http.h"

namespace pygrid::sim::genesis {

// Error codes. "02001" and "02035" are documented (SPEC23 example, DOCS /images); the rest
// are this simulator's choice because no code table is public (reference PART 4).
inline constexpr char kCodeUnauthorized[] = "01001";
inline constexpr char kCodeInvalidRoute[] = "02001";
inline constexpr char kCodeInvalidRequest[] = "02002";
inline constexpr char kCodeNotFound[] = "02003";
inline constexpr char kCodeConflict[] = "02004";
inline constexpr char kCodeImageTypeMismatch[] = "02035";
inline constexpr char kCodeQuota[] = "02070";
inline constexpr char kCodeRateLimited[] = "02429";
inline constexpr char kCodeTooLarge[] = "02413";
inline constexpr char kCodeInjected[] = "05000";

// RFC 3339 with milliseconds and Z, as the API sends (PY20: 2020-06-03T17:13:36.720Z).
std::string Rfc3339(std::chrono::system_clock::time_point t);

// Reads page/per_page (SPEC23: page >= 1 default 1; per_page 1..100 default 50); on a bad
// value returns an error response.
std::optional<SimResponse> ParsePaging(const SimRequest& r, int* page, int* per_page);

// Parses a request body that must be a JSON object; on failure returns the 400 to answer
// (invalid JSON, nesting deeper than 10,000 like Go's encoding/json, or not an object).
std::optional<SimResponse> ParseJsonObject(const std::string& body, nlohmann::json* out);

// The string at `key` of `obj`, `fallback` when absent or null; nullopt when it is another type.
std::optional<std::string> OptionalString(const nlohmann::json& obj, const char* key,
                                          const std::string& fallback);

// {<key>: items[page], total_count, page, per_page} (SPEC23 List*Response, all required).
SimResponse ListResponse(const std::string& key, const std::vector<nlohmann::json>& items, int page,
                         int per_page);

// A GET of a collection: the paging parameters checked (else their 400), then the page of
// `objects` that `keep` admits, each rendered by `render`, under `key`.
template <typename T, typename Render, typename Keep>
SimResponse ListOf(const SimRequest& r, const std::string& key, const std::vector<T>& objects,
                   Render render, Keep keep) {
  int page, per_page;
  if (auto err = ParsePaging(r, &page, &per_page)) return *err;
  std::vector<nlohmann::json> items;
  for (const T& object : objects) {
    if (keep(object)) items.push_back(render(object));
  }
  return ListResponse(key, items, page, per_page);
}
template <typename T, typename Render>
SimResponse ListOf(const SimRequest& r, const std::string& key, const std::vector<T>& objects,
                   Render render) {
  return ListOf(r, key, objects, render, [](const T&) { return true; });
}

// The element of `objects` whose `id` is `id`, or null.
template <typename T>
T* FindById(std::vector<T>& objects, const std::string& id) {
  for (T& object : objects) {
    if (object.id == id) return &object;
  }
  return nullptr;
}

// The path split on '/', empty segments dropped (shared with kube-sim).
using ::pygrid::sim::SplitPath;

// The SSH public key's type, size in bits and MD5 fingerprint (aa:bb:...); false if the text
// is not an OpenSSH public key.
bool DescribeSshKey(const std::string& value, std::string* type, int* size,
                    std::string* fingerprint);

}  // namespace pygrid::sim::genesis
