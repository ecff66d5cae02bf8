"""Concurrency fidelity: many writers on one object -> exactly one wins per resourceVersion;
many watchers see the same ordered stream; /_sim/reset and SIGTERM while watches are open.
Run with /usr/bin/python3 (env KUBE_SIM_BIN)."""
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubesim_fixture import KubeSim, finish, wait_until  # noqa: E402

from kubernetes import client, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

WRITERS = 8
INCREMENTS = 6
WATCHERS = 6


class ConcurrencyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = KubeSim().start()

    @classmethod
    def tearDownClass(cls):
        finish(cls.sim)

    def test_one_writer_wins_per_resource_version_and_watchers_agree(self):
        api = self.sim.api_client()
        core = client.CoreV1Api(api)
        cm = core.create_namespaced_config_map("default", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="counter"), data={"n": "0"}))
        start_rv = cm.metadata.resource_version

        streams = [[] for _ in range(WATCHERS)]
        total = WRITERS * INCREMENTS

        def watcher(i):
            wapi = self.sim.api_client()
            w = watch.Watch()
            for ev in w.stream(client.CoreV1Api(wapi).list_namespaced_config_map, "default",
                               resource_version=start_rv, timeout_seconds=60,
                               field_selector="metadata.name=counter"):
                streams[i].append((ev["type"], ev["object"].metadata.resource_version,
                                   ev["object"].data["n"]))
                if len(streams[i]) == total:
                    w.stop()
            wapi.close()

        wthreads = [threading.Thread(target=watcher, args=(i,)) for i in range(WATCHERS)]
        for t in wthreads:
            t.start()
        wait_until(lambda: self.sim.control("GET", "/_sim/state")[1]["openWatches"] >= WATCHERS,
                   20, "all watchers connected")

        wins = []  # (base resourceVersion, new resourceVersion, value written)
        conflicts = [0]
        lock = threading.Lock()

        def writer():
            wapi = self.sim.api_client()
            wcore = client.CoreV1Api(wapi)
            done = 0
            while done < INCREMENTS:
                cur = wcore.read_namespaced_config_map("counter", "default")
                base = cur.metadata.resource_version
                cur.data["n"] = str(int(cur.data["n"]) + 1)
                try:
                    out = wcore.replace_namespaced_config_map("counter", "default", cur)
                except ApiException as e:
                    self.assertEqual(e.status, 409)
                    with lock:
                        conflicts[0] += 1
                    continue
                with lock:
                    wins.append((base, out.metadata.resource_version, out.data["n"]))
                done += 1
            wapi.close()

        threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
        for t in wthreads:
            t.join(timeout=60)

        self.assertEqual(len(wins), total)
        bases = [b for b, _, _ in wins]
        self.assertEqual(len(set(bases)), total, "two writers won on the same resourceVersion")
        final = core.read_namespaced_config_map("counter", "default")
        self.assertEqual(final.data["n"], str(total))  # no lost update
        self.assertEqual(sorted(int(v) for _, _, v in wins), list(range(1, total + 1)))
        # Every watcher saw the same stream, in resourceVersion order, ending at the final state.
        for s in streams:
            self.assertEqual(s, streams[0])
        self.assertEqual(len(streams[0]), total)
        rvs = [int(rv) for _, rv, _ in streams[0]]
        self.assertEqual(rvs, sorted(rvs))
        self.assertEqual([n for _, _, n in streams[0]], [str(i) for i in range(1, total + 1)])
        self.assertTrue(all(t == "MODIFIED" for t, _, _ in streams[0]))
        api.close()

    def test_reset_clears_objects_but_resource_version_keeps_growing(self):
        api = self.sim.api_client()
        core = client.CoreV1Api(api)
        before = core.create_namespaced_config_map("default", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="before-reset")))
        code, _ = self.sim.control("POST", "/_sim/reset")
        self.assertEqual(code, 200)
        names = [c.metadata.name for c in core.list_namespaced_config_map("default").items]
        self.assertNotIn("before-reset", names)
        ns = [n.metadata.name for n in core.list_namespace().items]
        self.assertEqual(sorted(ns), ["default", "kube-node-lease", "kube-public", "kube-system"])
        after = core.create_namespaced_config_map("default", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="after-reset")))
        self.assertGreater(int(after.metadata.resource_version), int(before.metadata.resource_version))
        api.close()

    def test_sigterm_with_open_watch_exits_cleanly(self):
        sim = KubeSim().start()
        try:
            api = sim.api_client()
            ended = threading.Event()

            def run():
                try:
                    for _ in watch.Watch().stream(client.CoreV1Api(api).list_namespaced_secret,
                                                  "default", timeout_seconds=120):
                        pass
                except Exception:  # the connection going away is fine here
                    pass
                ended.set()
            threading.Thread(target=run, daemon=True).start()
            wait_until(lambda: sim.control("GET", "/_sim/state")[1]["openWatches"] >= 1,
                       20, "open watch")
            self.assertEqual(sim.stop(), 0)
            self.assertTrue(ended.wait(20))
            api.close()
        finally:
            sim.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
