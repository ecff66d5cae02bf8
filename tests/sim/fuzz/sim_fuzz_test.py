"""Seeded fuzz test of the stand-ins (issue 16): random, oversized and malformed requests at every
kube-sim and genesis-sim endpoint the operator uses. Passes when the simulator never dies, every
answer arrives within the timeout, and every answer is a documented one: 2xx with a JSON body,
or 4xx with the API's error shape (kube-sim: a metav1.Status; genesis-sim: {code, message}).
The only 5xx allowed is kube-sim's storage error for an object too large for etcd, which the
real kube-apiserver answers the same way (see tests/sim/kube/README.md, "Size limits").

Run: python3 sim_fuzz_test.py kube|genesis   (env KUBE_SIM_BIN / GENESIS_SIM_BIN)
     SIM_FUZZ_SEED=N (default 16; "random" picks one), SIM_FUZZ_REQUESTS=N (default 2000).
The same seed sends the same requests in the same order; a failure prints the seed and the
request that failed.
"""
import base64
import http.client
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "kube", "tests"))

TIMEOUT = 20  # seconds for one answer; watches are always bounded by timeoutSeconds
GENESIS_TOKEN = "fuzz-token-not-secret"
KUBE_TOKEN = "fuzz-token-not-secret"


class Failure(AssertionError):
    pass


# ---------------------------------------------------------------------------------------------
# Random values


class Gen:
    """All randomness of one run; deterministic for a seed."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.valid_only = False

    def chance(self, p):
        return self.r.random() < p

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def first(self, seq):
        """The first (valid) choice half of the time, else any: most objects stay valid enough
        to exercise updates, patches, actions and watches of stored objects. Always the first
        while `valid_only` is set (the setup phase)."""
        return seq[0] if self.valid_only or self.chance(0.5) else self.pick(seq)

    def text(self, n=None):
        n = self.r.randrange(0, 24) if n is None else n
        alphabet = "abcz09-._ /:@AZ\u00e9\u4e2d\U0001f600\"\\\n\t\x00{}[]%?#&="
        return "".join(self.pick(alphabet) for _ in range(n))

    def name(self, pool):
        roll = self.r.random()
        if roll < 0.75:
            return self.pick(pool)
        if roll < 0.85:
            return self.text(self.r.randrange(1, 12))
        if roll < 0.9:
            return "x" * self.pick([63, 64, 253, 254, 10000])
        return self.pick(["", "..", ".", "UPPER", "-lead", "trail-", "a.b", "%00", "\u00e9"])

    def scalar(self):
        return self.pick([
            None, True, False, 0, -1, 1, 22, 65536, 2 ** 31, 2 ** 63, -2 ** 63, 10 ** 30, 1.5,
            -0.0, 1e308, "", "x", self.text(), "22", "true", "null", "2026-01-01T00:00:00Z",
            "not-a-time", "\u00e9\u4e2d", "a" * 300,
        ])

    def value(self, depth=0):
        roll = self.r.random()
        if depth > 3 or roll < 0.55:
            return self.scalar()
        if roll < 0.75:
            return [self.value(depth + 1) for _ in range(self.r.randrange(0, 4))]
        return {self.text(self.r.randrange(0, 8)): self.value(depth + 1)
                for _ in range(self.r.randrange(0, 4))}

    def deep(self):
        depth = self.pick([100, 2000, 9999, 10001, 50000])
        if self.chance(0.5):
            return "[" * depth + "]" * depth
        return '{"a":' * depth + "1" + "}" * depth


def paths_of(obj, prefix=()):
    """Every path into a JSON value (dict keys and list indexes)."""
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(paths_of(v, prefix + (k,)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(paths_of(v, prefix + (i,)))
    return out


def set_path(obj, path, value):
    if not path:
        return value
    cur = obj
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return obj


def mutate_object(g, obj):
    """Returns (bytes, note): the object, maybe changed, serialized maybe wrongly."""
    obj = json.loads(json.dumps(obj))
    note = []
    for _ in range(g.r.randrange(0, 4)):
        path = g.pick(paths_of(obj))
        roll = g.r.random()
        if roll < 0.5:
            obj = set_path(obj, path, g.value())
            note.append("value@" + ".".join(map(str, path)))
        elif roll < 0.6 and isinstance(obj, dict) and path and isinstance(
                get_path(obj, path[:-1]), dict):
            del get_path(obj, path[:-1])[path[-1]]
            note.append("drop@" + ".".join(map(str, path)))
        elif roll < 0.7:
            size = g.pick([70000, 65536, 1100000, 1600000, 2200000, 3200000])
            obj = set_path(obj, path, "a" * size)
            note.append("huge%d@%s" % (size, ".".join(map(str, path))))
        else:
            obj = set_path(obj, path, {g.text(5): g.value()})
            note.append("object@" + ".".join(map(str, path)))
    return serialize(g, obj, note)


def get_path(obj, path):
    for k in path:
        obj = obj[k]
    return obj


def serialize(g, obj, note):
    roll = g.r.random()
    if roll < 0.7:
        data = json.dumps(obj).encode()
    elif roll < 0.85:
        data = yaml.dump(obj, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper)).encode()
        note.append("yaml")
    else:
        data = json.dumps(obj, ensure_ascii=False).encode()
    roll = g.r.random()
    if roll < 0.05 and data:
        data = data[:g.r.randrange(len(data))]
        note.append("truncated")
    elif roll < 0.09 and data:
        i = g.r.randrange(len(data))
        data = data[:i] + bytes(g.r.randrange(0x80, 0x100) for _ in range(3)) + data[i:]
        note.append("invalid-utf8")
    elif roll < 0.11:
        data = bytes(g.r.randrange(256) for _ in range(g.r.randrange(0, 600)))
        note.append("random-bytes")
    elif roll < 0.13:
        data = g.deep().encode()
        note.append("deep")
    elif roll < 0.14:
        data = data.replace(b'{"', b'{"kind": 5, "', 1)
        note.append("duplicate-key")
    return data, note


# ---------------------------------------------------------------------------------------------
# HTTP


class Client:
    """One keep-alive connection, reopened after errors and closes."""

    def __init__(self, host, port, tls):
        self.host, self.port, self.tls = host, port, tls
        self.conn = None

    def _open(self):
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=TIMEOUT,
                                                    context=ctx)
        else:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        self.conn.connect()
        # http.client sends headers and body in two writes; without TCP_NODELAY (which Go's
        # clients set) the body waits for the server's delayed ACK, 40-200 ms per request.
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, method, target, body, headers):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        for attempt in range(2):
            if self.conn is None:
                self._open()
            try:
                self.conn.putrequest(method, target, skip_accept_encoding=True)
                for k, v in headers.items():
                    self.conn.putheader(k, v)
                if body is not None:
                    self.conn.putheader("Content-Length", str(len(body)))
                self.conn.endheaders(body)
                resp = self.conn.getresponse()
                data = resp.read()
                hdrs = {k.lower(): v for k, v in resp.getheaders()}
                if resp.will_close:
                    self.close()
                return resp.status, hdrs, data
            except (ConnectionError, http.client.RemoteDisconnected, ssl.SSLError) as e:
                # The server closed a kept-alive connection; one retry on a fresh one is what
                # every HTTP client does. A second failure is the server's.
                self.close()
                if attempt == 1:
                    raise Failure("no answer: %r" % e)
            except socket.timeout:
                self.close()
                raise Failure("no answer within %d s" % TIMEOUT)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def raw_exchange(host, port, tls, data):
    """Sends raw bytes (maybe not HTTP at all); returns what comes back before close/timeout."""
    s = socket.create_connection((host, port), timeout=5)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    try:
        try:
            s.sendall(data)
            if not tls:
                s.shutdown(socket.SHUT_WR)
        except (ConnectionError, ssl.SSLError, socket.timeout):
            pass  # the server may answer and hang up before all of it is sent
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionError, ssl.SSLError):
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def raw_garbage(g):
    return g.pick([
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"b" * 2000000 + b"\r\n\r\n",
        bytes(g.r.randrange(256) for _ in range(200)),
        b"POST /compute/v1/instances HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na",
    ])


# ---------------------------------------------------------------------------------------------
# Answer checks


class Deep(dict):
    """Stands for an answer nested deeper than Python's json module can read (a stored object
    with a 9,999-level field is legal); only its outer shape was checked."""


def loads(data):
    try:
        return json.loads(data)
    except RecursionError:
        text = data.strip()
        if text.startswith(b"{") and text.endswith(b"}"):
            return Deep()
        raise ValueError("deep answer that is not an object")


def check_kube_answer(method, target, status, headers, data, watch):
    ctype = headers.get("content-type", "")
    if status >= 500:
        try:
            body = loads(data)
        except ValueError:
            raise Failure("5xx without a Status body: %d %r" % (status, data[:300]))
        msg = body.get("message", "")
        if status == 500 and body.get("kind") == "Status" and (
                msg == "etcdserver: request is too large" or
                msg.startswith("rpc error: code = ResourceExhausted desc = grpc: trying to send "
                               "message larger than max")):
            return
        raise Failure("5xx for bad input: %d %r" % (status, data[:500]))
    path = urllib.parse.urlsplit(target).path
    if path in ("/healthz", "/readyz", "/livez") and status == 200:
        return
    if path == "/openapi/v2" and status == 200 and "protobuf" in ctype:
        return
    if watch and status == 200:
        for line in data.splitlines():
            ev = loads(line)
            if isinstance(ev, Deep):
                ev = {"type": line.rsplit(b'"type":"', 1)[-1].rstrip(b'"}').decode()}
            if ev.get("type") not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"):
                raise Failure("bad watch event %r" % line[:300])
        return
    try:
        body = loads(data) if data else None
    except ValueError:
        raise Failure("answer is not JSON: %d %r" % (status, data[:300]))
    if path.startswith("/_sim/"):
        return
    if status >= 400:
        ok = (isinstance(body, dict) and body.get("kind") == "Status" and
              body.get("apiVersion") == "v1" and body.get("status") == "Failure" and
              body.get("code") == status and isinstance(body.get("message"), str) and
              isinstance(body.get("reason", ""), str))
        if not ok:
            raise Failure("4xx without a metav1.Status body: %d %r" % (status, data[:300]))
    elif status not in (200, 201, 202):
        raise Failure("unexpected status %d" % status)
    elif not isinstance(body, dict):
        raise Failure("2xx body is not a JSON object: %r" % data[:300])


def check_genesis_answer(method, target, status, headers, data, watch):
    if status >= 500:
        raise Failure("5xx for bad input: %d %r" % (status, data[:500]))
    path = urllib.parse.urlsplit(target).path
    if status == 204:
        if data:
            raise Failure("204 with a body")
        return
    try:
        body = loads(data)
    except ValueError:
        raise Failure("answer is not JSON: %d %r" % (status, data[:300]))
    if path.startswith("/_sim/"):
        return
    if status >= 400:
        if not (isinstance(body, dict) and isinstance(body.get("code"), str) and
                isinstance(body.get("message"), str)):
            raise Failure("4xx without the {code, message} body: %d %r" % (status, data[:300]))
    elif not isinstance(body, dict):
        raise Failure("2xx body is not a JSON object: %r" % data[:300])


# ---------------------------------------------------------------------------------------------
# kube-sim requests

PGC_GROUP = "/apis/distributor.pygrid.dev/v1alpha1"
NAMES = ["fuzz-a", "fuzz-b", "fuzz-c"]
NAMESPACES = ["default", "default", "default", "fuzz", "missing-ns"]


def meta(g, name, ns):
    m = {"name": name, "namespace": ns}
    if g.chance(0.3):
        m["labels"] = {"app": "pygrid", g.text(4): g.text(4)}
    if g.chance(0.2):
        m["annotations"] = {"a": g.text()}
    if g.chance(0.1):
        m["finalizers"] = ["distributor.pygrid.dev/instances"]
    if g.chance(0.1):
        m["resourceVersion"] = g.pick(["1", "999999", "abc", ""])
    if g.chance(0.05):
        m["ownerReferences"] = [{"apiVersion": "v1", "kind": "Secret", "name": "x", "uid": "u"}]
    return m


def kube_object(g, res, name, ns):
    if res == "pygridclusters":
        return {"apiVersion": "distributor.pygrid.dev/v1alpha1", "kind": "PyGridCluster",
                "metadata": meta(g, name, ns),
                "spec": {"credentialsSecretRef": {"name": "genesis-credentials"},
                         "workers": {"replicas": g.first([0, 2, 100, 101])},
                         "image": g.first(["Ubuntu 22.04", "bad image!", "a" * 200]),
                         "pygrid": {"flavor": g.first(["gateway-2020", "network-0.2", "x"]),
                                    "gatewayPort": g.first([0, 22, 5000, 70000]),
                                    "nodePort": g.first([0, 22, 3000])},
                         "network": {"allowedSourceCIDRs": [g.first(["203.0.113.0/24", "bad"])],
                                     "securityGroupName": g.first(["", "standard", "pg-x"])}},
                "status": {"phase": "Ready", "conditions": [
                    {"type": "Ready", "status": "True", "reason": "R", "message": "",
                     "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
    if res == "secrets":
        return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(g, name, ns),
                "type": "Opaque", "data": {"token": g.first(["YWJj", "!!notb64", ""])},
                "stringData": {"key": "value"}}
    if res == "events":
        return {"apiVersion": "v1", "kind": "Event", "metadata": meta(g, name, ns),
                "involvedObject": {"kind": "PyGridCluster", "name": "fuzz-a", "namespace": ns,
                                   "apiVersion": "distributor.pygrid.dev/v1alpha1"},
                "reason": "Created", "message": "created", "type": "Normal", "count": 1,
                "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z",
                "source": {"component": "pygrid-operator"},
                "reportingComponent": "pygrid-operator", "reportingInstance": "x"}
    if res == "events.k8s.io":
        return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta(g, name, ns),
                "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "pygrid",
                "reportingInstance": "x", "action": "Create", "reason": "Created",
                "regarding": {"kind": "PyGridCluster", "name": "fuzz-a", "namespace": ns},
                "note": "n", "type": "Normal"}
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta(g, name, ns),
            "spec": {"holderIdentity": "op-1", "leaseDurationSeconds": 15,
                     "acquireTime": "2026-01-01T00:00:00.000000Z",
                     "renewTime": "2026-01-01T00:00:00.000000Z", "leaseTransitions": 0}}


KUBE_RESOURCES = {
    "pygridclusters": PGC_GROUP + "/namespaces/%s/pygridclusters",
    "secrets": "/api/v1/namespaces/%s/secrets",
    "events": "/api/v1/namespaces/%s/events",
    "events.k8s.io": "/apis/events.k8s.io/v1/namespaces/%s/events",
    "leases": "/apis/coordination.k8s.io/v1/namespaces/%s/leases",
}

CONTENT_TYPES = ["application/json", "application/yaml", "application/merge-patch+json",
                 "application/json-patch+json", "application/strategic-merge-patch+json",
                 "application/apply-patch+yaml", "application/vnd.kubernetes.protobuf",
                 "text/plain", "application/json; charset=utf-8", "garbage/\u00e9", ""]


def selector(g):
    return g.pick(["app=pygrid", "app in (a,b)", "!app", "app!=x,tier", "a=b=c", "in (", "(",
                   "app notin ()", "x" * 300, g.text(), "metadata.name=fuzz-a",
                   "involvedObject.name=fuzz-a,type=Normal", "spec.x=1", "=", ",,", "a==b"])


def kube_query(g, verb):
    q = []
    if verb in ("list", "watch"):
        if g.chance(0.4):
            q.append(("labelSelector", selector(g)))
        if g.chance(0.3):
            q.append(("fieldSelector", selector(g)))
        if g.chance(0.2):
            q.append(("limit", g.pick(["1", "0", "-1", "abc", "99999999999999999999"])))
        if g.chance(0.15):
            q.append(("continue", g.pick(["", "abc", base64.b64encode(b'{"rv":1}').decode(),
                                          base64.b64encode(b"not json").decode()])))
        if g.chance(0.2):
            q.append(("resourceVersion", g.pick(["0", "1", "", "abc", "-1", "99999999999"])))
        if g.chance(0.1):
            q.append(("resourceVersionMatch", g.pick(["Exact", "NotOlderThan", "x"])))
    if verb == "watch":
        q.append(("watch", g.pick(["1", "true", "True", "t"])))
        # Always bounded: the harness waits for the end of the stream.
        q.append(("timeoutSeconds", g.pick(["0", "0", "-1", "abc", "99999999999999999999", ""])))
        if g.chance(0.3):
            q.append(("allowWatchBookmarks", "true"))
    if verb in ("create", "update", "patch", "apply"):
        if g.chance(0.5) or verb == "apply":
            q.append(("fieldManager", g.pick(["pygrid-operator", "", g.text()])))
        if g.chance(0.3):
            q.append(("fieldValidation", g.pick(["Strict", "Warn", "Ignore", "x"])))
        if g.chance(0.1):
            q.append(("dryRun", g.pick(["All", "x"])))
        if verb == "apply" and g.chance(0.5):
            q.append(("force", g.pick(["true", "false", "x"])))
    if verb == "delete" and g.chance(0.3):
        q.append(("propagationPolicy", g.pick(["Foreground", "Background", "Orphan", "x"])))
    if g.chance(0.05):
        q.append((g.text(3), g.text()))
    return q


def kube_request(g):
    """(method, target, body, headers, is_watch, note)"""
    headers = {"Authorization": "Bearer " + KUBE_TOKEN, "User-Agent": "sim-fuzz/1.0"}
    roll = g.r.random()
    if roll < 0.06:
        path = g.pick(["/api", "/api/v1", "/apis", PGC_GROUP, "/apis/distributor.pygrid.dev",
                       "/version", "/openapi/v2", "/openapi/v3", "/openapi/v3/apis/x",
                       "/openapi/", "/openapi/v2x", "/openapi/v3/api/v1", "/apis/x/y/z",
                       "/healthz", "/nope", "/api/v1/namespaces", "/api/v1/namespaces/default"])
        if path == "/openapi/v2" and g.chance(0.5):
            headers["Accept"] = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
        return g.pick(["GET", "GET", "POST", "DELETE"]), path, None, headers, False, ["discovery"]
    res = g.pick(list(KUBE_RESOURCES))
    ns = g.pick(NAMESPACES)
    collection = KUBE_RESOURCES[res] % urllib.parse.quote(ns, safe="")
    if res == "pygridclusters" and g.chance(0.1):
        collection = PGC_GROUP + "/pygridclusters"  # all namespaces
    name = g.name(NAMES)
    item = collection + "/" + urllib.parse.quote(name, safe="")
    verb = g.pick(["list", "list", "watch", "get", "create", "create", "create", "update",
                   "update", "patch", "patch", "apply", "delete", "deletecollection", "status"])
    note = [res, verb]
    body = None
    method, target = "GET", collection
    if verb == "get":
        target = item
    elif verb in ("create", "update", "status"):
        method = "POST" if verb == "create" else "PUT"
        target = collection if verb == "create" else item
        if verb == "status":
            target = item + "/status"
        obj = kube_object(g, res, name, ns)
        if g.chance(0.7):
            body, n = mutate_object(g, obj)
            note += n
        else:
            body = json.dumps(obj).encode()
        headers["Content-Type"] = "application/json"
    elif verb in ("patch", "apply"):
        method = "PATCH"
        target = item + ("/status" if g.chance(0.3) else "")
        if verb == "apply":
            headers["Content-Type"] = "application/apply-patch+yaml"
            obj = kube_object(g, res, name, ns)
            body, n = mutate_object(g, obj)
            note += n
        else:
            kind = g.pick(["application/merge-patch+json", "application/json-patch+json",
                           "application/strategic-merge-patch+json"])
            headers["Content-Type"] = kind
            if kind == "application/json-patch+json":
                ops = [{"op": g.pick(["add", "remove", "replace", "test", "move", "copy", "x"]),
                        "path": g.pick(["/spec/workers/replicas", "/metadata/labels/a", "/x/y",
                                        "", "/", "~", "/metadata/finalizers/-", "/status"]),
                        "value": g.value(), "from": g.pick(["/spec", "/nope"])}
                       for _ in range(g.r.randrange(0, 4))]
                body, n = mutate_object(g, ops) if g.chance(0.5) else (json.dumps(ops).encode(),
                                                                      [])
            else:
                patch = {"metadata": {"labels": {"a": g.pick(["b", None, 5])}},
                         "spec": {"workers": {"replicas": g.pick([1, "x", None])}},
                         "status": {"phase": g.pick(["Ready", 5, None])}}
                body, n = mutate_object(g, patch)
            note += n
    elif verb == "delete":
        method, target = "DELETE", item
        if g.chance(0.4):
            opts = {"kind": "DeleteOptions", "apiVersion": "v1",
                    "preconditions": {"uid": g.pick(["u", None, 5]),
                                      "resourceVersion": g.pick(["1", None, 7])},
                    "propagationPolicy": g.pick(["Background", 5]),
                    "gracePeriodSeconds": g.pick([0, -1, "x"])}
            body, n = mutate_object(g, opts)
            note += n
            headers["Content-Type"] = "application/json"
    elif verb == "deletecollection":
        method = "DELETE"
    if g.chance(0.12) and body is not None:
        headers["Content-Type"] = g.pick(CONTENT_TYPES)
        if headers["Content-Type"] == "application/vnd.kubernetes.protobuf" and g.chance(0.7):
            body = b"k8s\x00" + bytes(g.r.randrange(256) for _ in range(g.r.randrange(0, 300)))
        note.append("content-type=" + headers["Content-Type"])
    if g.chance(0.04):
        method = g.pick(["OPTIONS", "FOO", "POST", "PUT", "PATCH"])
        note.append("method=" + method)
    if g.chance(0.03):
        headers["Authorization"] = g.pick(["Bearer wrong", "", "Basic eDp5"])
        note.append("auth")
    if g.chance(0.05):
        headers["Accept"] = g.pick(["application/json;as=Table;v=v1;g=meta.k8s.io",
                                    "application/yaml", "*/*", "text/html"])
    query = kube_query(g, verb)
    if query:
        target += "?" + urllib.parse.urlencode(query)
    return method, target, body, headers, verb == "watch" and method == "GET", note


def kube_setup(g, client):
    """Valid objects of every resource in default, so that fuzzed reads, updates, patches and
    watches meet stored objects and not only 404s."""
    g.valid_only = True
    try:
        for res, collection in KUBE_RESOURCES.items():
            if res == "events.k8s.io":
                continue  # the same store as core/v1 events
            for name in NAMES:
                obj = kube_object(g, res, name, "default")
                obj["metadata"] = {"name": name, "namespace": "default"}
                status, _, data = client.request(
                    "POST", collection % "default", json.dumps(obj).encode(),
                    {"Authorization": "Bearer " + KUBE_TOKEN, "Content-Type": "application/json"})
                if status != 201:
                    raise Failure("setup: creating %s/%s answered %d %r" %
                                  (res, name, status, data[:300]))
    finally:
        g.valid_only = False


# ---------------------------------------------------------------------------------------------
# genesis-sim requests

GENESIS = "/compute/v1"


def genesis_body(g, kind):
    if kind == "instance":
        b = {"name": g.first(["fuzz", "", "x" * 300]), "hostname": g.first(["fuzz", "bad host"]),
             "type": g.first(["vcpu-4_memory-12g_disk-80g_nvidia1080ti-1", "nope"]),
             "image": g.first(["ubuntu-22.04", "Ubuntu 22.04", "ubuntu-ml-nvidia-pytorch", "x"]),
             "ssh_keys": [g.first(["missing-key-id"])],
             "security_groups": ["standard"],
             "metadata": {"startup_script": g.first(["#cloud-config\n{}", "a" * 65537, 5])},
             "region": g.first(["ARC-IS-HAF-1", "NORD-NO-KRS-1", "MARS-1"]),
             "is_protected": g.first([False, "no"]),
             "placement_option": g.first(["AUTO", 5]), "public_ip_type": g.first(["dynamic", 7])}
        if g.valid_only or g.chance(0.7):
            del b["security_groups"]  # ids are expected; `standard` is a name
        if g.valid_only or g.chance(0.8):
            del b["ssh_keys"]
            b["password"] = g.first(["Passw0rdPassw0rd", "short", 5])
        return b
    if kind == "patch":
        return {"name": g.first(["renamed", "", 5]), "is_protected": g.first([True, "x"]),
                "security_groups": g.first([["standard"], [], "x", [5]])}
    if kind == "action":
        return {"action": g.first(["start", "stop", "reset", "explode", 5, None])}
    if kind == "key":
        return {"name": g.first(["fuzz-key", ""]),
                "value": g.first(["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA6VRRQRnbVp/CetTjw525KPP0zqS"
                                  "NNmMy8k/lIMJuPT fuzz", "ssh-rsa AAAA", "", 5,
                                  "ecdsa-sha2-nistpx AAAA", "ecdsa-sha2-nistp99999999999 AAAA",
                                  "ssh-ed25519 !!!!", "ssh-rsa " + "A" * 100000])}
    return {"name": g.first(["fuzz-sg", "standard", "default", "", "x" * 300]),
            "description": g.first(["d", 5]), "region": g.first(["ARC-IS-HAF-1", "X", 5]),
            "rules": g.first([[{"protocol": "tcp", "direction": "ingress", "port_range_min": 22,
                               "port_range_max": 22}],
                             [{"protocol": "icmp", "direction": "egress"}],
                             [{"protocol": "tcp", "direction": "ingress", "port_range_min": 9,
                               "port_range_max": 2}],
                             [5], "x", [], [{"protocol": 5}]])}


def genesis_request(g, ids):
    headers = {"Authorization": "Bearer " + GENESIS_TOKEN}
    if g.chance(0.1):
        headers = {"X-Auth-Token": GENESIS_TOKEN}
    if g.chance(0.03):
        headers = g.pick([{}, {"Authorization": "Bearer wrong"}, {"X-Auth-Token": ""}])
    kind = g.pick(["instances", "instances", "instances", "instance", "instance", "actions",
                   "security-groups", "security-group", "ssh-keys", "ssh-key", "images",
                   "image", "other"])

    def some_id(pool):
        roll = g.r.random()
        if roll < 0.7 and ids.get(pool):
            return g.pick(ids[pool])
        return g.pick(["missing", "", "..", "%00", "x" * 5000, "\u00e9", "standard"])

    body_kind = None
    if kind == "instances":
        method = g.pick(["GET", "POST", "POST", "DELETE"])
        path = GENESIS + "/instances"
        body_kind = "instance" if method == "POST" else None
    elif kind == "instance":
        method = g.pick(["GET", "PATCH", "DELETE", "PUT"])
        path = GENESIS + "/instances/" + urllib.parse.quote(some_id("instances"), safe="")
        body_kind = "patch" if method in ("PATCH", "PUT") else None
    elif kind == "actions":
        method = g.pick(["GET", "POST", "POST"])
        path = GENESIS + "/instances/" + urllib.parse.quote(some_id("instances"), safe="") + \
            "/actions"
        body_kind = "action" if method == "POST" else None
    elif kind == "security-groups":
        method = g.pick(["GET", "POST"])
        path = GENESIS + "/security-groups"
        body_kind = "group" if method == "POST" else None
    elif kind == "security-group":
        method = g.pick(["GET", "PUT", "PATCH", "DELETE"])
        path = GENESIS + "/security-groups/" + urllib.parse.quote(some_id("groups"), safe="")
        body_kind = "group" if method in ("PUT", "PATCH") else None
    elif kind == "ssh-keys":
        method = g.pick(["GET", "POST"])
        path = GENESIS + "/ssh-keys"
        body_kind = "key" if method == "POST" else None
    elif kind == "ssh-key":
        method = g.pick(["GET", "PUT", "DELETE"])
        path = GENESIS + "/ssh-keys/" + urllib.parse.quote(some_id("keys"), safe="")
        body_kind = "key" if method == "PUT" else None
    elif kind == "images":
        method, path = "GET", GENESIS + "/images"
    elif kind == "image":
        method, path = "GET", GENESIS + "/images/" + urllib.parse.quote(g.text(), safe="")
    else:
        method = g.pick(["GET", "POST", "FOO"])
        path = g.pick([GENESIS, GENESIS + "/", "/", "/compute", "/compute/v2/instances",
                       GENESIS + "/instances/a/b/c", GENESIS + "/" + g.text()])
        path = urllib.parse.quote(path, safe="/")
    note = [kind, method]
    body = None
    if body_kind is not None:
        body, n = mutate_object(g, genesis_body(g, body_kind))
        note += n
        headers["Content-Type"] = g.pick(["application/json"] * 8 + ["text/plain", ""])
    elif g.chance(0.05):
        body = bytes(g.r.randrange(256) for _ in range(g.r.randrange(0, 100)))
        note.append("body-on-" + method)
    query = []
    if method == "GET" and g.chance(0.3):
        query.append(("page", g.pick(["1", "0", "2", "-1", "x", "99999999999", "1e3", ""])))
    if method == "GET" and g.chance(0.3):
        query.append(("per_page", g.pick(["1", "100", "101", "0", "x", "5"])))
    if kind == "images" and g.chance(0.3):
        query.append(("type", g.pick(["base-os", "preconfigured", "x", ""])))
    if query:
        path += "?" + urllib.parse.urlencode(query)
    return method, path, body, headers, False, note


def genesis_setup(g, client, ids):
    """A key, two security groups and three instances, so that fuzzed requests by id, actions
    included, meet existing objects."""
    g.valid_only = True
    auth = {"Authorization": "Bearer " + GENESIS_TOKEN, "Content-Type": "application/json"}
    try:
        for path, body in [("/ssh-keys", genesis_body(g, "key"))] + [
                ("/security-groups", dict(genesis_body(g, "group"), name="fuzz-sg-%d" % i))
                for i in range(2)] + [("/instances", genesis_body(g, "instance"))] * 3:
            if path == "/instances":
                body = dict(body)
                body.pop("ssh_keys", None)
                body["password"] = "Passw0rdPassw0rd"
            status, _, data = client.request("POST", GENESIS + path, json.dumps(body).encode(),
                                             auth)
            if status != 201:
                raise Failure("setup: POST %s answered %d %r" % (path, status, data[:300]))
            learn_genesis_ids(ids, "POST", GENESIS + path, status, data)
    finally:
        g.valid_only = False


def learn_genesis_ids(ids, method, target, status, data):
    """Remembers ids from answers so later requests hit existing objects."""
    if status not in (200, 201) or not data:
        return
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return
    for key, pool in (("instance", "instances"), ("security_group", "groups")):
        if isinstance(body, dict) and isinstance(body.get(key), dict) and "id" in body[key]:
            ids.setdefault(pool, []).append(body[key]["id"])
    if target.startswith(GENESIS + "/ssh-keys") and method == "POST" and "id" in body:
        ids.setdefault("keys", []).append(body["id"])
    for pool in ids.values():
        del pool[:-20]


# ---------------------------------------------------------------------------------------------
# Simulator processes


def start_kube():
    from kubesim_fixture import KubeSim
    sim = KubeSim(token=KUBE_TOKEN).start()
    r = sim.kubectl("apply", "-f", os.path.join(os.environ.get("PYGRID_SOURCE_DIR", ""),
                                                "crds", "pygridclusters.distributor.pygrid.dev.yaml"))
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    r = sim.kubectl("create", "namespace", "fuzz")
    host, port = urllib.parse.urlsplit(sim.server).hostname, urllib.parse.urlsplit(sim.server).port
    return sim, host, port, True


class GenesisProcess:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="genesis-fuzz-")
        url_file = os.path.join(self.tmp, "url")
        self.log = open(os.path.join(self.tmp, "genesis-sim.log"), "w")
        self.proc = subprocess.Popen(
            [os.environ["GENESIS_SIM_BIN"], "--port", "0", "--url-out", url_file,
             "--token", GENESIS_TOKEN, "--boot-seconds", "0.2", "--seed", "1",
             "--state-dir", os.path.join(self.tmp, "state"), "--loopback-net", "auto",
             "--no-sshd", "--security-group-seconds", "0.05"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while not os.path.exists(url_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("genesis-sim did not start")
            time.sleep(0.02)
        with open(url_file) as f:
            parts = urllib.parse.urlsplit(f.read().strip())
        self.host, self.port = parts.hostname, parts.port

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.close()
        return code

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------


def run(which, seed, count):
    g = Gen(seed)
    if which == "kube":
        sim, host, port, tls = start_kube()
        proc = sim.proc
        make = lambda: kube_request(g)  # noqa: E731
        check = check_kube_answer
        alive = ("GET", "/healthz", {"Authorization": "Bearer " + KUBE_TOKEN})
    else:
        sim = GenesisProcess()
        host, port, tls, proc = sim.host, sim.port, False, sim.proc
        ids = {}
        make = lambda: genesis_request(g, ids)  # noqa: E731
        check = check_genesis_answer
        alive = ("GET", GENESIS + "/images", {"Authorization": "Bearer " + GENESIS_TOKEN})
    client = Client(host, port, tls)
    started = time.time()
    counts = {}
    sent = 0
    current = ("SETUP",)
    try:
        if which == "kube":
            kube_setup(g, client)
        else:
            genesis_setup(g, client, ids)
        for i in range(count):
            if g.chance(0.004):
                data = raw_garbage(g)
                current = ("RAW", data[:80], None, {}, False, ["raw"])
                out = raw_exchange(host, port, tls, data)
                if out and not out.startswith(b"HTTP/1.1 4"):
                    raise Failure("malformed HTTP got %r" % out[:200])
                counts["raw"] = counts.get("raw", 0) + 1
            else:
                current = make()
                method, target, body, headers, watch, note = current
                status, hdrs, data = client.request(method, target, body, headers)
                check(method, target, status, hdrs, data, watch)
                counts[status] = counts.get(status, 0) + 1
                if which == "genesis":
                    learn_genesis_ids(ids, method, target, status, data)
            sent += 1
            if proc.poll() is not None:
                raise Failure("the simulator exited (status %s)" % proc.returncode)
            if i % 200 == 199:
                current = ("ALIVE",) + alive
                status, _, _ = client.request(alive[0], alive[1], None, alive[2])
                if status != 200:
                    raise Failure("liveness request answered %d" % status)
        current = ("ALIVE",) + alive
        status, _, _ = client.request(alive[0], alive[1], None, alive[2])
        if status != 200 or proc.poll() is not None:
            raise Failure("not alive at the end")
        client.close()
        code = sim.stop()
        if code != 0:
            raise Failure("the simulator did not exit cleanly on SIGTERM: %s" % code)
    except Failure as e:
        desc = current
        if desc and len(desc) >= 6 and isinstance(desc[2], (bytes, type(None))):
            body = desc[2] or b""
            desc = (desc[0], desc[1][:300] if isinstance(desc[1], str) else desc[1],
                    "%d bytes: %r" % (len(body), body[:300]), desc[3], desc[5])
        print("FAIL %s fuzz, seed %d, request #%d: %s\n  request: %r" %
              (which, seed, sent + 1, e, desc))
        print("  rerun: SIM_FUZZ_SEED=%d SIM_FUZZ_REQUESTS=%d" % (seed, sent + 1))
        try:
            sim.stop()
        except Exception:
            pass
        return False
    finally:
        client.close()
        if hasattr(sim, "cleanup"):
            sim.cleanup()
    print("%s fuzz: seed %d, %d requests in %.1f s, answers by status: %s" %
          (which, seed, sent, time.time() - started,
           ", ".join("%s=%d" % (k, v) for k, v in sorted(counts.items(), key=str))))
    return True


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "kube"
    seed_text = os.environ.get("SIM_FUZZ_SEED", "16")
    seed = random.SystemRandom().randrange(1 << 31) if seed_text == "random" else int(seed_text)
    count = int(os.environ.get("SIM_FUZZ_REQUESTS", "2000"))
    print("%s fuzz: seed %d (SIM_FUZZ_SEED=%d to replay), %d requests" %
          (which, seed, seed, count), flush=True)
    sys.exit(0 if run(which, seed, count) else 1)


if __name__ == "__main__":
    main()
