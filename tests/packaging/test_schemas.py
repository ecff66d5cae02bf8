"""Every object the chart renders over the values matrix, and every object of the plain
manifests, validated against Kubernetes' published schemas (kubernetes-models, generated from
the Kubernetes OpenAPI document, and the prometheus-operator CRDs) plus a strict unknown-field
check; and the chart's values validated against values.schema.json."""

import json
import os
import re
import tempfile
import unittest

import yaml

from packaging_lib import (CHART_DIR, k8s_schema_errors, kustomize, render, unknown_fields,
                           values_schema_errors)
from test_chart import ALL_ON, FIXTURE_RULES, chart_copy_with_monitoring

MATRIX = {
    "defaults": [],
    "all-features": ALL_ON,
    "watch-namespace": ["watchNamespace=team-a"],
    "rbac-off": ["rbac.create=false"],
    "service-account-off": ["serviceAccount.create=false", "serviceAccount.name=ops"],
    "single-replica": ["leaderElection.enabled=false", "replicaCount=1", "pollInterval=5s",
                       "resyncInterval=10m", "logFormat=text", "logLevel=debug"],
    "plain-metrics": ["metrics.secure=false", "metrics.port=8080",
                      "metrics.serviceMonitor.enabled=true"],
    "metrics-cert-secret": ["metrics.certSecret=metrics-tls", "metrics.serviceMonitor.enabled=true",
                            "metrics.serviceMonitor.insecureSkipVerify=false"],
}


class KubernetesSchemaTest(unittest.TestCase):

    def assert_valid(self, objects, label):
        self.assertTrue(objects, label)
        errors = k8s_schema_errors(objects)
        for obj, errs in zip(objects, errors):
            where = "%s: %s/%s" % (label, obj.get("kind"), obj["metadata"].get("name"))
            self.assertEqual(errs, [], where)
            self.assertEqual(unknown_fields(obj), [], where + " has fields Kubernetes lacks")

    def test_chart_matrix(self):
        # One validator run for the whole matrix: loading the schemas dominates its cost.
        objects, labels = [], []
        for label, sets in MATRIX.items():
            rendered = render(sets=sets)
            self.assertTrue(rendered, label)
            objects += rendered
            labels += [label] * len(rendered)
        for obj, label, errs in zip(objects, labels, k8s_schema_errors(objects)):
            where = "%s: %s/%s" % (label, obj.get("kind"), obj["metadata"].get("name"))
            self.assertEqual(errs, [], where)
            self.assertEqual(unknown_fields(obj), [], where + " has fields Kubernetes lacks")

    def test_chart_with_dashboard_and_rules(self):
        with tempfile.TemporaryDirectory() as tmp:
            objects = render(sets=ALL_ON, chart_dir=chart_copy_with_monitoring(tmp, FIXTURE_RULES))
        self.assertEqual({o["kind"] for o in objects} & {"ConfigMap", "PrometheusRule",
                                                          "ServiceMonitor"},
                         {"ConfigMap", "PrometheusRule", "ServiceMonitor"})
        self.assert_valid(objects, "all-features with fixture files")

    def test_chart_with_metrics_readers_and_scrape_credentials(self):
        objects = render(values={"metrics": {"port": 8443, "readers": [
            {"name": "prometheus", "namespace": "monitoring"}], "serviceMonitor": {
                "enabled": True, "insecureSkipVerify": False,
                "authorization": {"type": "Bearer",
                                  "credentials": {"name": "prom-token", "key": "token"}},
                "tlsConfig": {"ca": {"secret": {"name": "metrics-ca", "key": "ca.crt"}},
                              "serverName": "pygrid-operator-metrics.pygrid-system.svc"}}}})
        self.assertIn("pygrid-operator-metrics-reader",
                      [b["metadata"]["name"] for b in objects if b["kind"] == "ClusterRoleBinding"])
        self.assert_valid(objects, "metrics readers and scrape credentials")

    def test_manifests(self):
        self.assert_valid(kustomize(), "kubectl kustomize manifests/")

    def test_validator_rejects_broken_objects(self):
        # Guards against a validator that accepts everything (e.g. a missing model).
        objects = render()
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "x"
        deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
        errors = k8s_schema_errors([deployment])[0]
        self.assertTrue(any("containerPort" in e for e in errors), errors)
        self.assertIn("Deployment.spec.template.spec.containers[0].readinesProbe",
                      unknown_fields(deployment))
        self.assertEqual(k8s_schema_errors([{"apiVersion": "x/v1", "kind": "Y",
                                             "metadata": {}}]),
                         [["no schema for x/v1 Y"]])


class ValuesSchemaTest(unittest.TestCase):

    def test_matrix_values_are_valid(self):
        merged = [render(sets=sets, with_values=True)[1] for sets in MATRIX.values()]
        self.assertEqual(values_schema_errors(merged), [[]] * len(merged))

    def test_bad_values_are_rejected(self):
        _, defaults = render(with_values=True)
        cases = {
            "replicaCount": ("two", "/replicaCount"),
            "logFormat": ("xml", "/logFormat"),
            "logLevel": ("loud", "/logLevel"),
            "sshPort": (70000, "/sshPort"),
            "watchNamespace": ("Team_A", "/watchNamespace"),
            "pollInterval": ("5 seconds", "/pollInterval"),
            "replicas": (2, "must NOT have additional properties"),
        }
        nested = {
            ("image", "pullPolicy"): ("Sometimes", "/image/pullPolicy"),
            ("metrics", "port"): ("8080", "/metrics/port"),
            ("rbac", "create"): ("yes", "/rbac/create"),
            ("grafanaDashboard", "labels"): ({"grafana_dashboard": 1},
                                              "/grafanaDashboard/labels/grafana_dashboard"),
            ("genesis", "apiURL"): ("ftp://x", "/genesis/apiURL"),
            ("metrics", "secure"): ("yes", "/metrics/secure"),
            ("metrics", "certSecret"): ("Metrics_TLS", "/metrics/certSecret"),
            ("metrics", "readers"): ([{"name": "prometheus"}], "/metrics/readers/0"),
        }
        inputs, expected = [], []
        for key, (bad, where) in cases.items():
            values = dict(defaults)
            values[key] = bad
            inputs.append(values)
            expected.append(where)
        for (outer, inner), (bad, where) in nested.items():
            values = dict(defaults)
            values[outer] = dict(defaults[outer], **{inner: bad})
            inputs.append(values)
            expected.append(where)
        for values, where, errors in zip(inputs, expected, values_schema_errors(inputs)):
            self.assertTrue(errors, "accepted: " + where)
            self.assertTrue(any(where in e for e in errors), (where, errors))

    def test_set_string_for_integer_is_rejected(self):
        # What `helm install --set-string replicaCount=2` would hit.
        _, values = render(with_values=True)
        values["replicaCount"] = "2"
        self.assertTrue(values_schema_errors([values])[0])


if __name__ == "__main__":
    unittest.main()


ISSUE_KEYS = [  # the keys issue 8 requires values.yaml to document
    "image.repository", "image.tag", "image.pullPolicy", "imagePullSecrets", "replicaCount",
    "leaderElection.enabled", "watchNamespace", "maxConcurrentReconciles", "genesis.apiURL",
    "logFormat", "logLevel", "resources", "podSecurityContext", "securityContext",
    "nodeSelector", "tolerations", "affinity", "priorityClassName", "serviceAccount.create",
    "serviceAccount.name", "serviceAccount.annotations", "rbac.create", "metrics.enabled",
    "metrics.port", "metrics.serviceMonitor.enabled", "metrics.serviceMonitor.interval",
    "metrics.serviceMonitor.additionalLabels", "grafanaDashboard.enabled",
    "grafanaDashboard.labels", "grafanaDashboard.namespace", "prometheusRule.enabled",
    "prometheusRule.additionalLabels",
]
# Objects passed through to Kubernetes as they are: their children need no comment of their own.
PASSTHROUGH = {"resources", "podSecurityContext", "securityContext", "grafanaDashboard.labels"}


class ValuesDocumentationTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(CHART_DIR, "values.yaml")) as f:
            cls.lines = f.read().splitlines()
        with open(os.path.join(CHART_DIR, "values.yaml")) as f:
            cls.values = yaml.safe_load(f)
        with open(os.path.join(CHART_DIR, "values.schema.json")) as f:
            cls.schema = json.load(f)

    def test_issue_keys_present(self):
        for key in ISSUE_KEYS:
            node = self.values
            for part in key.split("."):
                self.assertIn(part, node, key)
                node = node[part]
        self.assertEqual(self.values["grafanaDashboard"]["labels"], {"grafana_dashboard": "1"})

    def test_schema_covers_exactly_the_values(self):
        def compare(values, schema, path):
            props = set(schema.get("properties", {})) - {"global"}
            if path.rstrip(".") in PASSTHROUGH:  # Kubernetes' own fields, not all defaulted
                self.assertLessEqual(set(values), props, path)
            else:
                self.assertEqual(set(values), props, path or "top level")
            for key, value in values.items():
                sub = schema["properties"][key]
                if isinstance(value, dict) and sub.get("additionalProperties") is False:
                    compare(value, sub, path + key + ".")
        compare(self.values, self.schema, "")

    def test_every_key_has_a_comment(self):
        stack = []  # (indent, key) of the enclosing keys
        for i, line in enumerate(self.lines):
            m = re.match(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):", line)
            if not m:
                continue
            indent = len(m.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            parents = ".".join(k for _, k in stack)
            stack.append((indent, m.group(2)))
            if any(parents == p or parents.startswith(p + ".") for p in PASSTHROUGH):
                continue
            previous = self.lines[i - 1].strip() if i else ""
            self.assertTrue(previous.startswith("#"),
                            "values.yaml line %d (%s) has no comment above it" % (i + 1, line))
