"""Every object the chart renders over the values matrix, and every object of the plain
manifests, validated against Kubernetes' published schemas (kubernetes-models, generated from
the Kubernetes OpenAPI document, and the prometheus-operator CRDs) plus a strict unknown-field
check; and the chart's values validated against values.schema.json."""

import os
import tempfile
import unittest

from packaging_lib import (k8s_schema_errors, kustomize, render, unknown_fields,
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
        for label, sets in MATRIX.items():
            with self.subTest(label):
                self.assert_valid(render(sets=sets), label)

    def test_chart_with_dashboard_and_rules(self):
        with tempfile.TemporaryDirectory() as tmp:
            objects = render(sets=ALL_ON, chart_dir=chart_copy_with_monitoring(tmp, FIXTURE_RULES))
        self.assertEqual({o["kind"] for o in objects} & {"ConfigMap", "PrometheusRule",
                                                          "ServiceMonitor"},
                         {"ConfigMap", "PrometheusRule", "ServiceMonitor"})
        self.assert_valid(objects, "all-features with fixture files")

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
