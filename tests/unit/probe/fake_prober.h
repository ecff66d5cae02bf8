// A scriptable Prober for reconciler and planner tests: answers what the test set per gateway
// URL and per SSH host, counts the calls, and never touches the network.
//
//   auto fake = std::make_unique<pygrid::probe::FakeProber>();
//   fake->SetGateway("http://10.0.0.1:7000", GatewayProbe{true, {"c-0a1b2c3d-worker-0"}, ""});
//   fake->SetMarker("10.0.0.1", MarkerProbe{MarkerState::kPending, "cloud-init status: running"});
//   Reconciler reconciler(..., std::move(fake));
//
// Unset URLs (gateways and nodes) answer {answers=false, "no answer (fake)"}; unset hosts answer
// kUnreachable, the state of an instance that is still booting; deliveries of the gateway
// address succeed unless set otherwise. Thread-safe: the reconciler may
// probe from several workers while the test changes answers.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "probe/prober.h"

namespace pygrid::probe {

class FakeProber : public Prober {
 public:
  // Answer `result` to every later ProbeGateway(base_url, any flavour).
  void SetGateway(const std::string& base_url, StatusOr<GatewayProbe> result) {
    std::lock_guard<std::mutex> lock(mu_);
    gateways_.insert_or_assign(base_url, std::move(result));
  }
  // Answer `result` to every later ProbeMarker whose target.host is `host`.
  void SetMarker(const std::string& host, StatusOr<MarkerProbe> result) {
    std::lock_guard<std::mutex> lock(mu_);
    markers_.insert_or_assign(host, std::move(result));
  }
  // Answer `result` to every later ProbeNode(base_url, any flavour, any node id).
  void SetNode(const std::string& base_url, StatusOr<NodeProbe> result) {
    std::lock_guard<std::mutex> lock(mu_);
    nodes_.insert_or_assign(base_url, std::move(result));
  }
  // Answer `result` to every later DeliverGateway whose target.host is `host` (unset hosts
  // accept every delivery).
  void SetDelivery(const std::string& host, Status result) {
    std::lock_guard<std::mutex> lock(mu_);
    deliveries_.insert_or_assign(host, std::move(result));
  }
  // Forgets every answer set so far (calls are still counted).
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    gateways_.clear();
    nodes_.clear();
    markers_.clear();
    deliveries_.clear();
  }

  StatusOr<GatewayProbe> ProbeGateway(const std::string& base_url, api::Flavor flavor) override {
    std::lock_guard<std::mutex> lock(mu_);
    gateway_calls_.emplace_back(base_url, flavor);
    auto it = gateways_.find(base_url);
    if (it != gateways_.end()) return it->second;
    GatewayProbe none;
    none.detail = "gateway " + base_url + " does not answer: no answer (fake)";
    return none;
  }

  StatusOr<NodeProbe> ProbeNode(const std::string& base_url, api::Flavor flavor,
                                const std::string& node_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    node_calls_.push_back(base_url);
    auto it = nodes_.find(base_url);
    if (it != nodes_.end()) return it->second;
    NodeProbe none;
    none.detail = "node " + base_url + " does not answer: no answer (fake)";
    return none;
  }

  StatusOr<MarkerProbe> ProbeMarker(const SshTarget& target) override {
    std::lock_guard<std::mutex> lock(mu_);
    marker_targets_.push_back(target);
    auto it = markers_.find(target.host);
    if (it != markers_.end()) return it->second;
    return MarkerProbe{MarkerState::kUnreachable,
                       "no SSH connection to " + target.host + ": unreachable (fake)"};
  }

  Status DeliverGateway(const SshTarget& target, const std::string& gateway_url) override {
    std::lock_guard<std::mutex> lock(mu_);
    delivery_calls_.emplace_back(target.host, gateway_url);
    auto it = deliveries_.find(target.host);
    return it != deliveries_.end() ? it->second : Status::Ok();
  }

  // Every DeliverGateway call so far, in order: (target host, gateway URL).
  std::vector<std::pair<std::string, std::string>> delivery_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return delivery_calls_;
  }
  // Every ProbeGateway call so far, in order: (base_url, flavour).
  std::vector<std::pair<std::string, api::Flavor>> gateway_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return gateway_calls_;
  }
  // Every ProbeNode base URL so far, in order.
  std::vector<std::string> node_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return node_calls_;
  }
  // Every ProbeMarker target so far, in order (private keys included: tests only).
  std::vector<SshTarget> marker_targets() const {
    std::lock_guard<std::mutex> lock(mu_);
    return marker_targets_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, StatusOr<GatewayProbe>> gateways_;
  std::map<std::string, StatusOr<NodeProbe>> nodes_;
  std::map<std::string, StatusOr<MarkerProbe>> markers_;
  std::map<std::string, Status> deliveries_;
  std::vector<std::pair<std::string, std::string>> delivery_calls_;
  std::vector<std::pair<std::string, api::Flavor>> gateway_calls_;
  std::vector<std::string> node_calls_;
  std::vector<SshTarget> marker_targets_;
};

}  // namespace pygrid::probe
