// Provides the user data of a bake's builder instance: a #cloud-config document that installs
// what every PyGrid instance's user data installs (the same apt packages, with gpu.driver=nvidia
// the NVIDIA driver and container toolkit through the same pygrid-gpu-setup script) and pulls
// the grid's container images, but starts nothing; once all that succeeded it writes
// /var/lib/pygrid/baked and powers the instance off (cloud-init power_state, conditional on the
// marker). An instance that shut itself off is therefore done, which the operator sees in the
// instance list without SSH, and its disk is quiet while it is snapshotted.
//
//   StatusOr<std::string> user_data = RenderBuilderUserData(defaulted_spec, "pygrid-bake-…");
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "api/types.h"
#include "bootstrap/templates.h"
#include "core/status.h"

namespace pygrid::bootstrap {

inline constexpr char kBakedMarkerPath[] = "/var/lib/pygrid/baked";

// The container images every instance of `spec`'s grid pulls, sorted, without duplicates.
// `spec` must be defaulted (api::ApplyDefaults).
std::vector<std::string> GridImages(const api::ClusterSpec& spec);

// The builder's user data for `spec` (defaulted); `hostname` is the builder's name.
StatusOr<std::string> RenderBuilderUserData(const api::ClusterSpec& spec,
                                            const std::string& hostname,
                                            const Templates& templates = Templates::Builtin());

}  // namespace pygrid::bootstrap
