// kube-sim's Kubernetes API: routing, authentication, the object store with a global
// resourceVersion and a bounded event history, CRUD/patch/list/watch handlers, discovery,
// OpenAPI v3, TokenReview/SubjectAccessReview, RBAC for the tokens of /_sim/identities, and the
// /_sim/ fault-injection API. Usage:
//
//   ApiServer api({.token = "t", .history = 1000});
//   HttpServer http(opts, [&](const HttpRequest& r) { return api.Handle(r); });
//   api.SetStreamCloser([&] { http.CloseStreams(); });
//
// Handle is thread-safe: one lock guards all state; watch streams wait on a condition variable.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "sim/common/http_server.h"
#include "sim/kube/access_reviews.h"
#include "sim/kube/patch.h"
#include "sim/kube/rbac.h"
#include "sim/kube/resource_types.h"
#include "sim/kube/util.h"

namespace pygrid::sim::kube {

// kube-apiserver's request body limit (k8s.io/apiserver pkg/server/config.go
// MaxRequestBodyBytes: twice etcd's 1.5 MiB request limit, as JSON shrinks when stored).
constexpr size_t kMaxRequestBodyBytes = 3 * 1024 * 1024;

class Selector;

// Server settings fixed at start.
struct ApiServerOptions {
  std::string token;      // the admin bearer token (system:masters; never logged)
  size_t history = 1000;  // watch events kept; older resourceVersions answer 410
  int bookmark_interval_ms = 1000;
};

// The parsed Kubernetes request path and verb.
struct RequestInfo {
  std::string verb;  // get list watch create update patch delete deletecollection
  std::string group, version, plural, namespace_, name, subresource;
  TypePtr type;
  UserInfo user;  // who is asking (the self reviews answer about them)
};

// The field manager of a write: ?fieldManager=, else the User-Agent's product ("kubectl"), as
// the apiserver defaults it.
std::string DefaultManager(const HttpRequest& req);

// The API server state and handlers; see the file comment.
class ApiServer {
 public:
  explicit ApiServer(ApiServerOptions options);
  ~ApiServer();

  // Serves one HTTP request; safe from many threads.
  HttpResponse Handle(const HttpRequest& req);
  // Stops open watch streams (they end like a server-side timeout); used on shutdown.
  void Shutdown();

 private:
  struct Event {
    uint64_t rv;
    std::string storage_key;
    std::string type;  // ADDED MODIFIED DELETED
    json object;       // state after the change (for DELETED: last state with deletion RV)
    json old;          // state before (null for ADDED)
  };
  struct Fault {
    std::string verb, resource, subresource, namespace_, name, message;
    int code = 500;
    int remaining = 1;
    int retry_after = 0;
  };
  struct Latency {
    std::string verb, resource;
    int milliseconds = 0;
  };
  using ObjectMap = std::map<std::string, json>;  // "ns/name" -> stored object

  // --- routing (api_server.cc)
  HttpResponse Route(const HttpRequest& req, RequestInfo* info);
  bool ParseResourcePath(const HttpRequest& req, RequestInfo* info, HttpResponse* error);
  HttpResponse HandleSim(const HttpRequest& req);
  HttpResponse Discovery(const HttpRequest& req, bool* handled);
  bool MatchFault(const RequestInfo& info, HttpResponse* out);
  // RBAC over the stored Roles, ClusterRoles and bindings plus the /_sim/grants (rbac.h).
  Decision AuthorizeLocked(const UserInfo& user, const RequestAttributes& attributes) const;
  int LatencyFor(const RequestInfo& info);
  void ResetLocked();

  // --- objects (objects.cc)
  HttpResponse Get(const HttpRequest& req, const RequestInfo& info);
  HttpResponse List(const HttpRequest& req, const RequestInfo& info);
  HttpResponse Create(const HttpRequest& req, const RequestInfo& info);
  HttpResponse Update(const HttpRequest& req, const RequestInfo& info);
  HttpResponse Patch(const HttpRequest& req, const RequestInfo& info);
  HttpResponse Delete(const HttpRequest& req, const RequestInfo& info);
  HttpResponse DeleteCollection(const HttpRequest& req, const RequestInfo& info);
  // Create/update core shared by POST, PUT, PATCH and apply; `code` is the success status.
  HttpResponse CreateLocked(const HttpRequest& req, const RequestInfo& info, json obj,
                            const std::string& manager, bool apply);
  HttpResponse UpdateLocked(const HttpRequest& req, const RequestInfo& info, json obj,
                            const json& old, const std::string& manager,
                            const std::string& operation);
  HttpResponse DeleteLocked(const RequestInfo& info, const json& old, const json& options,
                            json* deleted_out);
  // Defaulting, pruning, validation and per-type normalisation; returns false with an error
  // response.
  bool AdmitLocked(const HttpRequest& req, const RequestInfo& info, json* obj,
                   std::vector<std::string>* warnings, HttpResponse* error);
  HttpResponse ServerSideApplyLocked(const HttpRequest& req, const RequestInfo& info, json applied,
                                     const json* existing);
  // False with the answer to an apply without fieldManager, apiVersion or kind.
  bool CheckApplyRequest(const std::string& manager, const json& applied,
                         HttpResponse* error) const;
  // 409 "Apply failed with N conflict(s): ..." for `causes` (text: "who: path" lines).
  HttpResponse ApplyConflict(const json& causes, std::string text) const;
  // After UpdateLocked(..., "Apply") answered `updated`: records `manager`'s ownership of
  // `paths` (taking them from others when `force`) on the stored object; answers with it.
  HttpResponse RecordApplyLocked(const HttpRequest& req, const RequestInfo& info,
                                 const json& prepared_old, const std::string& manager,
                                 const std::vector<FieldPath>& paths, bool force,
                                 const HttpResponse& updated);
  void RecordManagerLocked(json* obj, const json& old, const std::string& manager,
                           const std::string& operation, const std::string& api_version,
                           const std::string& subresource);
  // False with the storage error the real server answers when `obj` would be too large for
  // etcd (its 1.5 MiB request limit, then its client's 2 MiB gRPC send limit).
  bool FitsInStorage(const ResourceType& type, const std::string& key, const json& obj,
                     HttpResponse* error) const;
  // Stores `obj` (null for delete) under a new resourceVersion and records the event.
  uint64_t CommitLocked(const std::string& storage_key, const std::string& key,
                        const std::string& type, json* obj, const json& old);
  void AfterCrdChangeLocked(const std::string& type, const json& crd);
  void MaybeFinishNamespaceLocked(const std::string& ns);
  ObjectMap StateAtLocked(const std::string& storage_key, uint64_t rv) const;
  // The stored form converted to what `type` serves (events.k8s.io view, apiVersion).
  json ToExternal(const ResourceType& type, const json& stored) const;
  json ToStored(const ResourceType& type, const json& external) const;
  bool NamespaceExistsLocked(const std::string& ns) const;

  // --- patch documents (apply.cc), shared by the resource and its /scale
  // Applies a JSON, merge or strategic merge patch (by `media`) to `current`; false with the
  // error the real server answers.
  bool PatchDocument(const std::string& media, const json& current, const json& patch, json* next,
                     HttpResponse* error) const;
  // 422 for a patched document that does not decode (`err`), as the patcher reports it.
  HttpResponse PatchDecodeError(const json& patched, const std::string& err) const;

  // --- scale subresource of custom resources (scale.cc; the stored resource behind it)
  HttpResponse ScaleOfLocked(const HttpRequest& req, const RequestInfo& info,
                             const json& stored) const;
  HttpResponse UpdateScale(const HttpRequest& req, const RequestInfo& info);
  HttpResponse PatchScaleLocked(const HttpRequest& req, const RequestInfo& info,
                                const std::string& media, const json& patch, const json& stored);
  // Server-side apply of a Scale: ownership of the replicas, kept on the resource as an entry
  // with subresource "scale" (managedfields.ScaleHandler).
  HttpResponse ApplyScaleLocked(const HttpRequest& req, const RequestInfo& info,
                                const json& applied, const json& stored);
  // Sets the spec replicas path of `stored` to the Scale's replicas (its resourceVersion, if
  // any, as the precondition) through UpdateLocked and answers with the new Scale. An Update
  // by `manager`, or an Apply of `applied` (the resource's paths) when given.
  HttpResponse WriteScaleLocked(const HttpRequest& req, const RequestInfo& info, const json& scale,
                                const json& stored, const std::string& manager,
                                const std::vector<FieldPath>* applied = nullptr,
                                bool force = false);
  // False with the 400 the real server gives a Scale body of another kind, name or namespace.
  bool CheckScaleBody(const RequestInfo& info, const json& scale, HttpResponse* error) const;

  // --- watch (watch.cc)
  HttpResponse Watch(const HttpRequest& req, const RequestInfo& info);

  // --- openapi (openapi.cc)
  HttpResponse OpenApi(const HttpRequest& req);
  // The Swagger 2.0 document of everything served (GET /openapi/v2).
  json OpenApiV2DocumentLocked() const;

  // --- helpers
  HttpResponse ErrorResponse(int code, const std::string& reason, const std::string& message,
                             const json& details = nullptr) const;
  HttpResponse NotFound(const RequestInfo& info, const std::string& name) const;
  // 400 "<Kind> in version "<v>" cannot be handled as a <Kind>: <error>" for a body that
  // does not decode into the resource's type.
  HttpResponse CannotDecode(const RequestInfo& info, const std::string& error) const;
  // The request body as an object of the resource's type (true), or the 400 to answer in
  // `error` (not JSON/YAML, not an object, or not decodable into the type).
  bool DecodeBody(const HttpRequest& req, const RequestInfo& info, json* obj,
                  HttpResponse* error) const;
  // The labelSelector and fieldSelector of a list or watch (true), or the 400 in `error`.
  bool ParseSelectors(const HttpRequest& req, const RequestInfo& info, Selector* labels,
                      Selector* fields, HttpResponse* error) const;
  // 409 Conflict "the object has been modified" for a stale resourceVersion.
  HttpResponse ObjectModified(const RequestInfo& info) const;
  // default, kube-system and kube-public cannot be deleted (403 with the real message).
  bool IsUndeletableNamespace(const ResourceType& type, const std::string& name) const;
  HttpResponse UndeletableNamespace(const RequestInfo& info, const std::string& name) const;
  json DetailsFor(const RequestInfo& info, const std::string& name) const;
  bool WantsTable(const HttpRequest& req) const;

  ApiServerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Registry registry_;
  std::map<std::string, ObjectMap> objects_;  // storage key -> objects
  uint64_t rv_ = 0;
  std::deque<Event> history_;
  uint64_t compacted_rv_ = 0;  // events with rv <= this are gone
  uint64_t watch_epoch_ = 0;   // bumped to end every open watch
  uint64_t bookmark_epoch_ = 0;
  bool stopping_ = false;
  std::vector<Fault> faults_;
  std::vector<Latency> latencies_;
  std::vector<json> request_log_;
  int open_watches_ = 0;
  AccessReviews reviews_{options_.token};  // TokenReview, SubjectAccessReview (own lock)
};

}  // namespace pygrid::sim::kube
