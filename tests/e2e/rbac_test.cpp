// End to end: the operator's RBAC, proven both ways. kube-sim stores what `kubectl apply -k
// manifests/` installs and enforces it (tests/sim/kube/rbac.h) for the operator, which runs
// with its ServiceAccount's token through a whole life cycle: create, scale up, a restart (the
// Lease changes hands), scale down, heal, suspend and resume, a secure metrics scrape
// (TokenReview, SubjectAccessReview), delete. Then every request the operator made (kube-sim's
// request log) is checked against the RBAC of manifests/ and of the rendered Helm chart: each
// one allowed by both, and each rule used by some request or listed in kKeptRules with the
// reason it stays. A second run installs the chart rendered with watchNamespace (Roles instead
// of the ClusterRole) and checks its requests against that render. A new API call without a
// rule fails here (and in kube-sim with a 403), and so does a rule nothing uses.
#include "sim/kube/rbac.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "e2e/grid_fixture.h"

namespace pygrid::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;
namespace kube = pygrid::sim::kube;

constexpr char kOperatorNamespace[] = "pygrid-system";
constexpr char kOperatorUser[] = "system:serviceaccount:pygrid-system:pygrid-operator";
constexpr char kOperatorToken[] = "e2e-operator-sa-token-9b2e51";
constexpr char kPrometheusUser[] = "system:serviceaccount:monitoring:prometheus";
constexpr char kPrometheusToken[] = "e2e-rbac-prometheus-token-41f0";

// Rules no request of the life cycle uses, kept on purpose (rule label -> why). None today:
// every rule of manifests/ and of the chart is used.
const std::map<std::string, std::string> kKeptRules = {};

// One verb on one resource (or non-resource URL) of a role bound to the operator.
struct Grant {
  std::string label;  // "get leases.coordination.k8s.io (Role pygrid-system/pygrid-operator-self)"
  json role;          // the role with only this rule
  json binding;       // the binding that gives it to the operator
  int used = 0;
};

// The objects of manifests/ (the real `kubectl kustomize`) and of the chart rendered with its
// default values and with watchNamespace=default (the packaging tests' renderer), through
// tests/packaging/packaging_lib.py.
std::map<std::string, json> RbacSources(const std::string& dir) {
  const std::string out = dir + "/rbac-sources.json";
  const std::string script =
      "import json, sys\n"
      "sys.path.insert(0, sys.argv[1])\n"
      "import packaging_lib as p\n"
      "p.ensure_renderer()\n"
      "with open(sys.argv[2], 'w') as f:\n"
      "    json.dump({'manifests/': p.kustomize(), 'chart': p.render(),\n"
      "               'chart watchNamespace=default': p.render(sets=['watchNamespace=default'])},\n"
      "              f)\n";
  testing::CommandResult run =
      testing::RunCommand("PACKAGING_OUT=" + testing::ShellQuote(PYGRID_PACKAGING_OUT) +
                          " PYGRID_SOURCE_DIR=" + testing::ShellQuote(PYGRID_SOURCE_DIR) +
                          " /usr/bin/python3 -c " + testing::ShellQuote(script) + " " +
                          testing::ShellQuote(std::string(PYGRID_SOURCE_DIR) + "/tests/packaging") +
                          " " + testing::ShellQuote(out));
  if (run.exit_code != 0) throw std::runtime_error("rendering the RBAC failed: " + run.output);
  std::ifstream in(out);
  return json::parse(in).get<std::map<std::string, json>>();
}

std::string RoleName(const json& role) {
  const json& meta = role["metadata"];
  return role.value("kind", "") + " " +
         (meta.contains("namespace") ? meta.value("namespace", "") + "/" : "") +
         meta.value("name", "");
}

// The operator as its ServiceAccount token authenticates.
const kube::UserInfo kOperator{
    kOperatorUser,
    {"system:serviceaccounts", "system:serviceaccounts:pygrid-system", "system:authenticated"}};

// Every single-verb, single-resource grant of every role a binding in `objects` gives the
// operator (as its user, its ServiceAccount or one of its groups); bindings to others, e.g.
// metrics readers, are not its rights.
std::vector<Grant> OperatorGrants(const json& objects) {
  std::vector<Grant> grants;
  for (const json& binding : objects) {
    const std::string kind = binding.value("kind", "");
    if (kind != "ClusterRoleBinding" && kind != "RoleBinding") continue;
    bool applies = false;
    for (const json& subject : binding.value("subjects", json::array())) {
      const std::string subject_kind = subject.value("kind", "");
      const std::string name = subject.value("name", "");
      std::string ns = subject.value("namespace", "");
      if (ns.empty()) ns = binding["metadata"].value("namespace", "");
      applies |= (subject_kind == "ServiceAccount" &&
                  "system:serviceaccount:" + ns + ":" + name == kOperator.name) ||
                 (subject_kind == "User" && name == kOperator.name) ||
                 (subject_kind == "Group" &&
                  std::count(kOperator.groups.begin(), kOperator.groups.end(), name) > 0);
    }
    if (!applies) continue;
    const json& ref = binding["roleRef"];
    for (const json& role : objects) {
      if (role.value("kind", "") != ref.value("kind", "") ||
          role["metadata"].value("name", "") != ref.value("name", "") ||
          (role.value("kind", "") == "Role" &&
           role["metadata"].value("namespace", "") != binding["metadata"].value("namespace", "")))
        continue;
      for (const json& rule : role.value("rules", json::array())) {
        auto add = [&](const json& narrowed, const std::string& what) {
          json single = role;
          single["rules"] = json::array({narrowed});
          grants.push_back({what + " (" + RoleName(role) + ")", single, binding});
        };
        for (const std::string verb : rule.value("verbs", json::array())) {
          for (const std::string url : rule.value("nonResourceURLs", json::array())) {
            add({{"verbs", {verb}}, {"nonResourceURLs", {url}}}, verb + " " + url);
          }
          for (const std::string group : rule.value("apiGroups", json::array())) {
            for (const std::string resource : rule.value("resources", json::array())) {
              json narrowed = {
                  {"verbs", {verb}}, {"apiGroups", {group}}, {"resources", {resource}}};
              if (rule.contains("resourceNames")) narrowed["resourceNames"] = rule["resourceNames"];
              add(narrowed, verb + " " + resource + (group.empty() ? "" : "." + group));
            }
          }
        }
      }
    }
  }
  return grants;
}

// What RBAC saw of a logged request.
kube::RequestAttributes AttributesOf(const json& logged) {
  kube::RequestAttributes attributes;
  kube::FromReviewAttributes(logged.value("attributes", json::object()), &attributes);
  return attributes;
}

// A request reduced to what RBAC distinguishes, with the namespace named by its role here.
std::string KindOf(const kube::RequestAttributes& a) {
  if (!a.resource_request) return a.verb + " " + a.path;
  std::string scope = a.namespace_.empty()                 ? "cluster-wide"
                      : a.namespace_ == kOperatorNamespace ? "in pygrid-system (own)"
                                                           : "in " + a.namespace_ + " (watched)";
  return a.verb + " " + a.resource + (a.subresource.empty() ? "" : "/" + a.subresource) +
         (a.group.empty() ? "" : "." + a.group) + " " + scope;
}

// The first grant that allows `attributes`, or null, counting a use of every grant that does
// (a rule another role repeats is used too: the chart needs both when watchNamespace is set).
// "bootstrap": every cluster's discovery roles allow it (system:discovery and friends).
const Grant* Allowing(std::vector<Grant>* grants, const kube::RequestAttributes& attributes,
                      bool* bootstrap) {
  *bootstrap = kube::Authorize({}, kOperator, attributes).allowed;
  if (*bootstrap) return nullptr;
  const Grant* first = nullptr;
  for (Grant& grant : *grants) {
    kube::RbacPolicy policy;
    const json& meta = grant.role["metadata"];
    if (grant.role["kind"] == "ClusterRole") {
      policy.cluster_roles[meta.value("name", "")] = &grant.role;
    } else {
      policy.roles[meta.value("namespace", "") + "/" + meta.value("name", "")] = &grant.role;
    }
    if (grant.binding["kind"] == "ClusterRoleBinding") {
      policy.cluster_role_bindings.push_back(&grant.binding);
    } else {
      policy.role_bindings.push_back(&grant.binding);
    }
    if (kube::Authorize(policy, kOperator, attributes).allowed) {
      ++grant.used;
      if (first == nullptr) first = &grant;
    }
  }
  return first;
}

int MetricsPort(const std::string& log) {
  std::smatch match;
  return std::regex_search(log, match, std::regex("\"metrics\":([0-9]+)"))
             ? std::stoi(match[1].str())
             : 0;
}

std::string WorkerId(const Grid& grid, const std::string& name) {
  const json workers = StatusOf(grid.Cluster(name)).value("workers", json::array());
  return workers.empty() ? "" : workers[0].value("instanceID", "");
}

bool Patch(const Grid& grid, const std::string& spec) {
  return grid.Kubectl("patch pgc rbac --type=merge -p " + testing::ShellQuote(spec)).exit_code == 0;
}

// The operator's and Prometheus' ServiceAccount tokens, Prometheus bound to the chart's
// metrics-reader role (what metrics.readers renders), and a kubeconfig with the operator's token.
std::string SetUpIdentities(const Grid& grid) {
  EXPECT_EQ(grid.KubeSimPost("/_sim/identities",
                             {{"token", kOperatorToken}, {"username", kOperatorUser}}),
            201);
  EXPECT_EQ(grid.KubeSimPost("/_sim/identities",
                             {{"token", kPrometheusToken}, {"username", kPrometheusUser}}),
            201);
  EXPECT_EQ(grid.Kubectl("create clusterrolebinding pygrid-operator-metrics-reader "
                         "--clusterrole=pygrid-operator-metrics-reader "
                         "--serviceaccount=monitoring:prometheus")
                .exit_code,
            0);
  std::ifstream admin_config(grid.kubeconfig());
  const std::string admin_text((std::istreambuf_iterator<char>(admin_config)), {});
  const std::string kubeconfig = grid.dir() + "/operator-kubeconfig";
  std::ofstream(kubeconfig) << std::regex_replace(admin_text, std::regex("token: .*"),
                                                  std::string("token: ") + kOperatorToken);
  return kubeconfig;
}

// The flags the chart's Deployment passes (release namespace pygrid-system, leader election),
// with the operator's ServiceAccount kubeconfig.
std::vector<std::string> OperatorFlags(const std::string& kubeconfig) {
  return {"--kubeconfig=" + kubeconfig,
          "--operator-namespace=pygrid-system",
          "--leader-elect",
          "--leader-election-namespace=pygrid-system",
          "--lease-duration=4s",
          "--renew-deadline=3s",
          "--retry-period=1s",
          "--ssh-key-secret=pygrid-operator-ssh"};
}

// A secure scrape with Prometheus' token: the operator asks kube-sim who it is (TokenReview)
// and whether it may get /metrics (SubjectAccessReview); the HTTP status.
std::string ScrapeAsPrometheus(const Grid& grid, int op) {
  const int port = MetricsPort(grid.OperatorLog(op));
  return testing::RunCommand(
             "curl -sk -o /dev/null -w '%{http_code}' -H " +
             testing::ShellQuote(std::string("Authorization: Bearer ") + kPrometheusToken) +
             " https://127.0.0.1:" + std::to_string(port) + "/metrics")
      .output;
}

// The operator's requests in kube-sim's log.
std::vector<json> OperatorRequests(const Grid& grid) {
  json log =
      json::parse(testing::RunCommand("curl -sk " + grid.KubeSimUrl() + "/_sim/requests").output,
                  nullptr, false);
  std::vector<json> requests;
  if (!log.is_object()) return requests;
  EXPECT_LT(log["requests"].size(), 10000u) << "kube-sim's log overflowed";
  for (const json& entry : log["requests"]) {
    if (entry.value("user", "") == kOperatorUser) requests.push_back(entry);
  }
  return requests;
}

// Waits until the leader has swept for orphans (once per resync interval, 5 s here), which
// lists the operator's token copies in its namespace.
void WaitForOrphanSweep(const Grid& grid) {
  EXPECT_TRUE(Grid::WaitUntil(
      [&] {
        for (const json& request : OperatorRequests(grid)) {
          const kube::RequestAttributes a = AttributesOf(request);
          if (a.verb == "list" && a.resource == "secrets" && a.namespace_ == kOperatorNamespace)
            return true;
        }
        return false;
      },
      seconds(30)))
      << grid.AllOperatorLogs();
}

// Checks `requests` against the RBAC of each source: none refused by kube-sim, each allowed by
// every source, and (with `check_use`) every rule used by some request or kept in kKeptRules.
// Prints the request kinds with the rule that allows them, and each rule's use count.
void CheckRequests(const std::vector<json>& requests, const std::map<std::string, json>& objects,
                   bool check_use) {
  ASSERT_FALSE(requests.empty());
  std::map<std::string, std::vector<Grant>> sources;
  for (const auto& [source, list] : objects) sources[source] = OperatorGrants(list);
  std::map<std::string, std::pair<int, std::map<std::string, std::string>>> kinds;
  std::set<std::string> refused;
  for (const json& request : requests) {
    const kube::RequestAttributes attributes = AttributesOf(request);
    const std::string kind = KindOf(attributes);
    auto& [count, rule] = kinds[kind];
    ++count;
    // One failure per kind (a refused request is retried many times).
    if (request.value("code", 0) == 403 && refused.insert(kind).second) {
      ADD_FAILURE() << "kube-sim refused " << kind << ": " << request.dump();
    }
    for (auto& [source, grants] : sources) {
      bool bootstrap = false;
      const Grant* grant = Allowing(&grants, attributes, &bootstrap);
      if (bootstrap) {
        rule[source] = "(bootstrap discovery role)";
      } else if (grant == nullptr) {
        if (rule[source] != "NOT ALLOWED") {
          ADD_FAILURE() << source << " has no rule for " << kind << ": " << request.dump();
        }
        rule[source] = "NOT ALLOWED";
      } else if (rule[source].empty()) {
        rule[source] = grant->label;
      }
    }
  }
  std::ostringstream table;
  table << "\nThe operator's " << requests.size() << " requests by kind, and the rule of each "
        << "source that allows them:\n";
  for (const auto& [kind, row] : kinds) {
    table << "  " << std::left << std::setw(66) << kind << std::right << std::setw(4) << row.first
          << "\n";
    for (const auto& [source, label] : row.second) {
      table << "      " << std::left << std::setw(30) << source << label << "\n";
    }
  }
  table << "The rules bound to the operator, and how many requests each allows:\n";
  for (const auto& [source, grants] : sources) {
    for (const Grant& grant : grants) {
      const auto kept = kKeptRules.find(grant.label);
      table << "  " << std::left << std::setw(30) << source << std::setw(82) << grant.label
            << std::right << std::setw(4) << grant.used
            << (grant.used == 0 && kept != kKeptRules.end() ? "  kept: " + kept->second : "")
            << "\n";
      if (!check_use) continue;
      EXPECT_TRUE(grant.used > 0 || kept != kKeptRules.end())
          << source << ": no request uses " << grant.label
          << "; remove the rule or list it in kKeptRules with the reason it stays";
      EXPECT_FALSE(grant.used > 0 && kept != kKeptRules.end())
          << grant.label << " is used now: drop it from kKeptRules";
    }
  }
  std::cout << table.str();
}

// Create, scale up, a restart (the new leader takes the Lease over and rewrites its credentials
// copy), scale down, heal, suspend and resume, a secure scrape, delete, an orphan sweep.
// Returns early (with the failure recorded) when a step does not complete, e.g. because a
// request was refused.
void WholeLifeCycle(Grid& grid, const std::vector<std::string>& flags) {
  int op = grid.StartOperator(flags);
  ASSERT_EQ(grid.Apply(ClusterYaml("rbac", 1)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("rbac", "Ready", "True", seconds(90)))
      << grid.Kubectl("get pgc rbac -o yaml").output << grid.AllOperatorLogs();
  ASSERT_TRUE(Patch(grid, R"({"spec":{"workers":{"replicas":2}}})"));
  ASSERT_TRUE(Grid::WaitUntil(
      [&] { return StatusOf(grid.Cluster("rbac")).value("readyWorkers", 0) == 2; }, seconds(60)));
  grid.StopOperator(op);  // releases the Lease
  op = grid.StartOperator(flags);
  ASSERT_TRUE(Patch(grid, R"({"spec":{"workers":{"replicas":1}}})"));
  ASSERT_TRUE(Grid::WaitUntil([&] { return grid.Instances().size() == 2; }, seconds(60)))
      << grid.AllOperatorLogs();
  ASSERT_TRUE(grid.WaitForCondition("rbac", "Ready", "True", seconds(60)));
  // Heal: a worker vanishes at the cloud; the operator replaces it.
  const std::string lost = WorkerId(grid, "rbac");
  ASSERT_FALSE(lost.empty());
  grid.SimDelete("/_sim/instances/" + lost);
  ASSERT_TRUE(Grid::WaitUntil(
      [&] {
        const std::string now = WorkerId(grid, "rbac");
        return !now.empty() && now != lost &&
               StatusOf(grid.Cluster("rbac")).value("readyWorkers", 0) == 1;
      },
      seconds(60)))
      << grid.Kubectl("get pgc rbac -o yaml").output;
  ASSERT_TRUE(Patch(grid, R"({"spec":{"suspend":true}})"));
  ASSERT_TRUE(Grid::WaitUntil(
      [&] { return StatusOf(grid.Cluster("rbac")).value("phase", "") == "Suspended"; },
      seconds(60)));
  // Resumed, the grid is Ready again with the same endpoint and workers: the operator's
  // GridReady Event repeats the one after the heal, and is patched (count 2).
  ASSERT_TRUE(Patch(grid, R"({"spec":{"suspend":false}})"));
  ASSERT_TRUE(grid.WaitForCondition("rbac", "Ready", "True", seconds(60)));
  EXPECT_EQ(ScrapeAsPrometheus(grid, op), "200");
  ASSERT_EQ(grid.Kubectl("delete pgc rbac --wait=false").exit_code, 0);
  ASSERT_TRUE(Grid::WaitUntil([&] { return grid.Cluster("rbac").is_null(); }, seconds(30)))
      << grid.AllOperatorLogs();
  EXPECT_TRUE(grid.Instances().empty());
  WaitForOrphanSweep(grid);
  grid.StopOperator(op);
  // The operator stops on its own at the end of the test when a step failed.
}

// Installed with `kubectl apply -k manifests/` (all namespaces), a whole life cycle: every
// request is allowed by manifests/ and by the chart, and every rule of theirs is used.
TEST(RbacProofTest, AWholeLifeCycleNeedsEveryRuleAndNoOther) {
  Grid grid({/*boot_seconds=*/0.5});
  testing::CommandResult installed = grid.Kubectl(
      "apply -k " + testing::ShellQuote(std::string(PYGRID_SOURCE_DIR) + "/manifests"));
  ASSERT_EQ(installed.exit_code, 0) << installed.output;
  ASSERT_EQ(grid.Kubectl("wait --for condition=established --timeout=30s "
                         "crd/pygridclusters.distributor.pygrid.dev")
                .exit_code,
            0);
  grid.CreateSecret();
  const std::vector<std::string> flags = OperatorFlags(SetUpIdentities(grid));

  WholeLifeCycle(grid, flags);
  // Checked even when the life cycle stopped early: a refused request is the likely cause.

  std::map<std::string, json> sources = RbacSources(grid.dir());
  sources.erase("chart watchNamespace=default");
  CheckRequests(OperatorRequests(grid), sources, /*check_use=*/true);
}

// A grid created, Ready, scraped and deleted, and an orphan sweep. Returns early on a failure.
void CreateReadyDelete(Grid& grid, const std::vector<std::string>& flags) {
  const int op = grid.StartOperator(flags);
  ASSERT_EQ(grid.Apply(ClusterYaml("rbac", 1)).exit_code, 0);
  ASSERT_TRUE(grid.WaitForCondition("rbac", "Ready", "True", seconds(90)))
      << grid.Kubectl("get pgc rbac -o yaml").output << grid.AllOperatorLogs();
  EXPECT_EQ(ScrapeAsPrometheus(grid, op), "200");
  ASSERT_EQ(grid.Kubectl("delete pgc rbac --wait=false").exit_code, 0);
  ASSERT_TRUE(Grid::WaitUntil([&] { return grid.Cluster("rbac").is_null(); }, seconds(30)))
      << grid.AllOperatorLogs();
  WaitForOrphanSweep(grid);
  grid.StopOperator(op);
}

// The chart rendered with watchNamespace=default (a Role in that namespace instead of the
// ClusterRole), applied with kubectl against kube-sim, and the operator run with the
// --namespace=default its Deployment passes: a grid comes up and goes, the leader sweeps for
// orphans, and every request is allowed by that render.
TEST(RbacProofTest, WatchingOneNamespaceNeedsOnlyTheRolesTheChartRendersForIt) {
  Grid grid({/*boot_seconds=*/0.5});
  ASSERT_EQ(grid.Kubectl("create namespace pygrid-system").exit_code, 0);
  ASSERT_EQ(grid.Kubectl("apply -f " + testing::ShellQuote(std::string(PYGRID_SOURCE_DIR) +
                                                           "/crds/pygridclusters.distributor."
                                                           "pygrid.dev.yaml"))
                .exit_code,
            0);
  std::map<std::string, json> sources = RbacSources(grid.dir());
  const json rendered = sources.at("chart watchNamespace=default");
  const std::string file = grid.dir() + "/chart-watch-default.json";
  std::ofstream(file) << json({{"apiVersion", "v1"}, {"kind", "List"}, {"items", rendered}});
  testing::CommandResult dry =
      grid.Kubectl("apply --dry-run=server -f " + testing::ShellQuote(file));
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  testing::CommandResult applied = grid.Kubectl("apply -f " + testing::ShellQuote(file));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_NE(applied.output.find("role.rbac.authorization.k8s.io/pygrid-operator-manager created"),
            std::string::npos)
      << applied.output;
  grid.CreateSecret();
  std::vector<std::string> flags = OperatorFlags(SetUpIdentities(grid));
  flags.push_back("--namespace=default");
  CreateReadyDelete(grid, flags);
  CheckRequests(OperatorRequests(grid), {{"chart watchNamespace=default", rendered}},
                /*check_use=*/false);
}

}  // namespace
}  // namespace pygrid::e2e
