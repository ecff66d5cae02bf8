// A scriptable Prober for reconciler and planner tests: answers what the test set per gateway
// URL and per SSH host, counts the calls, and never touches the network.
//
//   auto fake = std::make_unique<pygrid::probe::FakeProber>();
//   fake->SetGateway("http://10.0.0.1:7000", GatewayProbe{true, {"c-0a1b2c3d-worker-0"}, ""});
//   fake->SetMarker("10.0.0.1", MarkerProbe{MarkerState::kPending, "cloud-init status: running"});
//   fake->SetDeliver("10.0.0.2", Status::Unavailable("no inbox yet"));  // DeliverGateway fails
//   Reconciler reconciler(..., std::move(fake));
//
// Unset URLs (gateways and nodes) answer {answers=false, "no answer (fake)"}; unset hosts answer
// kUnreachable, the state of an instance that is still booting. DeliverGateway succeeds unless
// SetDeliver says otherwise; a successful delivery is what later markers of that host report
// as delivered_gateway_url (unless the marker the test set names one itself). Thread-safe: the
// reconciler may probe from several workers while the test changes answers.
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
  // Answer `result` to every later DeliverGateway whose target.host is `host`.
  void SetDeliver(const std::string& host, Status result) {
    std::lock_guard<std::mutex> lock(mu_);
    deliver_results_.insert_or_assign(host, std::move(result));
  }
  // Forgets every answer set so far and every delivered address (calls are still counted).
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    gateways_.clear();
    nodes_.clear();
    markers_.clear();
    deliver_results_.clear();
    delivered_.clear();
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
    if (it == markers_.end()) {
      return MarkerProbe{MarkerState::kUnreachable,
                         "no SSH connection to " + target.host + ": unreachable (fake)"};
    }
    StatusOr<MarkerProbe> result = it->second;
    auto delivered = delivered_.find(target.host);
    if (result.ok() && result->state != MarkerState::kUnreachable &&
        result->delivered_gateway_url.empty() && delivered != delivered_.end()) {
      result->delivered_gateway_url = delivered->second;
    }
    return result;
  }

  Status DeliverGateway(const SshTarget& target, const std::string& gateway_url) override {
    std::lock_guard<std::mutex> lock(mu_);
    deliver_calls_.emplace_back(target.host, gateway_url);
    auto it = deliver_results_.find(target.host);
    Status result = it == deliver_results_.end() ? Status::Ok() : it->second;
    if (result.ok()) delivered_[target.host] = gateway_url;
    return result;
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
  // Every DeliverGateway call so far, in order: (host, gateway URL).
  std::vector<std::pair<std::string, std::string>> deliver_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return deliver_calls_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, StatusOr<GatewayProbe>> gateways_;
  std::map<std::string, StatusOr<NodeProbe>> nodes_;
  std::map<std::string, StatusOr<MarkerProbe>> markers_;
  std::map<std::string, Status> deliver_results_;
  std::map<std::string, std::string> delivered_;  // host -> last URL delivered successfully
  std::vector<std::pair<std::string, api::Flavor>> gateway_calls_;
  std::vector<std::string> node_calls_;
  std::vector<SshTarget> marker_targets_;
  std::vector<std::pair<std::string, std::string>> deliver_calls_;
};

}  // namespace pygrid::probe
