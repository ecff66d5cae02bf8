"""Reads the repository's Dockerfile: its stages and the packages each stage installs."""

import re
import shlex


def stages(dockerfile_text):
    """List of (FROM line, [instruction lines]) with continuation lines joined and comments
    dropped."""
    logical, current = [], ""
    for line in dockerfile_text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    out = []
    for instruction in logical:
        if instruction.upper().startswith("FROM "):
            out.append((instruction, []))
        elif out:
            out[-1][1].append(instruction)
    return out


def apt_packages(instructions):
    """Package names passed to `apt-get install` in a stage's RUN instructions."""
    packages = []
    for instruction in instructions:
        if not instruction.upper().startswith("RUN "):
            continue
        for command in re.split(r"&&|;|\|\|", instruction[4:]):
            words = shlex.split(command)
            if len(words) >= 2 and words[0] in ("apt-get", "apt") and "install" in words:
                after = words[words.index("install") + 1:]
                packages += [w for w in after if not w.startswith("-")]
    return packages
