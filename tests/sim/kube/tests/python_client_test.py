"""Proof of fidelity: the Debian python3-kubernetes client against a fresh kube-sim, plus the
/_sim/ control API. Run with /usr/bin/python3 (env KUBE_SIM_BIN, PYGRID_SOURCE_DIR)."""
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubesim_fixture import finish, project_file, started, wait_until  # noqa: E402

from kubernetes import client, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

G, V, P = "distributor.pygrid.dev", "v1alpha1", "pygridclusters"


def pgc(name, replicas=2, labels=None):
    return {"apiVersion": G + "/" + V, "kind": "PyGridCluster",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"credentialsSecretRef": {"name": "genesis-credentials"},
                     "workers": {"replicas": replicas},
                     "network": {"allowedSourceCIDRs": ["203.0.113.0/24"]}}}


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = started([project_file("crds", "pygridclusters.distributor.pygrid.dev.yaml")],
                          extra_args=["--bookmark-interval-ms", "200"])
        cls.api = cls.sim.api_client()
        cls.co = client.CustomObjectsApi(cls.api)
        cls.core = client.CoreV1Api(cls.api)
        cls.coord = client.CoordinationV1Api(cls.api)

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        finish(cls.sim)

    def test_custom_objects_crud_and_status(self):
        created = self.co.create_namespaced_custom_object(G, V, "default", P, pgc("crud"))
        self.assertEqual(created["metadata"]["generation"], 1)
        self.assertEqual(created["spec"]["region"], "ARC-IS-HAF-1")  # defaulted
        uid = created["metadata"]["uid"]
        got = self.co.get_namespaced_custom_object(G, V, "default", P, "crud")
        self.assertEqual(got["metadata"]["uid"], uid)
        listed = self.co.list_namespaced_custom_object(G, V, "default", P)
        self.assertIn("crud", [i["metadata"]["name"] for i in listed["items"]])
        patched = self.co.patch_namespaced_custom_object(G, V, "default", P, "crud",
                                                         {"spec": {"workers": {"replicas": 4}}})
        self.assertEqual(patched["metadata"]["generation"], 2)
        st = self.co.patch_namespaced_custom_object_status(
            G, V, "default", P, "crud",
            {"status": {"phase": "Ready", "observedGeneration": 2,
                        "conditions": [{"type": "Ready", "status": "True", "reason": "AllUp",
                                        "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
        self.assertEqual(st["status"]["phase"], "Ready")
        self.assertEqual(st["metadata"]["generation"], 2)
        # A stale resourceVersion on replace is a 409 Conflict.
        stale = dict(created)
        with self.assertRaises(ApiException) as cm:
            self.co.replace_namespaced_custom_object(G, V, "default", P, "crud", stale)
        self.assertEqual(cm.exception.status, 409)
        self.assertIn('"reason":"Conflict"', cm.exception.body.replace(" ", ""))
        with self.assertRaises(ApiException) as cm:
            self.co.create_namespaced_custom_object(G, V, "default", P, pgc("crud"))
        self.assertEqual(cm.exception.status, 409)
        self.assertIn("AlreadyExists", cm.exception.body)
        with self.assertRaises(ApiException) as cm:
            self.co.create_namespaced_custom_object(G, V, "default", P, pgc("bad", replicas=101))
        self.assertEqual(cm.exception.status, 422)
        self.assertIn("spec.workers.replicas", cm.exception.body)
        gen = pgc("")
        gen["metadata"] = {"generateName": "gen-"}
        made = self.co.create_namespaced_custom_object(G, V, "default", P, gen)
        self.assertRegex(made["metadata"]["name"], r"^gen-[a-z0-9]{5}$")
        # With a finalizer, DELETE sets deletionTimestamp and bumps generation (markAsDeleting);
        # removing the finalizer completes the deletion.
        self.co.patch_namespaced_custom_object(G, V, "default", P, "crud",
                                               {"metadata": {"finalizers": ["x.dev/hold"]}})
        held = self.co.delete_namespaced_custom_object(G, V, "default", P, "crud")
        self.assertEqual(held["metadata"]["generation"], 3)
        self.assertIn("deletionTimestamp", held["metadata"])
        gone = self.co.patch_namespaced_custom_object(G, V, "default", P, "crud",
                                                      {"metadata": {"finalizers": None}})
        self.assertNotIn("finalizers", gone["metadata"])
        with self.assertRaises(ApiException) as cm:
            self.co.get_namespaced_custom_object(G, V, "default", P, "crud")
        self.assertEqual(cm.exception.status, 404)

    def test_watch_in_order_and_resume(self):
        start = self.co.list_namespaced_custom_object(G, V, "default", P)["metadata"]["resourceVersion"]
        self.co.create_namespaced_custom_object(G, V, "default", P, pgc("w1"))
        self.co.patch_namespaced_custom_object(G, V, "default", P, "w1", {"spec": {"suspend": True}})
        done = self.co.delete_namespaced_custom_object(G, V, "default", P, "w1")
        self.assertEqual((done["kind"], done["status"]), ("Status", "Success"))
        seen = []
        w = watch.Watch()
        for ev in w.stream(self.co.list_namespaced_custom_object, G, V, "default", P,
                           resource_version=start, timeout_seconds=10):
            if ev["object"]["metadata"]["name"] == "w1":
                seen.append((ev["type"], ev["object"]["metadata"]["resourceVersion"]))
            if len(seen) == 3:
                w.stop()
        self.assertEqual([t for t, _ in seen], ["ADDED", "MODIFIED", "DELETED"])
        rvs = [int(rv) for _, rv in seen]
        self.assertEqual(rvs, sorted(rvs))
        # Resume from the MODIFIED event's resourceVersion: only the DELETED follows.
        w2 = watch.Watch()
        resumed = []
        for ev in w2.stream(self.co.list_namespaced_custom_object, G, V, "default", P,
                            resource_version=seen[1][1], timeout_seconds=10):
            resumed.append(ev["type"])
            w2.stop()
        self.assertEqual(resumed, ["DELETED"])

    def test_watch_timeout_and_selector_transitions(self):
        rv = self.core.list_namespaced_config_map("default").metadata.resource_version
        t0 = time.time()
        events = list(watch.Watch().stream(self.core.list_namespaced_config_map, "default",
                                           resource_version=rv, timeout_seconds=1))
        self.assertEqual(events, [])
        self.assertLess(time.time() - t0, 15)  # timeoutSeconds ended the stream server-side
        self.core.create_namespaced_config_map("default", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="moving", labels={"app": "x"})))
        self.core.patch_namespaced_config_map("moving", "default", {"metadata": {"labels": {"app": "y"}}})
        self.core.patch_namespaced_config_map("moving", "default", {"metadata": {"labels": {"app": "x"}}})
        self.core.patch_namespaced_config_map("moving", "default", {"data": {"k": "v"}})
        seen = []
        w = watch.Watch()
        for ev in w.stream(self.core.list_namespaced_config_map, "default", resource_version=rv,
                           label_selector="app=x", timeout_seconds=10):
            seen.append(ev["type"])
            if len(seen) == 4:
                w.stop()
        # Leaving the selector is a DELETED, re-entering an ADDED (watch cache filtering).
        self.assertEqual(seen, ["ADDED", "DELETED", "ADDED", "MODIFIED"])

    def test_watch_after_compaction_raises_410(self):
        rv = self.co.list_namespaced_custom_object(G, V, "default", P)["metadata"]["resourceVersion"]
        self.co.create_namespaced_custom_object(G, V, "default", P, pgc("compacted"))
        code, body = self.sim.control("POST", "/_sim/compact")
        self.assertEqual(code, 200)
        with self.assertRaises(ApiException) as cm:
            for _ in watch.Watch().stream(self.co.list_namespaced_custom_object, G, V, "default", P,
                                          resource_version=rv, timeout_seconds=10):
                pass
        self.assertEqual(cm.exception.status, 410)
        # A continue token from before the compaction is 410 too.
        page = self.co.list_namespaced_custom_object(G, V, "default", P, limit=1)
        self.co.create_namespaced_custom_object(G, V, "default", P, pgc("compacted2"))
        self.sim.control("POST", "/_sim/compact")
        if page["metadata"].get("continue"):
            with self.assertRaises(ApiException) as cm:
                self.co.list_namespaced_custom_object(G, V, "default", P, limit=1,
                                                      _continue=page["metadata"]["continue"])
            self.assertEqual(cm.exception.status, 410)

    def test_paged_list_is_consistent(self):
        for i in range(5):
            self.core.create_namespaced_config_map("default", client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name="page-%d" % i, labels={"paged": "yes"})))
        first = self.core.list_namespaced_config_map("default", label_selector="paged=yes", limit=2)
        self.assertEqual(len(first.items), 2)
        rv = first.metadata.resource_version
        # A change between pages is not visible in later pages.
        self.core.delete_namespaced_config_map("page-4", "default")
        names = [i.metadata.name for i in first.items]
        token = first.metadata._continue
        while token:
            page = self.core.list_namespaced_config_map("default", label_selector="paged=yes",
                                                        limit=2, _continue=token)
            self.assertEqual(page.metadata.resource_version, rv)
            names += [i.metadata.name for i in page.items]
            token = page.metadata._continue
        self.assertEqual(names, ["page-%d" % i for i in range(5)])

    def test_leases_optimistic_concurrency(self):
        body = client.V1Lease(metadata=client.V1ObjectMeta(name="leader"),
                              spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15))
        lease = self.coord.create_namespaced_lease("default", body)
        lease.spec.holder_identity = "b"
        updated = self.coord.replace_namespaced_lease("leader", "default", lease)
        self.assertEqual(updated.spec.holder_identity, "b")
        self.assertNotEqual(updated.metadata.resource_version, lease.metadata.resource_version)
        lease.spec.holder_identity = "c"  # still carries the old resourceVersion
        with self.assertRaises(ApiException) as cm:
            self.coord.replace_namespaced_lease("leader", "default", lease)
        self.assertEqual(cm.exception.status, 409)
        self.assertEqual(self.coord.read_namespaced_lease("leader", "default").spec.holder_identity, "b")

    def test_secrets_and_events(self):
        s = self.core.create_namespaced_secret("default", client.V1Secret(
            metadata=client.V1ObjectMeta(name="creds"), string_data={"token": "abc"}))
        self.assertEqual(s.data, {"token": "YWJj"})
        self.assertEqual(s.type, "Opaque")
        self.assertIsNone(s.string_data)
        ev = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name="mnist."),
            involved_object=client.V1ObjectReference(kind="PyGridCluster", name="mnist",
                                                     namespace="default", uid="u-1"),
            reason="Provisioned", message="ok", type="Normal")
        made = self.core.create_namespaced_event("default", ev)
        self.assertTrue(made.metadata.name.startswith("mnist."))
        found = self.core.list_namespaced_event(
            "default", field_selector="involvedObject.name=mnist,involvedObject.uid=u-1")
        self.assertEqual([e.reason for e in found.items], ["Provisioned"])
        # The events.k8s.io/v1 view of the same store. eventTime stays null for a core event
        # without one (as on a real server, where the typed Python model rejects it), so read
        # it raw.
        resp = client.EventsV1Api(self.api).list_namespaced_event("default", _preload_content=False)
        items = json.loads(resp.data)["items"]
        self.assertIn(("ok", "mnist"), [(e.get("note"), e["regarding"]["name"]) for e in items])

    def test_bookmarks_and_close_watches(self):
        rv = self.core.list_namespaced_config_map("default").metadata.resource_version
        types = []
        w = watch.Watch()
        for ev in w.stream(self.core.list_namespaced_config_map, "default",
                           resource_version=rv, allow_watch_bookmarks=True, timeout_seconds=10):
            types.append(ev["type"])
            if ev["type"] == "BOOKMARK":
                w.stop()
        self.assertEqual(types[-1], "BOOKMARK")
        # close-watches ends an open stream cleanly.
        ended = threading.Event()

        def run():
            for _ in watch.Watch().stream(self.core.list_namespaced_secret, "default",
                                          resource_version=rv, timeout_seconds=60,
                                          _request_timeout=60):
                pass
            ended.set()
        wait_thread = threading.Thread(target=run, daemon=True)
        wait_thread.start()
        wait_until(lambda: self.sim.control("GET", "/_sim/state")[1]["openWatches"] >= 1,
                   20, "open watch")
        t0 = time.time()
        # Watch.stream retries once on a clean end only with a resourceVersion it saw; it
        # returns when the server closes the stream.
        self.sim.control("POST", "/_sim/close-watches")
        self.assertTrue(ended.wait(20), "watch did not end after close-watches")
        self.assertLess(time.time() - t0, 20)

    def test_fault_injection_and_request_log(self):
        self.sim.control("DELETE", "/_sim/requests")
        # (urllib3 itself retries a GET answered 429 after Retry-After, so the 429 goes to a
        # POST, which it never retries.)
        code, _ = self.sim.control("POST", "/_sim/faults", {"verb": "create", "resource": "leases",
                                                            "code": 429, "retryAfterSeconds": 2})
        self.assertEqual(code, 201)
        lease = client.V1Lease(metadata=client.V1ObjectMeta(name="throttled"))
        with self.assertRaises(ApiException) as cm:
            self.coord.create_namespaced_lease("default", lease)
        self.assertEqual(cm.exception.status, 429)
        self.assertEqual(cm.exception.headers.get("Retry-After"), "2")
        self.assertIn('"retryAfterSeconds":2', cm.exception.body.replace(" ", ""))
        self.coord.create_namespaced_lease("default", lease)  # the fault was consumed
        self.sim.control("POST", "/_sim/faults", {"verb": "create", "resource": "configmaps",
                                                  "code": 503, "count": 2})
        for _ in range(2):
            with self.assertRaises(ApiException) as cm:
                self.core.create_namespaced_config_map("default", client.V1ConfigMap(
                    metadata=client.V1ObjectMeta(name="faulty")))
            self.assertEqual(cm.exception.status, 503)
        self.core.create_namespaced_config_map("default", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="faulty")))
        _, log = self.sim.control("GET", "/_sim/requests")
        codes = [(r["verb"], r["resource"], r["code"]) for r in log["requests"]]
        self.assertEqual(codes, [("create", "leases", 429), ("create", "leases", 201),
                                 ("create", "configmaps", 503), ("create", "configmaps", 503),
                                 ("create", "configmaps", 201)])
        self.sim.control("POST", "/_sim/latency", {"verb": "get", "resource": "namespaces",
                                                   "milliseconds": 300})
        t0 = time.time()
        self.core.read_namespace("default")
        self.assertGreaterEqual(time.time() - t0, 0.3)
        self.sim.control("DELETE", "/_sim/latency")


if __name__ == "__main__":
    unittest.main(verbosity=2)
