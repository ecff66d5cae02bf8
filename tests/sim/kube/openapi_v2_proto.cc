// Field numbers from gnostic openapiv2/OpenAPIv2.proto; wire format from
// https://protobuf.dev/programming-guides/encoding/ (proto3: default scalars are omitted,
// sub-messages are written even when empty because their presence matters).
#include "sim/kube/openapi_v2_proto.h"

#include <cstdint>
#include <cstring>

namespace pygrid::sim::kube {

namespace {

class Writer {
 public:
  void String(int field, const std::string& s) {
    if (s.empty()) return;
    Tag(field, 2);
    Varint(s.size());
    out_ += s;
  }
  void Bool(int field, bool b) {
    if (!b) return;
    Tag(field, 0);
    Varint(1);
  }
  // A oneof member is written even when it holds the default (its presence selects it).
  void OneofBool(int field, bool b) {
    Tag(field, 0);
    Varint(b ? 1 : 0);
  }
  void Int64(int field, int64_t v) {
    if (v == 0) return;
    Tag(field, 0);
    Varint(static_cast<uint64_t>(v));
  }
  void Double(int field, double d) {
    if (d == 0) return;
    Tag(field, 1);
    uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof bits);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }
  void Message(int field, const std::string& bytes) {
    Tag(field, 2);
    Varint(bytes.size());
    out_ += bytes;
  }
  const std::string& bytes() const { return out_; }

 private:
  void Tag(int field, int wire_type) {
    Varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
  }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

std::string Str(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

bool Flag(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

// The Named* messages: { string name = 1; <message> value = 2; }.
std::string Named(const std::string& name, const std::string& value) {
  Writer w;
  w.String(1, name);
  w.Message(2, value);
  return w.bytes();
}

// Any { string yaml = 2; }
std::string AnyValue(const json& v) {
  Writer w;
  w.String(2, v.dump());
  return w.bytes();
}

// repeated NamedAny { name = 1; Any value = 2; } for the x- keys of `obj`.
void VendorExtensions(const json& obj, int field, Writer* w) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (it.key().rfind("x-", 0) != 0) continue;
    w->Message(field, Named(it.key(), AnyValue(it.value())));
  }
}

std::string Schema(const json& s);

std::string NamedSchema(const std::string& name, const json& schema) {
  return Named(name, Schema(schema));
}

std::string Schema(const json& s) {
  Writer w;
  if (!s.is_object()) return w.bytes();
  w.String(1, Str(s, "$ref"));
  w.String(2, Str(s, "format"));
  w.String(3, Str(s, "title"));
  w.String(4, Str(s, "description"));
  if (s.contains("default")) w.Message(5, AnyValue(s["default"]));
  auto number = [&](int field, const char* key) {
    if (s.contains(key) && s[key].is_number()) w.Double(field, s[key].get<double>());
  };
  auto integer = [&](int field, const char* key) {
    if (s.contains(key) && s[key].is_number()) w.Int64(field, s[key].get<int64_t>());
  };
  number(6, "multipleOf");
  number(7, "maximum");
  w.Bool(8, Flag(s, "exclusiveMaximum"));
  number(9, "minimum");
  w.Bool(10, Flag(s, "exclusiveMinimum"));
  integer(11, "maxLength");
  integer(12, "minLength");
  w.String(13, Str(s, "pattern"));
  integer(14, "maxItems");
  integer(15, "minItems");
  w.Bool(16, Flag(s, "uniqueItems"));
  integer(17, "maxProperties");
  integer(18, "minProperties");
  for (const auto& r : s.value("required", json::array())) {
    if (r.is_string()) w.String(19, r.get<std::string>());
  }
  for (const auto& e : s.value("enum", json::array())) w.Message(20, AnyValue(e));
  if (s.contains("additionalProperties")) {
    // AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2; } }
    Writer item;
    const json& ap = s["additionalProperties"];
    if (ap.is_boolean()) {
      item.OneofBool(2, ap.get<bool>());
    } else {
      item.Message(1, Schema(ap));
    }
    w.Message(21, item.bytes());
  }
  if (s.contains("type")) {
    // TypeItem { repeated string value = 1; }
    Writer type;
    if (s["type"].is_string()) type.String(1, s["type"].get<std::string>());
    if (s["type"].is_array()) {
      for (const auto& t : s["type"]) {
        if (t.is_string()) type.String(1, t.get<std::string>());
      }
    }
    w.Message(22, type.bytes());
  }
  if (s.contains("items")) {
    // ItemsItem { repeated Schema schema = 1; }
    Writer items;
    if (s["items"].is_array()) {
      for (const auto& i : s["items"]) items.Message(1, Schema(i));
    } else {
      items.Message(1, Schema(s["items"]));
    }
    w.Message(23, items.bytes());
  }
  for (const auto& a : s.value("allOf", json::array())) w.Message(24, Schema(a));
  if (s.contains("properties") && s["properties"].is_object()) {
    // Properties { repeated NamedSchema additional_properties = 1; }
    Writer props;
    for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) {
      props.Message(1, NamedSchema(it.key(), it.value()));
    }
    w.Message(25, props.bytes());
  }
  if (s.contains("example")) w.Message(30, AnyValue(s["example"]));
  VendorExtensions(s, 31, &w);
  return w.bytes();
}

// ParametersItem { Parameter parameter = 1; } with Parameter { BodyParameter body_parameter = 1;
// NonBodyParameter non_body_parameter = 2; }.
std::string ParametersItem(const json& p) {
  Writer param;
  const std::string in = Str(p, "in");
  if (in == "body") {
    Writer body;  // BodyParameter
    body.String(1, Str(p, "description"));
    body.String(2, Str(p, "name"));
    body.String(3, in);
    body.Bool(4, Flag(p, "required"));
    if (p.contains("schema")) body.Message(5, Schema(p["schema"]));
    VendorExtensions(p, 6, &body);
    param.Message(1, body.bytes());
  } else {
    // QueryParameterSubSchema (3), or PathParameterSubSchema (4), whose type, unique_items and
    // vendor extensions sit one field lower.
    const bool path = in == "path";
    Writer sub;
    sub.Bool(1, Flag(p, "required"));
    sub.String(2, in);
    sub.String(3, Str(p, "description"));
    sub.String(4, Str(p, "name"));
    sub.String(path ? 5 : 6, Str(p, "type"));
    sub.Bool(path ? 19 : 20, Flag(p, "uniqueItems"));
    VendorExtensions(p, path ? 22 : 23, &sub);
    Writer non_body;  // NonBodyParameter
    non_body.Message(path ? 4 : 3, sub.bytes());
    param.Message(2, non_body.bytes());
  }
  Writer item;
  item.Message(1, param.bytes());
  return item.bytes();
}

std::string Operation(const json& op) {
  Writer w;
  for (const auto& t : op.value("tags", json::array())) w.String(1, t.get<std::string>());
  w.String(3, Str(op, "description"));
  w.String(5, Str(op, "operationId"));
  for (const auto& t : op.value("produces", json::array())) w.String(6, t.get<std::string>());
  for (const auto& t : op.value("consumes", json::array())) w.String(7, t.get<std::string>());
  for (const auto& p : op.value("parameters", json::array())) w.Message(8, ParametersItem(p));
  if (op.contains("responses")) {
    // Responses { repeated NamedResponseValue response_code = 1; }
    Writer responses;
    for (auto it = op["responses"].begin(); it != op["responses"].end(); ++it) {
      Writer response;  // Response { description = 1; SchemaItem schema = 2; }
      response.String(1, Str(it.value(), "description"));
      if (it.value().contains("schema")) {
        Writer item;  // SchemaItem { Schema schema = 1; }
        item.Message(1, Schema(it.value()["schema"]));
        response.Message(2, item.bytes());
      }
      Writer value;  // ResponseValue { Response response = 1; }
      value.Message(1, response.bytes());
      responses.Message(1, Named(it.key(), value.bytes()));
    }
    w.Message(9, responses.bytes());
  }
  for (const auto& t : op.value("schemes", json::array())) w.String(10, t.get<std::string>());
  VendorExtensions(op, 13, &w);
  return w.bytes();
}

std::string PathItem(const json& item) {
  Writer w;
  const std::pair<const char*, int> ops[] = {
      {"get", 2}, {"put", 3}, {"post", 4}, {"delete", 5}, {"patch", 8}};
  for (const auto& [name, field] : ops) {
    if (item.contains(name)) w.Message(field, Operation(item[name]));
  }
  for (const auto& p : item.value("parameters", json::array())) w.Message(9, ParametersItem(p));
  VendorExtensions(item, 10, &w);
  return w.bytes();
}

}  // namespace

std::string EncodeOpenApiV2Document(const json& doc) {
  Writer w;
  w.String(1, Str(doc, "swagger"));
  if (doc.contains("info")) {
    Writer info;
    info.String(1, Str(doc["info"], "title"));
    info.String(2, Str(doc["info"], "version"));
    w.Message(2, info.bytes());
  }
  if (doc.contains("paths")) {
    Writer paths;  // Paths { repeated NamedPathItem path = 2; }
    for (auto it = doc["paths"].begin(); it != doc["paths"].end(); ++it) {
      paths.Message(2, Named(it.key(), PathItem(it.value())));
    }
    w.Message(8, paths.bytes());
  }
  if (doc.contains("definitions")) {
    Writer defs;  // Definitions { repeated NamedSchema additional_properties = 1; }
    for (auto it = doc["definitions"].begin(); it != doc["definitions"].end(); ++it) {
      defs.Message(1, NamedSchema(it.key(), it.value()));
    }
    w.Message(9, defs.bytes());
  }
  for (const auto& req : doc.value("security", json::array())) {
    // SecurityRequirement { repeated NamedStringArray additional_properties = 1; }
    Writer sr;
    for (auto it = req.begin(); it != req.end(); ++it) {
      Writer arr;  // StringArray { repeated string value = 1; }
      for (const auto& v : it.value()) arr.String(1, v.get<std::string>());
      sr.Message(1, Named(it.key(), arr.bytes()));
    }
    w.Message(12, sr.bytes());
  }
  if (doc.contains("securityDefinitions")) {
    Writer defs;  // SecurityDefinitions { repeated NamedSecurityDefinitionsItem ... = 1; }
    for (auto it = doc["securityDefinitions"].begin(); it != doc["securityDefinitions"].end();
         ++it) {
      Writer key;  // ApiKeySecurity { type = 1; name = 2; in = 3; description = 4; }
      key.String(1, Str(it.value(), "type"));
      key.String(2, Str(it.value(), "name"));
      key.String(3, Str(it.value(), "in"));
      key.String(4, Str(it.value(), "description"));
      Writer item;  // SecurityDefinitionsItem { ApiKeySecurity api_key_security = 2; }
      item.Message(2, key.bytes());
      defs.Message(1, Named(it.key(), item.bytes()));
    }
    w.Message(13, defs.bytes());
  }
  VendorExtensions(doc, 16, &w);
  return w.bytes();
}

}  // namespace pygrid::sim::kube
