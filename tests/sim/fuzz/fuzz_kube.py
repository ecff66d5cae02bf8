"""kube-sim requests for the fuzz test: every endpoint the operator uses, with random queries,
bodies, content types, methods and tokens; and the check that an answer is a documented one."""
import base64
import json
import urllib.parse

from fuzz_common import KUBE_TOKEN, Failure, Deep, loads, mutate_object

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
