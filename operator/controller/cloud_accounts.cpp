#include "controller/cloud_accounts.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>

#include "controller/security_groups.h"

namespace pygrid::controller {

namespace {

// Same rules regardless of order (each rule matched once).
bool SameRules(const std::vector<cloud::SecurityRule>& a,
               const std::vector<cloud::SecurityRule>& b) {
  if (a.size() != b.size()) return false;
  std::vector<bool> used(b.size(), false);
  for (const cloud::SecurityRule& rule : a) {
    bool matched = false;
    for (size_t i = 0; i < b.size() && !matched; ++i) {
      if (!used[i] && b[i] == rule) used[i] = matched = true;
    }
    if (!matched) return false;
  }
  return true;
}

// Puts `item` in place of the one with its id, or at the end.
template <typename T>
void PutById(std::vector<T>& items, const T& item) {
  for (T& cached : items) {
    if (cached.id != item.id) continue;
    cached = item;
    return;
  }
  items.push_back(item);
}

bool InRegion(const cloud::SecurityGroup& group, const std::string& region) {
  return region.empty() || group.region.empty() || group.region == region;
}

}  // namespace

CloudAccounts::CloudAccounts(Factory factory, const Clock& clock, CloudAccountsOptions options)
    : factory_(std::move(factory)), clock_(clock), options_(options) {}

CloudAccounts::Account& CloudAccounts::AccountFor(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<Account>& account = accounts_[token];
  if (!account) {
    account = std::make_unique<Account>();
    account->client = factory_(token);
  }
  return *account;
}

std::vector<std::string> CloudAccounts::Tokens() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> tokens;
  for (const auto& [token, account] : accounts_) tokens.push_back(token);
  return tokens;
}

std::string CloudAccounts::AccountLabel(const std::string& token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  char hex[9];
  std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", digest[0], digest[1], digest[2], digest[3]);
  return std::string("acct-") + hex;
}

cloud::CloudProvider& CloudAccounts::For(const std::string& token) {
  return *AccountFor(token).client;
}

StatusOr<std::vector<cloud::Instance>> CloudAccounts::Instances(const std::string& token) {
  StatusOr<InstanceList> snapshot = InstanceSnapshot(token);
  if (!snapshot.ok()) return snapshot.status();
  return **snapshot;
}

std::vector<cloud::Instance>& CloudAccounts::MutableInstances(Account& account) {
  // Snapshots are only taken under list_mu, so a count of 1 means nobody else holds this one.
  if (account.instances.use_count() > 1) {
    account.instances = std::make_shared<std::vector<cloud::Instance>>(*account.instances);
  }
  return *account.instances;
}

StatusOr<CloudAccounts::InstanceList> CloudAccounts::InstanceSnapshot(const std::string& token) {
  Account& account = AccountFor(token);
  const Clock::Duration max_age = options_.instances_max_age;
  {
    std::lock_guard<std::mutex> lock(account.list_mu);
    const Clock::Duration age = clock_.Now() - account.listed_at;
    if (account.listed && age < max_age) return InstanceList(account.instances);
    // Another round is reading the next list: this one serves meanwhile (for at most another
    // max_age, and as long as a list takes) instead of every round waiting; it still shows this
    // process's own changes.
    if (account.listed && account.refreshing && age < 2 * max_age + account.last_list_took)
      return InstanceList(account.instances);
  }
  std::lock_guard<std::mutex> one_list(account.refresh_mu);
  Clock::TimePoint started;
  uint64_t epoch = 0;
  {
    std::lock_guard<std::mutex> lock(account.list_mu);
    started = clock_.Now();
    if (account.listed && started - account.listed_at < max_age)
      return InstanceList(account.instances);
    account.refreshing = true;
    account.created_meanwhile.clear();
    account.deleting_meanwhile.clear();
    epoch = account.epoch;
  }
  StatusOr<std::vector<cloud::Instance>> listed = account.client->ListInstances();
  std::lock_guard<std::mutex> lock(account.list_mu);
  account.refreshing = false;
  if (!listed.ok()) return listed.status();
  // The list may have been read before a create or delete this process made meanwhile was
  // answered: apply those again, so the new list never hides them.
  account.instances = std::make_shared<std::vector<cloud::Instance>>(std::move(*listed));
  for (const cloud::Instance& created : account.created_meanwhile)
    PutById(*account.instances, created);
  for (const std::string& id : account.deleting_meanwhile) MarkDeleting(account, id);
  account.listed_at = started;
  account.last_list_took = clock_.Now() - started;
  // An outcome nobody knows (Invalidate) since the list began: the next read lists again.
  account.listed = account.epoch == epoch;
  return InstanceList(account.instances);
}

void CloudAccounts::Invalidate(const std::string& token) {
  Account& account = AccountFor(token);
  std::lock_guard<std::mutex> lock(account.list_mu);
  account.listed = false;
  ++account.epoch;
}

void CloudAccounts::MarkDeleting(Account& account, const std::string& id) {
  for (cloud::Instance& cached : MutableInstances(account)) {
    if (cached.id == id) cached.status = "deleting";
  }
}

void CloudAccounts::RecordCreated(const std::string& token, const cloud::Instance& instance) {
  Account& account = AccountFor(token);
  std::lock_guard<std::mutex> lock(account.list_mu);
  if (account.refreshing) account.created_meanwhile.push_back(instance);
  // When not listed the next read lists, and sees it.
  PutById(MutableInstances(account), instance);
}

void CloudAccounts::RecordDeleting(const std::string& token, const std::string& id) {
  Account& account = AccountFor(token);
  std::lock_guard<std::mutex> lock(account.list_mu);
  if (account.refreshing) account.deleting_meanwhile.push_back(id);
  MarkDeleting(account, id);
}

StatusOr<std::string> CloudAccounts::ImageId(const std::string& token, const std::string& image) {
  Account& account = AccountFor(token);
  {
    std::lock_guard<std::mutex> lock(account.list_mu);
    auto it = account.images.find(image);
    if (it != account.images.end() && clock_.Now() - it->second.second < options_.lookups_max_age) {
      return it->second.first;
    }
  }
  StatusOr<cloud::Image> found = account.client->FindImage(image);
  if (!found.ok()) return found.status();
  std::lock_guard<std::mutex> lock(account.list_mu);
  account.images[image] = {found->id, clock_.Now()};
  return found->id;
}

Status CloudAccounts::RefreshSecurityGroups(Account& account, Clock::Duration max_age) {
  const Clock::TimePoint now = clock_.Now();
  if (account.security_groups_listed && now - account.security_groups_at < max_age)
    return Status::Ok();
  StatusOr<std::vector<cloud::SecurityGroup>> listed = account.client->ListSecurityGroups();
  if (!listed.ok()) return listed.status();
  account.security_groups = *listed;
  account.security_groups_at = now;
  account.security_groups_listed = true;
  return Status::Ok();
}

StatusOr<cloud::SecurityGroup> CloudAccounts::FindSecurityGroup(const std::string& token,
                                                                const std::string& name,
                                                                const std::string& region) {
  Account& account = AccountFor(token);
  std::lock_guard<std::mutex> lock(account.groups_mu);
  Status refreshed = RefreshSecurityGroups(account, options_.security_groups_max_age);
  if (!account.security_groups_listed) return refreshed;
  for (const cloud::SecurityGroup& group : account.security_groups) {
    if (group.name == name && InRegion(group, region)) return group;
  }
  return Status::Invalid("security group " + name + " does not exist" +
                         (region.empty() ? "" : " in region " + region) +
                         " (spec.network.securityGroupName names an existing group)");
}

StatusOr<std::vector<cloud::SecurityGroup>> CloudAccounts::SecurityGroups(
    const std::string& token) {
  Account& account = AccountFor(token);
  std::lock_guard<std::mutex> lock(account.groups_mu);
  if (Status refreshed = RefreshSecurityGroups(account, options_.security_groups_max_age);
      !refreshed.ok())
    return refreshed;
  return account.security_groups;
}

StatusOr<bool> CloudAccounts::SecurityGroupGone(const std::string& token, const std::string& id) {
  Account& account = AccountFor(token);
  std::lock_guard<std::mutex> lock(account.groups_mu);
  account.security_groups_listed = false;
  if (Status refreshed = RefreshSecurityGroups(account, {}); !refreshed.ok()) return refreshed;
  return std::none_of(
      account.security_groups.begin(), account.security_groups.end(),
      [&](const cloud::SecurityGroup& g) { return g.id == id && g.status != "deleting"; });
}

StatusOr<cloud::SecurityGroup> CloudAccounts::EnsureSecurityGroup(
    const std::string& token, const std::string& name, const std::string& description,
    const std::string& region, const std::vector<cloud::SecurityRule>& rules) {
  Account& account = AccountFor(token);
  std::lock_guard<std::mutex> lock(account.groups_mu);
  auto find = [&]() -> const cloud::SecurityGroup* {
    const cloud::SecurityGroup* found = nullptr;
    for (const cloud::SecurityGroup& group : account.security_groups) {
      if (group.name != name || !InRegion(group, region)) continue;
      // Two with one name (two operators raced on an API that allows it): a usable one.
      if (found == nullptr || (IsSecurityGroupPending(*found) && !IsSecurityGroupPending(group)))
        found = &group;
    }
    return found;
  };
  // A group that is settled is trusted for long; one the cloud is still applying, or none,
  // only for as long as an instance list.
  const cloud::SecurityGroup* cached = account.security_groups_listed ? find() : nullptr;
  const bool settled = cached != nullptr && !IsSecurityGroupPending(*cached);
  if (Status refreshed = RefreshSecurityGroups(
          account, settled ? options_.security_groups_max_age : options_.instances_max_age);
      !refreshed.ok())
    return refreshed;
  const cloud::SecurityGroup* group = find();
  StatusOr<cloud::SecurityGroup> answer = Status::Internal("unreachable");
  if (group == nullptr) {
    answer = account.client->CreateSecurityGroup(name, description, region, rules);
    if (!answer.ok()) {
      // A lost answer may have created it, and a conflict says someone did: list next time.
      account.security_groups_listed = false;
      return answer.status();
    }
  } else if (group->status == "error") {
    return Status::Unavailable("security group " + name + " (" + group->id +
                               ") is in status error; delete it to have it made again")
        .WithRetryable(false);
  } else if (!IsSecurityGroupPending(*group) && !SameRules(group->rules, rules)) {
    answer = account.client->UpdateSecurityGroup(group->id, name, description, rules);
    if (!answer.ok()) {
      account.security_groups_listed = false;
      return answer.status();
    }
  } else {
    return *group;
  }
  PutById(account.security_groups, *answer);
  return answer;
}

StatusOr<std::vector<std::string>> CloudAccounts::SshKeyIds(const std::string& token,
                                                            const std::vector<std::string>& names) {
  if (names.empty()) return std::vector<std::string>{};
  Account& account = AccountFor(token);
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(account.list_mu);
    for (const std::string& name : names) {
      auto it = account.ssh_keys.find(name);
      if (it == account.ssh_keys.end() ||
          clock_.Now() - it->second.second >= options_.lookups_max_age)
        break;
      ids.push_back(it->second.first);
    }
    if (ids.size() == names.size()) return ids;
  }
  StatusOr<std::vector<cloud::SshKey>> found = account.client->FindSshKeysByName(names);
  if (!found.ok()) return found.status();
  ids.clear();
  std::lock_guard<std::mutex> lock(account.list_mu);
  for (const cloud::SshKey& key : *found) {
    account.ssh_keys[key.name] = {key.id, clock_.Now()};
    ids.push_back(key.id);
  }
  return ids;
}

}  // namespace pygrid::controller
