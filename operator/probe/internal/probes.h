// Internal to operator/probe: the two halves of the real Prober and the pure parsers they use.
// Callers outside operator/probe and tests/unit/probe must use prober.h instead.
//
// Thread-safety: every function here is reentrant; none keeps state between calls.
#pragma once

#include <chrono>
#include <set>
#include <string>

#include "api/types.h"
#include "core/status.h"
#include "probe/prober.h"

namespace pygrid::probe::internal {

// GETs <base_url>/ and <base_url>/connected-nodes over cpprestsdk, each bounded by `timeout`;
// the contract is Prober::ProbeGateway's.
StatusOr<GatewayProbe> ProbeGatewayOverHttp(const std::string& base_url, api::Flavor flavor,
                                            std::chrono::milliseconds timeout);

// GETs the flavour's status path at <base_url> over cpprestsdk, bounded by `timeout`; the
// contract is Prober::ProbeNode's.
StatusOr<NodeProbe> ProbeNodeOverHttp(const std::string& base_url, api::Flavor flavor,
                                      const std::string& node_id,
                                      std::chrono::milliseconds timeout);

// The path a node of `flavor` is probed at (pygrid.md §6).
const char* NodeStatusPath(api::Flavor flavor);

// True when a response to GET NodeStatusPath(flavor) is what node `node_id` answers; on false,
// *why (when given) says what was wrong, for people.
bool IsNodeAnswer(api::Flavor flavor, int http_status, const std::string& body,
                  const std::string& node_id, std::string* why);

// Runs kMarkerCommand over libssh with a pinned host key; the contract is Prober::ProbeMarker's.
StatusOr<MarkerProbe> ProbeMarkerOverSsh(const SshTarget& target);

// Runs kDeliverCommand the same way; the contract is Prober::DeliverGateway's.
Status DeliverGatewayOverSsh(const SshTarget& target, const std::string& gateway_url);

// True for exactly "http://<dotted-quad IPv4>:<port 1-65535>" (no leading zeros, nothing else).
bool IsGatewayJoinURL(const std::string& url);

// Classifies the output of kDeliverCommand run on `where`: OK for its acknowledgement,
// Unavailable with the instance's reason otherwise.
Status ParseDeliverOutput(const std::string& output, const std::string& where);

// True when a response to GET / is what `flavor`'s gateway answers (pygrid.md §6): network-0.2
// says "Open Grid Network" in plain text, the early-2020 gateway renders an HTML page. On false,
// *why (when given) says what was wrong, for people.
bool IsGatewayRoot(api::Flavor flavor, int http_status, const std::string& content_type,
                   const std::string& body, std::string* why);

// Parses a /connected-nodes body ({"grid-nodes": ["id", ...]}); Invalid when it is not that.
StatusOr<std::set<std::string>> ParseConnectedNodes(const std::string& body);

// Classifies the output of kMarkerCommand (its first line; a last line "gateway: <url>" fills
// delivered_gateway_url); Unavailable when it is none of its three forms.
StatusOr<MarkerProbe> ParseMarkerOutput(const std::string& output);

// `text` with control characters replaced by spaces, trimmed, cut to `max` bytes: safe to put in
// a condition message.
std::string Printable(const std::string& text, size_t max);

}  // namespace pygrid::probe::internal
