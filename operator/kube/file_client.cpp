#include "kube/file_client.h"

#include <cstdio>
#include <filesystem>
#include <random>

#include "kube/atomic_file.h"

namespace pygrid::kube {

namespace fs = std::filesystem;

namespace {

constexpr char kStoreFile[] = "store.json";
constexpr size_t kMaxObjectBytes = 8 * 1024 * 1024;

bool IsSecret(const ResourceRef& resource) {
  return resource.group.empty() && resource.resource == "secrets";
}

std::string RandomUid() {
  std::random_device device;
  unsigned char bytes[16];
  for (unsigned char& byte : bytes) byte = static_cast<unsigned char>(device() & 0xff);
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char text[37];
  std::snprintf(text, sizeof text,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
                bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
                bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
  return text;
}

// Parses "plural.version[.group]"; nullopt for any other folder name.
std::optional<ResourceRef> ParseFolderName(const std::string& name) {
  const size_t first = name.find('.');
  if (first == std::string::npos || first == 0) return std::nullopt;
  const size_t second = name.find('.', first + 1);
  ResourceRef resource;
  resource.resource = name.substr(0, first);
  resource.version =
      name.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
  resource.group = second == std::string::npos ? "" : name.substr(second + 1);
  if (resource.version.empty()) return std::nullopt;
  return resource;
}

bool IsObjectFile(const fs::directory_entry& entry) {
  const std::string name = entry.path().filename().string();
  return entry.is_regular_file() && name.size() > 5 && name[0] != '.' &&
         name.compare(name.size() - 5, 5, ".json") == 0;
}

}  // namespace

std::string ResourceFolderName(const ResourceRef& resource) {
  return resource.resource + "." + resource.version +
         (resource.group.empty() ? "" : "." + resource.group);
}

FileKubeClient::FileKubeClient(std::string dir, const Clock& clock, Options options)
    : dir_(std::move(dir)), options_(options), memory_(clock) {
  memory_.SetUidSource(RandomUid);
}

StatusOr<std::unique_ptr<FileKubeClient>> FileKubeClient::Open(const std::string& dir,
                                                               const Clock& clock,
                                                               Options options) {
  if (!options.read_only) {
    if (Status made = MakePrivateDirectories(dir); !made.ok()) return made;
  }
  std::unique_ptr<FileKubeClient> client(new FileKubeClient(dir, clock, options));
  if (Status loaded = client->Load(); !loaded.ok()) return loaded;
  return client;
}

Status FileKubeClient::Load() {
  std::error_code error;
  if (!fs::exists(dir_, error)) {
    return options_.read_only ? Status::Ok() : Status::NotFound(dir_ + " does not exist");
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_, error)) {
    if (!entry.is_directory()) continue;
    std::optional<ResourceRef> resource = ParseFolderName(entry.path().filename().string());
    if (!resource || IsSecret(*resource)) continue;  // not ours; Secrets are never saved
    if (Status loaded = LoadResource(entry.path().string(), *resource); !loaded.ok()) return loaded;
  }
  if (error) return Status::Unavailable("cannot read " + dir_ + ": " + error.message());
  StatusOr<std::string> store = ReadSmallFile(dir_ + "/" + kStoreFile, 4096);
  if (!store.ok() && !store.status().IsNotFound()) return store.status();
  if (store.ok()) {
    const Json parsed = Json::parse(*store, nullptr, false);
    if (!parsed.is_object() || !parsed.value("resourceVersion", Json()).is_number_integer()) {
      return Status::Invalid(dir_ + "/" + kStoreFile + " is not a saved store state");
    }
    memory_.ReserveVersionsThrough(parsed["resourceVersion"].get<int64_t>());
  }
  return Status::Ok();
}

Status FileKubeClient::LoadResource(const std::string& folder, const ResourceRef& resource) {
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, error)) {
    if (IsObjectFile(entry)) {
      ResourceRef cluster_scoped = resource;
      cluster_scoped.namespaced = false;
      if (Status loaded = LoadObject(entry.path().string(), cluster_scoped, ""); !loaded.ok())
        return loaded;
    } else if (entry.is_directory()) {
      const std::string ns = entry.path().filename().string();
      for (const fs::directory_entry& file : fs::directory_iterator(entry.path(), error)) {
        if (!IsObjectFile(file)) continue;
        if (Status loaded = LoadObject(file.path().string(), resource, ns); !loaded.ok())
          return loaded;
      }
    }
  }
  if (error) return Status::Unavailable("cannot read " + folder + ": " + error.message());
  return Status::Ok();
}

Status FileKubeClient::LoadObject(const std::string& path, const ResourceRef& resource,
                                  const std::string& ns) {
  StatusOr<std::string> text = ReadSmallFile(path, kMaxObjectBytes);
  if (!text.ok()) return text.status();
  const Json object = Json::parse(*text, nullptr, false);
  const std::string name = fs::path(path).stem().string();
  if (!object.is_object() || !object.value("metadata", Json()).is_object() ||
      object["metadata"].value("name", "") != name ||
      (resource.namespaced && object["metadata"].value("namespace", "") != ns)) {
    return Status::Invalid(path +
                           " is not a saved object (its name or namespace does not match "
                           "the file's place, or it is not JSON); repair or remove it");
  }
  Status restored = memory_.Restore(resource, object);
  if (!restored.ok()) return Status::Invalid(path + ": " + restored.message());
  return Status::Ok();
}

std::string FileKubeClient::PathOf(const ResourceRef& resource, const std::string& ns,
                                   const std::string& name) const {
  std::string path = dir_ + "/" + ResourceFolderName(resource);
  if (resource.namespaced) path += "/" + ns;
  return path + "/" + name + ".json";
}

Status FileKubeClient::Writable(const ResourceRef& resource, const std::string& ns,
                                const std::string& name) const {
  if (options_.read_only) return Status::Forbidden("the store at " + dir_ + " is open read-only");
  {
    std::lock_guard<std::mutex> lock(save_mu_);
    if (!broken_.ok()) return broken_;
  }
  if (!IsSafeFileName(name) || (resource.namespaced && !IsSafeFileName(ns))) {
    return Status::Invalid("metadata.name and metadata.namespace must be file names here")
        .WithHttpStatus(422);
  }
  return Status::Ok();
}

Status FileKubeClient::Save(const ResourceRef& resource, const std::string& ns,
                            const std::string& name) {
  if (IsSecret(resource)) return Status::Ok();
  std::lock_guard<std::mutex> lock(save_mu_);
  if (!broken_.ok()) return broken_;
  const std::string path = PathOf(resource, ns, name);
  const std::optional<Json> object = memory_.Find(resource, ns, name);
  Status saved;
  if (object) {
    saved = MakePrivateDirectories(fs::path(path).parent_path().string());
    if (saved.ok()) saved = WriteFileAtomically(path, object->dump(2) + "\n", 0600);
  } else {
    // The version counter first: once the file is gone it no longer remembers its version.
    const Json store = {{"resourceVersion", memory_.LatestVersion()}};
    saved = WriteFileAtomically(dir_ + "/" + kStoreFile, store.dump() + "\n", 0600);
    if (saved.ok()) saved = RemoveFileDurably(path);
  }
  if (!saved.ok()) {
    broken_ = Status::Unavailable("cannot save " + path + " (" + saved.message() +
                                  "); the store refuses further writes");
    return broken_;
  }
  return Status::Ok();
}

std::optional<Json> FileKubeClient::Find(const ResourceRef& resource, const std::string& ns,
                                         const std::string& name) const {
  return memory_.Find(resource, ns, name);
}

void FileKubeClient::OnChange(MemoryKubeClient::ChangeCallback callback) {
  memory_.OnChange(std::move(callback));
}

Status FileKubeClient::Restore(const ResourceRef& resource, const Json& object) {
  const Json& metadata = object.value("metadata", Json::object());
  const std::string ns = resource.namespaced ? metadata.value("namespace", "") : "";
  const std::string name = metadata.value("name", "");
  if (Status writable = Writable(resource, ns, name); !writable.ok()) return writable;
  if (Status restored = memory_.Restore(resource, object); !restored.ok()) return restored;
  return Save(resource, ns, name);
}

StatusOr<Json> FileKubeClient::Get(const ResourceRef& resource, const std::string& ns,
                                   const std::string& name) {
  return memory_.Get(resource, ns, name);
}

StatusOr<Json> FileKubeClient::ListPage(const ResourceRef& resource, const std::string& ns,
                                        const ListOptions& options) {
  return memory_.ListPage(resource, ns, options);
}

StatusOr<Json> FileKubeClient::Create(const ResourceRef& resource, const std::string& ns,
                                      const Json& object) {
  const std::string name = object.value("metadata", Json::object()).value("name", "");
  if (Status writable = Writable(resource, ns, name); !writable.ok()) return writable;
  StatusOr<Json> created = memory_.Create(resource, ns, object);
  if (!created.ok()) return created;
  if (Status saved = Save(resource, ns, name); !saved.ok()) return saved;
  return created;
}

StatusOr<Json> FileKubeClient::Update(const ResourceRef& resource, const std::string& ns,
                                      const Json& object, const std::string& subresource) {
  const std::string name = object.value("metadata", Json::object()).value("name", "");
  if (Status writable = Writable(resource, ns, name); !writable.ok()) return writable;
  StatusOr<Json> updated = memory_.Update(resource, ns, object, subresource);
  if (!updated.ok()) return updated;
  if (Status saved = Save(resource, ns, name); !saved.ok()) return saved;
  return updated;
}

StatusOr<Json> FileKubeClient::Patch(const ResourceRef& resource, const std::string& ns,
                                     const std::string& name, PatchType type, const Json& patch,
                                     const std::string& subresource) {
  if (Status writable = Writable(resource, ns, name); !writable.ok()) return writable;
  StatusOr<Json> patched = memory_.Patch(resource, ns, name, type, patch, subresource);
  if (!patched.ok()) return patched;
  if (Status saved = Save(resource, ns, name); !saved.ok()) return saved;
  return patched;
}

Status FileKubeClient::Delete(const ResourceRef& resource, const std::string& ns,
                              const std::string& name, const DeleteOptions& options) {
  if (Status writable = Writable(resource, ns, name); !writable.ok()) return writable;
  if (Status deleted = memory_.Delete(resource, ns, name, options); !deleted.ok()) return deleted;
  return Save(resource, ns, name);
}

Status FileKubeClient::Watch(const ResourceRef& resource, const std::string& ns,
                             const WatchOptions& options, const WatchHandler& handler,
                             Cancellation* cancel) {
  return memory_.Watch(resource, ns, options, handler, cancel);
}

}  // namespace pygrid::kube
