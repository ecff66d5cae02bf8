// Internal to cloud/genesis: reads every page of a Genesis list endpoint
// (`{"<key>": [...], "total_count", "page", "per_page"}`, SPEC23) and returns the items only
// when the pages add up to one complete list; callers outside cloud/genesis must not include
// this header.
//
//   StatusOr<std::vector<nlohmann::json>> items = ReadAllPages(
//       "ListInstances", "instances", [&](int page, int per_page) { return Get(page, per_page); });
//
// Why so strict: a list that silently misses an instance makes the controller create it again.
// Offset paging cannot prove completeness while the collection changes, so every sign of a
// change or of an inconsistent envelope restarts the listing (a few times) and then fails:
//  - `total_count` present: the items must add up to it exactly; it may grow between pages
//    (instances created behind the read position) but never shrink (a deletion in front of
//    the read position shifts an unseen item onto a page already read).
//  - `total_count` absent: pages are read until a page shorter than `per_page`, or, when the
//    envelope does not say `per_page` either, until an empty page.
//  - an id seen twice (a create in front of the read position shifted items forward), a page
//    answered with another page number, more items than `per_page`: inconsistent.
//  - a field of the wrong type, an item without an id: malformed, not retried.
// Residual: a deletion in front of the read position and a creation behind it landing
// between the same two page reads leave no trace in the envelope and are not detected.
//
// Thread-safety: ReadAllPages is reentrant; `fetch` is called on the caller's thread.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace pygrid::cloud::genesis::internal {

// The largest page the API serves (SPEC23 PerPageQueryParameter: "lower or equal to 100").
inline constexpr int kMaxPerPage = 100;
// Listings restarted after a sign of concurrent change before giving up.
inline constexpr int kListPasses = 3;
// A bound on pages per listing, so a server that never ends a list cannot loop us forever.
inline constexpr int kMaxPages = 10000;

// Fetches page `page` (from 1) with `per_page` items and returns its parsed JSON object, or
// the request's error.
using PageFetcher = std::function<StatusOr<nlohmann::json>(int page, int per_page)>;

// Every item under `key`, in the order served, or an error: the fetcher's own error as it
// is; Unavailable (not retryable) for a malformed envelope; Unavailable (retryable) when
// kListPasses listings in a row were inconsistent. Never a partial list; never throws.
StatusOr<std::vector<nlohmann::json>> ReadAllPages(const std::string& operation,
                                                   const std::string& key,
                                                   const PageFetcher& fetch);

}  // namespace pygrid::cloud::genesis::internal
