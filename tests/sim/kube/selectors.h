// Label selectors (=, ==, !=, in, notin, exists, !exists) and the field selectors kube-apiserver
// supports for every resource (metadata.name, metadata.namespace; = == !=). Parse once, match
// many; a parsed selector is immutable and thread-safe.
#pragma once

#include <string>
#include <vector>

#include "sim/kube/util.h"

namespace pygrid::sim::kube {

// A parsed label or field selector; empty matches everything.
class Selector {
 public:
  // Parses a labelSelector query value; false with `error` on a syntax error.
  static bool ParseLabels(const std::string& text, Selector* out, std::string* error);
  // Parses a fieldSelector query value for resource `kind`: metadata.name and
  // metadata.namespace everywhere, plus the fields kube-apiserver indexes for Events
  // (involvedObject.*, reason, type, source, reportingComponent) and Secrets (type); others
  // fail with the real server's message; false with `error`.
  static bool ParseFields(const std::string& text, const std::string& kind, Selector* out,
                          std::string* error);

  // True when the object's labels (or fields) satisfy every requirement.
  bool Matches(const json& object) const;
  bool empty() const { return reqs_.empty(); }

 private:
  struct Requirement {
    std::string key;
    std::string op;  // "=", "!=", "in", "notin", "exists", "!exists"
    std::vector<std::string> values;
  };
  bool fields_ = false;
  std::vector<Requirement> reqs_;
};

}  // namespace pygrid::sim::kube
