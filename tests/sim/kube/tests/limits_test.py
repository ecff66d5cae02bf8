"""Issue 16 regressions: kube-sim answers oversized and malformed input as kube-apiserver does and
stays up. The real kubectl and raw HTTPS against a fresh kube-sim. Run: /usr/bin/python3
limits_test.py (env KUBE_SIM_BIN, PYGRID_SOURCE_DIR)."""
import json
import os
import ssl
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubesim_fixture import finish, project_file, started  # noqa: E402

CRD = project_file("crds", "pygridclusters.distributor.pygrid.dev.yaml")
PGCS = "/apis/distributor.pygrid.dev/v1alpha1/namespaces/default/pygridclusters"


def pgc(name, **spec):
    body = {"credentialsSecretRef": {"name": "genesis-credentials"},
            "network": {"allowedSourceCIDRs": ["203.0.113.0/24"]}}
    body.update(spec)
    return {"apiVersion": "distributor.pygrid.dev/v1alpha1", "kind": "PyGridCluster",
            "metadata": {"name": name}, "spec": body}


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = started([CRD])

    @classmethod
    def tearDownClass(cls):
        finish(cls.sim)

    def call(self, method, path, body=None, content_type="application/json"):
        """Returns (status, parsed JSON or raw bytes)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.sim.server + path, data=data, method=method, headers={
            "Authorization": "Bearer " + self.sim.token, "Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=60) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def assert_alive(self):
        self.assertIsNone(self.sim.proc.poll(), "kube-sim died")
        self.assertEqual(self.call("GET", "/healthz")[0], 200)

    def test_long_image_is_too_long_not_a_crash(self):
        # 65,536 characters crashed kube-sim (std::regex recursion on the pattern).
        for n in (20000, 65536, 1000000):
            status, body = self.call("POST", PGCS, pgc("long-%d" % n, image="a" * n))
            self.assertEqual(status, 422, body)
            self.assertEqual(body["details"]["causes"],
                             [{"field": "spec.image", "reason": "FieldValueTooLong",
                               "message": "Too long: may not be more than 128 bytes"}])
            self.assert_alive()
        # Within maxLength the pattern is checked (Go regexp syntax, linear time).
        status, body = self.call("POST", PGCS, pgc("badimage", image="Ubuntu 22.04!"))
        self.assertEqual(status, 422)
        self.assertIn("spec.image in body should match '^[A-Za-z0-9][A-Za-z0-9 ._:+/-]*$'",
                      body["message"])

    def test_port_22_is_refused_by_the_crd_not_rule(self):
        manifest = json.dumps(pgc("ssh-port", pygrid={"gatewayPort": 22}))
        r = self.sim.kubectl("apply", "--validate=true", "-f", "-", stdin=manifest)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('The PyGridCluster "ssh-port" is invalid: <nil>: Invalid value: "": '
                      '"spec.pygrid.gatewayPort" must not validate the schema (not)', r.stderr)
        status, body = self.call("POST", PGCS, pgc("ssh-node", pygrid={"nodePort": 22}))
        self.assertEqual(status, 422)
        self.assertEqual(body["details"]["causes"],
                         [{"field": "<nil>", "reason": "FieldValueInvalid",
                           "message": 'Invalid value: "": "spec.pygrid.nodePort" must not '
                                      'validate the schema (not)'}])
        r = self.sim.kubectl("apply", "-f", "-",
                             stdin=json.dumps(pgc("ok-port", pygrid={"gatewayPort": 2222})))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_request_body_over_3_mib_is_413(self):
        obj = pgc("huge")
        obj["metadata"]["annotations"] = {"a": "x" * (3 * 1024 * 1024)}
        status, body = self.call("POST", PGCS, obj)
        self.assertEqual(status, 413)
        self.assertEqual(body["reason"], "RequestEntityTooLarge")
        self.assertEqual(body["message"], "Request entity too large: limit is 3145728")
        self.assert_alive()

    def test_object_too_large_for_etcd_is_the_storage_500(self):
        event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "big"},
                 "involvedObject": {"kind": "Pod", "name": "p"}, "message": "m" * 1600000}
        status, body = self.call("POST", "/api/v1/namespaces/default/events", event)
        self.assertEqual(status, 500)
        self.assertEqual(body["message"], "etcdserver: request is too large")
        self.assertNotIn("reason", body)
        # A dry run never reaches etcd.
        status, _ = self.call("POST", "/api/v1/namespaces/default/events?dryRun=All", event)
        self.assertEqual(status, 201)
        self.assert_alive()

    def test_wrong_types_and_deep_nesting_are_400(self):
        status, body = self.call("POST", "/api/v1/namespaces/default/secrets",
                                 {"metadata": {"name": {"x": 1}}})
        self.assertEqual(status, 400)
        self.assertEqual(body["message"],
                         'Secret in version "v1" cannot be handled as a Secret: json: cannot '
                         'unmarshal object into Go struct field ObjectMeta.metadata.name of '
                         'type string')
        deep = b'{"metadata":{"name":"deep"},"spec":' + b"[" * 10001 + b"]" * 10001 + b"}"
        status, body = self.call("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases",
                                 deep)
        self.assertEqual(status, 400)
        self.assertIn("exceeded max depth", body["message"])
        self.assert_alive()

    def test_apply_without_metadata_takes_the_name_from_the_url(self):
        # A 500 before (found by the fuzz test, seed 32).
        lease = (b"apiVersion: coordination.k8s.io/v1\nkind: Lease\n"
                 b"spec:\n  holderIdentity: op-1\n")
        status, body = self.call(
            "PATCH", "/apis/coordination.k8s.io/v1/namespaces/default/leases/nometa"
            "?fieldManager=fuzz", lease, content_type="application/apply-patch+yaml")
        self.assertEqual(status, 201, body)
        self.assertEqual(body["metadata"]["name"], "nometa")
        status, body = self.call(
            "PATCH", "/apis/coordination.k8s.io/v1/namespaces/default/leases/nometa"
            "?fieldManager=fuzz", lease, content_type="application/apply-patch+yaml")
        self.assertEqual(status, 200, body)

    def test_namespaces_cannot_be_deleted_as_a_collection(self):
        # The namespace storage has no DeleteCollection: 405, and `default` survives.
        status, body = self.call("DELETE", "/api/v1/namespaces")
        self.assertEqual(status, 405)
        self.assertEqual(body["reason"], "MethodNotAllowed")
        self.assertEqual(self.call("GET", "/api/v1/namespaces/default")[1]["status"]["phase"],
                         "Active")
        status, body = self.call("DELETE", "/api/v1/namespaces/default")
        self.assertEqual(status, 403)
        self.assertEqual(body["message"],
                         'namespaces "default" is forbidden: this namespace may not be deleted')
        status, resources = self.call("GET", "/api/v1")
        verbs = [r["verbs"] for r in resources["resources"] if r["name"] == "namespaces"][0]
        self.assertNotIn("deletecollection", verbs)

if __name__ == "__main__":
    unittest.main(verbosity=2)
