"""What every instance test shares: real user data from `pygrid-operator render`, the instance's
files laid out under a test root, commands run in network and mount namespaces the test creates,
and the checks that skip a case (visibly) where this machine cannot run it.

Only loopback and namespaces a test creates itself are ever network targets; 10.200.0.0/16 and
172.18.0.0/16 exist only on veths and bridges inside those namespaces."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
from process_lib import wait_until  # noqa: E402,F401 (the tests call lib.wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
HELPERS = os.path.join(HERE, "helpers")
PYTHON = "/usr/bin/python3"  # Debian's; the helpers run inside namespaces without the caller's env
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The paths of an instance the scripts read and write, replaced by folders of a test root.
INSTANCE_PATHS = ["/opt/pygrid", "/var/lib/pygrid", "/usr/local/sbin", "/usr/share/keyrings",
                  "/etc/apt/sources.list.d", "/etc/docker"]


def operator_binary():
    path = os.environ.get("PYGRID_OPERATOR", "")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError(
            "PYGRID_OPERATOR must name the built pygrid-operator binary (got %r); build it with "
            "`cmake --build build/ci --target pygrid-operator`" % path)
    return path


def require_root_and_namespaces(*tools):
    """Skips the case, saying why, unless it runs as root with network and mount namespaces and
    the named tools on PATH."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (network and mount namespaces, iptables)")
    missing = [t for t in ("ip", "unshare", "mount") + tools
               if shutil.which(t, path=SYSTEM_PATH) is None]
    if missing:
        raise unittest.SkipTest("missing %s; scripts/install-deps.sh installs them"
                                % ", ".join(missing))
    probe = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", "--",
                            "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise unittest.SkipTest("network/mount namespaces unavailable here: "
                                + (probe.stderr.strip() or "unshare failed"))


def cluster_yaml(flavor="gateway-2020", colocated=True, gpu="none",
                 allowed=("198.51.100.0/24", "10.200.2.2/32")):
    """A PyGridCluster manifest (the renderer fills in every default)."""
    spec = {
        "apiVersion": "distributor.pygrid.dev/v1alpha1",
        "kind": "PyGridCluster",
        "metadata": {"name": "grid", "namespace": "default"},
        "spec": {
            "credentialsSecretRef": {"name": "genesis-credentials"},
            "pygrid": {"flavor": flavor},
            "gateway": {"colocatedWorker": colocated},
            "gpu": {"driver": gpu},
            "network": {"allowedSourceCIDRs": list(allowed)},
        },
    }
    return yaml.safe_dump(spec)


class UserData:
    """One instance's rendered #cloud-config and the files it writes."""

    def __init__(self, text):
        self.text = text
        self.config = yaml.safe_load(text)
        self.files = {f["path"]: f for f in self.config["write_files"]}

    def content(self, path):
        return self.files[path]["content"]

    def start_conf(self):
        """start.conf as a dict (the scripts read it line by line the same way)."""
        conf = {}
        for line in self.content("/opt/pygrid/start.conf").splitlines():
            key, _, value = line.partition("=")
            conf[key] = value
        return conf

    def published_ports(self):
        """Host ports the compose file publishes."""
        compose = yaml.safe_load(self.content("/opt/pygrid/docker-compose.yml"))
        ports = []
        for service in compose["services"].values():
            for mapping in service.get("ports", []):
                ports.append(int(str(mapping).split(":")[-2]))
        return ports


def render(workdir, role="gateway", index=0, gateway_ip="", **cluster):
    """Real user data from `pygrid-operator render`."""
    fd, manifest = tempfile.mkstemp(prefix="cluster-", suffix=".yaml", dir=workdir)
    with os.fdopen(fd, "w") as f:  # a file per call: tests render in parallel
        f.write(cluster_yaml(**cluster))
    argv = [operator_binary(), "render", "--file", manifest, "--role", role,
            "--index", str(index)]
    if gateway_ip:
        argv += ["--gateway-ip", gateway_ip]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise AssertionError("render failed (%d): %s" % (result.returncode, result.stderr))
    return UserData(result.stdout)


class InstanceRoot:
    """A temporary folder mirroring the instance's paths (INSTANCE_PATHS); helpers/
    with_instance_paths.sh mounts its folders over the real ones in a private mount namespace."""

    def __init__(self, prefix="pygrid-instance-"):
        self.path = tempfile.mkdtemp(prefix=prefix)
        for p in INSTANCE_PATHS:
            os.makedirs(self.at(p))

    def at(self, instance_path):
        return os.path.join(self.path, instance_path.lstrip("/"))

    def write(self, instance_path, content, mode=0o644):
        full = self.at(instance_path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(content)
        os.chmod(full, mode)
        return full

    def install(self, user_data, only=None):
        """Writes the user data's files (all, or those in `only`) with their permissions."""
        for path, entry in user_data.files.items():
            if only is None or path in only:
                self.write(path, entry["content"], int(str(entry.get("permissions", "0644")), 8))

    def read(self, instance_path, default=None):
        try:
            with open(self.at(instance_path)) as f:
                return f.read()
        except FileNotFoundError:
            return default

    def exists(self, instance_path):
        return os.path.exists(self.at(instance_path))

    def with_paths(self):
        """argv prefix that runs a command with this root's folders over the instance's paths."""
        return ([os.path.join(HELPERS, "with_instance_paths.sh"), self.path] + INSTANCE_PATHS
                + ["--"])

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


def temp_dir(test):
    """A fresh folder removed when `test` (a TestCase) ends."""
    path = tempfile.mkdtemp(prefix="pygrid-instance-test-")
    test.addCleanup(shutil.rmtree, path, True)
    return path


FAKE_COMMANDS = ["apt-get", "curl", "gpg", "systemctl", "modprobe", "docker", "docker-compose",
                 "sudo"]
LOGIN_UID = 65534  # `nobody` plays the login user `ubuntu`, which the test machine lacks


def probe_command(which):
    """The operator's SSH command `which` (marker, deliver) as the operator sends it."""
    path = os.environ.get("PYGRID_PROBE_COMMANDS", "")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError(
            "PYGRID_PROBE_COMMANDS must name the built probe_commands binary (got %r); build it "
            "with `cmake --build build/ci --target probe_commands`" % path)
    return subprocess.run([path, which], capture_output=True, text=True, check=True).stdout


class Boot:
    """One run of COMMAND (pygrid-start, pygrid-gpu-setup) on a freshly booted instance played by
    helpers/boot_instance.sh: own network namespace, the user data's files under an
    InstanceRoot, fake commands (helpers/fake_command.py) first on PATH and, if `services` are
    given, the grid stand-in (helpers/grid_standin.py) listening inside. State persists between
    runs of the same Boot, as on an instance that runs a script again."""

    def __init__(self, user_data, services=None, conf_lines=()):
        self.user_data = user_data
        self.root = InstanceRoot()
        self.fakes = tempfile.mkdtemp(prefix="pygrid-fakes-")
        self.process = None
        self.log = open(os.path.join(self.fakes, "output.log"), "a")
        self.root.install(user_data)
        conf = user_data.content("/opt/pygrid/start.conf")
        self.root.write("/opt/pygrid/start.conf",
                        conf + "".join(line + "\n" for line in conf_lines), 0o600)
        for d in ("bin", "installed", "standin"):
            os.makedirs(os.path.join(self.fakes, d))
        # The login user's commands (as_login_user) reach the fakes and record their calls too.
        os.chmod(self.fakes, 0o755)
        open(self.fake("calls.jsonl"), "a").close()
        os.chmod(self.fake("calls.jsonl"), 0o666)
        for command in FAKE_COMMANDS:
            os.symlink(os.path.join(HELPERS, "fake_command.py"),
                       os.path.join(self.fakes, "bin", command))
        if services is not None:
            with open(os.path.join(self.fakes, "standin.json"), "w") as f:
                json.dump({"state": self.fake("standin"), "services": services}, f)

    def fake(self, *parts):
        return os.path.join(self.fakes, *parts)

    def set_fake(self, name, lines):
        """Writes FAKES/<name> (`fail` rules, `compose-up` actions)."""
        with open(self.fake(name), "w") as f:
            f.write("".join(line + "\n" for line in lines))

    def install_fake(self, command):
        """As if the instance already had `command` (nvidia-smi, nvidia-ctk, ubuntu-drivers)."""
        os.symlink(os.path.join(HELPERS, "fake_command.py"), self.fake("installed", command))

    def open_service(self, name):
        open(self.fake("standin", "open-" + name), "w").close()

    def register(self, node_id, registry="registered"):
        with open(self.fake("standin", registry), "a") as f:
            f.write(node_id + "\n")

    def start(self, command="/usr/local/sbin/pygrid-start"):
        """Runs `command` (a path, or an argv list) on the instance."""
        argv = [command] if isinstance(command, str) else list(command)
        self.process = subprocess.Popen(
            [os.path.join(HELPERS, "boot_instance.sh"), self.root.path, self.fakes] + argv,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def running(self):
        return self.process.poll() is None

    def wait(self, timeout=30):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s still running after %d s; output:\n%s"
                                 % (self.process.args[3:], timeout, self.output()))

    def run(self, command="/usr/local/sbin/pygrid-start", timeout=30):
        self.start(command)
        return self.wait(timeout)

    def as_login_user(self, script, stdin=""):
        """Runs `script` (sh) as the login user over the instance's paths, as the operator's SSH
        command runs (host network: it needs none); returns (exit code, stdout)."""
        path = "%s:%s:%s" % (self.fake("bin"), self.fake("installed"), SYSTEM_PATH)
        argv = self.root.with_paths() + [
            "setpriv", "--reuid=%d" % LOGIN_UID, "--regid=%d" % LOGIN_UID, "--clear-groups",
            "env", "-i", "PATH=" + path, "PYGRID_FAKES=" + self.fakes, "HOME=/", "sh", "-c",
            script]
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)
        return result.returncode, result.stdout + result.stderr

    def output(self):
        with open(self.fake("output.log")) as f:
            return f.read()

    def calls(self, local_curl=False):
        """Calls of fake commands, as argv lists (with `cwd` etc. in `call_details`); the
        stand-in checks pygrid-start's curl makes are left out unless `local_curl`."""
        return [c["argv"] for c in self.call_details(local_curl)]

    def call_details(self, local_curl=False):
        try:
            with open(self.fake("calls.jsonl")) as f:
                calls = [json.loads(line) for line in f]
        except FileNotFoundError:
            return []
        return [c for c in calls if local_curl or c["argv"][0] != "curl" or
                "https://nvidia.github.io/" in " ".join(c["argv"])]

    def requests(self):
        """Requests the stand-in answered, as `<service> <path> <status>` lines."""
        try:
            with open(self.fake("standin", "requests.log")) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def kill(self):
        """Ends a run still going, with its whole process group (one of its own: the stand-in,
        curl...). A finished run has no leftovers: boot_instance.sh stops the stand-in."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def close(self):
        self.kill()
        self.log.close()
        self.root.remove()
        shutil.rmtree(self.fakes, ignore_errors=True)
