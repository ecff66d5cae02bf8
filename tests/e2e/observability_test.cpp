// End to end: the real operator's /metrics after a grid came up (every family the dashboards
// and alerts use, clean for promtool), its health probes, and no secret in any log or event.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "e2e/grid_fixture.h"

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

}  // namespace
}  // namespace pygrid::e2e
