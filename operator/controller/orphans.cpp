#include "controller/orphans.h"

#include <nlohmann/json.hpp>
#include <set>

#include "observability/log.h"

namespace pygrid::controller {

namespace {

const observability::Logger& Log() {
  static const observability::Logger logger("controller.orphans");
  return logger;
}

bool IsHex8(const std::string& text) {
  if (text.size() != 8) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

bool ParseOwnedName(const std::string& instance_name, std::string* cluster, std::string* uid8) {
  std::string rest;
  const std::string gateway = "-gateway";
  const size_t worker = instance_name.rfind("-worker-");
  if (instance_name.size() > gateway.size() &&
      instance_name.compare(instance_name.size() - gateway.size(), gateway.size(), gateway) == 0) {
    rest = instance_name.substr(0, instance_name.size() - gateway.size());
  } else if (worker != std::string::npos) {
    const std::string index = instance_name.substr(worker + 8);
    if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos) return false;
    rest = instance_name.substr(0, worker);
  } else {
    return false;
  }
  const size_t dash = rest.rfind('-');
  if (dash == std::string::npos || dash == 0 || !IsHex8(rest.substr(dash + 1))) return false;
  *cluster = rest.substr(0, dash);
  *uid8 = rest.substr(dash + 1);
  return true;
}

OrphanCollector::OrphanCollector(CloudAccounts& clouds, ListClusters list_clusters,
                                 const Clock& clock, OrphanOptions options, Publish publish,
                                 ListCopies list_copies, DropCopy drop_copy)
    : clouds_(clouds),
      list_clusters_(std::move(list_clusters)),
      clock_(clock),
      options_(options),
      publish_(std::move(publish)),
      list_copies_(std::move(list_copies)),
      drop_copy_(std::move(drop_copy)) {}

std::vector<Orphan> OrphanCollector::Sweep() {
  // The copies first: one made after the clusters were listed belongs to a cluster this list
  // may not show yet, so it must not be judged against it.
  std::vector<TokenCopy> copies;
  if (list_copies_) copies = list_copies_();
  std::set<std::string> owned;  // "<name>-<uid8>" of every visible cluster
  std::set<std::string> uids;
  for (const nlohmann::json& cluster : list_clusters_()) {
    const nlohmann::json meta = cluster.value("metadata", nlohmann::json::object());
    owned.insert(meta.value("name", "") + "-" + meta.value("uid", "").substr(0, 8));
    uids.insert(meta.value("uid", ""));
  }
  std::vector<Orphan> found;
  std::set<std::string> still_orphaned;
  const Clock::TimePoint now = clock_.Now();
  std::set<std::string> tokens;
  for (const std::string& token : clouds_.Tokens()) tokens.insert(token);
  for (const TokenCopy& copy : copies) tokens.insert(copy.token);
  std::set<std::string> listed;     // tokens whose account was listed in this sweep
  std::set<std::string> uid8_left;  // uid8s with an instance left in a listed account
  for (const std::string& token : tokens) {
    const std::string account = CloudAccounts::AccountLabel(token);
    StatusOr<std::vector<cloud::Instance>> instances = clouds_.Instances(token);
    if (!instances.ok()) {
      Log().Error("cannot list instances to look for orphans", instances.status(),
                  {{"account", account}});
      continue;  // no count published: unknown is not zero
    }
    listed.insert(token);
    int count = 0;
    bool deleted_any = false;
    for (const cloud::Instance& instance : *instances) {
      std::string cluster, uid8;
      if (!ParseOwnedName(instance.name, &cluster, &uid8)) continue;
      uid8_left.insert(uid8);  // deleting ones too: their delete may still fail
      if (owned.count(cluster + "-" + uid8) || instance.status == "deleting") continue;
      ++count;
      still_orphaned.insert(instance.id);
      auto [seen, first] = first_seen_.emplace(instance.id, now);
      if (first) {
        Log().Info("orphaned instance: its PyGridCluster is gone",
                   {{"account", account},
                    {"instance", instance.name},
                    {"id", instance.id},
                    {"createdAt", instance.created_at},
                    {"policy", options_.policy == OrphanPolicy::kDelete ? "delete" : "report"}});
      }
      Orphan orphan{account, instance.name, instance.id, instance.created_at, false};
      if (options_.policy == OrphanPolicy::kDelete && now - seen->second >= options_.grace) {
        Status deleted = clouds_.For(token).DeleteInstance(instance.id);
        if (deleted.ok() || deleted.IsNotFound()) {
          orphan.deleted = deleted_any = true;
          Log().Info("deleted orphaned instance",
                     {{"account", account}, {"instance", instance.name}, {"id", instance.id}});
        } else {
          Log().Error("cannot delete orphaned instance", deleted, {{"instance", instance.name}});
        }
      }
      found.push_back(orphan);
    }
    if (deleted_any) clouds_.Invalidate(token);
    if (publish_) publish_(account, count);
  }
  for (auto it = first_seen_.begin(); it != first_seen_.end();) {
    it = still_orphaned.count(it->first) ? std::next(it) : first_seen_.erase(it);
  }
  // A copy whose cluster is gone and whose account holds nothing of it any more (listed in
  // this sweep: an account that could not be listed proves nothing).
  for (const TokenCopy& copy : copies) {
    if (!drop_copy_ || uids.count(copy.uid) || !listed.count(copy.token) ||
        uid8_left.count(copy.uid.substr(0, 8)))
      continue;
    Status dropped = drop_copy_(copy.uid);
    if (dropped.ok() || dropped.IsNotFound()) {
      Log().Info("dropped the token copy of a cluster that is gone",
                 {{"uid", copy.uid}, {"account", CloudAccounts::AccountLabel(copy.token)}});
    } else {
      Log().Error("cannot drop a token copy", dropped, {{"uid", copy.uid}});
    }
  }
  return found;
}

}  // namespace pygrid::controller
