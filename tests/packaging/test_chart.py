"""Structural tests of the Helm chart rendered by the test-only renderer over a matrix of
values: which kinds exist, RBAC verbs and scopes, Deployment args, probes, security contexts,
labels, and the optional monitoring objects."""

import json
import os
import shutil
import tempfile
import unittest

import yaml

from packaging_lib import (CHART_DIR, NAMESPACE, RELEASE, RenderError, by_kind, container,
                           normalized_rules, one, render)

SELECTOR = {"app.kubernetes.io/name": "pygrid-operator",
            "app.kubernetes.io/instance": RELEASE}
# Exactly what the operator's requests need (tests/e2e/rbac_test.cpp measures it).
MANAGER_RULES = normalized_rules([
    {"apiGroups": ["distributor.pygrid.dev"], "resources": ["pygridclusters"],
     "verbs": ["get", "list", "watch", "update"]},
    {"apiGroups": ["distributor.pygrid.dev"], "resources": ["pygridclusters/status"],
     "verbs": ["update"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
])
SELF_RULES = normalized_rules([
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
     "verbs": ["get", "create", "update"]},
    {"apiGroups": [""], "resources": ["secrets"],
     "verbs": ["create", "get", "list", "update", "delete"]},
])
METRICS_AUTH_RULES = normalized_rules([
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"],
     "verbs": ["create"]},
])
METRICS_ROLES = {"pygrid-operator-metrics-auth", "pygrid-operator-metrics-reader"}
RBAC_KINDS = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "Namespace", "CustomResourceDefinition"}


def kinds(objects):
    return sorted(o["kind"] for o in objects)


class DefaultsTest(unittest.TestCase):
    """The chart with its default values."""

    @classmethod
    def setUpClass(cls):
        cls.objects = render()

    def test_kinds(self):
        self.assertEqual(kinds(self.objects), sorted([
            "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding",
            "ClusterRoleBinding", "Deployment", "Role", "RoleBinding", "Service",
            "ServiceAccount"]))

    def test_standard_labels_and_namespaces(self):
        for obj in self.objects:
            labels = obj["metadata"]["labels"]
            where = "%s/%s" % (obj["kind"], obj["metadata"]["name"])
            for key, value in SELECTOR.items():
                self.assertEqual(labels.get(key), value, where)
            self.assertEqual(labels["app.kubernetes.io/managed-by"], "Helm", where)
            self.assertEqual(labels["app.kubernetes.io/version"], "0.1.0", where)
            self.assertEqual(labels["helm.sh/chart"], "pygrid-operator-0.1.0", where)
            if obj["kind"] in CLUSTER_SCOPED:
                self.assertNotIn("namespace", obj["metadata"], where)
            else:
                self.assertEqual(obj["metadata"]["namespace"], NAMESPACE, where)

    def test_deployment_args(self):
        deployment = one(self.objects, "Deployment")
        self.assertEqual(deployment["spec"]["replicas"], 2)
        self.assertEqual(container(self.objects)["args"], [
            "--leader-elect", "--leader-election-namespace=pygrid-system",
            "--metrics-bind-address=:8443", "--metrics-secure=true",
            "--health-probe-bind-address=:8081",
            "--max-concurrent-reconciles=4",
            "--genesis-api-url=https://api.genesiscloud.com/compute/v1",
            "--ssh-port=22", "--ssh-key-secret=pygrid-operator-ssh",
            "--log-format=json", "--log-level=info"])

    def test_image_and_env(self):
        c = container(self.objects)
        self.assertEqual(c["image"], "pygrid-operator:0.1.0")
        env = {e["name"]: e for e in c["env"]}
        self.assertEqual(env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"],
                         "metadata.namespace")

    def test_probes_and_ports(self):
        c = container(self.objects)
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(ports, {"metrics": 8443, "health": 8081})
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "health"})
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "health"})

    def test_security_contexts(self):
        pod = one(self.objects, "Deployment")["spec"]["template"]["spec"]
        self.assertEqual(pod["securityContext"]["runAsNonRoot"], True)
        self.assertEqual(pod["securityContext"]["runAsUser"], 65532)
        self.assertEqual(pod["securityContext"]["seccompProfile"], {"type": "RuntimeDefault"})
        sc = container(self.objects)["securityContext"]
        self.assertIs(sc["readOnlyRootFilesystem"], True)
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])

    def test_tmp_is_the_only_writable_mount(self):
        pod = one(self.objects, "Deployment")["spec"]["template"]["spec"]
        self.assertEqual(container(self.objects)["volumeMounts"],
                         [{"name": "tmp", "mountPath": "/tmp"}])
        self.assertIn("emptyDir", pod["volumes"][0])

    def test_default_anti_affinity_spreads_replicas_across_nodes(self):
        deployment = one(self.objects, "Deployment")
        term = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
            "preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
        self.assertEqual(term["topologyKey"], "kubernetes.io/hostname")
        self.assertEqual(term["labelSelector"]["matchLabels"], SELECTOR)

    def test_selector_matches_pods(self):
        deployment = one(self.objects, "Deployment")
        self.assertEqual(deployment["spec"]["selector"]["matchLabels"], SELECTOR)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        self.assertLessEqual(SELECTOR.items(), pod_labels.items())
        service = one(self.objects, "Service")
        self.assertEqual(service["spec"]["selector"], SELECTOR)
        self.assertEqual(service["spec"]["ports"],
                         [{"name": "metrics", "port": 8443, "targetPort": "metrics",
                           "protocol": "TCP"}])

    def test_cluster_rbac_is_least_privilege(self):
        role = one(self.objects, "ClusterRole", "pygrid-operator-manager")
        self.assertEqual(normalized_rules(role["rules"]), MANAGER_RULES)
        binding = one(self.objects, "ClusterRoleBinding", "pygrid-operator-manager")
        self.assertEqual(binding["roleRef"]["name"], role["metadata"]["name"])
        self.assertEqual(binding["subjects"], [
            {"kind": "ServiceAccount", "name": "pygrid-operator", "namespace": NAMESPACE}])

    def test_own_namespace_role(self):
        role = one(self.objects, "Role")
        self.assertEqual(role["metadata"]["namespace"], NAMESPACE)
        self.assertEqual(normalized_rules(role["rules"]), SELF_RULES)
        binding = one(self.objects, "RoleBinding")
        self.assertEqual(binding["roleRef"], {"apiGroup": "rbac.authorization.k8s.io",
                                              "kind": "Role", "name": role["metadata"]["name"]})

    def test_no_wildcards_and_no_secret_writes_cluster_wide(self):
        for obj in self.objects:
            for rule in obj.get("rules", []):
                for field in ("apiGroups", "resources", "verbs"):
                    self.assertNotIn("*", rule.get(field, []), obj["metadata"]["name"])
        cluster = normalized_rules(
            one(self.objects, "ClusterRole", "pygrid-operator-manager")["rules"])
        self.assertEqual({r[3] for r in cluster if r[1] == "secrets"},
                         {"get", "list", "watch"})

    def test_secure_metrics_rbac(self):
        # The operator may create the two reviews (system:auth-delegator's rules), nothing more.
        auth = one(self.objects, "ClusterRole", "pygrid-operator-metrics-auth")
        self.assertEqual(normalized_rules(auth["rules"]), METRICS_AUTH_RULES)
        binding = one(self.objects, "ClusterRoleBinding", "pygrid-operator-metrics-auth")
        self.assertEqual(binding["roleRef"], {"apiGroup": "rbac.authorization.k8s.io",
                                              "kind": "ClusterRole",
                                              "name": "pygrid-operator-metrics-auth"})
        self.assertEqual(binding["subjects"], [
            {"kind": "ServiceAccount", "name": "pygrid-operator", "namespace": NAMESPACE}])
        # Scrapers get kubebuilder's metrics-reader role; nobody is bound to it by default.
        reader = one(self.objects, "ClusterRole", "pygrid-operator-metrics-reader")
        self.assertEqual(normalized_rules(reader["rules"]), {(None, "/metrics", "*", "get")})
        self.assertEqual([b for b in by_kind(self.objects, "ClusterRoleBinding")
                          if b["roleRef"]["name"] == "pygrid-operator-metrics-reader"], [])

    def test_service_account(self):
        sa = one(self.objects, "ServiceAccount")
        self.assertEqual(sa["metadata"]["name"], "pygrid-operator")
        pod = one(self.objects, "Deployment")["spec"]["template"]["spec"]
        self.assertEqual(pod["serviceAccountName"], "pygrid-operator")

    def test_notes(self):
        notes = render(notes=True)
        self.assertIn("kubectl -n default create secret generic", notes)
        self.assertIn("kubectl apply -f manifests/examples/pygridcluster.yaml", notes)
        self.assertIn("--from-literal=token=", notes)
        self.assertIn("kubectl apply --server-side -f crds/", notes)
        self.assertIn("pygrid-operator-metrics, port 8443, path /metrics (HTTPS)", notes)
        self.assertIn("ClusterRole pygrid-operator-metrics-reader", notes)
        self.assertIn("self-signed", notes)


class WatchNamespaceTest(unittest.TestCase):
    """watchNamespace set: the reconciler's rights become a Role in that namespace."""

    @classmethod
    def setUpClass(cls):
        cls.objects = render(sets=["watchNamespace=team-a"])

    def test_only_the_metrics_review_rbac_is_cluster_scoped(self):
        # TokenReviews and SubjectAccessReviews are cluster-scoped; the reconciler's rights are
        # not. With plain metrics nothing is cluster-scoped.
        self.assertEqual({r["metadata"]["name"] for r in by_kind(self.objects, "ClusterRole")},
                         METRICS_ROLES)
        self.assertEqual(
            [b["metadata"]["name"] for b in by_kind(self.objects, "ClusterRoleBinding")],
            ["pygrid-operator-metrics-auth"])
        plain = render(sets=["watchNamespace=team-a", "metrics.secure=false"])
        self.assertEqual(by_kind(plain, "ClusterRole"), [])
        self.assertEqual(by_kind(plain, "ClusterRoleBinding"), [])

    def test_manager_role_in_watched_namespace(self):
        role = one(self.objects, "Role", "pygrid-operator-manager")
        self.assertEqual(role["metadata"]["namespace"], "team-a")
        self.assertEqual(normalized_rules(role["rules"]), MANAGER_RULES)
        binding = one(self.objects, "RoleBinding", "pygrid-operator-manager")
        self.assertEqual(binding["metadata"]["namespace"], "team-a")
        self.assertEqual(binding["subjects"][0]["namespace"], NAMESPACE)
        self.assertEqual(binding["roleRef"]["kind"], "Role")

    def test_own_namespace_role_unchanged(self):
        role = one(self.objects, "Role", "pygrid-operator-self")
        self.assertEqual(role["metadata"]["namespace"], NAMESPACE)
        self.assertEqual(normalized_rules(role["rules"]), SELF_RULES)

    def test_namespace_flag(self):
        self.assertIn("--namespace=team-a", container(self.objects)["args"])

    def test_notes_use_watched_namespace(self):
        notes = render(sets=["watchNamespace=team-a"], notes=True)
        self.assertIn("kubectl -n team-a create secret generic", notes)


class RbacAndServiceAccountOffTest(unittest.TestCase):

    def test_rbac_off_renders_no_rbac(self):
        objects = render(sets=["rbac.create=false"])
        self.assertEqual([o for o in objects if o["kind"] in RBAC_KINDS], [])
        self.assertEqual(len(by_kind(objects, "ServiceAccount")), 1)
        self.assertIn("rbac.create=false", render(sets=["rbac.create=false"], notes=True))

    def test_service_account_off_uses_given_name(self):
        objects = render(sets=["serviceAccount.create=false", "serviceAccount.name=ops"])
        self.assertEqual(by_kind(objects, "ServiceAccount"), [])
        pod = one(objects, "Deployment")["spec"]["template"]["spec"]
        self.assertEqual(pod["serviceAccountName"], "ops")
        for binding in by_kind(objects, "ClusterRoleBinding") + by_kind(objects, "RoleBinding"):
            self.assertEqual(binding["subjects"][0]["name"], "ops")

    def test_service_account_off_without_name_uses_default(self):
        objects = render(sets=["serviceAccount.create=false"])
        pod = one(objects, "Deployment")["spec"]["template"]["spec"]
        self.assertEqual(pod["serviceAccountName"], "default")


class OptionsTest(unittest.TestCase):
    """Values that change the Deployment."""

    def test_leader_election_off(self):
        objects = render(sets=["leaderElection.enabled=false", "replicaCount=1"])
        args = container(objects)["args"]
        self.assertFalse([a for a in args if a.startswith("--leader-elect")])
        self.assertEqual(one(objects, "Deployment")["spec"]["replicas"], 1)

    def test_flags_from_values(self):
        objects = render(values={
            "maxConcurrentReconciles": 8, "genesis": {"apiURL": "http://127.0.0.1:9000/v1"},
            "pollInterval": "5s", "resyncInterval": "10m", "sshPort": 2222,
            "logFormat": "text", "logLevel": "debug", "extraArgs": ["--x=1"],
            "metrics": {"port": 9090}, "healthProbe": {"port": 9091},
            "image": {"repository": "registry.example/pygrid", "tag": "1.2.3"},
            "sshKeySecret": {"name": "my-ssh"}})
        c = container(objects)
        for flag in ("--max-concurrent-reconciles=8", "--genesis-api-url=http://127.0.0.1:9000/v1",
                     "--poll-interval=5s", "--resync-interval=10m", "--ssh-port=2222",
                     "--log-format=text", "--log-level=debug", "--x=1",
                     "--metrics-bind-address=:9090", "--health-probe-bind-address=:9091",
                     "--ssh-key-secret=my-ssh"):
            self.assertIn(flag, c["args"])
        self.assertEqual(c["image"], "registry.example/pygrid:1.2.3")
        self.assertEqual({p["name"]: p["containerPort"] for p in c["ports"]},
                         {"metrics": 9090, "health": 9091})
        self.assertEqual(one(objects, "Service")["spec"]["ports"][0]["port"], 9090)

    def test_user_affinity_replaces_default(self):
        affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "pool", "operator": "In", "values": ["ops"]}]}]}}}
        objects = render(values={"affinity": affinity, "nodeSelector": {"pool": "ops"},
                                 "tolerations": [{"key": "k", "operator": "Exists"}],
                                 "priorityClassName": "high", "imagePullSecrets": [{"name": "r"}]})
        pod = one(objects, "Deployment")["spec"]["template"]["spec"]
        self.assertEqual(pod["affinity"], affinity)
        self.assertEqual(pod["nodeSelector"], {"pool": "ops"})
        self.assertEqual(pod["priorityClassName"], "high")
        self.assertEqual(pod["imagePullSecrets"], [{"name": "r"}])

    def test_metrics_off_removes_service_and_monitor(self):
        objects = render(sets=["metrics.enabled=false", "metrics.serviceMonitor.enabled=true"])
        self.assertEqual(by_kind(objects, "Service"), [])
        self.assertEqual(by_kind(objects, "ServiceMonitor"), [])
        self.assertEqual({r["metadata"]["name"] for r in by_kind(objects, "ClusterRole")},
                         {"pygrid-operator-manager"})

    def test_plain_metrics(self):
        objects = render(sets=["metrics.secure=false", "metrics.port=8080"])
        args = container(objects)["args"]
        self.assertIn("--metrics-secure=false", args)
        self.assertIn("--metrics-bind-address=:8080", args)
        self.assertFalse([a for a in args if a.startswith("--metrics-cert-dir")])
        self.assertEqual({r["metadata"]["name"] for r in by_kind(objects, "ClusterRole")},
                         {"pygrid-operator-manager"})
        notes = render(sets=["metrics.secure=false"], notes=True)
        self.assertIn("(plain HTTP, no authentication)", notes)

    def test_metrics_certificate_from_a_secret(self):
        objects = render(sets=["metrics.certSecret=metrics-tls"])
        c = container(objects)
        self.assertIn("--metrics-cert-dir=/tmp/k8s-metrics-server/metrics-certs", c["args"])
        self.assertIn({"name": "metrics-certs",
                       "mountPath": "/tmp/k8s-metrics-server/metrics-certs",
                       "readOnly": True}, c["volumeMounts"])
        pod = one(objects, "Deployment")["spec"]["template"]["spec"]
        volume = [v for v in pod["volumes"] if v["name"] == "metrics-certs"][0]
        self.assertEqual(volume["secret"], {"secretName": "metrics-tls", "items": [
            {"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}]})
        self.assertNotIn("self-signed", render(sets=["metrics.certSecret=metrics-tls"],
                                               notes=True))
        # Ignored for plain HTTP.
        plain = render(sets=["metrics.certSecret=metrics-tls", "metrics.secure=false"])
        self.assertEqual([m["name"] for m in container(plain)["volumeMounts"]], ["tmp"])

    def test_metrics_readers_are_bound(self):
        objects = render(values={"metrics": {"port": 8443, "readers": [
            {"name": "kube-prometheus-stack-prometheus", "namespace": "monitoring"},
            {"name": "grafana-agent", "namespace": "agents"}]}})
        binding = one(objects, "ClusterRoleBinding", "pygrid-operator-metrics-reader")
        self.assertEqual(binding["roleRef"]["name"], "pygrid-operator-metrics-reader")
        self.assertEqual(binding["subjects"], [
            {"kind": "ServiceAccount", "name": "kube-prometheus-stack-prometheus",
             "namespace": "monitoring"},
            {"kind": "ServiceAccount", "name": "grafana-agent", "namespace": "agents"}])

    def test_release_name_shapes_full_name(self):
        objects = render(release="ops")
        self.assertEqual(one(objects, "Deployment")["metadata"]["name"], "ops-pygrid-operator")
        objects = render(sets=["fullnameOverride=grid"])
        self.assertEqual(one(objects, "Deployment")["metadata"]["name"], "grid")


def chart_copy_with_monitoring(tmp, rules_text):
    """A copy of the chart with a fixture dashboard and alert file, so the templates that wrap
    them are tested whatever the real files contain."""
    chart = os.path.join(tmp, "pygrid-operator")
    shutil.copytree(CHART_DIR, chart, symlinks=False)
    for sub in ("dashboards", "alerts"):
        shutil.rmtree(os.path.join(chart, sub), ignore_errors=True)
        os.makedirs(os.path.join(chart, sub))
    with open(os.path.join(chart, "dashboards", "fixture.json"), "w") as f:
        json.dump({"title": "Fixture", "panels": []}, f)
    with open(os.path.join(chart, "alerts", "pygrid-operator.rules.yaml"), "w") as f:
        f.write(rules_text)
    return chart


FIXTURE_RULES = """groups:
  - name: fixture
    rules:
      - alert: FixtureAlert
        expr: up == 0
        for: 5m
        labels: {severity: warning}
        annotations: {summary: "fixture"}
"""
ALL_ON = ["metrics.serviceMonitor.enabled=true", "grafanaDashboard.enabled=true",
          "prometheusRule.enabled=true", "metrics.serviceMonitor.additionalLabels.release=kps",
          "prometheusRule.additionalLabels.release=kps", "grafanaDashboard.namespace=monitoring"]


class MonitoringTest(unittest.TestCase):
    """serviceMonitor, grafanaDashboard and prometheusRule all on."""

    def test_service_monitor_selects_metrics_service(self):
        objects = render(sets=ALL_ON)
        monitor = one(objects, "ServiceMonitor")
        self.assertEqual(monitor["metadata"]["labels"]["release"], "kps")
        # kubebuilder's scaffolded monitor: HTTPS, Prometheus' own token, self-signed accepted.
        self.assertEqual(monitor["spec"]["endpoints"],
                         [{"port": "metrics", "path": "/metrics", "scheme": "https",
                           "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
                           "tlsConfig": {"insecureSkipVerify": True},
                           "honorLabels": True, "interval": "30s"}])
        service = one(objects, "Service")
        self.assertLessEqual(monitor["spec"]["selector"]["matchLabels"].items(),
                             service["metadata"]["labels"].items())
        self.assertEqual(monitor["spec"]["namespaceSelector"]["matchNames"], [NAMESPACE])

    def test_service_monitor_authorization_and_tls_from_values(self):
        objects = render(values={"metrics": {"port": 8443, "certSecret": "metrics-tls",
                                             "serviceMonitor": {
            "enabled": True, "insecureSkipVerify": False,
            "authorization": {"type": "Bearer",
                              "credentials": {"name": "prom-token", "key": "token"}},
            "tlsConfig": {"ca": {"secret": {"name": "metrics-ca", "key": "ca.crt"}},
                          "serverName": "pygrid-operator-metrics.pygrid-system.svc"}}}})
        endpoint = one(objects, "ServiceMonitor")["spec"]["endpoints"][0]
        self.assertEqual(endpoint["authorization"],
                         {"type": "Bearer", "credentials": {"name": "prom-token", "key": "token"}})
        self.assertNotIn("bearerTokenFile", endpoint)
        self.assertEqual(endpoint["tlsConfig"]["serverName"],
                         "pygrid-operator-metrics.pygrid-system.svc")
        self.assertNotIn("insecureSkipVerify", endpoint["tlsConfig"])

    def test_plain_service_monitor(self):
        objects = render(sets=ALL_ON + ["metrics.secure=false"])
        self.assertEqual(one(objects, "ServiceMonitor")["spec"]["endpoints"],
                         [{"port": "metrics", "path": "/metrics", "scheme": "http",
                           "honorLabels": True, "interval": "30s"}])

    def test_dashboard_and_rules_from_chart_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            objects = render(sets=ALL_ON, chart_dir=chart_copy_with_monitoring(tmp, FIXTURE_RULES))
        cm = one(objects, "ConfigMap")
        self.assertEqual(cm["metadata"]["labels"]["grafana_dashboard"], "1")
        self.assertEqual(cm["metadata"]["namespace"], "monitoring")
        self.assertEqual(json.loads(cm["data"]["fixture.json"])["title"], "Fixture")
        rule = one(objects, "PrometheusRule")
        self.assertEqual(rule["metadata"]["labels"]["release"], "kps")
        self.assertEqual(rule["spec"]["groups"], yaml.safe_load(FIXTURE_RULES)["groups"])

    def test_rules_file_without_groups_fails_rendering(self):
        with tempfile.TemporaryDirectory() as tmp:
            chart = chart_copy_with_monitoring(tmp, "not: [a, rule, file]\n")
            with self.assertRaisesRegex(RenderError, "expected a Prometheus rule file"):
                render(sets=ALL_ON, chart_dir=chart)

    def test_real_monitoring_files_when_present(self):
        objects = render(sets=ALL_ON)
        dashboards = [n for n in os.listdir(os.path.join(CHART_DIR, "dashboards"))
                      if n.endswith(".json")] if os.path.isdir(
                          os.path.join(CHART_DIR, "dashboards")) else []
        configmaps = by_kind(objects, "ConfigMap")
        self.assertEqual(len(configmaps), 1 if dashboards else 0)
        for cm in configmaps:
            self.assertEqual(sorted(cm["data"]), sorted(dashboards))
            for text in cm["data"].values():
                json.loads(text)
        rules_file = os.path.join(CHART_DIR, "alerts", "pygrid-operator.rules.yaml")
        rules = by_kind(objects, "PrometheusRule")
        self.assertEqual(len(rules), 1 if os.path.exists(rules_file) else 0)
        for rule in rules:
            with open(rules_file) as f:
                self.assertEqual(rule["spec"]["groups"], yaml.safe_load(f)["groups"])

    def test_all_off_by_default(self):
        objects = render()
        for kind in ("ServiceMonitor", "ConfigMap", "PrometheusRule"):
            self.assertEqual(by_kind(objects, kind), [], kind)


if __name__ == "__main__":
    unittest.main()
