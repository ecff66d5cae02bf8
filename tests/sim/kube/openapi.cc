// OpenAPI v3 discovery as kube-apiserver serves it (k8s.io/kube-openapi/pkg/handler3):
// GET /openapi/v3 lists {"paths": {"apis/<g>/<v>": {"serverRelativeURL": "...?hash=..."}}};
// each group-version document has components.schemas keyed by the reversed-group definition
// name with x-kubernetes-group-version-kind, and paths whose PATCH operations declare the
// fieldValidation query parameter (kubectl's QueryParamVerifierV3 looks for it before using
// server-side field validation). CRD schemas are published as written, metadata replaced by a
// reference to ObjectMeta (apiextensions-apiserver pkg/controller/openapi/builder).
#include <functional>
#include <iomanip>
#include <sstream>

#include "sim/kube/api_server.h"
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

}  // namespace

HttpResponse ApiServer::OpenApi(const HttpRequest& req) {
  std::string p = req.path;
  std::lock_guard<std::mutex> lock(mu_);
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
           << std::hash<std::string>{}(doc_for(g, v).dump());
      paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + hash.str()}};
    }
    return HttpResponse::Text(200, "application/json", json{{"paths", paths}}.dump());
  }
  std::string rest = p.substr(std::string("/openapi/v3/").size());
  std::vector<std::string> segs;
  std::stringstream ss(rest);
  std::string seg;
  while (std::getline(ss, seg, '/')) segs.push_back(seg);
  if (p.rfind("/openapi/v3/", 0) == 0) {
    if (segs.size() == 2 && segs[0] == "api" && registry_.HasGroupVersion("", segs[1])) {
      return HttpResponse::Text(200, "application/json", doc_for("", segs[1]).dump());
    }
    if (segs.size() == 3 && segs[0] == "apis" && registry_.HasGroupVersion(segs[1], segs[2])) {
      return HttpResponse::Text(200, "application/json", doc_for(segs[1], segs[2]).dump());
    }
  }
  return ErrorResponse(404, "NotFound", "the server could not find the requested resource");
}

}  // namespace pygrid::sim::kube
