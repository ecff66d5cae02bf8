// Provides Bakery: the operator's prepared base images. For every (account, region, base image,
// GPU setting, PyGrid images) that a grid with spec.preparedImage "auto" uses, it bakes one
// snapshot that already holds the apt packages, the NVIDIA driver and container toolkit (with a
// GPU) and the grid's container images, shared by every grid with the same key:
//
//   builder  <name>-builder booted from the base image with the builder's user data
//            (bootstrap/builder_data.h); it installs and pulls, then powers itself off
//   snapshot <name> of the shut-off builder, once `available` used for every later create
//   cleanup  the builder is deleted once its snapshot is available (or its bake failed)
//   sweep    a snapshot no grid has wanted for `retention` is deleted
//
// where <name> = "pygrid-base-" + 12 hex digits of a hash of the key. Everything is found again
// by these names, so a restarted operator adopts a builder or snapshot in progress instead of
// starting another, and what is wanted is derived from the grids the operator sees (Wishes),
// never stored only in memory. A failed bake (the builder errs, or has not shut itself off
// within bake_timeout, or the snapshot errs) is retried with exponential backoff and jitter.
//
// Nothing here waits inside a reconcile: Tick() runs on a background thread (the manager's
// sweeper, leader only) with the per-account clients of CloudAccounts (their rate limit is
// shared with the reconciles); a reconcile only reads what the last Tick found, through
// ImageForCreates.
//
//   Bakery bakery(clouds, clock, [&] { return WishesOf(clusters.List(), get_secret, clouds); });
//   bakery.Tick();  // every few seconds
//   StatusOr<api::ImageStatus> image = ImageForCreates(clouds, &bakery, token, spec);
//
// Thread-safety: Tick() from one thread at a time; Prepared() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "api/types.h"
#include "bootstrap/templates.h"
#include "controller/cloud_accounts.h"
#include "core/clock.h"
#include "core/rate.h"

namespace pygrid::observability {
class Metrics;
}  // namespace pygrid::observability

namespace pygrid::controller {

inline constexpr char kBakePrefix[] = "pygrid-base-";
inline constexpr char kBuilderSuffix[] = "-builder";

// What a prepared image is prepared for. The account is implicit: names are per account.
struct BakeKey {
  std::string region;
  std::string base_image_id;
  bool gpu = true;
  std::vector<std::string> images;  // sorted (bootstrap::GridImages)
};

// The bake's snapshot name: "pygrid-base-" + 12 hex digits of SHA-256 over the key and the
// builder recipe's version (a new recipe bakes anew).
std::string BakeName(const BakeKey& key);
// The builder instance of bake `bake_name`.
std::string BuilderName(const std::string& bake_name);
// The key of a defaulted spec whose spec.image resolved to `base_image_id`.
BakeKey BakeKeyFor(const api::ClusterSpec& spec, const std::string& base_image_id);

// One grid's wish for a prepared image.
struct BakeWish {
  std::string token;  // a secret: never logged
  BakeKey key;
  api::ClusterSpec spec;  // defaulted: the builder's instance type and user data come from it
};

// The wishes of `clusters` (PyGridCluster objects): those with spec.preparedImage "auto" that
// are valid, not being deleted and have readable credentials. Resolves spec.image through the
// account's cached look-up; a grid whose image cannot be resolved wishes nothing this time.
std::vector<BakeWish> WishesOf(
    const std::vector<nlohmann::json>& clusters,
    const std::function<std::optional<nlohmann::json>(const std::string& key)>& get_secret,
    CloudAccounts& clouds);

struct BakeryOptions {
  // A builder that has not shut itself off this long after its creation failed (the set-up is
  // some 6 minutes of real time, the 2020 script waited up to 40 for a snapshot).
  std::chrono::system_clock::duration bake_timeout = std::chrono::minutes(60);
  // A snapshot no grid has wanted for this long is deleted. See README (prepared images).
  std::chrono::system_clock::duration retention = std::chrono::hours(24 * 7);
  // Between failed attempts of one bake: at least the base delay (1, 2, 4 ... 60 min), plus up
  // to half of it at random so many operators' retries spread out.
  BackoffPolicy retry{std::chrono::minutes(1), std::chrono::hours(1), 2.0,
                      JitterMode::kProportional, 0.5};
  std::uint64_t jitter_seed = 0;  // 0: seeded from std::random_device
};

// What a reconcile asks of the bakery (an interface, so reconciler tables can fake it).
class PreparedImages {
 public:
  virtual ~PreparedImages() = default;
  // The id of the available prepared snapshot for `key` in `token`'s account, if any. Never
  // calls the cloud: it answers from what the bakery last observed.
  virtual std::optional<std::string> Prepared(const std::string& token,
                                              const BakeKey& key) const = 0;
};

class Bakery final : public PreparedImages {
 public:
  using Wishes = std::function<std::vector<BakeWish>()>;

  // `clouds`, `clock`, `metrics` (may be null) and `templates` must outlive the Bakery.
  Bakery(CloudAccounts& clouds, const Clock& clock, Wishes wishes, BakeryOptions options = {},
         observability::Metrics* metrics = nullptr,
         const bootstrap::Templates* templates = nullptr);

  // As the last Tick saw it; nullopt while there is none (not started, running or failed).
  std::optional<std::string> Prepared(const std::string& token, const BakeKey& key) const override;

  // True once since a Prepared() call asked for a key the last Tick did not know as wished (a
  // new grid's first create): the caller ticks at once instead of after its idle interval.
  bool TakeNudge() { return nudged_.exchange(false); }

  // One pass over every account that has a wish or that the operator holds a token for: takes
  // each wished bake one step further, deletes builders nobody needs and sweeps snapshots past
  // their retention. True while a bake is in progress (then tick again soon).
  bool Tick();

 private:
  struct BakeState {
    bool baking = false;  // seen in progress: a finish counts as a bake
    int failures = 0;     // in a row
    std::chrono::system_clock::time_point next_try{};
  };
  // One account's pass; true while a bake of it is in progress.
  bool TickAccount(const std::string& token, const std::vector<const BakeWish*>& wishes);
  // Takes bake `wish` one step; true while it is in progress.
  bool Advance(const std::string& token, const BakeWish& wish, const cloud::Snapshot* snapshot,
               const cloud::Instance* builder);
  void CreateBuilder(const std::string& token, const BakeWish& wish, BakeState& state);
  void Fail(BakeState& state, const std::string& name, const std::string& why);
  void DeleteBuilder(const std::string& token, const cloud::Instance& builder);

  CloudAccounts& clouds_;
  const Clock& clock_;
  Wishes wishes_;
  BakeryOptions options_;
  observability::Metrics* metrics_;
  const bootstrap::Templates& templates_;
  ExponentialBackoff backoff_;
  std::mt19937_64 rng_;
  std::map<std::string, BakeState> states_;  // token + "/" + name (Tick's thread only)
  // Snapshots seen not wanted: since when (Tick's thread only).
  std::map<std::string, std::chrono::system_clock::time_point> unwanted_since_;
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, std::string>> available_;  // token -> name -> id
  std::map<std::string, std::set<std::string>> wished_;  // token -> names wished at the last Tick
  mutable std::atomic<bool> nudged_{false};
};

// The image the creates of `spec` (defaulted) boot from now: spec.preparedImage "none": the
// base image; "auto": the bakery's snapshot for the spec's key when available, else the base
// image (no bakery: always the base image); anything else: that image, prepared. Ids are
// resolved through the account's cached look-ups.
StatusOr<api::ImageStatus> ImageForCreates(CloudAccounts& clouds, const PreparedImages* bakery,
                                           const std::string& token, const api::ClusterSpec& spec);

}  // namespace pygrid::controller
