// The /_sim/ control API: not part of Genesis Cloud; lets tests inject faults and inspect
// what the simulator saw. Documented in README.md.
#include <algorithm>

#include "genesis_sim.h"
#include "sim_util.h"

namespace pygrid::sim::genesis {

using nlohmann::json;

SimResponse GenesisSim::HandleControl(const SimRequest& r, std::vector<Event>& events) {
  const std::vector<std::string> parts = SplitPath(r.path);  // ["_sim", ...]
  json body = json::object();
  if (r.body_too_large) return ErrorResponse(413, kCodeTooLarge, "control body too large");
  if (!r.body.empty()) {
    try {
      body = json::parse(r.body);
    } catch (const std::exception&) {
      return ErrorResponse(400, kCodeInvalidRequest, "control body is not valid JSON");
    }
  }
  // The request log holds paths and queries as received; invalid UTF-8 in them (a %FF in the
  // URL) becomes U+FFFD instead of an exception.
  auto ok = [](json j = json{{"ok", true}}) {
    return SimResponse::Json(200, j.dump(-1, ' ', false, json::error_handler_t::replace));
  };
  const std::string what = parts.size() > 1 ? parts[1] : "";
  try {
    if (what == "faults" && r.method == "POST") {
      Fault f;
      f.method = body.value("method", "");
      f.path_text = body.value("path", ".*");
      f.path = std::regex(f.path_text);
      f.status = body.value("status", 500);
      f.remaining = body.value("count", 1);
      if (body.contains("retry_after")) f.retry_after = body["retry_after"].get<int>();
      f.delay_ms = body.value("delay_ms", 0);
      faults_.push_back(f);
      return ok();
    }
    if (what == "faults" && r.method == "DELETE") {
      faults_.clear();
      return ok();
    }
    if (what == "lose-next-create" && r.method == "POST") {
      lose_next_creates_ += body.value("count", 1);
      return ok();
    }
    if (what == "boot-seconds" && r.method == "POST") {
      config_.boot_seconds = body.at("seconds").get<double>();
      return ok();
    }
    if (what == "time-scale" && r.method == "POST") {
      const double scale = body.at("scale").get<double>();
      if (scale < 0) return ErrorResponse(400, kCodeInvalidRequest, "scale must be >= 0");
      config_.time_scale = scale;  // for instances booting from now on
      return ok();
    }
    if (what == "snapshot-seconds" && r.method == "POST") {
      config_.snapshot_seconds = body.at("seconds").get<double>();
      return ok();
    }
    if (what == "setup" && r.method == "GET") {
      json list = json::array();
      const auto now = Steady::now();
      for (const Instance& i : instances_) {
        json j = SetupJson(i, now);
        // Where the emulated start script is: installing, waiting-for-gateway,
        // waiting-for-address, pulling, done (null when not running).
        j["phase"] = emulator_ != nullptr ? emulator_->Describe(i.id).value("setup", json(nullptr))
                                          : json(nullptr);
        list.push_back(j);
      }
      return ok(json{{"instances", list}});
    }
    if (what == "security-group-seconds" && r.method == "POST") {
      config_.security_group_seconds = body.at("seconds").get<double>();
      return ok();
    }
    if (what == "rate-limit" && r.method == "POST") {
      config_.rate_limit_per_second = body.at("per_second").get<double>();
      bucket_tokens_ = config_.rate_limit_per_second;
      bucket_last_ = Steady::now();
      return ok();
    }
    if (what == "quota" && r.method == "POST") {
      if (body.contains("instances") && body["instances"].is_number_integer()) {
        instance_quota_ = body["instances"].get<int>();
      } else {
        instance_quota_.reset();
      }
      return ok();
    }
    if (what == "requests" && r.method == "GET") return ok(json{{"requests", request_log_}});
    if (what == "requests" && r.method == "DELETE") {
      request_log_ = json::array();
      return ok();
    }
    if (what == "reset" && r.method == "POST") {
      for (const Instance& i : instances_) events.push_back({false, {i.id, i.name, "", "", ""}});
      Seed();
      return ok();
    }
    if (what == "instances" && parts.size() == 2 && r.method == "GET") {
      json list = json::array();
      for (const Instance& i : instances_) {
        json j = InstanceJson(i);
        j["emulation"] = emulator_ != nullptr ? emulator_->Describe(i.id) : json(nullptr);
        j["setup"] = SetupJson(i, Steady::now());
        list.push_back(j);
      }
      return ok(json{{"instances", list}});
    }
    if (what == "instances" && parts.size() >= 3) {
      auto it = std::find_if(instances_.begin(), instances_.end(),
                             [&](const Instance& i) { return i.id == parts[2]; });
      if (it == instances_.end()) return ErrorResponse(404, kCodeNotFound, "instance not found");
      if (parts.size() == 4 && parts[3] == "error" && r.method == "POST") {
        // An instance that dies: status `error` (SPEC23 enum), its services stop.
        SetStatus(*it, "error", events);
        it->next_status.clear();
        return ok();
      }
      if (parts.size() == 4 && parts[3] == "kill-node" && r.method == "POST") {
        // Its node container dies; the instance stays active, the gateway keeps listing it.
        if (emulator_ == nullptr || !emulator_->KillNodes(it->id))
          return ErrorResponse(409, kCodeInvalidRequest, "the instance runs no serving node");
        return ok();
      }
      if (parts.size() == 3 && r.method == "DELETE") {
        // Gone out of band (e.g. deleted in the dashboard): the next GET is a 404.
        events.push_back({false, {it->id, it->name, "", "", ""}});
        instances_.erase(it);
        return ok();
      }
    }
  } catch (const std::exception& e) {
    return ErrorResponse(400, kCodeInvalidRequest, std::string("bad control request: ") + e.what());
  }
  return ErrorResponse(404, kCodeInvalidRoute, "unknown control route");
}

}  // namespace pygrid::sim::genesis
