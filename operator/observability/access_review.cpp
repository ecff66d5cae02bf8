#include "observability/access_review.h"

#include <nlohmann/json.hpp>

#include "kube/client.h"

namespace pygrid::observability {
namespace {

using nlohmann::json;

const kube::ResourceRef kTokenReviews{"authentication.k8s.io", "v1", "tokenreviews", false};
const kube::ResourceRef kSubjectAccessReviews{"authorization.k8s.io", "v1", "subjectaccessreviews",
                                              false};

// The answer's status object; Internal when the answer is not a review.
StatusOr<json> StatusOf(const json& answer, const char* kind) {
  if (!answer.is_object() || answer.value("kind", "") != kind || !answer.contains("status") ||
      !answer["status"].is_object()) {
    return Status::Internal(std::string("the API server's ") + kind + " answer has no status");
  }
  return answer["status"];
}

}  // namespace

StatusOr<std::optional<UserInfo>> KubeAccessReviews::AuthenticateToken(const std::string& token) {
  const json review = {{"apiVersion", "authentication.k8s.io/v1"},
                       {"kind", "TokenReview"},
                       {"spec", {{"token", token}}}};
  StatusOr<json> answer = client_.Create(kTokenReviews, "", review);
  if (!answer.ok()) return answer.status();
  StatusOr<json> status = StatusOf(*answer, "TokenReview");
  if (!status.ok()) return status.status();
  try {
    if (!status->value("authenticated", false)) return std::optional<UserInfo>();
    const json& user = status->value("user", json::object());
    UserInfo info;
    info.username = user.value("username", "");
    info.uid = user.value("uid", "");
    info.groups = user.value("groups", std::vector<std::string>{});
    info.extra = user.value("extra", std::map<std::string, std::vector<std::string>>{});
    if (info.username.empty()) return Status::Internal("TokenReview authenticated no username");
    return std::optional<UserInfo>(std::move(info));
  } catch (const json::exception&) {
    return Status::Internal("the API server's TokenReview answer is malformed");
  }
}

StatusOr<bool> KubeAccessReviews::Authorize(const UserInfo& user, const std::string& verb,
                                            const std::string& path) {
  json spec = {{"user", user.username},
               {"groups", user.groups},
               {"nonResourceAttributes", {{"path", path}, {"verb", verb}}}};
  if (!user.uid.empty()) spec["uid"] = user.uid;
  if (!user.extra.empty()) spec["extra"] = user.extra;
  const json review = {
      {"apiVersion", "authorization.k8s.io/v1"}, {"kind", "SubjectAccessReview"}, {"spec", spec}};
  StatusOr<json> answer = client_.Create(kSubjectAccessReviews, "", review);
  if (!answer.ok()) return answer.status();
  StatusOr<json> status = StatusOf(*answer, "SubjectAccessReview");
  if (!status.ok()) return status.status();
  const json& allowed = status->value("allowed", json(false));
  if (!allowed.is_boolean())
    return Status::Internal("SubjectAccessReview status.allowed is not a boolean");
  return allowed.get<bool>();
}

}  // namespace pygrid::observability
