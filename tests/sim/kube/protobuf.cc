// Wire format: https://protobuf.dev/programming-guides/encoding/ ; envelope and field numbers:
// k8s.io/apimachinery/pkg/runtime/generated.proto (Unknown, TypeMeta),
// k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto (ObjectMeta),
// k8s.io/api/core/v1/generated.proto (ConfigMap, Secret, Namespace, NamespaceSpec).
#include "sim/kube/protobuf.h"

#include <cstdint>
#include <functional>

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
  if (!ok || api_version != "v1" ||
      (kind != "ConfigMap" && kind != "Secret" && kind != "Namespace")) {
    *error = "protobuf is only understood for v1 ConfigMap, Secret and Namespace (got " +
             api_version + " " + kind + ")";
    return false;
  }
  json obj = {{"apiVersion", api_version}, {"kind", kind}};
  ForEachField(raw, [&](int n, int, uint64_t v, const std::string& b) {
    if (n == 1) {
      obj["metadata"] = DecodeObjectMeta(b);
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
