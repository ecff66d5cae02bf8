"""pygrid-firewall, executed: the script and start.conf of real user data run as root in a network
namespace that plays the instance, with Docker's rules in place, and TCP connections from
namespaces that play an allowed source, a refused source, another instance of the grid and a
container show who gets through.

  namespace    address                       plays
  instance     eth0 10.200.1.2/24            the instance; its private network is eth0's subnet
               eth1 10.200.2.1/24            the link the allowed source comes in on
               eth2 10.200.3.1/24            the link the refused source comes in on
               br-0123456789ab 172.18.0.1/16 the compose project's Docker network
  neighbour    10.200.1.3                    another instance of the grid (the worker's gateway)
  allowed      10.200.2.2                    in allowedSourceCIDRs (10.200.2.2/32)
  refused      10.200.3.2                    anyone else
  container    172.18.0.2                    the grid's container; Docker's DNAT publishes its ports

Listeners answer with their name, so a probe tells the instance (sshd, docker-proxy) from the
container behind a DNAT rule. A refused connection is one that gets no answer within 1 s. Cases
that cover several instances build one such network per instance and probe them all at once."""

import json
import os
import re
import signal
import subprocess
import unittest
from concurrent.futures import ThreadPoolExecutor

import instance_lib as lib
from instance_lib import HELPERS, PYTHON

PRIVATE_IP, NEIGHBOUR_IP = "10.200.1.2", "10.200.1.3"
ALLOWED_LINK_IP, ALLOWED_IP = "10.200.2.1", "10.200.2.2"
REFUSED_LINK_IP, REFUSED_IP = "10.200.3.1", "10.200.3.2"
BRIDGE, BRIDGE_IP, CONTAINER_IP = "br-0123456789ab", "172.18.0.1", "172.18.0.2"
ALLOWED_CIDRS = ("198.51.100.0/24", ALLOWED_IP + "/32")
REFUSED_WAIT = 1.0
FIREWALL = "/usr/local/sbin/pygrid-firewall"
FLAVORS = ("gateway-2020", "network-0.2")


def docker_rules(published):
    """The filter and nat rules Docker (userland proxy on, its default) sets up for a compose
    network publishing `published` host ports, as shell commands; compare moby's
    integration/network/bridge/iptablesdoc/generated/usernet-portmap.md. Like Docker it keeps an
    existing DOCKER-USER chain and moves the jump to it to the top of FORWARD."""
    b, c = BRIDGE, CONTAINER_IP
    rules = [
        "iptables -P FORWARD DROP",
        "iptables -N DOCKER",
        "iptables -N DOCKER-ISOLATION-STAGE-1",
        "iptables -N DOCKER-ISOLATION-STAGE-2",
        "iptables -N DOCKER-USER 2>/dev/null || true",
        "iptables -C DOCKER-USER -j RETURN 2>/dev/null || iptables -A DOCKER-USER -j RETURN",
        "iptables -D FORWARD -j DOCKER-USER 2>/dev/null || true",
        "iptables -I FORWARD -j DOCKER-USER",
        "iptables -A FORWARD -j DOCKER-ISOLATION-STAGE-1",
        "iptables -A FORWARD -o %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" % b,
        "iptables -A FORWARD -o %s -j DOCKER" % b,
        "iptables -A FORWARD -i %s ! -o %s -j ACCEPT" % (b, b),
        "iptables -A FORWARD -i %s -o %s -j ACCEPT" % (b, b),
        "iptables -A DOCKER-ISOLATION-STAGE-1 -i %s ! -o %s -j DOCKER-ISOLATION-STAGE-2" % (b, b),
        "iptables -A DOCKER-ISOLATION-STAGE-1 -j RETURN",
        "iptables -A DOCKER-ISOLATION-STAGE-2 -o %s -j DROP" % b,
        "iptables -A DOCKER-ISOLATION-STAGE-2 -j RETURN",
        "iptables -t nat -N DOCKER",
        "iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        "iptables -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
        "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o %s -j MASQUERADE" % b,
        # Traffic from the compose network to a published port is not DNATed: docker-proxy,
        # listening on the host, answers it.
        "iptables -t nat -A DOCKER -i %s -j RETURN" % b,
    ]
    for port in published:
        rules += [
            "iptables -t nat -A DOCKER ! -i %s -p tcp -m tcp --dport %d -j DNAT "
            "--to-destination %s:%d" % (b, port, c, port),
            "iptables -A DOCKER -d %s/32 ! -i %s -o %s -p tcp -m tcp --dport %d -j ACCEPT"
            % (c, b, b, port),
        ]
    return rules


class Network:
    """The namespaces of the table above (names unique per test process and `index`), removed by
    close()."""

    ROLES = ("instance", "neighbour", "allowed", "refused", "container")

    def __init__(self, index):
        self.prefix = "pygrid-it-%d-%d-" % (os.getpid(), index)
        self.remove_stale()
        self.listeners = []
        self.created = []
        try:
            for role in self.ROLES:
                self.sh(None, "ip netns add %s" % self.ns(role))
                self.created.append(role)
            self.sh(None, "\n".join(self.wiring()))
        except BaseException:
            self.close()
            raise

    def ns(self, role):
        return self.prefix + role

    def wiring(self):
        n = self.ns
        commands = ["ip -n %s link set lo up" % n(role) for role in self.ROLES]
        # eth0 first: `hostname -I` lists it first, and the firewall takes that as private.
        for dev, peer, ip, peer_ip in (("eth0", "neighbour", PRIVATE_IP, NEIGHBOUR_IP),
                                       ("eth1", "allowed", ALLOWED_LINK_IP, ALLOWED_IP),
                                       ("eth2", "refused", REFUSED_LINK_IP, REFUSED_IP)):
            commands += [
                "ip -n %s link add %s type veth peer name eth0 netns %s"
                % (n("instance"), dev, n(peer)),
                "ip -n %s addr add %s/24 dev %s" % (n("instance"), ip, dev),
                "ip -n %s addr add %s/24 dev eth0" % (n(peer), peer_ip),
                "ip -n %s link set %s up" % (n("instance"), dev),
                "ip -n %s link set eth0 up" % n(peer),
            ]
        commands += [
            "ip -n %s route add default via %s" % (n("allowed"), ALLOWED_LINK_IP),
            "ip -n %s route add default via %s" % (n("refused"), REFUSED_LINK_IP),
            "ip -n %s link add %s type bridge" % (n("instance"), BRIDGE),
            "ip -n %s addr add %s/16 dev %s" % (n("instance"), BRIDGE_IP, BRIDGE),
            "ip -n %s link add vethc0 type veth peer name eth0 netns %s"
            % (n("instance"), n("container")),
            "ip -n %s link set vethc0 master %s" % (n("instance"), BRIDGE),
            "ip -n %s link set vethc0 up" % n("instance"),
            "ip -n %s link set %s up" % (n("instance"), BRIDGE),
            "ip -n %s addr add %s/16 dev eth0" % (n("container"), CONTAINER_IP),
            "ip -n %s link set eth0 up" % n("container"),
            "ip -n %s route add default via %s" % (n("container"), BRIDGE_IP),
            "ip netns exec %s sysctl -qw net.ipv4.ip_forward=1" % n("instance"),
        ]
        return commands

    @staticmethod
    def remove_stale():
        """Namespaces a killed earlier run left behind (their process is gone)."""
        listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for name, pid in re.findall(r"^(pygrid-it-(\d+)-\S+)", listing, re.M):
            if not os.path.exists("/proc/%s" % pid):
                subprocess.run(["ip", "netns", "del", name], capture_output=True)

    def sh(self, role, script):
        argv = ["sh", "-ec", script]
        if role:
            argv = ["ip", "netns", "exec", self.ns(role)] + argv
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise AssertionError("%s failed (%d): %s" % (script, result.returncode,
                                                         result.stderr))
        return result

    def listen(self, role, name, ports):
        process = subprocess.Popen(["ip", "netns", "exec", self.ns(role), PYTHON,
                                    os.path.join(HELPERS, "tcp_listener.py"), name]
                                   + [str(p) for p in sorted(set(ports))],
                                   stdout=subprocess.PIPE, text=True)
        self.listeners.append(process)
        if process.stdout.readline().strip() != "ready":  # "" if it died before binding
            raise AssertionError("listener %s in %s did not start" % (name, role))

    def start_probe(self, role, targets):
        return subprocess.Popen(["ip", "netns", "exec", self.ns(role), PYTHON,
                                 os.path.join(HELPERS, "tcp_probe.py"), str(REFUSED_WAIT)]
                                + targets, stdout=subprocess.PIPE, text=True)

    def close(self):
        for process in self.listeners:
            process.send_signal(signal.SIGKILL)
            process.wait()
        for role in self.created:
            subprocess.run(["ip", "netns", "del", self.ns(role)], capture_output=True)
        self.created = []


class FirewalledInstance:
    """One rendered instance in its own Network: its firewall and start.conf under an
    InstanceRoot, Docker's rules, and listeners on SSH's port and the grid's ports."""

    def __init__(self, label, user_data, published, index):
        self.label = label
        self.user_data = user_data
        self.conf = user_data.start_conf()
        self.ports = [int(p) for p in self.conf["PORTS"].split()]
        self.published = list(published)
        self.root = lib.InstanceRoot()
        self.root.install(user_data, only=[FIREWALL, "/opt/pygrid/start.conf"])
        try:
            self.net = Network(index)
        except BaseException:
            self.root.remove()
            raise

    def start(self, firewall_first=False):
        """Docker's rules and the firewall in boot order: Docker first (the first boot, where
        pygrid-start runs after cloud-init installed Docker), or the firewall first (later boots,
        where bootcmd runs before docker.service). Then the listeners."""
        if firewall_first:
            self.run_firewall_checked()
        self.net.sh("instance", "\n".join(docker_rules(self.published)))
        if not firewall_first:
            self.run_firewall_checked()
        # sshd, and docker-proxy on the grid's ports (it answers what is not DNATed).
        self.net.listen("instance", "instance", self.ports)
        if self.published:
            self.net.listen("container", "container", self.published)
        self.net.listen("neighbour", "neighbour", self.ports)

    def run_firewall(self):
        return subprocess.run(["ip", "netns", "exec", self.net.ns("instance")]
                              + self.root.with_paths() + [FIREWALL],
                              capture_output=True, text=True, timeout=30,
                              env={"PATH": lib.SYSTEM_PATH, "LANG": "C.UTF-8"})

    def run_firewall_checked(self):
        result = self.run_firewall()
        if result.returncode != 0:
            raise AssertionError("%s: pygrid-firewall exited %d: %s%s" % (
                self.label, result.returncode, result.stdout, result.stderr))

    def rules(self):
        """iptables-save of every table without comments and counters."""
        out = self.net.sh("instance", "iptables-save").stdout
        return "\n".join(re.sub(r" \[\d+:\d+\]$", "", line) for line in out.splitlines()
                         if not line.startswith("#"))

    def expected(self):
        """{(role, target): answer} the firewall must produce."""
        def at(address, port):
            return "%s:%d" % (address, port)

        def behind(port):
            return "container:%d" % port if port in self.published else "instance:%d" % port

        want = {}
        for port in self.ports:
            want[("allowed", at(ALLOWED_LINK_IP, port))] = behind(port)
            want[("refused", at(REFUSED_LINK_IP, port))] = "timeout"
            want[("neighbour", at(PRIVATE_IP, port))] = behind(port)
            want[("instance", at("127.0.0.1", port))] = "instance:%d" % port
            # The co-located node joins its gateway at the instance's private address; from the
            # compose network that is docker-proxy on the host (INPUT), not the DNAT rule.
            want[("container", at(PRIVATE_IP, port))] = "instance:%d" % port
        # A container's own connection to another instance's grid port leaves through FORWARD.
        gateway_port = self.ports[1]
        want[("container", at(NEIGHBOUR_IP, gateway_port))] = "neighbour:%d" % gateway_port
        return want

    def close(self):
        self.net.close()
        self.root.remove()


def reachability_problems(instances):
    """Probes every instance's expectations at once; returns the differences, each naming the
    instance, the source namespace and the target."""
    running = []
    for fw in instances:
        expected = fw.expected()
        plan = {}
        for role, target in expected:
            plan.setdefault(role, []).append(target)
        for role, targets in plan.items():
            running.append((fw, expected, role, fw.net.start_probe(role, targets)))
    problems = []
    for fw, expected, role, process in running:
        out, _ = process.communicate(timeout=60)
        for target, answer in sorted(json.loads(out).items()):
            if answer != expected[(role, target)]:
                problems.append("%s: %s -> %s: expected %s, got %s" % (
                    fw.label, role, target, expected[(role, target)], answer))
    return problems


def in_parallel(function, items):
    """function(item) for every item at once (each spends its time in namespaces and iptables
    processes); results in order, the first exception raised."""
    with ThreadPoolExecutor(max_workers=max(1, len(items))) as pool:
        return list(pool.map(function, items))


def break_rule(script, old, new):
    """The firewall script with `old` replaced by `new`; fails if `old` is not in it."""
    if old not in script:
        raise AssertionError("mutation does not apply any more: %r not in the script" % old)
    return script.replace(old, new)


# Deliberately broken firewalls and what must then show up in reachability_problems.
MUTATIONS = {
    "allow list hooked into OUTPUT instead of INPUT": (
        lambda s: break_rule(s, "iptables -C INPUT -j PYGRID-INPUT 2>/dev/null || "
                                "iptables -I INPUT 1 -j PYGRID-INPUT",
                             "iptables -C OUTPUT -j PYGRID-INPUT 2>/dev/null || "
                             "iptables -I OUTPUT 1 -j PYGRID-INPUT"),
        False, ": refused -> "),
    "no DROP at the end of the allow list": (
        lambda s: break_rule(s, "iptables -A PYGRID-ALLOW -j DROP\n", ""), False, ": refused -> "),
    "DOCKER-USER not hooked": (
        lambda s: break_rule(s, "iptables -C DOCKER-USER -j PYGRID-FORWARD 2>/dev/null || "
                                "iptables -I DOCKER-USER 1 -j PYGRID-FORWARD", "true"),
        True, ": refused -> "),
    "containers' traffic not let through": (
        lambda s: break_rule(s, "-i br-+ -j RETURN", "-i br-nothing -j RETURN"),
        True, ": container -> "),
    "private subnet not allowed": (
        lambda s: break_rule(s, "for cidr in $ALLOWED_CIDRS $subnet 127.0.0.0/8",
                             "for cidr in $ALLOWED_CIDRS 127.0.0.0/8"),
        False, ": neighbour -> "),
}


class Firewall(unittest.TestCase):
    """Ids: Firewall.<behaviour>[/<flavour>]."""

    def setUp(self):
        lib.require_root_and_namespaces("iptables", "iptables-save")
        self.workdir = lib.temp_dir(self)
        self.networks = 0

    def render(self, flavor, instance):
        if instance == "worker":
            return lib.render(self.workdir, role="worker", index=1, gateway_ip=NEIGHBOUR_IP,
                              flavor=flavor, allowed=ALLOWED_CIDRS)
        return lib.render(self.workdir, flavor=flavor,
                          colocated=(instance == "gateway-colocated"), allowed=ALLOWED_CIDRS)

    def instance(self, flavor, instance, publish, label=None):
        return self.instances([(flavor, instance, publish, label)])[0]

    def instances(self, specs):
        """FirewalledInstances for (flavour, instance, publish, label) specs, set up at once."""
        first = self.networks
        self.networks += len(specs)

        def make(numbered):
            index, (flavor, instance, publish, label) = numbered
            user_data = self.render(flavor, instance)
            fw = FirewalledInstance(label or "%s %s" % (flavor, instance), user_data,
                                    user_data.published_ports() if publish else (), index)
            self.addCleanup(fw.close)  # here, so a sibling's failure does not leak this one
            return fw

        made = in_parallel(make, list(enumerate(specs, start=first + 1)))
        for fw in made:
            self.assertEqual(fw.conf["ALLOWED_CIDRS"], " ".join(ALLOWED_CIDRS))
        return made

    def assertReachable(self, instances):
        problems = reachability_problems(instances)
        self.assertEqual(problems, [], "the firewall let the wrong sources through or kept the "
                         "right ones out:\n  " + "\n  ".join(problems) + "\nrules of %s:\n%s"
                         % (instances[0].label, instances[0].rules()))

    def check_input(self, flavor):
        """Listeners on the host itself (nothing published): SSH and the grid's ports."""
        instances = self.instances([(flavor, i, False, None)
                                    for i in ("gateway-colocated", "gateway-alone", "worker")])
        in_parallel(lambda fw: fw.start(), instances)
        for fw in instances:
            self.assertIn("-A PYGRID-ALLOW -s 10.200.1.0/24 -j RETURN", fw.rules(),
                          "%s: the private subnet is eth0's (the first address)" % fw.label)
        self.assertReachable(instances)

    def check_published(self, flavor, firewall_first):
        """The grid's ports published by Docker's DNAT to a container, as the compose file says."""
        instances = self.instances([(flavor, i, True, None)
                                    for i in ("gateway-colocated", "worker")])
        for fw in instances:
            self.assertTrue(fw.published, "%s: the compose file publishes ports" % fw.label)
        in_parallel(lambda fw: fw.start(firewall_first=firewall_first), instances)
        self.assertReachable(instances)

    def test_RerunKeepsTheSameRules(self):
        fw = self.instance("gateway-2020", "gateway-colocated", publish=True)
        fw.start()
        first = fw.rules()
        fw.run_firewall_checked()
        fw.run_firewall_checked()
        self.assertEqual(fw.rules(), first, "a second and a third run changed the rules")
        rules = [r for r in first.split("*filter", 1)[1].split("COMMIT", 1)[0].splitlines()
                 if r.startswith("-A ")]
        self.assertEqual(sorted({r for r in rules if rules.count(r) > 1}), [], "duplicate rules")
        self.assertEqual(rules.count("-A INPUT -j PYGRID-INPUT"), 1)
        self.assertEqual(rules.count("-A DOCKER-USER -j PYGRID-FORWARD"), 1)
        self.assertReachable([fw])

    def test_ConfigValuesAreNeverExecuted(self):
        fw = self.instance("gateway-2020", "gateway-colocated", publish=False)
        marker = os.path.join(fw.root.path, "executed")
        payloads = ["$(touch${IFS}%s-1)" % marker, "`touch${IFS}%s-2`" % marker,
                    ";touch${IFS}%s-3" % marker, "|touch${IFS}%s-4" % marker,
                    "&&touch${IFS}%s-5" % marker, "'\"$(touch${IFS}%s-6)\"'" % marker, "*", "/*"]
        good = fw.user_data.content("/opt/pygrid/start.conf")
        for key, value in (("ALLOWED_CIDRS", ALLOWED_IP + "/32 " + " ".join(payloads)),
                           ("PORTS", "22 " + " ".join(payloads) + " 5000")):
            conf = re.sub(r"(?m)^%s=.*$" % key, lambda _: "%s=%s" % (key, value), good)
            fw.root.write("/opt/pygrid/start.conf", conf, 0o600)
            result = fw.run_firewall()
            self.assertNotEqual(result.returncode, 0, "%s=%s was accepted" % (key, value))
        # Lines the firewall does not use, however hostile, change nothing.
        extra = "".join("%s\nNODE_ID=%s\n" % (p, p) for p in payloads)
        fw.root.write("/opt/pygrid/start.conf", good + extra, 0o600)
        fw.start()
        self.assertReachable([fw])
        ran = [f for f in os.listdir(fw.root.path) if f.startswith("executed")]
        self.assertEqual(ran, [], "a configuration value ran as shell code")

    def test_CatchesBrokenRules(self):
        """The checks above fail for a broken firewall: each mutation must show its symptom."""
        instances = self.instances([("gateway-2020", "gateway-colocated", publish, name)
                                    for name, (_, publish, _) in MUTATIONS.items()])
        for fw in instances:
            fw.root.write(FIREWALL, MUTATIONS[fw.label][0](fw.user_data.content(FIREWALL)), 0o755)
        in_parallel(lambda fw: fw.start(), instances)
        problems = reachability_problems(instances)
        for fw in instances:
            symptom = MUTATIONS[fw.label][2]
            own = [p for p in problems if p.startswith(fw.label + ":")]
            self.assertTrue(any(symptom in p for p in own),
                            "%s went unnoticed (expected a difference containing %r), saw: %s"
                            % (fw.label, symptom, own))


def add_cases():
    """Cases per flavour; a case id may contain `/` (run_case.py runs it by name)."""
    for flavor in FLAVORS:
        setattr(Firewall, "test_InputFiltersBySource/%s" % flavor,
                lambda self, f=flavor: self.check_input(f))
        setattr(Firewall, "test_PublishedPortsFilteredInDockerUser/%s" % flavor,
                lambda self, f=flavor: self.check_published(f, firewall_first=False))
        setattr(Firewall, "test_PublishedPortsFilteredWhenDockerStartsLater/%s" % flavor,
                lambda self, f=flavor: self.check_published(f, firewall_first=True))


add_cases()
