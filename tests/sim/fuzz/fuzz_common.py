"""Shared parts of the stand-ins' fuzz test (sim_fuzz_test.py): the seeded generator of random
values and malformed bodies, the failure type and answer parsing. Deterministic for a seed."""
import json
import random

import yaml

KUBE_TOKEN = "fuzz-token-not-secret"
GENESIS_TOKEN = "fuzz-token-not-secret"


class Failure(AssertionError):
    pass


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
