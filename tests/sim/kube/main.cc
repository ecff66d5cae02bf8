// kube-sim: a Kubernetes API server stand-in for tests. See tests/sim/kube/README.md.
//   kube-sim --port 0 --kubeconfig-out FILE [--token T] [--history N]
// Serves HTTPS with a CA generated at start, writes a kubeconfig once it accepts connections,
// and exits 0 on SIGTERM/SIGINT.
#include <signal.h>
#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "sim/common/http_server.h"
#include "sim/common/util.h"
#include "sim/kube/api_server.h"
#include "sim/kube/tls_certs.h"
#include "sim/kube/util.h"

namespace po = boost::program_options;
using namespace pygrid::sim;

namespace {

// Writes the kubeconfig to `path` via a temporary file and rename, so a reader never sees a
// partial file; mode 0600 because it holds the token.
bool WriteKubeconfig(const std::string& path, uint16_t port, const std::string& ca_pem,
                     const std::string& token) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-sim\n  cluster:\n"
        << "    server: https://127.0.0.1:" << port << "\n"
        << "    certificate-authority-data: " << kube::Base64Encode(ca_pem) << "\n"
        << "users:\n- name: kube-sim\n  user:\n    token: " << token << "\n"
        << "contexts:\n- name: kube-sim\n  context:\n    cluster: kube-sim\n    user: kube-sim\n"
        << "    namespace: default\ncurrent-context: kube-sim\n";
    if (!out) return false;
  }
  chmod(tmp.c_str(), 0600);
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  uint16_t port = 0;
  std::string host, kubeconfig, token;
  size_t history = 1000;
  int bookmark_ms = 1000;
  po::options_description desc("kube-sim options");
  desc.add_options()("help", "show this help")("port", po::value<uint16_t>(&port)->default_value(0),
                                               "listen port (0 picks a free one)")(
      "host", po::value<std::string>(&host)->default_value("127.0.0.1"), "listen address")(
      "kubeconfig-out", po::value<std::string>(&kubeconfig), "write a kubeconfig here when ready")(
      "token", po::value<std::string>(&token), "bearer token to require (default: random)")(
      "history", po::value<size_t>(&history)->default_value(1000),
      "watch events kept; older resourceVersions get 410 Gone")(
      "bookmark-interval-ms", po::value<int>(&bookmark_ms)->default_value(1000),
      "interval of BOOKMARK events on watches that allow them");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "kube-sim: " << e.what() << "\n" << desc;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (token.empty()) token = kube::RandomSuffix(32);

  // Block the stop signals before any thread starts so only sigwait sees them.
  sigset_t stop_signals = ::pygrid::sim::BlockStopSignals();

  kube::SimPki pki;
  std::string err;
  if (!kube::GenerateSimPki(&pki, &err)) {
    std::cerr << "kube-sim: " << err << "\n";
    return 1;
  }
  kube::ApiServerOptions api_opts;
  api_opts.token = token;
  api_opts.history = history == 0 ? 1 : history;
  api_opts.bookmark_interval_ms = bookmark_ms;
  kube::ApiServer api(api_opts);
  HttpServerOptions http_opts;
  http_opts.host = host;
  http_opts.port = port;
  http_opts.tls_cert_pem = pki.server_cert_pem;
  http_opts.tls_key_pem = pki.server_key_pem;
  http_opts.max_body_bytes = kube::kMaxRequestBodyBytes;
  HttpServer http(http_opts, [&api](const HttpRequest& req) { return api.Handle(req); });
  if (!http.Start(&err)) {
    std::cerr << "kube-sim: " << err << "\n";
    return 1;
  }
  if (!kubeconfig.empty() && !WriteKubeconfig(kubeconfig, http.port(), pki.ca_cert_pem, token)) {
    std::cerr << "kube-sim: cannot write kubeconfig " << kubeconfig << "\n";
    http.Stop();
    return 1;
  }
  std::cout << "kube-sim listening on https://" << host << ":" << http.port() << std::endl;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cout << "kube-sim: signal " << sig << ", stopping" << std::endl;
  api.Shutdown();
  http.Stop();
  return 0;
}
