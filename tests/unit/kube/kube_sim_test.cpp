// The runtime against kube-sim over real HTTPS with a bearer token: every error class from a
// real response, paged lists, the informer (1,000 objects and 1,000 updates; relist after
// closed watches and a compacted history; relist while every watch is refused; bookmarks), the
// status writer under injected 409s, and event aggregation and spam limiting.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>

#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/status_writer.h"
#include "testing/wait.h"
#include "unit/kube/kube_sim_fixture.h"

namespace pygrid::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const ResourceRef kConfigMaps{"", "v1", "configmaps", true};
const ResourceRef kNamespaces{"", "v1", "namespaces", false};
const ResourceRef kEvents{"", "v1", "events", true};
const ResourceRef kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};
const ResourceRef kWidgets{"test.pygrid.dev", "v1", "widgets", true};

Json ConfigMap(const std::string& name, const std::string& value, const std::string& app = "bulk") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"labels", {{"app", app}}}}},
          {"data", {{"value", value}}}};
}

template <typename Pred>
bool PollUntil(Pred&& pred, seconds limit = seconds(60)) {
  return ::pygrid::testing::Eventually(std::forward<Pred>(pred), limit, milliseconds(20));
}

// Options for an informer of the configmaps labelled app=`app` in "default".
InformerOptions ConfigMapsOf(const std::string& app) {
  InformerOptions options;
  options.resource = kConfigMaps;
  options.ns = "default";
  options.label_selector = "app=" + app;
  return options;
}

// Runs `body(i)` for i in [0, n) on 4 threads.
void Parallel(int n, const std::function<void(int)>& body) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < n;) body(i);
    });
  }
  for (auto& thread : threads) thread.join();
}

std::map<std::string, std::string> VersionsOf(const std::vector<Json>& objects) {
  std::map<std::string, std::string> out;
  for (const auto& object : objects) out[ObjectKey(object)] = ResourceVersionOf(object);
  return out;
}

class KubeSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = std::make_unique<testing::KubeSim>();
    ASSERT_TRUE(sim_->ready()) << "kube-sim did not write its kubeconfig";
    client_ = sim_->NewClient();
    ASSERT_NE(client_, nullptr);
  }

  std::map<std::string, std::string> ServerVersions(const std::string& selector) {
    ListOptions options;
    options.label_selector = selector;
    auto listed = client_->List(kConfigMaps, "default", options);
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    return listed.ok() ? VersionsOf(listed->items) : std::map<std::string, std::string>{};
  }

  void CreateWidgetCrd() {
    Json crd = {{"apiVersion", "apiextensions.k8s.io/v1"},
                {"kind", "CustomResourceDefinition"},
                {"metadata", {{"name", "widgets.test.pygrid.dev"}}},
                {"spec",
                 {{"group", "test.pygrid.dev"},
                  {"scope", "Namespaced"},
                  {"names",
                   {{"plural", "widgets"},
                    {"singular", "widget"},
                    {"kind", "Widget"},
                    {"listKind", "WidgetList"}}},
                  {"versions",
                   {{{"name", "v1"},
                     {"served", true},
                     {"storage", true},
                     {"schema",
                      {{"openAPIV3Schema",
                        {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}},
                     {"subresources", {{"status", Json::object()}}}}}}}}};
    auto created = client_->Create(kCrds, "", crd);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  std::unique_ptr<testing::KubeSim> sim_;
  std::unique_ptr<RestClient> client_;
};

TEST_F(KubeSimTest, EveryErrorClassFromARealResponse) {
  EXPECT_TRUE(client_->Get(kConfigMaps, "default", "missing").status().IsNotFound());

  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("dup", "1")).ok());
  auto again = client_->Create(kConfigMaps, "default", ConfigMap("dup", "1"));
  EXPECT_TRUE(again.status().IsAlreadyExists()) << again.status().ToString();

  auto first = client_->Get(kConfigMaps, "default", "dup");
  ASSERT_TRUE(first.ok());
  Json changed = *first;
  changed["data"]["value"] = "2";
  ASSERT_TRUE(client_->Update(kConfigMaps, "default", changed).ok());
  Json stale = *first;
  stale["data"]["value"] = "3";
  auto conflict = client_->Update(kConfigMaps, "default", stale);
  EXPECT_TRUE(conflict.status().IsConflict()) << conflict.status().ToString();
  EXPECT_EQ(conflict.status().http_status(), 409);

  Json nameless = ConfigMap("", "x");
  nameless["metadata"].erase("name");
  auto invalid = client_->Create(kConfigMaps, "default", nameless);
  ASSERT_TRUE(invalid.status().IsInvalid()) << invalid.status().ToString();
  ASSERT_FALSE(invalid.status().causes().empty());
  EXPECT_EQ(invalid.status().causes()[0].field, "metadata.name");

  EXPECT_TRUE(client_->Delete(kNamespaces, "", "default").IsForbidden());

  RestConfig wrong = sim_->Config();
  wrong.bearer_token = "not-the-token";
  auto intruder = RestClient::Create(wrong);
  ASSERT_TRUE(intruder.ok());
  Status unauthorized = (*intruder)->Get(kConfigMaps, "default", "dup").status();
  EXPECT_TRUE(unauthorized.IsUnauthorized()) << unauthorized.ToString();
  EXPECT_EQ(unauthorized.message().find("not-the-token"), std::string::npos);

  // Expired continue token and watch resume point after a compaction.
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("dup2", "1")).ok());
  ListOptions paged;
  paged.limit = 1;
  auto page = client_->ListPage(kConfigMaps, "default", paged);
  ASSERT_TRUE(page.ok());
  const std::string old_rv = (*page)["metadata"]["resourceVersion"];
  paged.continue_token = (*page)["metadata"].value("continue", "");
  ASSERT_FALSE(paged.continue_token.empty());
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("dup3", "1")).ok());
  sim_->Sim("POST", "compact");
  Status gone = client_->ListPage(kConfigMaps, "default", paged).status();
  EXPECT_TRUE(gone.IsGone()) << gone.ToString();
  WatchOptions from_old;
  from_old.resource_version = old_rv;
  Status watch_gone = client_->Watch(
      kConfigMaps, "default", from_old, [](const WatchEvent&) { return true; }, nullptr);
  EXPECT_TRUE(watch_gone.IsGone()) << watch_gone.ToString();

  struct Fault {
    int code;
    ErrorKind kind;
  };
  for (const Fault& fault :
       {Fault{429, ErrorKind::kRateLimited}, Fault{500, ErrorKind::kUnavailable},
        Fault{503, ErrorKind::kUnavailable}, Fault{504, ErrorKind::kTimeout}}) {
    sim_->Sim("POST", "faults",
              {{"verb", "get"},
               {"resource", "configmaps"},
               {"code", fault.code},
               {"count", 1},
               {"retryAfterSeconds", 2}});
    Status injected = client_->Get(kConfigMaps, "default", "dup").status();
    EXPECT_EQ(injected.kind(), fault.kind) << injected.ToString();
    EXPECT_EQ(injected.http_status(), fault.code);
    EXPECT_TRUE(injected.retryable());
    if (fault.code == 429) {
      ASSERT_TRUE(injected.retry_after().has_value());
      EXPECT_EQ(*injected.retry_after(), seconds(2));
    }
  }
  EXPECT_TRUE(client_->Get(kConfigMaps, "default", "dup").ok());
}

TEST_F(KubeSimTest, TlsTrustComesFromTheKubeconfigCaOrInsecure) {
  RestConfig untrusted = sim_->Config();
  untrusted.ca_pem.clear();  // system roots do not know kube-sim's fresh CA
  auto client = RestClient::Create(untrusted);
  ASSERT_TRUE(client.ok());
  Status refused = (*client)->Get(kNamespaces, "", "default").status();
  EXPECT_TRUE(refused.IsUnavailable()) << refused.ToString();

  RestConfig insecure = untrusted;
  insecure.insecure_skip_tls_verify = true;
  auto skipping = RestClient::Create(insecure);
  ASSERT_TRUE(skipping.ok());
  EXPECT_TRUE((*skipping)->Get(kNamespaces, "", "default").ok());
}

TEST_F(KubeSimTest, IdleWatchIsCancellable) {
  Cancellation cancel;
  WatchOptions options;
  options.allow_bookmarks = false;  // nothing will arrive on this stream
  std::atomic<bool> returned{false};
  Status result;
  std::thread watcher([&] {
    result = client_->Watch(
        kConfigMaps, "default", options, [](const WatchEvent&) { return true; }, &cancel);
    returned = true;
  });
  // Let the stream open (the sim logs a watch when it accepts it).
  EXPECT_TRUE(PollUntil([&] { return sim_->Sim("GET", "state").value("openWatches", 0) == 1; },
                        seconds(20)));
  EXPECT_FALSE(returned.load());
  cancel.Cancel();
  EXPECT_TRUE(PollUntil([&] { return returned.load(); }, seconds(10)));
  watcher.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
}

TEST_F(KubeSimTest, PagedListAcrossThreePages) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(
        client_->Create(kConfigMaps, "default", ConfigMap("p" + std::to_string(i), "v")).ok());
  }
  sim_->Sim("DELETE", "requests");
  ListOptions options;
  options.label_selector = "app=bulk";
  auto listed = client_->List(kConfigMaps, "default", options, 3);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->pages, 3);
  ASSERT_EQ(listed->items.size(), 7u);
  std::set<std::string> names;
  for (const auto& item : listed->items) names.insert(item["metadata"]["name"]);
  EXPECT_EQ(names.size(), 7u);
  Json log = sim_->Sim("GET", "requests");
  int lists = 0;
  for (const auto& request : log["requests"]) {
    if (request.value("verb", "") != "list") continue;
    ++lists;
    EXPECT_NE(request.value("query", "").find("limit=3"), std::string::npos);
  }
  EXPECT_EQ(lists, 3);
}

TEST_F(KubeSimTest, InformerThousandObjectsThenThousandUpdatesMatchesServer) {
  Parallel(1000, [&](int i) {
    auto created = client_->Create(kConfigMaps, "default", ConfigMap("o" + std::to_string(i), "0"));
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  });
  // Objects outside the selector or the namespace must stay outside the cache.
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("other", "0", "other")).ok());
  Json elsewhere = ConfigMap("elsewhere", "0");
  elsewhere["metadata"]["namespace"] = "kube-public";
  ASSERT_TRUE(client_->Create(kConfigMaps, "kube-public", elsewhere).ok());
  std::atomic<int> adds{0}, updates{0};
  InformerOptions options = ConfigMapsOf("bulk");
  Informer informer(*client_, options);
  EventHandlers handlers;
  handlers.on_add = [&](const Json&) { ++adds; };
  handlers.on_update = [&](const Json&, const Json&) { ++updates; };
  informer.AddEventHandler(handlers);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(milliseconds(60000)));
  EXPECT_EQ(informer.Size(), 1000u);
  EXPECT_EQ(adds.load(), 1000);
  EXPECT_FALSE(informer.Get("default/other").has_value());
  EXPECT_FALSE(informer.Get("kube-public/elsewhere").has_value());

  Parallel(1000, [&](int i) {
    auto patched = client_->Patch(kConfigMaps, "default", "o" + std::to_string(i),
                                  PatchType::kMerge, {{"data", {{"value", "1"}}}});
    ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  });
  const auto server = ServerVersions("app=bulk");
  ASSERT_EQ(server.size(), 1000u);
  EXPECT_TRUE(PollUntil([&] { return VersionsOf(informer.List()) == server; }));
  EXPECT_EQ(updates.load(), 1000);
  for (const auto& object : informer.List()) ASSERT_EQ(object["data"]["value"], "1");
  EXPECT_EQ(informer.list_count(), 1) << "no relist was needed";
  informer.Stop();
}

// The operator's caches drop managedFields (StripManagedFields): listed and watched objects
// arrive without them, handlers see them without, and an update of a cached object keeps the
// server's entries (the API server takes them from the stored object when a write has none).
TEST_F(KubeSimTest, InformerTransformDropsManagedFieldsAndAnUpdateKeepsTheServers) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("listed", "0", "strip")).ok());
  // The managers of the stored object's managedFields entries.
  auto managers = [&](const std::string& name) {
    std::set<std::string> out;
    auto live = client_->Get(kConfigMaps, "default", name);
    if (!live.ok()) return out;
    for (const Json& entry : live->at("metadata").value("managedFields", Json::array()))
      out.insert(entry.value("manager", ""));
    return out;
  };
  ASSERT_FALSE(managers("listed").empty()) << "kube-sim records who wrote the object";
  InformerOptions options = ConfigMapsOf("strip");
  options.transform = StripManagedFields;
  Informer informer(*client_, options);
  std::mutex mu;
  std::vector<Json> handed;
  EventHandlers handlers;
  handlers.on_add = [&](const Json& object) {
    std::lock_guard<std::mutex> lock(mu);
    handed.push_back(object);
  };
  handlers.on_update = [&](const Json&, const Json& object) {
    std::lock_guard<std::mutex> lock(mu);
    handed.push_back(object);
  };
  informer.AddEventHandler(handlers);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(milliseconds(60000)));
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("watched", "0", "strip")).ok());
  ASSERT_TRUE(PollUntil([&] { return informer.Get("default/watched").has_value(); }));
  for (const std::string key : {"default/listed", "default/watched"}) {
    const std::optional<Json> cached = informer.Get(key);
    ASSERT_TRUE(cached.has_value()) << key;
    EXPECT_FALSE(cached->at("metadata").contains("managedFields")) << key;
    EXPECT_EQ(cached->at("metadata").value("name", ""), key.substr(8)) << "the rest stays";
    EXPECT_EQ(cached->at("data").value("value", ""), "0");
  }
  const std::set<std::string> before = managers("watched");
  ASSERT_FALSE(before.empty());
  Json changed = *informer.Get("default/watched");
  changed["data"]["value"] = "1";
  ASSERT_TRUE(client_->Update(kConfigMaps, "default", changed).ok());
  EXPECT_EQ(managers("watched"), before);
  ASSERT_TRUE(PollUntil([&] {
    const std::optional<Json> cached = informer.Get("default/watched");
    return cached && cached->at("data").value("value", "") == "1";
  }));
  const std::vector<std::shared_ptr<const Json>> shared = informer.Objects();
  const std::vector<Json> copies = informer.List();
  ASSERT_EQ(shared.size(), copies.size());
  for (size_t i = 0; i < shared.size(); ++i) EXPECT_EQ(*shared[i], copies[i]);
  informer.Stop();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(handed.size(), 3u);  // listed and watched added, watched updated
  for (const Json& object : handed) EXPECT_FALSE(object["metadata"].contains("managedFields"));
}

TEST_F(KubeSimTest, InformerRelistsAfterClosedWatchesAndCompactedHistory) {
  Parallel(100, [&](int i) {
    ASSERT_TRUE(
        client_->Create(kConfigMaps, "default", ConfigMap("r" + std::to_string(i), "0")).ok());
  });
  std::mutex mu;
  std::set<std::string> deleted;
  InformerOptions options = ConfigMapsOf("bulk");
  Informer informer(*client_, options);
  EventHandlers handlers;
  handlers.on_delete = [&](const Json& object) {
    std::lock_guard<std::mutex> lock(mu);
    deleted.insert(object["metadata"]["name"].get<std::string>());
  };
  informer.AddEventHandler(handlers);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(milliseconds(30000)));
  // Only an open watch is closed below; one still being set up would survive and stream.
  ASSERT_TRUE(PollUntil([&] { return sim_->Sim("GET", "state").value("openWatches", 0) == 1; }));

  // Hold every new watch at the server while we change things and drop the history, so the
  // informer's resume point is older than anything the server still remembers.
  sim_->Sim("POST", "latency",
            {{"verb", "watch"}, {"resource", "configmaps"}, {"milliseconds", 4000}});
  sim_->Sim("POST", "close-watches");
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client_->Delete(kConfigMaps, "default", "r" + std::to_string(i)).ok());
  }
  for (int i = 20; i < 50; ++i) {
    ASSERT_TRUE(client_
                    ->Patch(kConfigMaps, "default", "r" + std::to_string(i), PatchType::kMerge,
                            {{"data", {{"value", "final"}}}})
                    .ok());
  }
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        client_->Create(kConfigMaps, "default", ConfigMap("new" + std::to_string(i), "n")).ok());
  }
  sim_->Sim("POST", "compact");
  sim_->Sim("DELETE", "latency");

  const auto server = ServerVersions("app=bulk");
  ASSERT_EQ(server.size(), 90u);
  auto deleted_count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return deleted.size();
  };
  // A relist stores the cache before it calls the handlers and counts itself after them, so
  // wait for all three rather than for the cache alone.
  EXPECT_TRUE(PollUntil([&] {
    return VersionsOf(informer.List()) == server && informer.list_count() >= 2 &&
           deleted_count() >= 20u;
  }));
  EXPECT_GE(informer.list_count(), 2) << "a 410 must lead to a relist";
  EXPECT_EQ(informer.Get("default/r25").value_or(Json())["data"]["value"], "final");
  EXPECT_EQ(deleted_count(), 20u) << "objects that vanished during the gap are reported deleted";
  informer.Stop();
}

TEST_F(KubeSimTest, InformerRelistsWhileEveryWatchIsRefused) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("spec", "0", "refused")).ok());
  InformerOptions options = ConfigMapsOf("refused");
  // A short backoff keeps this test near a second; informer_test covers the real policy.
  options.backoff = {milliseconds(50), milliseconds(200), 2.0, JitterMode::kProportional, 1.0};
  std::atomic<int> updates{0};
  EventHandlers handlers;
  handlers.on_update = [&](const Json&, const Json&) { ++updates; };
  Informer informer(*client_, options);
  informer.AddEventHandler(handlers);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(milliseconds(30000)));

  // From now on the server refuses every configmaps watch; the open one ends.
  ASSERT_TRUE(PollUntil([&] { return sim_->Sim("GET", "state").value("openWatches", 0) == 1; }));
  sim_->Sim("POST", "faults",
            {{"verb", "watch"}, {"resource", "configmaps"}, {"code", 503}, {"count", 100000}});
  sim_->Sim("POST", "close-watches");
  auto count = [&](const std::string& verb, int code) {
    const Json log = sim_->Sim("GET", "requests");
    int n = 0;
    for (const auto& request : log["requests"]) {
      if (request.value("verb", "") == verb && request.value("code", 0) == code) ++n;
    }
    return n;
  };
  ASSERT_TRUE(PollUntil([&] { return count("watch", 503) >= 1; }, seconds(15)));
  const int lists_before = count("list", 200);
  ASSERT_TRUE(
      client_
          ->Patch(kConfigMaps, "default", "spec", PatchType::kMerge, {{"data", {{"value", "1"}}}})
          .ok());
  // The relist stores the cache before it calls the handlers: wait for both.
  EXPECT_TRUE(PollUntil(
      [&] {
        auto object = informer.Get("default/spec");
        return object && (*object)["data"]["value"] == "1" && updates.load() >= 1;
      },
      seconds(15)))
      << "a change made while watches are refused must arrive by a relist";
  EXPECT_EQ(updates.load(), 1);
  EXPECT_GT(count("list", 200), lists_before);
  informer.Stop();
}

TEST_F(KubeSimTest, BookmarksAdvanceTheResumePoint) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("watched", "0", "bm")).ok());
  InformerOptions options = ConfigMapsOf("bm");
  Informer informer(*client_, options);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(milliseconds(30000)));
  const std::string listed_rv = informer.LastResourceVersion();
  // The watch starts at the list's resourceVersion, asks for bookmarks and carries a random
  // timeout in [5, 10] minutes (client-go reflector).
  ASSERT_TRUE(PollUntil([&] { return sim_->Sim("GET", "state").value("openWatches", 0) == 1; }));
  bool saw_watch = false;
  const Json log = sim_->Sim("GET", "requests");
  for (const auto& request : log["requests"]) {
    if (request.value("verb", "") != "watch") continue;
    saw_watch = true;
    const std::string query = request.value("query", "");
    EXPECT_NE(query.find("allowWatchBookmarks=true"), std::string::npos) << query;
    EXPECT_NE(query.find("resourceVersion=" + listed_rv), std::string::npos) << query;
    const size_t at = query.find("timeoutSeconds=");
    ASSERT_NE(at, std::string::npos) << query;
    const int timeout = std::stoi(query.substr(at + 15));
    EXPECT_GE(timeout, 300);
    EXPECT_LE(timeout, 600);
  }
  EXPECT_TRUE(saw_watch) << log.dump();
  // Changes the informer does not see move the server's resourceVersion on.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        client_->Create(kConfigMaps, "default", ConfigMap("x" + std::to_string(i), "0", "other"))
            .ok());
  }
  const std::string server_rv = sim_->Sim("GET", "state")["resourceVersion"].dump();
  sim_->Sim("POST", "bookmark");
  ASSERT_TRUE(PollUntil([&] {
    const std::string rv = informer.LastResourceVersion();
    return rv != listed_rv && (rv == server_rv || "\"" + rv + "\"" == server_rv);
  })) << informer.LastResourceVersion()
      << " vs " << server_rv;
  // With the bookmark's resume point the informer re-watches after a compaction without
  // needing a relist.
  sim_->Sim("POST", "compact");
  sim_->Sim("POST", "close-watches");
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("watched2", "0", "bm")).ok());
  EXPECT_TRUE(PollUntil([&] { return informer.Get("default/watched2").has_value(); }));
  EXPECT_EQ(informer.list_count(), 1);
  informer.Stop();
}

TEST_F(KubeSimTest, StatusWriterRetriesInjectedConflictsAndSkipsUnchangedStatus) {
  CreateWidgetCrd();
  Json widget = {{"apiVersion", "test.pygrid.dev/v1"},
                 {"kind", "Widget"},
                 {"metadata", {{"name", "w"}, {"namespace", "default"}}},
                 {"spec", {{"size", 1}}}};
  auto created = client_->Create(kWidgets, "default", widget);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  sim_->Sim("POST", "faults",
            {{"verb", "update"}, {"resource", "widgets/status"}, {"code", 409}, {"count", 2}});
  StatusWriter writer(*client_, kWidgets);
  const Json ready = {{"phase", "Ready"}, {"replicas", 1}};
  auto written = writer.Write(*created, ready);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(writer.writes(), 3);
  EXPECT_EQ((*client_->Get(kWidgets, "default", "w"))["status"], ready);

  // Same status again: no request at all.
  sim_->Sim("DELETE", "requests");
  ASSERT_TRUE(writer.Write(*written, ready).ok());
  EXPECT_EQ(writer.writes(), 3);
  EXPECT_TRUE(sim_->Sim("GET", "requests")["requests"].empty());

  // A real conflict: the object changed since it was read.
  Json spec_change = *written;
  spec_change["spec"]["size"] = 2;
  ASSERT_TRUE(client_->Update(kWidgets, "default", spec_change).ok());
  const Json scaled = {{"phase", "Ready"}, {"replicas", 2}};
  ASSERT_TRUE(writer.Write(*written, scaled).ok());
  auto now = client_->Get(kWidgets, "default", "w");
  EXPECT_EQ((*now)["status"], scaled);
  EXPECT_EQ((*now)["spec"]["size"], 2) << "the retry must not undo the spec change";

  // Five conflicts in a row exhaust DefaultRetry.
  sim_->Sim("POST", "faults",
            {{"verb", "update"}, {"resource", "widgets/status"}, {"code", 409}, {"count", 5}});
  auto exhausted = writer.Write(*now, {{"phase", "Degraded"}});
  EXPECT_TRUE(exhausted.status().IsConflict()) << exhausted.status().ToString();
}

TEST_F(KubeSimTest, EventsAreAggregatedAndSpamLimited) {
  FakeClock clock;
  EventRecorderOptions options;
  options.component = "pygrid-operator";
  options.reporting_controller = "test.pygrid.dev/operator";
  options.reporting_instance = "pod-1";
  options.clock = &clock;
  EventRecorder recorder(*client_, options);
  auto target = client_->Create(kConfigMaps, "default", ConfigMap("target", "0"));
  ASSERT_TRUE(target.ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(recorder.RecordNow(*target, EventType::kWarning, "FailedCreate", "quota").ok());
    clock.Advance(seconds(1));
  }
  ASSERT_TRUE(recorder.RecordNow(*target, EventType::kNormal, "Created", "made it").ok());
  ListOptions by_object;
  by_object.field_selector = "involvedObject.name=target";
  auto events = client_->List(kEvents, "default", by_object);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->items.size(), 2u);
  for (const auto& event : events->items) {
    EXPECT_EQ(event["involvedObject"]["kind"], "ConfigMap");
    EXPECT_EQ(event["involvedObject"]["uid"], (*target)["metadata"]["uid"]);
    EXPECT_EQ(event["source"]["component"], "pygrid-operator");
    EXPECT_EQ(event["reportingComponent"], "test.pygrid.dev/operator");
    EXPECT_EQ(event["reportingInstance"], "pod-1");
    if (event["reason"] == "FailedCreate") {
      EXPECT_EQ(event["count"], 3);
      EXPECT_EQ(event["type"], "Warning");
      EXPECT_EQ(event["firstTimestamp"], "2026-01-01T00:00:00Z");
      EXPECT_EQ(event["lastTimestamp"], "2026-01-01T00:00:02Z");
    } else {
      EXPECT_EQ(event["count"], 1);
    }
  }
  // 4 tokens used; 21 more pass, then the filter drops until a token refills (1 per 5 min).
  int accepted = 0, dropped = 0;
  for (int i = 0; i < 30; ++i) {
    Status st = recorder.RecordNow(*target, EventType::kWarning, "Flood" + std::to_string(i), "x");
    st.ok() ? ++accepted : (st.IsRateLimited() ? ++dropped : 0);
  }
  EXPECT_EQ(accepted, 21);
  EXPECT_EQ(dropped, 9);
  clock.Advance(seconds(300));
  EXPECT_TRUE(recorder.RecordNow(*target, EventType::kWarning, "AfterRefill", "x").ok());
  EXPECT_TRUE(recorder.RecordNow(*target, EventType::kWarning, "TooSoon", "x").IsRateLimited());
  // Another object has its own budget.
  auto other = client_->Create(kConfigMaps, "default", ConfigMap("other", "0"));
  EXPECT_TRUE(recorder.RecordNow(*other, EventType::kNormal, "Created", "x").ok());
  events = client_->List(kEvents, "default", by_object);
  EXPECT_EQ(events->items.size(), 2u + 21u + 1u);

  // The asynchronous path writes too.
  recorder.Event(*other, EventType::kNormal, "Async", "queued");
  ASSERT_TRUE(recorder.Flush(milliseconds(20000)));
  by_object.field_selector = "involvedObject.name=other,reason=Async";
  EXPECT_EQ(client_->List(kEvents, "default", by_object)->items.size(), 1u);
}

}  // namespace
}  // namespace pygrid::kube
