"""pygrid-start, executed: the start script of real user data runs as root on a played instance
(helpers/boot_instance.sh: own network and mount namespaces, the instance's paths on temporary
folders), with the real pygrid-firewall and pygrid-gpu-setup beside it, fake docker-compose,
systemctl, apt-get... (helpers/fake_command.py) and an HTTP stand-in for the gateway and node
(helpers/grid_standin.py) whose services answer only once the test opens them. The test opens them
one at a time and checks at each step that the script is still waiting and has written no marker.
"""

import os
import re
import unittest

import instance_lib as lib

GATEWAY_IP = "10.200.9.1"  # gw0 in boot_instance.sh
PRIVATE_IP = "10.200.9.2"  # eth0 in boot_instance.sh
PORTS = {"gateway-2020": (5000, 3000), "network-0.2": (7000, 5000)}
NODE_PATH = {"gateway-2020": "/", "network-0.2": "/data-centric/status/"}
# Success paths never reach 30 s. The inbox goes to `nobody`: the test machine has no `ubuntu`.
FAST = ["WAIT_SECONDS=30", "POLL_SECONDS=0.05", "LOGIN_USER=nobody"]
STATE = "/var/lib/pygrid"


def services(flavor, instance, gateway=True):
    """The stand-in's services as the instance sees them (a worker's gateway is elsewhere)."""
    gateway_port, node_port = PORTS[flavor]
    gateway_ip = GATEWAY_IP if instance == "worker" else "127.0.0.1"
    found = []
    if gateway:
        found.append({"name": "gateway", "listen": [gateway_ip, gateway_port], "paths": ["/"],
                      "connected_nodes": True})
    if instance != "gateway-alone":
        found.append({"name": "node", "listen": ["127.0.0.1", node_port],
                      "paths": [NODE_PATH[flavor]]})
    return found


class StartScript(unittest.TestCase):
    """Ids: StartScript.<behaviour>[/<flavour>/<instance>]."""

    def setUp(self):
        lib.require_root_and_namespaces("iptables", "curl", "hostname")
        self.workdir = lib.temp_dir(self)

    def render(self, flavor="gateway-2020", instance="gateway-colocated", gpu="none"):
        if instance == "worker":
            return lib.render(self.workdir, role="worker", index=2, gateway_ip=GATEWAY_IP,
                              flavor=flavor, gpu=gpu)
        return lib.render(self.workdir, flavor=flavor, gpu=gpu,
                          colocated=(instance == "gateway-colocated"))

    def boot(self, user_data, services=None, conf_lines=FAST):
        boot = lib.Boot(user_data, services, conf_lines)
        self.addCleanup(boot.close)
        return boot

    def marker(self, boot, name):
        return boot.root.read(STATE + "/" + name)

    def assertWaitingFor(self, boot, request):
        """The script asked the stand-in for `request` (`<service> <path> <status>`) and has
        written neither marker."""
        lib.wait_until(lambda: request in boot.requests() or not boot.running(), 10,
                       "pygrid-start to ask for %r" % request, interval=0.02)
        self.assertTrue(boot.running(), "pygrid-start ended early:\n" + boot.output())
        self.assertIsNone(self.marker(boot, "ready"), "ready before %s answered" % request)
        self.assertIsNone(self.marker(boot, "failed"))

    def assertReady(self, boot):
        code = boot.wait()
        self.assertEqual(code, 0, boot.output())
        self.assertRegex(self.marker(boot, "ready") or "", r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$")
        self.assertIsNone(self.marker(boot, "failed"))

    def assertFailed(self, boot, reason):
        code = boot.wait()
        self.assertNotEqual(code, 0, boot.output())
        self.assertEqual(self.marker(boot, "failed"), reason + "\n", boot.output())
        self.assertIsNone(self.marker(boot, "ready"))

    def assertServicesStartedAfterFirewall(self, boot, gateway_url, worker=True):
        """Docker started, then (a worker) its images pulled, then `up -d` with .env complete."""
        details = boot.call_details()
        names = [c["argv"][:3] for c in details]
        self.assertIn(["systemctl", "enable", "--now"], names)
        compose = [c for c in details if c["argv"][0] == "docker-compose"]
        self.assertEqual([c["argv"] for c in compose],
                         ([["docker-compose", "pull"]] if worker else []) +
                         [["docker-compose", "up", "-d"]])
        self.assertLess(names.index(["systemctl", "enable", "--now"]),
                        names.index(compose[0]["argv"][:3]))
        up = compose[-1]
        self.assertEqual(up["cwd"], "/opt/pygrid")
        self.assertEqual(up["env_file"], "PYGRID_PRIVATE_IP=%s\nPYGRID_GATEWAY_URL=%s\n"
                         % (PRIVATE_IP, gateway_url))
        self.assertTrue(up["firewall_hooked"], "services started before the firewall")

    def check_ready_only_after_every_service(self, flavor, instance):
        """Opens the stand-in's services one at a time, each only once the script is seen
        waiting for it, and checks that nothing is marked before the last one answers."""
        user_data = self.render(flavor, instance)
        conf = user_data.start_conf()
        boot = self.boot(user_data, services(flavor, instance))
        boot.start()
        self.assertWaitingFor(boot, "gateway / 503")
        compose_started = ["docker-compose", "up", "-d"] in boot.calls()
        # A worker's node joins its gateway once, at start-up: nothing starts before the
        # gateway answers (its images are pulled meanwhile). A gateway instance checks its
        # gateway after starting it.
        self.assertEqual(compose_started, instance != "worker")
        boot.open_service("gateway")
        if instance == "gateway-alone":
            self.assertEqual(conf["NODE_ID"], "")
        else:
            self.assertWaitingFor(boot, "node %s 503" % NODE_PATH[flavor])
            boot.open_service("node")
            self.assertWaitingFor(boot, "gateway /connected-nodes 200")
            boot.register(conf["NODE_ID"])
        self.assertReady(boot)
        if instance == "gateway-alone":
            self.assertNotIn("gateway /connected-nodes 200", boot.requests())
        self.assertServicesStartedAfterFirewall(boot, conf["GATEWAY_URL"], instance == "worker")

    def test_ServiceThatNeverAnswersFails(self):
        # 3 s, not 1: on a loaded machine one curl can take most of a second, and the test
        # needs several attempts to show that the script retries before it gives up.
        boot = self.boot(self.render(), services("gateway-2020", "gateway-colocated"),
                         ["WAIT_SECONDS=3", "POLL_SECONDS=0.05"])
        boot.set_fake("compose-up", ["open gateway"])
        boot.run()
        self.assertFailed(boot, "http://127.0.0.1:3000/ did not answer within 3 s")
        self.assertGreater(boot.requests().count("node / 503"), 1, "gave up without retrying")

    def test_NodeThatNeverRegistersFails(self):
        user_data = self.render()
        boot = self.boot(user_data, services("gateway-2020", "gateway-colocated"),
                         ["WAIT_SECONDS=1", "POLL_SECONDS=0.05"])
        boot.set_fake("compose-up", ["open gateway", "open node", "register someone-else"])
        boot.run()
        self.assertFailed(boot, "node %s did not register at http://127.0.0.1:5000"
                          % user_data.start_conf()["NODE_ID"])

    def test_WorkerThatCannotReachItsGatewayNeverWritesReady(self):
        boot = self.boot(self.render(instance="worker"),
                         services("gateway-2020", "worker", gateway=False),
                         ["WAIT_SECONDS=1", "POLL_SECONDS=0.05", "LOGIN_USER=nobody"])
        boot.run()
        self.assertFailed(boot, "gateway http://%s:5000 did not answer within 1 s" % GATEWAY_IP)
        self.assertNotIn(["docker-compose", "up", "-d"], boot.calls())

    def test_ConfigValuesAreDataNotCode(self):
        user_data = self.render()
        good = user_data.content("/opt/pygrid/start.conf")
        marker = os.path.join(self.workdir, "executed")
        shell = ["$(touch${IFS}%s-1)" % marker, "`touch${IFS}%s-2`" % marker,
                 ";touch${IFS}%s-3" % marker, "|touch${IFS}%s-4" % marker, "*", "'"]

        def with_values(**values):
            conf = good
            for key, value in values.items():
                conf = re.sub(r"(?m)^%s=.*$" % key, lambda _: "%s=%s" % (key, value), conf)
            return conf

        # A node id full of shell survives as data: the gateway lists exactly it, so ready.
        node_id = "node " + " ".join(shell)
        boot = self.boot(user_data, services("gateway-2020", "gateway-colocated"))
        boot.root.write("/opt/pygrid/start.conf", with_values(NODE_ID=node_id) + "\n".join(
            FAST + [s + "=1" for s in shell] + shell) + "\n", 0o600)
        boot.set_fake("compose-up", ["open gateway", "open node", "register " + node_id])
        boot.run()
        self.assertReady(boot)

        # Quotes and substitutions in a URL reach curl and the failure reason verbatim.
        urls = 'http://127.0.0.1:5000/"%s"' % '"'.join(shell)
        boot = self.boot(user_data, services("gateway-2020", "gateway-colocated"))
        boot.root.write("/opt/pygrid/start.conf", with_values(CHECK_URLS=urls) +
                        "WAIT_SECONDS=0\nPOLL_SECONDS=0\n", 0o600)
        boot.set_fake("compose-up", ["open gateway", "open node"])
        boot.run()
        self.assertFailed(boot, "%s did not answer within 0 s" % urls)

        # A newline smuggled into a value starts a line of its own; WAIT_SECONDS from it is
        # refused before any shell arithmetic sees it.
        for injected in ("a[$(touch${IFS}%s-7)]" % marker, "$(touch${IFS}%s-8)" % marker):
            boot = self.boot(user_data, services("gateway-2020", "gateway-colocated"))
            boot.root.write("/opt/pygrid/start.conf",
                            with_values(NODE_ID="x\nWAIT_SECONDS=" + injected), 0o600)
            boot.run()
            self.assertFailed(boot, "WAIT_SECONDS must be a whole number of seconds")
        self.assertEqual([f for f in os.listdir(self.workdir) if f.startswith("executed")],
                         [], "a configuration value ran as shell code")

    def test_MissingConfigurationFails(self):
        boot = self.boot(self.render())
        os.remove(boot.root.at("/opt/pygrid/start.conf"))
        boot.run()
        self.assertFailed(boot, "/opt/pygrid/start.conf is missing")


def add_cases():
    for flavor in PORTS:
        for instance in ("gateway-colocated", "gateway-alone", "worker"):
            setattr(StartScript,
                    "test_ReadyOnlyAfterEveryServiceAnswers/%s/%s" % (flavor, instance),
                    lambda self, f=flavor, i=instance:
                    self.check_ready_only_after_every_service(f, i))


add_cases()
