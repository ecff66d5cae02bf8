// An in-memory CloudProvider for tests of code above the cloud layer (controller, planner):
// instances, images, SSH keys and security groups in plain vectors, scripted failures per
// operation, a lost-create switch, and call counts. Instances change status only when the
// test says so (SetStatus), so tests control time completely.
//
//   FakeCloudProvider cloud;
//   cloud.AddImage({"img-1", "Ubuntu 22.04", "base-os", "ubuntu-22.04", {}, ""});
//   cloud.FailNext("CreateInstance", Status::Unavailable("boom"));
//   cloud.SetStatus(id, "active", "127.0.1.1", "127.0.2.1");
//
// Thread-safety: every method locks one mutex; safe from several threads.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cloud/cloud_provider.h"

namespace pygrid::cloud::testing {

class FakeCloudProvider : public CloudProvider {
 public:
  // Scripts the next call of `operation` (e.g. "CreateInstance") to fail with `status`.
  void FailNext(const std::string& operation, Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_[operation].push_back(std::move(status));
  }
  // The next CreateInstance creates the instance but reports an ambiguous failure.
  void LoseNextCreate() {
    std::lock_guard<std::mutex> lock(mu_);
    lose_next_create_ = true;
  }
  void AddImage(Image image) {
    std::lock_guard<std::mutex> lock(mu_);
    images_.push_back(std::move(image));
  }
  void AddSshKey(SshKey key) {
    std::lock_guard<std::mutex> lock(mu_);
    keys_.push_back(std::move(key));
  }
  // Sets an instance's status (and IPs when given); false if there is no such instance.
  bool SetStatus(const std::string& id, const std::string& status,
                 std::optional<std::string> public_ip = std::nullopt,
                 std::optional<std::string> private_ip = std::nullopt) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Instance& i : instances_) {
      if (i.id != id) continue;
      i.status = status;
      if (public_ip) i.public_ip = public_ip;
      if (private_ip) i.private_ip = private_ip;
      i.updated_at = "2026-01-01T00:00:01.000Z";
      return true;
    }
    return false;
  }
  // Removes an instance at once (deleted out of band, or a `deleting` one that finished).
  void Remove(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    instances_.erase(std::remove_if(instances_.begin(), instances_.end(),
                                    [&](const Instance& i) { return i.id == id; }),
                     instances_.end());
  }
  // How many times `operation` was called.
  int Calls(const std::string& operation) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(operation);
    return it == calls_.end() ? 0 : it->second;
  }
  std::vector<Instance> instances() const {
    std::lock_guard<std::mutex> lock(mu_);
    return instances_;
  }
  std::vector<SecurityGroup> security_groups() const {
    std::lock_guard<std::mutex> lock(mu_);
    return groups_;
  }
  // The last CreateInstance request seen (user data included).
  CreateInstanceRequest last_create() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_create_;
  }

  StatusOr<std::vector<Instance>> ListInstances() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("ListInstances"); !s.ok()) return s;
    return instances_;
  }
  StatusOr<Instance> GetInstance(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("GetInstance"); !s.ok()) return s;
    for (const Instance& i : instances_) {
      if (i.id == id) return i;
    }
    return Status::NotFound("instance " + id + " not found").WithHttpStatus(404);
  }
  StatusOr<Instance> CreateInstance(const CreateInstanceRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("CreateInstance"); !s.ok()) return s;
    last_create_ = request;
    Instance i;
    i.id = "instance-" + std::to_string(++next_id_);
    i.name = request.name;
    i.hostname = request.hostname.empty() ? request.name : request.hostname;
    i.type = request.type;
    i.image = {request.image, request.image};
    i.status = "enqueued";
    i.region = request.region.empty() ? "ARC-IS-HAF-1" : request.region;
    for (const auto& k : request.ssh_key_ids) i.ssh_keys.push_back({k, k});
    for (const auto& g : request.security_group_ids) i.security_groups.push_back({g, g});
    i.created_at = "2026-01-01T00:00:00.000Z";
    instances_.push_back(i);
    if (lose_next_create_) {
      lose_next_create_ = false;
      return Status::Unavailable("CreateInstance: connection closed before the answer");
    }
    return i;
  }
  Status DeleteInstance(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("DeleteInstance"); !s.ok()) return s;
    for (Instance& i : instances_) {
      if (i.id == id) {
        i.status = "deleting";
        return Status::Ok();
      }
    }
    return Status::NotFound("instance " + id + " not found").WithHttpStatus(404);
  }
  Status StartInstance(const std::string& id) override {
    return Act("StartInstance", id, "starting");
  }
  Status StopInstance(const std::string& id) override {
    return Act("StopInstance", id, "stopping");
  }
  StatusOr<std::vector<Image>> ListImages() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("ListImages"); !s.ok()) return s;
    return images_;
  }
  StatusOr<std::vector<SshKey>> ListSshKeys() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("ListSshKeys"); !s.ok()) return s;
    return keys_;
  }
  StatusOr<std::vector<SecurityGroup>> ListSecurityGroups() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("ListSecurityGroups"); !s.ok()) return s;
    return groups_;
  }
  // New groups report `creating` until SetGroupStatus says otherwise (SPEC23: asynchronous).
  StatusOr<SecurityGroup> CreateSecurityGroup(const std::string& name,
                                              const std::string& description,
                                              const std::string& region,
                                              const std::vector<SecurityRule>& rules) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("CreateSecurityGroup"); !s.ok()) return s;
    if (name == "standard" || name == "default") {
      return Status::Invalid("the name " + name + " is reserved").WithHttpStatus(400);
    }
    SecurityGroup g{"sg-" + std::to_string(++next_id_),
                    name,
                    description,
                    region.empty() ? "ARC-IS-HAF-1" : region,
                    "creating",
                    rules,
                    "2026-01-01T00:00:00.000Z"};
    groups_.push_back(g);
    return g;
  }
  StatusOr<SecurityGroup> UpdateSecurityGroup(const std::string& id, const std::string& name,
                                              const std::string& description,
                                              const std::vector<SecurityRule>& rules) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("UpdateSecurityGroup"); !s.ok()) return s;
    for (SecurityGroup& g : groups_) {
      if (g.id != id) continue;
      g.name = name;
      g.description = description;
      g.rules = rules;
      g.status = "updating";
      return g;
    }
    return Status::NotFound("security group not found").WithHttpStatus(404);
  }
  // Sets a group's status (e.g. "created" once the cloud applied it); false if there is none.
  bool SetGroupStatus(const std::string& id, const std::string& status) {
    std::lock_guard<std::mutex> lock(mu_);
    for (SecurityGroup& g : groups_) {
      if (g.id != id) continue;
      g.status = status;
      return true;
    }
    return false;
  }
  Status DeleteSecurityGroup(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("DeleteSecurityGroup"); !s.ok()) return s;
    const size_t before = groups_.size();
    groups_.erase(std::remove_if(groups_.begin(), groups_.end(),
                                 [&](const SecurityGroup& g) { return g.id == id; }),
                  groups_.end());
    if (groups_.size() == before) return Status::NotFound("security group not found");
    return Status::Ok();
  }

  // Snapshots: created `snapshotting` (of an active or shut-off instance, as genesis-sim), then
  // whatever SetSnapshotStatus says; created_at is the instance's unless AddSnapshot sets it.
  void AddSnapshot(Snapshot snapshot) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_.push_back(std::move(snapshot));
  }
  bool SetSnapshotStatus(const std::string& id, const std::string& status) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Snapshot& s : snapshots_) {
      if (s.id != id) continue;
      s.status = status;
      return true;
    }
    return false;
  }
  std::vector<Snapshot> snapshots() const {
    std::lock_guard<std::mutex> lock(mu_);
    return snapshots_;
  }
  StatusOr<Snapshot> CreateSnapshot(const std::string& instance_id,
                                    const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("CreateSnapshot"); !s.ok()) return s;
    for (const Instance& i : instances_) {
      if (i.id != instance_id) continue;
      if (i.status != "active" && i.status != "shutoff") {
        return Status::Conflict("cannot snapshot an instance in status " + i.status)
            .WithHttpStatus(409);
      }
      Snapshot s{"snap-" + std::to_string(++next_id_),
                 name,
                 i.id,
                 i.region,
                 "snapshotting",
                 "2026-01-01T00:00:00.000Z"};
      snapshots_.push_back(s);
      return s;
    }
    return Status::NotFound("instance " + instance_id + " not found").WithHttpStatus(404);
  }
  StatusOr<std::vector<Snapshot>> ListSnapshots() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("ListSnapshots"); !s.ok()) return s;
    return snapshots_;
  }
  StatusOr<Snapshot> GetSnapshot(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("GetSnapshot"); !s.ok()) return s;
    for (const Snapshot& s : snapshots_) {
      if (s.id == id) return s;
    }
    return Status::NotFound("snapshot " + id + " not found").WithHttpStatus(404);
  }
  Status DeleteSnapshot(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin("DeleteSnapshot"); !s.ok()) return s;
    const size_t before = snapshots_.size();
    snapshots_.erase(std::remove_if(snapshots_.begin(), snapshots_.end(),
                                    [&](const Snapshot& s) { return s.id == id; }),
                     snapshots_.end());
    if (snapshots_.size() == before) return Status::NotFound("snapshot not found");
    return Status::Ok();
  }

 private:
  // Counts the call and pops a scripted failure, if any (mu_ held).
  Status Begin(const std::string& operation) {
    ++calls_[operation];
    auto it = failures_.find(operation);
    if (it == failures_.end() || it->second.empty()) return Status::Ok();
    Status s = it->second.front();
    it->second.pop_front();
    return s;
  }
  Status Act(const std::string& operation, const std::string& id, const std::string& status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = Begin(operation); !s.ok()) return s;
    for (Instance& i : instances_) {
      if (i.id == id) {
        i.status = status;
        return Status::Ok();
      }
    }
    return Status::NotFound("instance " + id + " not found").WithHttpStatus(404);
  }

  mutable std::mutex mu_;
  std::map<std::string, std::deque<Status>> failures_;
  std::map<std::string, int> calls_;
  std::vector<Instance> instances_;
  std::vector<Image> images_;
  std::vector<SshKey> keys_;
  std::vector<SecurityGroup> groups_;
  std::vector<Snapshot> snapshots_;
  CreateInstanceRequest last_create_;
  bool lose_next_create_ = false;
  int next_id_ = 0;
};

}  // namespace pygrid::cloud::testing
