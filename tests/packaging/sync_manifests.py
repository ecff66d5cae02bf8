#!/usr/bin/env python3
"""Keeps the packaging's copies in step with their sources of truth.

- manifests/*.yaml are the Helm chart's default objects (release "pygrid-operator" in
  namespace "pygrid-system") without Helm's own labels, so `kubectl apply -k manifests/`
  installs exactly what `helm install` does with default values.
- manifests/crd/ holds a byte-identical copy of the CRD in crds/ at the repository top
  (kustomize refuses files outside its root, symlinks included; this script and the packaging
  tests keep it identical). helm/pygrid-operator/crds/ needs no copy: its file is a symlink to
  crds/, which Helm's chart loader follows.

Usage: /usr/bin/python3 tests/packaging/sync_manifests.py [--check]
(builds the test-only renderer into build/packaging-tools first when PACKAGING_OUT is unset)
--check writes nothing and exits 1 listing every file that differs.
"""

import os
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from packaging_lib import (CHART_DIR, MANIFESTS_DIR, NAMESPACE, RELEASE,  # noqa: E402
                           TOP_CRD, ensure_renderer, render)

CRD_NAME = os.path.basename(TOP_CRD)
HEADER = ("# Generated from the Helm chart's default values by tests/packaging/sync_manifests.py:\n"
          "# change helm/pygrid-operator/ and re-run it; the packaging tests fail on any drift.\n")
# Labels only Helm sets; the rest of the chart's standard labels stay.
HELM_ONLY_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")
FILES = {  # file name -> kinds it holds, in apply order
    "namespace.yaml": ("Namespace",),
    "serviceaccount.yaml": ("ServiceAccount",),
    "rbac.yaml": ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"),
    "deployment.yaml": ("Deployment",),
    "service.yaml": ("Service",),
}
KUSTOMIZATION = """# Plain install without Helm: kubectl apply -k manifests/
# Same objects as the Helm chart with default values (release pygrid-operator in namespace
# pygrid-system). The CRD in crd/ is a copy of crds/ at the repository top (kustomize refuses
# files outside this directory); tests/packaging/sync_manifests.py keeps it identical.
# Pick your image in an overlay: images: [{name: pygrid-operator, newName: ..., newTag: ...}].
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - namespace.yaml
  - crd/%s
  - serviceaccount.yaml
  - rbac.yaml
  - deployment.yaml
  - service.yaml
""" % CRD_NAME


def strip_helm_labels(obj):
    """Removes Helm-only labels wherever labels appear (object and pod template)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "labels" and isinstance(value, dict):
                for label in HELM_ONLY_LABELS:
                    value.pop(label, None)
            else:
                strip_helm_labels(value)
    elif isinstance(obj, list):
        for item in obj:
            strip_helm_labels(item)


def expected_files():
    """Path -> exact text of every generated or copied file."""
    objects = render(release=RELEASE, namespace=NAMESPACE)
    strip_helm_labels(objects)
    labels = dict(objects[0]["metadata"]["labels"])
    labels.pop("app.kubernetes.io/instance", None)
    objects.append({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": NAMESPACE, "labels": labels}})
    out = {}
    for name, kinds in FILES.items():
        docs = [o for kind in kinds for o in objects if o["kind"] == kind]
        text = "---\n".join(yaml.safe_dump(d, sort_keys=False, width=100) for d in docs)
        out[os.path.join(MANIFESTS_DIR, name)] = HEADER + text
    out[os.path.join(MANIFESTS_DIR, "kustomization.yaml")] = KUSTOMIZATION
    with open(TOP_CRD) as f:
        crd = f.read()
    out[os.path.join(MANIFESTS_DIR, "crd", CRD_NAME)] = crd
    return out


def drift(files):
    """Paths whose content differs from (or is missing against) the expectation."""
    stale = []
    for path, text in files.items():
        try:
            with open(path) as f:
                if f.read() == text:
                    continue
        except FileNotFoundError:
            pass
        stale.append(path)
    return stale


def main():
    ensure_renderer()
    files = expected_files()
    if "--check" in sys.argv[1:]:
        stale = drift(files)
        for path in stale:
            print("out of date: " + os.path.relpath(path))
        if stale:
            print("run tests/packaging/sync_manifests.py to regenerate")
        return 1 if stale else 0
    for path, text in files.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        print("wrote " + os.path.relpath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
