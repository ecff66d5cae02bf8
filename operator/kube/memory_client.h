// Provides MemoryKubeClient: a KubeClient that keeps objects in memory with the API server's
// rules that an operator depends on, for deterministic tests and simulations (and any
// process that needs a private object store):
//  - resourceVersion from one counter; a PUT with a stale one is 409 Conflict;
//  - metadata.generation starts at 1 and grows when the spec (anything but metadata and
//    status) changes, and when deletionTimestamp is set (markAsDeleting);
//  - the status subresource: PUT .../status changes only status, a main PUT never does;
//  - finalizers: DELETE of an object with finalizers sets deletionTimestamp; the object goes
//    when its last finalizer is removed; no finalizer may be added once it is deleting;
//  - namespaces: DeleteNamespace deletes every object in it (as the namespace controller does);
//  - merge patch (RFC 7386); injected failures per verb and resource; change callbacks.
//
//   MemoryKubeClient kube(clock);
//   kube.OnChange([&](const ResourceRef& r, const std::string& key) { queue.Add(key); });
//   kube.FailNext("update", "pygridclusters", Status::Conflict("injected"));
//
// FileKubeClient (kube/file_client.h) keeps these objects on disk: it restores saved objects
// with Restore and ReserveVersionsThrough, and gives new objects random uids (SetUidSource).
//
// Watch is not offered (it answers Invalid): callers subscribe with OnChange instead.
// Thread-safety: every method is safe from any thread; callbacks run on the calling thread
// with no lock held.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "kube/client.h"

namespace pygrid::kube {

class MemoryKubeClient final : public KubeClient {
 public:
  using ChangeCallback = std::function<void(const ResourceRef& resource, const std::string& key)>;

  explicit MemoryKubeClient(const Clock& clock) : clock_(clock) {}

  // Called after every change of an object ("ns/name" of it), including deletion.
  void OnChange(ChangeCallback callback);
  // The next call of `verb` (get, list, create, update, patch, delete) on `resource` (the
  // plural, "" for any) fails with `status` instead of acting.
  void FailNext(const std::string& verb, const std::string& resource, Status status);
  // Deletes every object of the namespace `ns`, as namespace deletion does.
  void DeleteNamespace(const std::string& ns);
  // The stored object, if any (a copy).
  std::optional<Json> Find(const ResourceRef& resource, const std::string& ns,
                           const std::string& name) const;
  // How many write calls (create, update, patch, delete) reached the store.
  int writes() const;
  // New objects' metadata.uid comes from `source` instead of the default counter (which gives
  // every store the same sequence of uids, for reproducible tests).
  void SetUidSource(std::function<std::string()> source);
  // Stores `object` as it is (uid, generation, resourceVersion, timestamps, finalizers), as a
  // saved object is loaded back; no callbacks run. Later resourceVersions are greater than its.
  // Invalid when metadata.name is missing or metadata.resourceVersion is not a number.
  Status Restore(const ResourceRef& resource, const Json& object);
  // Makes every resourceVersion handed out from now on greater than `version`.
  void ReserveVersionsThrough(int64_t version);
  // The last resourceVersion handed out (also a list's resourceVersion).
  int64_t LatestVersion() const;

  StatusOr<Json> Get(const ResourceRef& resource, const std::string& ns,
                     const std::string& name) override;
  StatusOr<Json> ListPage(const ResourceRef& resource, const std::string& ns,
                          const ListOptions& options) override;
  StatusOr<Json> Create(const ResourceRef& resource, const std::string& ns,
                        const Json& object) override;
  StatusOr<Json> Update(const ResourceRef& resource, const std::string& ns, const Json& object,
                        const std::string& subresource = "") override;
  StatusOr<Json> Patch(const ResourceRef& resource, const std::string& ns, const std::string& name,
                       PatchType type, const Json& patch,
                       const std::string& subresource = "") override;
  Status Delete(const ResourceRef& resource, const std::string& ns, const std::string& name,
                const DeleteOptions& options = {}) override;
  Status Watch(const ResourceRef& resource, const std::string& ns, const WatchOptions& options,
               const WatchHandler& handler, Cancellation* cancel) override;

 private:
  struct Change {
    ResourceRef resource;
    std::string key;
  };
  using Objects = std::map<std::string, Json>;  // "ns/name" -> object

  Status Injected(const std::string& verb, const ResourceRef& resource);  // mu_ held
  // Stores `object` as the new version of `key` (or removes it when it is deleting and has no
  // finalizer left); mu_ held.
  Json Store(const ResourceRef& resource, const std::string& key, Json object);
  void Notify();  // runs queued callbacks, mu_ not held

  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, Objects> objects_;  // by resource plural
  std::map<std::string, ResourceRef> resources_;
  int64_t version_ = 0;
  int64_t uids_ = 0;
  std::function<std::string()> uid_source_;
  int writes_ = 0;
  std::map<std::pair<std::string, std::string>, std::deque<Status>> failures_;
  std::vector<ChangeCallback> callbacks_;
  std::vector<Change> pending_;
};

}  // namespace pygrid::kube
