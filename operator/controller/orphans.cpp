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
                                 ExtraTokens extra_tokens)
    : clouds_(clouds),
      list_clusters_(std::move(list_clusters)),
      clock_(clock),
      options_(options),
      publish_(std::move(publish)),
      extra_tokens_(std::move(extra_tokens)) {}

std::vector<Orphan> OrphanCollector::Sweep() {
  std::set<std::string> owned;  // "<name>-<uid8>" of every visible cluster
  for (const nlohmann::json& cluster : list_clusters_()) {
    const nlohmann::json meta = cluster.value("metadata", nlohmann::json::object());
    owned.insert(meta.value("name", "") + "-" + meta.value("uid", "").substr(0, 8));
  }
  std::vector<Orphan> found;
  std::set<std::string> still_orphaned;
  const Clock::TimePoint now = clock_.Now();
  std::set<std::string> tokens;
  for (const std::string& token : clouds_.Tokens()) tokens.insert(token);
  if (extra_tokens_) {
    for (const std::string& token : extra_tokens_()) tokens.insert(token);
  }
  for (const std::string& token : tokens) {
    const std::string account = CloudAccounts::AccountLabel(token);
    StatusOr<std::vector<cloud::Instance>> instances = clouds_.Instances(token);
    if (!instances.ok()) {
      Log().Error("cannot list instances to look for orphans", instances.status(),
                  {{"account", account}});
      continue;  // no count published: unknown is not zero
    }
    int count = 0;
    bool deleted_any = false;
    for (const cloud::Instance& instance : *instances) {
      std::string cluster, uid8;
      if (!ParseOwnedName(instance.name, &cluster, &uid8)) continue;
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
  return found;
}

}  // namespace pygrid::controller
