// Provides CloudAccounts: one cloud client per API token (so each account's client-side rate
// limit is shared by every cluster using it) and a short-lived cache of each account's
// instance list, so one poll lists the account once for all its clusters instead of once per
// cluster. The process's own answered creates and deletes are written into the cached list
// (it never hides them, and a mass create does not relist after every create); an outcome it
// does not know (a lost answer) drops the list instead. Image and SSH-key look-ups are cached
// for longer, and so is the account's security-group list, from which the groups the
// operator shares are ensured without waiting.
//
//   CloudAccounts clouds(factory, clock, {.instances_max_age = std::chrono::seconds(5)});
//   StatusOr<std::vector<cloud::Instance>> all = clouds.Instances(token);
//   clouds.RecordCreated(token, instance);  // after an answered create
//   clouds.Invalidate(token);               // after an ambiguous one: the next read lists
//
// Tokens are secrets: they are map keys in memory only, never logged or put in a Status.
// Thread-safety: every method is safe from any thread; one list call per account is in flight
// at a time, and concurrent Instances() calls wait for it only when no recent list exists.
#pragma once

#include <chrono>
#include <cstdint>
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
  // Also how often the group list is read while a group is being created or updated.
  Clock::Duration instances_max_age = std::chrono::seconds(5);
  Clock::Duration lookups_max_age = std::chrono::minutes(10);
  // How long the group list answers while every group the operator asks for is `created`. A
  // group deleted behind the operator's back meanwhile shows when a create naming it is refused
  // (ForgetSecurityGroup), so steady grids cost no group list at all.
  Clock::Duration security_groups_max_age = std::chrono::minutes(10);
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
  // An account's instance list as cached: shared and never changed once handed out.
  using InstanceList = std::shared_ptr<const std::vector<cloud::Instance>>;
  // Every instance of the account, at most instances_max_age old; while another thread reads
  // the next list, the previous one (up to twice that age plus as long as the last list took:
  // at 1,000 instances a list is 10 pages and outlasts the age) instead of waiting for it. Always
  // with this process's own answered creates and deletes. Costs no copy: every round of every
  // cluster reads it, and at 1,000 instances copying it (under the lock) was what the
  // reconcile workers spent their time on.
  StatusOr<InstanceList> InstanceSnapshot(const std::string& token);
  // A copy of InstanceSnapshot's list.
  StatusOr<std::vector<cloud::Instance>> Instances(const std::string& token);
  // Forgets the cached list, so the next Instances() lists again.
  void Invalidate(const std::string& token);
  // Writes an instance this process created (the create's answer) into the cached list, and
  // into the one being read, if any: a list read before the create cannot hide it afterwards.
  void RecordCreated(const std::string& token, const cloud::Instance& instance);
  // Marks an instance this process asked to delete (answered) as `deleting` in the cached list.
  void RecordDeleting(const std::string& token, const std::string& id);
  // The image id for `image` (id, slug or name), cached.
  StatusOr<std::string> ImageId(const std::string& token, const std::string& image);
  // The operator's group named `name` with exactly `rules` (order-insensitive), without
  // waiting: from the cached group list; created with one POST when the list has none (one at
  // a time per account, so concurrent rounds never create it twice), its rules replaced when
  // they differ. The answer's status says whether the cloud has applied it: only `created` may
  // be used for instances; otherwise look again after a poll interval (the list is re-read at
  // most every instances_max_age while a group is pending or being deleted, for every cluster
  // at once; a group made again after a deletion waits until the old one is gone). A group in
  // status `error` is Unavailable (not retryable).
  StatusOr<cloud::SecurityGroup> EnsureSecurityGroup(const std::string& token,
                                                     const std::string& name,
                                                     const std::string& description,
                                                     const std::string& region,
                                                     const std::vector<cloud::SecurityRule>& rules);
  // The group named `name` (in `region` when given) from the cached list of the account's
  // groups; Invalid when there is none. Never creates or changes anything.
  StatusOr<cloud::SecurityGroup> FindSecurityGroup(const std::string& token,
                                                   const std::string& name,
                                                   const std::string& region);
  // The account's groups, from the cached list (with the groups this process made since).
  StatusOr<std::vector<cloud::SecurityGroup>> SecurityGroups(const std::string& token);
  // After a create naming group `id` was refused: lists the account's groups afresh and says
  // whether `id` is gone (then the next EnsureSecurityGroup makes the group again).
  StatusOr<bool> SecurityGroupGone(const std::string& token, const std::string& id);
  // The ids of the SSH keys named `names`, in order, cached.
  StatusOr<std::vector<std::string>> SshKeyIds(const std::string& token,
                                               const std::vector<std::string>& names);

 private:
  struct Account {
    cloud::CloudProviderPtr client;
    std::mutex refresh_mu;  // one instance list call in flight per account
    std::mutex list_mu;     // the cached instance list and what came meanwhile (never across I/O)
    // Replaced, or changed in place only while no snapshot of it is held (MutableInstances).
    std::shared_ptr<std::vector<cloud::Instance>> instances =
        std::make_shared<std::vector<cloud::Instance>>();
    Clock::TimePoint listed_at{};      // when the list was asked for
    Clock::Duration last_list_took{};  // how long the last successful list call took
    bool listed = false;
    bool refreshing = false;  // a list call is in flight
    uint64_t epoch = 0;       // bumped by Invalidate
    // This process's answered creates and deletes while a list call was in flight.
    std::vector<cloud::Instance> created_meanwhile;
    std::vector<std::string> deleting_meanwhile;
    std::map<std::string, std::pair<std::string, Clock::TimePoint>> images;
    std::map<std::string, std::pair<std::string, Clock::TimePoint>> ssh_keys;
    std::mutex groups_mu;  // the group list, and one group create in flight per account
    std::vector<cloud::SecurityGroup> security_groups;
    Clock::TimePoint security_groups_at{};
    bool security_groups_listed = false;
  };
  Account& AccountFor(const std::string& token);
  // Lists the account's groups when the cached list is older than `max_age` (groups_mu held).
  Status RefreshSecurityGroups(Account& account, Clock::Duration max_age);
  // Shows the instance `id` as `deleting` in the cached list (list_mu held).
  static void MarkDeleting(Account& account, const std::string& id);
  // The cached list to change (list_mu held): a copy when a snapshot of it is still held.
  static std::vector<cloud::Instance>& MutableInstances(Account& account);

  Factory factory_;
  const Clock& clock_;
  CloudAccountsOptions options_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Account>> accounts_;
};

}  // namespace pygrid::controller
