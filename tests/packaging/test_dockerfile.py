"""Static checks of the Dockerfile: two stages on Debian 12, the build stage has the build
packages of scripts/install-deps.sh, the runtime stage is slim, non-root (65532), writes only
/tmp, and starts the operator binary."""

import json
import os
import re
import unittest

from dockerfile_lib import apt_packages, stages
from packaging_lib import SOURCE_DIR

# Build-only packages the image does not need: the compiler cache and the test framework.
NOT_NEEDED_IN_IMAGE = {"ccache", "libgtest-dev", "libgmock-dev"}


def install_deps_build_packages():
    """The '# build' group of scripts/install-deps.sh's PACKAGES array."""
    with open(os.path.join(SOURCE_DIR, "scripts", "install-deps.sh")) as f:
        text = f.read()
    block = re.search(r"PACKAGES=\((.*?)\)", text, re.S).group(1)
    packages, group = [], None
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("#"):
            group = line.lstrip("# ").split()[0] if line.lstrip("# ") else None
            continue
        if group == "build":
            packages += line.split()
    return packages


class DockerfileTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(SOURCE_DIR, "Dockerfile")) as f:
            cls.stages = stages(f.read())
        cls.build_from, cls.build = cls.stages[0]
        cls.runtime_from, cls.runtime = cls.stages[-1]

    def test_two_stages_on_debian_12(self):
        self.assertEqual(len(self.stages), 2)
        self.assertEqual(self.build_from.split()[1], "debian:12")
        self.assertEqual(self.runtime_from, "FROM debian:12-slim")

    def test_build_stage_has_install_deps_build_packages(self):
        wanted = set(install_deps_build_packages()) - NOT_NEEDED_IN_IMAGE
        self.assertIn("libcpprest-dev", wanted)  # the parse found the real list
        self.assertLessEqual(wanted, set(apt_packages(self.build)))

    def test_build_uses_release_preset_and_operator_target(self):
        run = " ".join(i for i in self.build if i.startswith("RUN "))
        self.assertIn("cmake --preset release", run)
        self.assertIn("--target pygrid-operator", run)

    def test_runtime_stage_has_no_dev_packages_or_compiler(self):
        packages = apt_packages(self.runtime)
        self.assertTrue(packages)
        self.assertFalse([p for p in packages if p.endswith("-dev") or p in ("g++", "cmake")])
        self.assertIn("ca-certificates", packages)

    def test_runtime_user_and_entrypoint(self):
        users = [i.split()[1] for i in self.runtime if i.startswith("USER ")]
        self.assertEqual(users, ["65532:65532"])
        entry = [i for i in self.runtime if i.startswith("ENTRYPOINT ")]
        self.assertEqual(len(entry), 1)
        self.assertEqual(json.loads(entry[0][len("ENTRYPOINT "):]), ["/pygrid-operator"])

    def test_runtime_writes_nothing_outside_tmp(self):
        # Everything after USER runs as the operator: no RUN may follow it, and the only
        # writable locations it is pointed at are under /tmp.
        after_user = self.runtime[[i.startswith("USER ") for i in self.runtime].index(True):]
        self.assertFalse([i for i in after_user if i.startswith("RUN ")])
        env = " ".join(i for i in self.runtime if i.startswith("ENV "))
        self.assertIn("HOME=/tmp", env)
        self.assertIn("TMPDIR=/tmp", env)
        self.assertNotIn("VOLUME", " ".join(self.runtime))

    def test_dockerignore_keeps_build_outputs_out(self):
        with open(os.path.join(SOURCE_DIR, ".dockerignore")) as f:
            lines = {line.strip() for line in f}
        self.assertLessEqual({".git", "build/", "build-*/"}, lines)


if __name__ == "__main__":
    unittest.main()
