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
import http.client
import os
import random
import shutil
import socket
import ssl
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "kube", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "testing"))

from fuzz_common import GENESIS_TOKEN, KUBE_TOKEN, Failure, Gen, raw_garbage  # noqa: E402
from fuzz_genesis import (GENESIS, check_genesis_answer, genesis_request,  # noqa: E402
                          genesis_setup, learn_genesis_ids)
from fuzz_kube import check_kube_answer, kube_request, kube_setup  # noqa: E402
import process_lib  # noqa: E402

TIMEOUT = 20  # seconds for one answer; watches are always bounded by timeoutSeconds


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
            try:
                if self.conn is None:
                    self._open()
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
    try:
        s = socket.create_connection((host, port), timeout=5)
    except ConnectionError as e:
        raise Failure("cannot connect: %r" % e)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    try:
        try:
            s.sendall(data)
            # Tell the server nothing more comes, so it answers or hangs up now instead of
            # waiting for the rest of a truncated or kept-alive request. An SSLSocket's own
            # shutdown() drops TLS; a duplicate of the descriptor half-closes the connection.
            with socket.socket(fileno=os.dup(s.fileno())) as raw:
                raw.shutdown(socket.SHUT_WR)
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
        self.proc = process_lib.start_announced(
            [os.environ["GENESIS_SIM_BIN"], "--port", "0", "--url-out", url_file,
             "--token", GENESIS_TOKEN, "--boot-seconds", "0.2", "--seed", "1",
             "--state-dir", os.path.join(self.tmp, "state"), "--loopback-net", "auto",
             "--no-sshd", "--security-group-seconds", "0.05"],
            self.log, url_file, 20, interval=0.02)
        with open(url_file) as f:
            parts = urllib.parse.urlsplit(f.read().strip())
        self.host, self.port = parts.hostname, parts.port

    def stop(self):
        code = process_lib.stop(self.proc)
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
