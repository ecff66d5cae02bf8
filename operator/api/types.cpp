#include "api/types.h"

namespace pygrid::api {

namespace {
template <typename Enum, size_t N>
std::optional<Enum> Lookup(const std::pair<const char*, Enum> (&table)[N],
                           const std::string& text) {
  for (const auto& [name, value] : table) {
    if (text == name) return value;
  }
  return std::nullopt;
}

constexpr std::pair<const char*, Flavor> kFlavors[] = {{"gateway-2020", Flavor::kGateway2020},
                                                       {"network-0.2", Flavor::kNetwork02}};
constexpr std::pair<const char*, GpuDriver> kGpuDrivers[] = {{"nvidia", GpuDriver::kNvidia},
                                                             {"none", GpuDriver::kNone}};
constexpr std::pair<const char*, DeletionPolicy> kPolicies[] = {
    {"Delete", DeletionPolicy::kDelete}, {"Retain", DeletionPolicy::kRetain}};
constexpr std::pair<const char*, Phase> kPhases[] = {
    {"Pending", Phase::kPending},   {"Provisioning", Phase::kProvisioning},
    {"Ready", Phase::kReady},       {"Degraded", Phase::kDegraded},
    {"Suspended", Phase::kSuspended}, {"Updating", Phase::kUpdating},
    {"Deleting", Phase::kDeleting}, {"Failed", Phase::kFailed}};

template <typename Enum, size_t N>
const char* NameOf(const std::pair<const char*, Enum> (&table)[N], Enum value) {
  for (const auto& [name, entry] : table) {
    if (entry == value) return name;
  }
  return "";
}
}  // namespace

const char* FlavorName(Flavor flavor) { return NameOf(kFlavors, flavor); }
const char* GpuDriverName(GpuDriver driver) { return NameOf(kGpuDrivers, driver); }
const char* DeletionPolicyName(DeletionPolicy policy) { return NameOf(kPolicies, policy); }
const char* PhaseName(Phase phase) { return NameOf(kPhases, phase); }
std::optional<Flavor> ParseFlavor(const std::string& text) { return Lookup(kFlavors, text); }
std::optional<GpuDriver> ParseGpuDriver(const std::string& text) {
  return Lookup(kGpuDrivers, text);
}
std::optional<DeletionPolicy> ParseDeletionPolicy(const std::string& text) {
  return Lookup(kPolicies, text);
}
std::optional<Phase> ParsePhase(const std::string& text) { return Lookup(kPhases, text); }

}  // namespace pygrid::api
