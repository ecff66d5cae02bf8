#include "controller/bakery.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "api/conditions.h"
#include "api/defaults.h"
#include "api/json.h"
#include "api/validation.h"
#include "bootstrap/builder_data.h"
#include "controller/credentials.h"
#include "observability/log.h"
#include "observability/metrics.h"

namespace pygrid::controller {

using nlohmann::json;

namespace {

// Bumped whenever the builder's user data changes what a prepared image holds.
constexpr char kRecipeVersion[] = "1";

const observability::Logger& Log() {
  static const observability::Logger logger("controller.bakery");
  return logger;
}

bool HasPrefix(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

bool IsBuilderName(const std::string& name) {
  const std::string suffix = kBuilderSuffix;
  return HasPrefix(name, kBakePrefix) && name.size() > suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string BakeName(const BakeKey& key) {
  std::string fields = std::string(kRecipeVersion) + "|" + key.region + "|" + key.base_image_id +
                       "|" + (key.gpu ? "nvidia" : "none") + "|";
  for (const std::string& image : key.images) fields += image + ",";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(fields.data()), fields.size(), digest);
  char hex[13];
  std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x%02x%02x", digest[0], digest[1], digest[2],
                digest[3], digest[4], digest[5]);
  return std::string(kBakePrefix) + hex;
}

std::string BuilderName(const std::string& bake_name) { return bake_name + kBuilderSuffix; }

BakeKey BakeKeyFor(const api::ClusterSpec& spec, const std::string& base_image_id) {
  return {spec.region, base_image_id, spec.gpu_driver == api::GpuDriver::kNvidia,
          bootstrap::GridImages(spec)};
}

std::vector<BakeWish> WishesOf(
    const std::vector<json>& clusters,
    const std::function<std::optional<json>(const std::string& key)>& get_secret,
    CloudAccounts& clouds) {
  std::vector<BakeWish> wishes;
  for (const json& object : clusters) {
    const json& meta = object.value("metadata", json::object());
    if (!meta.value("deletionTimestamp", "").empty()) continue;
    StatusOr<api::PyGridCluster> cluster = api::ClusterFromJson(object);
    if (!cluster.ok()) continue;
    api::ApplyDefaults(cluster->spec);
    const api::ClusterSpec& spec = cluster->spec;
    if (spec.prepared_image != api::kPreparedImageAuto || spec.suspend) continue;
    if (!api::ValidateCluster(*cluster).empty()) continue;
    const std::string ns = meta.value("namespace", "");
    const api::SecretKeyRef& ref = spec.credentials_secret_ref;
    CredentialsOrProblem read =
        ReadToken(ref.name.empty() ? std::nullopt : get_secret(ns + "/" + ref.name), ns, ref);
    if (!read.problem.ok()) continue;
    StatusOr<std::string> base = clouds.ImageId(read.token, spec.image);
    if (!base.ok()) continue;
    wishes.push_back({std::move(read.token), BakeKeyFor(spec, *base), spec});
  }
  return wishes;
}

Bakery::Bakery(CloudAccounts& clouds, const Clock& clock, Wishes wishes, BakeryOptions options,
               observability::Metrics* metrics, const bootstrap::Templates* templates)
    : clouds_(clouds),
      clock_(clock),
      wishes_(std::move(wishes)),
      options_(options),
      metrics_(metrics),
      templates_(templates != nullptr ? *templates : bootstrap::Templates::Builtin()),
      backoff_(options.retry),
      rng_(options.jitter_seed != 0 ? options.jitter_seed : std::random_device{}()) {}

std::optional<std::string> Bakery::Prepared(const std::string& token, const BakeKey& key) const {
  const std::string name = BakeName(key);
  std::lock_guard<std::mutex> lock(mu_);
  auto wished = wished_.find(token);
  if (wished == wished_.end() || wished->second.count(name) == 0) nudged_ = true;
  auto account = available_.find(token);
  if (account == available_.end()) return std::nullopt;
  auto it = account->second.find(name);
  if (it == account->second.end()) return std::nullopt;
  return it->second;
}

bool Bakery::Tick() {
  const std::vector<BakeWish> wishes = wishes_ ? wishes_() : std::vector<BakeWish>{};
  std::map<std::string, std::vector<const BakeWish*>> by_account;
  for (const std::string& token : clouds_.Tokens()) by_account[token];
  for (const BakeWish& wish : wishes) by_account[wish.token].push_back(&wish);
  bool busy = false;
  for (const auto& [token, account_wishes] : by_account) {
    busy |= TickAccount(token, account_wishes);
  }
  return busy;
}

bool Bakery::TickAccount(const std::string& token, const std::vector<const BakeWish*>& wishes) {
  const std::string account = CloudAccounts::AccountLabel(token);
  StatusOr<std::vector<cloud::Snapshot>> snapshots = clouds_.For(token).ListSnapshots();
  if (!snapshots.ok()) {
    Log().Error("cannot list snapshots", snapshots.status(), {{"account", account}});
    return !wishes.empty();
  }
  StatusOr<std::vector<cloud::Instance>> instances = clouds_.Instances(token);
  if (!instances.ok()) {
    Log().Error("cannot list instances", instances.status(), {{"account", account}});
    return !wishes.empty();
  }
  std::map<std::string, const cloud::Snapshot*> ours;
  for (const cloud::Snapshot& s : *snapshots) {
    if (HasPrefix(s.name, kBakePrefix)) ours.emplace(s.name, &s);
  }
  std::map<std::string, const cloud::Instance*> builders;
  for (const cloud::Instance& i : *instances) {
    if (IsBuilderName(i.name) && i.status != "deleting") builders.emplace(i.name, &i);
  }
  // One wish per bake (the first grid's spec builds it; the key is the same for all).
  std::map<std::string, const BakeWish*> wanted;
  for (const BakeWish* wish : wishes) wanted.emplace(BakeName(wish->key), wish);

  bool busy = false;
  for (const auto& [name, wish] : wanted) {
    auto snapshot = ours.find(name);
    auto builder = builders.find(BuilderName(name));
    busy |= Advance(token, *wish, snapshot == ours.end() ? nullptr : snapshot->second,
                    builder == builders.end() ? nullptr : builder->second);
  }
  // Builders of bakes nobody wants any more (the grids went, or changed): never left behind.
  for (const auto& [name, builder] : builders) {
    const std::string bake = name.substr(0, name.size() - std::string(kBuilderSuffix).size());
    if (wanted.count(bake) == 0) DeleteBuilder(token, *builder);
  }
  // Retention: counted from when this process first saw a snapshot unwanted, so a restart
  // only ever delays a deletion, never brings it forward.
  const auto now = clock_.WallNow();
  std::map<std::string, std::string> available;
  int count = 0;
  for (const auto& [name, snapshot] : ours) {
    ++count;
    const std::string key = token + "/" + name;
    if (wanted.count(name) != 0) {
      unwanted_since_.erase(key);
      if (snapshot->status == "available") available[name] = snapshot->id;
      continue;
    }
    auto since = unwanted_since_.emplace(key, now).first->second;
    if (now - since < options_.retention || snapshot->status == "snapshotting") continue;
    Status deleted = clouds_.For(token).DeleteSnapshot(snapshot->id);
    if (deleted.ok() || deleted.IsNotFound()) {
      Log().Info("deleted prepared image no grid used for the retention period",
                 {{"snapshot", name}, {"id", snapshot->id}, {"account", account}});
      unwanted_since_.erase(key);
      --count;
    } else {
      Log().Error("cannot delete prepared image", deleted, {{"snapshot", name}});
    }
  }
  if (metrics_ != nullptr) metrics_->SetPreparedImages(account, count);
  std::set<std::string> wished;
  for (const auto& [name, wish] : wanted) wished.insert(name);
  std::lock_guard<std::mutex> lock(mu_);
  available_[token] = std::move(available);
  wished_[token] = std::move(wished);
  return busy;
}

bool Bakery::Advance(const std::string& token, const BakeWish& wish,
                     const cloud::Snapshot* snapshot, const cloud::Instance* builder) {
  const std::string name = BakeName(wish.key);
  BakeState& state = states_[token + "/" + name];
  if (snapshot != nullptr) {
    if (snapshot->status == "available") {
      // Only now: deleting the source of a snapshot still being taken could spoil it.
      if (builder != nullptr) DeleteBuilder(token, *builder);
      if (state.baking) {
        Log().Info("prepared image baked", {{"snapshot", name}, {"id", snapshot->id}});
        if (metrics_ != nullptr) metrics_->IncBakes("succeeded");
      }
      state = BakeState{};
      return false;
    }
    if (snapshot->status == "error") {
      Status deleted = clouds_.For(token).DeleteSnapshot(snapshot->id);
      if (!deleted.ok() && !deleted.IsNotFound()) {
        Log().Error("cannot delete failed snapshot", deleted, {{"snapshot", name}});
      }
      if (builder != nullptr) DeleteBuilder(token, *builder);
      Fail(state, name, "the snapshot failed");
      return false;
    }
    state.baking = true;  // snapshotting
    return true;
  }
  if (builder != nullptr) {
    state.baking = true;
    if (builder->status == "shutoff") {
      // The builder powered itself off: everything succeeded (bootstrap/builder_data.h).
      StatusOr<cloud::Snapshot> taken = clouds_.For(token).CreateSnapshot(builder->id, name);
      if (taken.ok()) {
        Log().Info("snapshotting prepared image", {{"snapshot", name}, {"id", taken->id}});
      } else if (!cloud::IsAmbiguousCreateFailure(taken.status()) && !taken.status().retryable()) {
        DeleteBuilder(token, *builder);
        Fail(state, name, "the snapshot was refused: " + taken.status().message());
        return false;
      }
      // Otherwise the next pass's snapshot list shows whether it was taken.
      return true;
    }
    std::optional<std::chrono::system_clock::time_point> created =
        api::ParseTime(builder->created_at);
    const bool timed_out = created && clock_.WallNow() - *created >= options_.bake_timeout;
    if (builder->status == "error" || timed_out) {
      DeleteBuilder(token, *builder);
      Fail(
          state, name,
          builder->status == "error" ? "the builder failed" : "the builder did not finish in time");
      return false;
    }
    return true;
  }
  if (clock_.WallNow() < state.next_try) return false;
  CreateBuilder(token, wish, state);
  return true;
}

void Bakery::CreateBuilder(const std::string& token, const BakeWish& wish, BakeState& state) {
  const std::string name = BakeName(wish.key);
  const std::string builder = BuilderName(name);
  StatusOr<std::string> user_data =
      bootstrap::RenderBuilderUserData(wish.spec, builder, templates_);
  if (!user_data.ok()) {
    Fail(state, name, "cannot render the builder's user data: " + user_data.status().message());
    return;
  }
  cloud::CreateInstanceRequest request;
  request.name = builder;
  request.hostname = builder;
  // A worker's type: the driver's set-up checks the GPU, so the builder needs the grid's GPU.
  request.type = wish.spec.workers.instance_type;
  request.image = wish.key.base_image_id;
  request.startup_script = std::move(*user_data);
  request.region = wish.key.region;
  cloud::CloudProvider& cloud = clouds_.For(token);
  StatusOr<cloud::Instance> created = cloud.CreateInstance(request);
  if (!created.ok() && cloud::IsAmbiguousCreateFailure(created.status())) {
    // It may exist: look the name up now, never create a second one blindly.
    clouds_.Invalidate(token);
    StatusOr<std::optional<cloud::Instance>> found = cloud.FindInstanceByName(builder);
    if (found.ok() && found->has_value()) created = **found;
  }
  if (!created.ok()) {
    Fail(state, name, "the builder's create failed: " + created.status().message());
    return;
  }
  clouds_.RecordCreated(token, *created);
  state.baking = true;
  Log().Info("baking prepared image", {{"snapshot", name}, {"builder", created->id}});
}

void Bakery::Fail(BakeState& state, const std::string& name, const std::string& why) {
  const auto delay = backoff_.Delay(state.failures, rng_);
  ++state.failures;
  state.baking = false;
  state.next_try = clock_.WallNow() + delay;
  Log().Warning(
      "bake failed; retrying later",
      {{"snapshot", name},
       {"reason", why},
       {"retryInSeconds",
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(delay).count())}});
  if (metrics_ != nullptr) metrics_->IncBakes("failed");
}

void Bakery::DeleteBuilder(const std::string& token, const cloud::Instance& builder) {
  Status deleted = clouds_.For(token).DeleteInstance(builder.id);
  if (deleted.ok() || deleted.IsNotFound()) {
    clouds_.RecordDeleting(token, builder.id);
    Log().Info("deleted builder", {{"builder", builder.name}, {"id", builder.id}});
  } else {
    Log().Error("cannot delete builder; retrying next pass", deleted, {{"builder", builder.name}});
  }
}

StatusOr<api::ImageStatus> ImageForCreates(CloudAccounts& clouds, const PreparedImages* bakery,
                                           const std::string& token, const api::ClusterSpec& spec) {
  const bool auto_bake = spec.prepared_image == api::kPreparedImageAuto;
  if (!auto_bake && spec.prepared_image != api::kPreparedImageNone) {
    StatusOr<std::string> own = clouds.ImageId(token, spec.prepared_image);
    if (!own.ok()) return own.status();
    return api::ImageStatus{*own, true, false};
  }
  StatusOr<std::string> base = clouds.ImageId(token, spec.image);
  if (!base.ok()) return base.status();
  if (auto_bake && bakery != nullptr) {
    if (std::optional<std::string> baked = bakery->Prepared(token, BakeKeyFor(spec, *base))) {
      return api::ImageStatus{*baked, true, true};
    }
  }
  return api::ImageStatus{*base, false, false};
}

}  // namespace pygrid::controller
