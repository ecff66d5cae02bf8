#include "kube/client.h"

namespace pygrid::kube {

std::string ResourceRef::ApiPrefix() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

std::string ResourceRef::CollectionPath(const std::string& ns) const {
  if (namespaced && !ns.empty()) return ApiPrefix() + "/namespaces/" + ns + "/" + resource;
  return ApiPrefix() + "/" + resource;
}

std::string ResourceRef::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

void Cancellation::Cancel() {
  // Callbacks run under the lock so that Remove() waits for a running callback: the owner of
  // whatever the callback touches may free it right after Remove() returns.
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_.exchange(true)) return;
  for (auto& entry : callbacks_) entry.second();
  callbacks_.clear();
}

int Cancellation::OnCancel(std::function<void()> callback) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cancelled_.load()) {
      callbacks_.emplace_back(++next_id_, std::move(callback));
      return next_id_;
    }
  }
  callback();
  return 0;
}

void Cancellation::Remove(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = callbacks_.begin(); it != callbacks_.end(); ++it) {
    if (it->first == id) {
      callbacks_.erase(it);
      return;
    }
  }
}

StatusOr<ListResult> KubeClient::List(const ResourceRef& resource, const std::string& ns,
                                      ListOptions options, int64_t page_size) {
  ListResult result;
  options.limit = page_size;
  options.continue_token.clear();
  bool restarted = false;
  while (true) {
    StatusOr<Json> page = ListPage(resource, ns, options);
    if (!page.ok()) {
      if (page.status().IsGone() && !options.continue_token.empty() && !restarted) {
        // client-go pager: an expired continue token falls back to one full list.
        restarted = true;
        result = ListResult();
        options.continue_token.clear();
        options.limit = 0;
        continue;
      }
      return page.status();
    }
    ++result.pages;
    const Json& metadata = page->contains("metadata") ? (*page)["metadata"] : Json::object();
    if (result.resource_version.empty() || options.continue_token.empty()) {
      result.resource_version = metadata.value("resourceVersion", "");
    }
    if (page->contains("items") && (*page)["items"].is_array()) {
      for (auto& item : (*page)["items"]) result.items.push_back(std::move(item));
    }
    const std::string next = metadata.value("continue", "");
    if (next.empty() || options.limit == 0) break;
    options.continue_token = next;
  }
  return result;
}

std::string ObjectKey(const Json& object) {
  const Json& metadata = object.contains("metadata") ? object["metadata"] : Json::object();
  const std::string ns = metadata.value("namespace", "");
  const std::string name = metadata.value("name", "");
  return ns.empty() ? name : ns + "/" + name;
}

std::pair<std::string, std::string> SplitObjectKey(const std::string& key) {
  const auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

std::string ResourceVersionOf(const Json& object) {
  if (!object.is_object() || !object.contains("metadata")) return "";
  return object["metadata"].value("resourceVersion", "");
}

}  // namespace pygrid::kube
