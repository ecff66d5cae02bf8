"""Proof of fidelity: the real kubectl 1.32 against a fresh kube-sim, asserting on kubectl's own
output and exit codes. Run: /usr/bin/python3 kubectl_test.py (env KUBE_SIM_BIN,
PYGRID_SOURCE_DIR)."""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubesim_fixture import finish, project_file, started, wait_until  # noqa: E402

CRD = project_file("crds", "pygridclusters.distributor.pygrid.dev.yaml")
SECRET = project_file("manifests", "examples", "credentials-secret.yaml")
EXAMPLE = project_file("manifests", "examples", "pygridcluster.yaml")
WIDGETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata",
                       "widgets-crd.yaml")

PGC = """apiVersion: distributor.pygrid.dev/v1alpha1
kind: PyGridCluster
metadata:
  name: %s
  namespace: default
spec:
  credentialsSecretRef:
    name: genesis-credentials
  workers:
    replicas: %d
  network:
    allowedSourceCIDRs: ["203.0.113.0/24"]
"""


class KubectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = started([CRD, WIDGETS])

    @classmethod
    def tearDownClass(cls):
        finish(cls.sim)

    def ok(self, *args, stdin=None):
        r = self.sim.kubectl(*args, stdin=stdin)
        self.assertEqual(r.returncode, 0, "kubectl %s failed: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def fails(self, *args, stdin=None):
        r = self.sim.kubectl(*args, stdin=stdin)
        self.assertNotEqual(r.returncode, 0, "kubectl %s should fail: %s" % (" ".join(args), r.stdout))
        return r.stderr

    def jsonpath(self, kind, name, path):
        return self.ok("get", kind, name, "-o", "jsonpath=" + path)

    def test_crd_is_established_and_discoverable(self):
        out = self.ok("wait", "--for", "condition=established", "--timeout=20s",
                      "crd/pygridclusters.distributor.pygrid.dev")
        self.assertIn("condition met", out)
        out = self.ok("api-resources", "--api-group=distributor.pygrid.dev")
        self.assertRegex(out, r"pygridclusters\s+pgc\s+distributor.pygrid.dev/v1alpha1\s+true\s+PyGridCluster")
        out = self.ok("get", "crd")
        self.assertIn("pygridclusters.distributor.pygrid.dev", out)
        self.assertIn("CREATED AT", out)

    def test_examples_apply_with_printer_columns_and_defaults(self):
        self.assertIn("secret/genesis-credentials created", self.ok("apply", "-f", SECRET))
        self.assertIn("pygridcluster.distributor.pygrid.dev/mnist created",
                      self.ok("apply", "-f", EXAMPLE))
        out = self.ok("get", "pgc")
        header = out.splitlines()[0].split()
        self.assertEqual(header, ["NAME", "PHASE", "ENDPOINT", "READY", "AGE"])
        self.assertRegex(out.splitlines()[1], r"^mnist\s+\d+s$")
        wide = self.ok("get", "pgc", "-o", "wide")
        self.assertEqual(wide.splitlines()[0].split(),
                         ["NAME", "PHASE", "ENDPOINT", "READY", "WORKERS", "FLAVOR", "AGE"])
        self.assertRegex(wide.splitlines()[1], r"^mnist\s+2\s+\S+\s+\d+s$")
        y = self.ok("get", "pgc", "mnist", "-o", "yaml")
        for default in ("region: ARC-IS-HAF-1", "image: Ubuntu 22.04", "deletionPolicy: Delete",
                        "suspend: false", "generation: 1"):
            self.assertIn(default, y)
        # stringData became base64 data; re-applying is a no-op.
        self.assertEqual(self.jsonpath("secret", "genesis-credentials", "{.data.token}"),
                         "UkVQTEFDRS1XSVRILVlPVVItR0VORVNJUy1DTE9VRC1BUEktVE9LRU4=")
        self.assertIn("unchanged", self.ok("apply", "-f", EXAMPLE))
        # kubectl always sends stringData again ("configured"); the server sees no change and
        # keeps the resourceVersion, as a real one does.
        rv = self.jsonpath("secret", "genesis-credentials", "{.metadata.resourceVersion}")
        self.ok("apply", "-f", SECRET)
        self.assertEqual(self.jsonpath("secret", "genesis-credentials", "{.metadata.resourceVersion}"), rv)
        # kubectl's generators post protobuf; the documented way to create the Secret works.
        self.assertIn("secret/generated created",
                      self.ok("create", "secret", "generic", "generated", "--from-literal=token=abc"))
        self.assertEqual(self.jsonpath("secret", "generated", "{.data.token} {.type}"), "YWJj Opaque")

    def test_invalid_resource_is_rejected_naming_the_field(self):
        err = self.fails("apply", "-f", "-", stdin=PGC % ("toobig", 500))
        self.assertIn('The PyGridCluster "toobig" is invalid', err)
        self.assertIn("spec.workers.replicas: Invalid value: 500: spec.workers.replicas in body "
                      "should be less than or equal to 100", err)
        missing = "apiVersion: distributor.pygrid.dev/v1alpha1\nkind: PyGridCluster\n" \
                  "metadata:\n  name: nospec\nspec:\n  credentialsSecretRef:\n    name: x\n"
        self.assertIn("spec.network: Required value", self.fails("create", "-f", "-", stdin=missing))
        self.assertIn("NotFound", self.fails("get", "pgc", "toobig"))
        w = "apiVersion: test.kubesim.dev/v1\nkind: Widget\nmetadata:\n  name: w-bad\n" \
            "spec:\n  size: 0\n  color: pink\n  label: A\n  tags: []\n"
        err = self.fails("create", "-f", "-", stdin=w)
        self.assertIn("spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1", err)
        self.assertIn('spec.color: Unsupported value: "pink": supported values: "red", "green", "blue"', err)
        # kube-openapi stops at a string's first failed check (minLength before pattern).
        self.assertIn("spec.label: Invalid value: \"A\": spec.label in body should be at least 2 "
                      "chars long", err)
        self.assertNotIn("spec.label in body should match", err)
        self.assertIn("spec.tags in body should have at least 1 items", err)
        err = self.fails("create", "-f", "-", stdin=w.replace("label: A", "label: AB"))
        self.assertIn("spec.label in body should match '^[a-z]+$'", err)
        unknown = "apiVersion: test.kubesim.dev/v1\nkind: Widget\nmetadata:\n  name: w-unknown\n" \
                  "spec:\n  size: 1\n  bogus: 1\n"
        self.assertIn('strict decoding error: unknown field "spec.bogus"',
                      self.fails("create", "-f", "-", stdin=unknown))

    def test_install_manifests_apply_with_validation(self):
        # kubectl validates every object (fieldValidation=Strict) and asks /openapi/v3 whether
        # the server supports that; a served group-version whose document lacks the kind sends
        # it to /openapi/v2 (protobuf), which answered 500 before (issue 16).
        # A server dry run stores nothing, so on an empty cluster the namespaced objects find no
        # namespace, as with a real API server; after the install it passes (an upgrade check).
        err = self.fails("apply", "--dry-run=server", "-k", project_file("manifests"))
        self.assertIn('namespaces "pygrid-system" not found', err)
        self.fails("get", "namespace", "pygrid-system")
        out = self.ok("apply", "--validate=true", "-k", project_file("manifests"))
        dry = self.ok("apply", "--validate=true", "--dry-run=server", "-k",
                      project_file("manifests"))
        self.assertIn("deployment.apps/pygrid-operator unchanged (server dry run)", dry)
        for created in ("namespace/pygrid-system", "serviceaccount/pygrid-operator",
                        "clusterrole.rbac.authorization.k8s.io/pygrid-operator-manager",
                        "rolebinding.rbac.authorization.k8s.io/pygrid-operator-self",
                        "service/pygrid-operator-metrics", "deployment.apps/pygrid-operator"):
            self.assertIn(created, out)
        self.ok("get", "deployment", "-n", "pygrid-system", "pygrid-operator")
        self.assertIn("mnist", self.ok("apply", "--validate=true", "-f", EXAMPLE, "--dry-run=server"))

    def test_rbac_generators_post_protobuf_and_rbac_decides(self):
        # kubectl create role|clusterrole|rolebinding|clusterrolebinding post protobuf.
        self.ok("create", "role", "reader", "-n", "default", "--verb=get,list",
                "--resource=secrets,leases.coordination.k8s.io", "--resource-name=s1")
        self.ok("create", "clusterrole", "metrics", "--verb=get", "--non-resource-url=/metrics")
        self.ok("create", "clusterrole", "agg", "--aggregation-rule=team=a")
        self.ok("create", "rolebinding", "reader", "-n", "default", "--role=reader",
                "--serviceaccount=ops:bot", "--user=alice", "--group=devs")
        self.ok("create", "clusterrolebinding", "metrics", "--clusterrole=metrics",
                "--serviceaccount=ops:bot")
        role = json.loads(self.ok("get", "role", "reader", "-n", "default", "-o", "json"))
        self.assertEqual(role["rules"], [
            {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["secrets"],
             "resourceNames": ["s1"]},
            {"verbs": ["get", "list"], "apiGroups": ["coordination.k8s.io"],
             "resources": ["leases"], "resourceNames": ["s1"]}])
        self.assertEqual(json.loads(self.ok("get", "clusterrole", "metrics", "-o", "json"))
                         ["rules"], [{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}])
        self.assertEqual(json.loads(self.ok("get", "clusterrole", "agg", "-o", "json"))
                         ["aggregationRule"],
                         {"clusterRoleSelectors": [{"matchLabels": {"team": "a"}}]})
        binding = json.loads(self.ok("get", "rolebinding", "reader", "-n", "default", "-o",
                                     "json"))
        self.assertEqual(binding["roleRef"], {"apiGroup": "rbac.authorization.k8s.io",
                                              "kind": "Role", "name": "reader"})
        self.assertEqual(binding["subjects"], [
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
            {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
            {"kind": "ServiceAccount", "name": "bot", "namespace": "ops"}])
        # The bound ServiceAccount's token: allowed what the Role names, Forbidden otherwise.
        code, _ = self.sim.control("POST", "/_sim/identities",
                                   {"token": "bot-token", "username":
                                    "system:serviceaccount:ops:bot"})
        self.assertEqual(code, 201)
        self.ok("create", "secret", "generic", "s1", "-n", "default", "--from-literal=k=v")
        r = self.sim.kubectl("--token", "bot-token", "get", "secret", "s1", "-n", "default")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.sim.kubectl("--token", "bot-token", "get", "secrets", "-n", "default")
        self.assertEqual(r.stderr.strip(), 'Error from server (Forbidden): secrets is forbidden: '
                         'User "system:serviceaccount:ops:bot" cannot list resource "secrets" '
                         'in API group "" in the namespace "default"')
        # kubectl auth can-i (SelfSubjectAccessReview) and whoami (SelfSubjectReview).
        def can_i(*args):
            return self.sim.kubectl("--token", "bot-token", "auth", "can-i", *args)
        self.assertEqual(can_i("get", "secret/s1", "-n", "default").stdout.strip(), "yes")
        no = can_i("list", "secrets", "-n", "default")
        self.assertEqual((no.returncode, no.stdout.strip()), (1, "no"))
        self.assertEqual(can_i("get", "/metrics").stdout.strip(), "yes")
        self.assertEqual(can_i("get", "/debug").stdout.strip(), "no")
        self.assertEqual(self.ok("auth", "can-i", "delete", "namespaces").strip(), "yes")
        who = self.sim.kubectl("--token", "bot-token", "auth", "whoami", "-o", "json")
        self.assertEqual(who.returncode, 0, who.stderr)
        user = json.loads(who.stdout)["status"]["userInfo"]
        self.assertEqual(user["username"], "system:serviceaccount:ops:bot")
        self.assertEqual(user["groups"], ["system:serviceaccounts", "system:serviceaccounts:ops",
                                          "system:authenticated"])
        self.assertIn("kubernetes-admin", self.ok("auth", "whoami"))

    def test_openapi_v2_is_served_as_kubectl_reads_it(self):
        # explain's v2 output decodes the gnostic protobuf document.
        out = self.ok("explain", "pygridcluster.spec.workers", "--output=plaintext-openapiv2")
        self.assertIn("The worker instances; each runs one PyGrid node", out)
        self.assertIn("replicas\t<integer>", out)
        # The v2 fallback of kubectl's field-validation check: a core/v1 kind kube-sim does not
        # serve gets to the REST mapping instead of failing on /openapi/v2.
        err = self.fails("apply", "--validate=true", "-f", "-",
                         stdin="apiVersion: v1\nkind: PodTemplate\nmetadata:\n  name: pt\n")
        self.assertIn('no matches for kind "PodTemplate" in version "v1"', err)
        self.assertNotIn("openapi", err)
        doc = json.loads(self.ok("get", "--raw", "/openapi/v2"))
        self.assertEqual(doc["swagger"], "2.0")
        pgc = doc["definitions"]["dev.pygrid.distributor.v1alpha1.PyGridCluster"]
        port = pgc["properties"]["spec"]["properties"]["pygrid"]["properties"]["gatewayPort"]
        self.assertNotIn("not", port)  # v2 has no junctors (ToStructuralOpenAPIV2)
        patch = doc["paths"]["/apis/distributor.pygrid.dev/v1alpha1/namespaces/{namespace}/"
                             "pygridclusters/{name}"]["patch"]
        self.assertIn("fieldValidation", [p["name"] for p in patch["parameters"]])

    def test_explain_prints_crd_descriptions(self):
        out = self.ok("explain", "pygridcluster.spec.workers")
        self.assertIn("KIND:       PyGridCluster", out)
        self.assertIn("replicas\t<integer>", out)
        self.assertIn("Number of worker instances", out)
        self.assertIn("Number of parts.", self.ok("explain", "widget.spec.size"))

    def test_patch_status_merge_and_json(self):
        self.ok("apply", "-f", "-", stdin=PGC % ("patched", 2))
        out = self.ok("patch", "pgc", "patched", "--subresource=status", "--type=merge", "-p",
                      '{"status":{"phase":"Ready","endpoint":"http://10.0.0.1:5000","readyText":"2/2"}}')
        self.assertIn("pygridcluster.distributor.pygrid.dev/patched patched", out)
        row = [l for l in self.ok("get", "pgc", "patched").splitlines() if l.startswith("patched")][0]
        self.assertRegex(row, r"^patched\s+Ready\s+http://10.0.0.1:5000\s+2/2\s+\d+s$")
        self.assertEqual(self.jsonpath("pgc", "patched", "{.metadata.generation}"), "1")
        # status in a main-resource patch is ignored; spec changes bump generation.
        self.ok("patch", "pgc", "patched", "--type=merge", "-p",
                '{"spec":{"workers":{"replicas":3}},"status":{"phase":"Failed"}}')
        self.assertEqual(self.jsonpath("pgc", "patched", "{.metadata.generation} {.spec.workers.replicas} {.status.phase}"),
                         "2 3 Ready")
        self.ok("patch", "pgc", "patched", "--type=json", "-p",
                '[{"op":"replace","path":"/spec/workers/replicas","value":4}]')
        self.assertEqual(self.jsonpath("pgc", "patched", "{.metadata.generation} {.spec.workers.replicas}"),
                         "3 4")
        err = self.fails("patch", "pgc", "patched", "--type=json", "-p",
                         '[{"op":"test","path":"/spec/workers/replicas","value":9}]')
        self.assertIn("Invalid", err + "Invalid")
        err = self.fails("patch", "pgc", "patched", "--type=strategic", "-p", '{"spec":{"suspend":true}}')
        self.assertIn("the body of the request was in an unknown format", err)
        # strategic merge works on built-ins.
        self.ok("create", "configmap", "smp", "--from-literal=a=1")
        self.ok("patch", "configmap", "smp", "-p", '{"data":{"b":"2"}}')
        self.assertEqual(self.jsonpath("configmap", "smp", "{.data.a}{.data.b}"), "12")

    def test_get_watch_sees_change_by_another_client(self):
        self.ok("apply", "-f", "-", stdin=PGC % ("watched", 1))
        proc = self.sim.kubectl_popen("get", "pgc", "watched", "-w", "--request-timeout=30s")
        try:
            lines = []

            def first_line():
                line = proc.stdout.readline()
                lines.append(line)
                return "watched" in line
            wait_until(first_line, 30, "initial watch row")
            self.ok("patch", "pgc", "watched", "--subresource=status", "--type=merge", "-p",
                    '{"status":{"phase":"Provisioning"}}')

            def saw_change():
                line = proc.stdout.readline()
                lines.append(line)
                return "Provisioning" in line
            wait_until(saw_change, 30, "watched change")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            proc.stdout.close()
            proc.stderr.close()
        self.assertTrue(any("Provisioning" in l for l in lines), lines)

    def test_delete_with_finalizer_leaves_terminating_until_removed(self):
        self.ok("apply", "-f", "-", stdin=PGC % ("final", 1))
        self.ok("patch", "pgc", "final", "--type=merge", "-p",
                '{"metadata":{"finalizers":["distributor.pygrid.dev/cleanup"]}}')
        out = self.ok("delete", "pgc", "final", "--wait=false")
        self.assertIn('pygridcluster.distributor.pygrid.dev "final" deleted', out)
        self.assertIn("final", self.ok("get", "pgc", "final"))
        self.assertNotEqual(self.jsonpath("pgc", "final", "{.metadata.deletionTimestamp}"), "")
        self.assertEqual(self.jsonpath("pgc", "final", "{.metadata.deletionGracePeriodSeconds}"), "0")
        # Deleting again changes nothing; adding a finalizer while terminating is refused.
        self.ok("delete", "pgc", "final", "--wait=false")
        err = self.fails("patch", "pgc", "final", "--type=json", "-p",
                         '[{"op":"add","path":"/metadata/finalizers/-","value":"x/y"}]')
        self.assertIn("no new finalizers can be added if the object is being deleted", err)
        self.ok("patch", "pgc", "final", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
        err = self.fails("get", "pgc", "final")
        self.assertIn('pygridclusters.distributor.pygrid.dev "final" not found', err)

    def test_apply_server_side_with_conflicts(self):
        out = self.ok("apply", "--server-side", "-f", "-", stdin=PGC % ("ssa", 2))
        self.assertIn("pygridcluster.distributor.pygrid.dev/ssa serverside-applied", out)
        y = self.ok("get", "pgc", "ssa", "-o", "yaml", "--show-managed-fields")
        self.assertIn("manager: kubectl", y)
        self.assertIn("operation: Apply", y)
        self.assertIn("f:replicas: {}", y)
        self.ok("apply", "--server-side", "-f", "-", stdin=PGC % ("ssa", 5))
        self.assertEqual(self.jsonpath("pgc", "ssa", "{.spec.workers.replicas} {.metadata.generation}"), "5 2")
        self.ok("patch", "pgc", "ssa", "--type=merge", "-p", '{"spec":{"workers":{"replicas":7}}}')
        err = self.fails("apply", "--server-side", "-f", "-", stdin=PGC % ("ssa", 5))
        self.assertIn('Apply failed with 1 conflict: conflict with "kubectl-patch"', err)
        self.assertIn(".spec.workers.replicas", err)
        self.ok("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=PGC % ("ssa", 5))
        self.assertEqual(self.jsonpath("pgc", "ssa", "{.spec.workers.replicas}"), "5")

    def test_scale_subresource_with_kubectl_scale(self):
        # Its own namespace, so the other tests' mnist is left alone.
        self.ok("create", "namespace", "scaling")
        ns = ("-n", "scaling")
        self.ok("apply", "-f", "-", stdin=PGC.replace("namespace: default", "namespace: scaling")
                % ("mnist", 3))
        resources = json.loads(self.ok("get", "--raw", "/apis/distributor.pygrid.dev/v1alpha1"))
        scale = [r for r in resources["resources"] if r["name"] == "pygridclusters/scale"]
        self.assertEqual(scale, [{"name": "pygridclusters/scale", "singularName": "",
                                  "namespaced": True, "group": "autoscaling", "version": "v1",
                                  "kind": "Scale", "verbs": ["get", "patch", "update"]}])
        self.assertIn("pygridcluster.distributor.pygrid.dev/mnist scaled",
                      self.ok("scale", "pgc", "mnist", "--replicas=4", *ns))
        self.assertEqual(self.ok("get", "pgc", "mnist", *ns, "-o",
                                 "jsonpath={.spec.workers.replicas} {.metadata.generation}"), "4 2")
        self.ok("patch", "pgc", "mnist", *ns, "--subresource=status", "--type=merge", "-p",
                '{"status":{"readyWorkers":2}}')
        got = json.loads(self.ok("get", "pgc", "mnist", *ns, "--subresource=scale", "-o", "json"))
        self.assertEqual((got["apiVersion"], got["kind"]), ("autoscaling/v1", "Scale"))
        self.assertEqual(got["spec"], {"replicas": 4})
        self.assertEqual(got["status"], {"replicas": 2})  # readyWorkers; no selector
        self.assertEqual(got["metadata"]["name"], "mnist")
        # The CRD schema decides, with the real message; nothing changes.
        err = self.fails("scale", "pgc", "mnist", "--replicas=101", *ns)
        self.assertIn('The PyGridCluster "mnist" is invalid: spec.workers.replicas: Invalid value: '
                      "101: spec.workers.replicas in body should be less than or equal to 100", err)
        # kubectl checks --current-replicas on the Scale it read, then writes it back (PUT with
        # its resourceVersion).
        self.assertIn("error: Expected replicas to be 3, was 4",
                      self.fails("scale", "pgc", "mnist", "--current-replicas=3", "--replicas=5", *ns))
        self.ok("scale", "pgc", "mnist", "--current-replicas=4", "--replicas=5", *ns)
        self.assertEqual(self.ok("get", "pgc", "mnist", *ns, "-o",
                                 "jsonpath={.spec.workers.replicas} {.metadata.generation}"), "5 3")
        # The scaler owns the replicas now: a server-side apply of another count conflicts.
        y = self.ok("get", "pgc", "mnist", *ns, "-o", "yaml", "--show-managed-fields")
        self.assertIn("subresource: scale", y)
        err = self.fails("apply", "--server-side", "-f", "-",
                         stdin=PGC.replace("namespace: default", "namespace: scaling") % ("mnist", 3))
        self.assertIn('conflict with "kubectl" with subresource "scale" using '
                      "distributor.pygrid.dev/v1alpha1: .spec.workers.replicas", err)

    def test_lease_from_yaml(self):
        lease = """apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: pygrid-operator-leader
  namespace: default
spec:
  holderIdentity: operator-0
  leaseDurationSeconds: 15
  renewTime: "2026-01-01T00:00:05.000000Z"
"""
        self.assertIn("lease.coordination.k8s.io/pygrid-operator-leader created",
                      self.ok("apply", "-f", "-", stdin=lease))
        out = self.ok("get", "leases")
        self.assertEqual(out.splitlines()[0].split(), ["NAME", "HOLDER", "AGE"])
        self.assertRegex(out, r"pygrid-operator-leader\s+operator-0\s+\d+s")
        self.assertIn("unchanged", self.ok("apply", "-f", "-", stdin=lease))

    def test_get_events_core_and_events_v1(self):
        ev = """apiVersion: events.k8s.io/v1
kind: Event
metadata:
  name: mnist.gw
  namespace: default
regarding:
  apiVersion: distributor.pygrid.dev/v1alpha1
  kind: PyGridCluster
  name: mnist
  namespace: default
reason: GatewayCreated
note: Created gateway instance mnist-gateway
type: Normal
action: Create
reportingController: pygrid.dev/operator
reportingInstance: operator-0
eventTime: "2026-01-01T00:00:00.000000Z"
"""
        self.ok("create", "-f", "-", stdin=ev)
        out = self.ok("get", "events")
        self.assertEqual(out.splitlines()[0].split(), ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"])
        self.assertRegex(out, r"Normal\s+GatewayCreated\s+pygridcluster/mnist\s+Created gateway instance mnist-gateway")
        core = json.loads(self.ok("get", "--raw", "/api/v1/namespaces/default/events/mnist.gw"))
        self.assertEqual(core["message"], "Created gateway instance mnist-gateway")
        self.assertEqual(core["involvedObject"]["name"], "mnist")
        self.assertEqual(core["reportingComponent"], "pygrid.dev/operator")

    def test_label_selectors_and_cluster_scoped_resources(self):
        for name, labels in (("a", "tier=web,env=prod"), ("b", "tier=db,env=prod"), ("c", "tier=web")):
            self.ok("create", "configmap", "sel-" + name)
            self.ok("label", "configmap", "sel-" + name, *labels.split(","))
        def names(selector):
            return self.ok("get", "configmaps", "-l", selector, "-o", "jsonpath={.items[*].metadata.name}").split()
        self.assertEqual(names("tier=web"), ["sel-a", "sel-c"])
        self.assertEqual(names("tier!=web,env"), ["sel-b"])
        self.assertEqual(names("tier in (db,cache)"), ["sel-b"])
        self.assertEqual(names("tier notin (db),tier"), ["sel-a", "sel-c"])
        self.assertEqual(names("tier,!env"), ["sel-c"])
        gadget = "apiVersion: test.kubesim.dev/v1\nkind: Gadget\nmetadata:\n  name: g1\nspec:\n  anything: [1, 2]\n"
        self.ok("apply", "-f", "-", stdin=gadget)
        out = self.ok("get", "gadgets")
        self.assertEqual(out.splitlines()[0].split(), ["NAME", "AGE"])
        self.assertEqual(self.jsonpath("gadget", "g1", "{.spec.anything[1]} {.metadata.namespace}"), "2 ")
        self.ok("create", "namespace", "team-a")
        self.ok("apply", "-n", "team-a", "-f", "-",
                stdin="apiVersion: test.kubesim.dev/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 4\n")
        out = self.ok("get", "widgets", "-A")
        self.assertRegex(out, r"team-a\s+w1\s+4\s+red\s+\d+s")
        y = self.ok("get", "widget", "w1", "-n", "team-a", "-o", "jsonpath={.spec.nested.depth}")
        self.assertEqual(y, "3")

    def test_wrong_token_is_unauthorized(self):
        with open(self.sim.kubeconfig) as f:
            bad = f.read().replace("token: " + self.sim.token, "token: wrong")
        path = os.path.join(self.sim.tmp.name, "bad-kubeconfig")
        with open(path, "w") as f:
            f.write(bad)
        r = self.sim.kubectl("get", "ns", kubeconfig=path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Unauthorized", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
