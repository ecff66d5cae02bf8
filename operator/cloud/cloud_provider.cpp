#include "cloud/cloud_provider.h"

namespace pygrid::cloud {

bool IsAmbiguousCreateFailure(const Status& status) {
  if (status.ok()) return false;
  if (status.IsTimeout()) return true;
  // Unavailable covers both "no answer" (connection reset, lost response) and 5xx answers.
  return status.IsUnavailable();
}

StatusOr<std::optional<Instance>> CloudProvider::FindInstanceByName(const std::string& name) {
  StatusOr<std::vector<Instance>> all = ListInstances();
  if (!all.ok()) return all.status();
  std::optional<Instance> found;
  for (Instance& instance : *all) {
    if (instance.name != name) continue;
    if (found) {
      return Status::Invalid("several instances are named " + name +
                             "; refusing to pick one (ids " + found->id + ", " + instance.id + ")");
    }
    found = std::move(instance);
  }
  return found;
}

StatusOr<Image> CloudProvider::FindImage(const std::string& key) {
  StatusOr<std::vector<Image>> all = ListImages();
  if (!all.ok()) return all.status();
  for (const Image& image : *all) {
    if (image.id == key) return image;
  }
  for (const Image& image : *all) {
    if (image.slug && *image.slug == key) return image;
  }
  for (const Image& image : *all) {
    if (image.name == key) return image;
  }
  return Status::NotFound("no image with id, slug or name \"" + key + "\"");
}

StatusOr<std::vector<SshKey>> CloudProvider::FindSshKeysByName(
    const std::vector<std::string>& names) {
  if (names.empty()) return std::vector<SshKey>{};
  StatusOr<std::vector<SshKey>> all = ListSshKeys();
  if (!all.ok()) return all.status();
  std::vector<SshKey> out;
  for (const std::string& name : names) {
    const SshKey* match = nullptr;
    for (const SshKey& key : *all) {
      if (key.name == name) {
        match = &key;
        break;
      }
    }
    if (match == nullptr) return Status::NotFound("no SSH key named \"" + name + "\"");
    out.push_back(*match);
  }
  return out;
}

}  // namespace pygrid::cloud
