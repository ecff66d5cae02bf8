"""The rendered Helm chart against kube-sim with the real kubectl: `kubectl apply -f` of the
render (default values, and watchNamespace set) succeeds, with `--dry-run=server` first (which
stores nothing), and kube-sim then authorizes the chart's ServiceAccount by the RBAC it just
stored: what the roles grant is allowed, anything else is kubectl's "Forbidden" with the API
server's message. The chart is rendered by the packaging tests' renderer (tests/packaging;
ctest's packaging_tools fixture builds it). Run: /usr/bin/python3 chart_test.py (env
KUBE_SIM_BIN, PYGRID_SOURCE_DIR, PACKAGING_OUT)."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubesim_fixture import KubeSim, project_file  # noqa: E402

sys.path.insert(0, project_file("tests", "packaging"))
import packaging_lib  # noqa: E402

CRD = project_file("crds", "pygridclusters.distributor.pygrid.dev.yaml")
SA_USER = "system:serviceaccount:pygrid-system:pygrid-operator"
SA_TOKEN = "chart-test-operator-token"


class ChartTest(unittest.TestCase):
    def setUp(self):
        self.sim = KubeSim().start()
        self.ok("create", "namespace", "pygrid-system")
        self.ok("apply", "-f", CRD)

    def tearDown(self):
        code = self.sim.stop()
        self.sim.cleanup()
        self.assertEqual(code, 0)

    def ok(self, *args):
        r = self.sim.kubectl(*args)
        self.assertEqual(r.returncode, 0, "kubectl %s failed: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def apply_render(self, sets=()):
        objects = packaging_lib.render(sets=sets)
        path = os.path.join(self.sim.tmp.name, "chart.json")
        with open(path, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "List", "items": objects}, f)
        dry = self.ok("apply", "--dry-run=server", "-f", path)
        self.assertIn("serviceaccount/pygrid-operator created (server dry run)", dry)
        self.assertNotIn("pygrid-operator", self.ok("get", "clusterroles,roles", "-A"))
        out = self.ok("apply", "-f", path)
        for obj in objects:
            self.assertIn("%s/%s created" % (obj["kind"].lower(), obj["metadata"]["name"]),
                          out.replace(".rbac.authorization.k8s.io", "").replace(".apps", ""))
        return objects

    def as_operator(self, *args):
        return self.sim.kubectl("--token", SA_TOKEN, *args)

    def test_default_render_applies_and_its_roles_bind_the_operator(self):
        objects = self.apply_render()
        self.assertEqual(len(objects), len(self.ok("get", "sa,deploy,svc,clusterroles,"
                                                   "clusterrolebindings,roles,rolebindings", "-A",
                                                   "-l", "app.kubernetes.io/instance="
                                                   "pygrid-operator", "-o", "name").split()))
        code, _ = self.sim.control("POST", "/_sim/identities",
                                   {"token": SA_TOKEN, "username": SA_USER})
        self.assertEqual(code, 201)
        self.ok("create", "secret", "generic", "creds", "-n", "default",
                "--from-literal=token=t")
        # The ClusterRole: read Secrets and PyGridClusters anywhere, no more.
        r = self.as_operator("get", "secrets", "-A", "-o", "name")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("secret/creds", r.stdout)
        self.assertEqual(self.as_operator("get", "pgc", "-A").returncode, 0)
        r = self.as_operator("delete", "secret", "creds", "-n", "default")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('Error from server (Forbidden): secrets "creds" is forbidden: User "%s" '
                      'cannot delete resource "secrets" in API group "" in the namespace '
                      '"default"' % SA_USER, r.stderr)
        # The Role in its own namespace: Leases and Secrets there, not elsewhere.
        lease = ("apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: l, "
                 "namespace: %s}\nspec: {holderIdentity: a}\n")
        r = self.sim.kubectl("--token", SA_TOKEN, "create", "-f", "-",
                             stdin=lease % "pygrid-system")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.sim.kubectl("--token", SA_TOKEN, "create", "-f", "-", stdin=lease % "default")
        self.assertIn('cannot create resource "leases" in API group "coordination.k8s.io" in '
                      'the namespace "default"', r.stderr)
        r = self.as_operator("get", "namespaces")
        self.assertIn('cannot list resource "namespaces" in API group "" at the cluster scope',
                      r.stderr)

    def test_watch_namespace_render_applies_as_roles(self):
        objects = self.apply_render(sets=["watchNamespace=default"])
        kinds = sorted(o["kind"] for o in objects if "Role" in o["kind"])
        self.assertEqual(kinds, ["ClusterRole", "ClusterRole", "ClusterRoleBinding", "Role",
                                 "Role", "RoleBinding", "RoleBinding"])
        self.sim.control("POST", "/_sim/identities", {"token": SA_TOKEN, "username": SA_USER})
        self.assertEqual(self.as_operator("get", "secrets", "-n", "default").returncode, 0)
        r = self.as_operator("get", "secrets", "-n", "kube-system")
        self.assertIn('cannot list resource "secrets" in API group "" in the namespace '
                      '"kube-system"', r.stderr)


if __name__ == "__main__":
    packaging_lib.ensure_renderer()
    unittest.main(verbosity=2)
