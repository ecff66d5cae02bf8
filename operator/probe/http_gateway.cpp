// The gateway probe over cpprestsdk. cpprest stays in this file (and out of every header).
#include <cpprest/http_client.h>

#include <exception>

#include "probe/internal/probes.h"

namespace pygrid::probe::internal {
namespace {

namespace http = web::http;

// A response read to the end; `error` is set (and the rest empty) when none arrived.
struct Fetched {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string error;
};

// Bodies of a gateway's root and /connected-nodes are small; a bigger one is not a gateway.
constexpr size_t kMaxBody = 1 << 20;

Fetched Get(http::client::http_client& client, const std::string& path) {
  Fetched out;
  try {
    http::http_response response = client.request(http::methods::GET, path).get();
    out.status = response.status_code();
    auto type = response.headers().find(http::header_names::content_type);
    if (type != response.headers().end()) out.content_type = type->second;
    // Ignore the declared charset: Flask's text/html pages and JSON must be read as bytes.
    out.body = response.extract_utf8string(/*ignore_content_type=*/true).get();
    if (out.body.size() > kMaxBody) out.body.resize(kMaxBody);
  } catch (const std::exception& e) {
    out.error = Printable(e.what(), 200);
    if (out.error.empty()) out.error = "request failed";
  }
  return out;
}

// `base_url` without trailing slashes, or Invalid when it is not an absolute http(s) URL.
StatusOr<std::string> BaseOf(const std::string& base_url, const char* what) {
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (!web::uri::validate(base) || web::uri(base).host().empty() ||
      (web::uri(base).scheme() != "http" && web::uri(base).scheme() != "https")) {
    return Status::Invalid(std::string(what) + " URL \"" + Printable(base_url, 200) +
                           "\" is not an absolute http(s) URL");
  }
  return base;
}

}  // namespace

StatusOr<NodeProbe> ProbeNodeOverHttp(const std::string& base_url, api::Flavor flavor,
                                      const std::string& node_id,
                                      std::chrono::milliseconds timeout) {
  StatusOr<std::string> base = BaseOf(base_url, "node");
  if (!base.ok()) return base.status();
  http::client::http_client_config config;
  config.set_timeout(timeout);
  NodeProbe probe;
  try {
    http::client::http_client client(*base, config);
    Fetched answer = Get(client, NodeStatusPath(flavor));
    std::string why;
    if (!answer.error.empty()) {
      probe.detail = "node " + *base + " does not answer: " + answer.error;
    } else if (!IsNodeAnswer(flavor, answer.status, answer.body, node_id, &why)) {
      probe.detail = "node " + *base + ": " + why;
    } else {
      probe.answers = true;
      probe.detail = "node " + *base + " answers";
    }
  } catch (const std::exception& e) {
    return Status::Invalid("node URL \"" + Printable(base_url, 200) +
                           "\" cannot be used: " + Printable(e.what(), 200));
  }
  return probe;
}

StatusOr<GatewayProbe> ProbeGatewayOverHttp(const std::string& base_url, api::Flavor flavor,
                                            std::chrono::milliseconds timeout) {
  StatusOr<std::string> checked = BaseOf(base_url, "gateway");
  if (!checked.ok()) return checked.status();
  const std::string base = *checked;
  http::client::http_client_config config;
  config.set_timeout(timeout);
  GatewayProbe probe;
  try {
    http::client::http_client client(base, config);
    Fetched root = Get(client, "/");
    if (!root.error.empty()) {
      probe.detail = "gateway " + base + " does not answer: " + root.error;
      return probe;
    }
    std::string why;
    if (!IsGatewayRoot(flavor, root.status, root.content_type, root.body, &why)) {
      probe.detail = "gateway " + base + ": " + why;
      return probe;
    }
    probe.answers = true;
    Fetched nodes = Get(client, "/connected-nodes");
    if (!nodes.error.empty()) {
      probe.detail = "gateway answers, but /connected-nodes failed: " + nodes.error;
    } else if (nodes.status != 200) {
      probe.detail =
          "gateway answers, but /connected-nodes answered HTTP " + std::to_string(nodes.status);
    } else if (StatusOr<std::set<std::string>> ids = ParseConnectedNodes(nodes.body); !ids.ok()) {
      probe.detail = "gateway answers, but its node list is malformed: " + ids.status().message();
    } else {
      probe.connected_nodes = std::move(*ids);
      probe.detail =
          "gateway answers; " + std::to_string(probe.connected_nodes.size()) + " node(s) connected";
    }
  } catch (const std::exception& e) {
    // http_client's constructor throws on a URI it cannot use.
    return Status::Invalid("gateway URL \"" + Printable(base_url, 200) +
                           "\" cannot be used: " + Printable(e.what(), 200));
  }
  return probe;
}

}  // namespace pygrid::probe::internal
