// OpenAPI v3 discovery as kube-apiserver serves it (k8s.io/kube-openapi/pkg/handler3):
// GET /openapi/v3 lists {"paths": {"apis/<g>/<v>": {"serverRelativeURL": "...?hash=..."}}};
// each group-version document has components.schemas keyed by the reversed-group definition
// name with x-kubernetes-group-version-kind, and paths whose PATCH operations declare the
// fieldValidation query parameter (kubectl's QueryParamVerifierV3 looks for it before using
// server-side field validation). CRD schemas are published as written, metadata replaced by a
// reference to ObjectMeta (apiextensions-apiserver pkg/controller/openapi/builder).
//
// OpenAPI v2 (k8s.io/kube-openapi/pkg/handler): GET /openapi/v2 is one Swagger 2.0 document for
// every group-version, as JSON or, when the Accept header asks for
// application/com.github.proto-openapi.spec.v2@v1.0+protobuf, as the gnostic protobuf that
// client-go's OpenAPISchema() decodes. kubectl 1.32 falls back to it (QueryParamVerifier) when
// a kind's group-version is served but the kind is not in the v3 document, and `kubectl explain
// --output plaintext-openapiv2` reads it. CRD schemas are published the way
// apiextensions-apiserver's v2 builder does (pkg/controller/openapi/v2 ToStructuralOpenAPIV2:
// no allOf/anyOf/oneOf/not, nullable fields untyped, preserve-unknown-fields without
// properties/items, arrays without items untyped).
#include <algorithm>
#include <functional>
#include <iomanip>
#include <sstream>

#include "sim/kube/api_server.h"
#include "sim/kube/openapi_v2_proto.h"
#include "sim/kube/schema.h"

namespace pygrid::sim::kube {

namespace {

const char* kObjectMetaRef = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

json ObjectMetaSchema() {
  auto str = [](const char* d) { return json{{"type", "string"}, {"description", d}}; };
  return {
      {"type", "object"},
      {"description",
       "ObjectMeta is metadata that all persisted resources must have, which includes all "
       "objects users must create."},
      {"properties",
       {{"name", str("Name must be unique within a namespace.")},
        {"namespace", str("Namespace defines the space within which each name must be unique.")},
        {"generateName", str("GenerateName is an optional prefix, used by the server, to "
                             "generate a unique name ONLY IF the Name field has not been "
                             "provided.")},
        {"uid", str("UID is the unique in time and space value for this object.")},
        {"resourceVersion", str("An opaque value that represents the internal version of this "
                                "object.")},
        {"generation",
         {{"type", "integer"},
          {"format", "int64"},
          {"description",
           "A sequence number representing a specific generation "
           "of the desired state."}}},
        {"creationTimestamp", str("CreationTimestamp is a timestamp representing the server "
                                  "time when this object was created.")},
        {"deletionTimestamp", str("DeletionTimestamp is RFC 3339 date and time at which this "
                                  "resource will be deleted.")},
        {"labels",
         {{"type", "object"},
          {"additionalProperties", {{"type", "string"}, {"default", ""}}},
          {"description",
           "Map of string keys and values that can be used to "
           "organize and categorize (scope and select) objects."}}},
        {"annotations",
         {{"type", "object"},
          {"additionalProperties", {{"type", "string"}, {"default", ""}}},
          {"description", "Annotations is an unstructured key value map."}}},
        {"finalizers",
         {{"type", "array"},
          {"items", {{"type", "string"}, {"default", ""}}},
          {"description",
           "Must be empty before the object is deleted from the "
           "registry."}}}}}};
}

json Gvk(const ResourceType& t) {
  return json::array({{{"group", t.group}, {"version", t.version}, {"kind", t.kind}}});
}

json Operation(const ResourceType& t, const std::string& id, bool with_field_validation) {
  json params = json::array();
  params.push_back({{"name", "dryRun"}, {"in", "query"}, {"schema", {{"type", "string"}}}});
  params.push_back({{"name", "fieldManager"}, {"in", "query"}, {"schema", {{"type", "string"}}}});
  if (with_field_validation) {
    params.push_back({{"name", "fieldValidation"},
                      {"in", "query"},
                      {"description",
                       "fieldValidation instructs the server on how to handle "
                       "objects in the request containing unknown or duplicate "
                       "fields."},
                      {"schema", {{"type", "string"}, {"uniqueItems", true}}}});
  }
  return {{"operationId", id},
          {"parameters", params},
          {"responses", {{"200", {{"description", "OK"}}}}},
          {"x-kubernetes-action", "patch"},
          {"x-kubernetes-group-version-kind", Gvk(t)[0]}};
}

const char* kObjectMetaRefV2 = "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
// kube-openapi's handler answers either accepted spelling (@v1.0 or .v1.0) with the dotted one:
// '@' is not a token character, and Go's mime.ParseMediaType in client-go rejects it.
const char* kOpenApiV2Protobuf = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

bool IsTrueFlag(const json& s, const char* key) {
  auto it = s.find(key);
  return it != s.end() && it->is_boolean() && it->get<bool>();
}

// ToStructuralOpenAPIV2 (apiextensions-apiserver pkg/controller/openapi/v2/conversion.go).
json ToOpenApiV2Schema(json s) {
  if (!s.is_object()) return s;
  for (const char* k : {"allOf", "oneOf", "anyOf", "not"}) s.erase(k);
  if (IsTrueFlag(s, "nullable")) {
    s.erase("type");
    s.erase("items");
    s.erase("properties");
  }
  s.erase("nullable");
  if (IsTrueFlag(s, "x-kubernetes-preserve-unknown-fields")) {
    s.erase("items");
    s.erase("properties");
  }
  if (!s.contains("items") && s.contains("type") && s["type"] == "array") s.erase("type");
  if (s.contains("properties") && s["properties"].is_object()) {
    for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) {
      if (IsTrueFlag(it.value(), "nullable") && s.contains("required") &&
          s["required"].is_array()) {
        json& req = s["required"];
        req.erase(std::remove(req.begin(), req.end(), json(it.key())), req.end());
        if (req.empty()) s.erase("required");
      }
      it.value() = ToOpenApiV2Schema(it.value());
    }
  }
  if (s.contains("additionalProperties") && s["additionalProperties"].is_object()) {
    if (IsTrueFlag(s["additionalProperties"], "nullable")) s.erase("required");
    s["additionalProperties"] = ToOpenApiV2Schema(s["additionalProperties"]);
  }
  if (s.contains("items") && s["items"].is_object()) s["items"] = ToOpenApiV2Schema(s["items"]);
  return s;
}

json V2Parameter(const char* name, const char* in, const char* description, bool required) {
  json p = {{"name", name}, {"in", in}, {"type", "string"}, {"uniqueItems", true}};
  if (description[0] != '\0') p["description"] = description;
  if (required) p["required"] = true;
  return p;
}

// One Swagger 2.0 operation on `t`; writes carry the body and the dryRun, fieldManager and
// fieldValidation query parameters kubectl looks for.
json V2Operation(const ResourceType& t, const std::string& action, const std::string& verb_id,
                 const json& body_schema, bool write) {
  json params = json::array();
  if (write) {
    params.push_back(
        {{"name", "body"}, {"in", "body"}, {"required", true}, {"schema", body_schema}});
    params.push_back(V2Parameter("dryRun", "query",
                                 "When present, indicates that modifications "
                                 "should not be persisted.",
                                 false));
    params.push_back(V2Parameter("fieldManager", "query",
                                 "fieldManager is a name associated "
                                 "with the actor or entity that is making these changes.",
                                 false));
    params.push_back(V2Parameter("fieldValidation", "query",
                                 "fieldValidation instructs the server on how to handle objects "
                                 "in the request containing unknown or duplicate fields.",
                                 false));
  }
  return {{"operationId", verb_id + (t.group.empty() ? "Core" : "") + t.kind},
          {"consumes", {"*/*"}},
          {"produces", {"application/json", "application/yaml"}},
          {"schemes", {"https"}},
          {"parameters", params},
          {"responses",
           {{"200", {{"description", "OK"}, {"schema", body_schema}}},
            {"401", {{"description", "Unauthorized"}}}}},
          {"x-kubernetes-action", action},
          {"x-kubernetes-group-version-kind",
           {{"group", t.group}, {"version", t.version}, {"kind", t.kind}}}};
}

// autoscaling/v1 Scale, ScaleSpec and ScaleStatus as kube-apiserver publishes them (the body
// of every CRD's /scale path; apiextensions-apiserver's builder names the Go type), with
// references under `prefix` ("#/definitions/" or "#/components/schemas/"). v3 wraps references
// in allOf, as kube-openapi's v3 builder does.
json ScaleDefinitions(const std::string& prefix, bool v3) {
  auto ref = [&](const std::string& name, const char* description) {
    json r = {{"description", description}};
    if (v3) {
      r["allOf"] = json::array({{{"$ref", prefix + name}}});
      r["default"] = json::object();
    } else {
      r["$ref"] = prefix + name;
    }
    return r;
  };
  auto int32 = [](const char* description) {
    return json{{"type", "integer"}, {"format", "int32"}, {"description", description}};
  };
  return {
      {"io.k8s.api.autoscaling.v1.Scale",
       {{"description", "Scale represents a scaling request for a resource."},
        {"type", "object"},
        {"properties",
         {{"apiVersion",
           {{"type", "string"},
            {"description",
             "APIVersion defines the versioned schema of this representation of an object."}}},
          {"kind",
           {{"type", "string"},
            {"description",
             "Kind is a string value representing the REST resource this object represents."}}},
          {"metadata", ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                           "Standard object metadata; More info: https://git.k8s.io/community/"
                           "contributors/devel/sig-architecture/api-conventions.md#metadata.")},
          {"spec",
           ref("io.k8s.api.autoscaling.v1.ScaleSpec", "spec defines the behavior of the scale.")},
          {"status", ref("io.k8s.api.autoscaling.v1.ScaleStatus",
                         "status is the current status of the scale. Read-only.")}}},
        {"x-kubernetes-group-version-kind",
         json::array({{{"group", "autoscaling"}, {"kind", "Scale"}, {"version", "v1"}}})}}},
      {"io.k8s.api.autoscaling.v1.ScaleSpec",
       {{"description", "ScaleSpec describes the attributes of a scale subresource."},
        {"type", "object"},
        {"properties",
         {{"replicas", int32("replicas is the desired number of instances for the scaled "
                             "object.")}}}}},
      {"io.k8s.api.autoscaling.v1.ScaleStatus",
       {{"description", "ScaleStatus represents the current status of a scale subresource."},
        {"type", "object"},
        {"required", {"replicas"}},
        {"properties",
         {{"replicas", int32("replicas is the actual number of observed instances of the "
                             "scaled object.")},
          {"selector",
           {{"type", "string"},
            {"description",
             "selector is the label query over pods that should match the replicas count."}}}}}}}};
}

}  // namespace

json ApiServer::OpenApiV2DocumentLocked() const {
  json paths = json::object();
  json definitions = {{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", ObjectMetaSchema()}};
  for (const auto& [group, version] : registry_.GroupVersions()) {
    for (const auto& tp : registry_.TypesOf(group, version)) {
      const ResourceType& t = *tp;
      const std::string def = OpenApiDefinitionName(t.group, t.version, t.kind);
      // Built-in kinds come from kubectl's compiled-in scheme; only CRD kinds get definitions.
      const json body =
          t.builtin ? json{{"type", "object"}} : json{{"$ref", "#/definitions/" + def}};
      std::string prefix = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
      std::string collection =
          prefix + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.plural;
      json path_params = json::array({V2Parameter("name", "path", "name of the object", true)});
      if (t.namespaced) {
        path_params.push_back(V2Parameter("namespace", "path", "object name and auth scope", true));
      }
      paths[collection + "/{name}"] = {{"get", V2Operation(t, "get", "read", body, false)},
                                       {"put", V2Operation(t, "put", "replace", body, true)},
                                       {"patch", V2Operation(t, "patch", "patch", body, true)},
                                       {"delete", V2Operation(t, "delete", "delete", body, false)},
                                       {"parameters", path_params}};
      json collection_params = json::array();
      if (t.namespaced) collection_params.push_back(path_params[1]);
      paths[collection] = {{"get", V2Operation(t, "list", "list", {{"type", "object"}}, false)},
                           {"post", V2Operation(t, "post", "create", body, true)},
                           {"parameters", collection_params}};
      if (t.status_subresource) {
        paths[collection + "/{name}/status"] = {
            {"get", V2Operation(t, "get", "read", body, false)},
            {"put", V2Operation(t, "put", "replace", body, true)},
            {"patch", V2Operation(t, "patch", "patch", body, true)},
            {"parameters", path_params}};
      }
      if (t.scale) {
        // The CRD builder's scale routes: read, replace and patch of an autoscaling/v1 Scale.
        const json scale = {{"$ref", "#/definitions/io.k8s.api.autoscaling.v1.Scale"}};
        json read = V2Operation(t, "get", "read", scale, false);
        json replace = V2Operation(t, "put", "replace", scale, true);
        json patch = V2Operation(t, "patch", "patch", scale, true);
        for (json* op : {&read, &replace, &patch}) {
          (*op)["operationId"] = (*op)["operationId"].get<std::string>() + "Scale";
        }
        paths[collection + "/{name}/scale"] = {
            {"get", read}, {"put", replace}, {"patch", patch}, {"parameters", path_params}};
        definitions.update(ScaleDefinitions("#/definitions/", false));
      }
      if (t.builtin) continue;
      json s = ToOpenApiV2Schema(t.schema.is_object() ? t.schema : json{{"type", "object"}});
      if (!s.contains("properties")) s["properties"] = json::object();
      s["properties"]["metadata"] = {{"description",
                                      "Standard object's metadata. More info: "
                                      "https://git.k8s.io/community/contributors/"
                                      "devel/sig-architecture/api-conventions.md#metadata"},
                                     {"$ref", kObjectMetaRefV2}};
      for (const char* k : {"apiVersion", "kind"}) {
        if (!s["properties"].contains(k)) s["properties"][k] = {{"type", "string"}};
      }
      s["x-kubernetes-group-version-kind"] = Gvk(t);
      definitions[def] = s;
      definitions[OpenApiDefinitionName(t.group, t.version, t.list_kind)] = {
          {"type", "object"},
          {"description", t.kind + "List is a list of " + t.kind},
          {"required", {"items"}},
          {"properties",
           {{"apiVersion", {{"type", "string"}}},
            {"kind", {{"type", "string"}}},
            {"items", {{"type", "array"}, {"items", {{"$ref", "#/definitions/" + def}}}}}}},
          {"x-kubernetes-group-version-kind",
           {{{"group", t.group}, {"version", t.version}, {"kind", t.list_kind}}}}};
    }
  }
  return {{"swagger", "2.0"},
          {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0-kube-sim"}}},
          {"paths", paths},
          {"definitions", definitions},
          {"securityDefinitions",
           {{"BearerToken",
             {{"type", "apiKey"},
              {"name", "authorization"},
              {"in", "header"},
              {"description", "Bearer Token authentication"}}}}},
          {"security", json::array({{{"BearerToken", json::array()}}})}};
}

HttpResponse ApiServer::OpenApi(const HttpRequest& req) {
  std::string p = req.path;
  std::lock_guard<std::mutex> lock(mu_);
  if (p == "/openapi/v2") {
    json doc = OpenApiV2DocumentLocked();
    if (req.Header("Accept").find("application/com.github.proto-openapi.spec.v2") !=
        std::string::npos) {
      return HttpResponse::Text(200, kOpenApiV2Protobuf, EncodeOpenApiV2Document(doc));
    }
    return HttpResponse::Text(200, "application/json", DumpJson(doc));
  }
  auto doc_for = [&](const std::string& group, const std::string& version) {
    json schemas = {{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", ObjectMetaSchema()}};
    json paths = json::object();
    for (const auto& tp : registry_.TypesOf(group, version)) {
      const ResourceType& t = *tp;
      std::string prefix = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
      std::string item =
          prefix + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.plural + "/{name}";
      json op = Operation(t, "patch" + t.kind, true);
      json get_op = op;
      get_op["x-kubernetes-action"] = "get";
      get_op["operationId"] = "read" + t.kind;
      paths[item] = {{"get", get_op}, {"patch", op}, {"put", op}};
      if (t.status_subresource) paths[item + "/status"] = {{"patch", op}};
      if (t.scale) {
        json scale_get = get_op;
        scale_get["operationId"] = "read" + t.kind + "Scale";
        json scale_patch = op;
        scale_patch["operationId"] = "patch" + t.kind + "Scale";
        paths[item + "/scale"] = {{"get", scale_get}, {"patch", scale_patch}, {"put", scale_patch}};
        schemas.update(ScaleDefinitions("#/components/schemas/", true));
      }
      if (t.builtin) continue;  // built-in kinds come from kubectl's compiled-in scheme
      json s = t.schema.is_object() ? t.schema : json{{"type", "object"}};
      if (!s.contains("properties")) s["properties"] = json::object();
      s["properties"]["metadata"] = {{"description",
                                      "Standard object's metadata. More info: "
                                      "https://git.k8s.io/community/contributors/"
                                      "devel/sig-architecture/api-conventions.md#metadata"},
                                     {"allOf", {{{"$ref", kObjectMetaRef}}}}};
      if (!s["properties"].contains("apiVersion")) {
        s["properties"]["apiVersion"] = {{"type", "string"},
                                         {"description",
                                          "APIVersion defines the versioned schema "
                                          "of this representation of an object."}};
      }
      if (!s["properties"].contains("kind")) {
        s["properties"]["kind"] = {{"type", "string"},
                                   {"description",
                                    "Kind is a string value representing the REST "
                                    "resource this object represents."}};
      }
      s["x-kubernetes-group-version-kind"] = Gvk(t);
      std::string def = OpenApiDefinitionName(t.group, t.version, t.kind);
      schemas[def] = s;
      json list = {{"type", "object"},
                   {"description", t.kind + "List is a list of " + t.kind},
                   {"required", {"items"}},
                   {"properties",
                    {{"apiVersion", {{"type", "string"}}},
                     {"kind", {{"type", "string"}}},
                     {"items",
                      {{"type", "array"},
                       {"items", {{"allOf", {{{"$ref", "#/components/schemas/" + def}}}}}}}}}},
                   {"x-kubernetes-group-version-kind",
                    {{{"group", t.group}, {"version", t.version}, {"kind", t.list_kind}}}}};
      schemas[OpenApiDefinitionName(t.group, t.version, t.list_kind)] = list;
    }
    return json{{"openapi", "3.0.0"},
                {"info", {{"title", "Kubernetes CRD Swagger"}, {"version", "v0.1.0"}}},
                {"paths", paths},
                {"components", {{"schemas", schemas}}}};
  };
  if (p == "/openapi/v3" || p == "/openapi/v3/") {
    json paths = json::object();
    for (const auto& [g, v] : registry_.GroupVersions()) {
      std::string key = g.empty() ? "api/" + v : "apis/" + g + "/" + v;
      std::ostringstream hash;
      hash << std::hex << std::uppercase << std::setw(16) << std::setfill('0')
           << std::hash<std::string>{}(DumpJson(doc_for(g, v)));
      paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + hash.str()}};
    }
    return HttpResponse::Text(200, "application/json", DumpJson(json{{"paths", paths}}));
  }
  const std::string v3_prefix = "/openapi/v3/";
  if (p.rfind(v3_prefix, 0) == 0) {
    std::vector<std::string> segs;
    std::stringstream ss(p.substr(v3_prefix.size()));
    std::string seg;
    while (std::getline(ss, seg, '/')) segs.push_back(seg);
    if (segs.size() == 2 && segs[0] == "api" && registry_.HasGroupVersion("", segs[1])) {
      return HttpResponse::Text(200, "application/json", DumpJson(doc_for("", segs[1])));
    }
    if (segs.size() == 3 && segs[0] == "apis" && registry_.HasGroupVersion(segs[1], segs[2])) {
      return HttpResponse::Text(200, "application/json", DumpJson(doc_for(segs[1], segs[2])));
    }
  }
  return ErrorResponse(404, "NotFound", "the server could not find the requested resource");
}

}  // namespace pygrid::sim::kube
