// Snapshots (SPEC23 tag Snapshots and `instances/{id}/snapshots`) and the bookkeeping of the
// set-up time model: what an instance holds at a given moment, which is what a snapshot of it
// captures.
#include <algorithm>
#include <regex>

#include "genesis_sim.h"
#include "sim_util.h"

namespace pygrid::sim::genesis {

using nlohmann::json;

namespace {

// Boot disk size of an instance type ("..._disk-80g_..."); SPEC23 types all have 80 GiB.
long long DiskBytes(const std::string& type) {
  static const std::regex disk("_disk-([0-9]+)g");
  std::smatch m;
  const long long gib = std::regex_search(type, m, disk) ? std::stoll(m[1].str()) : 80;
  return gib * 1024 * 1024 * 1024;
}

}  // namespace

std::set<std::string> GenesisSim::ContentsAt(const Instance& inst, Steady::time_point now) const {
  std::set<std::string> contents = inst.image_contents;
  if (!inst.setup_planned) return contents;
  double done_at = 0;  // seconds after the first boot at which each step ends
  for (const SetupStep& step : inst.setup) {
    done_at += step.seconds * inst.setup_scale;
    const auto end = inst.setup_started + std::chrono::duration_cast<Steady::duration>(
                                              std::chrono::duration<double>(done_at));
    if (end > now) break;
    if (step.item != kStepAptUpdate) contents.insert(step.item);
  }
  return contents;
}

json GenesisSim::SetupJson(const Instance& inst, Steady::time_point now) const {
  json steps = json::array();
  for (const SetupStep& s : inst.setup) steps.push_back({{"item", s.item}, {"seconds", s.seconds}});
  const double modelled = TotalSeconds(inst.setup);
  const double charged = modelled * inst.setup_scale;
  std::string state = "not-started";  // not booted yet
  if (inst.setup_planned) {
    const double elapsed = std::chrono::duration<double>(now - inst.setup_started).count();
    state = elapsed >= charged ? "done" : "running";
  }
  const std::set<std::string> contents = ContentsAt(inst, now);
  return {{"id", inst.id},
          {"name", inst.name},
          {"image", {{"id", inst.image.id}, {"name", inst.image.name}}},
          {"image_contents", inst.image_contents},
          {"contents", contents},
          {"steps", steps},
          {"modelled_seconds", modelled},
          {"time_scale", inst.setup_scale},
          {"charged_seconds", charged},
          {"state", state}};
}

GenesisSim::Snapshot* GenesisSim::FindSnapshot(const std::string& id) {
  return FindById(snapshots_, id);
}

json GenesisSim::SnapshotJson(const Snapshot& s) const {
  // SPEC23 compute.v1.Snapshot: id, name, resource_id, region, status, created_at required;
  // size is a string of bytes (format int64).
  return {{"id", s.id},
          {"name", s.name},
          {"size", std::to_string(s.size_bytes)},
          {"resource_id", s.resource_id},
          {"region", s.region},
          {"status", s.status},
          {"created_at", s.created_at}};
}

SimResponse GenesisSim::InstanceSnapshots(const SimRequest& r, Instance& inst) {
  if (r.method == "GET") {
    return ListOf(
        r, "snapshots", snapshots_, [this](const Snapshot& s) { return SnapshotJson(s); },
        [&inst](const Snapshot& s) { return s.resource_id == inst.id; });
  }
  if (r.method != "POST") return ErrorResponse(405, kCodeInvalidRoute, "Invalid route");
  json body;
  if (auto err = ParseJsonObject(r.body, &body)) return *err;
  // SPEC23 CreateSnapshot: `name` required.
  if (!body.contains("name") || !body["name"].is_string() ||
      body["name"].get<std::string>().empty()) {
    return ErrorResponse(400, kCodeInvalidRequest, "name is required");
  }
  // Which states allow a snapshot is undocumented; DIST snapshotted an active instance, and a
  // stopped disk is as good. Booting, stopping or deleting ones are refused (our choice).
  if (inst.status != "active" && inst.status != "shutoff") {
    return ErrorResponse(409, kCodeConflict,
                         "cannot snapshot an instance in status " + inst.status);
  }
  const auto now = Steady::now();
  Snapshot s;
  s.id = NewId();
  s.name = body["name"];
  s.resource_id = inst.id;
  s.region = inst.region;  // GO25: a snapshot lives in its instance's region
  s.status = "snapshotting";
  s.created_at = Now();
  s.size_bytes = DiskBytes(inst.type);
  // The disk as it is now: set-up steps still running are not in it (DIST snapshotted while
  // its gateway was still pulling images).
  s.contents = ContentsAt(inst, now);
  s.available_at = now + std::chrono::duration_cast<Steady::duration>(
                             std::chrono::duration<double>(config_.snapshot_seconds));
  snapshots_.push_back(s);
  return SimResponse::Json(201, json{{"snapshot", SnapshotJson(s)}}.dump());
}

SimResponse GenesisSim::Snapshots(const SimRequest& r, const std::vector<std::string>& parts) {
  if (parts.size() == 1) {
    if (r.method != "GET") return ErrorResponse(405, kCodeInvalidRoute, "Invalid route");
    return ListOf(r, "snapshots", snapshots_,
                  [this](const Snapshot& s) { return SnapshotJson(s); });
  }
  Snapshot* s = parts.size() == 2 ? FindSnapshot(parts[1]) : nullptr;
  if (s == nullptr) return ErrorResponse(404, kCodeNotFound, "snapshot not found");
  if (r.method == "GET") return SimResponse::Json(200, json{{"snapshot", SnapshotJson(*s)}}.dump());
  if (r.method == "PATCH") {
    // SPEC23 UpdateSnapshot: body {name}, required.
    json body;
    if (auto err = ParseJsonObject(r.body, &body)) return *err;
    if (!body.contains("name") || !body["name"].is_string() ||
        body["name"].get<std::string>().empty()) {
      return ErrorResponse(400, kCodeInvalidRequest, "name is required");
    }
    s->name = body["name"];
    return SimResponse::Json(200, json{{"snapshot", SnapshotJson(*s)}}.dump());
  }
  if (r.method == "DELETE") {
    // SPEC23: 204. The status enum has no `deleting`, so it is gone at once; deleting one that
    // is still being taken is refused (our choice; undocumented).
    if (s->status == "snapshotting") {
      return ErrorResponse(409, kCodeConflict, "snapshot is still being taken");
    }
    snapshots_.erase(snapshots_.begin() + (s - snapshots_.data()));
    return SimResponse::Json(204, "");
  }
  return ErrorResponse(405, kCodeInvalidRoute, "Invalid route");
}

}  // namespace pygrid::sim::genesis
