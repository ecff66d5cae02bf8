"""The plain manifests: the real `kubectl kustomize manifests/` renders offline, holds the
same objects as the chart's defaults (RBAC compared rule by rule), and every copy of the CRD is
identical to (or, in the chart, a symlink to) crds/ at the repository top."""

import os
import subprocess
import sys
import unittest

import yaml

import sync_manifests
from packaging_lib import (CHART_DIR, NAMESPACE, TOP_CRD, by_kind, kustomize,
                           normalized_rules, one, render)


def without_helm_labels(obj):
    sync_manifests.strip_helm_labels(obj)
    return obj


class ManifestsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.manifests = kustomize()
        cls.chart = render()

    def test_kinds(self):
        self.assertEqual(sorted(o["kind"] for o in self.manifests), sorted([
            "Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole",
            "ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding", "Role",
            "RoleBinding", "Deployment", "Service"]))
        self.assertEqual(one(self.manifests, "Namespace")["metadata"]["name"], NAMESPACE)

    def test_crd_is_the_top_level_file(self):
        with open(TOP_CRD) as f:
            self.assertEqual(one(self.manifests, "CustomResourceDefinition"), yaml.safe_load(f))

    def test_rbac_agrees_with_chart(self):
        for kind in ("ClusterRole", "Role"):
            for chart_role in by_kind(self.chart, kind):
                name = chart_role["metadata"]["name"]
                role = one(self.manifests, kind, name)
                self.assertEqual(normalized_rules(role["rules"]),
                                 normalized_rules(chart_role["rules"]), name)
                self.assertEqual(role["metadata"].get("namespace"),
                                 chart_role["metadata"].get("namespace"), name)
        for kind in ("ClusterRoleBinding", "RoleBinding"):
            for chart_binding in by_kind(self.chart, kind):
                binding = one(self.manifests, kind, chart_binding["metadata"]["name"])
                self.assertEqual(binding["roleRef"], chart_binding["roleRef"])
                self.assertEqual(binding["subjects"], chart_binding["subjects"])

    def test_workload_agrees_with_chart(self):
        for kind in ("Deployment", "Service", "ServiceAccount"):
            chart_obj = without_helm_labels(one(self.chart, kind))
            self.assertEqual(one(self.manifests, kind), chart_obj, kind)

    def test_no_helm_labels(self):
        for obj in self.manifests:
            labels = obj["metadata"].get("labels", {})
            self.assertNotIn("helm.sh/chart", labels, obj["kind"])

    def test_generated_files_and_crd_copies_in_sync(self):
        stale = sync_manifests.drift(sync_manifests.expected_files())
        self.assertEqual(stale, [], "run tests/packaging/sync_manifests.py")

    def test_chart_crd_is_a_symlink_to_the_top_level_file(self):
        link = os.path.join(CHART_DIR, "crds", os.path.basename(TOP_CRD))
        self.assertTrue(os.path.islink(link), link)
        self.assertEqual(os.path.realpath(link), os.path.realpath(TOP_CRD))
        self.assertEqual(os.listdir(os.path.join(CHART_DIR, "crds")), [os.path.basename(TOP_CRD)])

    def test_sync_script_check_mode_passes(self):
        env = dict(os.environ)
        proc = subprocess.run([sys.executable, sync_manifests.__file__, "--check"], env=env,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
