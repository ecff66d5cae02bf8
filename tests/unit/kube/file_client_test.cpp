// FileKubeClient: MemoryKubeClient's rules with every object but Secrets saved atomically in a
// folder, so a process killed at any point and started again loses nothing.
#include "kube/file_client.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/base64.h"
#include "kube/atomic_file.h"
#include "testing/process.h"

namespace pygrid::kube {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const ResourceRef kClusters{"distributor.pygrid.dev", "v1alpha1", "pygridclusters", true};
const ResourceRef kSecrets{"", "v1", "secrets", true};
const ResourceRef kNodes{"", "v1", "nodes", false};

json Cluster(const std::string& name, int replicas) {
  return {{"apiVersion", "distributor.pygrid.dev/v1alpha1"},
          {"kind", "PyGridCluster"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"workers", {{"replicas", replicas}}}}}};
}

std::unique_ptr<FileKubeClient> OpenStore(const std::string& dir) {
  static FakeClock clock;
  StatusOr<std::unique_ptr<FileKubeClient>> store = FileKubeClient::Open(dir, clock);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every file under `dir`, with its content.
std::map<std::string, std::string> Files(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files[entry.path().string()] = ReadAll(entry.path().string());
  }
  return files;
}

TEST(FileKubeClientTest, CreateSavesOneFileHoldingTheWholeObject) {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/store";
  auto store = OpenStore(dir);
  StatusOr<json> created = store->Create(kClusters, "default", Cluster("mnist", 2));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  json object = *created;
  object["status"] = {{"phase", "Provisioning"}};
  ASSERT_TRUE(store->UpdateStatus(kClusters, "default", object).ok());

  const std::string path =
      dir + "/pygridclusters.v1alpha1.distributor.pygrid.dev/default/mnist.json";
  EXPECT_EQ(store->PathOf(kClusters, "default", "mnist"), path);
  const json saved = json::parse(ReadAll(path));
  EXPECT_EQ(saved["spec"]["workers"]["replicas"], 2);
  EXPECT_EQ(saved["status"]["phase"], "Provisioning");
  EXPECT_EQ(saved["metadata"]["uid"], (*created)["metadata"]["uid"]);
  EXPECT_EQ(Files(dir).size(), 1u) << "no temporary file is left behind";
  EXPECT_EQ(::pygrid::testing::FileMode(dir), 0700);
  EXPECT_EQ(::pygrid::testing::FileMode(path), 0600);
}

TEST(FileKubeClientTest, UidsAreRandomVersionFourUuids) {
  testing::TempDir one, two;
  auto a = OpenStore(one.path());
  auto b = OpenStore(two.path());
  const std::string uid_a =
      (*a->Create(kClusters, "default", Cluster("mnist", 1)))["metadata"]["uid"];
  const std::string uid_b =
      (*b->Create(kClusters, "default", Cluster("mnist", 1)))["metadata"]["uid"];
  EXPECT_NE(uid_a, uid_b) << "instance names derive from the uid: two stores must differ";
  EXPECT_EQ(uid_a.size(), 36u);
  EXPECT_EQ(uid_a[14], '4');
}

TEST(FileKubeClientTest, ReloadKeepsIdentityVersionsGenerationStatusAndFinalizers) {
  testing::TempDir tmp;
  json before;
  {
    auto store = OpenStore(tmp.path());
    json object = *store->Create(kClusters, "default", Cluster("mnist", 2));
    object["metadata"]["finalizers"] = {"distributor.pygrid.dev/cleanup"};
    object = *store->Update(kClusters, "default", object);
    object["spec"]["workers"]["replicas"] = 3;
    object = *store->Update(kClusters, "default", object);  // generation 2
    object["status"] = {{"observedGeneration", 2}, {"endpoint", "http://198.51.100.7:5000"}};
    before = *store->UpdateStatus(kClusters, "default", object);
  }  // the process ends
  auto store = OpenStore(tmp.path());
  StatusOr<json> after = store->Get(kClusters, "default", "mnist");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, before);
  EXPECT_EQ((*after)["metadata"]["generation"], 2);

  // Optimistic concurrency still holds across the restart: a stale version is refused...
  json stale = before;
  stale["metadata"]["resourceVersion"] = "1";
  EXPECT_TRUE(store->Update(kClusters, "default", stale).status().IsConflict());
  // ...and a spec change continues the generation and the versions where they were.
  json edited = before;
  edited["spec"]["workers"]["replicas"] = 5;
  StatusOr<json> updated = store->Update(kClusters, "default", edited);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ((*updated)["metadata"]["generation"], 3);
  EXPECT_GT(std::stoll((*updated)["metadata"]["resourceVersion"].get<std::string>()),
            std::stoll(before["metadata"]["resourceVersion"].get<std::string>()));
  EXPECT_EQ((*updated)["status"], before["status"]) << "a main update never changes status";
}

TEST(FileKubeClientTest, ResourceVersionsNeverRepeatAfterADeletionAndARestart) {
  testing::TempDir tmp;
  int64_t highest = 0;
  {
    auto store = OpenStore(tmp.path());
    ASSERT_TRUE(store->Create(kClusters, "default", Cluster("a", 1)).ok());
    json b = *store->Create(kClusters, "default", Cluster("b", 1));
    for (int i = 0; i < 5; ++i) b = *store->UpdateStatus(kClusters, "default", b);
    highest = std::stoll(b["metadata"]["resourceVersion"].get<std::string>());
    ASSERT_TRUE(store->Delete(kClusters, "default", "b").ok());  // the highest version goes
  }
  auto store = OpenStore(tmp.path());
  EXPECT_FALSE(store->Find(kClusters, "default", "b").has_value());
  json created = *store->Create(kClusters, "default", Cluster("c", 1));
  EXPECT_GT(std::stoll(created["metadata"]["resourceVersion"].get<std::string>()), highest);
}

TEST(FileKubeClientTest, DeletionWithAFinalizerIsSavedUntilTheFinalizerGoes) {
  testing::TempDir tmp;
  {
    auto store = OpenStore(tmp.path());
    json object = Cluster("mnist", 1);
    object["metadata"]["finalizers"] = {"distributor.pygrid.dev/cleanup"};
    ASSERT_TRUE(store->Create(kClusters, "default", object).ok());
    ASSERT_TRUE(store->Delete(kClusters, "default", "mnist").ok());
  }
  auto store = OpenStore(tmp.path());
  json deleting = *store->Get(kClusters, "default", "mnist");
  EXPECT_FALSE(deleting["metadata"].value("deletionTimestamp", "").empty());
  deleting["metadata"]["finalizers"] = json::array();
  ASSERT_TRUE(store->Update(kClusters, "default", deleting).ok());
  EXPECT_FALSE(fs::exists(store->PathOf(kClusters, "default", "mnist")));
  EXPECT_FALSE(OpenStore(tmp.path())->Find(kClusters, "default", "mnist").has_value());
}

TEST(FileKubeClientTest, SecretsAreNeverWritten) {
  testing::TempDir tmp;
  const std::string token = "file-store-token-3c9d1e0b";
  auto store = OpenStore(tmp.path());
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "creds"}, {"namespace", "default"}}},
                 {"data", {{"token", Base64Encode(token)}}}};
  StatusOr<json> created = store->Create(kSecrets, "default", secret);
  ASSERT_TRUE(created.ok());
  json copy = secret;
  copy["metadata"]["namespace"] = "pygrid-system";
  ASSERT_TRUE(store->Create(kSecrets, "pygrid-system", copy).ok());
  json updated = *created;
  updated["data"]["token"] = Base64Encode(token + "-2");
  ASSERT_TRUE(store->Update(kSecrets, "default", updated).ok());
  ASSERT_TRUE(store->Create(kClusters, "default", Cluster("mnist", 1)).ok());
  EXPECT_TRUE(store->Get(kSecrets, "default", "creds").ok()) << "kept in memory";

  for (const auto& [path, content] : Files(tmp.path())) {
    EXPECT_EQ(content.find(token), std::string::npos) << path;
    EXPECT_EQ(content.find(Base64Encode(token)), std::string::npos) << path;
    EXPECT_EQ(path.find("secrets"), std::string::npos) << path;
  }
  ASSERT_TRUE(store->Delete(kSecrets, "default", "creds").ok());
  // A secrets folder put there by hand is not loaded either.
  fs::create_directories(tmp.path() + "/secrets.v1/default");
  std::ofstream(tmp.path() + "/secrets.v1/default/planted.json") << json(
      {{"metadata", {{"name", "planted"}, {"namespace", "default"}, {"resourceVersion", "1"}}}});
  EXPECT_FALSE(OpenStore(tmp.path())->Find(kSecrets, "default", "planted").has_value());
}

TEST(FileKubeClientTest, ClusterScopedObjectsLiveBesideTheNamespaceFolders) {
  testing::TempDir tmp;
  {
    auto store = OpenStore(tmp.path());
    ASSERT_TRUE(store->Create(kNodes, "", {{"metadata", {{"name", "n1"}}}}).ok());
  }
  EXPECT_TRUE(fs::exists(tmp.path() + "/nodes.v1/n1.json"));
  EXPECT_TRUE(OpenStore(tmp.path())->Get(kNodes, "", "n1").ok());
}

TEST(FileKubeClientTest, NamesThatAreNoFileNamesAreRefused) {
  testing::TempDir tmp;
  auto store = OpenStore(tmp.path());
  for (const std::string& name :
       std::vector<std::string>{"../escape", "a/b", "..", std::string("nul\0x", 5)}) {
    StatusOr<json> created = store->Create(kClusters, "default", Cluster(name, 1));
    EXPECT_EQ(created.status().kind(), ErrorKind::kInvalid) << name;
  }
  EXPECT_EQ(store->Create(kClusters, "../..", Cluster("ok", 1)).status().kind(),
            ErrorKind::kInvalid);
  EXPECT_TRUE(Files(tmp.path()).empty());
}

TEST(FileKubeClientTest, AFileThatIsNotASavedObjectStopsTheLoadAndIsNamed) {
  testing::TempDir tmp;
  {
    auto store = OpenStore(tmp.path());
    ASSERT_TRUE(store->Create(kClusters, "default", Cluster("mnist", 1)).ok());
  }
  const std::string path =
      tmp.path() + "/pygridclusters.v1alpha1.distributor.pygrid.dev/default/mnist.json";
  std::ofstream(path, std::ios::trunc) << "{\"metadata\": {\"name\": \"other\"}}";
  FakeClock clock;
  StatusOr<std::unique_ptr<FileKubeClient>> reopened = FileKubeClient::Open(tmp.path(), clock);
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.status().message().find(path), std::string::npos)
      << reopened.status().ToString();
}

TEST(FileKubeClientTest, AFailedSaveFailsTheCallAndEveryLaterWrite) {
  testing::TempDir tmp;
  auto store = OpenStore(tmp.path());
  json object = *store->Create(kClusters, "default", Cluster("mnist", 1));
  // A folder where the temporary file must go makes the next save of mnist fail.
  fs::create_directories(tmp.path() +
                         "/pygridclusters.v1alpha1.distributor.pygrid.dev/default/.mnist.json.tmp");
  object["status"] = {{"phase", "Ready"}};
  StatusOr<json> written = store->UpdateStatus(kClusters, "default", object);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.status().kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(store->Create(kClusters, "default", Cluster("other", 1)).status().kind(),
            ErrorKind::kUnavailable);
  EXPECT_FALSE(store->Find(kClusters, "default", "other").has_value()) << "refused before acting";
}

TEST(FileKubeClientTest, ReadOnlyOpenRefusesWritesAndChangesNothing) {
  testing::TempDir tmp;
  {
    auto store = OpenStore(tmp.path() + "/s");
    ASSERT_TRUE(store->Create(kClusters, "default", Cluster("mnist", 1)).ok());
  }
  const auto files_before = Files(tmp.path());
  FakeClock clock;
  auto reader = FileKubeClient::Open(tmp.path() + "/s", clock, {/*read_only=*/true});
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE((*reader)->Get(kClusters, "default", "mnist").ok());
  EXPECT_EQ((*reader)->Create(kClusters, "default", Cluster("x", 1)).status().kind(),
            ErrorKind::kForbidden);
  EXPECT_EQ(Files(tmp.path()), files_before);
  auto missing = FileKubeClient::Open(tmp.path() + "/absent", clock, {/*read_only=*/true});
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(fs::exists(tmp.path() + "/absent"));
}

// A writer killed with SIGKILL at an arbitrary moment: every write it reported done is on
// disk, and every file still parses.
TEST(FileKubeClientTest, KillNineDuringWritesLosesNoAcknowledgedWrite) {
  for (int round = 0; round < 5; ++round) {
    testing::TempDir tmp;
    int acks[2];
    ASSERT_EQ(pipe(acks), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(acks[0]);
      FakeClock clock;
      auto store = FileKubeClient::Open(tmp.path(), clock);
      if (!store.ok()) _exit(1);
      json object = *(*store)->Create(kClusters, "default", Cluster("mnist", 1));
      for (int i = 1;; ++i) {
        object["status"] = {{"counter", i}};
        StatusOr<json> written = (*store)->UpdateStatus(kClusters, "default", object);
        if (!written.ok()) _exit(2);
        object = *written;
        if (write(acks[1], &i, sizeof i) != sizeof i) _exit(3);
      }
    }
    close(acks[1]);
    int acknowledged = 0;
    const int wanted = 10 + round * 9;
    while (acknowledged < wanted) {
      int value = 0;
      ASSERT_EQ(read(acks[0], &value, sizeof value), static_cast<ssize_t>(sizeof value));
      acknowledged = value;
    }
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    int value = 0;
    while (read(acks[0], &value, sizeof value) == static_cast<ssize_t>(sizeof value))
      acknowledged = value;  // acknowledgements written before the kill
    close(acks[0]);
    auto store = OpenStore(tmp.path());
    ASSERT_TRUE(store);
    StatusOr<json> saved = store->Get(kClusters, "default", "mnist");
    ASSERT_TRUE(saved.ok());
    const int counter = (*saved)["status"]["counter"];
    EXPECT_GE(counter, acknowledged);
    EXPECT_LE(counter, acknowledged + 1) << "at most the write in flight at the kill";
  }
}

TEST(AtomicFileTest, WritesReplaceWholeFilesWithTheRequestedMode) {
  testing::TempDir tmp;
  const std::string path = tmp.path() + "/key";
  const mode_t old_mask = umask(0);
  ASSERT_TRUE(WriteFileAtomically(path, "first", 0600).ok());
  umask(old_mask);
  ASSERT_TRUE(WriteFileAtomically(path, "second", 0600).ok());
  EXPECT_EQ(ReadAll(path), "second");
  EXPECT_EQ(::pygrid::testing::FileMode(path), 0600);
  EXPECT_TRUE(RemoveFileDurably(path).ok());
  EXPECT_TRUE(RemoveFileDurably(path).ok()) << "absent is fine";
  EXPECT_TRUE(ReadSmallFile(path, 10).status().IsNotFound());
  ASSERT_TRUE(WriteFileAtomically(path, std::string(11, 'x'), 0600).ok());
  EXPECT_EQ(ReadSmallFile(path, 10).status().kind(), ErrorKind::kInvalid);
}

TEST(AtomicFileTest, PrivateDirectoriesAreCreatedAndNarrowed) {
  testing::TempDir tmp;
  const std::string deep = tmp.path() + "/a/b/c";
  ASSERT_TRUE(MakePrivateDirectories(deep + "/").ok());
  EXPECT_EQ(::pygrid::testing::FileMode(deep), 0700);
  EXPECT_EQ(::pygrid::testing::FileMode(tmp.path() + "/a"), 0700);
  chmod(deep.c_str(), 0755);
  ASSERT_TRUE(MakePrivateDirectories(deep).ok());
  EXPECT_EQ(::pygrid::testing::FileMode(deep), 0700);
  std::ofstream(tmp.path() + "/file") << "x";
  EXPECT_EQ(MakePrivateDirectories(tmp.path() + "/file").kind(), ErrorKind::kInvalid);
}

}  // namespace
}  // namespace pygrid::kube
