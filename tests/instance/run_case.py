#!/usr/bin/python3
"""ctest's entry to the instance tests: `run_case.py --list` prints one case id per line
(`<Class>.<case>`, read by CMakeLists.txt at configure time); `run_case.py ID` runs that case and
exits 0 (passed), 1 (failed) or 77 (skipped, with the reason printed; ctest's SKIP_RETURN_CODE)."""

import glob
import importlib
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(HERE, "*_test.py")))
SKIPPED = 77


def test_classes():
    for name in MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, unittest.TestCase) and \
                    value.__module__ == name:
                yield value


def cases():
    """{case id: (class, method name)} in definition order."""
    found = {}
    for cls in test_classes():
        for attribute in vars(cls):
            if attribute.startswith("test_"):
                found["%s.%s" % (cls.__name__, attribute[len("test_"):])] = (cls, attribute)
    return found


def main(argv):
    all_cases = cases()
    if argv[1:] == ["--list"]:
        print("\n".join(all_cases))
        return 0
    if len(argv) != 2 or argv[1] not in all_cases:
        print("usage: run_case.py --list | CASE_ID (one of --list)", file=sys.stderr)
        return 2
    cls, method = all_cases[argv[1]]
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(cls(method))
    if result.failures or result.errors:
        return 1
    if result.skipped:
        print("SKIPPED: %s" % result.skipped[0][1])
        return SKIPPED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
