// Routing, authentication, discovery and the /_sim/ control API. Request paths follow
// https://kubernetes.io/docs/reference/using-api/api-concepts/ (resource URIs, verbs);
// error bodies follow metav1.Status as built by k8s.io/apimachinery/pkg/api/errors.
#include "sim/kube/api_server.h"

#include <chrono>
#include <sstream>
#include <thread>

#include "sim/kube/protobuf.h"

namespace pygrid::sim::kube {

namespace {

const char* ReasonForCode(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "";
  }
}

HttpResponse JsonResponse(int code, const json& body) {
  return HttpResponse::Text(code, "application/json", DumpJson(body));
}

}  // namespace

ApiServer::ApiServer(ApiServerOptions options) : options_(std::move(options)) {
  std::lock_guard<std::mutex> lock(mu_);
  ResetLocked();
  // SubjectAccessReviews are decided by the same RBAC as requests; the reviews call this
  // without holding their own lock.
  reviews_.SetAuthorizer([this](const UserInfo& user, const RequestAttributes& attributes) {
    std::lock_guard<std::mutex> guard(mu_);
    return AuthorizeLocked(user, attributes);
  });
}

Decision ApiServer::AuthorizeLocked(const UserInfo& user,
                                    const RequestAttributes& attributes) const {
  RbacPolicy policy;
  auto stored = [&](const std::string& plural) -> const ObjectMap* {
    auto it = objects_.find("rbac.authorization.k8s.io/" + plural);
    return it == objects_.end() ? nullptr : &it->second;
  };
  if (const ObjectMap* roles = stored("clusterroles")) {
    for (const auto& [key, role] : *roles) policy.cluster_roles[key.substr(1)] = &role;
  }
  if (const ObjectMap* roles = stored("roles")) {
    for (const auto& [key, role] : *roles) policy.roles[key] = &role;
  }
  if (const ObjectMap* bindings = stored("clusterrolebindings")) {
    for (const auto& [key, binding] : *bindings) policy.cluster_role_bindings.push_back(&binding);
  }
  if (const ObjectMap* bindings = stored("rolebindings")) {
    for (const auto& [key, binding] : *bindings) policy.role_bindings.push_back(&binding);
  }
  const std::vector<json> grants = reviews_.GrantObjects();
  for (const json& object : grants) {
    if (object["kind"] == "ClusterRole") {
      policy.cluster_roles[object["metadata"]["name"]] = &object;
    } else {
      policy.cluster_role_bindings.push_back(&object);
    }
  }
  return Authorize(policy, user, attributes);
}

ApiServer::~ApiServer() { Shutdown(); }

void ApiServer::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  ++watch_epoch_;
  cv_.notify_all();
}

void ApiServer::ResetLocked() {
  // Objects go, the resourceVersion keeps increasing (clients may hold old ones), and every
  // watch ends because its history is gone.
  objects_.clear();
  registry_ = Registry();
  history_.clear();
  if (rv_ == 0) rv_ = 100;
  faults_.clear();
  latencies_.clear();
  request_log_.clear();
  reviews_.Reset();
  ++watch_epoch_;
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    json obj = {{"apiVersion", "v1"},
                {"kind", "Namespace"},
                {"metadata",
                 {{"name", ns},
                  {"uid", NewUid()},
                  {"creationTimestamp", FormatTime(std::chrono::system_clock::now())},
                  {"labels", {{"kubernetes.io/metadata.name", ns}}}}},
                {"spec", {{"finalizers", {"kubernetes"}}}},
                {"status", {{"phase", "Active"}}}};
    CommitLocked("/namespaces", std::string("/") + ns, "ADDED", &obj, nullptr);
  }
  history_.clear();
  compacted_rv_ = rv_;
  cv_.notify_all();
}

HttpResponse ApiServer::ErrorResponse(int code, const std::string& reason,
                                      const std::string& message, const json& details) const {
  return JsonResponse(code, StatusBody(code, reason, message, details));
}

json ApiServer::DetailsFor(const RequestInfo& info, const std::string& name) const {
  json d = {{"name", name}, {"kind", info.plural}};
  if (!info.group.empty()) d["group"] = info.group;
  return d;
}

HttpResponse ApiServer::NotFound(const RequestInfo& info, const std::string& name) const {
  std::string qualified = info.group.empty() ? info.plural : info.plural + "." + info.group;
  return ErrorResponse(404, "NotFound", qualified + " \"" + name + "\" not found",
                       DetailsFor(info, name));
}

bool ApiServer::WantsTable(const HttpRequest& req) const {
  return req.Header("Accept").find("as=Table") != std::string::npos;
}

HttpResponse ApiServer::Handle(const HttpRequest& raw) {
  // Go keeps invalid UTF-8 from a URL in its strings and replaces it when encoding JSON;
  // replacing it up front gives the same answers and keeps every string kube-sim stores or
  // prints valid (nlohmann::json refuses to dump invalid UTF-8).
  HttpRequest req = raw;
  req.target = ToValidUtf8(raw.target);
  req.path = ToValidUtf8(raw.path);
  req.query.clear();
  for (const auto& [k, v] : raw.query) req.query.emplace(ToValidUtf8(k), ToValidUtf8(v));
  for (auto& [k, v] : req.headers) v = ToValidUtf8(v);
  if (req.path.rfind("/_sim/", 0) == 0) return HandleSim(req);
  RequestInfo info;
  HttpResponse resp;
  const std::string auth = req.Header("Authorization");
  // What RBAC sees of the request, logged for every request (the admin's too).
  const RequestAttributes attributes = AttributesOf(req.method, req.path, req.query);
  std::string username, authorization;
  try {
    UserInfo user;
    if (auth == "Bearer " + options_.token) {
      username = "kubernetes-admin";  // system:masters: never checked, as with a real cluster
      info.user = AccessReviews::Admin();
      resp = Route(req, &info);
    } else if (auth.rfind("Bearer ", 0) == 0 && reviews_.Authenticate(auth.substr(7), &user)) {
      username = user.name;
      info.user = user;
      Decision decision;
      {
        std::lock_guard<std::mutex> lock(mu_);
        decision = AuthorizeLocked(user, attributes);
      }
      authorization = decision.allowed ? decision.reason : "forbidden";
      if (decision.allowed) {
        resp = Route(req, &info);
      } else {
        resp = JsonResponse(403, ForbiddenStatus(user, attributes, decision.reason));
        info.verb = attributes.verb;  // for the log, as if routed
        info.group = attributes.group;
        info.plural = attributes.resource;
        info.subresource = attributes.subresource;
        info.namespace_ = attributes.namespace_;
        info.name = attributes.name;
      }
    } else {
      resp = ErrorResponse(401, "Unauthorized", "Unauthorized");
    }
  } catch (const std::exception& e) {
    // A kube-sim bug, not a client error: answered as the apiserver's panic recovery does
    // (500 InternalError), so the fuzz test and the request log show it.
    resp = ErrorResponse(500, "InternalError",
                         std::string("Internal error occurred: kube-sim: ") + e.what());
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::string path = req.target.substr(0, req.target.find('?'));
  std::string query =
      req.target.find('?') == std::string::npos ? "" : req.target.substr(req.target.find('?') + 1);
  request_log_.push_back({{"verb", info.verb},
                          {"method", req.method},
                          {"path", path},
                          {"query", query},
                          {"code", resp.status},
                          {"resource", info.plural},
                          {"subresource", info.subresource},
                          {"namespace", info.namespace_},
                          {"name", info.name},
                          {"user", username},
                          {"attributes", ReviewAttributes(attributes)},
                          {"authorization", authorization},
                          {"userAgent", req.Header("User-Agent")},
                          {"time", FormatMicroTime(std::chrono::system_clock::now())}});
  if (request_log_.size() > 10000) request_log_.erase(request_log_.begin());
  return resp;
}

HttpResponse ApiServer::Route(const HttpRequest& req, RequestInfo* info) {
  bool handled = false;
  HttpResponse disc = Discovery(req, &handled);
  if (handled) return disc;
  if (req.path.rfind("/openapi/", 0) == 0) return OpenApi(req);
  HttpResponse error;
  if (!ParseResourcePath(req, info, &error)) return error;
  if (req.body_too_large && info->verb != "get" && info->verb != "list" && info->verb != "watch") {
    // limitedReadBody in k8s.io/apiserver pkg/endpoints/handlers/rest.go, via
    // errors.NewRequestEntityTooLargeError.
    return ErrorResponse(
        413, "RequestEntityTooLarge",
        "Request entity too large: limit is " + std::to_string(kMaxRequestBodyBytes));
  }
  HttpRequest json_req;
  if (req.Header("Content-Type").find("protobuf") != std::string::npos) {
    // kubectl's generators (create configmap|secret|namespace) post protobuf.
    json decoded;
    std::string err;
    if (!DecodeKubernetesProtobuf(req.body, &decoded, &err)) {
      return ErrorResponse(415, "UnsupportedMediaType", err);
    }
    json_req = req;
    // Protobuf strings are bytes; as JSON they are valid UTF-8 (invalid bytes replaced).
    json_req.body = decoded.dump(-1, ' ', false, json::error_handler_t::replace);
    for (auto& [k, v] : json_req.headers) {
      if (k.size() == 12 && (k[0] == 'C' || k[0] == 'c') && k.substr(1) == "ontent-Type") {
        v = "application/json";
      }
    }
  }
  const HttpRequest& r = json_req.method.empty() ? req : json_req;
  int delay = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    HttpResponse fault;
    if (MatchFault(*info, &fault)) return fault;
    delay = LatencyFor(*info);
  }
  if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  const std::string& v = info->verb;
  if (IsAccessReview(*info->type)) return reviews_.Review(r, *info->type, v, info->user);
  if (v == "get") return Get(r, *info);
  if (v == "list") return List(r, *info);
  if (v == "watch") return Watch(r, *info);
  if (v == "create") return Create(r, *info);
  if (v == "update") return Update(r, *info);
  if (v == "patch") return Patch(r, *info);
  if (v == "delete") return Delete(r, *info);
  if (v == "deletecollection") return DeleteCollection(r, *info);
  return ErrorResponse(405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource");
}

bool ApiServer::ParseResourcePath(const HttpRequest& req, RequestInfo* info, HttpResponse* error) {
  std::vector<std::string> segs = SplitPath(req.path);
  size_t i = 0;
  if (segs.size() >= 2 && segs[0] == "api") {
    info->version = segs[1];
    i = 2;
  } else if (segs.size() >= 3 && segs[0] == "apis") {
    info->group = segs[1];
    info->version = segs[2];
    i = 3;
  } else {
    *error = ErrorResponse(404, "NotFound", "the server could not find the requested resource");
    return false;
  }
  std::vector<std::string> rest(segs.begin() + static_cast<long>(i), segs.end());
  if (rest.empty()) {
    *error = ErrorResponse(404, "NotFound", "the server could not find the requested resource");
    return false;
  }
  if (rest[0] == "namespaces" && rest.size() >= 3 && rest[2] != "status" && rest[2] != "finalize") {
    info->namespace_ = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  info->plural = rest[0];
  if (rest.size() > 1) info->name = rest[1];
  if (rest.size() > 2) info->subresource = rest[2];
  if (rest.size() > 3) {
    *error = ErrorResponse(404, "NotFound", "the server could not find the requested resource");
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    info->type = registry_.Find(info->group, info->version, info->plural);
  }
  if (!info->type) {
    *error = ErrorResponse(404, "NotFound", "the server could not find the requested resource");
    return false;
  }
  const ResourceType& type = *info->type;
  if (!info->subresource.empty() && !(info->subresource == "status" && type.status_subresource) &&
      !(info->subresource == "scale" && type.scale)) {
    // crdHandler answers a subresource its CRD does not serve with the object's NotFound.
    *error = type.builtin ? ErrorResponse(404, "NotFound",
                                          "the server could not find the requested resource")
                          : NotFound(*info, info->name);
    return false;
  }
  const std::string& m = req.method;
  bool named = !info->name.empty();
  if (m == "GET") {
    info->verb = named ? "get" : IsTrue(req.Query("watch")) ? "watch" : "list";
  } else if (m == "POST" && !named) {
    info->verb = "create";
  } else if (m == "PUT" && named) {
    info->verb = "update";
  } else if (m == "PATCH" && named) {
    info->verb = "patch";
  } else if (m == "DELETE") {
    info->verb = named ? "delete" : "deletecollection";
  } else {
    *error = ErrorResponse(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource");
    return false;
  }
  if (!type.builtin && !info->subresource.empty() && info->verb != "get" &&
      info->verb != "update" && info->verb != "patch") {
    // serveStatus and serveScale: errors.NewMethodNotSupported for any other verb.
    *error = ErrorResponse(
        405, "MethodNotAllowed",
        info->verb + " is not supported on resources of kind \"" + type.QualifiedResource() + "\"",
        {{"group", type.group}, {"kind", type.plural}});
    return false;
  }
  if (!info->type->namespaced && !info->namespace_.empty()) {
    *error = ErrorResponse(404, "NotFound", "the server could not find the requested resource");
    return false;
  }
  return true;
}

bool ApiServer::MatchFault(const RequestInfo& info, HttpResponse* out) {
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    Fault& f = *it;
    if (f.verb != "*" && f.verb != info.verb) continue;
    std::string res = info.plural + (info.subresource.empty() ? "" : "/" + info.subresource);
    if (f.resource != "*" && f.resource != info.plural && f.resource != res) continue;
    if (!f.namespace_.empty() && f.namespace_ != info.namespace_) continue;
    if (!f.name.empty() && f.name != info.name) continue;
    std::string reason = ReasonForCode(f.code);
    std::string message = f.message;
    json details = nullptr;
    if (message.empty()) {
      std::string qualified = info.group.empty() ? info.plural : info.plural + "." + info.group;
      switch (f.code) {
        case 409:
          message = "Operation cannot be fulfilled on " + qualified + " \"" + info.name +
                    "\": the object has been modified; please apply your changes to the latest "
                    "version and try again";
          details = DetailsFor(info, info.name);
          break;
        case 429:
          message = "Too many requests, please try again later.";
          break;
        case 500:
          message = "Internal error occurred: injected by kube-sim";
          break;
        case 503:
          message = "The server is currently unable to handle the request";
          break;
        default:
          message = "injected by kube-sim";
      }
    }
    if (f.retry_after > 0) {
      if (details.is_null()) details = json::object();
      details["retryAfterSeconds"] = f.retry_after;
    }
    *out = ErrorResponse(f.code, reason, message, details);
    if (f.retry_after > 0) out->With("Retry-After", std::to_string(f.retry_after));
    if (--f.remaining <= 0) faults_.erase(it);
    return true;
  }
  return false;
}

int ApiServer::LatencyFor(const RequestInfo& info) {
  int total = 0;
  for (const auto& l : latencies_) {
    if ((l.verb == "*" || l.verb == info.verb) &&
        (l.resource == "*" || l.resource == info.plural)) {
      total += l.milliseconds;
    }
  }
  return total;
}

HttpResponse ApiServer::Discovery(const HttpRequest& req, bool* handled) {
  *handled = true;
  const std::string& p = req.path;
  if (p == "/healthz" || p == "/readyz" || p == "/livez") {
    return HttpResponse::Text(200, "text/plain; charset=utf-8", "ok");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (p == "/version") {
    return JsonResponse(200, {{"major", "1"},
                              {"minor", "32"},
                              {"gitVersion", "v1.32.0-kube-sim"},
                              {"gitCommit", "0000000000000000000000000000000000000000"},
                              {"gitTreeState", "clean"},
                              {"buildDate", "2026-01-01T00:00:00Z"},
                              {"goVersion", "go1.23.0"},
                              {"compiler", "gc"},
                              {"platform", "linux/amd64"}});
  }
  if (p == "/api") return JsonResponse(200, registry_.ApiVersions());
  if (p == "/apis") return JsonResponse(200, registry_.ApiGroupList());
  std::vector<std::string> segs = SplitPath(p);
  if (segs.size() == 2 && segs[0] == "api") {
    if (!registry_.HasGroupVersion("", segs[1])) *handled = false;
    return *handled ? JsonResponse(200, registry_.ResourceList("", segs[1])) : HttpResponse{};
  }
  if (segs.size() == 2 && segs[0] == "apis") {
    json groups = registry_.ApiGroupList()["groups"];
    for (const auto& g : groups) {
      if (g["name"] == segs[1]) {
        json out = g;
        out["kind"] = "APIGroup";
        out["apiVersion"] = "v1";
        return JsonResponse(200, out);
      }
    }
    return ErrorResponse(404, "NotFound", "the server could not find the requested resource");
  }
  if (segs.size() == 3 && segs[0] == "apis") {
    if (!registry_.HasGroupVersion(segs[1], segs[2])) {
      return ErrorResponse(404, "NotFound", "the server could not find the requested resource");
    }
    json list = registry_.ResourceList(segs[1], segs[2]);
    RestrictAccessReviewVerbs(&list);
    return JsonResponse(200, list);
  }
  *handled = false;
  return {};
}

HttpResponse ApiServer::HandleSim(const HttpRequest& req) {
  const std::string& p = req.path;
  const std::string& m = req.method;
  if (req.body_too_large) return JsonResponse(413, {{"error", "body too large"}});
  json body = json::object();
  if (!req.body.empty()) {
    std::string err;
    if (!ParseBody(req.body, &body, &err)) {
      return JsonResponse(400, {{"error", "body is not JSON: " + err}});
    }
  }
  int closed = 0;
  std::unique_lock<std::mutex> lock(mu_);
  if (p == "/_sim/healthz") return JsonResponse(200, {{"ok", true}});
  if (p == "/_sim/state" && m == "GET") {
    json counts = json::object();
    for (const auto& [k, objs] : objects_) counts[k] = objs.size();
    return JsonResponse(200, {{"resourceVersion", std::to_string(rv_)},
                              {"compactedResourceVersion", std::to_string(compacted_rv_)},
                              {"historySize", history_.size()},
                              {"openWatches", open_watches_},
                              {"objects", counts}});
  }
  if (p == "/_sim/close-watches" && m == "POST") {
    closed = open_watches_;
    ++watch_epoch_;
    cv_.notify_all();
    return JsonResponse(200, {{"closed", closed}});
  }
  if (p == "/_sim/bookmark" && m == "POST") {
    ++bookmark_epoch_;
    cv_.notify_all();
    return JsonResponse(200, {{"resourceVersion", std::to_string(rv_)}});
  }
  if (p == "/_sim/compact" && m == "POST") {
    history_.clear();
    compacted_rv_ = rv_;
    cv_.notify_all();
    return JsonResponse(200, {{"compactedResourceVersion", std::to_string(compacted_rv_)}});
  }
  if (p == "/_sim/faults") {
    if (m == "POST") {
      Fault f;
      f.verb = body.value("verb", "*");
      f.resource = body.value("resource", "*");
      f.namespace_ = body.value("namespace", "");
      f.name = body.value("name", "");
      f.code = body.value("code", 500);
      f.remaining = body.value("count", 1);
      f.retry_after = body.value("retryAfterSeconds", f.code == 429 ? 1 : 0);
      f.message = body.value("message", "");
      faults_.push_back(f);
      return JsonResponse(201, {{"faults", faults_.size()}});
    }
    if (m == "DELETE") {
      faults_.clear();
      return JsonResponse(200, {{"faults", 0}});
    }
    json out = json::array();
    for (const auto& f : faults_) {
      out.push_back({{"verb", f.verb},
                     {"resource", f.resource},
                     {"namespace", f.namespace_},
                     {"name", f.name},
                     {"code", f.code},
                     {"count", f.remaining},
                     {"retryAfterSeconds", f.retry_after}});
    }
    return JsonResponse(200, {{"faults", out}});
  }
  if (p == "/_sim/latency") {
    if (m == "POST") {
      latencies_.push_back(
          {body.value("verb", "*"), body.value("resource", "*"), body.value("milliseconds", 0)});
      return JsonResponse(201, {{"rules", latencies_.size()}});
    }
    if (m == "DELETE") {
      latencies_.clear();
      return JsonResponse(200, {{"rules", 0}});
    }
  }
  if (p == "/_sim/requests") {
    if (m == "DELETE") {
      request_log_.clear();
      return JsonResponse(200, {{"requests", 0}});
    }
    return JsonResponse(200, {{"requests", request_log_}});
  }
  if (p == "/_sim/reset" && m == "POST") {
    ResetLocked();
    return JsonResponse(200, {{"resourceVersion", std::to_string(rv_)}});
  }
  if (p == "/_sim/identities" || p == "/_sim/grants") return reviews_.Control(m, p, body);
  return JsonResponse(404, {{"error", "unknown control endpoint " + m + " " + p}});
}

}  // namespace pygrid::sim::kube
