"""pygrid-gpu-setup, executed: the script of real user data runs as root on a played instance
(helpers/boot_instance.sh) whose apt-get, ubuntu-drivers, curl, gpg, nvidia-ctk, systemctl,
modprobe and nvidia-smi are fakes (helpers/fake_command.py). The fakes keep state like the real
ones: `apt-get install nvidia-container-toolkit` only works once NVIDIA's source list and keyring
are in place and `apt-get update` has read them, and installed commands appear on PATH."""

import shutil
import unittest
from concurrent.futures import ThreadPoolExecutor

import instance_lib as lib

KEYRING = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
SOURCES = "/etc/apt/sources.list.d/nvidia-container-toolkit.list"
GPU_SETUP = "/usr/local/sbin/pygrid-gpu-setup"

# NVIDIA's documented order: the driver (Ubuntu's ubuntu-drivers), then the Container Toolkit's
# repository key and list, apt-get update, the toolkit, `nvidia-ctk runtime configure`, a Docker
# restart (docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html).
# Each step: (name, command, arguments its call must have; the last one is what a `fail` rule for
# the step matches).
KEY_URL = "https://nvidia.github.io/libnvidia-container/gpgkey"
LIST_URL = ("https://nvidia.github.io/libnvidia-container/stable/deb/"
            "nvidia-container-toolkit.list")
STEPS = [
    ("install ubuntu-drivers", "apt-get", ["install", "-y", "ubuntu-drivers-common"]),
    ("install the driver", "ubuntu-drivers", ["install", "--gpgpu"]),
    ("download NVIDIA's key", "curl", ["-fsSL", KEY_URL]),
    ("dearmor the key", "gpg", ["--batch", "--yes", "--dearmor", "-o", KEYRING]),
    ("download NVIDIA's source list", "curl", ["-fsSL", LIST_URL]),
    ("apt-get update", "apt-get", ["update"]),
    ("install the toolkit", "apt-get", ["install", "-y", "nvidia-container-toolkit"]),
    ("register the nvidia runtime", "nvidia-ctk", ["runtime", "configure", "--runtime=docker"]),
    ("restart Docker", "systemctl", ["restart", "docker"]),
    ("load the module", "modprobe", ["nvidia"]),
    ("check the GPU", "nvidia-smi", []),
]
STEP_NAMES = [name for name, _, _ in STEPS]
DRIVER_STEPS = {"install ubuntu-drivers", "install the driver"}


def step_of(argv):
    for name, command, arguments in STEPS:
        if argv[0] == command and all(a in argv[1:] for a in arguments):
            return name
    return "unexpected call %s" % argv


class GpuSetup(unittest.TestCase):
    """Ids: GpuSetup.<behaviour>."""

    def setUp(self):
        # pygrid-start, run by two cases, applies the real firewall.
        lib.require_root_and_namespaces("iptables", "curl", "hostname")
        for command in ("nvidia-smi", "nvidia-ctk", "ubuntu-drivers"):
            if shutil.which(command, path=lib.SYSTEM_PATH):
                raise unittest.SkipTest("this machine has a real %s, which would shadow the "
                                        "fakes' state" % command)
        self.workdir = lib.temp_dir(self)
        self.user_data = lib.render(self.workdir, colocated=False, gpu="nvidia")

    def boot(self, services=None, conf_lines=()):
        boot = lib.Boot(self.user_data, services, conf_lines)
        self.addCleanup(boot.close)
        return boot

    def steps(self, boot, calls_before=0):
        return [step_of(argv) for argv in boot.calls()[calls_before:]]

    def test_FirstRunInstallsInNvidiaOrder(self):
        boot = self.boot()
        self.assertEqual(boot.run(GPU_SETUP), 0, boot.output())
        self.assertEqual(self.steps(boot), STEP_NAMES)
        for call in boot.call_details():
            if call["argv"][0] == "apt-get":
                self.assertEqual(call["DEBIAN_FRONTEND"], "noninteractive", call["argv"])
        self.assertTrue(boot.root.read(KEYRING).startswith("dearmored -----BEGIN PGP"))
        self.assertEqual(boot.root.read(SOURCES), (
            "deb [signed-by=%s] https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /\n"
            "#deb [signed-by=%s] https://nvidia.github.io/libnvidia-container/experimental/deb/"
            "$(ARCH) /\n") % (KEYRING, KEYRING))

    def test_SecondRunInstallsNothing(self):
        boot = self.boot()
        self.assertEqual(boot.run(GPU_SETUP), 0, boot.output())
        first = len(boot.calls())
        self.assertEqual(boot.run(GPU_SETUP), 0, boot.output())
        self.assertEqual(self.steps(boot, first), ["load the module", "check the GPU"])
        self.assertIn('"nvidia"', boot.root.read("/etc/docker/daemon.json"))

    def test_APreparedImageOnlyChecksTheGpu(self):
        # A snapshot taken after a first run: driver, toolkit and Docker's runtime entry are in
        # it, so a boot from it neither installs nor restarts anything.
        boot = self.boot()
        boot.install_fake("nvidia-smi")
        boot.install_fake("nvidia-ctk")
        boot.root.write("/etc/docker/daemon.json",
                        '{"runtimes": {"nvidia": {"args": [], "path": "nvidia-container-runtime"}}}')
        self.assertEqual(boot.run(GPU_SETUP), 0, boot.output())
        self.assertEqual(self.steps(boot), ["load the module", "check the GPU"])

    def test_DriverAlreadyThereInstallsOnlyTheToolkit(self):
        boot = self.boot()
        boot.install_fake("nvidia-smi")
        self.assertEqual(boot.run(GPU_SETUP), 0, boot.output())
        self.assertEqual(self.steps(boot), [n for n in STEP_NAMES if n not in DRIVER_STEPS])

    def test_FailingStepStopsTheScript(self):
        def fail_at(step):
            name, command, arguments = step
            boot = self.boot()
            boot.set_fake("fail", ["%s\t%s" % (command, (arguments or [""])[-1])])
            return name, boot.run(GPU_SETUP), self.steps(boot), boot

        # One boot per step, all at once; each is its own namespace and folders.
        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(pool.map(fail_at, STEPS))
        for name, code, steps, boot in outcomes:
            with self.subTest(step=name):
                if name == "load the module":
                    # Deliberately tolerated: the module may be loaded already or built in;
                    # nvidia-smi decides.
                    self.assertEqual(code, 0, boot.output())
                    continue
                self.assertNotEqual(code, 0, "%s failed, yet the script succeeded" % name)
                self.assertEqual(steps[-1:], [name],
                                 "%s failed, yet the script went on: %s" % (name, steps))

    def test_FailureFailsTheStart(self):
        boot = self.boot(services=[], conf_lines=["WAIT_SECONDS=1", "POLL_SECONDS=0.05"])
        boot.set_fake("fail", ["ubuntu-drivers\tinstall"])
        code = boot.run()
        self.assertNotEqual(code, 0, boot.output())
        self.assertEqual(boot.root.read("/var/lib/pygrid/failed"),
                         "NVIDIA driver or container toolkit set-up failed\n")
        self.assertIsNone(boot.root.read("/var/lib/pygrid/ready"))
        self.assertEqual([c for c in boot.calls() if c[0] in ("docker-compose", "systemctl")], [],
                         "services started although the GPU set-up failed")

    def test_RunsBeforeTheServices(self):
        boot = self.boot(services=[{"name": "gateway", "listen": ["127.0.0.1", 5000],
                                    "paths": ["/"], "connected_nodes": True}],
                         conf_lines=["WAIT_SECONDS=30", "POLL_SECONDS=0.05"])
        boot.set_fake("compose-up", ["open gateway"])
        self.assertEqual(boot.run(), 0, boot.output())
        calls = boot.calls()
        self.assertEqual(self.steps(boot)[:len(STEPS)], STEP_NAMES)
        self.assertEqual(calls[len(STEPS):], [["systemctl", "enable", "--now", "docker"],
                                             ["docker-compose", "up", "-d"]])
        self.assertIsNotNone(boot.root.read("/var/lib/pygrid/ready"))
