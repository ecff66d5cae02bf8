#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/base64.h"

namespace pygrid::kube {
namespace {

StatusOr<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Invalid(what + ": cannot read file " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return base_dir + "/" + path;
}

// Finds `name` in a kubeconfig list of {name: ..., <field>: {...}} entries.
YAML::Node FindNamed(const YAML::Node& list, const std::string& name, const char* field) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const auto& entry : list) {
    if (entry["name"] && entry["name"].as<std::string>() == name) return entry[field];
  }
  return YAML::Node();
}

std::string Str(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  return value && value.IsScalar() ? value.as<std::string>() : std::string();
}

// Takes PEM from `<key>-data` (base64) or `<key>` (a file path); "" when neither is set.
StatusOr<std::string> PemFrom(const YAML::Node& node, const std::string& key,
                              const std::string& base_dir, const std::string& where) {
  const std::string data = Str(node, (key + "-data").c_str());
  std::string pem;
  if (!data.empty()) {
    auto decoded = Base64Decode(data);
    if (!decoded) return Status::Invalid(where + ": " + key + "-data is not valid base64");
    pem = *decoded;
  } else {
    const std::string file = Str(node, key.c_str());
    if (file.empty()) return std::string();
    auto read = ReadFile(Resolve(base_dir, file), where + ": " + key);
    if (!read.ok()) return read.status();
    pem = *read;
  }
  if (pem.find("-----BEGIN") == std::string::npos) {
    return Status::Invalid(where + ": " + key + " does not contain PEM data");
  }
  return pem;
}

std::string TrimToken(std::string token) {
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  return token;
}

bool FileExists(const std::string& path) {
  std::ifstream in(path);
  return static_cast<bool>(in);
}

StatusOr<RestConfig> ParseKubeconfig(const YAML::Node& root, const std::string& path,
                                     const std::string& wanted_context) {
  const std::string where = "kubeconfig " + path;
  if (!root || !root.IsMap()) return Status::Invalid(where + ": not a YAML mapping");
  std::string context_name = wanted_context.empty() ? Str(root, "current-context") : wanted_context;
  if (context_name.empty()) {
    return Status::Invalid(where + ": no current-context set and no context given");
  }
  const YAML::Node context = FindNamed(root["contexts"], context_name, "context");
  if (!context || !context.IsMap()) {
    return Status::Invalid(where + ": context \"" + context_name + "\" not found");
  }
  const std::string cluster_name = Str(context, "cluster");
  const std::string user_name = Str(context, "user");
  const YAML::Node cluster = FindNamed(root["clusters"], cluster_name, "cluster");
  if (!cluster || !cluster.IsMap()) {
    return Status::Invalid(where + ": cluster \"" + cluster_name + "\" of context \"" +
                           context_name + "\" not found");
  }
  RestConfig config;
  config.origin = where + " (context " + context_name + ")";
  const std::string base_dir = Dir(path);
  config.server = Str(cluster, "server");
  if (config.server.empty()) {
    return Status::Invalid(where + ": cluster \"" + cluster_name + "\" has no server");
  }
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return Status::Invalid(where + ": server \"" + config.server + "\" is not an http(s) URL");
  }
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  const std::string insecure = Str(cluster, "insecure-skip-tls-verify");
  config.insecure_skip_tls_verify = insecure == "true";
  auto ca = PemFrom(cluster, "certificate-authority", base_dir, where);
  if (!ca.ok()) return ca.status();
  config.ca_pem = *ca;
  if (config.insecure_skip_tls_verify && !config.ca_pem.empty()) {
    // client-go refuses this combination ("specifying a root certificates file with the
    // insecure flag is not allowed").
    return Status::Invalid(where +
                           ": certificate-authority and insecure-skip-tls-verify are "
                           "mutually exclusive");
  }
  const std::string ns = Str(context, "namespace");
  if (!ns.empty()) config.default_namespace = ns;

  if (user_name.empty()) return config;  // anonymous
  const YAML::Node user = FindNamed(root["users"], user_name, "user");
  if (!user) {
    return Status::Invalid(where + ": user \"" + user_name + "\" of context \"" + context_name +
                           "\" not found");
  }
  if (!user.IsMap()) return config;  // `user: {}` is anonymous
  if (user["exec"] || user["auth-provider"]) {
    return Status::Invalid(where + ": user \"" + user_name +
                           "\" uses an exec or auth-provider plugin, which is not supported; use "
                           "a token, token file or client certificate");
  }
  config.bearer_token = TrimToken(Str(user, "token"));
  const std::string token_file = Str(user, "tokenFile");
  if (config.bearer_token.empty() && !token_file.empty()) {
    config.token_file = Resolve(base_dir, token_file);
    if (!FileExists(config.token_file)) {
      return Status::Invalid(where + ": tokenFile " + config.token_file + " cannot be read");
    }
  }
  auto cert = PemFrom(user, "client-certificate", base_dir, where);
  if (!cert.ok()) return cert.status();
  auto key = PemFrom(user, "client-key", base_dir, where);
  if (!key.ok()) return key.status();
  if (cert->empty() != key->empty()) {
    return Status::Invalid(where + ": user \"" + user_name +
                           "\" needs both client-certificate and client-key");
  }
  config.client_cert_pem = *cert;
  config.client_key_pem = *key;
  if (!Str(user, "username").empty()) {
    return Status::Invalid(where + ": basic auth (username/password) is not supported");
  }
  return config;
}

std::string EnvOr(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

StatusOr<RestConfig> LoadKubeconfigFile(const std::string& path, const std::string& context) {
  auto text = ReadFile(path, "kubeconfig");
  if (!text.ok()) return text.status();
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return Status::Invalid("kubeconfig " + path + ": not valid YAML: " + e.msg);
  }
  try {
    return ParseKubeconfig(root, path, context);
  } catch (const YAML::Exception& e) {
    return Status::Invalid("kubeconfig " + path + ": unexpected structure: " + e.msg);
  }
}

StatusOr<RestConfig> LoadInClusterConfig(const InClusterOptions& options) {
  const std::string host = options.host ? *options.host : EnvOr("KUBERNETES_SERVICE_HOST");
  const std::string port = options.port ? *options.port : EnvOr("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return Status::NotFound(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
        "set");
  }
  RestConfig config;
  config.origin = "in-cluster";
  // net.JoinHostPort: IPv6 literals need brackets.
  const bool ipv6 = host.find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + host + "]" : host) + ":" + port;
  const std::string dir = options.service_account_dir;
  config.token_file = dir + "/token";
  auto token = ReadFile(config.token_file, "in-cluster service account token");
  if (!token.ok()) return token.status();
  if (TrimToken(*token).empty()) {
    return Status::Invalid("in-cluster service account token " + config.token_file + " is empty");
  }
  auto ca = ReadFile(dir + "/ca.crt", "in-cluster CA");
  if (!ca.ok()) return ca.status();
  if (ca->find("-----BEGIN") == std::string::npos) {
    return Status::Invalid("in-cluster CA " + dir + "/ca.crt does not contain PEM data");
  }
  config.ca_pem = *ca;
  auto ns = ReadFile(dir + "/namespace", "in-cluster namespace");
  if (ns.ok() && !TrimToken(*ns).empty()) config.default_namespace = TrimToken(*ns);
  return config;
}

StatusOr<RestConfig> LoadConfig(const KubeconfigOptions& options) {
  if (!options.explicit_path.empty()) {
    return LoadKubeconfigFile(options.explicit_path, options.context);
  }
  const std::string env = EnvOr("KUBECONFIG");
  if (!env.empty()) {
    std::stringstream list(env);
    std::string entry;
    while (std::getline(list, entry, ':')) {
      if (!entry.empty() && FileExists(entry)) return LoadKubeconfigFile(entry, options.context);
    }
    return Status::Invalid("KUBECONFIG is set but none of its files exists");
  }
  if (options.allow_in_cluster) {
    auto in_cluster = LoadInClusterConfig();
    if (in_cluster.ok() || !in_cluster.status().IsNotFound()) return in_cluster;
  }
  const std::string home = EnvOr("HOME");
  const std::string fallback = home + "/.kube/config";
  if (!home.empty() && FileExists(fallback)) return LoadKubeconfigFile(fallback, options.context);
  return Status::NotFound(
      "no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, run in a cluster or "
      "create ~/.kube/config");
}

}  // namespace pygrid::kube
