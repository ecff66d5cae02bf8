"""Starts a fresh kube-sim for a test module and runs kubectl / the Python client against it.

Usage (from a unittest module run as `python3 X.py <kube-sim binary> <source dir>`):
    sim = KubeSim(binary); sim.start(); sim.kubectl("get", "ns"); sim.stop()
Each KubeSim gets its own temp dir (kubeconfig, kubectl discovery cache) and port 0.
"""
import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.request
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "testing"))
import process_lib  # noqa: E402
from process_lib import wait_until  # noqa: E402,F401 (the tests import it from here)

# The Python client leaves pooled TLS sockets to the garbage collector; that noise hides
# real failures in the test output.
warnings.simplefilter("ignore", ResourceWarning)

BINARY = os.environ.get("KUBE_SIM_BIN", "")
SOURCE_DIR = os.environ.get("PYGRID_SOURCE_DIR", "")


class KubeSim:
    """One kube-sim process; not thread-safe except kubectl() and control(), which are."""

    def __init__(self, binary=None, token="test-token-not-secret", extra_args=()):
        self.binary = binary or BINARY
        self.token = token
        self.extra_args = list(extra_args)
        self.tmp = tempfile.TemporaryDirectory(prefix="kubesim-")
        self.kubeconfig = os.path.join(self.tmp.name, "kubeconfig")
        self.proc = None
        self.server = None

    def start(self, timeout=30):
        self.log = open(os.path.join(self.tmp.name, "kube-sim.log"), "w")
        self.proc = process_lib.start_announced(
            [self.binary, "--port", "0", "--kubeconfig-out", self.kubeconfig,
             "--token", self.token] + self.extra_args, self.log, self.kubeconfig, timeout)
        with open(self.kubeconfig) as f:
            for line in f:
                if "server:" in line:
                    self.server = line.split("server:")[1].strip()
        return self

    def stop(self):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return None
        code = process_lib.stop(self.proc)
        self.proc = None
        self.log.close()
        return code

    def cleanup(self):
        self.stop()
        self.tmp.cleanup()

    def kubectl(self, *args, stdin=None, timeout=60, kubeconfig=None):
        """Runs kubectl against this server; returns CompletedProcess (text)."""
        env = dict(os.environ)
        env["KUBECONFIG"] = kubeconfig or self.kubeconfig
        env["HOME"] = self.tmp.name
        cmd = ["kubectl", "--cache-dir", os.path.join(self.tmp.name, "cache")] + list(args)
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env,
                              timeout=timeout)

    def kubectl_popen(self, *args):
        env = dict(os.environ)
        env["KUBECONFIG"] = self.kubeconfig
        env["HOME"] = self.tmp.name
        cmd = ["kubectl", "--cache-dir", os.path.join(self.tmp.name, "cache")] + list(args)
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)

    def control(self, method, path, body=None):
        """Calls the /_sim/ control API; returns (code, json)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def api_client(self):
        """A kubernetes.client.ApiClient configured from the kubeconfig."""
        from kubernetes import client, config
        cfg = client.Configuration()
        config.load_kube_config(config_file=self.kubeconfig, client_configuration=cfg)
        return client.ApiClient(cfg)


def started(manifests=(), **kwargs):
    """A started KubeSim(**kwargs) with each manifest file applied (kubectl apply -f)."""
    sim = KubeSim(**kwargs).start()
    for manifest in manifests:
        r = sim.kubectl("apply", "-f", manifest)
        assert r.returncode == 0, r.stderr
    return sim


def finish(sim):
    """Stops `sim`, removes its folder, and asserts that it exited cleanly on SIGTERM."""
    code = sim.stop()
    sim.cleanup()
    assert code == 0, "kube-sim did not exit cleanly on SIGTERM: %s" % code


def project_file(*parts):
    return os.path.join(SOURCE_DIR, *parts)
