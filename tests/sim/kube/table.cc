// Table shape: k8s.io/apimachinery/pkg/apis/meta/v1 types.go (Table, TableColumnDefinition,
// TableRow). CR cells: apiextensions-apiserver registry/customresource/tableconvertor (Name
// column first; a date column is rendered as a human-readable age; no columns → Name + Age).
// Built-in columns: kubernetes pkg/printers/internalversion/printers.go.
#include "sim/kube/table.h"

namespace pygrid::sim::kube {

namespace {

json Col(const std::string& name, const std::string& type, const std::string& format,
         const std::string& description, int priority = 0) {
  return {{"name", name},
          {"type", type},
          {"format", format},
          {"description", description},
          {"priority", priority}};
}

const char* kNameDesc =
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const char* kAgeDesc =
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#metadata";

std::string Age(const json& ts, std::chrono::system_clock::time_point now) {
  if (!ts.is_string()) return "<unknown>";
  std::chrono::system_clock::time_point t;
  if (!ParseTime(ts.get<std::string>(), &t)) return "<unknown>";
  return HumanDuration(now - t);
}

json Cell(const json& v, const std::string& type) {
  if (v.is_null()) return nullptr;
  if (type == "integer" && v.is_number()) return v.get<long long>();
  if (type == "number" && v.is_number()) return v;
  if (type == "boolean" && v.is_boolean()) return v;
  if (v.is_string()) return v;
  return v.dump();
}

size_t CountOf(const json& obj, const char* key) {
  return obj.contains(key) && obj[key].is_object() ? obj[key].size() : 0;
}

std::string EventObjectName(const json& e) {
  const json& io = e.contains("involvedObject") ? e["involvedObject"] : json::object();
  std::string kind = io.value("kind", "");
  for (auto& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return kind + "/" + io.value("name", "");
}

}  // namespace

json EvaluateJsonPath(const json& object, const std::string& path) {
  const json* cur = &object;
  size_t i = 0;
  std::string p = path;
  if (!p.empty() && p.front() == '{' && p.back() == '}') p = p.substr(1, p.size() - 2);
  while (i < p.size()) {
    if (p[i] == '.') {
      ++i;
      size_t end = p.find_first_of(".[", i);
      std::string key = p.substr(i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? p.size() : end;
      if (key.empty()) continue;
      if (!cur->is_object() || !cur->contains(key)) return nullptr;
      cur = &(*cur)[key];
    } else if (p[i] == '[') {
      size_t close = p.find(']', i);
      if (close == std::string::npos) return nullptr;
      std::string idx = p.substr(i + 1, close - i - 1);
      i = close + 1;
      if (!idx.empty() && (idx[0] == '\'' || idx[0] == '"')) {
        std::string key = idx.substr(1, idx.size() - 2);
        if (!cur->is_object() || !cur->contains(key)) return nullptr;
        cur = &(*cur)[key];
      } else if (idx == "*") {
        return cur->is_array() ? *cur : nullptr;
      } else {
        if (!cur->is_array()) return nullptr;
        long n = std::stol(idx);
        if (n < 0) n += static_cast<long>(cur->size());
        if (n < 0 || static_cast<size_t>(n) >= cur->size()) return nullptr;
        cur = &(*cur)[static_cast<size_t>(n)];
      }
    } else {
      ++i;
    }
  }
  return *cur;
}

json TableColumns(const ResourceType& t) {
  json cols = json::array();
  cols.push_back(Col("Name", "string", "name", kNameDesc));
  if (!t.builtin) {
    if (t.columns.empty()) {
      cols.push_back(Col("Age", "date", "", kAgeDesc));
    }
    for (const auto& c : t.columns) {
      cols.push_back(Col(c.name, c.type, c.format, c.description, c.priority));
    }
    return cols;
  }
  if (t.kind == "Namespace") {
    cols.push_back(Col("Status", "string", "", "The status of the namespace"));
  } else if (t.kind == "Secret") {
    cols.push_back(Col("Type", "string", "", "The type of the secret"));
    cols.push_back(Col("Data", "string", "", "The number of data items in the secret"));
  } else if (t.kind == "ConfigMap") {
    cols.push_back(Col("Data", "string", "", "The number of data items in the config map"));
  } else if (t.kind == "Lease") {
    cols.push_back(Col("Holder", "string", "", "The holder of the lease"));
  } else if (t.kind == "CustomResourceDefinition") {
    cols = json::array();
    cols.push_back(Col("Name", "string", "name", kNameDesc));
    cols.push_back(Col("Created At", "date", "", kAgeDesc));
    return cols;
  } else if (t.kind == "Event") {
    cols = json::array();
    cols.push_back(Col("Last Seen", "string", "", "Time when this Event was last seen"));
    cols.push_back(
        Col("Type", "string", "",
            "Type of this event (Normal, Warning), new types could be added in the future."));
    cols.push_back(Col("Reason", "string", "",
                       "This should be a short, machine understandable string that gives the "
                       "reason for this event being generated."));
    cols.push_back(Col("Object", "string", "", "The object that this event is about."));
    cols.push_back(Col("Message", "string", "",
                       "A human-readable description of the status of this operation."));
    return cols;
  }
  cols.push_back(Col("Age", "string", "", kAgeDesc));
  return cols;
}

json TableRow(const ResourceType& t, const json& obj, const std::string& include_object,
              std::chrono::system_clock::time_point now) {
  const json& meta = obj["metadata"];
  json cells = json::array();
  const json created = meta.contains("creationTimestamp") ? meta["creationTimestamp"] : json();
  if (!t.builtin) {
    cells.push_back(meta.value("name", ""));
    if (t.columns.empty()) cells.push_back(Age(created, now));
    for (const auto& c : t.columns) {
      json v = EvaluateJsonPath(obj, c.json_path);
      if (c.type == "date") {
        cells.push_back(v.is_null() ? json(nullptr) : json(Age(v, now)));
      } else {
        cells.push_back(Cell(v, c.type));
      }
    }
  } else if (t.kind == "Event") {
    json last = obj.contains("lastTimestamp") && !obj["lastTimestamp"].is_null()
                    ? obj["lastTimestamp"]
                    : obj.value("eventTime", json());
    if (t.events_v1) {
      last = obj.contains("deprecatedLastTimestamp") ? obj["deprecatedLastTimestamp"]
                                                     : obj.value("eventTime", json());
    }
    if (last.is_string() && last.get<std::string>().size() > 20) {
      last = last.get<std::string>().substr(0, 19) + "Z";
    }
    cells.push_back(Age(last, now));
    cells.push_back(obj.value("type", ""));
    cells.push_back(obj.value("reason", ""));
    if (t.events_v1) {
      json conv = {{"involvedObject", obj.value("regarding", json::object())}};
      cells.push_back(EventObjectName(conv));
      cells.push_back(obj.value("note", ""));
    } else {
      cells.push_back(EventObjectName(obj));
      cells.push_back(obj.value("message", ""));
    }
  } else {
    cells.push_back(meta.value("name", ""));
    if (t.kind == "Namespace") {
      cells.push_back(obj.contains("status") ? obj["status"].value("phase", "Active") : "Active");
    } else if (t.kind == "Secret") {
      cells.push_back(obj.value("type", "Opaque"));
      cells.push_back(static_cast<long long>(CountOf(obj, "data")));
    } else if (t.kind == "ConfigMap") {
      cells.push_back(static_cast<long long>(CountOf(obj, "data") + CountOf(obj, "binaryData")));
    } else if (t.kind == "Lease") {
      cells.push_back(obj.contains("spec") ? obj["spec"].value("holderIdentity", "") : "");
    }
    if (t.kind == "CustomResourceDefinition") {
      cells.push_back(created);
    } else {
      cells.push_back(Age(created, now));
    }
  }
  json row = {{"cells", cells}};
  if (include_object == "Object") {
    row["object"] = obj;
  } else if (include_object != "None") {
    row["object"] = {
        {"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", meta}};
  }
  return row;
}

json MakeTable(const ResourceType& t, const std::vector<json>& objects, const json& list_meta,
               const std::string& include_object, bool with_columns,
               std::chrono::system_clock::time_point now) {
  json rows = json::array();
  for (const auto& o : objects) rows.push_back(TableRow(t, o, include_object, now));
  json table = {{"kind", "Table"},
                {"apiVersion", "meta.k8s.io/v1"},
                {"metadata", list_meta.is_null() ? json::object() : list_meta},
                {"rows", rows}};
  table["columnDefinitions"] = with_columns ? TableColumns(t) : json(nullptr);
  return table;
}

}  // namespace pygrid::sim::kube
