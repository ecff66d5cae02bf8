// Provides KubeClient, the interface to the Kubernetes API for any group/version/resource on
// plain nlohmann::json objects, and the value types its calls take:
//
//   const ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", /*namespaced=*/true};
//   StatusOr<nlohmann::json> lease = client.Get(kLeases, "ns", "my-lease");
//   if (!lease.ok() && lease.status().IsNotFound()) ...
//
// The implementation over HTTPS is RestClient (kube/rest_client.h); tests may fake this
// interface. Every error is a pygrid::Status built from the API's `kind: Status` body
// (kube/errors.h). Thread-safety: implementations are safe to call from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace pygrid::kube {

using Json = nlohmann::json;

// A group/version/resource and whether its objects live in a namespace.
struct ResourceRef {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // the plural, "pods"
  bool namespaced = true;

  // "/api/v1" for the core group, "/apis/<group>/<version>" otherwise.
  std::string ApiPrefix() const;
  // The collection path, "/api/v1/namespaces/ns/pods"; `ns` is ignored when cluster-scoped
  // and may be empty for a list across namespaces.
  std::string CollectionPath(const std::string& ns) const;
  // "apps/v1" or "v1".
  std::string ApiVersion() const;
};

// List filters and paging (metav1.ListOptions subset).
struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // "" = most recent (a quorum read)
  int64_t limit = 0;             // 0 = no paging
  std::string continue_token;
};

// One list: every item and the collection's resourceVersion to watch from.
struct ListResult {
  std::vector<Json> items;
  std::string resource_version;
  int pages = 0;
};

// PATCH content types.
enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJsonPatch,       // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in types only)
};

// DELETE options (metav1.DeleteOptions subset).
struct DeleteOptions {
  std::string precondition_uid;
  std::string precondition_resource_version;
  std::string propagation_policy;  // "", "Orphan", "Background", "Foreground"
  std::optional<int64_t> grace_period_seconds;
};

// Watch parameters; the informer fills them as client-go's reflector does.
struct WatchOptions {
  std::string resource_version;
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  int64_t timeout_seconds = 300;
};

// One watch event: type is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (object is then a
// `kind: Status`).
struct WatchEvent {
  std::string type;
  Json object;
};

// Returns false to end the watch.
using WatchHandler = std::function<bool(const WatchEvent&)>;

// Lets another thread end a blocking call (a watch) early. Thread-safe; Cancel is sticky.
class Cancellation {
 public:
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Runs `callback` on Cancel (at once if already cancelled); returns an id for Remove.
  // Callbacks must not call back into this Cancellation.
  int OnCancel(std::function<void()> callback);
  // Unregisters a callback; if Cancel is running it, waits until it has returned.
  void Remove(int id);

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  int next_id_ = 0;
  std::vector<std::pair<int, std::function<void()>>> callbacks_;
};

// The Kubernetes API, for any resource, on JSON objects.
class KubeClient {
 public:
  virtual ~KubeClient() = default;

  virtual StatusOr<Json> Get(const ResourceRef& resource, const std::string& ns,
                             const std::string& name) = 0;
  // One page (or the whole list when options.limit is 0): the raw List object, whose
  // metadata.continue is set when more pages follow.
  virtual StatusOr<Json> ListPage(const ResourceRef& resource, const std::string& ns,
                                  const ListOptions& options) = 0;
  virtual StatusOr<Json> Create(const ResourceRef& resource, const std::string& ns,
                                const Json& object) = 0;
  // PUT of the whole object; metadata.resourceVersion makes it conditional (409 if stale).
  // `subresource` is "" or "status".
  virtual StatusOr<Json> Update(const ResourceRef& resource, const std::string& ns,
                                const Json& object, const std::string& subresource = "") = 0;
  virtual StatusOr<Json> Patch(const ResourceRef& resource, const std::string& ns,
                               const std::string& name, PatchType type, const Json& patch,
                               const std::string& subresource = "") = 0;
  // OK when deleted or deletion started (finalizers); the object as returned is dropped.
  virtual Status Delete(const ResourceRef& resource, const std::string& ns, const std::string& name,
                        const DeleteOptions& options = {}) = 0;
  // Streams events to `handler` until the server ends the stream (OK), the handler returns
  // false (OK), `cancel` fires (OK) or an error occurs (that error; a 410 is kGone).
  virtual Status Watch(const ResourceRef& resource, const std::string& ns,
                       const WatchOptions& options, const WatchHandler& handler,
                       Cancellation* cancel) = 0;

  // Paged list, `page_size` per page (client-go pager: 500). If a continue token expires
  // mid-way (410) the list restarts once as a single unpaged request, as the pager does.
  StatusOr<ListResult> List(const ResourceRef& resource, const std::string& ns,
                            ListOptions options = {}, int64_t page_size = 500);
  StatusOr<Json> UpdateStatus(const ResourceRef& resource, const std::string& ns,
                              const Json& object) {
    return Update(resource, ns, object, "status");
  }
};

// "ns/name", or "name" for a cluster-scoped object (client-go MetaNamespaceKeyFunc).
std::string ObjectKey(const Json& object);
// Splits an ObjectKey into namespace ("" when cluster-scoped) and name.
std::pair<std::string, std::string> SplitObjectKey(const std::string& key);
// metadata.resourceVersion, or "".
std::string ResourceVersionOf(const Json& object);

}  // namespace pygrid::kube
