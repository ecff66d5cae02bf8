// TokenReview and SubjectAccessReview as kube-apiserver serves them: create-only, never
// stored, answered 201 with the posted object plus its status (k8s.io/kubernetes
// pkg/registry/authentication/tokenreview/storage.go, pkg/registry/authorization/
// subjectaccessreview/rest.go; validation as pkg/apis/authorization/validation).
#include "sim/kube/access_reviews.h"

#include <algorithm>

namespace pygrid::sim::kube {
namespace {

constexpr char kAuthentication[] = "authentication.k8s.io";
constexpr char kAuthorization[] = "authorization.k8s.io";
// The audience kube-apiserver's service account tokens carry by default.
constexpr char kApiAudience[] = "https://kubernetes.default.svc.cluster.local";

HttpResponse JsonAnswer(int code, const json& body) {
  return HttpResponse::Text(code, "application/json", body.dump());
}

HttpResponse Failure(int code, const std::string& reason, const std::string& message,
                     const json& details = nullptr) {
  return JsonAnswer(code, StatusBody(code, reason, message, details));
}

std::shared_ptr<ResourceType> ReviewType(const std::string& group, const std::string& plural,
                                         const std::string& singular, const std::string& kind) {
  auto t = std::make_shared<ResourceType>();
  t->group = group;
  t->version = "v1";
  t->plural = plural;
  t->singular = singular;
  t->kind = kind;
  t->list_kind = kind + "List";
  t->namespaced = false;
  t->storage_key = group + "/" + plural;
  return t;
}

std::vector<std::string> Strings(const json& value) {
  std::vector<std::string> out;
  if (!value.is_array()) return out;
  for (const json& item : value) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

bool IsAccessReview(const ResourceType& type) {
  return (type.group == kAuthentication &&
          (type.plural == "tokenreviews" || type.plural == "selfsubjectreviews")) ||
         (type.group == kAuthorization &&
          (type.plural == "subjectaccessreviews" || type.plural == "selfsubjectaccessreviews"));
}

std::vector<std::shared_ptr<ResourceType>> AccessReviewTypes() {
  return {
      ReviewType(kAuthentication, "tokenreviews", "tokenreview", "TokenReview"),
      ReviewType(kAuthentication, "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview"),
      ReviewType(kAuthorization, "subjectaccessreviews", "subjectaccessreview",
                 "SubjectAccessReview"),
      ReviewType(kAuthorization, "selfsubjectaccessreviews", "selfsubjectaccessreview",
                 "SelfSubjectAccessReview")};
}

void RestrictAccessReviewVerbs(json* resource_list) {
  if (!resource_list->contains("resources")) return;
  for (json& resource : (*resource_list)["resources"]) {
    const std::string name = resource.value("name", "");
    if (name == "tokenreviews" || name == "subjectaccessreviews" || name == "selfsubjectreviews" ||
        name == "selfsubjectaccessreviews") {
      resource["verbs"] = {"create"};
    }
  }
}

UserInfo AccessReviews::Admin() {
  return {"kubernetes-admin", {"system:masters", "system:authenticated"}, ""};
}

AccessReviews::AccessReviews(std::string admin_token) : admin_token_(std::move(admin_token)) {}

void AccessReviews::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  identities_.clear();
  grants_.clear();
}

HttpResponse AccessReviews::Review(const HttpRequest& req, const ResourceType& type,
                                   const std::string& verb, const UserInfo& requester) {
  if (verb != "create") {
    return Failure(405, "MethodNotAllowed",
                   "the server does not allow this method on the requested resource");
  }
  json review;
  std::string error;
  if (!ParseBody(req.body, &review, &error) || !review.is_object()) {
    return Failure(400, "BadRequest", "the body of the request was in an unknown format");
  }
  if (review.value("kind", type.kind) != type.kind ||
      review.value("apiVersion", type.ApiVersion()) != type.ApiVersion()) {
    return Failure(400, "BadRequest",
                   type.kind + " in version \"v1\" cannot be handled as a " + type.kind);
  }
  const json spec = review.value("spec", json::object());
  if (!spec.is_object()) {
    return Failure(400, "BadRequest",
                   type.kind + " in version \"v1\" cannot be handled as a " + type.kind +
                       ": spec is not an object");
  }
  try {
    return Answer(type, spec, requester);
  } catch (const json::exception& e) {
    // A field of the wrong JSON type: the apiserver's decoder refuses the body.
    return Failure(
        400, "BadRequest",
        type.kind + " in version \"v1\" cannot be handled as a " + type.kind + ": " + e.what());
  }
}

HttpResponse AccessReviews::Answer(const ResourceType& type, const json& spec,
                                   const UserInfo& requester) {
  json status;
  if (type.kind == "TokenReview") {
    if (!spec.value("token", json("")).is_string() || spec.value("token", "").empty()) {
      return Failure(400, "BadRequest", "token is required for TokenReview in authentication");
    }
    if (spec.contains("audiences") && !spec["audiences"].is_array()) {
      return Failure(400, "BadRequest",
                     "TokenReview in version \"v1\" cannot be handled as a TokenReview: "
                     "spec.audiences is not a list");
    }
    status = TokenReviewStatus(spec);
  } else if (type.kind == "SelfSubjectReview") {
    // pkg/registry/authentication/selfsubjectreview: the requester, as authenticated.
    json user = {{"username", requester.name}, {"groups", requester.groups}};
    if (!requester.uid.empty()) user["uid"] = requester.uid;
    status = {{"userInfo", user}};
  } else {
    const bool self = type.kind == "SelfSubjectAccessReview";
    std::vector<std::string> problems;  // as field.ErrorList renders them
    const bool resource = spec.contains("resourceAttributes");
    const bool non_resource = spec.contains("nonResourceAttributes");
    if (resource && non_resource) {
      problems.push_back(
          "spec.nonResourceAttributes: Invalid value: \"object\": cannot be specified in "
          "combination with resourceAttributes");
    }
    if (non_resource && !spec["nonResourceAttributes"].is_object()) {
      return Failure(400, "BadRequest",
                     type.kind + " in version \"v1\" cannot be handled as a " + type.kind +
                         ": spec.nonResourceAttributes is not an object");
    }
    if (!resource && !non_resource) {
      problems.push_back(
          "spec.resourceAttributes: Invalid value: \"null\": exactly one of "
          "nonResourceAttributes or resourceAttributes must be specified");
    }
    if (!self && spec.value("user", "").empty() && Strings(spec.value("groups", json())).empty()) {
      problems.push_back(
          "spec.user: Invalid value: \"\": at least one of user or group must be specified");
    }
    if (!problems.empty()) {
      std::string message = type.kind + ".authorization.k8s.io \"\" is invalid: ";
      if (problems.size() == 1) {
        message += problems[0];
      } else {
        message += "[";
        for (size_t i = 0; i < problems.size(); ++i) message += (i ? ", " : "") + problems[i];
        message += "]";
      }
      return Failure(422, "Invalid", message, {{"kind", type.kind}, {"group", kAuthorization}});
    }
    status = self ? AccessStatus(requester, spec)
                  : AccessStatus({spec.value("user", ""), Strings(spec.value("groups", json())),
                                  spec.value("uid", "")},
                                 spec);
  }
  return JsonAnswer(201, {{"kind", type.kind},
                          {"apiVersion", type.ApiVersion()},
                          {"metadata", {{"creationTimestamp", nullptr}}},
                          {"spec", spec},
                          {"status", status}});
}

json AccessReviews::TokenReviewStatus(const json& spec) {
  const std::string token = spec.value("token", "");
  Identity identity;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = identities_.find(token);
    if (token == admin_token_) {
      identity = {Admin().name, "", Admin().groups};
    } else if (it != identities_.end()) {
      identity = it->second;
    } else {
      // What the union of authenticators reports for a token none of them knows.
      return {{"user", json::object()}, {"error", "invalid bearer token"}};
    }
  }
  json user = {{"username", identity.username}, {"groups", identity.groups}};
  if (!identity.uid.empty()) user["uid"] = identity.uid;
  // kube-sim's tokens are valid for any audience asked for.
  std::vector<std::string> audiences = Strings(spec.value("audiences", json()));
  if (audiences.empty()) audiences = {kApiAudience};
  return {{"authenticated", true}, {"user", user}, {"audiences", audiences}};
}

json AccessReviews::AccessStatus(const UserInfo& user, const json& spec) {
  if (Contains(user.groups, "system:masters")) {
    return {{"allowed", true}, {"reason", "kube-sim: system:masters may do anything"}};
  }
  RequestAttributes attributes;
  if (!FromReviewAttributes(spec, &attributes)) return {{"allowed", false}};
  Authorizer authorizer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    authorizer = authorizer_;
  }
  if (!authorizer) return {{"allowed", false}};
  const Decision decision = authorizer(user, attributes);
  json status = {{"allowed", decision.allowed}};
  if (!decision.reason.empty()) status["reason"] = decision.reason;
  return status;  // denied: RBAC has no opinion, so the request is not allowed
}

bool AccessReviews::Authenticate(const std::string& token, UserInfo* user) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = identities_.find(token);
  if (token.empty() || token == admin_token_ || it == identities_.end()) return false;
  *user = {it->second.username, it->second.groups, it->second.uid};
  return true;
}

std::vector<json> AccessReviews::GrantObjects() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<json> out;
  for (size_t i = 0; i < grants_.size(); ++i) {
    const Grant& grant = grants_[i];
    const std::string name = "kube-sim:grant:" + std::to_string(i);
    json rule = json::object();
    rule["verbs"] = grant.verbs;
    rule["nonResourceURLs"] = grant.urls;
    json role = json::object();
    role["kind"] = "ClusterRole";
    role["metadata"]["name"] = name;
    role["rules"] = json::array({rule});
    out.push_back(role);
    json subject = json::object();
    subject["kind"] = grant.user.empty() ? "Group" : "User";
    subject["name"] = grant.user.empty() ? grant.group : grant.user;
    json binding = json::object();
    binding["kind"] = "ClusterRoleBinding";
    binding["metadata"]["name"] = name;
    binding["roleRef"] = {{"kind", "ClusterRole"}, {"name", name}};
    binding["subjects"] = json::array({subject});
    out.push_back(binding);
  }
  return out;
}

void AccessReviews::SetAuthorizer(Authorizer authorizer) {
  std::lock_guard<std::mutex> lock(mu_);
  authorizer_ = std::move(authorizer);
}

HttpResponse AccessReviews::Control(const std::string& method, const std::string& path,
                                    const json& body) {
  std::lock_guard<std::mutex> lock(mu_);
  if (path == "/_sim/identities") {
    if (method == "POST") {
      const std::string token = body.value("token", "");
      Identity identity{body.value("username", ""), body.value("uid", ""),
                        Strings(body.value("groups", json()))};
      if (token.empty() || identity.username.empty() || token == admin_token_) {
        return JsonAnswer(400, {{"error", "token (not the server's) and username are required"}});
      }
      if (identity.uid.empty()) identity.uid = NewUid();
      // The groups the service account token authenticator adds (serviceaccount.MakeGroupNames)
      // and the one every authenticated user gets.
      const std::string sa_prefix = "system:serviceaccount:";
      if (identity.username.rfind(sa_prefix, 0) == 0) {
        const std::string rest = identity.username.substr(sa_prefix.size());
        for (const std::string& group :
             {std::string("system:serviceaccounts"),
              "system:serviceaccounts:" + rest.substr(0, rest.find(':'))}) {
          if (!Contains(identity.groups, group)) identity.groups.push_back(group);
        }
      }
      if (!Contains(identity.groups, "system:authenticated")) {
        identity.groups.push_back("system:authenticated");
      }
      identities_[token] = identity;
      return JsonAnswer(201, {{"identities", identities_.size()}});
    }
    if (method == "DELETE") {
      identities_.clear();
      return JsonAnswer(200, {{"identities", 0}});
    }
    json out = json::array();  // never the tokens
    for (const auto& [token, identity] : identities_) {
      out.push_back(
          {{"username", identity.username}, {"uid", identity.uid}, {"groups", identity.groups}});
    }
    return JsonAnswer(200, {{"identities", out}});
  }
  // /_sim/grants
  if (method == "POST") {
    Grant grant{body.value("user", ""), body.value("group", ""),
                Strings(body.value("verbs", json())),
                Strings(body.value("nonResourceURLs", json()))};
    if (grant.user.empty() == grant.group.empty() || grant.verbs.empty() || grant.urls.empty()) {
      return JsonAnswer(400, {{"error",
                               "one of user or group, and non-empty verbs and nonResourceURLs, "
                               "are required"}});
    }
    grants_.push_back(grant);
    return JsonAnswer(201, {{"grants", grants_.size()}});
  }
  if (method == "DELETE") {
    grants_.clear();
    return JsonAnswer(200, {{"grants", 0}});
  }
  json out = json::array();
  for (const Grant& grant : grants_) {
    json g = {{"verbs", grant.verbs}, {"nonResourceURLs", grant.urls}};
    if (!grant.user.empty()) g["user"] = grant.user;
    if (!grant.group.empty()) g["group"] = grant.group;
    out.push_back(g);
  }
  return JsonAnswer(200, {{"grants", out}});
}

}  // namespace pygrid::sim::kube
