// The pure half of the probes: what a gateway's answer means, and what the marker command said.
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "probe/internal/probes.h"

namespace pygrid::probe::internal {
namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is not one.
size_t Utf8SequenceLength(const std::string& text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  size_t length = lead < 0x80           ? 1
                  : (lead >> 5) == 0x6  ? 2
                  : (lead >> 4) == 0xE  ? 3
                  : (lead >> 3) == 0x1E ? 4
                                        : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = i + 1; k < i + length; ++k) {
    if ((byte(k) & 0xC0) != 0x80) return 0;
  }
  return length;
}

}  // namespace

std::string Printable(const std::string& text, size_t max) {
  // Status messages end up in JSON (conditions, events), where invalid UTF-8 makes the
  // serializer throw; a file cut by `head -c` can end mid-character.
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      out += '?';
      ++i;
      continue;
    }
    if (length == 1) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      out += (c < 0x20 || c == 0x7F) ? ' ' : text[i];
    } else {
      out.append(text, i, length);
    }
    i += length;
  }
  size_t begin = out.find_first_not_of(' ');
  if (begin == std::string::npos) return "";
  size_t end = out.find_last_not_of(' ');
  out = out.substr(begin, end - begin + 1);
  if (out.size() > max) {
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out = out.substr(0, cut) + "...";
  }
  return out;
}

bool IsGatewayRoot(api::Flavor flavor, int http_status, const std::string& content_type,
                   const std::string& body, std::string* why) {
  auto fail = [&](std::string reason) {
    if (why != nullptr) *why = std::move(reason);
    return false;
  };
  if (http_status != 200) {
    return fail("GET / answered HTTP " + std::to_string(http_status));
  }
  switch (flavor) {
    case api::Flavor::kNetwork02:
      // pygrid.md §6, Network 0.2.x: GET / returns the plain text "Open Grid Network".
      if (body.find("Open Grid Network") != std::string::npos) return true;
      return fail("GET / answered, but not as a network-0.2 gateway (no \"Open Grid Network\")");
    case api::Flavor::kGateway2020:
      // pygrid.md §6, Early 2020 gateway: GET / renders an HTML page.
      if (StartsWith(Lower(content_type), "text/html") ||
          Lower(body).find("<html") != std::string::npos) {
        return true;
      }
      return fail("GET / answered, but not as a gateway-2020 gateway (no HTML page)");
  }
  return fail("unknown flavour");
}

const char* NodeStatusPath(api::Flavor flavor) {
  // pygrid.md §6: the 0.2 node's identity route (with its trailing slash: Werkzeug redirects
  // without it); the early-2020 node serves an HTML page at /.
  return flavor == api::Flavor::kNetwork02 ? "/data-centric/identity/" : "/";
}

bool IsNodeAnswer(api::Flavor flavor, int http_status, const std::string& body,
                  const std::string& node_id, std::string* why) {
  auto fail = [&](std::string reason) {
    if (why != nullptr) *why = std::move(reason);
    return false;
  };
  const std::string path = NodeStatusPath(flavor);
  if (http_status != 200)
    return fail("GET " + path + " answered HTTP " + std::to_string(http_status));
  if (flavor != api::Flavor::kNetwork02) return true;
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("identity") ||
      !doc["identity"].is_string()) {
    return fail("GET " + path + " did not answer {\"identity\": ...}");
  }
  const std::string identity = doc["identity"].get<std::string>();
  if (identity != node_id) {
    return fail("it answers as node \"" + Printable(identity, 100) + "\", not \"" + node_id + "\"");
  }
  return true;
}

StatusOr<std::set<std::string>> ParseConnectedNodes(const std::string& body) {
  // pygrid.md §6: {"grid-nodes": ["Alice", "Bob", ...]}, ids only.
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::Invalid("/connected-nodes did not answer a JSON object");
  }
  auto nodes = doc.find("grid-nodes");
  if (nodes == doc.end() || !nodes->is_array()) {
    return Status::Invalid("/connected-nodes has no \"grid-nodes\" list");
  }
  std::set<std::string> ids;
  for (const auto& id : *nodes) {
    if (!id.is_string()) return Status::Invalid("/connected-nodes lists a non-string node id");
    ids.insert(id.get<std::string>());
  }
  return ids;
}

StatusOr<MarkerProbe> ParseMarkerOutput(const std::string& output) {
  std::string text = output;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  // kMarkerCommand prints the delivered address on a line of its own after the state line
  // (whose reason it flattens to one line); output without it is a worker that has none.
  std::string delivered;
  const size_t last_line = text.rfind('\n');
  if (last_line != std::string::npos && StartsWith(text.substr(last_line + 1), "gateway:")) {
    delivered = text.substr(last_line + 1 + 8);
    delivered.erase(0, delivered.find_first_not_of(' '));
    text.erase(last_line);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  }
  if (!IsGatewayJoinURL(delivered)) delivered.clear();
  auto marker = [&](MarkerState state, std::string detail) {
    return MarkerProbe{state, std::move(detail), delivered};
  };
  if (text == "ready") return marker(MarkerState::kReady, "readiness marker present");
  if (StartsWith(text, "failed:")) {
    std::string reason = Printable(text.substr(7), 500);
    return marker(MarkerState::kFailed,
                  reason.empty() ? "start-up failed (no reason recorded)" : reason);
  }
  if (StartsWith(text, "pending:")) {
    std::string line = Printable(text.substr(8), 200);
    if (line.empty() || line == "booting") {
      return marker(MarkerState::kPending, "booting (cloud-init status unknown)");
    }
    // `cloud-init status` prints "status: running" / "status: done" / "status: error"; any
    // other line is what pygrid-start waits for (/var/lib/pygrid/waiting), e.g.
    // kWaitingForGatewayAddress.
    if (!StartsWith(line, "status:")) return marker(MarkerState::kPending, line);
    return marker(MarkerState::kPending, "start-up still running; cloud-init " + line);
  }
  return Status::Unavailable("unexpected output from the readiness marker command: \"" +
                             Printable(text, 200) + "\"");
}

bool IsGatewayJoinURL(const std::string& url) {
  // A whole number in [min, max] without leading zeros.
  auto number = [](const std::string& digits, int max) {
    if (digits.empty() || digits.size() > 5 || (digits.size() > 1 && digits[0] == '0')) {
      return false;
    }
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
    }
    return std::stoi(digits) <= max;
  };
  const std::string scheme = "http://";
  if (!StartsWith(url, scheme)) return false;
  const std::string rest = url.substr(scheme.size());
  const size_t colon = rest.find(':');
  if (colon == std::string::npos) return false;
  const std::string port = rest.substr(colon + 1);
  if (!number(port, 65535) || port == "0") return false;
  std::string host = rest.substr(0, colon);
  int octets = 0;
  for (size_t start = 0;;) {
    const size_t dot = host.find('.', start);
    const std::string octet = host.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!number(octet, 255)) return false;
    ++octets;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return octets == 4;
}

Status ParseDeliverOutput(const std::string& output, const std::string& where) {
  std::string text = output;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  const size_t last_line = text.rfind('\n');
  const std::string line = last_line == std::string::npos ? text : text.substr(last_line + 1);
  if (line == "delivered" || line == "delivered; re-joining") return Status::Ok();
  if (StartsWith(line, "error: ")) {
    return Status::Unavailable("delivering the gateway address to " + where +
                               " failed: " + Printable(line.substr(7), 300));
  }
  return Status::Unavailable("unexpected output from the gateway delivery command on " + where +
                             ": \"" + Printable(text, 200) + "\"");
}

}  // namespace pygrid::probe::internal
