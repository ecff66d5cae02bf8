// Go types from k8s.io/api (core/v1 Secret, ConfigMap, Namespace, Event, ObjectReference,
// EventSource; coordination/v1 LeaseSpec; events/v1 Event; autoscaling/v1 Scale),
// k8s.io/apimachinery meta/v1 (ObjectMeta, OwnerReference, ManagedFieldsEntry, DeleteOptions,
// Preconditions) and apiextensions/v1 (CustomResourceDefinition*). Error text from encoding/json's
// UnmarshalTypeError ("json: cannot unmarshal <value> into Go struct field <Struct>.<path> of
// type <type>"; <Struct> is the innermost struct, <path> the JSON field names from the top).
#include "sim/kube/decode.h"

#include <cstdint>
#include <limits>
#include <map>
#include <vector>

namespace pygrid::sim::kube {

namespace {

// A field type: "string", "bool", "int64", "int32", "time" (metav1.Time/MicroTime: a string),
// "uid" (types.UID), "raw" (any JSON), "map" (map[string]string), "bytes" (map[string][]byte),
// "strings" ([]string), "struct:<Name>" or "structs:<Name>" (a slice of them).
struct GoField {
  const char* json;
  const char* type;
};

struct GoStruct {
  const char* go_name;  // as %T prints it, e.g. "v1.ObjectMeta"
  std::vector<GoField> fields;
};

const std::map<std::string, GoStruct>& Structs() {
  static const std::map<std::string, GoStruct> s = {
      {"ObjectMeta",
       {"v1.ObjectMeta",
        {{"name", "string"},
         {"generateName", "string"},
         {"namespace", "string"},
         {"selfLink", "string"},
         {"uid", "uid"},
         {"resourceVersion", "string"},
         {"generation", "int64"},
         {"creationTimestamp", "time"},
         {"deletionTimestamp", "time"},
         {"deletionGracePeriodSeconds", "int64"},
         {"labels", "map"},
         {"annotations", "map"},
         {"ownerReferences", "structs:OwnerReference"},
         {"finalizers", "strings"},
         {"managedFields", "structs:ManagedFieldsEntry"}}}},
      {"OwnerReference",
       {"v1.OwnerReference",
        {{"apiVersion", "string"},
         {"kind", "string"},
         {"name", "string"},
         {"uid", "uid"},
         {"controller", "bool"},
         {"blockOwnerDeletion", "bool"}}}},
      {"ManagedFieldsEntry",
       {"v1.ManagedFieldsEntry",
        {{"manager", "string"},
         {"operation", "string"},
         {"apiVersion", "string"},
         {"time", "time"},
         {"fieldsType", "string"},
         {"fieldsV1", "raw"},
         {"subresource", "string"}}}},
      {"ObjectReference",
       {"v1.ObjectReference",
        {{"kind", "string"},
         {"namespace", "string"},
         {"name", "string"},
         {"uid", "uid"},
         {"apiVersion", "string"},
         {"resourceVersion", "string"},
         {"fieldPath", "string"}}}},
      {"EventSource", {"v1.EventSource", {{"component", "string"}, {"host", "string"}}}},
      {"NamespaceSpec", {"v1.NamespaceSpec", {{"finalizers", "strings"}}}},
      {"NamespaceStatus", {"v1.NamespaceStatus", {{"phase", "string"}, {"conditions", "raw"}}}},
      {"LeaseSpec",
       {"v1.LeaseSpec",
        {{"holderIdentity", "string"},
         {"leaseDurationSeconds", "int32"},
         {"acquireTime", "time"},
         {"renewTime", "time"},
         {"leaseTransitions", "int32"},
         {"strategy", "string"},
         {"preferredHolder", "string"}}}},
      {"CustomResourceDefinitionSpec",
       {"v1.CustomResourceDefinitionSpec",
        {{"group", "string"},
         {"names", "struct:CustomResourceDefinitionNames"},
         {"scope", "string"},
         {"versions", "structs:CustomResourceDefinitionVersion"},
         {"conversion", "raw"},
         {"preserveUnknownFields", "bool"}}}},
      {"CustomResourceDefinitionNames",
       {"v1.CustomResourceDefinitionNames",
        {{"plural", "string"},
         {"singular", "string"},
         {"kind", "string"},
         {"listKind", "string"},
         {"shortNames", "strings"},
         {"categories", "strings"}}}},
      {"CustomResourceDefinitionVersion",
       {"v1.CustomResourceDefinitionVersion",
        {{"name", "string"},
         {"served", "bool"},
         {"storage", "bool"},
         {"deprecated", "bool"},
         {"deprecationWarning", "string"},
         {"schema", "struct:CustomResourceValidation"},
         {"subresources", "raw"},
         {"additionalPrinterColumns", "structs:CustomResourceColumnDefinition"},
         {"selectableFields", "raw"}}}},
      {"CustomResourceValidation", {"v1.CustomResourceValidation", {{"openAPIV3Schema", "raw"}}}},
      {"CustomResourceColumnDefinition",
       {"v1.CustomResourceColumnDefinition",
        {{"name", "string"},
         {"type", "string"},
         {"format", "string"},
         {"description", "string"},
         {"priority", "int32"},
         {"jsonPath", "string"}}}},
      {"Preconditions", {"v1.Preconditions", {{"uid", "uid"}, {"resourceVersion", "string"}}}},
      // Top-level kinds; "metadata" and the TypeMeta strings first.
      {"Secret",
       {"v1.Secret",
        {{"metadata", "struct:ObjectMeta"},
         {"type", "string"},
         {"data", "bytes"},
         {"stringData", "map"},
         {"immutable", "bool"}}}},
      {"ConfigMap",
       {"v1.ConfigMap",
        {{"metadata", "struct:ObjectMeta"},
         {"data", "map"},
         {"binaryData", "bytes"},
         {"immutable", "bool"}}}},
      {"Namespace",
       {"v1.Namespace",
        {{"metadata", "struct:ObjectMeta"},
         {"spec", "struct:NamespaceSpec"},
         {"status", "struct:NamespaceStatus"}}}},
      {"Lease", {"v1.Lease", {{"metadata", "struct:ObjectMeta"}, {"spec", "struct:LeaseSpec"}}}},
      {"Event",
       {"v1.Event",
        {{"metadata", "struct:ObjectMeta"},
         {"involvedObject", "struct:ObjectReference"},
         {"reason", "string"},
         {"message", "string"},
         {"source", "struct:EventSource"},
         {"firstTimestamp", "time"},
         {"lastTimestamp", "time"},
         {"count", "int32"},
         {"type", "string"},
         {"eventTime", "time"},
         {"series", "raw"},
         {"action", "string"},
         {"related", "struct:ObjectReference"},
         {"reportingComponent", "string"},
         {"reportingInstance", "string"}}}},
      {"events.k8s.io/Event",
       {"v1.Event",
        {{"metadata", "struct:ObjectMeta"},
         {"eventTime", "time"},
         {"series", "raw"},
         {"reportingController", "string"},
         {"reportingInstance", "string"},
         {"action", "string"},
         {"reason", "string"},
         {"regarding", "struct:ObjectReference"},
         {"related", "struct:ObjectReference"},
         {"note", "string"},
         {"type", "string"},
         {"deprecatedSource", "struct:EventSource"},
         {"deprecatedFirstTimestamp", "time"},
         {"deprecatedLastTimestamp", "time"},
         {"deprecatedCount", "int32"}}}},
      {"CustomResourceDefinition",
       {"v1.CustomResourceDefinition",
        {{"metadata", "struct:ObjectMeta"},
         {"spec", "struct:CustomResourceDefinitionSpec"},
         {"status", "raw"}}}},
      {"DeleteOptions",
       {"v1.DeleteOptions",
        {{"gracePeriodSeconds", "int64"},
         {"preconditions", "struct:Preconditions"},
         {"orphanDependents", "bool"},
         {"propagationPolicy", "string"},
         {"dryRun", "strings"}}}},
      // autoscaling/v1, the body of a custom resource's /scale subresource.
      {"Scale",
       {"v1.Scale",
        {{"metadata", "struct:ObjectMeta"},
         {"spec", "struct:ScaleSpec"},
         {"status", "struct:ScaleStatus"}}}},
      {"ScaleSpec", {"v1.ScaleSpec", {{"replicas", "int32"}}}},
      {"ScaleStatus", {"v1.ScaleStatus", {{"replicas", "int32"}, {"selector", "string"}}}},
      // Kinds kube-sim stores as written: only their metadata is read.
      {"Other", {"", {{"metadata", "struct:ObjectMeta"}}}},
  };
  return s;
}

// The JSON type as encoding/json names the value in its errors.
std::string What(const json& v) {
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "bool";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "number";
}

std::string GoTypeName(const std::string& type) {
  if (type == "uid") return "types.UID";
  if (type == "map") return "map[string]string";
  if (type == "bytes") return "map[string][]uint8";
  if (type == "strings") return "[]string";
  if (type == "time") return "string";
  if (type.rfind("struct:", 0) == 0) return Structs().at(type.substr(7)).go_name;
  if (type.rfind("structs:", 0) == 0)
    return "[]" + std::string(Structs().at(type.substr(8)).go_name);
  return type;
}

class Decoder {
 public:
  // CR metadata: drop what does not decode instead of failing.
  explicit Decoder(bool drop_malformed_metadata) : drop_(drop_malformed_metadata) {}

  bool Struct(const std::string& name, const std::string& struct_name, const std::string& path,
              json* v) {
    const GoStruct& s = Structs().at(name);
    const bool meta = name == "ObjectMeta";
    for (auto it = v->begin(); it != v->end();) {
      const GoField* field = nullptr;
      for (const auto& f : s.fields) {
        if (it.key() == f.json) field = &f;
      }
      if (field == nullptr && path.empty() && (it.key() == "apiVersion" || it.key() == "kind")) {
        ++it;  // TypeMeta, checked by DecodeRequestObject
        continue;
      }
      if (field == nullptr) {
        // encoding/json ignores unknown fields; ObjectMeta is rebuilt from known ones, so
        // unknown metadata fields are gone after decoding (other kinds keep them in kube-sim).
        it = meta ? v->erase(it) : std::next(it);
        continue;
      }
      const std::string child = path.empty() ? field->json : path + "." + field->json;
      if (it.value().is_null()) {
        it = v->erase(it);  // null leaves a Go field at its zero value
        continue;
      }
      if (!Value(field->type, struct_name, child, &it.value())) {
        if (meta && drop_) {
          error_.clear();
          it = v->erase(it);
          continue;
        }
        return false;
      }
      ++it;
    }
    return true;
  }

  bool Value(const std::string& type, const std::string& struct_name, const std::string& path,
             json* v) {
    if (type == "raw") return true;
    if (type == "string" || type == "uid" || type == "time") {
      return v->is_string() || Fail(What(*v), struct_name, path, GoTypeName(type));
    }
    if (type == "bool") return v->is_boolean() || Fail(What(*v), struct_name, path, "bool");
    if (type == "int64" || type == "int32") {
      if (!v->is_number()) return Fail(What(*v), struct_name, path, type);
      const int64_t lo = type == "int32" ? std::numeric_limits<int32_t>::min()
                                         : std::numeric_limits<int64_t>::min();
      const int64_t hi = type == "int32" ? std::numeric_limits<int32_t>::max()
                                         : std::numeric_limits<int64_t>::max();
      const bool fits =
          (v->is_number_integer() && v->get<int64_t>() >= lo && v->get<int64_t>() <= hi) ||
          (v->is_number_unsigned() && v->get<uint64_t>() <= static_cast<uint64_t>(hi));
      return fits || Fail("number " + v->dump(), struct_name, path, type);
    }
    if (type == "map" || type == "bytes") {
      if (!v->is_object()) return Fail(What(*v), struct_name, path, GoTypeName(type));
      for (auto& [k, elem] : v->items()) {
        if (elem.is_null()) {
          if (type == "map") elem = "";
          continue;
        }
        if (!elem.is_string()) {
          return Fail(What(elem), struct_name, path, type == "map" ? "string" : "[]uint8");
        }
      }
      return true;
    }
    if (type == "strings") {
      if (!v->is_array()) return Fail(What(*v), struct_name, path, "[]string");
      for (auto& elem : *v) {
        if (elem.is_null()) elem = "";
        if (!elem.is_string()) return Fail(What(elem), struct_name, path, "string");
      }
      return true;
    }
    const bool slice = type.rfind("structs:", 0) == 0;
    const std::string name = type.substr(slice ? 8 : 7);
    const std::string go = Structs().at(name).go_name;
    const std::string inner = go.substr(go.find('.') + 1);
    if (slice) {
      if (!v->is_array()) return Fail(What(*v), struct_name, path, GoTypeName(type));
      for (auto& elem : *v) {
        if (elem.is_null()) elem = json::object();
        if (!elem.is_object()) return Fail(What(elem), struct_name, path, go);
        if (!Struct(name, inner, path, &elem)) return false;
      }
      return true;
    }
    if (!v->is_object()) return Fail(What(*v), struct_name, path, go);
    return Struct(name, inner, path, v);
  }

  bool Fail(const std::string& what, const std::string& struct_name, const std::string& path,
            const std::string& go_type) {
    error_ = "json: cannot unmarshal " + what + " into Go struct field " + struct_name + "." +
             path + " of type " + go_type;
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  bool drop_;
  std::string error_;
};

std::string StructFor(const ResourceType& t) {
  if (t.events_v1) return "events.k8s.io/Event";
  if (Structs().count(t.kind) && t.builtin) return t.kind;
  return "Other";
}

// The serializer reads apiVersion/kind first (runtime.SimpleMetaFactory.Interpret); a null
// one is unset.
bool DecodeTypeMeta(json* obj, std::string* error) {
  for (const char* k : {"apiVersion", "kind"}) {
    if (obj->contains(k) && !(*obj)[k].is_string() && !(*obj)[k].is_null()) {
      *error = std::string("couldn't get version/kind; json parse error: json: cannot unmarshal ") +
               What((*obj)[k]) + " into Go struct field ." + k + " of type string";
      return false;
    }
  }
  for (const char* k : {"apiVersion", "kind"}) {
    if (obj->contains(k) && (*obj)[k].is_null()) obj->erase(k);
  }
  return true;
}

}  // namespace

bool DecodeRequestObject(const ResourceType& type, json* obj, std::string* error) {
  if (!DecodeTypeMeta(obj, error)) return false;
  if (!type.builtin) {
    // Unstructured: only metadata is decoded, dropping malformed fields.
    if (!obj->contains("metadata") || (*obj)["metadata"].is_null()) {
      obj->erase("metadata");
      return true;
    }
    json& meta = (*obj)["metadata"];
    if (!meta.is_object()) {
      const char* go = meta.is_string()    ? "string"
                       : meta.is_boolean() ? "bool"
                       : meta.is_array()   ? "[]interface {}"
                                           : "float64";
      *error = std::string("invalid metadata: expected object, got ") + go;
      return false;
    }
    Decoder d(true);
    d.Struct("ObjectMeta", "ObjectMeta", "metadata", &meta);
    return true;
  }
  const std::string name = StructFor(type);
  const std::string go = Structs().at(name).go_name;
  const std::string top = name == "Other" ? type.kind : go.substr(go.find('.') + 1);
  Decoder d(false);
  if (!d.Struct(name, top, "", obj)) {
    *error = d.error();
    return false;
  }
  return true;
}

bool DecodeScale(json* scale, std::string* error) {
  if (!scale->is_object()) {
    *error = "json: cannot unmarshal " + What(*scale) + " into Go value of type v1.Scale";
    return false;
  }
  if (!DecodeTypeMeta(scale, error)) return false;
  Decoder d(false);
  if (!d.Struct("Scale", "Scale", "", scale)) {
    *error = d.error();
    return false;
  }
  return true;
}

bool DecodeDeleteOptions(json* options, std::string* error) {
  if (!options->is_object()) {
    *error = "json: cannot unmarshal " + What(*options) + " into Go value of type v1.DeleteOptions";
    return false;
  }
  Decoder d(false);
  if (!d.Struct("DeleteOptions", "DeleteOptions", "", options)) {
    *error = d.error();
    return false;
  }
  return true;
}

}  // namespace pygrid::sim::kube
