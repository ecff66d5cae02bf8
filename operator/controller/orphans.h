// Provides OrphanCollector: finds Genesis Cloud instances that carry the operator's naming
// pattern (<name>-<uid8>-gateway|worker-<i>) but belong to no PyGridCluster the operator can
// see, in every account it holds a token for — a cluster whose finalizer was removed by hand, or
// deleted in the wrong uninstall order — and reports them (a log line when first seen, a count
// per account), or with OrphanPolicy::kDelete deletes those seen for the whole grace period.
//
//   OrphanCollector orphans(clouds, [&] { return clusters.List(); }, clock,
//                           {OrphanPolicy::kReport, std::chrono::hours(1)}, publish);
//   std::vector<Orphan> found = orphans.Sweep();  // every resync interval, leader only
//
// It also drops the operator's token copies (pygrid-credentials-<uid>) whose cluster is gone and
// whose account holds no instance of it any more: a Secret with a token is not left behind
// once nothing needs it (a copy is what deletes the orphans, so it stays while they do).
//
// Why a grace period and report by default: a cluster in a namespace this operator does not
// watch, or another installation sharing the account, looks exactly like an orphan here.
// Thread-safety: Sweep from one thread at a time.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "controller/cloud_accounts.h"
#include "core/clock.h"
#include "core/status.h"

namespace pygrid::controller {

enum class OrphanPolicy { kReport, kDelete };

struct OrphanOptions {
  OrphanPolicy policy = OrphanPolicy::kReport;
  Clock::Duration grace = std::chrono::hours(1);
};

struct Orphan {
  std::string account;  // AccountLabel of its token (never the token)
  std::string name;
  std::string id;
  std::string created_at;
  bool deleted = false;  // deleted in this sweep
};

// True when `instance_name` follows the operator's pattern; sets the cluster name and uid8.
bool ParseOwnedName(const std::string& instance_name, std::string* cluster, std::string* uid8);

class OrphanCollector {
 public:
  using ListClusters = std::function<std::vector<nlohmann::json>()>;
  // Called after each sweep with the orphan count of every account swept.
  using Publish = std::function<void(const std::string& account, int count)>;

  // The operator's token copies: their accounts are swept besides those in use (their clusters
  // may be gone), and a copy nothing needs any more is dropped.
  struct TokenCopy {
    std::string uid;    // of the cluster it was made for
    std::string token;  // a secret: never logged
  };
  using ListCopies = std::function<std::vector<TokenCopy>()>;
  using DropCopy = std::function<Status(const std::string& uid)>;

  OrphanCollector(CloudAccounts& clouds, ListClusters list_clusters, const Clock& clock,
                  OrphanOptions options, Publish publish = nullptr,
                  ListCopies list_copies = nullptr, DropCopy drop_copy = nullptr);

  std::vector<Orphan> Sweep();

 private:
  CloudAccounts& clouds_;
  ListClusters list_clusters_;
  const Clock& clock_;
  OrphanOptions options_;
  Publish publish_;
  ListCopies list_copies_;
  DropCopy drop_copy_;
  std::map<std::string, Clock::TimePoint> first_seen_;  // instance id -> when first an orphan
};

}  // namespace pygrid::controller
