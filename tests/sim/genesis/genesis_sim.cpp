// Core of the simulator: request dispatch, auth, fault injection, the instance resource and
// its life cycle. Create validation is in sim_create.cpp; security groups, SSH keys and images
// in sim_resources.cpp; snapshots and the set-up model's bookkeeping in sim_snapshots.cpp; the
// control API in sim_control.cpp.
#include "genesis_sim.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "sim_util.h"

namespace pygrid::sim::genesis {

using nlohmann::json;

SimResponse ErrorResponse(int status, const std::string& code, const std::string& message) {
  return SimResponse::Json(status, json{{"code", code}, {"message", message}}.dump());
}

namespace {

constexpr char kBase[] = "/compute/v1";

bool IsStringArray(const json& j) {
  if (!j.is_array()) return false;
  return std::all_of(j.begin(), j.end(), [](const json& x) { return x.is_string(); });
}

}  // namespace

GenesisSim::GenesisSim(SimConfig config, InstanceEmulator* emulator)
    : config_(std::move(config)), emulator_(emulator) {
  Seed();
}

std::string GenesisSim::NewId() {
  // UUIDv4-shaped ids drawn from the seeded generator, so runs are reproducible (--seed).
  std::uniform_int_distribution<int> hex(0, 15);
  std::string id = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
  for (char& c : id) {
    if (c == 'x') c = "0123456789abcdef"[hex(rng_)];
    if (c == 'y') c = "89ab"[hex(rng_) % 4];
  }
  return id;
}

std::string GenesisSim::Now() const { return Rfc3339(std::chrono::system_clock::now()); }

GenesisSim::Instance* GenesisSim::FindInstance(const std::string& id) {
  return FindById(instances_, id);
}

std::vector<std::string> GenesisSim::AllowedActions(const Instance& inst) const {
  // TF25 instance_status_resource: stop from active/starting/error, start only from stopped;
  // reset (GO23) from active.
  if (inst.status == "active") return {"stop", "reset"};
  if (inst.status == "starting" || inst.status == "error") return {"stop"};
  if (inst.status == "shutoff") return {"start"};
  return {};
}

json GenesisSim::InstanceJson(const Instance& inst) const {
  auto refs = [](const std::vector<Ref>& v) {
    json a = json::array();
    for (const Ref& r : v) a.push_back({{"id", r.id}, {"name", r.name}});
    return a;
  };
  auto opt = [](const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); };
  // Every field SPEC23 compute.v1.Instance marks required, plus the 2020 allowed_actions.
  return {{"id", inst.id},
          {"name", inst.name},
          {"hostname", inst.hostname},
          {"type", inst.type},
          {"public_ip", opt(inst.public_ip)},
          {"public_ip_type", inst.public_ip_type},
          {"private_ip", opt(inst.private_ip)},
          {"status", inst.status},
          {"ssh_keys", refs(inst.ssh_keys)},
          {"image", {{"id", inst.image.id}, {"name", inst.image.name}}},
          {"security_groups", refs(inst.security_groups)},
          {"volumes", json::array()},
          {"region", inst.region},
          {"placement_option", inst.placement},
          {"is_protected", inst.is_protected},
          {"allowed_actions", AllowedActions(inst)},
          {"created_at", inst.created_at},
          {"updated_at", opt(inst.updated_at)}};
}

void GenesisSim::SetStatus(Instance& inst, const std::string& status, std::vector<Event>& events) {
  const bool was_active = inst.status == "active";
  inst.status = status;
  inst.updated_at = Now();
  if (status == "active") {
    // DOCS: IPs "may take some time to be assigned"; PY20: null until active.
    char pub[32], priv[32];
    // Public 127.K.(2b+1).(h+1), private 127.K.(2b+2).(h+1) for slot = 254 b + h: distinct
    // addresses for up to 127 x 254 instances.
    const int block = inst.slot / 254, host = inst.slot % 254 + 1;
    std::snprintf(pub, sizeof(pub), "127.%d.%d.%d", config_.loopback_net, 2 * block + 1, host);
    std::snprintf(priv, sizeof(priv), "127.%d.%d.%d", config_.loopback_net, 2 * block + 2, host);
    inst.public_ip = pub;
    inst.private_ip = priv;
    EmulatedInstance emulated{inst.id, inst.name, inst.startup_script, pub, priv};
    if (!inst.setup_planned) {
      // The user data runs once, after the first boot (SPEC23 startup_script); what it installs
      // and pulls takes real time unless the image already holds it (README: set-up model).
      UserData user_data;
      std::string error;
      if (ParseUserData(inst.startup_script, priv, &user_data, &error)) {
        inst.setup = PlanSetup(user_data, inst.image_contents, config_.setup_figures);
      }
      inst.setup_planned = true;
      inst.setup_scale = config_.time_scale;
      inst.setup_started = Steady::now();
      for (const SetupStep& step : inst.setup) {
        // A gateway pulls in `docker-compose up`, last; a worker in `docker-compose pull`,
        // before it waits for its gateway (or for the address: a deferred worker).
        const bool pull = step.item.rfind("image:", 0) == 0 && !user_data.worker;
        (pull ? emulated.pull_seconds : emulated.setup_seconds) += step.seconds * inst.setup_scale;
      }
      // power_state poweroff (cc_power_state_change) runs after the final modules: once the
      // set-up is done the instance shuts itself off, which the API shows as `shutoff`.
      if (user_data.power_off) {
        inst.next_status = "shutoff";
        inst.next_at = inst.setup_started +
                       std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(
                           TotalSeconds(inst.setup) * inst.setup_scale));
      }
      // pygrid-start on a worker waits for `GATEWAY_URL/`, polling every 5 s, before
      // `docker-compose up` (only with the model on: scale 0 keeps the old behaviour); a
      // deferred worker does so once the address is delivered.
      if (inst.setup_scale > 0 && user_data.worker) {
        if (!user_data.start_conf["GATEWAY_URL"].empty()) {
          emulated.wait_url = user_data.start_conf["GATEWAY_URL"] + "/";
        }
        emulated.poll_seconds = 5 * inst.setup_scale;
      }
    }
    events.push_back({true, emulated});
  } else if (was_active) {
    events.push_back({false, {inst.id, inst.name, "", "", ""}});
  }
}

namespace {

// Takes the pending step of each of `objects` that is due at `now`: "gone" removes the object,
// any other status is cleared from next_status and handed to `step(object, status)`, which may
// schedule a further step (checked again at once: a zero delay allows it in the same tick).
template <typename T, typename TimePoint, typename Step>
void TakeDueSteps(std::vector<T>& objects, TimePoint now, Step step) {
  for (size_t i = 0; i < objects.size();) {
    T& object = objects[i];
    if (object.next_status.empty() || now < object.next_at) {
      ++i;
      continue;
    }
    if (object.next_status == "gone") {
      objects.erase(objects.begin() + static_cast<long>(i));
      continue;
    }
    const std::string next = object.next_status;
    object.next_status.clear();
    step(object, next);
  }
}

}  // namespace

void GenesisSim::TickLocked(Steady::time_point now, std::vector<Event>& events) {
  TakeDueSteps(instances_, now, [&](Instance& inst, const std::string& next) {
    if (next == "creating") {
      inst.next_status = "active";
      inst.next_at = inst.next_at + std::chrono::duration_cast<Steady::duration>(
                                        std::chrono::duration<double>(inst.boot_seconds * 0.8));
    }
    SetStatus(inst, next, events);
  });
  for (Snapshot& s : snapshots_) {
    // SPEC23 compute.v1.Snapshot.Status: snapshotting -> available.
    if (s.status == "snapshotting" && now >= s.available_at) s.status = "available";
  }
  TakeDueSteps(groups_, now, [](SecurityGroup& g, const std::string& next) { g.status = next; });
}

void GenesisSim::Emit(std::vector<Event>& events) {
  if (emulator_ == nullptr) return;
  for (const Event& e : events) {
    if (e.active) {
      emulator_->OnActive(e.instance);
    } else {
      emulator_->OnInactive(e.instance.id);
    }
  }
}

void GenesisSim::Tick() {
  std::lock_guard<std::mutex> emit_lock(emit_mu_);
  std::vector<Event> events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    TickLocked(Steady::now(), events);
  }
  Emit(events);
}

void GenesisSim::StopEmulation() {
  std::lock_guard<std::mutex> emit_lock(emit_mu_);
  std::vector<Event> events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Instance& i : instances_) events.push_back({false, {i.id, i.name, "", "", ""}});
  }
  Emit(events);
}

bool GenesisSim::RateLimited() {
  if (config_.rate_limit_per_second <= 0) return false;
  const auto now = Steady::now();
  const double rate = config_.rate_limit_per_second;
  const double elapsed = std::chrono::duration<double>(now - bucket_last_).count();
  bucket_tokens_ = std::min(rate, bucket_tokens_ + elapsed * rate);
  bucket_last_ = now;
  if (bucket_tokens_ < 1.0) return true;
  bucket_tokens_ -= 1.0;
  return false;
}

SimResponse GenesisSim::Handle(const SimRequest& request) {
  // A slow-answer fault waits before taking any lock, so other clients are not held up.
  int delay_ms = 0;
  if (request.path.rfind("/_sim/", 0) != 0) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Fault& f : faults_) {
      if (f.delay_ms <= 0 || f.remaining <= 0) continue;
      if (!f.method.empty() && f.method != request.method) continue;
      if (!std::regex_search(request.path, f.path)) continue;
      --f.remaining;
      delay_ms = f.delay_ms;
      break;
    }
  }
  if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  std::lock_guard<std::mutex> emit_lock(emit_mu_);
  std::vector<Event> events;
  SimResponse resp;
  {
    std::lock_guard<std::mutex> lock(mu_);
    TickLocked(Steady::now(), events);
    const bool control = request.path.rfind("/_sim/", 0) == 0;
    resp = control ? HandleControl(request, events) : HandleApi(request, events);
    if (!control) {
      json entry = {{"method", request.method},
                    {"path", request.path},
                    {"status", resp.status},
                    {"time", Now()}};
      if (!request.query.empty()) entry["query"] = request.query;
      if (resp.drop_connection) entry["lost"] = true;
      request_log_.push_back(entry);
      // Bounded so a long demo run does not grow without limit; tests read far fewer.
      if (request_log_.size() > 10000) request_log_.erase(request_log_.begin());
    }
  }
  Emit(events);
  return resp;
}

SimResponse GenesisSim::HandleApi(const SimRequest& r, std::vector<Event>& events) {
  for (Fault& f : faults_) {
    if (f.remaining <= 0 || f.delay_ms > 0) continue;
    if (!f.method.empty() && f.method != r.method) continue;
    if (!std::regex_search(r.path, f.path)) continue;
    --f.remaining;
    SimResponse resp = ErrorResponse(f.status, f.status == 429 ? kCodeRateLimited : kCodeInjected,
                                     f.status == 429 ? "Too Many Requests" : "injected failure");
    if (f.retry_after) resp.headers["Retry-After"] = std::to_string(*f.retry_after);
    return resp;
  }
  if (r.path.rfind(kBase, 0) != 0) return ErrorResponse(404, kCodeInvalidRoute, "Invalid route");
  // Both auth headers are accepted (reference §1.1: X-Auth-Token in SPEC23/PY20, Bearer in
  // current DOCS/JS24); anything else is 401 (PY20 connect() treats 401/403 as refused).
  const std::string bearer = r.Header("authorization");
  const bool ok = (!config_.token.empty() && bearer == "Bearer " + config_.token) ||
                  (!config_.token.empty() && r.Header("x-auth-token") == config_.token);
  if (!ok) return ErrorResponse(401, kCodeUnauthorized, "Unauthorized");
  if (r.body_too_large) {
    // The real limit is undocumented; the simulator reads at most 16 MiB.
    return ErrorResponse(413, kCodeTooLarge, "request body is larger than 16 MiB");
  }
  if (RateLimited()) {
    SimResponse resp = ErrorResponse(429, kCodeRateLimited, "Too Many Requests");
    resp.headers["Retry-After"] = "1";
    return resp;
  }
  std::vector<std::string> parts = SplitPath(r.path.substr(sizeof(kBase) - 1));
  if (parts.empty()) return ErrorResponse(404, kCodeInvalidRoute, "Invalid route");
  if (parts[0] == "instances") return Instances(r, parts, events);
  if (parts[0] == "security-groups") return SecurityGroups(r, parts);
  if (parts[0] == "ssh-keys") return SshKeys(r, parts);
  if (parts[0] == "images") return Images(r, parts);
  if (parts[0] == "snapshots") return Snapshots(r, parts);
  return ErrorResponse(404, kCodeInvalidRoute, "Invalid route");
}

SimResponse GenesisSim::Instances(const SimRequest& r, const std::vector<std::string>& parts,
                                  std::vector<Event>& events) {
  auto bad_method = [] { return ErrorResponse(405, kCodeInvalidRoute, "Invalid route"); };
  json body;
  if (r.method == "POST" || r.method == "PATCH" || r.method == "PUT") {
    if (auto err = ParseJsonObject(r.body, &body)) return *err;
  }
  if (parts.size() == 1) {
    if (r.method == "GET") {
      return ListOf(r, "instances", instances_,
                    [this](const Instance& i) { return InstanceJson(i); });
    }
    if (r.method == "POST") {
      SimResponse resp = CreateInstance(body);
      if (resp.status == 201 && lose_next_creates_ > 0) {
        --lose_next_creates_;  // performed, but the client never hears about it
        resp.drop_connection = true;
      }
      return resp;
    }
    return bad_method();
  }
  Instance* inst = FindInstance(parts[1]);
  if (inst == nullptr || parts.size() > 3) {
    return ErrorResponse(404, kCodeNotFound, "instance not found");
  }
  if (parts.size() == 3) {
    if (parts[2] == "snapshots") return InstanceSnapshots(r, *inst);
    if (parts[2] != "actions") return ErrorResponse(404, kCodeInvalidRoute, "Invalid route");
    if (r.method == "GET") {
      return SimResponse::Json(200, json{{"actions", AllowedActions(*inst)}}.dump());
    }
    if (r.method != "POST") return bad_method();
    return InstanceAction(*inst, body, events);
  }
  if (r.method == "GET")
    return SimResponse::Json(200, json{{"instance", InstanceJson(*inst)}}.dump());
  if (r.method == "DELETE") {
    if (inst->is_protected) {
      return ErrorResponse(409, kCodeConflict, "instance is protected against deletion");
    }
    if (inst->status != "deleting") {
      // TF25: DELETE -> 204, the instance shows `deleting`, later GET -> 404.
      SetStatus(*inst, "deleting", events);
      inst->next_status = "gone";
      inst->next_at = Steady::now() +
                      std::chrono::duration_cast<Steady::duration>(
                          std::chrono::duration<double>(std::min(inst->boot_seconds, 10.0) / 2));
    }
    return SimResponse::Json(204, "");
  }
  if (r.method == "PATCH") {
    // SPEC23 UpdateInstance: name, is_protected, security_groups, volumes.
    if (body.contains("name")) {
      if (!body["name"].is_string() || body["name"].get<std::string>().empty()) {
        return ErrorResponse(400, kCodeInvalidRequest, "name must be a non-empty string");
      }
    }
    if (body.contains("is_protected") && !body["is_protected"].is_boolean()) {
      return ErrorResponse(400, kCodeInvalidRequest, "is_protected must be a boolean");
    }
    std::vector<Ref> groups;
    if (body.contains("security_groups")) {
      if (!IsStringArray(body["security_groups"]) || body["security_groups"].empty()) {
        return ErrorResponse(400, kCodeInvalidRequest, "security_groups must be a list of ids");
      }
      for (const json& id : body["security_groups"]) {
        SecurityGroup* g = FindGroup(id.get<std::string>());
        if (g == nullptr) return ErrorResponse(404, kCodeNotFound, "security group not found");
        groups.push_back({g->id, g->name});
      }
    }
    if (body.contains("name")) inst->name = body["name"];
    if (body.contains("is_protected")) inst->is_protected = body["is_protected"];
    if (!groups.empty()) inst->security_groups = groups;
    inst->updated_at = Now();
    return SimResponse::Json(200, json{{"instance", InstanceJson(*inst)}}.dump());
  }
  return bad_method();
}

SimResponse GenesisSim::InstanceAction(Instance& inst, const json& body,
                                       std::vector<Event>& events) {
  if (!body.contains("action") || !body["action"].is_string()) {
    return ErrorResponse(400, kCodeInvalidRequest, "action is required");
  }
  const std::string action = body["action"];
  if (action != "start" && action != "stop" && action != "reset") {
    return ErrorResponse(400, kCodeInvalidRequest, "unknown action " + action);
  }
  const auto allowed = AllowedActions(inst);
  if (std::find(allowed.begin(), allowed.end(), action) == allowed.end()) {
    return ErrorResponse(409, kCodeConflict,
                         "action " + action + " is not allowed in status " + inst.status);
  }
  const double half = std::min(inst.boot_seconds, 10.0) / 2;
  const auto later = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                         std::chrono::duration<double>(half));
  // Transient states per SPEC23 status enum: stopping -> shutoff, starting -> active,
  // restarting -> active.
  if (action == "stop") {
    SetStatus(inst, "stopping", events);
    inst.next_status = "shutoff";
  } else if (action == "start") {
    SetStatus(inst, "starting", events);
    inst.next_status = "active";
  } else {
    SetStatus(inst, "restarting", events);
    inst.next_status = "active";
  }
  inst.next_at = later;
  return SimResponse::Json(204, "");  // SPEC23: POST .../actions -> 204
}

}  // namespace pygrid::sim::genesis
