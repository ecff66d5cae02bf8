#include "bootstrap/internal/yaml_tree.h"

#include <vector>

namespace pygrid::bootstrap::internal {

namespace {

constexpr char kQuotedTag[] = "!";
constexpr char kCondition[] = "x-pygrid-if";

Status SubstituteScalar(YAML::Node node, const std::map<std::string, std::string>& values,
                        const std::map<std::string, std::string>& files,
                        const std::function<std::string(const std::string&)>& escape) {
  const std::string text = node.Scalar();
  if (text.find("{{") == std::string::npos) return Status::Ok();
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text.find("{{", pos);
    if (open == std::string::npos) break;
    const size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) break;
    out.append(text, pos, open - pos);
    const std::string name = text.substr(open + 2, close - open - 2);
    if (name.rfind("file:", 0) == 0) {
      auto file = files.find(name.substr(5));
      if (file == files.end())
        return Status::Invalid("template refers to missing file " + name.substr(5));
      out += file->second;
    } else {
      auto value = values.find(name);
      if (value == values.end())
        return Status::Invalid("template placeholder {{" + name + "}} has no value");
      out += escape(value->second);
    }
    pos = close + 2;
  }
  out.append(text, pos, std::string::npos);
  node = out;
  node.SetTag(kQuotedTag);
  return Status::Ok();
}

bool ConditionHolds(const YAML::Node& node, const std::set<std::string>& true_flags) {
  if (!node.IsMap() || !node[kCondition]) return true;
  return true_flags.count(node[kCondition].as<std::string>()) > 0;
}

// A "|" block keeps exactly one final newline, so only text that ends in exactly one newline
// (and has no carriage return or leading blank) survives the round trip through one.
bool FitsLiteralBlock(const std::string& text) {
  const size_t n = text.size();
  return n >= 2 && text[n - 1] == '\n' && text[n - 2] != '\n' &&
         text.find('\r') == std::string::npos && text[0] != ' ' && text[0] != '\t';
}

void EmitNode(YAML::Emitter& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (const auto& entry : node) {
        out << YAML::Key;
        EmitNode(out, entry.first);
        out << YAML::Value;
        EmitNode(out, entry.second);
      }
      out << YAML::EndMap;
      return;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const auto& item : node) EmitNode(out, item);
      out << YAML::EndSeq;
      return;
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() != kQuotedTag) {
        out << text;  // plain in the template: keeps its YAML type (true, 22, a path)
      } else if (FitsLiteralBlock(text)) {
        out << YAML::Literal << text;
      } else {
        out << YAML::DoubleQuoted << text;
      }
      return;
    }
    default:
      out << YAML::Null;
  }
}

}  // namespace

Status SubstitutePlaceholders(YAML::Node node, const std::map<std::string, std::string>& values,
                              const std::map<std::string, std::string>& files,
                              const std::function<std::string(const std::string&)>& escape) {
  if (node.IsScalar()) return SubstituteScalar(node, values, files, escape);
  if (node.IsMap()) {
    for (auto entry : node) {
      Status status = SubstitutePlaceholders(entry.second, values, files, escape);
      if (!status.ok()) return status;
    }
  } else if (node.IsSequence()) {
    for (auto item : node) {
      Status status = SubstitutePlaceholders(item, values, files, escape);
      if (!status.ok()) return status;
    }
  }
  return Status::Ok();
}

void ApplyConditions(YAML::Node node, const std::set<std::string>& true_flags) {
  if (node.IsMap()) {
    std::vector<std::string> dropped;
    for (auto entry : node) {
      if (!ConditionHolds(entry.second, true_flags))
        dropped.push_back(entry.first.as<std::string>());
    }
    for (const std::string& key : dropped) node.remove(key);
    if (node[kCondition]) node.remove(kCondition);
    for (auto entry : node) ApplyConditions(entry.second, true_flags);
  } else if (node.IsSequence()) {
    YAML::Node kept(YAML::NodeType::Sequence);
    for (auto item : node) {
      if (ConditionHolds(item, true_flags)) kept.push_back(item);
    }
    node = kept;
    for (auto item : node) ApplyConditions(item, true_flags);
  }
}

std::string EmitYaml(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetIndent(2);
  EmitNode(out, node);
  return std::string(out.c_str()) + "\n";
}

void MarkAsString(YAML::Node node) { node.SetTag(kQuotedTag); }

}  // namespace pygrid::bootstrap::internal
