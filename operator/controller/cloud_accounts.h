// Provides CloudAccounts: one cloud client per API token (so each account's client-side rate
// limit is shared by every cluster using it) and a short-lived cache of each account's
// instance list, so one poll lists the account once for all its clusters instead of once per
// cluster. Image and SSH-key look-ups are cached for longer.
//
//   CloudAccounts clouds(factory, clock, {.instances_max_age = std::chrono::seconds(5)});
//   StatusOr<std::vector<cloud::Instance>> all = clouds.Instances(token);
//   clouds.Invalidate(token);  // after a create or delete, so the next read sees it
//
// Tokens are secrets: they are map keys in memory only, never logged or put in a Status.
// Thread-safety: every method is safe from any thread; concurrent Instances() calls for one
// account wait for a single list call.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cloud/cloud_provider.h"
#include "core/clock.h"

namespace pygrid::controller {

struct CloudAccountsOptions {
  Clock::Duration instances_max_age = std::chrono::seconds(5);
  Clock::Duration lookups_max_age = std::chrono::minutes(10);
  Clock::Duration security_groups_max_age = std::chrono::seconds(30);
};

class CloudAccounts {
 public:
  using Factory = std::function<cloud::CloudProviderPtr(const std::string& token)>;

  CloudAccounts(Factory factory, const Clock& clock, CloudAccountsOptions options = {});

  // Every token an account was made for so far (secrets: for sweeps over all accounts only).
  std::vector<std::string> Tokens();
  // A label for `token`'s account that reveals nothing of it: "acct-" + 8 hex digits of its
  // SHA-256 (for metrics and logs).
  static std::string AccountLabel(const std::string& token);
  // The client for `token` (created on first use, kept for the process's life).
  cloud::CloudProvider& For(const std::string& token);
  // Every instance of the account, at most instances_max_age old.
  StatusOr<std::vector<cloud::Instance>> Instances(const std::string& token);
  // Forgets the cached list, so the next Instances() lists again.
  void Invalidate(const std::string& token);
  // The image id for `image` (id, slug or name), cached.
  StatusOr<std::string> ImageId(const std::string& token, const std::string& image);
  // Ensures a security group like CloudProvider::EnsureSecurityGroup, but answers from a
  // cached list of the account's groups when one with this name, state `created` and exactly
  // these rules exists: without it every new cluster would list all the account's groups.
  StatusOr<cloud::SecurityGroup> EnsureSecurityGroup(const std::string& token,
                                                     const std::string& name,
                                                     const std::string& description,
                                                     const std::string& region,
                                                     const std::vector<cloud::SecurityRule>& rules);
  // The group named `name` (in `region` when given) from the cached list of the account's
  // groups; NotFound when there is none. Never creates or changes anything.
  StatusOr<cloud::SecurityGroup> FindSecurityGroup(const std::string& token,
                                                   const std::string& name,
                                                   const std::string& region);
  // The ids of the SSH keys named `names`, in order, cached.
  StatusOr<std::vector<std::string>> SshKeyIds(const std::string& token,
                                               const std::vector<std::string>& names);

 private:
  struct Account {
    cloud::CloudProviderPtr client;
    std::mutex list_mu;  // one list call in flight per account
    std::vector<cloud::Instance> instances;
    Clock::TimePoint listed_at{};
    bool listed = false;
    std::map<std::string, std::pair<std::string, Clock::TimePoint>> images;
    std::map<std::string, std::pair<std::string, Clock::TimePoint>> ssh_keys;
    std::vector<cloud::SecurityGroup> security_groups;
    Clock::TimePoint security_groups_at{};
    bool security_groups_listed = false;
  };
  Account& AccountFor(const std::string& token);
  // Refreshes the account's group list when older than its maximum age (list_mu held).
  Status RefreshSecurityGroups(Account& account);

  Factory factory_;
  const Clock& clock_;
  CloudAccountsOptions options_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Account>> accounts_;
};

}  // namespace pygrid::controller
