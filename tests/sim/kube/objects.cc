// GET, LIST, POST, PUT and DELETE. Semantics from the API conventions ("Concurrency Control and
// Consistency", "Idempotency"), https://kubernetes.io/docs/reference/using-api/api-concepts/
// (limit/continue, resourceVersion semantics), the finalizers page
// (https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/) and
// k8s.io/apiserver/pkg/registry/generic/registry/store.go (no-op updates keep the
// resourceVersion, deletion with finalizers sets deletionTimestamp, the last finalizer removal
// deletes, the DELETE status code is 200 unless orphanDependents=false asks for 202).
#include <algorithm>

#include "sim/kube/api_server.h"
#include "sim/kube/decode.h"
#include "sim/kube/selectors.h"
#include "sim/kube/table.h"

namespace pygrid::sim::kube {

namespace {

std::string ObjKey(const std::string& ns, const std::string& name) { return ns + "/" + name; }

HttpResponse JsonOut(int code, const json& body, const std::vector<std::string>& warnings = {}) {
  HttpResponse r = HttpResponse::Text(code, "application/json", DumpJson(body));
  for (const auto& w : warnings) {
    json quoted = w;
    r.With("Warning", "299 - " + DumpJson(quoted));
  }
  return r;
}

// Everything but metadata (and status when it is a subresource), as the CR strategy compares
// to decide whether generation moves.
json NonMetadata(const json& obj, bool drop_status) {
  json out = obj;
  out.erase("metadata");
  if (drop_status) out.erase("status");
  return out;
}

json WithoutManagedFields(const json& obj) {
  json out = obj;
  if (out.contains("metadata")) out["metadata"].erase("managedFields");
  return out;
}

bool HasGeneration(const ResourceType& t) {
  return !t.builtin || t.kind == "CustomResourceDefinition";
}

std::string EncodeContinue(uint64_t rv, const std::string& start) {
  json token = {{"v", "meta.k8s.io/v1"}, {"rv", rv}, {"start", start + std::string(1, '\0')}};
  return Base64Encode(token.dump());
}

bool DecodeContinue(const std::string& token, uint64_t* rv, std::string* start) {
  std::string raw;
  if (!Base64Decode(token, &raw)) return false;
  try {
    json j = json::parse(raw);
    *rv = j.at("rv").get<uint64_t>();
    *start = j.at("start").get<std::string>();
    if (!start->empty() && start->back() == '\0') start->pop_back();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::string DefaultManager(const HttpRequest& req) {
  std::string m = req.Query("fieldManager");
  if (!m.empty()) return m;
  std::string ua = req.Header("User-Agent");
  return ua.substr(0, ua.find('/'));
}

// The NamespaceLifecycle admission plugin keeps these (plugin/pkg/admission/namespace/
// lifecycle: immortalNamespaces).
bool ApiServer::IsUndeletableNamespace(const ResourceType& t, const std::string& name) const {
  return t.kind == "Namespace" && t.builtin &&
         (name == "default" || name == "kube-system" || name == "kube-public");
}

HttpResponse ApiServer::UndeletableNamespace(const RequestInfo& info,
                                             const std::string& name) const {
  return ErrorResponse(
      403, "Forbidden",
      "namespaces \"" + name + "\" is forbidden: this namespace may not be deleted",
      DetailsFor(info, name));
}

HttpResponse ApiServer::CannotDecode(const RequestInfo& info, const std::string& error) const {
  // transformDecodeError (k8s.io/apiserver pkg/endpoints/handlers/rest.go).
  const ResourceType& t = *info.type;
  return ErrorResponse(
      400, "BadRequest",
      t.kind + " in version \"" + t.version + "\" cannot be handled as a " + t.kind + ": " + error);
}

bool ApiServer::DecodeBody(const HttpRequest& req, const RequestInfo& info, json* obj,
                           HttpResponse* error) const {
  std::string err;
  if (!ParseBody(req.body, obj, &err) || !obj->is_object()) {
    *error =
        ErrorResponse(400, "BadRequest", "the body of the request could not be decoded: " + err);
    return false;
  }
  if (!DecodeRequestObject(*info.type, obj, &err)) {
    *error = CannotDecode(info, err);
    return false;
  }
  return true;
}

bool ApiServer::ParseSelectors(const HttpRequest& req, const RequestInfo& info, Selector* labels,
                               Selector* fields, HttpResponse* error) const {
  std::string err;
  if (!Selector::ParseLabels(req.Query("labelSelector"), labels, &err) ||
      !Selector::ParseFields(req.Query("fieldSelector"), info.type->kind, fields, &err)) {
    *error = ErrorResponse(400, "BadRequest", err);
    return false;
  }
  return true;
}

HttpResponse ApiServer::ObjectModified(const RequestInfo& info) const {
  return ErrorResponse(409, "Conflict",
                       "Operation cannot be fulfilled on " + info.type->QualifiedResource() +
                           " \"" + info.name +
                           "\": the object has been modified; please apply your changes to the "
                           "latest version and try again",
                       DetailsFor(info, info.name));
}

bool ApiServer::NamespaceExistsLocked(const std::string& ns) const {
  auto it = objects_.find("/namespaces");
  return it != objects_.end() && it->second.count(ObjKey("", ns));
}

bool ApiServer::FitsInStorage(const ResourceType& t, const std::string& key, const json& obj,
                              HttpResponse* error) const {
  // etcd checks the whole Txn request (key + value); custom resources are stored as JSON, the
  // built-ins as protobuf (usually smaller: kube-sim's JSON estimate errs on the large side).
  // kube-apiserver passes the storage error through ErrorToAPIStatus: code 500, no reason,
  // the error text as message (kubernetes/kubernetes#74600, #112152).
  constexpr size_t kEtcdMaxRequestBytes = 1536 * 1024;         // etcd --max-request-bytes default
  constexpr size_t kEtcdClientMaxSendBytes = 2 * 1024 * 1024;  // clientv3 MaxCallSendMsgSize
  const size_t size = key.size() + t.storage_key.size() + 10 + DumpJson(obj).size();
  if (size <= kEtcdMaxRequestBytes) return true;
  std::string message = "etcdserver: request is too large";
  if (size > kEtcdClientMaxSendBytes) {
    message =
        "rpc error: code = ResourceExhausted desc = grpc: trying to send message larger "
        "than max (" +
        std::to_string(size) + " vs. " + std::to_string(kEtcdClientMaxSendBytes) + ")";
  }
  *error = ErrorResponse(500, "", message);
  return false;
}

uint64_t ApiServer::CommitLocked(const std::string& storage_key, const std::string& key,
                                 const std::string& type, json* obj, const json& old) {
  ++rv_;
  (*obj)["metadata"]["resourceVersion"] = std::to_string(rv_);
  if (type == "DELETED") {
    objects_[storage_key].erase(key);
  } else {
    objects_[storage_key][key] = *obj;
  }
  history_.push_back({rv_, storage_key, type, *obj, old});
  while (history_.size() > options_.history) {
    compacted_rv_ = history_.front().rv;
    history_.pop_front();
  }
  cv_.notify_all();
  return rv_;
}

ApiServer::ObjectMap ApiServer::StateAtLocked(const std::string& storage_key, uint64_t rv) const {
  ObjectMap state;
  auto it = objects_.find(storage_key);
  if (it != objects_.end()) state = it->second;
  for (auto e = history_.rbegin(); e != history_.rend() && e->rv > rv; ++e) {
    if (e->storage_key != storage_key) continue;
    const json& m = e->object["metadata"];
    std::string key = ObjKey(m.value("namespace", ""), m.value("name", ""));
    if (e->type == "ADDED") {
      state.erase(key);
    } else {
      state[key] = e->old;
    }
  }
  return state;
}

HttpResponse ApiServer::Get(const HttpRequest& req, const RequestInfo& info) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto& objs = objects_[info.type->storage_key];
  auto it = objs.find(ObjKey(info.namespace_, info.name));
  if (it == objs.end()) return NotFound(info, info.name);
  if (info.subresource == "scale") return ScaleOfLocked(req, info, it->second);
  json out = ToExternal(*info.type, it->second);
  if (WantsTable(req)) {
    return JsonOut(
        200, MakeTable(*info.type, {out}, json::object(), req.Query("includeObject", "Metadata"),
                       true, std::chrono::system_clock::now()));
  }
  return JsonOut(200, out);
}

HttpResponse ApiServer::List(const HttpRequest& req, const RequestInfo& info) {
  Selector labels, fields;
  HttpResponse error;
  if (!ParseSelectors(req, info, &labels, &fields, &error)) return error;
  long limit = 0;
  try {
    limit = req.HasQuery("limit") ? std::stol(req.Query("limit")) : 0;
  } catch (const std::exception&) {
    return ErrorResponse(400, "BadRequest", "invalid limit");
  }
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t snapshot = rv_;
  std::string start;
  ObjectMap state;
  const std::string& sk = info.type->storage_key;
  std::string cont = req.Query("continue");
  if (!cont.empty()) {
    if (!DecodeContinue(cont, &snapshot, &start)) {
      return ErrorResponse(400, "BadRequest",
                           "continue key is not valid: incorrect encoded start resourceVersion "
                           "(version meta.k8s.io/v1)");
    }
    if (snapshot < compacted_rv_) {
      return ErrorResponse(410, "Expired",
                           "The provided continue parameter is too old to display a consistent "
                           "list result. You can start a new list without the continue "
                           "parameter.");
    }
    state = StateAtLocked(sk, snapshot);
  } else if (req.Query("resourceVersionMatch") == "Exact") {
    try {
      snapshot = std::stoull(req.Query("resourceVersion"));
    } catch (const std::exception&) {
      return ErrorResponse(400, "BadRequest", "resourceVersionMatch=Exact needs a resourceVersion");
    }
    if (snapshot < compacted_rv_) {
      return ErrorResponse(410, "Expired",
                           "too old resource version: " + std::to_string(snapshot) + " (" +
                               std::to_string(compacted_rv_ + 1) + ")");
    }
    state = StateAtLocked(sk, snapshot);
  } else {
    state = objects_[sk];
  }
  std::vector<json> items;
  std::string last_key;
  long remaining = 0;
  bool more = false;
  for (const auto& [key, obj] : state) {
    if (!start.empty() && key <= start) continue;
    const json& m = obj["metadata"];
    if (!info.namespace_.empty() && m.value("namespace", "") != info.namespace_) continue;
    if (!labels.Matches(obj) || !fields.Matches(obj)) continue;
    if (limit > 0 && static_cast<long>(items.size()) >= limit) {
      more = true;
      ++remaining;
      continue;
    }
    items.push_back(ToExternal(*info.type, obj));
    last_key = key;
  }
  json list_meta = {{"resourceVersion", std::to_string(snapshot)}};
  if (more) {
    list_meta["continue"] = EncodeContinue(snapshot, last_key);
    if (labels.empty() && fields.empty()) list_meta["remainingItemCount"] = remaining;
  }
  if (WantsTable(req)) {
    return JsonOut(
        200, MakeTable(*info.type, items, list_meta, req.Query("includeObject", "Metadata"), true,
                       std::chrono::system_clock::now()));
  }
  if (info.type->builtin) {
    for (auto& i : items) {
      i.erase("apiVersion");
      i.erase("kind");
    }
  }
  return JsonOut(200, {{"apiVersion", info.type->ApiVersion()},
                       {"kind", info.type->list_kind},
                       {"metadata", list_meta},
                       {"items", items}});
}

HttpResponse ApiServer::Create(const HttpRequest& req, const RequestInfo& info) {
  json obj;
  HttpResponse error;
  if (!DecodeBody(req, info, &obj, &error)) return error;
  std::lock_guard<std::mutex> lock(mu_);
  return CreateLocked(req, info, obj, DefaultManager(req), false);
}

HttpResponse ApiServer::CreateLocked(const HttpRequest& req, const RequestInfo& info, json obj,
                                     const std::string& manager, bool apply) {
  const ResourceType& t = *info.type;
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  if (obj.contains("apiVersion") && obj["apiVersion"] != t.ApiVersion()) {
    return ErrorResponse(400, "BadRequest",
                         "the API version in the data (" + obj["apiVersion"].dump() +
                             ") does not match the expected API version (" + t.ApiVersion() + ")");
  }
  if (obj.contains("kind") && obj["kind"] != t.kind) {
    return ErrorResponse(400, "BadRequest",
                         "the kind in the data (" + obj["kind"].dump() +
                             ") does not match the expected kind (" + t.kind + ")");
  }
  obj = ToStored(t, obj);
  obj["apiVersion"] = t.ApiVersion();
  obj["kind"] = t.kind;
  json& meta = obj["metadata"];
  if (t.namespaced) {
    std::string body_ns = meta.value("namespace", "");
    if (!body_ns.empty() && body_ns != info.namespace_) {
      return ErrorResponse(400, "BadRequest",
                           "the namespace of the provided object does not match the namespace "
                           "sent on the request");
    }
    meta["namespace"] = info.namespace_;
    if (!NamespaceExistsLocked(info.namespace_)) {
      return ErrorResponse(404, "NotFound", "namespaces \"" + info.namespace_ + "\" not found",
                           {{"name", info.namespace_}, {"kind", "namespaces"}});
    }
    const json& ns = objects_["/namespaces"][ObjKey("", info.namespace_)];
    if (ns["metadata"].contains("deletionTimestamp")) {
      return ErrorResponse(403, "Forbidden",
                           t.QualifiedResource() + " \"" + meta.value("name", "") +
                               "\" is forbidden: unable to create new content in namespace " +
                               info.namespace_ + " because it is being terminated");
    }
  } else {
    meta.erase("namespace");
  }
  if (meta.value("name", "").empty()) {
    std::string gen = meta.value("generateName", "");
    if (gen.empty()) {
      return ErrorResponse(422, "Invalid",
                           t.QualifiedKind() +
                               " \"\" is invalid: metadata.name: Required value: "
                               "name or generateName is required",
                           {{"kind", t.kind},
                            {"group", t.group},
                            {"causes",
                             {{{"reason", "FieldValueRequired"},
                               {"message", "Required value: name or generateName is required"},
                               {"field", "metadata.name"}}}}});
    }
    meta["name"] = gen + RandomSuffix(5);
  }
  const std::string name = meta["name"];
  for (const char* k : {"resourceVersion", "uid", "deletionTimestamp", "deletionGracePeriodSeconds",
                        "managedFields", "generation", "selfLink"}) {
    meta.erase(k);
  }
  if (t.status_subresource && !t.builtin) obj.erase("status");
  std::vector<std::string> warnings;
  HttpResponse error;
  if (!AdmitLocked(req, info, &obj, &warnings, &error)) return error;
  const std::string key = ObjKey(info.namespace_, name);
  if (objects_[t.storage_key].count(key)) {
    return ErrorResponse(409, "AlreadyExists",
                         t.QualifiedResource() + " \"" + name + "\" already exists",
                         DetailsFor(info, name));
  }
  meta["uid"] = NewUid();
  meta["creationTimestamp"] = FormatTime(std::chrono::system_clock::now());
  if (HasGeneration(t)) meta["generation"] = 1;
  RecordManagerLocked(&obj, json(), manager, apply ? "Apply" : "Update", t.ApiVersion(), "");
  if (req.HasQuery("dryRun")) return JsonOut(201, ToExternal(t, obj), warnings);
  if (!FitsInStorage(t, key, obj, &error)) return error;
  CommitLocked(t.storage_key, key, "ADDED", &obj, nullptr);
  if (t.kind == "CustomResourceDefinition") AfterCrdChangeLocked("ADDED", obj);
  return JsonOut(201, ToExternal(t, obj), warnings);
}

HttpResponse ApiServer::Update(const HttpRequest& req, const RequestInfo& info) {
  if (info.subresource == "scale") return UpdateScale(req, info);
  json obj;
  HttpResponse error;
  if (!DecodeBody(req, info, &obj, &error)) return error;
  std::lock_guard<std::mutex> lock(mu_);
  auto& objs = objects_[info.type->storage_key];
  auto it = objs.find(ObjKey(info.namespace_, info.name));
  if (it == objs.end()) return NotFound(info, info.name);
  json old = it->second;
  return UpdateLocked(req, info, ToStored(*info.type, obj), old, DefaultManager(req), "Update");
}

HttpResponse ApiServer::UpdateLocked(const HttpRequest& req, const RequestInfo& info, json obj,
                                     const json& old, const std::string& manager,
                                     const std::string& operation) {
  const ResourceType& t = *info.type;
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  if (obj.contains("kind") && obj["kind"] != old["kind"] && !t.events_v1) {
    return ErrorResponse(400, "BadRequest",
                         "the kind in the data (" + obj["kind"].dump() +
                             ") does not match the expected kind (" + t.kind + ")");
  }
  obj["apiVersion"] = old["apiVersion"];
  obj["kind"] = old["kind"];
  json& meta = obj["metadata"];
  const json& old_meta = old["metadata"];
  std::string body_name = meta.value("name", "");
  if (!body_name.empty() && body_name != info.name) {
    return ErrorResponse(400, "BadRequest",
                         "the name of the object (" + body_name +
                             ") does not match the name on the URL (" + info.name + ")");
  }
  if (t.namespaced && !meta.value("namespace", "").empty() &&
      meta.value("namespace", "") != info.namespace_) {
    return ErrorResponse(400, "BadRequest",
                         "the namespace of the provided object does not match the namespace sent "
                         "on the request");
  }
  std::string body_rv = meta.value("resourceVersion", "");
  if (!body_rv.empty() && body_rv != old_meta.value("resourceVersion", "")) {
    return ObjectModified(info);
  }
  if (info.subresource == "status") {
    // Status writes change nothing but status (customResourceStatusStrategy.PrepareForUpdate).
    json next = old;
    if (obj.contains("status")) {
      next["status"] = obj["status"];
    } else {
      next.erase("status");
    }
    next["metadata"]["managedFields"] = old_meta.value("managedFields", json::array());
    obj = next;
  } else if (t.status_subresource) {
    if (old.contains("status")) {
      obj["status"] = old["status"];
    } else {
      obj.erase("status");
    }
  }
  json& m = obj["metadata"];
  for (const char* k : {"uid", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "generation", "managedFields"}) {
    if (old_meta.contains(k)) {
      m[k] = old_meta[k];
    } else {
      m.erase(k);
    }
  }
  m["name"] = info.name;
  if (t.namespaced) m["namespace"] = info.namespace_;
  if (old_meta.contains("deletionTimestamp")) {
    json old_fin = old_meta.value("finalizers", json::array());
    json added = json::array();
    for (const auto& f : m.value("finalizers", json::array())) {
      if (std::find(old_fin.begin(), old_fin.end(), f) == old_fin.end()) added.push_back(f);
    }
    if (!added.empty()) {
      std::string list;
      for (const auto& f : added) list += (list.empty() ? "" : ", ") + f.dump();
      std::string msg =
          "Forbidden: no new finalizers can be added if the object is being "
          "deleted, found new finalizers []string{" +
          list + "}";
      return ErrorResponse(
          422, "Invalid",
          t.QualifiedKind() + " \"" + info.name + "\" is invalid: metadata.finalizers: " + msg,
          {{"name", info.name},
           {"kind", t.kind},
           {"group", t.group},
           {"causes",
            {{{"reason", "FieldValueForbidden"},
              {"message", msg},
              {"field", "metadata.finalizers"}}}}});
    }
  }
  std::vector<std::string> warnings;
  HttpResponse error;
  if (!AdmitLocked(req, info, &obj, &warnings, &error)) return error;
  if (HasGeneration(t) &&
      NonMetadata(obj, t.status_subresource) != NonMetadata(old, t.status_subresource)) {
    m["generation"] = old_meta.value("generation", 1) + 1;
  }
  if (operation != "Apply") {
    RecordManagerLocked(&obj, old, manager, operation, t.ApiVersion(), info.subresource);
  }
  if (WithoutManagedFields(obj) == WithoutManagedFields(old)) {
    return JsonOut(200, ToExternal(t, old), warnings);
  }
  if (req.HasQuery("dryRun")) return JsonOut(200, ToExternal(t, obj), warnings);
  const std::string key = ObjKey(info.namespace_, info.name);
  if (m.contains("deletionTimestamp") && m.value("finalizers", json::array()).empty()) {
    CommitLocked(t.storage_key, key, "DELETED", &obj, old);
    if (t.kind == "CustomResourceDefinition") AfterCrdChangeLocked("DELETED", obj);
    MaybeFinishNamespaceLocked(info.namespace_);
  } else {
    if (!FitsInStorage(t, key, obj, &error)) return error;
    CommitLocked(t.storage_key, key, "MODIFIED", &obj, old);
    if (t.kind == "CustomResourceDefinition") AfterCrdChangeLocked("MODIFIED", obj);
  }
  return JsonOut(200, ToExternal(t, obj), warnings);
}

HttpResponse ApiServer::Delete(const HttpRequest& req, const RequestInfo& info) {
  json options = json::object();
  if (!req.body.empty()) {
    std::string err;
    if (!ParseBody(req.body, &options, &err) || !options.is_object()) {
      options = json::object();
    } else if (!DecodeDeleteOptions(&options, &err)) {
      return ErrorResponse(400, "BadRequest", err);
    }
  }
  if (req.HasQuery("propagationPolicy"))
    options["propagationPolicy"] = req.Query("propagationPolicy");
  std::lock_guard<std::mutex> lock(mu_);
  auto& objs = objects_[info.type->storage_key];
  auto it = objs.find(ObjKey(info.namespace_, info.name));
  if (it == objs.end()) return NotFound(info, info.name);
  json old = it->second;
  if (options.contains("preconditions")) {
    const json& pre = options["preconditions"];
    const json& m = old["metadata"];
    if (pre.contains("uid") && !pre["uid"].is_null() && pre["uid"] != m["uid"]) {
      return ErrorResponse(
          409, "Conflict",
          "Operation cannot be fulfilled on " + info.type->QualifiedResource() + " \"" + info.name +
              "\": Precondition failed: UID in precondition: " + pre["uid"].get<std::string>() +
              ", UID in object meta: " + m.value("uid", ""),
          DetailsFor(info, info.name));
    }
    if (pre.contains("resourceVersion") && !pre["resourceVersion"].is_null() &&
        pre["resourceVersion"] != m["resourceVersion"]) {
      return ErrorResponse(409, "Conflict",
                           "Operation cannot be fulfilled on " + info.type->QualifiedResource() +
                               " \"" + info.name + "\": the ResourceVersion in the precondition (" +
                               pre["resourceVersion"].get<std::string>() +
                               ") does not match the ResourceVersion in record (" +
                               m.value("resourceVersion", "") +
                               "). The object might have been modified",
                           DetailsFor(info, info.name));
    }
  }
  if (IsUndeletableNamespace(*info.type, info.name)) return UndeletableNamespace(info, info.name);
  if (req.HasQuery("dryRun")) return JsonOut(200, ToExternal(*info.type, old));
  json out;
  return DeleteLocked(info, old, options, &out);
}

HttpResponse ApiServer::DeleteLocked(const RequestInfo& info, const json& old, const json& options,
                                     json* deleted_out) {
  const ResourceType& t = *info.type;
  const json& meta = old["metadata"];
  const std::string ns = meta.value("namespace", "");
  const std::string key = ObjKey(ns, meta.value("name", ""));
  bool orphan_false = options.contains("orphanDependents") &&
                      options["orphanDependents"].is_boolean() && !options["orphanDependents"];
  json obj = old;
  if (t.kind == "Namespace" && t.builtin) {
    if (!meta.contains("deletionTimestamp")) {
      obj["metadata"]["deletionTimestamp"] = FormatTime(std::chrono::system_clock::now());
      obj["metadata"]["deletionGracePeriodSeconds"] = 0;
      obj["status"]["phase"] = "Terminating";
      CommitLocked(t.storage_key, key, "MODIFIED", &obj, old);
      const std::string ns_name = meta.value("name", "");
      for (auto& [sk, objs] : objects_) {
        auto types = registry_.ByStorageKey(sk);
        if (types.empty() || !types[0]->namespaced) continue;
        std::vector<json> victims;
        for (const auto& [k, o] : objs) {
          if (o["metadata"].value("namespace", "") == ns_name) victims.push_back(o);
        }
        RequestInfo sub;
        sub.type = types[0];
        sub.group = types[0]->group;
        sub.plural = types[0]->plural;
        for (const auto& v : victims) {
          json ignored;
          DeleteLocked(sub, v, json::object(), &ignored);
        }
      }
      MaybeFinishNamespaceLocked(ns_name);
    }
    *deleted_out = obj;
    return JsonOut(orphan_false ? 202 : 200, ToExternal(t, obj));
  }
  if (!meta.value("finalizers", json::array()).empty()) {
    if (!meta.contains("deletionTimestamp")) {
      // markAsDeleting (registry/generic/registry/store.go) bumps a set generation.
      if (meta.value("generation", 0) > 0)
        obj["metadata"]["generation"] = meta.value("generation", 0) + 1;
      obj["metadata"]["deletionTimestamp"] = FormatTime(std::chrono::system_clock::now());
      obj["metadata"]["deletionGracePeriodSeconds"] = 0;
      CommitLocked(t.storage_key, key, "MODIFIED", &obj, old);
    }
    *deleted_out = obj;
    return JsonOut(orphan_false ? 202 : 200, ToExternal(t, obj));
  }
  CommitLocked(t.storage_key, key, "DELETED", &obj, old);
  if (t.kind == "CustomResourceDefinition") AfterCrdChangeLocked("DELETED", obj);
  MaybeFinishNamespaceLocked(ns);
  *deleted_out = obj;
  // Only stores with ReturnDeletedObject (namespaces; CRDs go through their own finalizer
  // flow) answer with the object; custom resources and the other built-ins answer a Status.
  if (t.kind == "CustomResourceDefinition") return JsonOut(200, ToExternal(t, obj));
  json details = {
      {"name", meta.value("name", "")}, {"kind", t.plural}, {"uid", meta.value("uid", "")}};
  if (!t.group.empty()) details["group"] = t.group;
  return JsonOut(200, {{"kind", "Status"},
                       {"apiVersion", "v1"},
                       {"metadata", json::object()},
                       {"status", "Success"},
                       {"details", details}});
}

HttpResponse ApiServer::DeleteCollection(const HttpRequest& req, const RequestInfo& info) {
  if (info.type->builtin && info.type->kind == "Namespace") {
    // The namespace storage has no DeleteCollection (pkg/registry/core/namespace/storage), so
    // the endpoint is not installed; deleting every namespace would take `default` along.
    return ErrorResponse(405, "MethodNotAllowed",
                         "the server does not allow this method on the requested resource");
  }
  Selector labels, fields;
  std::string err;
  if (!Selector::ParseLabels(req.Query("labelSelector"), &labels, &err) ||
      !Selector::ParseFields(req.Query("fieldSelector"), info.type->kind, &fields, &err)) {
    return ErrorResponse(400, "BadRequest", err);
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<json> victims;
  for (const auto& [k, o] : objects_[info.type->storage_key]) {
    if (!info.namespace_.empty() && o["metadata"].value("namespace", "") != info.namespace_)
      continue;
    if (labels.Matches(o) && fields.Matches(o)) victims.push_back(o);
  }
  json items = json::array();
  for (const auto& v : victims) {
    json out;
    DeleteLocked(info, v, json::object(), &out);
    items.push_back(ToExternal(*info.type, out));
  }
  return JsonOut(200, {{"apiVersion", info.type->ApiVersion()},
                       {"kind", info.type->list_kind},
                       {"metadata", {{"resourceVersion", std::to_string(rv_)}}},
                       {"items", items}});
}

void ApiServer::MaybeFinishNamespaceLocked(const std::string& ns) {
  if (ns.empty()) return;
  auto& nss = objects_["/namespaces"];
  auto it = nss.find(ObjKey("", ns));
  if (it == nss.end() || !it->second["metadata"].contains("deletionTimestamp")) return;
  for (const auto& [sk, objs] : objects_) {
    for (const auto& [k, o] : objs) {
      if (o["metadata"].value("namespace", "") == ns) return;
    }
  }
  json old = it->second;
  json obj = old;
  CommitLocked("/namespaces", ObjKey("", ns), "DELETED", &obj, old);
}

void ApiServer::AfterCrdChangeLocked(const std::string& type, const json& crd) {
  if (type == "DELETED") {
    const json& spec = crd["spec"];
    std::string sk = spec.value("group", "") + "/" + spec["names"].value("plural", "");
    std::vector<std::pair<std::string, json>> victims(objects_[sk].begin(), objects_[sk].end());
    for (auto& [k, o] : victims) {
      json obj = o;
      CommitLocked(sk, k, "DELETED", &obj, o);
    }
    objects_.erase(sk);
    registry_.UnregisterCrd(crd["metadata"].value("name", ""));
    return;
  }
  std::string err;
  registry_.RegisterCrd(crd, &err);
}

}  // namespace pygrid::sim::kube
