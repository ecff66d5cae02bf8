#include "api/json.h"

#include <nlohmann/json.hpp>

namespace pygrid::api {

using nlohmann::json;

namespace {

// Reads fields of one JSON object, collecting a cause for every field of the wrong type.
class FieldReader {
 public:
  FieldReader(const json& object, std::string path, std::vector<FieldCause>& causes)
      : object_(object), path_(std::move(path)), causes_(causes) {}

  bool Has(const char* key) const {
    return object_.is_object() && object_.contains(key) && !object_.at(key).is_null();
  }
  std::string Path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  void String(const char* key, std::string& out) {
    if (!Has(key)) return;
    const json& value = object_.at(key);
    if (value.is_string()) {
      out = value.get<std::string>();
    } else {
      Wrong(key, "must be a string");
    }
  }
  // An int-or-string field (Kubernetes IntOrString: 2 or "40%"), kept as its text.
  void IntOrString(const char* key, std::string& out) {
    if (!Has(key)) return;
    const json& value = object_.at(key);
    if (value.is_string()) {
      out = value.get<std::string>();
    } else if (value.is_number_integer()) {
      out = std::to_string(value.get<int64_t>());
    } else {
      Wrong(key, "must be an integer or a string");
    }
  }
  void Bool(const char* key, bool& out) {
    if (!Has(key)) return;
    const json& value = object_.at(key);
    if (value.is_boolean()) {
      out = value.get<bool>();
    } else {
      Wrong(key, "must be a boolean");
    }
  }
  template <typename Int>
  void Integer(const char* key, Int& out) {
    if (!Has(key)) return;
    const json& value = object_.at(key);
    if (value.is_number_integer() &&
        value.get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<Int>::min()) &&
        value.get<int64_t>() <= static_cast<int64_t>(std::numeric_limits<Int>::max())) {
      out = static_cast<Int>(value.get<int64_t>());
    } else {
      Wrong(key, "must be an integer");
    }
  }
  void StringList(const char* key, std::vector<std::string>& out) {
    if (!Has(key)) return;
    const json& value = object_.at(key);
    if (!value.is_array()) {
      Wrong(key, "must be a list of strings");
      return;
    }
    out.clear();
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i].is_string()) {
        out.push_back(value[i].get<std::string>());
      } else {
        causes_.push_back({Path(key) + "[" + std::to_string(i) + "]", "must be a string",
                           "FieldValueTypeInvalid"});
      }
    }
  }
  template <typename Enum>
  void Enumerated(const char* key, Enum& out, std::optional<Enum> (*parse)(const std::string&),
                  const char* allowed) {
    std::string text;
    String(key, text);
    if (text.empty()) return;
    if (std::optional<Enum> parsed = parse(text)) {
      out = *parsed;
    } else {
      causes_.push_back(
          {Path(key), std::string("must be one of ") + allowed, "FieldValueNotSupported"});
    }
  }
  // Returns the nested object at key (or a null json when absent or of the wrong type).
  const json& Object(const char* key) {
    static const json kNull;
    if (!Has(key)) return kNull;
    const json& value = object_.at(key);
    if (!value.is_object()) {
      Wrong(key, "must be an object");
      return kNull;
    }
    return value;
  }
  const json& Array(const char* key) {
    static const json kNull;
    if (!Has(key)) return kNull;
    const json& value = object_.at(key);
    if (!value.is_array()) {
      Wrong(key, "must be a list");
      return kNull;
    }
    return value;
  }

 private:
  void Wrong(const char* key, const char* message) {
    causes_.push_back({Path(key), message, "FieldValueTypeInvalid"});
  }

  const json& object_;
  std::string path_;
  std::vector<FieldCause>& causes_;
};

void ReadSpec(const json& object, const std::string& path, ClusterSpec& spec,
              std::vector<FieldCause>& causes) {
  FieldReader r(object, path, causes);
  {
    FieldReader ref(r.Object("credentialsSecretRef"), r.Path("credentialsSecretRef"), causes);
    ref.String("name", spec.credentials_secret_ref.name);
    ref.String("key", spec.credentials_secret_ref.key);
  }
  r.String("region", spec.region);
  r.String("image", spec.image);
  r.String("preparedImage", spec.prepared_image);
  r.StringList("sshKeyNames", spec.ssh_key_names);
  {
    FieldReader gateway(r.Object("gateway"), r.Path("gateway"), causes);
    gateway.String("instanceType", spec.gateway.instance_type);
    gateway.Bool("colocatedWorker", spec.gateway.colocated_worker);
    gateway.String("startupTimeout", spec.gateway.startup_timeout);
  }
  {
    FieldReader workers(r.Object("workers"), r.Path("workers"), causes);
    workers.Integer("replicas", spec.workers.replicas);
    workers.String("instanceType", spec.workers.instance_type);
    workers.String("startupTimeout", spec.workers.startup_timeout);
    workers.IntOrString("maxUnhealthy", spec.workers.max_unhealthy);
    workers.IntOrString("maxUnavailable", spec.workers.max_unavailable);
  }
  {
    FieldReader pygrid(r.Object("pygrid"), r.Path("pygrid"), causes);
    pygrid.Enumerated("flavor", spec.pygrid.flavor, &ParseFlavor, "gateway-2020, network-0.2");
    pygrid.String("gatewayImage", spec.pygrid.gateway_image);
    pygrid.String("nodeImage", spec.pygrid.node_image);
    pygrid.Integer("gatewayPort", spec.pygrid.gateway_port);
    pygrid.Integer("nodePort", spec.pygrid.node_port);
  }
  {
    FieldReader gpu(r.Object("gpu"), r.Path("gpu"), causes);
    gpu.Enumerated("driver", spec.gpu_driver, &ParseGpuDriver, "nvidia, none");
  }
  {
    FieldReader network(r.Object("network"), r.Path("network"), causes);
    network.String("securityGroupName", spec.network.security_group_name);
    network.StringList("allowedSourceCIDRs", spec.network.allowed_source_cidrs);
  }
  r.Bool("suspend", spec.suspend);
  r.String("provisioningTimeout", spec.provisioning_timeout);
  r.Enumerated("deletionPolicy", spec.deletion_policy, &ParseDeletionPolicy, "Delete, Retain");
}

void ReadStatus(const json& object, const std::string& path, ClusterStatus& status,
                std::vector<FieldCause>& causes) {
  FieldReader r(object, path, causes);
  std::string phase;
  r.String("phase", phase);
  status.phase = phase.empty() ? std::nullopt : ParsePhase(phase);
  r.String("endpoint", status.endpoint);
  r.Integer("readyWorkers", status.ready_workers);
  r.Integer("desiredWorkers", status.desired_workers);
  r.Integer("observedGeneration", status.observed_generation);
  r.String("securityGroupID", status.security_group_id);
  r.String("gatewayAddressDelivery", status.gateway_address_delivery);
  const json& image_json = r.Object("image");
  if (image_json.is_object()) {
    ImageStatus image;
    FieldReader i(image_json, r.Path("image"), causes);
    i.String("id", image.id);
    i.Bool("prepared", image.prepared);
    i.Bool("baked", image.baked);
    status.image = image;
  }
  const json& gateway_json = r.Object("gateway");
  if (gateway_json.is_object()) {
    GatewayStatus gateway;
    FieldReader g(gateway_json, r.Path("gateway"), causes);
    g.String("name", gateway.name);
    g.String("nodeID", gateway.node_id);
    g.String("instanceID", gateway.instance_id);
    g.String("publicIP", gateway.public_ip);
    g.String("privateIP", gateway.private_ip);
    g.String("state", gateway.state);
    g.Bool("ready", gateway.ready);
    g.String("sshHostKey", gateway.ssh_host_key);
    g.String("createRequestedAt", gateway.create_requested_at);
    g.String("specHash", gateway.spec_hash);
    g.Integer("startupFailures", gateway.startup_failures);
    g.String("unreadySince", gateway.unready_since);
    status.gateway = gateway;
  }
  const json& workers = r.Array("workers");
  for (size_t i = 0; workers.is_array() && i < workers.size(); ++i) {
    WorkerStatus worker;
    FieldReader w(workers[i], r.Path("workers") + "[" + std::to_string(i) + "]", causes);
    w.String("name", worker.name);
    w.Integer("index", worker.index);
    w.String("nodeID", worker.node_id);
    w.String("instanceID", worker.instance_id);
    w.String("publicIP", worker.public_ip);
    w.String("privateIP", worker.private_ip);
    w.String("state", worker.state);
    w.Bool("registered", worker.registered);
    w.Bool("ready", worker.ready);
    w.String("sshHostKey", worker.ssh_host_key);
    w.String("createRequestedAt", worker.create_requested_at);
    w.String("gatewayIP", worker.gateway_ip);
    w.String("specHash", worker.spec_hash);
    w.Integer("startupFailures", worker.startup_failures);
    w.String("unreadySince", worker.unready_since);
    status.workers.push_back(worker);
  }
  const json& conditions = r.Array("conditions");
  for (size_t i = 0; conditions.is_array() && i < conditions.size(); ++i) {
    Condition condition;
    FieldReader c(conditions[i], r.Path("conditions") + "[" + std::to_string(i) + "]", causes);
    c.String("type", condition.type);
    c.String("status", condition.status);
    c.Integer("observedGeneration", condition.observed_generation);
    c.String("lastTransitionTime", condition.last_transition_time);
    c.String("reason", condition.reason);
    c.String("message", condition.message);
    status.conditions.push_back(condition);
  }
}

void PutIfNotEmpty(json& out, const char* key, const std::string& value) {
  if (!value.empty()) out[key] = value;
}

// An int-or-string field as it was written: digits only is the integer, anything else text.
void PutIntOrString(json& out, const char* key, const std::string& value) {
  if (value.empty()) return;
  const bool digits =
      value.size() <= 9 && value.find_first_not_of("0123456789") == std::string::npos;
  if (digits) {
    out[key] = std::stoi(value);
  } else {
    out[key] = value;
  }
}

}  // namespace

StatusOr<ClusterSpec> SpecFromJson(const json& spec) {
  std::vector<FieldCause> causes;
  ClusterSpec out;
  if (!spec.is_object())
    return Status::Invalid("spec must be an object", {{"spec", "must be an object", ""}});
  ReadSpec(spec, "spec", out, causes);
  if (!causes.empty())
    return Status::Invalid("PyGridCluster spec has fields of the wrong type", causes);
  return out;
}

StatusOr<ClusterStatus> StatusFromJson(const json& status) {
  std::vector<FieldCause> causes;
  ClusterStatus out;
  if (!status.is_null()) ReadStatus(status, "status", out, causes);
  if (!causes.empty())
    return Status::Invalid("PyGridCluster status has fields of the wrong type", causes);
  return out;
}

StatusOr<PyGridCluster> ClusterFromJson(const json& object) {
  if (!object.is_object()) return Status::Invalid("a PyGridCluster must be a JSON object");
  std::vector<FieldCause> causes;
  PyGridCluster cluster;
  FieldReader root(object, "", causes);
  {
    FieldReader meta(root.Object("metadata"), "metadata", causes);
    meta.String("name", cluster.metadata.name);
    meta.String("namespace", cluster.metadata.namespace_name);
    meta.String("uid", cluster.metadata.uid);
    meta.String("resourceVersion", cluster.metadata.resource_version);
    meta.Integer("generation", cluster.metadata.generation);
    meta.String("creationTimestamp", cluster.metadata.creation_timestamp);
    meta.String("deletionTimestamp", cluster.metadata.deletion_timestamp);
    meta.StringList("finalizers", cluster.metadata.finalizers);
  }
  ReadSpec(root.Object("spec"), "spec", cluster.spec, causes);
  ReadStatus(root.Object("status"), "status", cluster.status, causes);
  if (!causes.empty()) return Status::Invalid("PyGridCluster has fields of the wrong type", causes);
  return cluster;
}

json SpecToJson(const ClusterSpec& spec) {
  json out = json::object();
  json ref = json::object();
  PutIfNotEmpty(ref, "name", spec.credentials_secret_ref.name);
  PutIfNotEmpty(ref, "key", spec.credentials_secret_ref.key);
  out["credentialsSecretRef"] = ref;
  PutIfNotEmpty(out, "region", spec.region);
  PutIfNotEmpty(out, "image", spec.image);
  PutIfNotEmpty(out, "preparedImage", spec.prepared_image);
  if (!spec.ssh_key_names.empty()) out["sshKeyNames"] = spec.ssh_key_names;
  json gateway = {{"colocatedWorker", spec.gateway.colocated_worker}};
  PutIfNotEmpty(gateway, "instanceType", spec.gateway.instance_type);
  PutIfNotEmpty(gateway, "startupTimeout", spec.gateway.startup_timeout);
  out["gateway"] = gateway;
  json workers = {{"replicas", spec.workers.replicas}};
  PutIfNotEmpty(workers, "instanceType", spec.workers.instance_type);
  PutIfNotEmpty(workers, "startupTimeout", spec.workers.startup_timeout);
  PutIntOrString(workers, "maxUnhealthy", spec.workers.max_unhealthy);
  PutIntOrString(workers, "maxUnavailable", spec.workers.max_unavailable);
  out["workers"] = workers;
  json pygrid = {{"flavor", FlavorName(spec.pygrid.flavor)}};
  PutIfNotEmpty(pygrid, "gatewayImage", spec.pygrid.gateway_image);
  PutIfNotEmpty(pygrid, "nodeImage", spec.pygrid.node_image);
  if (spec.pygrid.gateway_port != 0) pygrid["gatewayPort"] = spec.pygrid.gateway_port;
  if (spec.pygrid.node_port != 0) pygrid["nodePort"] = spec.pygrid.node_port;
  out["pygrid"] = pygrid;
  out["gpu"] = {{"driver", GpuDriverName(spec.gpu_driver)}};
  json network = {{"allowedSourceCIDRs", spec.network.allowed_source_cidrs}};
  PutIfNotEmpty(network, "securityGroupName", spec.network.security_group_name);
  out["network"] = network;
  out["suspend"] = spec.suspend;
  PutIfNotEmpty(out, "provisioningTimeout", spec.provisioning_timeout);
  out["deletionPolicy"] = DeletionPolicyName(spec.deletion_policy);
  return out;
}

json StatusToJson(const ClusterStatus& status) {
  json out = json::object();
  if (status.phase) out["phase"] = PhaseName(*status.phase);
  PutIfNotEmpty(out, "endpoint", status.endpoint);
  out["readyWorkers"] = status.ready_workers;
  out["desiredWorkers"] = status.desired_workers;
  out["readyText"] =
      std::to_string(status.ready_workers) + "/" + std::to_string(status.desired_workers);
  out["observedGeneration"] = status.observed_generation;
  PutIfNotEmpty(out, "securityGroupID", status.security_group_id);
  PutIfNotEmpty(out, "gatewayAddressDelivery", status.gateway_address_delivery);
  if (status.image) {
    out["image"] = {{"id", status.image->id},
                    {"prepared", status.image->prepared},
                    {"baked", status.image->baked}};
  }
  if (status.gateway) {
    const GatewayStatus& g = *status.gateway;
    json gateway = {{"ready", g.ready}};
    PutIfNotEmpty(gateway, "name", g.name);
    PutIfNotEmpty(gateway, "nodeID", g.node_id);
    PutIfNotEmpty(gateway, "instanceID", g.instance_id);
    PutIfNotEmpty(gateway, "publicIP", g.public_ip);
    PutIfNotEmpty(gateway, "privateIP", g.private_ip);
    PutIfNotEmpty(gateway, "state", g.state);
    PutIfNotEmpty(gateway, "sshHostKey", g.ssh_host_key);
    PutIfNotEmpty(gateway, "createRequestedAt", g.create_requested_at);
    PutIfNotEmpty(gateway, "specHash", g.spec_hash);
    if (g.startup_failures > 0) gateway["startupFailures"] = g.startup_failures;
    PutIfNotEmpty(gateway, "unreadySince", g.unready_since);
    out["gateway"] = gateway;
  }
  json workers = json::array();
  for (const WorkerStatus& w : status.workers) {
    json worker = {{"index", w.index}, {"registered", w.registered}, {"ready", w.ready}};
    PutIfNotEmpty(worker, "name", w.name);
    PutIfNotEmpty(worker, "nodeID", w.node_id);
    PutIfNotEmpty(worker, "instanceID", w.instance_id);
    PutIfNotEmpty(worker, "publicIP", w.public_ip);
    PutIfNotEmpty(worker, "privateIP", w.private_ip);
    PutIfNotEmpty(worker, "state", w.state);
    PutIfNotEmpty(worker, "sshHostKey", w.ssh_host_key);
    PutIfNotEmpty(worker, "createRequestedAt", w.create_requested_at);
    PutIfNotEmpty(worker, "gatewayIP", w.gateway_ip);
    PutIfNotEmpty(worker, "specHash", w.spec_hash);
    if (w.startup_failures > 0) worker["startupFailures"] = w.startup_failures;
    PutIfNotEmpty(worker, "unreadySince", w.unready_since);
    workers.push_back(worker);
  }
  out["workers"] = workers;
  json conditions = json::array();
  for (const Condition& c : status.conditions) {
    json condition = {{"type", c.type},
                      {"status", c.status},
                      {"lastTransitionTime", c.last_transition_time},
                      {"reason", c.reason},
                      {"message", c.message}};
    if (c.observed_generation != 0) condition["observedGeneration"] = c.observed_generation;
    conditions.push_back(condition);
  }
  out["conditions"] = conditions;
  return out;
}

json ClusterToJson(const PyGridCluster& cluster) {
  json metadata = json::object();
  PutIfNotEmpty(metadata, "name", cluster.metadata.name);
  PutIfNotEmpty(metadata, "namespace", cluster.metadata.namespace_name);
  PutIfNotEmpty(metadata, "uid", cluster.metadata.uid);
  PutIfNotEmpty(metadata, "resourceVersion", cluster.metadata.resource_version);
  if (cluster.metadata.generation != 0) metadata["generation"] = cluster.metadata.generation;
  PutIfNotEmpty(metadata, "creationTimestamp", cluster.metadata.creation_timestamp);
  PutIfNotEmpty(metadata, "deletionTimestamp", cluster.metadata.deletion_timestamp);
  if (!cluster.metadata.finalizers.empty()) metadata["finalizers"] = cluster.metadata.finalizers;
  return {{"apiVersion", kApiVersion},
          {"kind", kKind},
          {"metadata", metadata},
          {"spec", SpecToJson(cluster.spec)},
          {"status", StatusToJson(cluster.status)}};
}

}  // namespace pygrid::api
