// The PyGrid services genesis-sim's instances run, with the responses of the PyGrid reference
// (shared/reference/pygrid.md §5-6).
#include "pygrid_standins.h"

#include <nlohmann/json.hpp>

namespace pygrid::sim::genesis {

using nlohmann::json;

namespace {

SimResponse FlaskJson(int status, const json& body) {
  return SimResponse::Text(status, "application/json", body.dump());
}

SimResponse NotFoundPage() {
  return SimResponse::Text(404, "text/html; charset=utf-8",
                           "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n"
                           "<title>404 Not Found</title>\n<h1>Not Found</h1>\n");
}

}  // namespace

SimResponse GatewayHandler(const std::string& flavor, Registry& registry, const SimRequest& r) {
  if (r.method == "GET" && r.path == "/") {
    if (flavor == "network-0.2") {
      // 0.2.x network: `GET /` returns the plain string (Flask: text/html content type).
      return SimResponse::Text(200, "text/html; charset=utf-8", "Open Grid Network");
    }
    // Early-2020 gateway: renders an HTML page.
    return SimResponse::Text(200, "text/html; charset=utf-8",
                             "<!DOCTYPE html>\n<html><head><title>PyGrid Gateway</title></head>"
                             "<body><h1>PyGrid Gateway</h1><p>Grid Gateway is running.</p>"
                             "</body></html>\n");
  }
  if (r.method == "POST" && r.path == "/join") {
    // The server json.loads(request.data) whatever the content type (pygrid.md §5).
    json body;
    try {
      body = json::parse(r.body);
    } catch (const std::exception&) {
      return FlaskJson(400, {{"message", "Invalid JSON format."}});
    }
    if (!body.is_object() || !body.contains("node-id") || !body.contains("node-address") ||
        !body["node-id"].is_string() || !body["node-address"].is_string()) {
      return FlaskJson(400, {{"message", "Invalid JSON format."}});
    }
    std::lock_guard<std::mutex> lock(registry.mu);
    for (const auto& [id, address] : registry.nodes) {
      // A re-join does not update the address (pygrid.md §5).
      if (id == body["node-id"]) {
        return FlaskJson(409, {{"message", "This ID has already been registered"}});
      }
    }
    registry.nodes.emplace_back(body["node-id"], body["node-address"]);
    return FlaskJson(200, {{"message", "Successfully Connected!"}});
  }
  if (r.method == "GET" && r.path == "/connected-nodes") {
    std::lock_guard<std::mutex> lock(registry.mu);
    json ids = json::array();
    for (const auto& node : registry.nodes) ids.push_back(node.first);
    return FlaskJson(200, {{"grid-nodes", ids}});
  }
  return NotFoundPage();
}

SimResponse NodeHandler(const std::string& node_id, const SimRequest& r) {
  if (r.method != "GET") return NotFoundPage();
  if (r.path == "/") {
    return SimResponse::Text(200, "text/html; charset=utf-8",
                             "<!DOCTYPE html>\n<html><head><title>PyGrid Node</title></head>"
                             "<body><h1>PyGrid Node " +
                                 node_id + "</h1></body></html>\n");
  }
  if (r.path == "/data-centric/status/") {
    return FlaskJson(200, {{"success", true}, {"status", "OpenGrid"}});
  }
  if (r.path == "/data-centric/identity/") {
    return FlaskJson(200, {{"success", true}, {"identity", node_id}});
  }
  if (r.path == "/data-centric/status" || r.path == "/data-centric/identity") {
    // Werkzeug 1.0.1 redirects a missing trailing slash (pygrid.md §6).
    SimResponse resp = SimResponse::Text(308, "text/html; charset=utf-8", "Redirecting...");
    resp.headers["Location"] = r.path + "/";
    return resp;
  }
  return NotFoundPage();
}

}  // namespace pygrid::sim::genesis
