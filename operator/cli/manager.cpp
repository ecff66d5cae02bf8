#include "cli/manager.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "bootstrap/templates.h"
#include "cli/kube_metrics.h"
#include "cli/operator_identity.h"
#include "cloud/genesis/genesis_client.h"
#include "controller/cloud_accounts.h"
#include "controller/credentials.h"
#include "controller/orphans.h"
#include "controller/reconciler.h"
#include "controller/resources.h"
#include "core/executor.h"
#include "kube/config.h"
#include "kube/controller.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/leader_election.h"
#include "kube/rest_client.h"
#include "kube/workqueue.h"
#include "observability/access_review.h"
#include "observability/endpoints.h"
#include "observability/http_server.h"
#include "observability/log.h"
#include "observability/metrics.h"
#include "observability/redact.h"
#include "observability/scrape_authorizer.h"
#include "observability/serving_certificate.h"
#include "probe/prober.h"

namespace pygrid::cli {

namespace {

using controller::CloudAccounts;
using controller::kControllerName;
using controller::PyGridClusters;
using controller::Reconciler;
using controller::ReconcilerDeps;
using controller::ReconcilerOptions;
using controller::Secrets;
using nlohmann::json;

// How long the informers may take to fill their caches before the operator gives up (and its
// Deployment restarts it), like controller-runtime's CacheSyncTimeout (2 minutes).
constexpr auto kCacheSyncTimeout = std::chrono::minutes(2);

const observability::Logger& Log() {
  static const observability::Logger logger("setup");
  return logger;
}

void SleepUntilStopped(const std::atomic<bool>& stop, const std::atomic<bool>& also) {
  while (!stop.load() && !also.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

}  // namespace

bool NeedsReconcile(const json& before, const json& after) {
  const json& old_meta = before.value("metadata", json::object());
  const json& new_meta = after.value("metadata", json::object());
  return old_meta.value("generation", int64_t{0}) != new_meta.value("generation", int64_t{0}) ||
         old_meta.value("deletionTimestamp", "") != new_meta.value("deletionTimestamp", "") ||
         old_meta.value("finalizers", json::array()) != new_meta.value("finalizers", json::array());
}

int RunManager(const ManagerOptions& options, std::atomic<bool>& stop) {
  observability::Metrics metrics;
  PrometheusKubeMetrics kube_metrics(metrics);

  StatusOr<kube::RestConfig> config = kube::LoadConfig({options.kubeconfig, "", true});
  if (!config.ok()) {
    Log().Error("cannot load the Kubernetes configuration", config.status());
    return 1;
  }
  config->qps = options.kube_api_qps;
  config->burst = options.kube_api_burst;
  StatusOr<std::unique_ptr<kube::RestClient>> client =
      kube::RestClient::Create(*config, {kube_metrics.NewRestClientMetrics(), nullptr});
  if (!client.ok()) {
    Log().Error("cannot build the Kubernetes client", client.status());
    return 1;
  }
  kube::KubeClient& kube = **client;

  observability::HealthChecks health;
  observability::HttpServerOptions metrics_serving;
  metrics_serving.bind_address = options.metrics_bind_address;
  metrics_serving.handler = observability::MetricsHandler(metrics);
  metrics_serving.threads = 4;  // a scrape may wait for its reviews
  // Prometheus' default scrape timeout; connections stay capped.
  metrics_serving.connection_deadline = std::chrono::seconds(10);
  std::unique_ptr<kube::RestClient> review_client;
  std::unique_ptr<observability::KubeAccessReviews> reviews;
  std::unique_ptr<observability::ScrapeAuthorizer> scrape_authorizer;
  const bool metrics_enabled =
      !options.metrics_bind_address.empty() && options.metrics_bind_address != "0";
  if (options.metrics_secure && metrics_enabled) {
    StatusOr<std::shared_ptr<observability::ServingCertificate>> certificate =
        options.metrics_cert_dir.empty()
            ? observability::ServingCertificate::SelfSigned({options.pod_name})
            : observability::ServingCertificate::FromDirectory(options.metrics_cert_dir,
                                                               RealClock::Instance());
    if (!certificate.ok()) {
      Log().Error("cannot set up the metrics server's certificate", certificate.status());
      return 1;
    }
    // Reviews time out after 10 s, as controller-runtime's filter's do.
    kube::RestConfig review_config = *config;
    review_config.request_timeout = std::chrono::seconds(10);
    StatusOr<std::unique_ptr<kube::RestClient>> created_review_client =
        kube::RestClient::Create(review_config, {kube_metrics.NewRestClientMetrics(), nullptr});
    if (!created_review_client.ok()) {
      Log().Error("cannot build the metrics authentication client", created_review_client.status());
      return 1;
    }
    review_client = std::move(*created_review_client);
    reviews = std::make_unique<observability::KubeAccessReviews>(*review_client);
    scrape_authorizer =
        std::make_unique<observability::ScrapeAuthorizer>(*reviews, RealClock::Instance());
    metrics_serving.handler = scrape_authorizer->Protect(std::move(metrics_serving.handler));
    metrics_serving.certificate = std::move(*certificate);
  }
  if (options.enable_http2) {
    Log().Info("--enable-http2 has no effect: the metrics and probe servers speak HTTP/1.1 only");
  }
  StatusOr<std::unique_ptr<observability::HttpServer>> metrics_server =
      observability::HttpServer::Start(std::move(metrics_serving));
  StatusOr<std::unique_ptr<observability::HttpServer>> probe_server =
      observability::HttpServer::Start(options.health_probe_bind_address, health.Handler());
  if (!metrics_server.ok() || !probe_server.ok()) {
    Log().Error("cannot serve metrics or health probes",
                metrics_server.ok() ? probe_server.status() : metrics_server.status());
    return 1;
  }
  Log().Info("serving", {{"metrics", *metrics_server ? (*metrics_server)->port() : 0},
                         {"metricsSecure", options.metrics_secure},
                         {"healthProbe", *probe_server ? (*probe_server)->port() : 0}});

  StatusOr<bootstrap::SshKeyPair> operator_key =
      EnsureOperatorKey(kube, options.operator_namespace, options.ssh_key_secret);
  if (!operator_key.ok()) {
    Log().Error("cannot load or create the operator's SSH key", operator_key.status(),
                {{"secret", options.operator_namespace + "/" + options.ssh_key_secret}});
    return 1;
  }
  observability::RegisterSecret(operator_key->private_key);

  std::optional<bootstrap::Templates> custom_templates;
  if (!options.templates_dir.empty()) {
    StatusOr<bootstrap::Templates> loaded =
        bootstrap::Templates::FromDirectory(options.templates_dir);
    if (!loaded.ok()) {
      Log().Error("cannot load the cloud-init templates", loaded.status());
      return 1;
    }
    custom_templates = std::move(*loaded);
  }

  CloudAccounts clouds(
      [&](const std::string& token) -> cloud::CloudProviderPtr {
        cloud::genesis::GenesisOptions genesis;
        genesis.base_url = options.genesis_api_url;
        genesis.token = token;
        genesis.requests_per_second = options.genesis_requests_per_second;
        genesis.request_timeout = options.genesis_request_timeout;
        genesis.hook = [&metrics](const cloud::RequestRecord& record) {
          metrics.ObserveGenesisRequest(record.operation, record.method, record.status,
                                        record.duration.count(), record.rate_limited,
                                        record.attempt > 1);
        };
        return cloud::genesis::MakeGenesisClient(std::move(genesis));
      },
      RealClock::Instance(),
      {std::chrono::duration_cast<Clock::Duration>(options.poll_interval / 2),
       std::chrono::minutes(10)});
  probe::ProberPtr prober = probe::MakeProber();
  // Events use a client (and rate limit) of their own, as controller-runtime's recorder
  // provider does: a burst of events never delays a reconcile's own requests.
  StatusOr<std::unique_ptr<kube::RestClient>> events_client =
      kube::RestClient::Create(*config, {kube_metrics.NewRestClientMetrics(), nullptr});
  if (!events_client.ok()) {
    Log().Error("cannot build the events client", events_client.status());
    return 1;
  }
  kube::EventRecorder events(
      **events_client,
      {"pygrid-operator", "", "distributor.pygrid.dev/pygrid-operator",
       options.pod_name.empty() ? kube::DefaultLeaderIdentity() : options.pod_name});

  kube::ControllerOptions controller_options;
  controller_options.name = kControllerName;
  controller_options.workers = options.max_concurrent_reconciles;
  controller_options.metrics = &kube_metrics;
  controller_options.on_error = [](const std::string& key, const Status& error, bool terminal) {
    observability::Logger("controller.pygridcluster")
        .Error("reconcile failed", error, {{"key", key}, {"terminal", terminal}});
  };

  // Both caches drop managedFields, which no reader needs (status writes and finalizer updates
  // send the object without them, and the API server keeps the stored ones).
  kube::InformerOptions cluster_informer_options;
  cluster_informer_options.resource = PyGridClusters();
  cluster_informer_options.ns = options.watch_namespace;
  cluster_informer_options.transform = kube::StripManagedFields;
  kube::Informer clusters(kube, cluster_informer_options);
  kube::InformerOptions secret_informer_options;
  secret_informer_options.resource = Secrets();
  secret_informer_options.ns = options.watch_namespace;
  secret_informer_options.transform = kube::StripManagedFields;
  kube::Informer secrets(kube, secret_informer_options);

  // Prepared images: baked off the reconciles' path, by the sweeper thread below (leader only).
  controller::BakeryOptions bakery_options;
  bakery_options.retention = options.prepared_image_retention;
  bakery_options.bake_timeout = options.bake_timeout;
  controller::Bakery bakery(
      clouds, RealClock::Instance(),
      [&] {
        return controller::WishesOf(
            clusters.List(), [&](const std::string& key) { return secrets.Get(key); }, clouds);
      },
      bakery_options, &metrics, custom_templates ? &*custom_templates : nullptr);

  ReconcilerDeps deps;
  deps.kube = &kube;
  deps.bakery = &bakery;
  deps.get_cluster = [&](const std::string& key) { return clusters.Get(key); };
  deps.get_secret = [&](const std::string& key) { return secrets.Get(key); };
  deps.list_clusters = [&] { return clusters.List(); };
  deps.clouds = &clouds;
  deps.prober = prober.get();
  deps.events = [&events](const json& object, bool warning, const std::string& reason,
                          const std::string& message) {
    events.Event(object, warning ? kube::EventType::kWarning : kube::EventType::kNormal, reason,
                 message);
  };
  deps.metrics = &metrics;
  deps.operator_key = *operator_key;
  deps.templates = custom_templates ? &*custom_templates : &bootstrap::Templates::Builtin();
  deps.clock = &RealClock::Instance();
  BoundedExecutor executor(8);
  deps.executor = &executor;
  ReconcilerOptions reconciler_options;
  reconciler_options.poll_interval = options.poll_interval;
  reconciler_options.resync_interval = options.resync_interval;
  reconciler_options.ssh_port = options.ssh_port;
  reconciler_options.ssh_user = options.ssh_user;
  reconciler_options.operator_namespace = options.operator_namespace;
  reconciler_options.address_delivery_grace =
      std::chrono::duration_cast<std::chrono::seconds>(options.address_delivery_grace);
  Reconciler reconciler(std::move(deps), reconciler_options);
  kube::Controller controller(std::move(controller_options),
                              [&](const std::string& key) { return reconciler.Reconcile(key); });

  // Like controller-runtime's GenerationChangedPredicate: updates that only touch status (most
  // of them the operator's own writes) do not enqueue; otherwise every status write would
  // trigger an immediate reconcile and defeat the requeue delays.
  kube::EventHandlers cluster_handlers = kube::EnqueueHandlers(controller.queue());
  cluster_handlers.on_update = [enqueue = cluster_handlers.on_update](const json& before,
                                                                      const json& after) {
    if (NeedsReconcile(before, after)) enqueue(before, after);
  };
  clusters.AddEventHandler(cluster_handlers);
  // A Secret change re-reconciles every cluster that references it, so a fixed token acts at once.
  auto enqueue_users = [&](const json& secret) {
    const std::string ns = secret["metadata"].value("namespace", "");
    const std::string name = secret["metadata"].value("name", "");
    // Shared, not copied: every credentials copy the operator writes is a Secret event too.
    for (const std::shared_ptr<const json>& object : clusters.Objects()) {
      const json& cluster = *object;
      const auto meta = cluster.find("metadata");
      if (meta == cluster.end() || meta->value("namespace", "") != ns) continue;
      const json& spec = cluster.value("spec", json::object());
      if (spec.value("credentialsSecretRef", json::object()).value("name", "") == name) {
        controller.Enqueue(kube::ObjectKey(cluster));
      }
    }
  };
  kube::EventHandlers secret_handlers;
  secret_handlers.on_add = enqueue_users;
  secret_handlers.on_update = [&](const json&, const json& updated) { enqueue_users(updated); };
  secret_handlers.on_delete = enqueue_users;
  secrets.AddEventHandler(secret_handlers);

  // Ready once the caches are warm, leader or not, so standby replicas pass rollouts.
  health.AddReadyzCheck("informers-synced", [&] {
    return clusters.HasSynced() && secrets.HasSynced() ? Status::Ok()
                                                       : Status::Unavailable("caches not synced");
  });
  clusters.Start();
  secrets.Start();
  // Like controller-runtime's WaitForCacheSync: no reconcile before both caches are warm, or a
  // Secret that exists would look missing (SecretNotFound) for the first moments.
  const auto sync_deadline = std::chrono::steady_clock::now() + kCacheSyncTimeout;
  while (!(clusters.HasSynced() && secrets.HasSynced())) {
    if (stop.load()) break;
    if (std::chrono::steady_clock::now() > sync_deadline) {
      Log().Error("timed out waiting for the informer caches to sync",
                  Status::Timeout("caches not synced after 2 minutes"));
      clusters.Stop();
      secrets.Stop();
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  std::atomic<bool> lost_leadership{false};
  std::unique_ptr<kube::RestClient> lease_client;
  std::unique_ptr<kube::LeaderElector> elector;
  std::thread election;
  if (options.leader_elect) {
    kube::LeaderElectionConfig election_config;
    election_config.lease_namespace = options.leader_election_namespace.empty()
                                          ? options.operator_namespace
                                          : options.leader_election_namespace;
    election_config.lease_name = options.leader_election_id;
    election_config.identity = options.pod_name;
    election_config.lease_duration = options.lease_duration;
    election_config.renew_deadline = options.renew_deadline;
    election_config.retry_period = options.retry_period;
    election_config.metrics = kube_metrics.NewLeaderElectionMetrics();
    election_config.on_started_leading = [&] {
      Log().Info("became leader; starting the controller");
      controller.Start();
    };
    election_config.on_stopped_leading = [&] {
      // Losing the lease stops reconciling at once; the process exits and restarts clean.
      Log().Info("leadership ended; stopping the controller");
      controller.Stop();
      lost_leadership = true;
    };
    // Lease calls time out well inside the renew deadline, so a hung request cannot outlive
    // the leadership it is meant to renew.
    kube::RestConfig lease_config = *config;
    lease_config.request_timeout =
        std::max(std::chrono::seconds(1),
                 std::chrono::duration_cast<std::chrono::seconds>(options.renew_deadline / 2));
    StatusOr<std::unique_ptr<kube::RestClient>> created_lease_client =
        kube::RestClient::Create(lease_config, {kube_metrics.NewRestClientMetrics(), nullptr});
    if (!created_lease_client.ok()) {
      Log().Error("cannot build the leader election client", created_lease_client.status());
      return 1;
    }
    lease_client = std::move(*created_lease_client);
    StatusOr<std::unique_ptr<kube::LeaderElector>> created =
        kube::LeaderElector::Create(*lease_client, election_config);
    if (!created.ok()) {
      Log().Error("invalid leader election settings", created.status());
      return 1;
    }
    elector = std::move(*created);
    election = std::thread([&] {
      Status ended = elector->Run();
      if (!ended.ok()) Log().Error("leader election ended", ended);
    });
  } else {
    controller.Start();
  }

  // Orphaned instances, swept by the leader once per resync interval (the first sweep after one
  // interval, when the reconciles have shown which accounts the operator holds tokens for).
  controller::OrphanCollector orphans(
      clouds, [&] { return clusters.List(); }, RealClock::Instance(),
      {options.orphan_instances == "delete" ? controller::OrphanPolicy::kDelete
                                            : controller::OrphanPolicy::kReport,
       options.orphan_grace_period},
      [&metrics](const std::string& account, int count) {
        metrics.SetOrphanInstances(account, count);
      },
      // The operator's token copies outlive a cluster whose finalizer was removed by hand, so
      // its account is swept even when no cluster uses that token any more; a copy nothing
      // needs any more is dropped.
      [&]() {
        std::vector<controller::OrphanCollector::TokenCopy> found;
        kube::ListOptions copies;
        copies.label_selector = "app.kubernetes.io/managed-by=pygrid-operator";
        StatusOr<kube::ListResult> listed =
            kube.List(controller::Secrets(), options.operator_namespace, copies);
        if (!listed.ok()) return found;
        const std::string prefix = controller::CredentialsCopyName("");
        for (const json& secret : listed->items) {
          const std::string name = secret["metadata"].value("name", "");
          if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0)
            continue;  // the SSH key Secret, say
          controller::CredentialsOrProblem read = controller::ReadToken(
              secret, options.operator_namespace, {name, controller::kCredentialsCopyKey});
          if (read.problem.ok()) found.push_back({name.substr(prefix.size()), read.token});
        }
        return found;
      },
      [&](const std::string& uid) {
        return kube.Delete(controller::Secrets(), options.operator_namespace,
                           controller::CredentialsCopyName(uid));
      });
  std::atomic<bool> sweeper_stop{false};
  std::thread sweeper([&] {
    auto next = std::chrono::steady_clock::now() + options.resync_interval;
    auto next_bake = std::chrono::steady_clock::now() + options.poll_interval;
    while (!sweeper_stop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const bool nudged = bakery.TakeNudge();  // a new grid's first create: bake at once
      if ((nudged || std::chrono::steady_clock::now() >= next_bake) &&
          (!elector || elector->IsLeader())) {
        // Every poll interval while a bake runs, else once per resync interval.
        const bool baking = bakery.Tick();
        next_bake = std::chrono::steady_clock::now() +
                    (baking ? options.poll_interval : options.resync_interval);
      }
      if (std::chrono::steady_clock::now() < next) continue;
      next = std::chrono::steady_clock::now() + options.resync_interval;
      if (elector && !elector->IsLeader()) continue;
      (void)orphans.Sweep();  // reports through the log and the metric
    }
  });

  SleepUntilStopped(stop, lost_leadership);
  sweeper_stop = true;
  sweeper.join();
  Log().Info("shutting down: finishing in-flight reconciles");
  controller.Stop();
  if (elector) {
    elector->Stop();  // releases the lease at once
    election.join();
  }
  clusters.Stop();
  secrets.Stop();
  events.Flush(std::chrono::seconds(5));
  Log().Info("stopped");
  return lost_leadership.load() && !stop.load() ? 1 : 0;
}

}  // namespace pygrid::cli
