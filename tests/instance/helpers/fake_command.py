#!/usr/bin/python3
"""Stands in for a command the instance scripts call; linked under that command's name.

Every call is appended to $PYGRID_FAKES/calls.jsonl. A call fails when a line of
$PYGRID_FAKES/fail reads `<command><TAB><text>` and <text> occurs in its arguments. Otherwise it
does to the test's state what the real command would do to the instance:

  apt-get install P   installs a known package (its commands appear in $PYGRID_FAKES/installed,
                      which is on PATH); nvidia-container-toolkit only once NVIDIA's apt source and
                      keyring are in place and `apt-get update` ran after they were written
  ubuntu-drivers install --gpgpu   installs the driver (nvidia-smi)
  curl                https://nvidia.github.io/... answers NVIDIA's key and source list; loopback
                      and 10.200.x.y (namespaces of the test) go to the real curl; anything else
                      cannot be resolved
  gpg --dearmor -o F  writes F from an armored key on stdin, fails on anything else
  docker-compose up   records whether the firewall is hooked in and what .env says, then applies
                      $PYGRID_FAKES/compose-up (`open <service>`, `register <node id>`) to the
                      grid stand-in's state folder $PYGRID_FAKES/standin
  nvidia-ctk runtime configure --runtime=docker   adds the nvidia runtime to
                      /etc/docker/daemon.json, as NVIDIA documents the real one does
  sudo                records who called it (`uid`) and succeeds without running anything: the
                      test runs what the operator's delivery command asked for itself, on the
                      played instance (sudo is not installed where these tests run)
  systemctl, modprobe, nvidia-smi, docker   succeed
"""

import json
import os
import subprocess
import sys

FAKES = os.environ["PYGRID_FAKES"]
NVIDIA_LIST = "/etc/apt/sources.list.d/nvidia-container-toolkit.list"
NVIDIA_KEYRING = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
ARMORED_KEY = ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nstand-in for NVIDIA's key\n"
               "-----END PGP PUBLIC KEY BLOCK-----\n")
# What https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list holds.
NVIDIA_SOURCES = ("deb https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /\n"
                  "#deb https://nvidia.github.io/libnvidia-container/experimental/deb/$(ARCH) /\n")
PACKAGES = {"ubuntu-drivers-common": ["ubuntu-drivers"], "nvidia-container-toolkit": ["nvidia-ctk"]}


def fakes(*parts):
    return os.path.join(FAKES, *parts)


def record(name, args, **extra):
    entry = {"argv": [name] + args, "cwd": os.getcwd(),
             "DEBIAN_FRONTEND": os.environ.get("DEBIAN_FRONTEND")}
    entry.update(extra)
    with open(fakes("calls.jsonl"), "a") as f:
        f.write(json.dumps(entry) + "\n")


def should_fail(name, args):
    try:
        with open(fakes("fail")) as f:
            rules = [line.rstrip("\n").split("\t", 1) for line in f if line.strip()]
    except FileNotFoundError:
        return False
    joined = " ".join(args)
    return any(rule[0] == name and (len(rule) == 1 or rule[1] in joined) for rule in rules)


def install_command(command):
    link = fakes("installed", command)
    if not os.path.lexists(link):
        os.symlink(os.path.abspath(__file__), link)


def apt_get(args):
    if args[:1] == ["update"]:
        with open(fakes("apt-updated"), "w") as f:
            f.write(read(NVIDIA_LIST) or "")
        return 0
    if args[:1] != ["install"]:
        return 0
    for package in [a for a in args[1:] if not a.startswith("-")]:
        if package not in PACKAGES:
            print("E: Unable to locate package %s" % package, file=sys.stderr)
            return 100
        if package == "nvidia-container-toolkit":
            sources = read(NVIDIA_LIST) or ""
            signed = "deb [signed-by=%s] https://nvidia.github.io/" % NVIDIA_KEYRING
            if signed not in sources or not os.path.exists(NVIDIA_KEYRING) or \
                    read(fakes("apt-updated")) != sources:
                print("E: Unable to locate package nvidia-container-toolkit", file=sys.stderr)
                return 100
        for command in PACKAGES[package]:
            install_command(command)
    return 0


def curl(args):
    output, url, i = None, None, 0
    while i < len(args):
        if args[i] in ("-o", "--output", "--max-time", "-m", "-H", "-X", "-d"):
            if args[i] in ("-o", "--output"):
                output = args[i + 1]
            i += 2
            continue
        if not args[i].startswith("-"):
            url = args[i]
        i += 1
    if url and url.startswith("https://nvidia.github.io/"):
        if url.endswith("/gpgkey"):
            body = ARMORED_KEY
        elif url.endswith("/stable/deb/nvidia-container-toolkit.list"):
            body = NVIDIA_SOURCES
        else:
            print("curl: (22) The requested URL returned error: 404", file=sys.stderr)
            return 22
        if output:
            with open(output, "w") as f:
                f.write(body)
        else:
            sys.stdout.write(body)
        return 0
    host = (url or "").split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    if host.startswith("127.") or host.startswith("10.200."):
        os.execv("/usr/bin/curl", ["curl"] + args)
    print("curl: (6) Could not resolve host: %s" % host, file=sys.stderr)
    return 6


def gpg(args):
    if "--dearmor" not in args or "-o" not in args:
        print("fake gpg: only --dearmor -o FILE is emulated", file=sys.stderr)
        return 2
    data = sys.stdin.read()
    output = args[args.index("-o") + 1]
    with open(output, "w") as f:  # the real gpg creates its output before it fails, too
        if "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in data:
            print("gpg: no valid OpenPGP data found.", file=sys.stderr)
            return 2
        f.write("dearmored " + data)
    return 0


def compose_snapshot():
    """What docker-compose finds when it is called: is the firewall hooked in, what is in .env."""
    hooked = subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True)
    return {"firewall_hooked": "-j PYGRID-INPUT" in hooked.stdout, "env_file": read(".env")}


def docker_compose(args):
    if args[:2] == ["up", "-d"]:
        for line in (read(fakes("compose-up")) or "").splitlines():
            action, _, value = line.partition(" ")
            if action == "open":
                open(fakes("standin", "open-" + value), "w").close()
            elif action == "register":
                with open(fakes("standin", "registered"), "a") as f:
                    f.write(value + "\n")
    return 0


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def nvidia_ctk_configure():
    """What the real command writes (docs.nvidia.com container-toolkit install guide, "Configuring
    Docker": it modifies /etc/docker/daemon.json so Docker can use the NVIDIA runtime)."""
    path = "/etc/docker/daemon.json"
    config = json.loads(read(path) or "{}")
    config.setdefault("runtimes", {})["nvidia"] = {"args": [], "path": "nvidia-container-runtime"}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(config, f, indent=4)
    return 0


def main():
    name, args = os.path.basename(sys.argv[0]), sys.argv[1:]
    if name == "docker" and args[:1] == ["compose"]:
        name, args = "docker-compose", args[1:]
    extra = compose_snapshot() if name == "docker-compose" else {}
    if name == "sudo":
        extra = {"uid": os.getuid()}
    record(name, args, **extra)
    if should_fail(name, args):
        print("fake %s: failing as the test asked" % name, file=sys.stderr)
        return 1
    if name == "apt-get":
        return apt_get(args)
    if name == "ubuntu-drivers":
        if args[:1] == ["install"]:
            install_command("nvidia-smi")
        return 0
    if name == "curl":
        return curl(args)
    if name == "gpg":
        return gpg(args)
    if name == "docker-compose":
        return docker_compose(args)
    if name == "nvidia-ctk" and args[:2] == ["runtime", "configure"] and \
            "--runtime=docker" in args:
        return nvidia_ctk_configure()
    return 0


if __name__ == "__main__":
    sys.exit(main())
