#include "bootstrap/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <regex>

namespace pygrid::bootstrap {

namespace {

nlohmann::json Convert(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& entry : node) out[entry.first.as<std::string>()] = Convert(entry.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(Convert(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() == "!") return text;  // quoted
      static const std::regex integer("[-+]?[0-9]+");
      static const std::regex real("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
      if (text == "true" || text == "True" || text == "TRUE") return true;
      if (text == "false" || text == "False" || text == "FALSE") return false;
      if (text == "null" || text == "Null" || text == "NULL" || text == "~") return nullptr;
      if (std::regex_match(text, integer)) {
        try {
          return std::stoll(text);
        } catch (const std::out_of_range&) {
          return text;
        }
      }
      if (std::regex_match(text, real)) return std::stod(text);
      return text;
    }
    default:
      return nullptr;
  }
}

}  // namespace

StatusOr<nlohmann::json> YamlToJson(const std::string& text) {
  try {
    return Convert(YAML::Load(text));
  } catch (const YAML::Exception& error) {
    return Status::Invalid("not valid YAML: " + std::string(error.what()));
  }
}

}  // namespace pygrid::bootstrap
