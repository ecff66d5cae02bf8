// Per-type normalisation, defaulting and validation on every write, and the events.k8s.io/v1
// <-> core/v1 Event conversion. Sources: apiextensions-apiserver customresource strategy
// (prune, default, validate; errors.NewInvalid message shape), core/v1 Secret stringData
// semantics (k8s.io/api/core/v1 types.go: "stringData ... merged into the data field on
// write"), namespace defaults (pkg/registry/core/namespace/strategy.go), CRD status conditions
// (apiextensions-apiserver pkg/controller/status/naming_controller.go and
// establish/establishing_controller.go), Event field mapping
// (pkg/apis/events/v1/conversion.go).
#include "sim/kube/api_server.h"
#include "sim/kube/go_regexp.h"
#include "sim/kube/scale.h"
#include "sim/kube/schema.h"

namespace pygrid::sim::kube {

namespace {

// k8s.io/apimachinery/pkg/util/validation: the RFC 1123 rules, evaluated in linear time (a
// std::regex over a long name recursed once per character and overflowed the stack).
GoRegexp MustCompile(const char* pattern) {
  GoRegexp re;
  std::string err;
  GoRegexp::Compile(pattern, &re, &err);  // constant patterns that compile
  return re;
}

const GoRegexp& Dns1123Subdomain() {
  static const GoRegexp re =
      MustCompile("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
  return re;
}

const GoRegexp& Dns1123Label() {
  static const GoRegexp re = MustCompile("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  return re;
}

// IsDNS1123Subdomain / IsDNS1123Label: the length error and the format error, each reported.
std::vector<std::string> NameErrors(const std::string& name, bool label_only) {
  std::vector<std::string> out;
  const size_t max = label_only ? 63 : 253;
  if (name.size() > max)
    out.push_back("must be no more than " + std::to_string(max) + " characters");
  if (!(label_only ? Dns1123Label() : Dns1123Subdomain()).Search(name)) {
    out.push_back(label_only
                      ? "a lowercase RFC 1123 label must consist of lower case "
                        "alphanumeric characters or '-', and must start and end "
                        "with an alphanumeric character (e.g. 'my-name',  or "
                        "'123-abc', regex used for validation is "
                        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
                      : "a lowercase RFC 1123 subdomain must consist of lower case "
                        "alphanumeric characters, '-' or '.', and must start and "
                        "end with an alphanumeric character (e.g. 'example.com', "
                        "regex used for validation is "
                        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  }
  return out;
}

// events.k8s.io/v1 field -> core/v1 field (pkg/apis/events/v1/conversion.go).
const std::vector<std::pair<std::string, std::string>>& EventFieldMap() {
  static const std::vector<std::pair<std::string, std::string>> m = {
      {"regarding", "involvedObject"},
      {"note", "message"},
      {"reportingController", "reportingComponent"},
      {"deprecatedSource", "source"},
      {"deprecatedFirstTimestamp", "firstTimestamp"},
      {"deprecatedLastTimestamp", "lastTimestamp"},
      {"deprecatedCount", "count"}};
  return m;
}

// Renames the field `from` of `obj` to `to` (when present).
void MoveField(json* obj, const std::string& from, const std::string& to) {
  if (!obj->contains(from)) return;
  (*obj)[to] = (*obj)[from];
  obj->erase(from);
}

}  // namespace

json ApiServer::ToExternal(const ResourceType& type, const json& stored) const {
  json out = stored;
  if (type.events_v1) {
    for (const auto& [v1, core] : EventFieldMap()) MoveField(&out, core, v1);
  }
  out["apiVersion"] = type.ApiVersion();
  out["kind"] = type.kind;
  return out;
}

json ApiServer::ToStored(const ResourceType& type, const json& external) const {
  json out = external;
  if (type.events_v1) {
    for (const auto& [v1, core] : EventFieldMap()) MoveField(&out, v1, core);
    out["apiVersion"] = "v1";
    out["kind"] = "Event";
  }
  return out;
}

bool ApiServer::AdmitLocked(const HttpRequest& req, const RequestInfo& info, json* obj,
                            std::vector<std::string>* warnings, HttpResponse* error) {
  const ResourceType& t = *info.type;
  json& meta = (*obj)["metadata"];
  const std::string name = meta.value("name", "");
  auto invalid = [&](const std::vector<FieldError>& errs) {
    std::string joined;
    json causes = json::array();
    for (const auto& e : errs) {
      if (!joined.empty()) joined += ", ";
      joined += e.field + ": " + e.message;
      causes.push_back({{"reason", e.reason}, {"message", e.message}, {"field", e.field}});
    }
    if (errs.size() > 1) joined = "[" + joined + "]";
    json details = {{"name", name}, {"kind", t.kind}, {"causes", causes}};
    if (!t.group.empty()) details["group"] = t.group;
    *error = ErrorResponse(422, "Invalid",
                           t.QualifiedKind() + " \"" + name + "\" is invalid: " + joined, details);
    return false;
  };

  // metadata.name: RFC 1123 subdomain for most types, RFC 1123 label for namespaces
  // (k8s.io/apimachinery/pkg/api/validation ValidateObjectMeta).
  bool label_only = t.kind == "Namespace";
  std::vector<FieldError> name_errs;
  for (const auto& what : NameErrors(name, label_only)) {
    name_errs.push_back({"metadata.name", "FieldValueInvalid",
                         "Invalid value: " + json(name).dump() + ": " + what});
  }
  if (!name_errs.empty()) return invalid(name_errs);
  // ValidateAnnotations (k8s.io/apimachinery/pkg/api/validation): keys and values together at
  // most 256 KiB (TotalAnnotationSizeLimitB).
  if (meta.contains("annotations") && meta["annotations"].is_object()) {
    size_t total = 0;
    for (auto it = meta["annotations"].begin(); it != meta["annotations"].end(); ++it) {
      total += it.key().size() +
               (it.value().is_string() ? it.value().get_ref<const std::string&>().size() : 0);
    }
    if (total > 256 * 1024) {
      return invalid({{"metadata.annotations", "FieldValueTooLong",
                       "Too long: may not be more than 262144 bytes"}});
    }
  }
  if (meta.contains("labels") && !meta["labels"].is_null()) {
    for (auto it = meta["labels"].begin(); it != meta["labels"].end(); ++it) {
      if (!it.value().is_string()) {
        *error =
            ErrorResponse(400, "BadRequest",
                          t.kind + " in version \"" + t.version + "\" cannot be handled as a " +
                              t.kind + ": json: cannot unmarshal " + it.value().type_name() +
                              " into Go struct field ObjectMeta.metadata.labels of type string");
        return false;
      }
    }
  }

  if (t.kind == "Secret" && t.builtin) {
    if (obj->value("type", "").empty()) (*obj)["type"] = "Opaque";
    if (obj->contains("data") && (*obj)["data"].is_object()) {
      for (auto it = (*obj)["data"].begin(); it != (*obj)["data"].end(); ++it) {
        std::string decoded;
        if (!it.value().is_string() || !Base64Decode(it.value().get<std::string>(), &decoded)) {
          *error = ErrorResponse(400, "BadRequest",
                                 "Secret in version \"v1\" cannot be handled as a Secret: illegal "
                                 "base64 data at input byte 0");
          return false;
        }
      }
    }
    if (obj->contains("stringData") && (*obj)["stringData"].is_object()) {
      for (auto it = (*obj)["stringData"].begin(); it != (*obj)["stringData"].end(); ++it) {
        (*obj)["data"][it.key()] = Base64Encode(
            it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
      }
    }
    obj->erase("stringData");
    // pkg/apis/core/validation ValidateSecret: the decoded data may total 1 MiB (MaxSecretSize).
    size_t total = 0;
    if (obj->contains("data") && (*obj)["data"].is_object()) {
      for (const auto& value : (*obj)["data"]) {
        std::string decoded;
        if (value.is_string() && Base64Decode(value.get<std::string>(), &decoded)) {
          total += decoded.size();
        }
      }
    }
    if (total > 1024 * 1024) {
      return invalid(
          {{"data", "FieldValueTooLong", "Too long: may not be more than 1048576 bytes"}});
    }
  } else if (t.kind == "Namespace" && t.builtin) {
    meta["labels"]["kubernetes.io/metadata.name"] = name;
    if (!obj->contains("spec") || !(*obj)["spec"].contains("finalizers")) {
      (*obj)["spec"]["finalizers"] = {"kubernetes"};
    }
    if (!obj->contains("status") || !(*obj)["status"].contains("phase")) {
      (*obj)["status"]["phase"] = "Active";
    }
  } else if (t.kind == "CustomResourceDefinition" && t.builtin) {
    Registry probe = registry_;
    std::string err;
    if (!probe.RegisterCrd(*obj, &err)) {
      return invalid({{"spec", "FieldValueInvalid", "Invalid value: " + err}});
    }
    json& spec = (*obj)["spec"];
    if (!spec.contains("conversion")) spec["conversion"] = {{"strategy", "None"}};
    json names = spec["names"];
    if (!names.contains("singular")) {
      std::string s = names.value("kind", "");
      for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      names["singular"] = s;
    }
    if (!names.contains("listKind")) names["listKind"] = names.value("kind", "") + "List";
    std::string now = FormatTime(std::chrono::system_clock::now());
    json stored_versions = json::array();
    for (const auto& v : spec["versions"]) {
      if (v.value("storage", false)) stored_versions.push_back(v.value("name", ""));
    }
    json old_status = obj->value("status", json::object());
    (*obj)["status"] = {{"acceptedNames", names},
                        {"storedVersions", stored_versions},
                        {"conditions",
                         {{{"type", "NamesAccepted"},
                           {"status", "True"},
                           {"reason", "NoConflicts"},
                           {"message", "no conflicts found"},
                           {"lastTransitionTime", now}},
                          {{"type", "Established"},
                           {"status", "True"},
                           {"reason", "InitialNamesAccepted"},
                           {"message", "the initial names have been accepted"},
                           {"lastTransitionTime", now}}}}};
    if (old_status.contains("conditions"))
      (*obj)["status"]["conditions"] = old_status["conditions"];
  }

  if (!t.builtin && t.schema.is_object()) {
    std::vector<std::string> pruned;
    PruneUnknownFields(t.schema, obj, &pruned);
    // Unknown metadata fields are dropped by the ObjectMeta decoder; labels etc. stay.
    std::string mode = req.Query("fieldValidation", "Warn");
    if (!pruned.empty() && mode == "Strict") {
      std::string list;
      for (const auto& p : pruned) {
        if (!list.empty()) list += ", ";
        list += "unknown field \"" + p + "\"";
      }
      *error = ErrorResponse(400, "BadRequest",
                             t.kind + " in version \"" + t.version + "\" cannot be handled as a " +
                                 t.kind + ": strict decoding error: " + list);
      return false;
    }
    if (mode != "Ignore") {
      for (const auto& p : pruned) warnings->push_back("unknown field \"" + p + "\"");
    }
    ApplyDefaults(t.schema, obj);
    std::vector<FieldError> errs = ValidateObject(t.schema, *obj);
    if (t.scale) {
      // customResourceValidator: the scale paths are checked after the schema, on every write.
      const std::vector<FieldError> scale_errs = ValidateScaleFields(*obj, *t.scale);
      errs.insert(errs.end(), scale_errs.begin(), scale_errs.end());
    }
    if (!errs.empty()) return invalid(errs);
  }
  return true;
}

}  // namespace pygrid::sim::kube
