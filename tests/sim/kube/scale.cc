// The /scale subresource of custom resources. Sources: apiextensions-apiserver
// pkg/registry/customresource/etcd.go (ScaleREST: GET answers the Scale or an InternalError when
// the spec path is empty; a write goes through the resource's own store with the Scale's
// replicas set at the spec path and its resourceVersion, when given, as the precondition; a
// patch of a resource whose spec path is empty must set replicas), validator.go
// (ValidateScaleSpec/ValidateScaleStatus on every write), pkg/apiserver/customresource_handler.go
// (serveScale: get, update and patch, anything else MethodNotSupported; the same patch types as
// the resource: no strategic merge), and k8s.io/apimachinery unstructured helpers (NestedInt64,
// SetNestedField: their error texts).
#include "sim/kube/scale.h"

#include <algorithm>
#include <limits>

#include "sim/kube/api_server.h"
#include "sim/kube/decode.h"
#include "sim/kube/patch.h"
#include "sim/kube/table.h"

namespace pygrid::sim::kube {

namespace {

// What UpdatedObject puts in an old Scale whose spec path is empty: a patch must replace it.
constexpr int64_t kMissingReplicas = std::numeric_limits<int32_t>::min();

// A decoded Scale's spec.replicas (0 when unset, as the Go field's zero value).
int64_t SpecReplicasOf(const json& scale) {
  auto spec = scale.find("spec");
  if (spec == scale.end() || !spec->is_object()) return 0;
  auto replicas = spec->find("replicas");
  return replicas == spec->end() ? 0 : replicas->get<int64_t>();
}

// splitReplicasPath: the leading period dropped, then split on periods.
std::vector<std::string> Fields(const std::string& path) {
  const std::string p = path.rfind('.', 0) == 0 ? path.substr(1) : path;
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t dot = p.find('.', start);
    out.push_back(p.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

// unstructured's jsonPath of the first `n` fields (".spec.replicas").
std::string JsonPathOf(const std::vector<std::string>& fields, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += "." + fields[i];
  return out;
}

bool BeyondInt64(const json& v) {
  return v.is_number_unsigned() &&
         v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

// %T of a value as unstructured holds it after decoding JSON.
std::string GoType(const json& v) {
  if (v.is_null()) return "<nil>";
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "bool";
  if (v.is_number_float() || BeyondInt64(v)) return "float64";
  if (v.is_number()) return "int64";
  if (v.is_array()) return "[]interface {}";
  return "map[string]interface {}";
}

// %v of such a value; composite values are shown as JSON (Go prints map[...] and [...]).
std::string GoValue(const json& v) {
  if (v.is_null()) return "<nil>";
  if (v.is_string()) return v.get<std::string>();
  return DumpJson(v);
}

std::string AccessorError(const std::vector<std::string>& fields, size_t n, const json& v,
                          const char* expected) {
  return JsonPathOf(fields, n) + " accessor error: " + GoValue(v) + " is of the type " + GoType(v) +
         ", expected " + expected;
}

// NestedFieldNoCopy: `*out` is the value at `fields` or nullptr when absent (a null on the way
// counts as absent, a null at the end is a value).
bool NestedField(const json& object, const std::vector<std::string>& fields, const json** out,
                 std::string* error) {
  const json* value = &object;
  *out = nullptr;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (value->is_null()) return true;
    if (!value->is_object()) {
      *error = AccessorError(fields, i + 1, *value, "map[string]interface{}");
      return false;
    }
    auto it = value->find(fields[i]);
    if (it == value->end()) return true;
    value = &*it;
  }
  *out = value;
  return true;
}

// NestedInt64 (0 and not found when absent).
bool NestedInt64(const json& object, const std::string& path, int64_t* value, bool* found,
                 std::string* error) {
  const std::vector<std::string> fields = Fields(path);
  const json* v = nullptr;
  *value = 0;
  *found = false;
  if (!NestedField(object, fields, &v, error)) return false;
  if (v == nullptr) return true;
  if (!v->is_number_integer() || BeyondInt64(*v)) {
    *error = AccessorError(fields, fields.size(), *v, "int64");
    return false;
  }
  *value = v->get<int64_t>();
  *found = true;
  return true;
}

// NestedString ("" when absent).
bool NestedString(const json& object, const std::string& path, std::string* value,
                  std::string* error) {
  const std::vector<std::string> fields = Fields(path);
  const json* v = nullptr;
  value->clear();
  if (!NestedField(object, fields, &v, error)) return false;
  if (v == nullptr) return true;
  if (!v->is_string()) {
    *error = AccessorError(fields, fields.size(), *v, "string");
    return false;
  }
  *value = v->get<std::string>();
  return true;
}

}  // namespace

namespace {

// The Scale of a stored resource; false with the answer to a value of the wrong type at a path:
// a plain storage error, which ErrorToAPIStatus makes a 500 with no reason and the bare text.
bool StoredScale(const ResourceType& t, const json& stored, json* scale, bool* found,
                 HttpResponse* error) {
  std::string err;
  if (ScaleFromCustomResource(stored, *t.scale, scale, found, &err)) return true;
  *error = HttpResponse::Text(500, "application/json", DumpJson(StatusBody(500, "", err)));
  return false;
}

}  // namespace

bool ScaleFromCustomResource(const json& cr, const ScalePaths& paths, json* scale, bool* spec_found,
                             std::string* error) {
  int64_t spec = 0;
  int64_t status = 0;
  bool status_found = false;
  std::string selector;
  if (!NestedInt64(cr, paths.spec_replicas, &spec, spec_found, error) ||
      !NestedInt64(cr, paths.status_replicas, &status, &status_found, error) ||
      (!paths.label_selector.empty() &&
       !NestedString(cr, paths.label_selector, &selector, error))) {
    return false;
  }
  json meta = json::object();
  const json empty = json::object();
  const json& m = cr.contains("metadata") && cr["metadata"].is_object() ? cr["metadata"] : empty;
  for (const char* k : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
    if (m.contains(k) && m[k].is_string() && !m[k].get_ref<const std::string&>().empty()) {
      meta[k] = m[k];
    }
  }
  // The Go fields are int32: larger values wrap as int32(x) does.
  json spec_out = json::object();
  if (static_cast<int32_t>(spec) != 0) spec_out["replicas"] = static_cast<int32_t>(spec);
  json status_out = {{"replicas", static_cast<int32_t>(status)}};
  if (!selector.empty()) status_out["selector"] = selector;
  *scale = {{"kind", "Scale"},
            {"apiVersion", "autoscaling/v1"},
            {"metadata", meta},
            {"spec", spec_out},
            {"status", status_out}};
  return true;
}

bool SetSpecReplicas(json* cr, const ScalePaths& paths, int64_t replicas, std::string* error) {
  const std::vector<std::string> fields = Fields(paths.spec_replicas);
  json* m = cr;
  for (size_t i = 0; i + 1 < fields.size(); ++i) {
    if (!m->contains(fields[i])) {
      (*m)[fields[i]] = json::object();
    } else if (!(*m)[fields[i]].is_object()) {
      *error = "value cannot be set because " + JsonPathOf(fields, i + 1) +
               " is not a map[string]interface{}";
      return false;
    }
    m = &(*m)[fields[i]];
  }
  (*m)[fields.back()] = replicas;
  return true;
}

std::vector<FieldError> ValidateScaleFields(const json& cr, const ScalePaths& paths) {
  std::vector<FieldError> out;
  for (const std::string& path : {paths.spec_replicas, paths.status_replicas}) {
    int64_t replicas = 0;
    bool found = false;
    std::string err;
    if (!NestedInt64(cr, path, &replicas, &found, &err)) {
      out.push_back({path, "FieldValueInvalid", "Invalid value: 0: " + err});
    } else if (replicas < 0) {
      out.push_back(
          {path, "FieldValueInvalid",
           "Invalid value: " + std::to_string(replicas) + ": should be a non-negative integer"});
    } else if (replicas > std::numeric_limits<int32_t>::max()) {
      out.push_back({path, "FieldValueInvalid",
                     "Invalid value: " + std::to_string(replicas) +
                         ": should be less than or equal to 2147483647"});
    }
  }
  std::string selector, err;
  if (!paths.label_selector.empty() && !NestedString(cr, paths.label_selector, &selector, &err)) {
    out.push_back({paths.label_selector, "FieldValueInvalid", "Invalid value: \"\": " + err});
  }
  return out;
}

HttpResponse ApiServer::ScaleOfLocked(const HttpRequest& req, const RequestInfo& info,
                                      const json& stored) const {
  const ResourceType& t = *info.type;
  json scale;
  bool found = false;
  HttpResponse error;
  if (!StoredScale(t, stored, &scale, &found, &error)) return error;
  if (!found) {
    const std::string why =
        "the spec replicas field \"" + t.scale->spec_replicas + "\" does not exist";
    return ErrorResponse(500, "InternalError", "Internal error occurred: " + why,
                         {{"causes", {{{"message", why}}}}});
  }
  if (WantsTable(req)) {
    // The scale request scope is a shallow copy of the resource's: the CRD's printer columns,
    // evaluated on the Scale.
    scale = MakeTable(t, {scale}, json::object(), req.Query("includeObject", "Metadata"), true,
                      std::chrono::system_clock::now());
  }
  return HttpResponse::Text(200, "application/json", DumpJson(scale));
}

bool ApiServer::CheckScaleBody(const RequestInfo& info, const json& scale,
                               HttpResponse* error) const {
  // UpdateResource's decoder and checkName, with the messages kube-sim gives the resource.
  if (scale.contains("apiVersion") && scale["apiVersion"] != "autoscaling/v1") {
    *error = ErrorResponse(400, "BadRequest",
                           "the API version in the data (" + scale["apiVersion"].dump() +
                               ") does not match the expected API version (autoscaling/v1)");
    return false;
  }
  if (scale.contains("kind") && scale["kind"] != "Scale") {
    *error = ErrorResponse(400, "BadRequest",
                           "the kind in the data (" + scale["kind"].dump() +
                               ") does not match the expected kind (Scale)");
    return false;
  }
  const json meta = scale.value("metadata", json::object());
  const std::string name = meta.value("name", "");
  if (!name.empty() && name != info.name) {
    *error = ErrorResponse(400, "BadRequest",
                           "the name of the object (" + name +
                               ") does not match the name on the URL (" + info.name + ")");
    return false;
  }
  const std::string ns = meta.value("namespace", "");
  if (info.type->namespaced && !ns.empty() && ns != info.namespace_) {
    *error = ErrorResponse(400, "BadRequest",
                           "the namespace of the provided object does not match the namespace "
                           "sent on the request");
    return false;
  }
  return true;
}

HttpResponse ApiServer::UpdateScale(const HttpRequest& req, const RequestInfo& info) {
  json scale;
  std::string err;
  if (!ParseBody(req.body, &scale, &err) || !scale.is_object()) {
    return ErrorResponse(400, "BadRequest", "the body of the request could not be decoded: " + err);
  }
  if (!DecodeScale(&scale, &err)) {
    return ErrorResponse(400, "BadRequest",
                         "Scale in version \"v1\" cannot be handled as a Scale: " + err);
  }
  HttpResponse error;
  if (!CheckScaleBody(info, scale, &error)) return error;
  std::lock_guard<std::mutex> lock(mu_);
  auto& objs = objects_[info.type->storage_key];
  auto it = objs.find(info.namespace_ + "/" + info.name);
  if (it == objs.end()) return NotFound(info, info.name);
  const json old = it->second;
  return WriteScaleLocked(req, info, scale, old, DefaultManager(req));
}

HttpResponse ApiServer::PatchScaleLocked(const HttpRequest& req, const RequestInfo& info,
                                         const std::string& media, const json& patch,
                                         const json& stored) {
  const ResourceType& t = *info.type;
  json current;
  bool found = false;
  HttpResponse error;
  if (!StoredScale(t, stored, &current, &found, &error)) return error;
  if (!found) current["spec"]["replicas"] = kMissingReplicas;
  std::string err;
  json next;
  if (!PatchDocument(media, current, patch, &next, &error)) return error;
  if (!DecodeScale(&next, &err)) return PatchDecodeError(next, err);
  if (!CheckScaleBody(info, next, &error)) return error;
  if (SpecReplicasOf(next) == kMissingReplicas) {
    return ErrorResponse(
        400, "BadRequest",
        "the spec replicas field \"" + t.scale->spec_replicas + "\" cannot be empty");
  }
  return WriteScaleLocked(req, info, next, stored, DefaultManager(req));
}

HttpResponse ApiServer::WriteScaleLocked(const HttpRequest& req, const RequestInfo& info,
                                         const json& scale, const json& stored,
                                         const std::string& manager,
                                         const std::vector<FieldPath>* applied, bool force) {
  const ResourceType& t = *info.type;
  json cr = ToExternal(t, stored);
  std::string err;
  if (!SetSpecReplicas(&cr, *t.scale, SpecReplicasOf(scale), &err)) {
    return ErrorResponse(500, "", err);
  }
  // A Scale's resourceVersion is the resource's precondition; without one the write is
  // unconditional (the resource's own resourceVersion stays in place).
  const std::string rv = scale.value("metadata", json::object()).value("resourceVersion", "");
  if (!rv.empty()) cr["metadata"]["resourceVersion"] = rv;
  HttpResponse r =
      applied == nullptr
          ? UpdateLocked(req, info, ToStored(t, cr), stored, manager, "Update")
          : RecordApplyLocked(req, info, stored, manager, *applied, force,
                              UpdateLocked(req, info, ToStored(t, cr), stored, manager, "Apply"));
  if (r.status != 200) return r;
  json updated;
  json out;
  bool found = false;
  if (!ParseBody(r.body, &updated, &err) ||
      !ScaleFromCustomResource(updated, *t.scale, &out, &found, &err)) {
    return ErrorResponse(400, "BadRequest", err);
  }
  r.body = DumpJson(out);
  return r;
}

HttpResponse ApiServer::ApplyScaleLocked(const HttpRequest& req, const RequestInfo& info,
                                         const json& applied_in, const json& stored) {
  const ResourceType& t = *info.type;
  const std::string manager = req.Query("fieldManager");
  HttpResponse error;
  if (!CheckApplyRequest(manager, applied_in, &error)) return error;
  json applied = applied_in;
  std::string err;
  if (!DecodeScale(&applied, &err)) {
    return ErrorResponse(400, "BadRequest",
                         "Scale in version \"v1\" cannot be handled as a Scale: " + err);
  }
  if (!CheckScaleBody(info, applied, &error)) return error;
  json current;
  bool found = false;
  if (!StoredScale(t, stored, &current, &found, &error)) return error;
  // The Scale's managedFields are the resource's entries that own the spec path, shown as
  // owning .spec.replicas in autoscaling/v1 (ScaleHandler.ToSubresource).
  const FieldPath path = Fields(t.scale->spec_replicas);
  const bool sets = applied.contains("spec") && applied["spec"].contains("replicas");
  const int64_t have = found ? SpecReplicasOf(current) : kMissingReplicas;
  const int64_t want = SpecReplicasOf(applied);
  const bool force = IsTrue(req.Query("force"));
  bool mine = false;
  bool others = false;
  json causes = json::array();
  std::string text;
  for (const auto& e : stored["metadata"].value("managedFields", json::array())) {
    const std::vector<FieldPath> owned = FromFieldsV1(e.value("fieldsV1", json::object()));
    if (std::find(owned.begin(), owned.end(), path) == owned.end()) continue;
    if (e.value("manager", "") == manager && e.value("operation", "") == "Apply" &&
        e.value("subresource", "") == "scale") {
      mine = true;
      continue;
    }
    others = true;
    if (!sets || force || want == have) continue;
    const std::string who = "conflict with " + ConflictManager(e, "autoscaling/v1");
    causes.push_back(
        {{"reason", "FieldManagerConflict"}, {"message", who}, {"field", ".spec.replicas"}});
    text += (text.empty() ? "" : "\n- ") + who + ": .spec.replicas";
  }
  if (!causes.empty()) return ApplyConflict(causes, text);
  // Dropping replicas this manager alone applied removes them: the Go field's zero value.
  const int64_t replicas = sets ? want : (mine && !others ? 0 : have);
  if (replicas == kMissingReplicas) {
    return ErrorResponse(
        400, "BadRequest",
        "the spec replicas field \"" + t.scale->spec_replicas + "\" cannot be empty");
  }
  json scale = {{"metadata", applied.value("metadata", json::object())},
                {"spec", {{"replicas", replicas}}}};
  const std::vector<FieldPath> paths =
      sets ? std::vector<FieldPath>{path} : std::vector<FieldPath>{};
  return WriteScaleLocked(req, info, scale, stored, manager, &paths, force);
}

}  // namespace pygrid::sim::kube
