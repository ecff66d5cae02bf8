// Wire format: https://protobuf.dev/programming-guides/encoding/ ; envelope and field numbers:
// k8s.io/apimachinery/pkg/runtime/generated.proto (Unknown, TypeMeta),
// k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto (ObjectMeta),
// k8s.io/api/core/v1/generated.proto (ConfigMap, Secret, Namespace, NamespaceSpec),
// k8s.io/api/rbac/v1/generated.proto (Role, ClusterRole, RoleBinding, ClusterRoleBinding,
// PolicyRule, AggregationRule, Subject, RoleRef), k8s.io/api authorization/v1 and
// authentication/v1 (SelfSubjectAccessReview and its spec, ResourceAttributes,
// NonResourceAttributes; SelfSubjectReview); checked against what kubectl 1.32 sends.
#include "sim/kube/protobuf.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace pygrid::sim::kube {

namespace {

// Iterates the fields of one message; calls `fn(number, wire_type, varint, bytes)`.
bool ForEachField(const std::string& msg,
                  const std::function<void(int, int, uint64_t, const std::string&)>& fn) {
  size_t i = 0;
  auto varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && i < msg.size(); shift += 7) {
      uint8_t b = static_cast<uint8_t>(msg[i++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  while (i < msg.size()) {
    uint64_t key = 0;
    if (!varint(&key)) return false;
    int number = static_cast<int>(key >> 3);
    int wire = static_cast<int>(key & 7);
    uint64_t v = 0;
    std::string bytes;
    if (wire == 0) {
      if (!varint(&v)) return false;
    } else if (wire == 2) {
      if (!varint(&v) || i + v > msg.size()) return false;
      bytes = msg.substr(i, v);
      i += v;
    } else if (wire == 1) {
      i += 8;
    } else if (wire == 5) {
      i += 4;
    } else {
      return false;
    }
    fn(number, wire, v, bytes);
  }
  return i == msg.size();
}

std::pair<std::string, std::string> MapEntry(const std::string& entry) {
  std::pair<std::string, std::string> kv;
  ForEachField(entry, [&](int n, int, uint64_t, const std::string& b) {
    if (n == 1) kv.first = b;
    if (n == 2) kv.second = b;
  });
  return kv;
}

json DecodeObjectMeta(const std::string& msg) {
  json meta = json::object();
  // gogo-protobuf writes empty strings; the JSON form omits them.
  ForEachField(msg, [&](int n, int, uint64_t v, const std::string& b) {
    if (b.empty() && n <= 6) return;
    switch (n) {
      case 1:
        meta["name"] = b;
        break;
      case 2:
        meta["generateName"] = b;
        break;
      case 3:
        meta["namespace"] = b;
        break;
      case 6:
        meta["resourceVersion"] = b;
        break;
      case 11: {
        auto kv = MapEntry(b);
        meta["labels"][kv.first] = kv.second;
        break;
      }
      case 12: {
        auto kv = MapEntry(b);
        meta["annotations"][kv.first] = kv.second;
        break;
      }
      case 14:
        meta["finalizers"].push_back(b);
        break;
      default:
        (void)v;
        break;
    }
  });
  return meta;
}

// PolicyRule: every repeated string kept, empty ones too (apiGroups [""] is the core group).
json DecodePolicyRule(const std::string& msg) {
  static const char* const kFields[] = {nullptr,     "verbs",         "apiGroups",
                                        "resources", "resourceNames", "nonResourceURLs"};
  json rule = {{"verbs", json::array()}};
  ForEachField(msg, [&](int n, int, uint64_t, const std::string& b) {
    if (n >= 1 && n <= 5) rule[kFields[n]].push_back(b);
  });
  return rule;
}

// LabelSelector (meta/v1): matchLabels (1, map), matchExpressions (2: key 1, operator 2,
// values 3).
json DecodeLabelSelector(const std::string& msg) {
  json selector = json::object();
  ForEachField(msg, [&](int n, int, uint64_t, const std::string& b) {
    if (n == 1) {
      auto kv = MapEntry(b);
      selector["matchLabels"][kv.first] = kv.second;
    } else if (n == 2) {
      json requirement = json::object();
      ForEachField(b, [&](int rn, int, uint64_t, const std::string& rb) {
        if (rn == 1) requirement["key"] = rb;
        if (rn == 2) requirement["operator"] = rb;
        if (rn == 3) requirement["values"].push_back(rb);
      });
      selector["matchExpressions"].push_back(requirement);
    }
  });
  return selector;
}

// Subject (kind 1, apiGroup 2, name 3, namespace 4) and RoleRef (apiGroup 1, kind 2, name 3);
// empty optional strings are left out, as their JSON tags say.
json DecodeStrings(const std::string& msg, const std::vector<const char*>& names) {
  json out = json::object();
  ForEachField(msg, [&](int n, int, uint64_t, const std::string& b) {
    if (n >= 1 && n <= static_cast<int>(names.size()) && !b.empty()) out[names[n - 1]] = b;
  });
  return out;
}

bool IsRbacKind(const std::string& kind) {
  return kind == "Role" || kind == "ClusterRole" || kind == "RoleBinding" ||
         kind == "ClusterRoleBinding";
}

void DecodeRbacField(const std::string& kind, int n, const std::string& b, json* obj) {
  const bool binding = kind == "RoleBinding" || kind == "ClusterRoleBinding";
  if (!binding && n == 2) {
    (*obj)["rules"].push_back(DecodePolicyRule(b));
  } else if (kind == "ClusterRole" && n == 3) {
    json rule = json::object();
    ForEachField(b, [&](int sn, int, uint64_t, const std::string& sb) {
      if (sn == 1) rule["clusterRoleSelectors"].push_back(DecodeLabelSelector(sb));
    });
    if (!rule.empty()) (*obj)["aggregationRule"] = rule;
  } else if (binding && n == 2) {
    (*obj)["subjects"].push_back(DecodeStrings(b, {"kind", "apiGroup", "name", "namespace"}));
  } else if (binding && n == 3) {
    (*obj)["roleRef"] = DecodeStrings(b, {"apiGroup", "kind", "name"});
  }
}

// SelfSubjectAccessReviewSpec: resourceAttributes (1: namespace, verb, group, version,
// resource, subresource, name as 1..7) or nonResourceAttributes (2: path 1, verb 2).
json DecodeSelfSubjectAccessReviewSpec(const std::string& msg) {
  json spec = json::object();
  ForEachField(msg, [&](int n, int, uint64_t, const std::string& b) {
    if (n == 1) {
      spec["resourceAttributes"] = DecodeStrings(
          b, {"namespace", "verb", "group", "version", "resource", "subresource", "name"});
    } else if (n == 2) {
      spec["nonResourceAttributes"] = DecodeStrings(b, {"path", "verb"});
    }
  });
  return spec;
}

}  // namespace

bool DecodeKubernetesProtobuf(const std::string& body, json* out, std::string* error) {
  if (body.size() < 4 || body.compare(0, 4, std::string("k8s\0", 4)) != 0) {
    *error = "provided object is not a Kubernetes protobuf envelope";
    return false;
  }
  std::string api_version, kind, raw;
  bool ok = ForEachField(body.substr(4), [&](int n, int, uint64_t, const std::string& b) {
    if (n == 1) {
      ForEachField(b, [&](int tn, int, uint64_t, const std::string& tb) {
        if (tn == 1) api_version = tb;
        if (tn == 2) kind = tb;
      });
    } else if (n == 2) {
      raw = b;
    }
  });
  const bool core =
      api_version == "v1" && (kind == "ConfigMap" || kind == "Secret" || kind == "Namespace");
  const bool rbac = api_version == "rbac.authorization.k8s.io/v1" && IsRbacKind(kind);
  const bool review =
      (api_version == "authorization.k8s.io/v1" && kind == "SelfSubjectAccessReview") ||
      (api_version == "authentication.k8s.io/v1" && kind == "SelfSubjectReview");
  if (!ok || (!core && !rbac && !review)) {
    *error =
        "protobuf is only understood for v1 ConfigMap, Secret and Namespace, "
        "rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding and ClusterRoleBinding, "
        "SelfSubjectAccessReview and SelfSubjectReview (got " +
        api_version + " " + kind + ")";
    return false;
  }
  json obj = {{"apiVersion", api_version}, {"kind", kind}};
  ForEachField(raw, [&](int n, int, uint64_t v, const std::string& b) {
    if (n == 1) {
      obj["metadata"] = DecodeObjectMeta(b);
    } else if (rbac) {
      DecodeRbacField(kind, n, b, &obj);
    } else if (review) {
      // The spec (2) of a SelfSubjectAccessReview; a SelfSubjectReview has none, and a status
      // (3, or 2 of a SelfSubjectReview) is the server's to write.
      if (kind == "SelfSubjectAccessReview" && n == 2) {
        obj["spec"] = DecodeSelfSubjectAccessReviewSpec(b);
      }
    } else if (kind == "ConfigMap") {
      if (n == 2) {
        auto kv = MapEntry(b);
        obj["data"][kv.first] = kv.second;
      } else if (n == 3) {
        auto kv = MapEntry(b);
        obj["binaryData"][kv.first] = Base64Encode(kv.second);
      } else if (n == 4) {
        obj["immutable"] = v != 0;
      }
    } else if (kind == "Secret") {
      if (n == 2) {
        auto kv = MapEntry(b);
        obj["data"][kv.first] = Base64Encode(kv.second);
      } else if (n == 3 && !b.empty()) {
        obj["type"] = b;
      } else if (n == 4) {
        auto kv = MapEntry(b);
        obj["stringData"][kv.first] = kv.second;
      } else if (n == 5) {
        obj["immutable"] = v != 0;
      }
    } else if (kind == "Namespace" && n == 2) {
      ForEachField(b, [&](int sn, int, uint64_t, const std::string& sb) {
        if (sn == 1) obj["spec"]["finalizers"].push_back(sb);
      });
    }
  });
  *out = obj;
  return true;
}

}  // namespace pygrid::sim::kube
