// Grammar from k8s.io/apimachinery/pkg/labels/selector.go (Parse) and field selector support
// from k8s.io/apimachinery/pkg/fields plus the generic registry's DefaultClusterScopedAttr /
// DefaultNamespaceScopedAttr (metadata.name, metadata.namespace).
#include "sim/kube/selectors.h"

#include <algorithm>
#include <cctype>

namespace pygrid::sim::kube {

namespace {

std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t");
  return s.substr(a, b - a + 1);
}

// Splits on commas that are not inside parentheses.
std::vector<std::string> SplitTerms(const std::string& s) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

bool Selector::ParseLabels(const std::string& text, Selector* out, std::string* error) {
  out->fields_ = false;
  out->reqs_.clear();
  if (Trim(text).empty()) return true;
  for (std::string term : SplitTerms(text)) {
    term = Trim(term);
    if (term.empty()) {
      *error = "found '', expected: identifier";
      return false;
    }
    Requirement r;
    if (term[0] == '!') {
      r.key = Trim(term.substr(1));
      r.op = "!exists";
    } else {
      std::string lower = term;
      size_t sp = term.find_first_of(" \t");
      size_t paren = term.find('(');
      if (sp != std::string::npos && paren != std::string::npos) {
        r.key = Trim(term.substr(0, sp));
        std::string op = Trim(term.substr(sp, paren - sp));
        if (op != "in" && op != "notin") {
          *error =
              "unable to parse requirement: found '" + op + "', expected: in, notin, =, ==, !=";
          return false;
        }
        r.op = op;
        size_t close = term.rfind(')');
        if (close == std::string::npos || close < paren) {
          *error = "found '', expected: ')'";
          return false;
        }
        for (std::string v : SplitTerms(term.substr(paren + 1, close - paren - 1))) {
          v = Trim(v);
          if (!v.empty()) r.values.push_back(v);
        }
      } else if (size_t ne = term.find("!="); ne != std::string::npos) {
        r.key = Trim(term.substr(0, ne));
        r.op = "!=";
        r.values.push_back(Trim(term.substr(ne + 2)));
      } else if (size_t eq2 = term.find("=="); eq2 != std::string::npos) {
        r.key = Trim(term.substr(0, eq2));
        r.op = "=";
        r.values.push_back(Trim(term.substr(eq2 + 2)));
      } else if (size_t eq = term.find('='); eq != std::string::npos) {
        r.key = Trim(term.substr(0, eq));
        r.op = "=";
        r.values.push_back(Trim(term.substr(eq + 1)));
      } else {
        r.key = term;
        r.op = "exists";
      }
    }
    if (r.key.empty() || r.key.find_first_of(" \t()") != std::string::npos) {
      *error = "unable to parse requirement: invalid label key \"" + r.key + "\"";
      return false;
    }
    out->reqs_.push_back(r);
  }
  return true;
}

bool Selector::ParseFields(const std::string& text, const std::string& kind, Selector* out,
                           std::string* error) {
  // pkg/registry/core/event/strategy.go ToSelectableFields and secret/strategy.go.
  static const std::vector<std::string> event_fields = {"involvedObject.kind",
                                                        "involvedObject.namespace",
                                                        "involvedObject.name",
                                                        "involvedObject.uid",
                                                        "involvedObject.apiVersion",
                                                        "involvedObject.resourceVersion",
                                                        "involvedObject.fieldPath",
                                                        "reason",
                                                        "reportingComponent",
                                                        "source",
                                                        "type"};
  out->fields_ = true;
  out->reqs_.clear();
  if (Trim(text).empty()) return true;
  for (std::string term : SplitTerms(text)) {
    term = Trim(term);
    Requirement r;
    size_t ne = term.find("!=");
    size_t eq2 = term.find("==");
    size_t eq = term.find('=');
    if (ne != std::string::npos) {
      r.key = term.substr(0, ne);
      r.op = "!=";
      r.values.push_back(term.substr(ne + 2));
    } else if (eq2 != std::string::npos) {
      r.key = term.substr(0, eq2);
      r.op = "=";
      r.values.push_back(term.substr(eq2 + 2));
    } else if (eq != std::string::npos) {
      r.key = term.substr(0, eq);
      r.op = "=";
      r.values.push_back(term.substr(eq + 1));
    } else {
      *error = "invalid selector: '" + text + "'; can't understand '" + term + "'";
      return false;
    }
    bool allowed = r.key == "metadata.name" || r.key == "metadata.namespace" ||
                   (kind == "Event" && std::find(event_fields.begin(), event_fields.end(), r.key) !=
                                           event_fields.end()) ||
                   (kind == "Secret" && r.key == "type");
    if (!allowed) {
      *error = "field label not supported: " + r.key;
      return false;
    }
    out->reqs_.push_back(r);
  }
  return true;
}

bool Selector::Matches(const json& object) const {
  const json& meta = object.contains("metadata") ? object["metadata"] : json::object();
  for (const auto& r : reqs_) {
    bool has = false;
    std::string value;
    if (fields_) {
      has = true;
      const json* cur = &object;
      std::string k = r.key;
      if (k == "source") k = "source.component";
      size_t start = 0;
      while (cur && start <= k.size()) {
        size_t dot = k.find('.', start);
        std::string part =
            k.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        cur = cur->is_object() && cur->contains(part) ? &(*cur)[part] : nullptr;
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
      value = cur && cur->is_string() ? cur->get<std::string>() : "";
    } else if (meta.contains("labels") && meta["labels"].is_object() &&
               meta["labels"].contains(r.key)) {
      has = true;
      value = meta["labels"][r.key].is_string() ? meta["labels"][r.key].get<std::string>() : "";
    }
    bool in = std::find(r.values.begin(), r.values.end(), value) != r.values.end();
    if (r.op == "=" && !(has && in)) return false;
    if (r.op == "!=" && has && in) return false;
    if (r.op == "in" && !(has && in)) return false;
    if (r.op == "notin" && has && in) return false;
    if (r.op == "exists" && !has) return false;
    if (r.op == "!exists" && has) return false;
  }
  return true;
}

}  // namespace pygrid::sim::kube
