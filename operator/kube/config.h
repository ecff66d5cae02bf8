// Provides RestConfig, how to reach and authenticate to one API server, and the loaders that
// build it from a kubeconfig file or from the in-cluster service account (client-go
// clientcmd / rest.InClusterConfig):
//
//   auto config = pygrid::kube::LoadConfig({.explicit_path = flags.kubeconfig});
//   if (!config.ok()) return Fail(config.status());
//   auto client = pygrid::kube::RestClient::Create(*config);
//
// Secrets (token, private key) live only in memory; no loader ever puts them in a Status.
// Thread-safety: the loaders are pure functions of files and the environment; RestConfig is a
// value.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/status.h"

namespace pygrid::kube {

// The client side of one API server connection (client-go rest.Config, subset).
struct RestConfig {
  std::string server;  // "https://host:port", no trailing slash
  std::string ca_pem;  // trusted CA bundle (PEM); empty = the system roots
  bool insecure_skip_tls_verify = false;
  std::string bearer_token;  // a static token; wins over token_file
  std::string token_file;    // re-read every token_reload_period (bound tokens rotate)
  std::chrono::seconds token_reload_period{60};
  std::string client_cert_pem;                // client certificate chain (PEM)
  std::string client_key_pem;                 // its private key (PEM)
  std::string default_namespace = "default";  // context namespace or the SA namespace file
  // Client-side limit; qps <= 0 disables it (controller-runtime's default is -1: rely on API
  // priority and fairness; client-go's rest default is 5/10).
  double qps = 20;
  int burst = 30;
  std::string user_agent = "pygrid-operator";
  std::chrono::seconds request_timeout{30};
  std::string origin;  // "kubeconfig /path (context c)" or "in-cluster", for messages only
};

// Which kubeconfig to read and what to pick from it.
struct KubeconfigOptions {
  std::string explicit_path;  // --kubeconfig; empty = $KUBECONFIG, in-cluster, ~/.kube/config
  std::string context;        // empty = current-context
  bool allow_in_cluster = true;
};

// Where the in-cluster loader reads from; the defaults are the real pod paths and environment.
struct InClusterOptions {
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::optional<std::string> host;  // default $KUBERNETES_SERVICE_HOST
  std::optional<std::string> port;  // default $KUBERNETES_SERVICE_PORT
};

// Parses one kubeconfig file and resolves `context` (or current-context); relative file
// paths inside it are relative to the file's directory, as in client-go. Invalid with a
// message naming the file and the broken field when the file cannot be used.
StatusOr<RestConfig> LoadKubeconfigFile(const std::string& path, const std::string& context = "");

// Builds the in-cluster config from the service-account directory and environment.
// NotFound when not running in a cluster (no KUBERNETES_SERVICE_HOST/PORT).
StatusOr<RestConfig> LoadInClusterConfig(const InClusterOptions& options = {});

// controller-runtime's order: the explicit path, then $KUBECONFIG (first existing entry of
// the list), then in-cluster, then ~/.kube/config.
StatusOr<RestConfig> LoadConfig(const KubeconfigOptions& options = {});

}  // namespace pygrid::kube
