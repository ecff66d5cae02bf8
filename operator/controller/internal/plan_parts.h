// The planner's parts (controller/planner.h is the public face): the inventory of observed
// instances, the gateway and worker plans, conditions and phase. Private to controller/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controller/instance_state.h"
#include "controller/planner.h"

namespace pygrid::controller::internal {

// The cluster's instances by role and index; duplicates (same name) beyond the oldest.
struct Inventory {
  std::optional<cloud::Instance> gateway;
  std::map<int, cloud::Instance> workers;
  std::vector<cloud::Instance> duplicates;
  // True when any of them is on its way out.
  bool AnyGoingAway() const;
};
// Of several instances with one name, the one `recorded` in status is kept, else the oldest.
Inventory TakeInventory(const std::string& prefix, const std::vector<cloud::Instance>& instances,
                        const api::ClusterStatus& recorded);

// A create action; `lost` adds the InstanceLost warning (it existed and vanished).
Action CreateAction(api::InstanceRole role, int index, const std::string& name, bool lost);

// A stop action for a running instance of a suspended grid.
Action StopAction(const cloud::Instance& instance);

// A start action for a stopped instance, with its event: a warning when it was stopped out of
// band, a normal event when the grid resumes from spec.suspend.
Action StartAction(const Observations& seen, const cloud::Instance& instance,
                   const std::string& role);

// A delete action with its event.
Action DeleteAction(const cloud::Instance& instance, const std::string& reason,
                    const std::string& message, bool warning);

// What the gateway part decided, for the worker part and the conditions.
struct GatewayPlan {
  const cloud::Instance* instance = nullptr;  // the observed gateway, if any
  bool running = false;                       // active with both addresses
  bool replaced = false;                      // gone, failed or going away: its workers must go too
  bool colocated_registered = false;
  bool out_of_date = false;      // built from another spec: being replaced
  std::string not_ready_reason;  // "" when the gateway is ready
  std::string not_ready_message;
};
GatewayPlan PlanGateway(const Observations& seen, const Inventory& inventory, Plan& plan);

// What the worker part decided, for the conditions.
struct WorkersPlan {
  int ready = 0;
  int out_of_date = 0;               // built from another spec (replaced a few at a time)
  std::string remediation_blocked;   // why start-up failures are not being replaced, or ""
  std::vector<std::string> waiting;  // "name (why)"
};
WorkersPlan PlanWorkers(const Observations& seen, const Inventory& inventory,
                        const GatewayPlan& gateway, Plan& plan);

// Sets a condition of the plan's status, stamped against the previous status at seen.now.
void SetPlanCondition(const Observations& seen, api::ClusterStatus& status, const char* type,
                      bool ok, const std::string& reason, const std::string& message);

// GatewayReady, WorkersReady, Ready and the phase of a live cluster; the next step.
void ConcludeLive(const Observations& seen, const Inventory& inventory, const GatewayPlan& gateway,
                  const WorkersPlan& workers, Plan& plan);

// A human-readable explanation of an instance's SSH marker, "" when there is none.
std::string MarkerDetail(const Observations& seen, const std::string& name);

// Why an instance that is up (or on its way) but not serving should be replaced: its start-up
// marker says failed (StartupFailed), or it has not served within `timeout` doubled per earlier
// failure (StartupTimeout), counted from its creation while it is being created and from
// `unready_since` (see TrackUnready) once it runs; "" when it should be given more time.
std::string StartupVerdict(const Observations& seen, const cloud::Instance& instance,
                           const std::string& timeout, int failures,
                           const std::string& unready_since, std::string* message);

// Keeps an instance's start-up clock (status unreadySince): set to now the first round it runs
// without serving while `counting` (workers: while their gateway serves), cleared when it serves,
// does not run (stopped, starting: a restart gets its full time again), or is another instance.
void TrackUnready(const Observations& seen, const cloud::Instance& instance, bool same_instance,
                  bool serving, bool counting, std::string& unready_since);

// True when a create sent at `requested_at` (RFC 3339, "" for none) may still land.
bool MayStillLand(const Observations& seen, const std::string& requested_at);

// True when `instance` was made by the create sent at `requested_at` or a later one (its
// creation time is not before the request, allowing kClockSkew between operator and cloud),
// so that create has landed. An older instance with the name is another writer's.
bool LandedFrom(const cloud::Instance& instance, const std::string& requested_at);

// Forgets an unanswered create's record once it cannot land any more (see LandedFrom).
void ClearLandedRecord(const Observations& seen, const cloud::Instance& instance,
                       std::string& requested_at);

// For a grid that has not been up: "" while it is within spec.provisioningTimeout of its
// creation (or of being resumed), else the Ready message that says so, naming `missing`.
std::string ProvisioningOverdue(const Observations& seen, const std::string& missing);

// True when the phase says the grid was up before (Ready or Degraded).
bool WasUp(const api::ClusterStatus& status);

}  // namespace pygrid::controller::internal
