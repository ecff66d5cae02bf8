#include "cli/run_command.h"

#include <boost/program_options.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <regex>
#include <sstream>

#include "cli/internal/flag_environment.h"
#include "observability/log.h"

namespace pygrid::cli {

namespace po = boost::program_options;

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

}  // namespace

StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  static const std::regex part("([0-9]+(?:\\.[0-9]+)?)(ms|s|m|h)");
  if (text.empty()) return Status::Invalid("empty duration");
  double total_ms = 0;
  size_t pos = 0;
  std::smatch match;
  std::string rest = text;
  while (!rest.empty()) {
    if (!std::regex_search(rest, match, part, std::regex_constants::match_continuous)) {
      return Status::Invalid("not a duration: \"" + text + "\" (use e.g. 500ms, 10s, 5m, 1h30m)");
    }
    const double value = std::stod(match[1].str());
    const std::string unit = match[2].str();
    total_ms += value * (unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : 3600000);
    pos += match.length(0);
    rest = match.suffix();
  }
  return std::chrono::milliseconds(static_cast<long long>(total_ms));
}

StatusOr<ParsedFlags> ParseRunFlags(const std::vector<std::string>& args) {
  ParsedFlags parsed;
  cli::ManagerOptions& m = parsed.manager;
  std::string poll = "10s", resync = "1m", lease = "15s", renew = "10s", retry = "2s";
  std::string orphan_grace = "1h", delivery_grace = "5m";
  std::string retention = "168h", bake_timeout = "1h";
  std::string genesis_timeout = "30s";
  po::options_description flags("pygrid-operator flags (each also read from PYGRID_<FLAG>)");
  flags.add_options()("help,h", "show this help")(
      "kubeconfig", po::value(&m.kubeconfig),
      "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)")(
      "namespace", po::value(&m.watch_namespace), "watch only this namespace (default: all)")(
      "metrics-bind-address",
      po::value(&m.metrics_bind_address)
          ->default_value(m.metrics_bind_address, ":8443 (:8080 with --metrics-secure=false)"),
      "address of /metrics; 0 disables it")(
      "metrics-secure", po::value(&m.metrics_secure)->default_value(true)->implicit_value(true),
      "serve /metrics over HTTPS and let only users the API server authenticates "
      "(TokenReview) and authorizes for get /metrics (SubjectAccessReview) scrape it")(
      "metrics-cert-dir", po::value(&m.metrics_cert_dir),
      "directory with tls.crt and tls.key for the HTTPS metrics server, reloaded when they "
      "change (default: a self-signed certificate generated at start)")(
      "enable-http2", po::value(&m.enable_http2)->default_value(false)->implicit_value(true),
      "accepted for compatibility; the servers speak HTTP/1.1 only")(
      "health-probe-bind-address",
      po::value(&m.health_probe_bind_address)->default_value(m.health_probe_bind_address),
      "address of /healthz and /readyz; 0 disables it")(
      "leader-elect", po::bool_switch(&m.leader_elect),
      "campaign for a Lease; only the leader reconciles")(
      "leader-election-namespace", po::value(&m.leader_election_namespace),
      "namespace of the Lease (default: the operator's namespace)")(
      "leader-election-id", po::value(&m.leader_election_id)->default_value(m.leader_election_id),
      "name of the Lease")("lease-duration", po::value(&lease)->default_value(lease),
                           "leader election lease duration")(
      "renew-deadline", po::value(&renew)->default_value(renew), "leader election renew deadline")(
      "retry-period", po::value(&retry)->default_value(retry), "leader election retry period")(
      "max-concurrent-reconciles",
      po::value(&m.max_concurrent_reconciles)->default_value(m.max_concurrent_reconciles),
      "clusters reconciled at once")(
      "kube-api-qps", po::value(&m.kube_api_qps)->default_value(m.kube_api_qps),
      "client-side limit on Kubernetes API requests per second (0 = none; events have their "
      "own)")("kube-api-burst", po::value(&m.kube_api_burst)->default_value(m.kube_api_burst),
              "burst of that limit")(
      "genesis-api-url", po::value(&m.genesis_api_url)->default_value(m.genesis_api_url),
      "Genesis Cloud compute API")(
      "genesis-requests-per-second",
      po::value(&m.genesis_requests_per_second)->default_value(m.genesis_requests_per_second),
      "client-side rate limit per Genesis Cloud account")(
      "genesis-request-timeout", po::value(&genesis_timeout)->default_value(genesis_timeout),
      "per-request timeout")("poll-interval", po::value(&poll)->default_value(poll),
                             "requeue interval while a cluster converges")(
      "resync-interval", po::value(&resync)->default_value(resync),
      "requeue interval when a cluster is steady")(
      "ssh-port", po::value(&m.ssh_port)->default_value(m.ssh_port), "SSH port of the instances")(
      "ssh-user", po::value(&m.ssh_user)->default_value(m.ssh_user),
      "SSH login user of the instances")(
      "address-delivery-grace", po::value(&delivery_grace)->default_value(delivery_grace),
      "how long SSH may fail to reach a worker waiting for its gateway's address before the "
      "grid falls back to workers whose user data carries it (created once the gateway runs)")(
      "ssh-key-secret", po::value(&m.ssh_key_secret)->default_value(m.ssh_key_secret),
      "Secret (in the operator's namespace) holding the operator's SSH key; created if missing")(
      "operator-namespace", po::value(&m.operator_namespace)->default_value(m.operator_namespace),
      "the operator's namespace (default: $POD_NAMESPACE)")(
      "orphan-instances", po::value(&m.orphan_instances)->default_value(m.orphan_instances),
      "report or delete instances named like a PyGridCluster's whose cluster is gone (delete "
      "only after --orphan-grace-period)")(
      "orphan-grace-period", po::value(&orphan_grace)->default_value(orphan_grace),
      "how long an instance must stay orphaned before --orphan-instances=delete deletes it")(
      "prepared-image-retention", po::value(&retention)->default_value(retention),
      "delete a baked prepared image (spec.preparedImage auto) no grid has wanted for this long")(
      "bake-timeout", po::value(&bake_timeout)->default_value(bake_timeout),
      "a bake whose builder has not finished this long after its creation failed (retried)")(
      "templates-dir", po::value(&m.templates_dir),
      "cloud-init templates folder (default: built in)")(
      "log-format", po::value(&parsed.log_format)->default_value(parsed.log_format),
      "json or text")("log-level", po::value(&parsed.log_level)->default_value(parsed.log_level),
                      "debug, info, warn or error");
  std::ostringstream usage;
  usage << flags;
  parsed.usage = usage.str();
  if (const char* pod_namespace = std::getenv("POD_NAMESPACE"))
    m.operator_namespace = pod_namespace;
  if (const char* pod_name = std::getenv("POD_NAME")) m.pod_name = pod_name;
  po::variables_map vars;
  try {
    po::store(po::command_line_parser(args).options(flags).run(), vars);
    internal::StoreFlagEnvironment(flags, vars);
    po::notify(vars);
  } catch (const po::error& error) {
    return Status::Invalid(error.what());
  }
  parsed.help = vars.count("help") > 0;
  if (vars["metrics-bind-address"].defaulted() && !m.metrics_secure) {
    m.metrics_bind_address = ":8080";
  }
  for (auto [text, target] :
       {std::pair<std::string*, std::chrono::milliseconds*>{&poll, &m.poll_interval},
        {&resync, &m.resync_interval},
        {&lease, &m.lease_duration},
        {&renew, &m.renew_deadline},
        {&retry, &m.retry_period},
        {&genesis_timeout, &m.genesis_request_timeout},
        {&orphan_grace, &m.orphan_grace_period},
        {&delivery_grace, &m.address_delivery_grace},
        {&retention, &m.prepared_image_retention},
        {&bake_timeout, &m.bake_timeout}}) {
    StatusOr<std::chrono::milliseconds> duration = ParseDuration(*text);
    if (!duration.ok()) return duration.status();
    *target = *duration;
  }
  if (m.orphan_instances != "report" && m.orphan_instances != "delete")
    return Status::Invalid("--orphan-instances must be report or delete");
  if (m.kube_api_qps > 0 && m.kube_api_burst < 1)
    return Status::Invalid("--kube-api-burst must be at least 1 when --kube-api-qps is set");
  if (m.max_concurrent_reconciles < 1)
    return Status::Invalid("--max-concurrent-reconciles must be at least 1");
  if (m.ssh_port < 1 || m.ssh_port > 65535) return Status::Invalid("--ssh-port must be a TCP port");
  if (!observability::ParseLogFormat(parsed.log_format).ok())
    return Status::Invalid("--log-format must be json or text");
  if (!observability::ParseLogLevel(parsed.log_level).ok()) {
    return Status::Invalid("--log-level must be debug, info, warn or error");
  }
  return parsed;
}

int RunOperator(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  StatusOr<ParsedFlags> parsed = ParseRunFlags(args);
  if (!parsed.ok()) {
    err << "pygrid-operator: " << parsed.status().message() << "\n";
    return 2;
  }
  if (parsed->help) {
    out << "usage: pygrid-operator [run] [flags]\n       pygrid-operator render --help\n"
        << "       pygrid-operator up|status|scale|suspend|resume|down --help   (without "
           "Kubernetes)\n\n"
        << parsed->usage;
    return 0;
  }
  observability::InitLogging({*observability::ParseLogFormat(parsed->log_format),
                              *observability::ParseLogLevel(parsed->log_level), nullptr});
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  return cli::RunManager(parsed->manager, g_stop);
}

}  // namespace pygrid::cli
