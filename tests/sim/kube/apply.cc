// PATCH (json, merge, strategic, apply) and managedFields. Sources:
// https://kubernetes.io/docs/reference/using-api/server-side-apply/ (fieldManager required for
// apply, force, conflicts, "Apply failed with N conflict(s)" shape, ownership transfer on
// update),
// https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/
// (strategic merge patch unsupported for custom resources: 415).
#include <algorithm>
#include <set>

#include "sim/kube/api_server.h"
#include "sim/kube/decode.h"
#include "sim/kube/patch.h"

namespace pygrid::sim::kube {

namespace {

std::string ObjKey(const std::string& ns, const std::string& name) { return ns + "/" + name; }

std::string MediaType(const std::string& content_type) {
  std::string m = content_type.substr(0, content_type.find(';'));
  m.erase(std::remove(m.begin(), m.end(), ' '), m.end());
  return m;
}

bool IsPrefix(const FieldPath& a, const FieldPath& b) {
  return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
}

bool Overlaps(const FieldPath& a, const FieldPath& b) { return IsPrefix(a, b) || IsPrefix(b, a); }

// Paths a manager may own through this endpoint: status only via /status when status is a
// subresource, everything else only via the main resource.
std::vector<FieldPath> Scope(std::vector<FieldPath> paths, bool status_subresource,
                             const std::string& subresource) {
  if (!status_subresource) return paths;
  bool want_status = subresource == "status";
  paths.erase(std::remove_if(paths.begin(), paths.end(),
                             [&](const FieldPath& p) {
                               return (!p.empty() && p[0] == "status") != want_status;
                             }),
              paths.end());
  return paths;
}

}  // namespace

void ApiServer::RecordManagerLocked(json* obj, const json& old, const std::string& manager,
                                    const std::string& operation, const std::string& api_version,
                                    const std::string& subresource) {
  if (manager.empty()) return;
  json& meta = (*obj)["metadata"];
  json entries = meta.value("managedFields", json::array());
  std::vector<FieldPath> changed;
  if (operation == "Apply") {
    changed = FromFieldsV1(meta.value("__applied", json::object()));
    meta.erase("__applied");
  } else {
    changed = ChangedPaths(old.is_null() ? json::object() : old, *obj);
  }
  std::vector<FieldPath> scoped;
  for (const auto& p : changed) {
    if (!p.empty() && p[0] == "metadata" && p.size() > 1 && p[1] == "managedFields") continue;
    scoped.push_back(p);
  }
  json result = json::array();
  std::vector<FieldPath> mine;
  bool found = false;
  for (auto& e : entries) {
    bool same = e.value("manager", "") == manager && e.value("operation", "") == operation &&
                e.value("subresource", "") == subresource;
    std::vector<FieldPath> owned = FromFieldsV1(e.value("fieldsV1", json::object()));
    if (same) {
      found = true;
      if (operation == "Apply") {
        mine = scoped;
      } else {
        mine = owned;
        for (const auto& p : scoped) {
          if (std::find(mine.begin(), mine.end(), p) == mine.end()) mine.push_back(p);
        }
      }
      continue;
    }
    if (operation != "Apply" || meta.value("__force", false)) {
      owned.erase(std::remove_if(owned.begin(), owned.end(),
                                 [&](const FieldPath& o) {
                                   return std::any_of(
                                       scoped.begin(), scoped.end(),
                                       [&](const FieldPath& s) { return Overlaps(s, o); });
                                 }),
                  owned.end());
    }
    if (owned.empty()) continue;
    e["fieldsV1"] = ToFieldsV1(owned);
    result.push_back(e);
  }
  meta.erase("__force");
  if (!found) mine = scoped;
  if (!mine.empty()) {
    json entry = {
        {"manager", manager},        {"operation", operation},
        {"apiVersion", api_version}, {"time", FormatTime(std::chrono::system_clock::now())},
        {"fieldsType", "FieldsV1"},  {"fieldsV1", ToFieldsV1(mine)}};
    if (!subresource.empty()) entry["subresource"] = subresource;
    result.push_back(entry);
  }
  if (result.empty()) {
    meta.erase("managedFields");
  } else {
    meta["managedFields"] = result;
  }
}

HttpResponse ApiServer::Patch(const HttpRequest& req, const RequestInfo& info) {
  const std::string media = MediaType(req.Header("Content-Type"));
  const ResourceType& t = *info.type;
  const bool apply =
      media == "application/apply-patch+yaml" || media == "application/apply-patch+cbor";
  const bool known = apply || media == "application/json-patch+json" ||
                     media == "application/merge-patch+json" ||
                     media == "application/strategic-merge-patch+json";
  if (!known || (media == "application/strategic-merge-patch+json" && !t.builtin)) {
    std::string accepted = "application/json-patch+json, application/merge-patch+json, ";
    if (t.builtin) accepted += "application/strategic-merge-patch+json, ";
    accepted += "application/apply-patch+yaml";
    return ErrorResponse(415, "UnsupportedMediaType",
                         "the body of the request was in an unknown format - accepted media types "
                         "include: " +
                             accepted);
  }
  json patch;
  std::string err;
  if (!ParseBody(req.body, &patch, &err)) {
    return ErrorResponse(400, "BadRequest", "error decoding patch: " + err);
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto& objs = objects_[t.storage_key];
  auto it = objs.find(ObjKey(info.namespace_, info.name));
  if (info.subresource == "scale") {
    if (it == objs.end()) return NotFound(info, info.name);
    if (apply) return ApplyScaleLocked(req, info, patch, it->second);
    return PatchScaleLocked(req, info, media, patch, it->second);
  }
  if (apply) {
    return ServerSideApplyLocked(req, info, patch, it == objs.end() ? nullptr : &it->second);
  }
  if (it == objs.end()) return NotFound(info, info.name);
  json old = it->second;
  json current = ToExternal(t, old);
  json next;
  HttpResponse error;
  if (!PatchDocument(media, current, patch, &next, &error)) return error;
  bool decoded = next.is_object();  // a JSON patch can replace the whole document ("")
  if (!decoded) {
    const char* what = next.is_string()    ? "string"
                       : next.is_boolean() ? "bool"
                       : next.is_array()   ? "array"
                       : next.is_null()    ? "null"
                                           : "number";
    err = std::string("json: cannot unmarshal ") + what +
          " into Go value of type map[string]interface {}";
  } else {
    decoded = DecodeRequestObject(t, &next, &err);
  }
  if (!decoded) return PatchDecodeError(next, err);
  const std::string manager = DefaultManager(req);
  return UpdateLocked(req, info, ToStored(t, next), old, manager, "Update");
}

HttpResponse ApiServer::ServerSideApplyLocked(const HttpRequest& req, const RequestInfo& info,
                                              json applied_in, const json* existing) {
  const ResourceType& t = *info.type;
  const std::string manager = req.Query("fieldManager");
  HttpResponse error;
  if (!CheckApplyRequest(manager, applied_in, &error)) return error;
  std::string decode_error;
  if (!DecodeRequestObject(t, &applied_in, &decode_error)) return CannotDecode(info, decode_error);
  // An applied configuration may leave metadata out; the name then comes from the URL.
  if (!applied_in.contains("metadata")) applied_in["metadata"] = json::object();
  json applied = ToStored(t, applied_in);
  std::string applied_name =
      applied.contains("metadata") ? applied["metadata"].value("name", "") : "";
  if (!applied_name.empty() && applied_name != info.name) {
    return ErrorResponse(400, "BadRequest",
                         "the name of the object (" + applied_name +
                             ") does not match the name on the URL (" + info.name + ")");
  }
  const bool force = IsTrue(req.Query("force"));
  std::vector<FieldPath> paths = Scope(LeafPaths(applied), t.status_subresource, info.subresource);
  if (!existing) {
    if (info.subresource == "status") return NotFound(info, info.name);
    json obj = applied_in;
    obj["metadata"]["name"] = info.name;
    obj["metadata"]["__applied"] = ToFieldsV1(paths);
    HttpResponse r = CreateLocked(req, info, obj, manager, true);
    return r;
  }
  const json old = *existing;
  const json current = ToExternal(t, old);
  std::string applied_rv = applied["metadata"].value("resourceVersion", "");
  if (!applied_rv.empty() && applied_rv != old["metadata"].value("resourceVersion", "")) {
    return ObjectModified(info);
  }
  std::vector<FieldPath> previous;
  json causes = json::array();
  std::string conflict_text;
  for (const auto& e : old["metadata"].value("managedFields", json::array())) {
    std::vector<FieldPath> owned = FromFieldsV1(e.value("fieldsV1", json::object()));
    if (e.value("manager", "") == manager && e.value("operation", "") == "Apply" &&
        e.value("subresource", "") == info.subresource) {
      previous = owned;
      continue;
    }
    // Every other manager counts, a subresource's too (a /scale writer owns the replicas);
    // status and the rest never overlap, as each endpoint applies only its own part (Scope).
    if (force) continue;
    for (const auto& p : paths) {
      for (const auto& o : owned) {
        if (p == o && ValueAt(current, p) != ValueAt(applied, p)) {
          const std::string who = "conflict with " + ConflictManager(e, e.value("apiVersion", ""));
          causes.push_back(
              {{"reason", "FieldManagerConflict"}, {"message", who}, {"field", PathString(p)}});
          conflict_text += (conflict_text.empty() ? "" : "\n- ") + who + ": " + PathString(p);
        }
      }
    }
  }
  if (!causes.empty()) return ApplyConflict(causes, conflict_text);
  json next = current;
  for (const auto& p : paths) SetAt(&next, p, ValueAt(applied, p));
  // Fields this manager applied before and dropped now are removed unless someone else owns
  // them (server-side apply "field removal" rule).
  for (const auto& p : previous) {
    if (std::find(paths.begin(), paths.end(), p) != paths.end()) continue;
    bool other = false;
    for (const auto& e : old["metadata"].value("managedFields", json::array())) {
      if (e.value("manager", "") == manager && e.value("operation", "") == "Apply") continue;
      for (const auto& o : FromFieldsV1(e.value("fieldsV1", json::object()))) {
        if (Overlaps(o, p)) other = true;
      }
    }
    if (!other) RemoveAt(&next, p);
  }
  json stored = ToStored(t, next);
  stored["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"];
  // Ownership bookkeeping happens on the prepared object, after the status/metadata rules.
  json prepared_old = old;
  return RecordApplyLocked(req, info, prepared_old, manager, paths, force,
                           UpdateLocked(req, info, stored, old, manager, "Apply"));
}

bool ApiServer::CheckApplyRequest(const std::string& manager, const json& applied,
                                  HttpResponse* error) const {
  if (manager.empty()) {
    *error =
        ErrorResponse(422, "Invalid",
                      "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
                      "is required for apply patch",
                      {{"kind", "PatchOptions"},
                       {"group", "meta.k8s.io"},
                       {"causes",
                        {{{"reason", "FieldValueRequired"},
                          {"message", "Required value: is required for apply patch"},
                          {"field", "fieldManager"}}}}});
    return false;
  }
  if (!applied.is_object() || !applied.contains("apiVersion") || !applied.contains("kind")) {
    *error =
        ErrorResponse(400, "BadRequest",
                      "error decoding YAML: Object 'Kind' is missing in applied configuration");
    return false;
  }
  return true;
}

HttpResponse ApiServer::ApplyConflict(const json& causes, std::string text) const {
  std::string head = "Apply failed with " + std::to_string(causes.size()) + " conflict" +
                     (causes.size() > 1 ? "s" : "") + ": ";
  if (causes.size() > 1) text = "\n- " + text;
  return ErrorResponse(409, "Conflict", head + text, {{"causes", causes}});
}

HttpResponse ApiServer::RecordApplyLocked(const HttpRequest& req, const RequestInfo& info,
                                          const json& prepared_old, const std::string& manager,
                                          const std::vector<FieldPath>& paths, bool force,
                                          const HttpResponse& updated) {
  // A dry run stores nothing, its ownership neither.
  if (updated.status != 200 || req.HasQuery("dryRun")) return updated;
  const ResourceType& t = *info.type;
  auto& objs = objects_[t.storage_key];
  auto it = objs.find(ObjKey(info.namespace_, info.name));
  if (it == objs.end()) return updated;
  json& obj = it->second;
  obj["metadata"]["__applied"] = ToFieldsV1(paths);
  if (force) obj["metadata"]["__force"] = true;
  json before_fields = obj["metadata"].value("managedFields", json::array());
  RecordManagerLocked(&obj, prepared_old, manager, "Apply", t.ApiVersion(), info.subresource);
  if (obj["metadata"].value("managedFields", json::array()) != before_fields) {
    // Keep the stored object and its latest watch event in step with the ownership change.
    if (!history_.empty() && history_.back().storage_key == t.storage_key &&
        history_.back().object["metadata"].value("name", "") == info.name) {
      history_.back().object = obj;
    }
  }
  return HttpResponse::Text(200, "application/json", DumpJson(ToExternal(t, obj)));
}

bool ApiServer::PatchDocument(const std::string& media, const json& current, const json& patch,
                              json* next, HttpResponse* error) const {
  std::string err;
  if (media == "application/json-patch+json") {
    if (!ApplyJsonPatch(current, patch, next, &err)) {
      *error = ErrorResponse(
          422, "Invalid", "the server rejected our request due to an error in our request: " + err);
      return false;
    }
  } else if (media == "application/merge-patch+json") {
    if (!patch.is_object()) {
      *error = ErrorResponse(400, "BadRequest", "merge patch body must be a JSON object");
      return false;
    }
    *next = ApplyMergePatch(current, patch);
  } else if (!ApplyStrategicMergePatch(current, patch, next, &err)) {
    *error = ErrorResponse(422, "Invalid", err);
    return false;
  }
  return true;
}

HttpResponse ApiServer::PatchDecodeError(const json& patched, const std::string& err) const {
  // jsonPatcher.applyPatchToCurrentObject: errors.NewInvalid(schema.GroupKind{}, "",
  // field.Invalid(field.NewPath("patch"), patchedJS, err)), hence the empty kind and name.
  const std::string message = "Invalid value: " + DumpJson(json(DumpJson(patched))) + ": " + err;
  return ErrorResponse(
      422, "Invalid", " \"\" is invalid: patch: " + message,
      {{"causes", {{{"reason", "FieldValueInvalid"}, {"message", message}, {"field", "patch"}}}}});
}

}  // namespace pygrid::sim::kube
