// Merge patch: RFC 7386. JSON patch: RFC 6902 (nlohmann::json::patch implements both the
// operations and the "test" semantics). Strategic merge: k8s.io/apimachinery/pkg/util/
// strategicpatch (directives $patch, $retainKeys, $setElementOrder/<list>,
// $deleteFromPrimitiveList/<list>) with merge keys taken from k8s.io/api struct tags.
#include "sim/kube/patch.h"

#include <algorithm>
#include <set>

namespace pygrid::sim::kube {

json ApplyMergePatch(const json& target, const json& patch) {
  json out = target;
  out.merge_patch(patch);
  return out;
}

bool ApplyJsonPatch(const json& target, const json& patch, json* out, std::string* error) {
  if (!patch.is_array()) {
    *error = "json: cannot unmarshal object into Go value of type jsonpatch.Patch";
    return false;
  }
  json result = target;
  try {
    for (const json& op : patch) {
      // nlohmann::json::patch asserts (aborting a debug build) when an operation writes below
      // a scalar, e.g. "add" at "/x" once the document is a number, and ignores "remove"
      // there; the real server's evanphx/json-patch refuses both. So each operation's parent
      // is checked before nlohmann applies it.
      if (op.is_object() && op.contains("path") && op["path"].is_string()) {
        const json::json_pointer ptr(op["path"].get<std::string>());
        if (!ptr.empty()) {
          const json::json_pointer parent = ptr.parent_pointer();
          if (result.contains(parent) && result.at(parent).is_primitive() &&
              !result.at(parent).is_null()) {
            const std::string name = op.contains("op") && op["op"].is_string()
                                         ? op["op"].get<std::string>()
                                         : std::string("patch");
            *error = name + " operation does not apply: doc is missing path: \"" +
                     op["path"].get<std::string>() + "\": missing value";
            return false;
          }
        }
      }
      result = result.patch(json::array({op}));
    }
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
  *out = std::move(result);
  return true;
}

namespace {

// The merge key of a list field with patchStrategy=merge in the built-in types, or "" when the
// list is atomic; "$set" marks a list of primitives merged as a set.
std::string MergeKeyFor(const std::string& key) {
  if (key == "finalizers") return "$set";
  if (key == "ownerReferences") return "uid";
  if (key == "conditions") return "type";
  return "";
}

bool MergeObject(json* target, const json& patch, std::string* error);

bool MergeList(json* target, const json& patch, const std::string& merge_key, std::string* error) {
  if (!target->is_array()) *target = json::array();
  if (merge_key == "$set") {
    for (const auto& v : patch) {
      if (std::find(target->begin(), target->end(), v) == target->end()) target->push_back(v);
    }
    return true;
  }
  for (const auto& item : patch) {
    if (!item.is_object() || !item.contains(merge_key)) {
      target->push_back(item);
      continue;
    }
    auto it = std::find_if(target->begin(), target->end(), [&](const json& t) {
      return t.is_object() && t.contains(merge_key) && t[merge_key] == item[merge_key];
    });
    if (item.value("$patch", "") == "delete") {
      if (it != target->end()) target->erase(it);
      continue;
    }
    if (it == target->end()) {
      json clean = item;
      clean.erase("$patch");
      target->push_back(clean);
    } else if (!MergeObject(&*it, item, error)) {
      return false;
    }
  }
  return true;
}

bool MergeObject(json* target, const json& patch, std::string* error) {
  if (!patch.is_object()) {
    *target = patch;
    return true;
  }
  if (!target->is_object()) *target = json::object();
  std::string directive = patch.value("$patch", "");
  if (directive == "replace") {
    json clean = patch;
    clean.erase("$patch");
    *target = clean;
    return true;
  }
  if (directive == "delete") {
    *target = json::object();
    return true;
  }
  if (patch.contains("$retainKeys") && patch["$retainKeys"].is_array()) {
    std::set<std::string> keep;
    for (const auto& k : patch["$retainKeys"]) keep.insert(k.get<std::string>());
    for (auto it = target->begin(); it != target->end();) {
      if (!keep.count(it.key())) {
        it = target->erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& key = it.key();
    if (key == "$patch" || key == "$retainKeys" || key.rfind("$setElementOrder/", 0) == 0) {
      continue;
    }
    if (key.rfind("$deleteFromPrimitiveList/", 0) == 0) {
      std::string list = key.substr(std::string("$deleteFromPrimitiveList/").size());
      if (target->contains(list) && (*target)[list].is_array()) {
        json& arr = (*target)[list];
        for (const auto& v : it.value()) {
          arr.erase(std::remove(arr.begin(), arr.end(), v), arr.end());
        }
      }
      continue;
    }
    if (it.value().is_null()) {
      target->erase(key);
    } else if (it.value().is_object()) {
      json& child = (*target)[key];
      if (!MergeObject(&child, it.value(), error)) return false;
    } else if (it.value().is_array() && !MergeKeyFor(key).empty()) {
      if (!MergeList(&(*target)[key], it.value(), MergeKeyFor(key), error)) return false;
    } else {
      (*target)[key] = it.value();
    }
  }
  return true;
}

const std::set<std::string>& ServerOwnedMetadata() {
  static const std::set<std::string> keys = {"name",
                                             "namespace",
                                             "uid",
                                             "resourceVersion",
                                             "generation",
                                             "selfLink",
                                             "creationTimestamp",
                                             "managedFields",
                                             "deletionTimestamp",
                                             "generateName",
                                             "deletionGracePeriodSeconds"};
  return keys;
}

void Leaves(const json& v, FieldPath* prefix, std::vector<FieldPath>* out) {
  if (v.is_object() && !v.empty()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (prefix->size() == 1 && (*prefix)[0] == "metadata" &&
          ServerOwnedMetadata().count(it.key())) {
        continue;
      }
      if (prefix->empty() && (it.key() == "apiVersion" || it.key() == "kind")) continue;
      prefix->push_back(it.key());
      Leaves(it.value(), prefix, out);
      prefix->pop_back();
    }
    return;
  }
  if (!prefix->empty()) out->push_back(*prefix);
}

}  // namespace

bool ApplyStrategicMergePatch(const json& target, const json& patch, json* out,
                              std::string* error) {
  *out = target;
  return MergeObject(out, patch, error);
}

std::vector<FieldPath> LeafPaths(const json& value) {
  std::vector<FieldPath> out;
  FieldPath prefix;
  Leaves(value, &prefix, &out);
  return out;
}

std::vector<FieldPath> ChangedPaths(const json& before, const json& after) {
  std::vector<FieldPath> out;
  for (const auto& p : LeafPaths(after)) {
    if (ValueAt(before, p) != ValueAt(after, p)) out.push_back(p);
  }
  return out;
}

json ToFieldsV1(const std::vector<FieldPath>& paths) {
  json root = json::object();
  for (const auto& p : paths) {
    json* cur = &root;
    for (const auto& k : p) {
      json& next = (*cur)["f:" + k];
      if (next.is_null()) next = json::object();
      cur = &next;
    }
  }
  return root;
}

std::vector<FieldPath> FromFieldsV1(const json& fields) {
  std::vector<FieldPath> out;
  std::vector<std::pair<FieldPath, const json*>> stack = {{{}, &fields}};
  while (!stack.empty()) {
    auto [path, node] = stack.back();
    stack.pop_back();
    if (!node->is_object()) continue;
    bool child = false;
    for (auto it = node->begin(); it != node->end(); ++it) {
      if (it.key().rfind("f:", 0) != 0) continue;
      child = true;
      FieldPath p = path;
      p.push_back(it.key().substr(2));
      stack.push_back({p, &it.value()});
    }
    if (!child && !path.empty()) out.push_back(path);
  }
  return out;
}

std::string PathString(const FieldPath& path) {
  std::string s;
  for (const auto& k : path) s += "." + k;
  return s;
}

json ValueAt(const json& object, const FieldPath& path) {
  const json* cur = &object;
  for (const auto& k : path) {
    if (!cur->is_object() || !cur->contains(k)) return nullptr;
    cur = &(*cur)[k];
  }
  return *cur;
}

void RemoveAt(json* object, const FieldPath& path) {
  json* cur = object;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    if (!cur->is_object() || !cur->contains(path[i])) return;
    cur = &(*cur)[path[i]];
  }
  if (cur->is_object() && !path.empty()) cur->erase(path.back());
}

void SetAt(json* object, const FieldPath& path, const json& value) {
  json* cur = object;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    if (!cur->is_object()) *cur = json::object();
    cur = &(*cur)[path[i]];
  }
  if (!cur->is_object()) *cur = json::object();
  (*cur)[path.back()] = value;
}

std::string ConflictManager(const json& entry, const std::string& api_version) {
  std::string who = json(entry.value("manager", "")).dump();
  const std::string subresource = entry.value("subresource", "");
  if (!subresource.empty()) who += " with subresource " + json(subresource).dump();
  if (entry.value("operation", "") == "Update") who += " using " + api_version;
  return who;
}

}  // namespace pygrid::sim::kube
