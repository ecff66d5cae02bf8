// The standalone commands' parts that need no cloud: reading a grid file with the CRD's rules
// and hostile-input guards, the state directory (lock, index, the operator's key), the flags
// and the token, and the progress a person sees.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/grid_file.h"
#include "cli/grid_progress.h"
#include "cli/standalone_flags.h"
#include "cli/state_dir.h"
#include "testing/process.h"

namespace pygrid::cli {
namespace {

using nlohmann::json;

const char kGrid[] = R"(apiVersion: distributor.pygrid.dev/v1alpha1
kind: PyGridCluster
metadata:
  name: mnist
  namespace: team-a
  labels: {owner: ada}
spec:
  credentialsSecretRef: {name: genesis-credentials}
  workers: {replicas: 2}
  network: {allowedSourceCIDRs: [203.0.113.0/24]}
)";

std::vector<std::string> Fields(const Status& status) {
  std::vector<std::string> fields;
  for (const FieldCause& cause : status.causes()) fields.push_back(cause.field);
  return fields;
}

TEST(GridFileTest, AValidFileIsDefaultedAndKeepsOnlyNameLabelsAndSpec) {
  const std::string hostile =
      std::string(kGrid) + "status: {gateway: {name: x, instanceID: someone-elses}}\n";
  std::string text = hostile;
  text.replace(text.find("  labels"), 0, "  uid: 11111111-2222\n  finalizers: [x]\n");
  StatusOr<GridManifest> grid = ParseGridFile(text);
  ASSERT_TRUE(grid.ok()) << grid.status().ToString();
  EXPECT_EQ(grid->name, "mnist");
  EXPECT_EQ(grid->cluster.spec.region, "ARC-IS-HAF-1") << "defaulted as the CRD does";
  EXPECT_FALSE(grid->object.contains("status")) << "a status in the file is never adopted";
  EXPECT_FALSE(grid->object["metadata"].contains("uid"));
  EXPECT_FALSE(grid->object["metadata"].contains("finalizers"));
  EXPECT_EQ(grid->object["metadata"]["namespace"], kStandaloneNamespace);
  EXPECT_EQ(grid->object["metadata"]["labels"]["owner"], "ada");
}

TEST(GridFileTest, InvalidFieldsAreReportedWithTheirPaths) {
  std::string text = kGrid;
  text.replace(text.find("replicas: 2"), 11, "replicas: 1000");
  text.replace(text.find("203.0.113.0/24"), 14, "everyone");
  StatusOr<GridManifest> grid = ParseGridFile(text);
  ASSERT_FALSE(grid.ok());
  EXPECT_EQ(
      Fields(grid.status()),
      (std::vector<std::string>{"spec.workers.replicas", "spec.network.allowedSourceCIDRs[0]"}));
  std::string wrong_type = kGrid;
  wrong_type.replace(wrong_type.find("replicas: 2"), 11, "replicas: many");
  EXPECT_EQ(Fields(ParseGridFile(wrong_type).status()),
            std::vector<std::string>{"spec.workers.replicas"});
  EXPECT_EQ(Fields(ParseGridFile("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n").status()),
            (std::vector<std::string>{"apiVersion", "kind"}));
  std::string traversal = kGrid;
  traversal.replace(traversal.find("name: mnist"), 11, "name: ../../x");
  EXPECT_EQ(Fields(ParseGridFile(traversal).status()), std::vector<std::string>{"metadata.name"});
}

TEST(GridFileTest, HostileYamlIsRefusedBeforeItIsExpanded) {
  std::string laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {  // 10^12 values once expanded
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j)
      laughs += std::string(j ? ", " : "") + "*a" + std::to_string(i - 1);
    laughs += "]\n";
  }
  StatusOr<GridManifest> bomb = ParseGridFile(laughs);
  ASSERT_FALSE(bomb.ok());
  EXPECT_NE(bomb.status().message().find("aliases"), std::string::npos);
  EXPECT_FALSE(ParseGridFile(std::string(100, '[') + std::string(100, ']')).ok());
  EXPECT_FALSE(ParseGridFile(std::string(kMaxGridFileBytes + 1, ' ')).ok());
  EXPECT_FALSE(ParseGridFile(std::string(kGrid) + "---\n" + kGrid).ok());
  EXPECT_FALSE(ParseGridFile("").ok());
  EXPECT_FALSE(ParseGridFile("just a string").ok());
  EXPECT_FALSE(ParseGridFile("{unclosed: [").ok());
}

TEST(StateDirTest, ASecondLockIsRefusedNamingTheHolderAndFreedWithTheFirst) {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/state";
  {
    StatusOr<StateDirLock> first = StateDirLock::Acquire(dir, "up mnist");
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ(testing::FileMode(dir), 0700);
    StatusOr<StateDirLock> second = StateDirLock::Acquire(dir, "down mnist");
    ASSERT_FALSE(second.ok());
    EXPECT_TRUE(second.status().IsConflict());
    EXPECT_NE(second.status().message().find("`pygrid-operator up mnist` (pid " +
                                             std::to_string(getpid()) + ")"),
              std::string::npos)
        << second.status().message();
  }
  EXPECT_TRUE(StateDirLock::Acquire(dir, "down mnist").ok());
}

TEST(StateDirTest, TheIndexKeepsOneUidPerGrid) {
  testing::TempDir tmp;
  EXPECT_TRUE(ReadGridIndex(tmp.path())->empty());
  ASSERT_TRUE(UpdateGridIndex(tmp.path(), "mnist", "uid-1").ok());
  ASSERT_TRUE(UpdateGridIndex(tmp.path(), "cifar", "uid-2").ok());
  EXPECT_EQ(*ReadGridIndex(tmp.path()),
            (std::map<std::string, std::string>{{"cifar", "uid-2"}, {"mnist", "uid-1"}}));
  ASSERT_TRUE(UpdateGridIndex(tmp.path(), "mnist", "").ok());
  EXPECT_EQ(*ReadGridIndex(tmp.path()), (std::map<std::string, std::string>{{"cifar", "uid-2"}}));
  EXPECT_EQ(testing::FileMode(tmp.path() + "/grids.json"), 0600);
  std::ofstream(tmp.path() + "/grids.json", std::ios::trunc) << "[1, 2]";
  EXPECT_FALSE(ReadGridIndex(tmp.path()).ok()) << "a broken index is an error, not empty";
}

TEST(StateDirTest, TheOperatorKeyIsMadeOncePrivateAndReused) {
  testing::TempDir tmp;
  StatusOr<bootstrap::SshKeyPair> made = LoadOrCreateOperatorKey(tmp.path());
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(testing::FileMode(tmp.path() + "/operator_ed25519"), 0600);
  chmod((tmp.path() + "/operator_ed25519").c_str(), 0644);
  StatusOr<bootstrap::SshKeyPair> again = LoadOrCreateOperatorKey(tmp.path());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->private_key, made->private_key);
  EXPECT_EQ(again->public_key, made->public_key);
  EXPECT_EQ(testing::FileMode(tmp.path() + "/operator_ed25519"), 0600) << "narrowed again";
}

TEST(StandaloneFlagsTest, StateDirectoryDefaultsToXdgThenHome) {
  setenv("XDG_STATE_HOME", "/xdg", 1);
  EXPECT_EQ(DefaultStateDir(), "/xdg/pygrid-operator");
  unsetenv("XDG_STATE_HOME");
  setenv("HOME", "/home/ada", 1);
  EXPECT_EQ(DefaultStateDir(), "/home/ada/.local/state/pygrid-operator");
  StatusOr<StandaloneFlags> flags = ParseStandaloneFlags("scale", {"mnist", "--replicas", "8"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->state_dir, "/home/ada/.local/state/pygrid-operator");
  EXPECT_EQ(flags->name, "mnist");
  EXPECT_EQ(flags->replicas, 8);
}

TEST(StandaloneFlagsTest, FlagsComeFromTheEnvironmentAndUsageErrorsNameTheFlag) {
  setenv("PYGRID_POLL_INTERVAL", "250ms", 1);
  StatusOr<StandaloneFlags> flags =
      ParseStandaloneFlags("up", {"-f", "grid.yaml", "--state-dir=/s"});
  unsetenv("PYGRID_POLL_INTERVAL");
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->op.poll_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(flags->state_dir, "/s");
  EXPECT_FALSE(ParseStandaloneFlags("up", {}).ok()) << "-f is required";
  EXPECT_FALSE(ParseStandaloneFlags("down", {"--state-dir=/s"}).ok()) << "NAME is required";
  EXPECT_FALSE(ParseStandaloneFlags("scale", {"mnist"}).ok()) << "--replicas is required";
  EXPECT_FALSE(ParseStandaloneFlags("up", {"-f", "g", "--timeout=soon"}).ok());
  EXPECT_FALSE(ParseStandaloneFlags("status", {"--token-file=x"}).ok()) << "status needs no token";
}

TEST(StandaloneFlagsTest, TheTokenComesFromTheEnvironmentOrAFileOutsideTheStateDirectory) {
  testing::TempDir tmp;
  StandaloneFlags flags;
  flags.state_dir = tmp.path() + "/state";
  setenv("GENESISCLOUD_TOKEN", "env-token-1234\n", 1);
  EXPECT_EQ(*LoadToken(flags), "env-token-1234");
  unsetenv("GENESISCLOUD_TOKEN");
  EXPECT_FALSE(LoadToken(flags).ok());
  flags.token_file = tmp.Write("token", "file-token-5678\n");
  EXPECT_EQ(*LoadToken(flags), "file-token-5678");
  flags.token_file = tmp.Write("state/token", "inside-token-9999\n");
  StatusOr<std::string> inside = LoadToken(flags);
  ASSERT_FALSE(inside.ok());
  EXPECT_EQ(inside.status().message().find("inside-token"), std::string::npos);
}

api::ClusterStatus Provisioning() {
  api::ClusterStatus status;
  status.phase = api::Phase::kProvisioning;
  api::GatewayStatus gateway;
  gateway.name = "mnist-0a1b2c3d-gateway";
  gateway.instance_id = "i-1";
  gateway.state = "active";
  gateway.ready = true;
  status.gateway = gateway;
  api::WorkerStatus booting;
  booting.name = "mnist-0a1b2c3d-worker-0";
  booting.instance_id = "i-2";
  booting.state = "creating";
  api::WorkerStatus requested;
  requested.name = "mnist-0a1b2c3d-worker-1";
  requested.create_requested_at = "2026-12-01T00:00:00Z";
  api::WorkerStatus starting;
  starting.name = "mnist-0a1b2c3d-worker-2";
  starting.instance_id = "i-4";
  starting.state = "active";
  status.workers = {booting, requested, starting};
  status.conditions.push_back(
      {"Ready", "False", 1, "", "WorkersNotReady", "0/3 workers registered"});
  return status;
}

TEST(GridProgressTest, EachInstanceShowsTheStageAPersonUnderstands) {
  EXPECT_EQ(InstanceStages(Provisioning()),
            (std::vector<InstanceStage>{{"mnist-0a1b2c3d-gateway", "serving"},
                                        {"mnist-0a1b2c3d-worker-0", "booting"},
                                        {"mnist-0a1b2c3d-worker-1", "creating"},
                                        {"mnist-0a1b2c3d-worker-2", "installing/starting"}}));
  EXPECT_EQ(GridHeadline("mnist", Provisioning()),
            "mnist: Provisioning (WorkersNotReady: 0/3 workers registered)");
}

// The progress of the grid "mnist" as a ProgressView on `out` shows it.
struct MnistProgress {
  FakeClock clock;
  std::ostringstream out;
  ProgressView view;
  explicit MnistProgress(bool terminal) : view(out, terminal, clock) {}
  void Show(const api::ClusterStatus& status) {
    view.Show(GridHeadline("mnist", status), InstanceStages(status));
  }
};

TEST(GridProgressTest, PipedOutputPrintsEachChangeOnceAsAPlainLine) {
  MnistProgress progress(/*terminal=*/false);
  api::ClusterStatus status = Provisioning();
  progress.Show(status);
  progress.view.Tick();
  progress.Show(status);  // nothing changed
  progress.clock.Advance(std::chrono::milliseconds(2500));
  status.workers[0].state = "active";
  status.workers[0].registered = true;
  status.workers.pop_back();
  progress.Show(status);
  const std::string text = progress.out.str();
  EXPECT_EQ(text.find('\033'), std::string::npos) << "no terminal control codes when piped";
  EXPECT_NE(text.find("    0.0s  mnist-0a1b2c3d-worker-0  booting\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    2.5s  mnist-0a1b2c3d-worker-0  registered\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("    2.5s  mnist-0a1b2c3d-worker-2  gone\n"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 7) << text;
}

TEST(GridProgressTest, ATerminalGetsOneBlockRedrawnInPlaceWithASpinner) {
  MnistProgress progress(/*terminal=*/true);
  progress.Show(Provisioning());
  const std::string first = progress.out.str();
  EXPECT_EQ(first.rfind("\r\033[2K| mnist: Provisioning", 0), 0u) << first;
  progress.out.str("");
  progress.view.Tick();
  const std::string redrawn = progress.out.str();
  EXPECT_EQ(redrawn.rfind("\033[1A\033[1A\033[1A\033[1A\033[1A\r\033[2K/ ", 0), 0u)
      << "moves up over the 5 lines and redraws with the next spinner frame";
  EXPECT_NE(redrawn.find("mnist-0a1b2c3d-worker-0  booting"), std::string::npos);
}

}  // namespace
}  // namespace pygrid::cli
