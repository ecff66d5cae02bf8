// The resource types kube-sim serves: the built-ins (namespaces, secrets, configmaps, events in
// core/v1 and events.k8s.io/v1, leases, customresourcedefinitions) plus one per served version
// of every established CRD, and the discovery documents built from them. Not thread-safe: the
// API server calls it under its state lock.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/kube/util.h"

namespace pygrid::sim::kube {

// One additionalPrinterColumns entry (apiextensions.k8s.io/v1 CustomResourceColumnDefinition).
struct PrinterColumn {
  std::string name, type, format, description, json_path;
  int priority = 0;
};

// A CRD version's subresources.scale (apiextensions.k8s.io/v1 CustomResourceSubresourceScale):
// JSON paths such as ".spec.replicas"; label_selector is empty when the CRD sets none.
struct ScalePaths {
  std::string spec_replicas, status_replicas, label_selector;
};

// A served group/version/resource and how the server treats it.
struct ResourceType {
  std::string group;  // "" for core
  std::string version;
  std::string plural, singular, kind, list_kind;
  std::vector<std::string> short_names, categories;
  bool namespaced = true;
  bool builtin = true;  // strategic merge patch allowed; no structural schema
  bool status_subresource = false;
  bool events_v1 = false;   // events.k8s.io/v1 view of the core/v1 event store
  std::string storage_key;  // objects of types with the same key share storage
  std::string crd_name;     // owning CRD for custom resources
  json schema;              // openAPIV3Schema of a custom resource version
  std::vector<PrinterColumn> columns;
  // Set when a custom resource version serves /scale.
  std::optional<ScalePaths> scale;

  // "v1" or "group/version".
  std::string ApiVersion() const;
  // "<kind>.<group>" as Status details and messages name it (just kind for core).
  std::string QualifiedKind() const;
  // "<plural>.<group>" as NotFound messages name it (just plural for core).
  std::string QualifiedResource() const;
};

// Types are shared and immutable once registered: a request keeps its type alive even if the
// CRD is replaced meanwhile.
using TypePtr = std::shared_ptr<const ResourceType>;

// The set of served types and discovery documents built from it.
class Registry {
 public:
  Registry();  // the built-ins

  // The type for group/version/plural, or nullptr.
  TypePtr Find(const std::string& group, const std::string& version,
               const std::string& plural) const;
  // Every type sharing `storage_key` (to fan out watch events and CRD deletion).
  std::vector<TypePtr> ByStorageKey(const std::string& storage_key) const;
  // True when group/version is served.
  bool HasGroupVersion(const std::string& group, const std::string& version) const;

  // Registers (or replaces) the types of a CRD object; returns false with `error` when the CRD
  // spec is unusable (the caller then rejects the write with 422).
  bool RegisterCrd(const json& crd, std::string* error);
  // Removes the types of CRD `name`.
  void UnregisterCrd(const std::string& name);

  // /api: APIVersions.
  json ApiVersions() const;
  // /apis: APIGroupList.
  json ApiGroupList() const;
  // /apis/<g>/<v> or /api/v1: APIResourceList.
  json ResourceList(const std::string& group, const std::string& version) const;
  // Sorted "group/version" pairs that are served (for /openapi/v3).
  std::vector<std::pair<std::string, std::string>> GroupVersions() const;
  // Every type of group/version.
  std::vector<TypePtr> TypesOf(const std::string& group, const std::string& version) const;

 private:
  std::vector<TypePtr> types_;
};

}  // namespace pygrid::sim::kube
