"""The deferred path, executed: a worker rendered without its gateway's address (GATEWAY_WAIT=ssh)
runs the real pygrid-start on a played instance (see start_script_test.py), prepares everything,
waits for /var/lib/pygrid/in/gateway.env, which the operator's real delivery command
(probe::kDeliverCommand, run as the login user) writes, then joins; the real marker command reports
the wait and the address; a malformed delivery fails with its reason; and a re-delivery asks for
pygrid-rejoin, which moves the started worker to the replaced gateway."""

import os
import stat

import instance_lib as lib
from start_script_test import FAST, GATEWAY_IP, NODE_PATH, PORTS, PRIVATE_IP, STATE, StartScript

INBOX = STATE + "/in"
DELIVERED = INBOX + "/gateway.env"
MALFORMED = ("the delivered gateway address in %s is malformed "
             "(expected one line GATEWAY_URL=http://<IPv4>:<port>)" % DELIVERED)


def worker_services(flavor, second_gateway=False):
    """A worker's node, its gateway at GATEWAY_IP and, for a replacement, a second gateway on
    the next port with registrations of its own."""
    gateway_port, node_port = PORTS[flavor]
    found = [{"name": "gateway", "listen": [GATEWAY_IP, gateway_port], "paths": ["/"],
              "connected_nodes": True},
             {"name": "node", "listen": ["127.0.0.1", node_port], "paths": [NODE_PATH[flavor]]}]
    if second_gateway:
        found.append({"name": "gateway2", "listen": [GATEWAY_IP, gateway_port + 1],
                      "paths": ["/"], "connected_nodes": True, "registered": "registered-2"})
    return found


class GatewayDelivery(StartScript):
    """Ids: GatewayDelivery.<behaviour>[/<flavour>]."""

    def render_deferred(self, flavor="gateway-2020"):
        return lib.render(self.workdir, role="worker", index=3, flavor=flavor)

    def deliver(self, boot, url, ack="delivered"):
        """Runs the operator's delivery command as the login user, the URL on its stdin."""
        code, output = boot.as_login_user(lib.probe_command("deliver"), url + "\n")
        self.assertEqual((code, output.splitlines()[-1:]), (0, [ack]), output)
        self.assertEqual(boot.root.read(DELIVERED), "GATEWAY_URL=%s\n" % url)
        self.assertEqual(os.listdir(boot.root.at(INBOX)), ["gateway.env"])  # no temp file left

    def probed_marker(self, boot):
        """What the operator's marker command prints on the instance, as the login user."""
        code, output = boot.as_login_user(lib.probe_command("marker"))
        self.assertEqual(code, 0, output)
        return output

    def wait_for_waiting(self, boot):
        lib.wait_until(lambda: boot.root.exists(STATE + "/waiting") or not boot.running(), 10,
                       "pygrid-start to wait for the address", interval=0.02)
        self.assertTrue(boot.running(), "pygrid-start ended early:\n" + boot.output())

    def check_waits_for_the_address_then_registers(self, flavor):
        user_data = self.render_deferred(flavor)
        conf = user_data.start_conf()
        self.assertNotIn("GATEWAY_URL", conf)
        self.assertEqual(conf["GATEWAY_WAIT"], "ssh")
        self.assertEqual(conf["LOGIN_USER"], "ubuntu")
        boot = self.boot(user_data, worker_services(flavor))
        boot.open_service("gateway")  # up already: only the missing address holds the worker
        boot.start()
        self.wait_for_waiting(boot)
        self.assertEqual(boot.root.read(STATE + "/waiting"), "waiting for the gateway address\n")
        self.assertEqual(self.probed_marker(boot), "pending: waiting for the gateway address \n")
        # Prepared: firewall, Docker and the images; nothing asked of any gateway, nothing up.
        self.assertIn(["docker-compose", "pull"], boot.calls())
        self.assertNotIn(["docker-compose", "up", "-d"], boot.calls())
        self.assertEqual([r for r in boot.requests() if r.startswith("gateway")], [])
        self.assertIsNone(self.marker(boot, "ready"))
        self.assertIsNone(self.marker(boot, "failed"))
        # The inbox: the login user's alone (`nobody` here), so the operator needs no sudo.
        inbox = os.stat(boot.root.at(INBOX))
        self.assertEqual(inbox.st_uid, 65534)
        self.assertEqual(stat.S_IMODE(inbox.st_mode), 0o700)

        url = "http://%s:%d" % (GATEWAY_IP, PORTS[flavor][0])
        boot.set_fake("compose-up", ["open node", "register " + conf["NODE_ID"]])
        self.deliver(boot, url)
        self.assertReady(boot)
        self.assertIsNone(self.marker(boot, "waiting"))
        self.assertEqual(self.marker(boot, "joined"), url + "\n")
        self.assertIn("gateway /connected-nodes 200", boot.requests())
        self.assertServicesStartedAfterFirewall(boot, url)
        self.assertEqual(self.probed_marker(boot), "ready\ngateway: %s\n" % url)
        self.assertNotIn("sudo", [c[0] for c in boot.calls()])  # the first address: no re-join

    def test_MalformedDeliveryFailsWithItsReason(self):
        user_data = self.render_deferred()
        bad = ["http://10.200.9.1:5000/join", "http://10.200.9.1", "http://10.200.9.1:05000",
               "https://10.200.9.1:5000", "http://gateway:5000", "http://10.200.9.1.:5000",
               "http://10.200.9.256:5000", "http://10.200.9.1:5000 $(touch${IFS}/tmp/x)",
               "http://10.200.9.01:5000", "http://10.200.9.1:65536"]
        contents = ["GATEWAY_URL=%s\n" % url for url in bad] + [
            "GATEWAY_URL=http://10.200.9.1:5000\nGATEWAY_URL=http://10.200.9.1:5000\n",
            "gateway_url=http://10.200.9.1:5000\n", "", "x" * 300]
        for content in contents:
            with self.subTest(content=content):
                boot = self.boot(user_data)
                boot.root.write(DELIVERED, content, 0o600)
                boot.run()
                self.assertFailed(boot, MALFORMED)
                self.assertNotIn(["docker-compose", "up", "-d"], boot.calls())
        # The operator's re-join command refuses one at once, before anything changes.
        boot = self.boot(user_data)
        boot.root.write(DELIVERED, contents[0], 0o600)
        boot.root.write(STATE + "/ready", "2026-01-01T00:00:00Z\n")
        boot.run(["/usr/local/sbin/pygrid-rejoin", "--detach"])
        self.assertFailed(boot, MALFORMED)

    def test_NoAddressInTimeFails(self):
        boot = self.boot(self.render_deferred(), worker_services("gateway-2020"),
                         ["WAIT_SECONDS=1", "POLL_SECONDS=0.05", "LOGIN_USER=nobody"])
        boot.run()
        self.assertFailed(boot, "no gateway address was delivered within 1 s")
        self.assertIsNone(self.marker(boot, "waiting"))

    def check_rejoin_switches_to_a_new_gateway(self, flavor):
        user_data = self.render_deferred(flavor)
        node_id = user_data.start_conf()["NODE_ID"]
        boot = self.boot(user_data, worker_services(flavor, second_gateway=True))
        old = "http://%s:%d" % (GATEWAY_IP, PORTS[flavor][0])
        new = "http://%s:%d" % (GATEWAY_IP, PORTS[flavor][0] + 1)
        boot.open_service("gateway")
        boot.set_fake("compose-up", ["open node", "register " + node_id])
        boot.start()
        self.wait_for_waiting(boot)
        self.deliver(boot, old)
        self.assertReady(boot)

        # The gateway is replaced: the operator's delivery asks for pygrid-rejoin (the fake sudo
        # only records that; the test runs it on the instance).
        boot.set_fake("compose-up", [])
        boot.open_service("gateway2")
        self.deliver(boot, old)  # the same address again: nothing to do
        self.deliver(boot, new, ack="delivered; re-joining")
        sudo = [c for c in boot.call_details() if c["argv"][0] == "sudo"]
        self.assertEqual([(c["argv"], c["uid"]) for c in sudo],
                         [(["sudo", "-n", "/usr/local/sbin/pygrid-rejoin", "--detach"],
                           lib.LOGIN_UID)])
        boot.start("/usr/local/sbin/pygrid-rejoin")
        self.assertWaitingFor(boot, "gateway2 /connected-nodes 200")
        self.assertEqual(boot.root.read("/opt/pygrid/.env"),
                         "PYGRID_PRIVATE_IP=%s\nPYGRID_GATEWAY_URL=%s\n" % (PRIVATE_IP, new))
        self.assertEqual(self.marker(boot, "joined"), new + "\n")
        self.assertEqual(self.marker(boot, "waiting"), "re-joining the gateway\n")
        ups = [c for c in boot.call_details() if c["argv"] == ["docker-compose", "up", "-d"]]
        self.assertEqual(len(ups), 2)
        self.assertIn("PYGRID_GATEWAY_URL=%s\n" % new, ups[1]["env_file"])
        boot.register(node_id, "registered-2")
        self.assertReady(boot)
        self.assertIsNone(self.marker(boot, "waiting"))
        self.assertEqual(self.probed_marker(boot), "ready\ngateway: %s\n" % new)

    def test_AddressDeliveredBeforeTheJoinWinsOverStartConf(self):
        """A worker rendered with an address whose gateway was replaced before its node started
        joins the delivered address: the operator's newest word."""
        user_data = self.render(instance="worker")
        new = "http://%s:%d" % (GATEWAY_IP, PORTS["gateway-2020"][0] + 1)
        boot = self.boot(user_data, worker_services("gateway-2020", second_gateway=True))
        boot.root.write(DELIVERED, "GATEWAY_URL=%s\n" % new, 0o600)
        boot.open_service("gateway2")
        boot.set_fake("compose-up", ["open node"])
        boot.start()
        self.assertWaitingFor(boot, "gateway2 /connected-nodes 200")
        boot.register(user_data.start_conf()["NODE_ID"], "registered-2")
        self.assertReady(boot)
        self.assertEqual(self.marker(boot, "joined"), new + "\n")
        self.assertNotIn("gateway / 503", boot.requests())  # the old one was never asked

    def test_StartWaitingForAReplacedGatewayLeavesTheMarkerToTheReJoin(self):
        """The node waits for its gateway when that gateway is replaced: the delivery asks for
        a re-join, and the first start, giving up on the old gateway, writes no failed marker
        over the re-join's work."""
        user_data = self.render_deferred()
        node_id = user_data.start_conf()["NODE_ID"]
        old = "http://%s:%d" % (GATEWAY_IP, PORTS["gateway-2020"][0])
        new = "http://%s:%d" % (GATEWAY_IP, PORTS["gateway-2020"][0] + 1)
        boot = self.boot(user_data, worker_services("gateway-2020", second_gateway=True),
                         ["WAIT_SECONDS=2", "POLL_SECONDS=0.05", "LOGIN_USER=nobody"])
        boot.start()
        self.wait_for_waiting(boot)
        self.deliver(boot, old)
        self.assertWaitingFor(boot, "gateway / 503")  # the old gateway is gone
        self.deliver(boot, new, ack="delivered; re-joining")
        self.assertNotEqual(boot.wait(), 0)
        self.assertIsNone(self.marker(boot, "failed"), boot.output())
        self.assertIn("superseded", boot.output())
        boot.open_service("gateway2")
        boot.set_fake("compose-up", ["open node"])
        boot.start("/usr/local/sbin/pygrid-rejoin")
        self.assertWaitingFor(boot, "gateway2 /connected-nodes 200")
        boot.register(node_id, "registered-2")
        self.assertReady(boot)

    def test_ReJoinThatCannotStartIsAnError(self):
        """The delivery command reports a refused sudo instead of acknowledging."""
        user_data = self.render_deferred()
        boot = self.boot(user_data)
        boot.root.write(STATE + "/joined", "http://10.200.9.1:5000\n")
        boot.root.write(STATE + "/ready", "2026-01-01T00:00:00Z\n")
        os.makedirs(boot.root.at(INBOX))
        os.chown(boot.root.at(INBOX), lib.LOGIN_UID, lib.LOGIN_UID)
        boot.set_fake("fail", ["sudo"])
        code, output = boot.as_login_user(lib.probe_command("deliver"),
                                          "http://10.200.9.1:5001\n")
        self.assertEqual(code, 6, output)
        self.assertRegex(output.splitlines()[-1], "^error: pygrid-rejoin did not start: ")
        # The address is in place: a retry finds the worker still on the old one and asks again.
        self.assertEqual(boot.root.read(DELIVERED), "GATEWAY_URL=http://10.200.9.1:5001\n")


def add_cases():
    for flavor in PORTS:
        setattr(GatewayDelivery, "test_WaitsForTheAddressThenRegisters/%s" % flavor,
                lambda self, f=flavor: self.check_waits_for_the_address_then_registers(f))
        setattr(GatewayDelivery, "test_RejoinSwitchesToANewGateway/%s" % flavor,
                lambda self, f=flavor: self.check_rejoin_switches_to_a_new_gateway(f))


add_cases()
