// Provides FileKubeClient: a KubeClient for one process without a cluster (the standalone
// commands, cli/standalone_commands.h). It is a MemoryKubeClient, with all of its API-server
// rules (resourceVersion and 409, generation, status subresource, finalizers), whose objects
// are also kept in a local folder, one JSON file per object, so a process killed at any
// instant and started again finds every object as the last successful call left it:
//
//   StatusOr<std::unique_ptr<FileKubeClient>> store = FileKubeClient::Open(dir, clock);
//   (*store)->Create(PyGridClusters(), "default", object);   // on disk when this returns
//   // ... kill -9, start again ...
//   (*store)->Get(PyGridClusters(), "default", "mnist");      // same uid, generation, status
//
//  - Layout: <dir>/<plural>.<version>[.<group>]/<namespace>/<name>.json (kubectl's
//    resource.version.group; cluster-scoped objects without the namespace folder), and
//    <dir>/store.json holding the last resourceVersion handed out before the latest deletion,
//    so versions never repeat after a restart. Folders are 0700, files 0600.
//  - A write call returns only once its object is durable (kube/atomic_file.h). If that fails
//    the call answers Unavailable and so does every later write: memory and disk never drift
//    apart unnoticed.
//  - Secrets are kept in memory only and never written: they hold credentials.
//  - New objects get random (version 4) uids, since names derived from them must not repeat
//    across stores.
//
// Thread-safety: every method is safe from any thread. One process may open a folder for
// writing at a time (the caller locks it); read-only opens may run beside it.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.h"
#include "kube/client.h"
#include "kube/memory_client.h"

namespace pygrid::kube {

class FileKubeClient final : public KubeClient {
 public:
  struct Options {
    // Loads the folder but refuses every write and leaves the folder untouched (for readers
    // beside a running writer).
    bool read_only = false;
  };

  // Loads every object saved in `dir` (created 0700 if missing, unless read-only). Fails on a
  // file that is not a saved object, naming it: skipping it could lose a grid's identity.
  static StatusOr<std::unique_ptr<FileKubeClient>> Open(const std::string& dir, const Clock& clock,
                                                        Options options);
  static StatusOr<std::unique_ptr<FileKubeClient>> Open(const std::string& dir,
                                                        const Clock& clock) {
    return Open(dir, clock, Options{});
  }

  // The stored object, if any (a copy).
  std::optional<Json> Find(const ResourceRef& resource, const std::string& ns,
                           const std::string& name) const;
  // Called after every change of an object, as MemoryKubeClient::OnChange.
  void OnChange(MemoryKubeClient::ChangeCallback callback);
  // Stores `object` as it is (its uid, generation and metadata kept) and saves it, e.g. to
  // bring back an object whose file was lost; see MemoryKubeClient::Restore.
  Status Restore(const ResourceRef& resource, const Json& object);
  // The file that holds (or would hold) an object.
  std::string PathOf(const ResourceRef& resource, const std::string& ns,
                     const std::string& name) const;
  const std::string& dir() const { return dir_; }

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
  FileKubeClient(std::string dir, const Clock& clock, Options options);

  Status Load();
  Status LoadResource(const std::string& folder, const ResourceRef& resource);
  Status LoadObject(const std::string& path, const ResourceRef& resource, const std::string& ns);
  // Refuses writes when read-only, after a failed save, or for names that are no file names.
  Status Writable(const ResourceRef& resource, const std::string& ns,
                  const std::string& name) const;
  // Saves the current state of one object (its file, or its removal).
  Status Save(const ResourceRef& resource, const std::string& ns, const std::string& name);

  const std::string dir_;
  const Options options_;
  MemoryKubeClient memory_;
  mutable std::mutex save_mu_;  // one save at a time: each writes the object's latest state
  Status broken_;               // the first failed save; every later write fails with it
};

// "pygridclusters.v1alpha1.distributor.pygrid.dev" or "secrets.v1" (the folder of a resource).
std::string ResourceFolderName(const ResourceRef& resource);

}  // namespace pygrid::kube
