"""The deferred path, executed: a worker rendered without its gateway's address (GATEWAY_WAIT=ssh)
runs the real pygrid-start on a played instance (see start_script_test.py), prepares everything,
waits for /var/lib/pygrid/in/gateway.env (written here as the operator's delivery command writes
it), then joins; a malformed delivery fails with its reason; and pygrid-rejoin moves a started
worker to a replaced gateway."""

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

    def deliver(self, boot, url):
        """As the delivery command does: a temporary file in the inbox, renamed over the old."""
        boot.root.write(INBOX + "/.gateway.env.tmp", "GATEWAY_URL=%s\n" % url, 0o600)
        os.replace(boot.root.at(INBOX + "/.gateway.env.tmp"), boot.root.at(DELIVERED))

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
        self.deliver(boot, old)
        boot.open_service("gateway")
        boot.set_fake("compose-up", ["open node", "register " + node_id])
        boot.run()
        self.assertReady(boot)

        # The gateway is replaced: the operator delivers the new address and runs pygrid-rejoin.
        boot.set_fake("compose-up", [])
        boot.open_service("gateway2")
        self.deliver(boot, new)
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


def add_cases():
    for flavor in PORTS:
        setattr(GatewayDelivery, "test_WaitsForTheAddressThenRegisters/%s" % flavor,
                lambda self, f=flavor: self.check_waits_for_the_address_then_registers(f))
        setattr(GatewayDelivery, "test_RejoinSwitchesToANewGateway/%s" % flavor,
                lambda self, f=flavor: self.check_rejoin_switches_to_a_new_gateway(f))


add_cases()
