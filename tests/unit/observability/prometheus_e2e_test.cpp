// The real Prometheus scrapes observability_fixture_exporter (our Metrics with moving values)
// and loads the shipped alert rules; then every metric family, every dashboard panel query
// and every alert expression is run through Prometheus' HTTP API.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "testing/child_process.h"
#include "testing/net.h"
#include "testing/process.h"
#include "testing/wait.h"
#include "unit/observability/test_util.h"

namespace pygrid::observability {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using pygrid::testing::ChildProcess;
using testing::HttpGet;

constexpr const char* kJob = "pygrid-operator-fixture";
const std::string kSource = PYGRID_SOURCE_DIR;
const std::string kDashboard = kSource + "/helm/pygrid-operator/dashboards/pygrid-operator.json";
const std::string kRules = kSource + "/helm/pygrid-operator/alerts/pygrid-operator.rules.yaml";

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::string UrlEncode(const std::string& text) {
  std::string out;
  char buf[4];
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// Grafana's variables replaced by what "All" and a 1 s scrape interval amount to.
std::string Substitute(std::string expr) {
  const std::vector<std::pair<std::string, std::string>> vars = {
      {"$__rate_interval", "1m"}, {"$namespace", ".*"}, {"$job", ".+"}};
  for (const auto& [var, value] : vars) {
    for (size_t pos = expr.find(var); pos != std::string::npos; pos = expr.find(var, pos)) {
      expr.replace(pos, var.size(), value);
      pos += value.size();
    }
  }
  return expr;
}

class PrometheusE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "data");
    const std::string log = (dir_ / "fixture.log").string();
    fixture_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{std::string(PYGRID_BIN_DIR) + "/observability_fixture_exporter",
                                 "--listen", "127.0.0.1:0", "--seconds", "120"},
        log, /*pipe_stdout=*/true);
    ASSERT_TRUE(fixture_->started());
    std::string line = fixture_->ReadLine(std::chrono::seconds(20));
    ASSERT_EQ(line.rfind("port=", 0), 0u) << "fixture said \"" << line << "\"";
    const std::string target = "127.0.0.1:" + line.substr(5);

    std::ofstream(dir_ / "prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "rule_files:\n  - " << kRules << "\n"
        << "scrape_configs:\n  - job_name: " << kJob << "\n    static_configs:\n"
        << "      - targets: ['" << target << "']\n";
    // The free port may be taken again before Prometheus binds it: retry with another.
    for (int attempt = 0; attempt < 5 && prom_port_ == 0; ++attempt) {
      int port = ::pygrid::testing::FreeLoopbackPort();
      auto prom = std::make_unique<ChildProcess>(
          std::vector<std::string>{
              PYGRID_PROMETHEUS, "--config.file=" + (dir_ / "prometheus.yml").string(),
              "--storage.tsdb.path=" + (dir_ / "data").string(),
              "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
          (dir_ / "prometheus.log").string(), false);
      bool ready = false;
      ::pygrid::testing::Eventually(
          [&] { return !prom->Running() || (ready = HttpGet(port, "/-/ready").status == 200); },
          std::chrono::seconds(30), std::chrono::milliseconds(100));
      if (ready) {
        prom_port_ = port;
        prometheus_ = std::move(prom);
      }
    }
    ASSERT_NE(prom_port_, 0) << PrometheusLog();
  }

  void TearDown() override {
    prometheus_.reset();
    fixture_.reset();
  }

  std::string PrometheusLog() {
    std::ifstream in(dir_ / "prometheus.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The JSON answer of an instant query (status "error" on a bad expression).
  json Query(const std::string& expr) {
    auto got = HttpGet(prom_port_, "/api/v1/query?query=" + UrlEncode(expr));
    if (got.status == 0) return json{{"status", "error"}, {"error", "no HTTP answer"}};
    return json::parse(got.body, nullptr, false);
  }

  size_t ResultCount(const std::string& expr) {
    json answer = Query(expr);
    EXPECT_EQ(answer.value("status", ""), "success") << expr << "\n" << answer.dump();
    return answer.contains("data") ? answer["data"]["result"].size() : 0;
  }

  // Polls `expr` until it returns a series, up to `timeout`.
  bool WaitForData(const std::string& expr, std::chrono::seconds timeout) {
    return ::pygrid::testing::Eventually(
        [&] {
          json answer = Query(expr);
          return answer.value("status", "") == "success" && !answer["data"]["result"].empty();
        },
        timeout, std::chrono::milliseconds(250));
  }

  const ::pygrid::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
  std::unique_ptr<ChildProcess> fixture_;
  std::unique_ptr<ChildProcess> prometheus_;
  int prom_port_ = 0;
};

TEST_F(PrometheusE2eTest, MetricsDashboardAndAlertsWorkOnRealPrometheus) {
  // Enough scrapes that rate() over counters and histograms has two increasing samples.
  ASSERT_TRUE(WaitForData(
      "sum(rate(controller_runtime_reconcile_time_seconds_count{job=\"" + std::string(kJob) +
          "\"}[1m])) > 0 and sum(rate(pygrid_cluster_provisioned_duration_seconds_count[1h])) > 0",
      std::chrono::seconds(30)))
      << PrometheusLog();

  // Every family is present with its labels (non-empty values).
  const std::vector<std::pair<std::string, std::vector<std::string>>> families = {
      {"controller_runtime_reconcile_total", {"controller", "result"}},
      {"controller_runtime_reconcile_errors_total", {"controller"}},
      {"controller_runtime_terminal_reconcile_errors_total", {"controller"}},
      {"controller_runtime_reconcile_panics_total", {"controller"}},
      {"controller_runtime_reconcile_time_seconds_bucket", {"controller", "le"}},
      {"controller_runtime_max_concurrent_reconciles", {"controller"}},
      {"controller_runtime_active_workers", {"controller"}},
      {"workqueue_depth", {"name", "controller"}},
      {"workqueue_adds_total", {"name", "controller"}},
      {"workqueue_queue_duration_seconds_bucket", {"name", "controller", "le"}},
      {"workqueue_work_duration_seconds_bucket", {"name", "controller", "le"}},
      {"workqueue_unfinished_work_seconds", {"name", "controller"}},
      {"workqueue_longest_running_processor_seconds", {"name", "controller"}},
      {"workqueue_retries_total", {"name", "controller"}},
      {"rest_client_requests_total", {"code", "method", "host"}},
      {"leader_election_master_status", {"name"}},
      {"process_cpu_seconds_total", {}},
      {"process_resident_memory_bytes", {}},
      {"process_virtual_memory_bytes", {}},
      {"process_open_fds", {}},
      {"process_max_fds", {}},
      {"process_start_time_seconds", {}},
      {"pygrid_cluster_info", {"namespace", "name", "uid", "flavor"}},
      {"pygrid_cluster_ready", {"namespace", "name"}},
      {"pygrid_cluster_workers_desired", {"namespace", "name"}},
      {"pygrid_cluster_workers_ready", {"namespace", "name"}},
      {"pygrid_cluster_phase", {"namespace", "name", "phase"}},
      {"pygrid_cluster_provisioned_duration_seconds_bucket", {"le"}},
      {"pygrid_instances", {"role", "state"}},
      {"genesis_api_requests_total", {"operation", "method", "code"}},
      {"genesis_api_request_duration_seconds_bucket", {"operation", "le"}},
      {"genesis_api_rate_limited_total", {"operation"}},
      {"genesis_api_retries_total", {"operation"}},
  };
  for (const auto& [name, labels] : families) {
    std::string selector = name + "{job=\"" + kJob + "\"";
    for (const auto& label : labels) selector += "," + label + "!=\"\"";
    selector += "}";
    EXPECT_GT(ResultCount(selector), 0u) << selector;
  }
  EXPECT_EQ(ResultCount("count(controller_runtime_reconcile_total{controller=\"pygridcluster\"})"
                        " != 4"),
            0u)
      << "four result series per controller";
  EXPECT_EQ(ResultCount("sum by (namespace, name) (pygrid_cluster_phase) != 1"), 0u)
      << "phase must be one-hot";

  // Every dashboard panel query parses; every panel returns data.
  json dashboard = ReadJson(kDashboard);
  int queries = 0;
  for (const json& panel : dashboard["panels"]) {
    if (panel["type"] == "row") continue;
    SCOPED_TRACE(panel["title"].get<std::string>());
    ASSERT_TRUE(panel.contains("targets"));
    size_t with_data = 0;
    for (const json& target : panel["targets"]) {
      const std::string expr = Substitute(target["expr"].get<std::string>());
      EXPECT_EQ(expr.find('$'), std::string::npos) << expr;
      json answer = Query(expr);
      ++queries;
      EXPECT_EQ(answer.value("status", ""), "success") << expr << "\n" << answer.dump();
      if (answer.value("status", "") == "success" && !answer["data"]["result"].empty()) {
        ++with_data;
      }
    }
    EXPECT_GT(with_data, 0u) << "panel has no data";
  }
  EXPECT_GE(queries, 28);

  // Template variable queries (label_values(metric, label)) select existing series.
  EXPECT_GT(ResultCount("controller_runtime_reconcile_total{controller=~\"(?i).*pygrid.*\"}"), 0u);
  EXPECT_GT(ResultCount("pygrid_cluster_info{job=~\".+\"}"), 0u);

  // Every alert expression parses, and Prometheus evaluated every rule without error.
  json rules;
  const bool all_evaluated = ::pygrid::testing::Eventually(
      [&] {
        rules = json::parse(HttpGet(prom_port_, "/api/v1/rules").body, nullptr, false);
        bool evaluated = rules.value("status", "") == "success";
        for (const json& group : rules["data"]["groups"]) {
          for (const json& rule : group["rules"]) evaluated &= rule["health"] == "ok";
        }
        return evaluated;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(250));
  EXPECT_TRUE(all_evaluated) << rules.dump(1);
  std::set<std::string> alerts;
  for (const json& group : rules["data"]["groups"]) {
    for (const json& rule : group["rules"]) {
      alerts.insert(rule["name"].get<std::string>());
      json answer = Query(rule["query"].get<std::string>());
      EXPECT_EQ(answer.value("status", ""), "success") << rule.dump();
    }
  }
  EXPECT_EQ(alerts.size(), 8u);
  // The operator is up: the job matcher of the shipped rules selects this target.
  EXPECT_EQ(ResultCount("absent(up{job=~\".*pygrid-operator.*\"} == 1)"), 0u);
}

// Static shape of the dashboard: provisioned by a Grafana sidecar it must pick its data source
// through a `datasource` variable rather than import-time ${DS_...} inputs.
TEST(DashboardTest, UsesDatasourceVariableEverywhere) {
  json dashboard = ReadJson(kDashboard);
  EXPECT_FALSE(dashboard.contains("__inputs"));
  EXPECT_EQ(dashboard["uid"], "pygrid-operator");
  bool has_variable = false;
  for (const json& var : dashboard["templating"]["list"]) {
    if (var["name"] == "datasource") {
      has_variable = true;
      EXPECT_EQ(var["type"], "datasource");
      EXPECT_EQ(var["query"], "prometheus");
    }
  }
  EXPECT_TRUE(has_variable);
  std::set<int> ids;
  for (const json& panel : dashboard["panels"]) {
    EXPECT_TRUE(ids.insert(panel["id"].get<int>()).second) << panel["title"];
    if (panel["type"] == "row") continue;
    EXPECT_EQ(panel["datasource"]["uid"], "${datasource}") << panel["title"];
    for (const json& target : panel["targets"]) {
      EXPECT_EQ(target["datasource"]["uid"], "${datasource}") << panel["title"];
    }
  }
  const std::string text = dashboard.dump();
  EXPECT_EQ(text.find("DS_PROMETHEUS"), std::string::npos);
}

}  // namespace
}  // namespace pygrid::observability
