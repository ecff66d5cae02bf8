// Messages mirror k8s.io/kube-openapi/pkg/validation/errors as wrapped by apiextensions
// (e.g. "spec.workers.replicas in body should be less than or equal to 100") and
// k8s.io/apimachinery/pkg/util/validation/field (Required value, Unsupported value, Too many).
#include "sim/kube/schema.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "sim/kube/go_regexp.h"

namespace pygrid::sim::kube {

namespace {

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

bool PreservesUnknown(const json& s) {
  return s.is_object() && s.value("x-kubernetes-preserve-unknown-fields", false);
}

void Prune(const json& s, json* v, const std::string& path, bool root,
           std::vector<std::string>* pruned) {
  if (!s.is_object() || v->is_null()) return;
  if (v->is_object()) {
    const bool has_props = s.contains("properties");
    const bool has_addl =
        s.contains("additionalProperties") && s["additionalProperties"].is_object();
    const bool embedded = s.value("x-kubernetes-embedded-resource", false);
    std::vector<std::string> drop;
    for (auto it = v->begin(); it != v->end(); ++it) {
      const std::string& k = it.key();
      if ((root || embedded) && (k == "apiVersion" || k == "kind" || k == "metadata")) {
        if (has_props && s["properties"].contains(k) && k != "metadata") {
          Prune(s["properties"][k], &it.value(), Join(path, k), false, pruned);
        }
        continue;
      }
      if (has_props && s["properties"].contains(k)) {
        Prune(s["properties"][k], &it.value(), Join(path, k), false, pruned);
      } else if (has_addl) {
        Prune(s["additionalProperties"], &it.value(), Join(path, k), false, pruned);
      } else if (!PreservesUnknown(s)) {
        drop.push_back(k);
      }
    }
    for (const auto& k : drop) {
      pruned->push_back(Join(path, k));
      v->erase(k);
    }
  } else if (v->is_array() && s.contains("items")) {
    for (size_t i = 0; i < v->size(); ++i) {
      Prune(s["items"], &(*v)[i], path + "[" + std::to_string(i) + "]", false, pruned);
    }
  }
}

void Default(const json& s, json* v) {
  if (!s.is_object()) return;
  if (v->is_object()) {
    if (s.contains("properties")) {
      for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) {
        const json& ps = it.value();
        if (!ps.contains("default")) continue;
        auto found = v->find(it.key());
        if (found == v->end() || (found->is_null() && !ps.value("nullable", false))) {
          (*v)[it.key()] = ps["default"];
        }
      }
      for (auto it = v->begin(); it != v->end(); ++it) {
        if (s["properties"].contains(it.key())) Default(s["properties"][it.key()], &it.value());
      }
    } else if (s.contains("additionalProperties") && s["additionalProperties"].is_object()) {
      for (auto it = v->begin(); it != v->end(); ++it)
        Default(s["additionalProperties"], &it.value());
    }
  } else if (v->is_array() && s.contains("items")) {
    for (auto& item : *v) Default(s["items"], &item);
  }
}

std::string TypeOf(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number_float()) {
    double d = v.get<double>();
    return d == static_cast<double>(static_cast<long long>(d)) ? "integer" : "number";
  }
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

std::string NumberText(double d) {
  std::ostringstream os;
  os << d;
  return os.str();
}

// Compiled CRD patterns, shared by all requests; nullptr when Go would not compile the pattern
// either (the real server rejects such a CRD; kube-sim then skips the check).
std::shared_ptr<const GoRegexp> CompiledPattern(const std::string& pattern) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const GoRegexp>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(pattern);
  if (it != cache.end()) return it->second;
  if (cache.size() > 1000) cache.clear();
  auto re = std::make_shared<GoRegexp>();
  std::string err;
  std::shared_ptr<const GoRegexp> out;
  if (GoRegexp::Compile(pattern, re.get(), &err)) out = re;
  cache[pattern] = out;
  return out;
}

void Validate(const json& s, const json& v, const std::string& path, bool root,
              std::vector<FieldError>* errs);

// allOf/anyOf/oneOf/not as kube-openapi's schemaPropsValidator evaluates them: the
// sub-schemas see the same value and path; a failed junctor is an errors.New (not a
// *Validation), which apiextensions turns into field.Invalid(nil path, "", msg): field
// "<nil>", value "". anyOf/oneOf add the errors of the best failing branch (kube-openapi picks
// it by most passed checks; kube-sim by fewest errors).
void ValidateJunctors(const json& s, const json& v, const std::string& path, bool root,
                      std::vector<FieldError>* errs) {
  auto junctor = [&](const std::string& text) {
    json quoted = path;
    errs->push_back(
        {"<nil>", "FieldValueInvalid", "Invalid value: \"\": " + quoted.dump() + " " + text});
  };
  auto run = [&](const json& sub) {
    std::vector<FieldError> out;
    Validate(sub, v, path, root, &out);
    return out;
  };
  auto best_failure = [&](const json& subs) {
    std::vector<FieldError> best;
    bool have = false;
    for (const auto& sub : subs) {
      std::vector<FieldError> e = run(sub);
      if (!have || e.size() < best.size()) best = e;
      have = true;
    }
    return best;
  };
  if (s.contains("anyOf") && s["anyOf"].is_array() && !s["anyOf"].empty()) {
    bool any = false;
    for (const auto& sub : s["anyOf"]) {
      if (run(sub).empty()) {
        any = true;
        break;
      }
    }
    if (!any) {
      junctor("must validate at least one schema (anyOf)");
      for (auto& e : best_failure(s["anyOf"])) errs->push_back(e);
    }
  }
  if (s.contains("oneOf") && s["oneOf"].is_array() && !s["oneOf"].empty()) {
    size_t valid = 0;
    for (const auto& sub : s["oneOf"]) valid += run(sub).empty() ? 1 : 0;
    if (valid != 1) {
      junctor("must validate one and only one schema (oneOf). " +
              (valid == 0 ? std::string("Found none valid")
                          : "Found " + std::to_string(valid) + " valid alternatives"));
      if (valid == 0) {
        for (auto& e : best_failure(s["oneOf"])) errs->push_back(e);
      }
    }
  }
  if (s.contains("allOf") && s["allOf"].is_array() && !s["allOf"].empty()) {
    size_t valid = 0;
    for (const auto& sub : s["allOf"]) {
      std::vector<FieldError> e = run(sub);
      valid += e.empty() ? 1 : 0;
      errs->insert(errs->end(), e.begin(), e.end());
    }
    if (valid != s["allOf"].size()) {
      junctor(std::string("must validate all the schemas (allOf)") +
              (valid == 0 ? ". None validated" : ""));
    }
  }
  if (s.contains("not") && s["not"].is_object() && run(s["not"]).empty()) {
    junctor("must not validate the schema (not)");
  }
}

// Go's %v of a JSON-decoded value inside "Invalid value: ..." for type errors is the type.
void Validate(const json& s, const json& v, const std::string& path, bool root,
              std::vector<FieldError>* errs) {
  if (!s.is_object()) return;
  const std::string field = path;
  const std::string type = s.value("type", "");
  const bool int_or_string = s.value("x-kubernetes-int-or-string", false);
  if (v.is_null()) {
    if (!s.value("nullable", false) && !type.empty()) {
      errs->push_back({field, "FieldValueTypeInvalid",
                       "Invalid value: \"null\": " + field + " in body must be of type " + type +
                           ": \"null\""});
    }
    return;
  }
  std::string actual = TypeOf(v);
  if (int_or_string) {
    if (actual != "integer" && actual != "string") {
      errs->push_back({field, "FieldValueTypeInvalid",
                       "Invalid value: \"" + actual + "\": " + field +
                           " in body must be of type integer-or-string: \"" + actual + "\""});
      return;
    }
  } else if (!type.empty() && type != actual && !(type == "number" && actual == "integer")) {
    errs->push_back({field, "FieldValueTypeInvalid",
                     "Invalid value: \"" + actual + "\": " + field + " in body must be of type " +
                         type + ": \"" + actual + "\""});
    return;
  }
  ValidateJunctors(s, v, path, root, errs);
  if (s.contains("enum") && s["enum"].is_array()) {
    bool ok = std::find(s["enum"].begin(), s["enum"].end(), v) != s["enum"].end();
    if (!ok) {
      std::string supported;
      for (const auto& e : s["enum"]) {
        if (!supported.empty()) supported += ", ";
        supported += e.dump();
      }
      errs->push_back({field, "FieldValueNotSupported",
                       "Unsupported value: " + v.dump() + ": supported values: " + supported});
    }
  }
  if (v.is_number()) {
    double d = v.get<double>();
    if (s.contains("maximum") && s["maximum"].is_number()) {
      double mx = s["maximum"].get<double>();
      bool excl = s.value("exclusiveMaximum", false);
      if (excl ? d >= mx : d > mx) {
        errs->push_back({field, "FieldValueInvalid",
                         "Invalid value: " + v.dump() + ": " + field +
                             " in body should be less than " + (excl ? "" : "or equal to ") +
                             NumberText(mx)});
      }
    }
    if (s.contains("minimum") && s["minimum"].is_number()) {
      double mn = s["minimum"].get<double>();
      bool excl = s.value("exclusiveMinimum", false);
      if (excl ? d <= mn : d < mn) {
        errs->push_back({field, "FieldValueInvalid",
                         "Invalid value: " + v.dump() + ": " + field +
                             " in body should be greater than " + (excl ? "" : "or equal to ") +
                             NumberText(mn)});
      }
    }
  }
  if (v.is_string()) {
    // kube-openapi's stringValidator: maxLength, minLength, pattern, stopping at the first
    // failure (so an over-long value is never matched against the pattern).
    const std::string& str = v.get_ref<const std::string&>();
    // Lengths count runes (UTF-8 code points), as Go's utf8.RuneCountInString.
    size_t runes = std::count_if(str.begin(), str.end(), [](char c) { return (c & 0xC0) != 0x80; });
    if (s.contains("maxLength") && s["maxLength"].is_number() &&
        runes > s["maxLength"].get<size_t>()) {
      errs->push_back({field, "FieldValueTooLong",
                       "Too long: may not be more than " +
                           std::to_string(s["maxLength"].get<size_t>()) + " bytes"});
    } else if (s.contains("minLength") && s["minLength"].is_number() &&
               runes < s["minLength"].get<size_t>()) {
      errs->push_back({field, "FieldValueInvalid",
                       "Invalid value: " + v.dump() + ": " + field +
                           " in body should be at least " +
                           std::to_string(s["minLength"].get<size_t>()) + " chars long"});
    } else if (s.contains("pattern") && s["pattern"].is_string()) {
      const std::string& pat = s["pattern"].get_ref<const std::string&>();
      std::shared_ptr<const GoRegexp> re = CompiledPattern(pat);
      if (re && !re->Search(str)) {
        errs->push_back(
            {field, "FieldValueInvalid",
             "Invalid value: " + v.dump() + ": " + field + " in body should match '" + pat + "'"});
      }
    }
  }
  if (v.is_array()) {
    if (s.contains("maxItems") && s["maxItems"].is_number() &&
        v.size() > s["maxItems"].get<size_t>()) {
      errs->push_back({field, "FieldValueTooMany",
                       "Too many: " + std::to_string(v.size()) + ": must have at most " +
                           std::to_string(s["maxItems"].get<size_t>()) + " items"});
    }
    if (s.contains("minItems") && s["minItems"].is_number() &&
        v.size() < s["minItems"].get<size_t>()) {
      errs->push_back({field, "FieldValueInvalid",
                       "Invalid value: " + std::to_string(v.size()) + ": " + field +
                           " in body should have at least " +
                           std::to_string(s["minItems"].get<size_t>()) + " items"});
    }
    if (s.value("uniqueItems", false) || s.value("x-kubernetes-list-type", "") == "set") {
      for (size_t i = 0; i < v.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
          if (v[i] == v[j]) {
            errs->push_back({field + "[" + std::to_string(i) + "]", "FieldValueDuplicate",
                             "Duplicate value: " + v[i].dump()});
          }
        }
      }
    }
    if (s.contains("items")) {
      for (size_t i = 0; i < v.size(); ++i) {
        Validate(s["items"], v[i], path + "[" + std::to_string(i) + "]", false, errs);
      }
    }
  }
  if (v.is_object()) {
    for (const auto& r : s.value("required", json::array())) {
      std::string k = r.get<std::string>();
      if (!v.contains(k)) errs->push_back({Join(path, k), "FieldValueRequired", "Required value"});
    }
    if (s.contains("maxProperties") && s["maxProperties"].is_number() &&
        v.size() > s["maxProperties"].get<size_t>()) {
      errs->push_back({field, "FieldValueTooMany",
                       "Too many: " + std::to_string(v.size()) + ": must have at most " +
                           std::to_string(s["maxProperties"].get<size_t>()) + " items"});
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (root && (it.key() == "metadata" || it.key() == "apiVersion" || it.key() == "kind")) {
        continue;
      }
      if (s.contains("properties") && s["properties"].contains(it.key())) {
        Validate(s["properties"][it.key()], it.value(), Join(path, it.key()), false, errs);
      } else if (s.contains("additionalProperties") && s["additionalProperties"].is_object()) {
        Validate(s["additionalProperties"], it.value(), Join(path, it.key()), false, errs);
      }
    }
  }
}

}  // namespace

void PruneUnknownFields(const json& schema, json* object, std::vector<std::string>* pruned) {
  Prune(schema, object, "", true, pruned);
}

void ApplyDefaults(const json& schema, json* object) { Default(schema, object); }

std::vector<FieldError> ValidateObject(const json& schema, const json& object) {
  std::vector<FieldError> errs;
  Validate(schema, object, "", true, &errs);
  return errs;
}

std::string FormatInvalidValue(const json& v) {
  if (v.is_null()) return "\"null\"";
  if (v.is_object()) return "\"object\"";
  if (v.is_array()) return "\"array\"";
  return v.dump();
}

std::string OpenApiDefinitionName(const std::string& group, const std::string& version,
                                  const std::string& kind) {
  std::vector<std::string> parts;
  std::stringstream ss(group);
  std::string p;
  while (std::getline(ss, p, '.')) parts.push_back(p);
  std::reverse(parts.begin(), parts.end());
  std::string out;
  for (const auto& x : parts) out += x + ".";
  return out + version + "." + kind;
}

}  // namespace pygrid::sim::kube
