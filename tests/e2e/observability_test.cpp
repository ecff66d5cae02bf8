// End to end: the real operator's /metrics after a grid came up (every family the dashboards
// and alerts use, clean for promtool), its health probes, and no secret in any log or event;
// and the secure endpoint (the default): HTTPS scraped by the real Prometheus with a token
// kube-sim's TokenReview knows and its SubjectAccessReview allows, 403 and 401 otherwise.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <thread>

#include "e2e/grid_fixture.h"
#include "testing/net.h"

namespace pygrid::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;

// The port the operator logged for `what` ("metrics" or "healthProbe").
int LoggedPort(const std::string& log, const std::string& what) {
  std::smatch match;
  if (std::regex_search(log, match, std::regex("\"" + what + "\":([0-9]+)")))
    return std::stoi(match[1].str());
  return 0;
}

TEST(ObservabilityTest, MetricsProbesAndNoSecretsAfterARealRun) {
  Grid grid;
  grid.InstallCrdAndSecret();
  // Plain HTTP (--metrics-secure=false), so the scrape needs no token.
  const int op = grid.StartOperator({"--metrics-secure=false"});
  ASSERT_EQ(grid.Apply(ClusterYaml("watched", 1)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("watched", "Ready", "True", seconds(120)))
      << grid.OperatorLog(op);
  const int metrics_port = LoggedPort(grid.OperatorLog(op), "metrics");
  const int probe_port = LoggedPort(grid.OperatorLog(op), "healthProbe");
  ASSERT_GT(metrics_port, 0) << grid.OperatorLog(op);
  ASSERT_GT(probe_port, 0);

  const std::string scrape =
      grid.HttpGet("http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics");
  ASSERT_FALSE(scrape.empty());
  const std::string scrape_file = grid.dir() + "/scrape.txt";
  std::ofstream(scrape_file) << scrape;
  testing::CommandResult lint =
      testing::RunCommand("promtool check metrics < " + testing::ShellQuote(scrape_file));
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
  EXPECT_EQ(lint.output, "") << lint.output;

  for (const char* family : {"controller_runtime_reconcile_total",
                             "controller_runtime_reconcile_errors_total",
                             "controller_runtime_terminal_reconcile_errors_total",
                             "controller_runtime_reconcile_panics_total",
                             "controller_runtime_reconcile_time_seconds_bucket",
                             "controller_runtime_max_concurrent_reconciles",
                             "controller_runtime_active_workers",
                             "workqueue_depth",
                             "workqueue_adds_total",
                             "workqueue_queue_duration_seconds_bucket",
                             "workqueue_work_duration_seconds_bucket",
                             "workqueue_unfinished_work_seconds",
                             "workqueue_longest_running_processor_seconds",
                             "workqueue_retries_total",
                             "rest_client_requests_total",
                             "process_cpu_seconds_total",
                             "process_resident_memory_bytes",
                             "process_open_fds",
                             "process_start_time_seconds",
                             "pygrid_cluster_info",
                             "pygrid_cluster_ready",
                             "pygrid_cluster_workers_desired",
                             "pygrid_cluster_workers_ready",
                             "pygrid_cluster_phase",
                             "pygrid_cluster_provisioned_duration_seconds_count",
                             "pygrid_instances",
                             "genesis_api_requests_total",
                             "genesis_api_request_duration_seconds_bucket"}) {
    EXPECT_NE(scrape.find(std::string("\n") + family), std::string::npos) << family;
  }
  // Values that must reflect the run.
  EXPECT_NE(
      scrape.find(
          "controller_runtime_reconcile_total{controller=\"pygridcluster\",result=\"success\"}"),
      std::string::npos);
  EXPECT_TRUE(std::regex_search(
      scrape, std::regex("pygrid_cluster_ready\\{[^}]*name=\"watched\"[^}]*\\} 1")))
      << scrape;
  EXPECT_TRUE(std::regex_search(
      scrape, std::regex("pygrid_cluster_phase\\{[^}]*phase=\"Ready\"[^}]*\\} 1")));
  EXPECT_TRUE(std::regex_search(
      scrape, std::regex("genesis_api_requests_total\\{[^}]*operation=\"CreateInstance\"")));
  EXPECT_TRUE(std::regex_search(
      scrape, std::regex("pygrid_cluster_provisioned_duration_seconds_count\\{?[^\\n]* 1\\n")));

  EXPECT_EQ(grid.HttpGet("http://127.0.0.1:" + std::to_string(probe_port) + "/healthz"), "ok");
  EXPECT_EQ(grid.HttpGet("http://127.0.0.1:" + std::to_string(probe_port) + "/readyz"), "ok");

  // Deleting the cluster removes its series.
  ASSERT_EQ(grid.Kubectl("delete pgc watched --timeout=60s").exit_code, 0);
  ASSERT_TRUE(Grid::WaitUntil(
      [&] {
        return grid.HttpGet("http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics")
                   .find("name=\"watched\"") == std::string::npos;
      },
      seconds(20)));

  // No secret anywhere a person or a log collector sees.
  json key_secret =
      json::parse(grid.Kubectl("get secret pygrid-operator-ssh -o json").output, nullptr, false);
  ASSERT_TRUE(key_secret.is_object());
  const std::string private_key_b64 = key_secret["data"].value("ssh-privatekey", "");
  ASSERT_FALSE(private_key_b64.empty());
  const std::string private_key =
      testing::RunCommand("printf %s " + testing::ShellQuote(private_key_b64) + " | base64 -d")
          .output;
  ASSERT_NE(private_key.find("PRIVATE KEY"), std::string::npos);
  const std::string key_line =
      private_key.substr(private_key.find('\n') + 1, 40);  // a line of key material
  const std::string events = grid.Kubectl("get events -A -o json").output;
  const std::string status = grid.Kubectl("get pgc -A -o json").output;
  for (const std::string& haystack : {grid.AllOperatorLogs(), events, status}) {
    EXPECT_EQ(haystack.find(kGenesisToken), std::string::npos);
    EXPECT_EQ(haystack.find(key_line), std::string::npos);
  }
}

struct Scrape {
  int status = 0;
  std::string body;
};

// GET https://127.0.0.1:<port>/metrics with `token` ("" = no Authorization header),
// certificate not verified (it is self-signed, as the chart's ServiceMonitor accepts).
Scrape ScrapeMetrics(int port, const std::string& token) {
  const std::string header =
      token.empty() ? "" : " -H " + testing::ShellQuote("Authorization: Bearer " + token);
  testing::CommandResult got =
      testing::RunCommand("curl -sk --max-time 10 -w '\\n%{http_code}'" + header +
                          " https://127.0.0.1:" + std::to_string(port) + "/metrics");
  Scrape scrape;
  const size_t last = got.output.rfind('\n');
  if (last == std::string::npos) return scrape;
  scrape.status = std::atoi(got.output.c_str() + last + 1);
  scrape.body = got.output.substr(0, last);
  return scrape;
}

// The reviews the operator asked kube-sim for (POSTs to `resource`).
int ReviewCount(const std::string& base, const std::string& resource) {
  json log = json::parse(testing::RunCommand("curl -sk " + base + "/_sim/requests").output, nullptr,
                         false);
  int count = 0;
  if (!log.is_object()) return -1;
  for (const json& request : log["requests"]) {
    count += request.value("resource", "") == resource && request.value("verb", "") == "create";
  }
  return count;
}

TEST(ObservabilityTest, SecureMetricsAreServedOnlyToWhomTheApiServerAllows) {
  constexpr char kPrometheusUser[] = "system:serviceaccount:monitoring:prometheus";
  constexpr char kPrometheusToken[] = "e2e-prometheus-token-3c1d";
  constexpr char kIntruderToken[] = "e2e-intruder-token-77aa";
  Grid grid;
  grid.InstallCrdAndSecret();
  const std::string kube_sim = grid.KubeSimUrl();
  ASSERT_FALSE(kube_sim.empty());
  // What a real cluster holds: two ServiceAccount tokens, and a binding of the chart's
  // metrics-reader role (get /metrics) for one of them.
  ASSERT_EQ(grid.KubeSimPost("/_sim/identities",
                             {{"token", kPrometheusToken}, {"username", kPrometheusUser}}),
            201);
  ASSERT_EQ(grid.KubeSimPost("/_sim/identities",
                             {{"token", kIntruderToken},
                              {"username", "system:serviceaccount:default:intruder"}}),
            201);
  ASSERT_EQ(grid.KubeSimPost(
                "/_sim/grants",
                {{"user", kPrometheusUser}, {"verbs", {"get"}}, {"nonResourceURLs", {"/metrics"}}}),
            201);

  const int op = grid.StartOperator();  // the defaults: --metrics-secure, self-signed
  int port = 0;
  ASSERT_TRUE(Grid::WaitUntil(
      [&] { return (port = LoggedPort(grid.OperatorLog(op), "metrics")) > 0; }, seconds(30)))
      << grid.OperatorLog(op);
  EXPECT_NE(grid.OperatorLog(op).find("\"metricsSecure\":true"), std::string::npos);

  // No token, a token the API server does not know: 401. A known user without the role: 403.
  Scrape anonymous = ScrapeMetrics(port, "");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.body, "Unauthorized\n");
  EXPECT_EQ(ScrapeMetrics(port, "not-a-token-anyone-issued").status, 401);
  Scrape intruder = ScrapeMetrics(port, kIntruderToken);
  EXPECT_EQ(intruder.status, 403);
  EXPECT_EQ(intruder.body,
            "Authorization denied for user system:serviceaccount:default:intruder\n");
  // Plain HTTP on the HTTPS port gets nothing.
  EXPECT_EQ(grid.HttpGet("http://127.0.0.1:" + std::to_string(port) + "/metrics"), "");

  // The allowed token gets the metrics, clean for promtool.
  Scrape allowed = ScrapeMetrics(port, kPrometheusToken);
  ASSERT_EQ(allowed.status, 200) << allowed.body;
  EXPECT_NE(allowed.body.find("controller_runtime_reconcile_total{controller=\"pygridcluster\""),
            std::string::npos);
  const std::string scrape_file = grid.dir() + "/secure-scrape.txt";
  std::ofstream(scrape_file) << allowed.body;
  testing::CommandResult lint =
      testing::RunCommand("promtool check metrics < " + testing::ShellQuote(scrape_file));
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
  EXPECT_EQ(lint.output, "") << lint.output;

  // The real Prometheus, configured as the chart's ServiceMonitor configures it: https, a
  // bearer token from a file, the self-signed certificate accepted. A second job scrapes with
  // the token that lacks the role.
  const std::string prometheus = testing::RunCommand("command -v prometheus").output;
  ASSERT_FALSE(prometheus.empty()) << "prometheus is not installed";
  std::ofstream(grid.dir() + "/prometheus.token") << kPrometheusToken;
  std::ofstream(grid.dir() + "/intruder.token") << kIntruderToken;
  const std::string target = "['127.0.0.1:" + std::to_string(port) + "']";
  std::ofstream(grid.dir() + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
      << "  - job_name: pygrid-operator\n    scheme: https\n"
      << "    authorization:\n      credentials_file: " << grid.dir() << "/prometheus.token\n"
      << "    tls_config:\n      insecure_skip_verify: true\n"
      << "    static_configs:\n      - targets: " << target << "\n"
      << "  - job_name: intruder\n    scheme: https\n"
      << "    authorization:\n      credentials_file: " << grid.dir() << "/intruder.token\n"
      << "    tls_config:\n      insecure_skip_verify: true\n"
      << "    static_configs:\n      - targets: " << target << "\n";
  std::unique_ptr<testing::ChildProcess> server;
  int prom_port = 0;
  // The free port may be taken again before Prometheus binds it: retry with another.
  for (int attempt = 0; attempt < 5 && prom_port == 0; ++attempt) {
    const int candidate = testing::FreeLoopbackPort();
    auto process = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{prometheus.substr(0, prometheus.find('\n')),
                                 "--config.file=" + grid.dir() + "/prometheus.yml",
                                 "--storage.tsdb.path=" + grid.dir() + "/prometheus-data",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(candidate),
                                 "--log.level=warn"},
        grid.dir() + "/prometheus.log", false);
    if (Grid::WaitUntil(
            [&] {
              return !process->Running() ||
                     grid.HttpGet("http://127.0.0.1:" + std::to_string(candidate) + "/-/ready") !=
                         "";
            },
            seconds(30)) &&
        process->Running()) {
      prom_port = candidate;
      server = std::move(process);
    }
  }
  ASSERT_NE(prom_port, 0) << "prometheus did not start";
  const std::string api = "http://127.0.0.1:" + std::to_string(prom_port) + "/api/v1/";
  auto query = [&](const std::string& expr) {
    return json::parse(
        testing::RunCommand("curl -sS -G --data-urlencode " + testing::ShellQuote("query=" + expr) +
                            " " + api + "query")
            .output,
        nullptr, false);
  };
  auto has_result = [&](const std::string& expr) {
    json answer = query(expr);
    return answer.is_object() && answer.value("status", "") == "success" &&
           !answer["data"]["result"].empty();
  };
  // Several successful scrapes, and the reconcile counters stored from them.
  ASSERT_TRUE(Grid::WaitUntil(
      [&] {
        return has_result(
            "count_over_time(up{job=\"pygrid-operator\"}[1m]) >= 5 and "
            "min_over_time(up{job=\"pygrid-operator\"}[1m]) == 1");
      },
      seconds(60)))
      << testing::RunCommand("curl -sS " + api + "targets").output;
  EXPECT_TRUE(
      has_result("controller_runtime_reconcile_total{job=\"pygrid-operator\","
                 "result=\"success\"}"));
  // The intruder's job is down with the 403 as its error.
  json targets =
      json::parse(testing::RunCommand("curl -sS " + api + "targets").output, nullptr, false);
  ASSERT_TRUE(targets.is_object());
  bool intruder_seen = false;
  for (const json& t : targets["data"]["activeTargets"]) {
    if (t["labels"].value("job", "") != "intruder" ||
        t.value("lastScrape", "").rfind("0001", 0) == 0)
      continue;
    intruder_seen = true;
    EXPECT_EQ(t.value("health", ""), "down");
    EXPECT_NE(t.value("lastError", "").find("403"), std::string::npos) << t.dump();
  }
  EXPECT_TRUE(intruder_seen) << targets.dump();

  // Each token was reviewed once, not once per scrape (cached for a minute), and no token
  // reached a log.
  EXPECT_LE(ReviewCount(kube_sim, "tokenreviews"), 4);
  EXPECT_GE(ReviewCount(kube_sim, "tokenreviews"), 3);
  EXPECT_LE(ReviewCount(kube_sim, "subjectaccessreviews"), 3);
  for (const char* token : {kPrometheusToken, kIntruderToken}) {
    EXPECT_EQ(grid.AllOperatorLogs().find(token), std::string::npos);
  }
}

}  // namespace
}  // namespace pygrid::e2e
