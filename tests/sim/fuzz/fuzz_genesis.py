"""genesis-sim requests for the fuzz test: instances (with actions), security groups, SSH keys
and images, with random and malformed bodies, ids, paging and tokens; and the answer check."""
import json
import urllib.parse

from fuzz_common import GENESIS_TOKEN, Failure, loads, mutate_object

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
