#include "cloud/genesis/internal/list_pager.h"

#include <optional>
#include <unordered_set>

namespace pygrid::cloud::genesis::internal {
namespace {

using nlohmann::json;

// How one listing ended.
enum class PassEnd {
  kComplete,      // items hold the whole list
  kFailed,        // `status` is final (the fetcher's error or a malformed envelope)
  kInconsistent,  // the pages do not add up; another listing may
};

struct Pass {
  PassEnd end = PassEnd::kComplete;
  Status status;
  std::vector<json> items;
};

Pass Failed(Status status) { return {PassEnd::kFailed, std::move(status), {}}; }

Pass Malformed(const std::string& operation, int page, const std::string& what) {
  return Failed(
      Status::Unavailable(operation + ": malformed list page " + std::to_string(page) + ": " + what)
          .WithRetryable(false));
}

Pass Inconsistent(const std::string& operation, const std::string& what) {
  return {PassEnd::kInconsistent, Status::Unavailable(operation + ": " + what), {}};
}

// A non-negative integer field; nullopt when absent or null; false in `ok` when present with
// another type.
std::optional<long long> IntField(const json& body, const char* name, bool* ok) {
  *ok = true;
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<long long>() < 0) {
    *ok = false;
    return std::nullopt;
  }
  return it->get<long long>();
}

Pass ReadOnce(const std::string& operation, const std::string& key, const PageFetcher& fetch) {
  Pass pass;
  std::unordered_set<std::string> ids;
  std::optional<long long> total;  // the latest page's total_count
  for (int page = 1; page <= kMaxPages; ++page) {
    StatusOr<json> body = fetch(page, kMaxPerPage);
    if (!body.ok()) return Failed(body.status());
    if (!body->is_object()) return Malformed(operation, page, "not a JSON object");
    auto items = body->find(key);
    if (items == body->end() || !items->is_array()) {
      return Malformed(operation, page, "no \"" + key + "\" array");
    }

    bool ok = true;
    const std::optional<long long> page_total = IntField(*body, "total_count", &ok);
    if (!ok) return Malformed(operation, page, "total_count is not a non-negative integer");
    const std::optional<long long> served_page = IntField(*body, "page", &ok);
    if (!ok) return Malformed(operation, page, "page is not a non-negative integer");
    const std::optional<long long> per_page = IntField(*body, "per_page", &ok);
    if (!ok || (per_page && *per_page == 0)) {
      return Malformed(operation, page, "per_page is not a positive integer");
    }

    if (served_page && *served_page != page) {
      return Inconsistent(operation, "asked for page " + std::to_string(page) + ", got page " +
                                         std::to_string(*served_page));
    }
    if (page > 1 && total.has_value() != page_total.has_value()) {
      return Inconsistent(operation, "total_count present on some pages only");
    }
    if (total && page_total && *page_total < *total) {
      return Inconsistent(operation, "total_count fell from " + std::to_string(*total) + " to " +
                                         std::to_string(*page_total) +
                                         " while paging (a deletion may have hidden an item)");
    }
    total = page_total;
    if (per_page && static_cast<long long>(items->size()) > *per_page) {
      return Inconsistent(operation, "page " + std::to_string(page) + " holds " +
                                         std::to_string(items->size()) + " items, per_page is " +
                                         std::to_string(*per_page));
    }

    for (json& item : *items) {
      auto id = item.is_object() ? item.find("id") : item.end();
      if (!item.is_object() || id == item.end() || !id->is_string() ||
          id->get_ref<const std::string&>().empty()) {
        return Malformed(operation, page, "an item without an id");
      }
      if (!ids.insert(id->get<std::string>()).second) {
        return Inconsistent(operation, "id " + id->get<std::string>() +
                                           " served twice (the list shifted while paging)");
      }
      pass.items.push_back(std::move(item));
    }

    const long long seen = static_cast<long long>(pass.items.size());
    const bool short_page = per_page && static_cast<long long>(items->size()) < *per_page;
    if (total) {
      if (seen == *total) return pass;
      if (seen > *total) {
        return Inconsistent(operation, std::to_string(seen) + " items served, total_count is " +
                                           std::to_string(*total));
      }
      if (items->empty() || short_page) {
        return Inconsistent(operation, "total_count is " + std::to_string(*total) +
                                           " but the pages ended after " + std::to_string(seen) +
                                           " items");
      }
    } else if (items->empty() || short_page) {
      // Without per_page in the envelope a short page proves nothing (the server may use a
      // smaller page than asked); only an empty page ends the list then.
      return pass;
    }
  }
  return Failed(Status::Unavailable(operation + ": the list did not end within " +
                                    std::to_string(kMaxPages) + " pages")
                    .WithRetryable(false));
}

}  // namespace

StatusOr<std::vector<json>> ReadAllPages(const std::string& operation, const std::string& key,
                                         const PageFetcher& fetch) {
  Status last;
  for (int pass = 1; pass <= kListPasses; ++pass) {
    Pass got;
    try {
      got = ReadOnce(operation, key, fetch);
    } catch (const std::exception&) {
      // json's accessors are guarded above; this keeps any surprise inside the client.
      return Status::Unavailable(operation + ": malformed list page").WithRetryable(false);
    }
    if (got.end == PassEnd::kComplete) return std::move(got.items);
    if (got.end == PassEnd::kFailed) return got.status;
    last = got.status;
  }
  return Status::Unavailable(last.message() + "; " + std::to_string(kListPasses) +
                             " listings in a row did not add up, so none is trusted")
      .WithRetryable(true);
}

}  // namespace pygrid::cloud::genesis::internal
