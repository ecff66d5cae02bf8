#!/usr/bin/env python3
"""Checks that the Dockerfile's runtime stage installs every shared library the operator
binary loads: `ldd` lists the libraries, `dpkg -S` names the Debian package of each, and each
package must be in the runtime apt-get install list or be pulled in by one (the Depends and
Pre-Depends closure of the listed packages, read from this machine's dpkg database, which holds
the same Debian 12 packages the image installs).

Usage: check_image_libraries.py --binary <path> --dockerfile <path>
"""

import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dockerfile_lib import apt_packages, stages  # noqa: E402


def shared_libraries(binary):
    """Absolute paths of the libraries `ldd` resolves for binary; fails on any 'not found'."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        if "not found" in line:
            raise SystemExit("ldd: unresolved library on the build machine: " + line.strip())
        m = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            libs.append(m.group(1))
    return libs


def owning_packages(paths):
    """Path -> Debian package that ships it (tried as given, resolved, and across the
    merged-/usr aliases /lib <-> /usr/lib), without the architecture qualifier. One dpkg -S
    call for all candidates: dpkg reads its whole file database on every call."""
    candidates = {}
    for path in paths:
        real = os.path.realpath(path)
        options = [path, real]
        for p in (path, real):
            options.append(p[4:] if p.startswith("/usr/") else "/usr" + p)
        candidates[path] = options
    everything = sorted({c for options in candidates.values() for c in options})
    # Exit status is 1 when some candidate is unknown; the known ones are still printed.
    out = subprocess.run(["dpkg", "-S"] + everything, capture_output=True, text=True).stdout
    owner = {}
    for line in out.splitlines():
        packages, _, path = line.partition(": ")
        if path and "diversion" not in packages:
            owner[path.strip()] = packages.split(",")[0].split(":")[0].strip()
    result = {}
    for path, options in candidates.items():
        found = [owner[c] for c in options if c in owner]
        if not found:
            raise SystemExit("no Debian package ships " + path)
        result[path] = found[0]
    return result


def installed_dependencies():
    """Installed package -> first alternative of each Depends/Pre-Depends entry."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Depends}, ${Pre-Depends}\n"],
                         capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        package, _, depends = line.partition("\t")
        deps = []
        for entry in depends.split(","):
            first = entry.split("|")[0].strip()
            name = re.split(r"[\s(:]", first, maxsplit=1)[0] if first else ""
            if name:
                deps.append(name)
        table[package] = deps
    return table


def providers():
    """Virtual package name -> installed packages that provide it (e.g.
    libboost-regex1.74.0-icu72 -> libboost-regex1.74.0)."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Provides}\n"],
                         capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        package, _, provides = line.partition("\t")
        for entry in provides.split(","):
            name = entry.strip().split(" ")[0]
            if name:
                table.setdefault(name, []).append(package)
    return table


def closure(packages):
    """packages and everything they depend on, recursively (virtual names resolved to the
    installed packages that provide them)."""
    virtual = providers()
    depends = installed_dependencies()
    seen, todo = set(), list(packages)
    while todo:
        package = todo.pop()
        if package in seen:
            continue
        seen.add(package)
        todo.extend(depends.get(package, []))
        todo.extend(virtual.get(package, []))
    return seen


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--dockerfile", required=True)
    args = parser.parse_args()

    with open(args.dockerfile) as f:
        all_stages = stages(f.read())
    runtime_from, runtime = all_stages[-1]
    listed = apt_packages(runtime)
    if not listed:
        raise SystemExit("no apt-get install in the Dockerfile's runtime stage")
    dev = [p for p in listed if p.endswith("-dev")]
    if dev:
        raise SystemExit("runtime stage installs -dev packages: " + " ".join(dev))
    provided = closure(listed)

    libs = shared_libraries(args.binary)
    owners = owning_packages(libs)
    missing = []
    for lib in libs:
        package = owners[lib]
        status = "listed" if package in listed else (
            "dependency of a listed package" if package in provided else "MISSING")
        print("%-55s %-32s %s" % (lib, package, status))
        if status == "MISSING":
            missing.append(package)
    print("binary: %s; %d libraries; runtime stage %s installs %s" %
          (args.binary, len(libs), runtime_from, " ".join(listed)))
    if missing:
        print("add to the runtime stage's apt-get install: " + " ".join(sorted(set(missing))))
        return 1
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
