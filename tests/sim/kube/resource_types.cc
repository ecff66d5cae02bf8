// Discovery document shapes follow k8s.io/apimachinery/pkg/apis/meta/v1 (APIVersions,
// APIGroupList, APIResourceList) as served by kube-apiserver; verbs lists are the real ones.
#include "sim/kube/resource_types.h"

#include <algorithm>
#include <set>

#include "sim/kube/access_reviews.h"

namespace pygrid::sim::kube {

std::string ResourceType::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceType::QualifiedKind() const {
  return group.empty() ? kind : kind + "." + group;
}

std::string ResourceType::QualifiedResource() const {
  return group.empty() ? plural : plural + "." + group;
}

namespace {

std::shared_ptr<ResourceType> Builtin(const std::string& group, const std::string& version,
                                      const std::string& plural, const std::string& singular,
                                      const std::string& kind, bool namespaced, bool status,
                                      std::vector<std::string> short_names) {
  auto t = std::make_shared<ResourceType>();
  t->group = group;
  t->version = version;
  t->plural = plural;
  t->singular = singular;
  t->kind = kind;
  t->list_kind = kind + "List";
  t->namespaced = namespaced;
  t->status_subresource = status;
  t->short_names = std::move(short_names);
  t->storage_key = group + "/" + plural;
  return t;
}

// The scale paths of a CRD version, checked as ValidateCustomResourceDefinitionSubresources
// does (apiextensions-apiserver pkg/apis/apiextensions/validation): simple dotted JSON paths,
// spec replicas under .spec, status replicas under .status, a selector under either.
bool ReadScalePaths(const json& scale, ScalePaths* out, std::string* error) {
  struct Path {
    const char* field;
    std::string* value;
    bool required;
    std::vector<std::string> prefixes;
    const char* under;
  };
  const Path paths[] = {
      {"specReplicasPath", &out->spec_replicas, true, {".spec."}, ".spec"},
      {"statusReplicasPath", &out->status_replicas, true, {".status."}, ".status"},
      {"labelSelectorPath",
       &out->label_selector,
       false,
       {".spec.", ".status."},
       "either .spec or .status"}};
  for (const Path& p : paths) {
    const json value = scale.is_object() ? scale.value(p.field, json()) : json();
    if (!value.is_null() && !value.is_string()) {
      *error = std::string(p.field) + ": Invalid value: must be a string";
      return false;
    }
    *p.value = value.is_string() ? value.get<std::string>() : "";
    if (p.value->empty()) {
      if (!p.required) continue;
      *error = std::string(p.field) + ": Required value";
      return false;
    }
    bool under = false;
    for (const auto& prefix : p.prefixes) under = under || p.value->rfind(prefix, 0) == 0;
    if (!under) {
      *error = std::string(p.field) + ": Invalid value: " + json(*p.value).dump() +
               ": should be a json path under " + p.under;
      return false;
    }
  }
  return true;
}

}  // namespace

Registry::Registry() {
  types_.push_back(Builtin("", "v1", "namespaces", "namespace", "Namespace", false, true, {"ns"}));
  types_.push_back(Builtin("", "v1", "secrets", "secret", "Secret", true, false, {}));
  types_.push_back(Builtin("", "v1", "configmaps", "configmap", "ConfigMap", true, false, {"cm"}));
  types_.push_back(Builtin("", "v1", "events", "event", "Event", true, false, {"ev"}));
  auto ev1 = Builtin("events.k8s.io", "v1", "events", "event", "Event", true, false, {"ev"});
  ev1->events_v1 = true;
  ev1->storage_key = "/events";  // one store, two views, as in kube-apiserver
  types_.push_back(std::move(ev1));
  types_.push_back(
      Builtin("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, false, {}));
  // Stored as written, so that the install manifests (`kubectl apply -k manifests/`) apply;
  // kube-sim runs no controllers for them (no pods, endpoints or cluster IPs).
  types_.push_back(Builtin("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true,
                           false, {"sa"}));
  types_.push_back(Builtin("", "v1", "services", "service", "Service", true, true, {"svc"}));
  types_.push_back(
      Builtin("apps", "v1", "deployments", "deployment", "Deployment", true, true, {"deploy"}));
  for (bool cluster : {false, true}) {
    const std::string prefix = cluster ? "Cluster" : "";
    const std::string lower = cluster ? "cluster" : "";
    types_.push_back(Builtin("rbac.authorization.k8s.io", "v1", lower + "roles", lower + "role",
                             prefix + "Role", !cluster, false, {}));
    types_.push_back(Builtin("rbac.authorization.k8s.io", "v1", lower + "rolebindings",
                             lower + "rolebinding", prefix + "RoleBinding", !cluster, false, {}));
  }
  auto crd =
      Builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
              "CustomResourceDefinition", false, true, {"crd", "crds"});
  crd->categories = {"api-extensions"};
  types_.push_back(std::move(crd));
  for (auto& review : AccessReviewTypes()) types_.push_back(std::move(review));
}

TypePtr Registry::Find(const std::string& group, const std::string& version,
                       const std::string& plural) const {
  for (const auto& t : types_) {
    if (t->group == group && t->version == version && t->plural == plural) return t;
  }
  return nullptr;
}

std::vector<TypePtr> Registry::ByStorageKey(const std::string& key) const {
  std::vector<TypePtr> out;
  for (const auto& t : types_) {
    if (t->storage_key == key) out.push_back(t);
  }
  return out;
}

bool Registry::HasGroupVersion(const std::string& group, const std::string& version) const {
  for (const auto& t : types_) {
    if (t->group == group && t->version == version) return true;
  }
  return false;
}

bool Registry::RegisterCrd(const json& crd, std::string* error) {
  const json& spec = crd.value("spec", json::object());
  const json& names = spec.value("names", json::object());
  std::string group = spec.value("group", "");
  std::string plural = names.value("plural", "");
  std::string kind = names.value("kind", "");
  std::string name = crd["metadata"].value("name", "");
  if (group.empty() || plural.empty() || kind.empty()) {
    *error = "spec.group, spec.names.plural and spec.names.kind are required";
    return false;
  }
  if (name != plural + "." + group) {
    *error = "metadata.name: Invalid value: \"" + name +
             "\": must be spec.names.plural+\".\"+spec.group";
    return false;
  }
  if (!spec.contains("versions") || !spec["versions"].is_array() || spec["versions"].empty()) {
    *error =
        "spec.versions: Invalid value: must have exactly one version marked as storage version";
    return false;
  }
  std::vector<std::optional<ScalePaths>> scales;
  for (size_t i = 0; i < spec["versions"].size(); ++i) {
    const json& v = spec["versions"][i];
    scales.emplace_back();
    if (!v.contains("subresources") || !v["subresources"].is_object() ||
        !v["subresources"].contains("scale")) {
      continue;
    }
    scales.back() = ScalePaths();
    std::string why;
    if (!ReadScalePaths(v["subresources"]["scale"], &*scales.back(), &why)) {
      *error = "spec.versions[" + std::to_string(i) + "].subresources.scale." + why;
      return false;
    }
  }
  UnregisterCrd(name);
  for (size_t i = 0; i < spec["versions"].size(); ++i) {
    const json& v = spec["versions"][i];
    if (!v.value("served", true)) continue;
    auto t = std::make_shared<ResourceType>();
    t->group = group;
    t->version = v.value("name", "");
    t->plural = plural;
    t->singular = names.value("singular", "");
    if (t->singular.empty()) {
      t->singular = kind;
      std::transform(t->singular.begin(), t->singular.end(), t->singular.begin(), ::tolower);
    }
    t->kind = kind;
    t->list_kind = names.value("listKind", kind + "List");
    if (names.contains("shortNames"))
      t->short_names = names["shortNames"].get<std::vector<std::string>>();
    if (names.contains("categories"))
      t->categories = names["categories"].get<std::vector<std::string>>();
    t->namespaced = spec.value("scope", "Namespaced") == "Namespaced";
    t->builtin = false;
    t->status_subresource = v.contains("subresources") && v["subresources"].contains("status");
    t->scale = scales[i];
    t->storage_key = group + "/" + plural;
    t->crd_name = name;
    if (v.contains("schema") && v["schema"].contains("openAPIV3Schema")) {
      t->schema = v["schema"]["openAPIV3Schema"];
    }
    for (const auto& c : v.value("additionalPrinterColumns", json::array())) {
      PrinterColumn col;
      col.name = c.value("name", "");
      col.type = c.value("type", "string");
      col.format = c.value("format", "");
      col.description = c.value("description", "");
      col.json_path = c.value("jsonPath", "");
      col.priority = c.value("priority", 0);
      t->columns.push_back(col);
    }
    types_.push_back(std::move(t));
  }
  return true;
}

void Registry::UnregisterCrd(const std::string& name) {
  types_.erase(std::remove_if(types_.begin(), types_.end(),
                              [&](const auto& t) { return !t->builtin && t->crd_name == name; }),
               types_.end());
}

json Registry::ApiVersions() const {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs",
           {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", "127.0.0.1:443"}}}}};
}

std::vector<std::pair<std::string, std::string>> Registry::GroupVersions() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& t : types_) {
    std::pair<std::string, std::string> gv{t->group, t->version};
    if (std::find(out.begin(), out.end(), gv) == out.end()) out.push_back(gv);
  }
  return out;
}

json Registry::ApiGroupList() const {
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::string>> versions;
  for (const auto& t : types_) {
    if (t->group.empty()) continue;
    if (!versions.count(t->group)) order.push_back(t->group);
    auto& vs = versions[t->group];
    if (std::find(vs.begin(), vs.end(), t->version) == vs.end()) vs.push_back(t->version);
  }
  json groups = json::array();
  for (const auto& g : order) {
    json vlist = json::array();
    for (const auto& v : versions[g])
      vlist.push_back({{"groupVersion", g + "/" + v}, {"version", v}});
    groups.push_back({{"name", g}, {"versions", vlist}, {"preferredVersion", vlist[0]}});
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

std::vector<TypePtr> Registry::TypesOf(const std::string& group, const std::string& version) const {
  std::vector<TypePtr> out;
  for (const auto& t : types_) {
    if (t->group == group && t->version == version) out.push_back(t);
  }
  return out;
}

json Registry::ResourceList(const std::string& group, const std::string& version) const {
  json resources = json::array();
  for (const TypePtr& t : TypesOf(group, version)) {
    json verbs = {"create", "delete", "deletecollection", "get",
                  "list",   "patch",  "update",           "watch"};
    // Namespaces have no deletecollection (their storage does not implement it).
    if (t->builtin && t->kind == "Namespace") verbs.erase(2);
    json r = {{"name", t->plural},
              {"singularName", t->singular},
              {"namespaced", t->namespaced},
              {"kind", t->kind},
              {"verbs", verbs}};
    if (!t->short_names.empty()) r["shortNames"] = t->short_names;
    if (!t->categories.empty()) r["categories"] = t->categories;
    resources.push_back(r);
    if (t->status_subresource) {
      resources.push_back({{"name", t->plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", t->namespaced},
                           {"kind", t->kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
    if (t->scale) {
      // The discovery controller names the Scale's own group and version
      // (apiextensions-apiserver pkg/apiserver/customresource_discovery_controller.go).
      resources.push_back({{"name", t->plural + "/scale"},
                           {"singularName", ""},
                           {"namespaced", t->namespaced},
                           {"group", "autoscaling"},
                           {"version", "v1"},
                           {"kind", "Scale"},
                           {"verbs", {"get", "patch", "update"}}});
    }
  }
  std::string gv = group.empty() ? version : group + "/" + version;
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", gv},
          {"resources", resources}};
}

}  // namespace pygrid::sim::kube
