#include "kube/memory_client.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <exception>

namespace pygrid::kube {

namespace {

std::string Key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

std::string Timestamp(const Clock& clock) {
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(clock.WallNow().time_since_epoch()).count();
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

// Everything but metadata and status: what a change of bumps the generation.
Json SpecPart(const Json& object) {
  Json part = object;
  part.erase("metadata");
  part.erase("status");
  part.erase("apiVersion");
  part.erase("kind");
  return part;
}

Json MergePatch(Json target, const Json& patch) {
  if (!patch.is_object()) return patch;
  if (!target.is_object()) target = Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null()) {
      target.erase(it.key());
    } else {
      target[it.key()] = MergePatch(target.value(it.key(), Json()), it.value());
    }
  }
  return target;
}

Status NotFound(const ResourceRef& resource, const std::string& name) {
  return Status::NotFound(resource.resource + " \"" + name + "\" not found").WithHttpStatus(404);
}

bool HasFinalizers(const Json& object) {
  const Json& metadata = object["metadata"];
  return metadata.contains("finalizers") && metadata["finalizers"].is_array() &&
         !metadata["finalizers"].empty();
}

}  // namespace

void MemoryKubeClient::OnChange(ChangeCallback callback) {
  std::lock_guard<std::mutex> lock(mu_);
  callbacks_.push_back(std::move(callback));
}

void MemoryKubeClient::FailNext(const std::string& verb, const std::string& resource,
                                Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_[{verb, resource}].push_back(std::move(status));
}

int MemoryKubeClient::writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_;
}

void MemoryKubeClient::SetUidSource(std::function<std::string()> source) {
  std::lock_guard<std::mutex> lock(mu_);
  uid_source_ = std::move(source);
}

Status MemoryKubeClient::Restore(const ResourceRef& resource, const Json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
    return Status::Invalid("restored object has no metadata");
  }
  const Json& metadata = object["metadata"];
  const std::string name = metadata.value("name", "");
  if (name.empty()) return Status::Invalid("restored object has no metadata.name");
  const std::string version = metadata.value("resourceVersion", "");
  int64_t number = 0;
  size_t used = 0;
  try {
    number = std::stoll(version, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (version.empty() || used != version.size() || number < 0) {
    return Status::Invalid("restored object " + name + " has no numeric resourceVersion");
  }
  const std::string ns = resource.namespaced ? metadata.value("namespace", "") : "";
  std::lock_guard<std::mutex> lock(mu_);
  resources_[resource.resource] = resource;
  objects_[resource.resource][Key(ns, name)] = object;
  version_ = std::max(version_, number);
  return Status::Ok();
}

void MemoryKubeClient::ReserveVersionsThrough(int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  version_ = std::max(version_, version);
}

int64_t MemoryKubeClient::LatestVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

Status MemoryKubeClient::Injected(const std::string& verb, const ResourceRef& resource) {
  for (const std::string& which : {resource.resource, std::string()}) {
    auto it = failures_.find({verb, which});
    if (it != failures_.end() && !it->second.empty()) {
      Status failure = it->second.front();
      it->second.pop_front();
      return failure;
    }
  }
  return Status::Ok();
}

Json MemoryKubeClient::Store(const ResourceRef& resource, const std::string& key, Json object) {
  resources_[resource.resource] = resource;
  Objects& objects = objects_[resource.resource];
  object["metadata"]["resourceVersion"] = std::to_string(++version_);
  pending_.push_back({resource, key});
  const bool deleting = !object["metadata"].value("deletionTimestamp", "").empty();
  if (deleting && !HasFinalizers(object)) {
    objects.erase(key);
    return object;
  }
  objects[key] = object;
  return object;
}

void MemoryKubeClient::Notify() {
  std::vector<Change> changes;
  std::vector<ChangeCallback> callbacks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    changes.swap(pending_);
    callbacks = callbacks_;
  }
  for (const Change& change : changes) {
    for (const ChangeCallback& callback : callbacks) callback(change.resource, change.key);
  }
}

std::optional<Json> MemoryKubeClient::Find(const ResourceRef& resource, const std::string& ns,
                                           const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto objects = objects_.find(resource.resource);
  if (objects == objects_.end()) return std::nullopt;
  auto it = objects->second.find(Key(resource.namespaced ? ns : "", name));
  if (it == objects->second.end()) return std::nullopt;
  return it->second;
}

StatusOr<Json> MemoryKubeClient::Get(const ResourceRef& resource, const std::string& ns,
                                     const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status failure = Injected("get", resource); !failure.ok()) return failure;
  }
  std::optional<Json> found = Find(resource, ns, name);
  if (!found) return NotFound(resource, name);
  return *found;
}

StatusOr<Json> MemoryKubeClient::ListPage(const ResourceRef& resource, const std::string& ns,
                                          const ListOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status failure = Injected("list", resource); !failure.ok()) return failure;
  Json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", Json::array()}};
  list["metadata"]["resourceVersion"] = std::to_string(version_);
  auto objects = objects_.find(resource.resource);
  if (objects == objects_.end()) return list;
  for (const auto& [key, object] : objects->second) {
    if (ns.empty() || object["metadata"].value("namespace", "") == ns) {
      list["items"].push_back(object);
    }
  }
  return list;
}

StatusOr<Json> MemoryKubeClient::Create(const ResourceRef& resource, const std::string& ns,
                                        const Json& object) {
  Json stored;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status failure = Injected("create", resource); !failure.ok()) return failure;
    ++writes_;
    const std::string name = object["metadata"].value("name", "");
    if (name.empty()) return Status::Invalid("metadata.name: Required value").WithHttpStatus(422);
    const std::string key = Key(resource.namespaced ? ns : "", name);
    if (objects_[resource.resource].count(key)) {
      return Status::AlreadyExists(resource.resource + " \"" + name + "\" already exists")
          .WithHttpStatus(409);
    }
    Json created = object;
    Json& metadata = created["metadata"];
    if (resource.namespaced) metadata["namespace"] = ns;
    char uid[40];
    ++uids_;
    std::snprintf(uid, sizeof uid, "%08llx-0000-4000-8000-%012llx",
                  static_cast<unsigned long long>(uids_ * 2654435761ULL % 0xffffffffULL),
                  static_cast<unsigned long long>(uids_));
    metadata["uid"] = uid_source_ ? uid_source_() : std::string(uid);
    metadata["generation"] = 1;
    metadata["creationTimestamp"] = Timestamp(clock_);
    metadata.erase("deletionTimestamp");
    stored = Store(resource, key, std::move(created));
  }
  Notify();
  return stored;
}

StatusOr<Json> MemoryKubeClient::Update(const ResourceRef& resource, const std::string& ns,
                                        const Json& object, const std::string& subresource) {
  Json stored;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status failure =
            Injected(subresource.empty() ? "update" : "update/" + subresource, resource);
        !failure.ok())
      return failure;
    if (Status failure = Injected("update", resource); !failure.ok()) return failure;
    ++writes_;
    const std::string name = object["metadata"].value("name", "");
    const std::string key = Key(resource.namespaced ? ns : "", name);
    auto& objects = objects_[resource.resource];
    auto it = objects.find(key);
    if (it == objects.end()) return NotFound(resource, name);
    const Json& current = it->second;
    const std::string sent_version = object["metadata"].value("resourceVersion", "");
    if (!sent_version.empty() && sent_version != current["metadata"].value("resourceVersion", "")) {
      return Status::Conflict("Operation cannot be fulfilled on " + resource.resource + " \"" +
                              name +
                              "\": the object has been modified; please apply your changes to "
                              "the latest version and try again")
          .WithHttpStatus(409);
    }
    Json updated = current;
    if (subresource == "status") {
      updated["status"] = object.value("status", Json());
    } else {
      const Json& meta = object["metadata"];
      const bool deleting = !current["metadata"].value("deletionTimestamp", "").empty();
      Json finalizers = meta.value("finalizers", Json::array());
      if (deleting) {
        for (const Json& f : finalizers) {
          const Json& old = current["metadata"].value("finalizers", Json::array());
          if (std::find(old.begin(), old.end(), f) == old.end()) {
            return Status::Forbidden(
                       "no new finalizers can be added if the object is being "
                       "deleted")
                .WithHttpStatus(422);
          }
        }
      }
      for (const char* field : {"labels", "annotations", "finalizers", "ownerReferences"}) {
        if (meta.contains(field)) {
          updated["metadata"][field] = meta[field];
        } else {
          updated["metadata"].erase(field);
        }
      }
      if (SpecPart(object) != SpecPart(current)) {
        for (auto field = object.begin(); field != object.end(); ++field) {
          if (field.key() != "metadata" && field.key() != "status") updated[field.key()] = *field;
        }
        updated["metadata"]["generation"] = current["metadata"].value("generation", int64_t{1}) + 1;
      }
    }
    stored = Store(resource, key, std::move(updated));
  }
  Notify();
  return stored;
}

StatusOr<Json> MemoryKubeClient::Patch(const ResourceRef& resource, const std::string& ns,
                                       const std::string& name, PatchType type, const Json& patch,
                                       const std::string& subresource) {
  if (type != PatchType::kMerge) {
    return Status::Invalid("MemoryKubeClient supports merge patches only").WithHttpStatus(415);
  }
  StatusOr<Json> current = Get(resource, ns, name);
  if (!current.ok()) return current.status();
  Json patched = MergePatch(*current, patch);
  patched["metadata"]["resourceVersion"] = (*current)["metadata"]["resourceVersion"];
  return Update(resource, ns, patched, subresource);
}

Status MemoryKubeClient::Delete(const ResourceRef& resource, const std::string& ns,
                                const std::string& name, const DeleteOptions& options) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status failure = Injected("delete", resource); !failure.ok()) return failure;
    ++writes_;
    const std::string key = Key(resource.namespaced ? ns : "", name);
    auto& objects = objects_[resource.resource];
    auto it = objects.find(key);
    if (it == objects.end()) return NotFound(resource, name);
    Json object = it->second;
    if (!options.precondition_uid.empty() &&
        options.precondition_uid != object["metadata"].value("uid", "")) {
      return Status::Conflict("Precondition failed: UID in precondition does not match")
          .WithHttpStatus(409);
    }
    if (HasFinalizers(object)) {
      if (object["metadata"].value("deletionTimestamp", "").empty()) {
        object["metadata"]["deletionTimestamp"] = Timestamp(clock_);
        object["metadata"]["generation"] = object["metadata"].value("generation", int64_t{1}) + 1;
        Store(resource, key, std::move(object));
      }
    } else {
      objects.erase(it);
      ++version_;
      pending_.push_back({resource, key});
    }
  }
  Notify();
  return Status::Ok();
}

void MemoryKubeClient::DeleteNamespace(const std::string& ns) {
  std::vector<std::pair<ResourceRef, std::string>> names;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [plural, objects] : objects_) {
      for (const auto& [key, object] : objects) {
        if (object["metadata"].value("namespace", "") == ns) {
          names.emplace_back(resources_[plural], object["metadata"].value("name", ""));
        }
      }
    }
  }
  for (const auto& [resource, name] : names) {
    Status deleted = Delete(resource, ns, name);
    (void)deleted;  // NotFound: it went on its own meanwhile
  }
}

Status MemoryKubeClient::Watch(const ResourceRef& resource, const std::string& ns,
                               const WatchOptions& options, const WatchHandler& handler,
                               Cancellation* cancel) {
  return Status::Invalid("MemoryKubeClient does not stream watches; use OnChange");
}

}  // namespace pygrid::kube
