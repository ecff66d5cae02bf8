"""Shared helpers for the packaging tests: render the chart with the test-only renderer, run
kubectl kustomize, and validate objects against Kubernetes' published schemas.

Environment (set by CMakeLists.txt): PYGRID_SOURCE_DIR (repository root) and PACKAGING_OUT
(where setup.sh built helm-render and installed the npm packages).
"""

import json
import os
import subprocess
import tempfile

import yaml

SOURCE_DIR = os.environ.get(
    "PYGRID_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
# Outside ctest (e.g. sync_manifests.py by hand) the tools go to build/packaging-tools.
OUT_DIR = os.environ.get("PACKAGING_OUT",
                         os.path.join(SOURCE_DIR, "build", "packaging-tools"))
CHART_DIR = os.path.join(SOURCE_DIR, "helm", "pygrid-operator")
MANIFESTS_DIR = os.path.join(SOURCE_DIR, "manifests")
TOP_CRD = os.path.join(SOURCE_DIR, "crds", "pygridclusters.distributor.pygrid.dev.yaml")
HELM_RENDER = os.path.join(OUT_DIR, "helm-render")
NODE_MODULES = os.path.join(OUT_DIR, "npm", "node_modules")
VALIDATE_JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "validate.cjs")

RELEASE = "pygrid-operator"
NAMESPACE = "pygrid-system"


class RenderError(Exception):
    """The renderer exited non-zero; the message carries its stderr."""


def ensure_renderer():
    """Builds helm-render with setup.sh when it is missing (ctest's fixture normally has)."""
    if not os.path.exists(HELM_RENDER):
        subprocess.run(["bash", os.path.join(os.path.dirname(VALIDATE_JS), "setup.sh"),
                        OUT_DIR, "--renderer-only"], check=True, timeout=600)


def render(sets=(), values=None, chart_dir=CHART_DIR, release=RELEASE, namespace=NAMESPACE,
           notes=False, with_values=False):
    """Renders the chart and returns its objects (or NOTES.txt text with notes=True).

    sets: "key=value" strings for --set; values: a dict written to a values file for -f.
    with_values=True returns (objects, merged values) instead.
    """
    with tempfile.TemporaryDirectory() as tmp:
        args = [HELM_RENDER, "--chart", chart_dir, "--release-name", release,
                "--namespace", namespace, "--values-json", os.path.join(tmp, "values.json")]
        if values is not None:
            path = os.path.join(tmp, "override.yaml")
            with open(path, "w") as f:
                yaml.safe_dump(values, f)
            args += ["-f", path]
        for s in sets:
            args += ["--set", s]
        if notes:
            args.append("--notes")
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RenderError(proc.stderr.strip())
        if notes:
            return proc.stdout
        objects = [d for d in yaml.safe_load_all(proc.stdout) if d is not None]
        if with_values:
            with open(os.path.join(tmp, "values.json")) as f:
                return objects, json.load(f)
        return objects


def kustomize(directory=MANIFESTS_DIR):
    """Runs the real `kubectl kustomize` (offline) and returns its objects."""
    proc = subprocess.run(["kubectl", "kustomize", directory], capture_output=True, text=True,
                          timeout=60)
    if proc.returncode != 0:
        raise RuntimeError("kubectl kustomize failed: " + proc.stderr.strip())
    return [d for d in yaml.safe_load_all(proc.stdout) if d is not None]


def _node(args, payload):
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    proc = subprocess.run(["node", VALIDATE_JS] + args, input=json.dumps(payload),
                          capture_output=True, text=True, env=env, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError("validate.cjs failed: " + proc.stderr.strip())
    return json.loads(proc.stdout)


def k8s_schema_errors(objects):
    """Validates objects against the Kubernetes schemas (kubernetes-models); one list of error
    strings per object."""
    return _node(["k8s"], objects)


def values_schema_errors(values_list):
    """Validates chart values against values.schema.json (ajv); one error list per input."""
    return _node(["values", os.path.join(CHART_DIR, "values.schema.json")], values_list)


def _model_class(obj):
    """The python-kubernetes model class of a built-in object, or None for other kinds."""
    from kubernetes import client  # Debian python3-kubernetes
    group_version = obj.get("apiVersion", "")
    group, _, version = group_version.rpartition("/")
    prefix = {
        "": "", "apps": "", "rbac.authorization.k8s.io": "", "coordination.k8s.io": "",
        "apiextensions.k8s.io": "", "events.k8s.io": "Events",
    }.get(group)
    if prefix is None:
        return None
    name = prefix + version.capitalize() + obj.get("kind", "")
    return getattr(client, name, None)


# Fields Kubernetes defines that Debian 12's python3-kubernetes (22.6, the Kubernetes 1.22
# API) predates, checked instead by the kubernetes-models schemas (k8s_schema_errors):
# CRD validation rules, JSONSchemaProps.x-kubernetes-validations (alpha 1.23, GA 1.29).
NEWER_THAN_PYTHON_CLIENT = {("V1JSONSchemaProps", "x-kubernetes-validations")}


def unknown_fields(obj):
    """Paths of fields the Kubernetes API does not define (a typo such as `readinesProbe`
    would be dropped silently by a non-strict server). Uses the python-kubernetes models'
    field tables; kinds it has no model for (CRDs' custom resources) are not checked."""
    from kubernetes import client
    root = _model_class(obj)
    if root is None:
        return []
    errors = []

    def walk(value, type_name, path):
        if value is None:
            return
        if type_name.startswith("list["):
            for i, item in enumerate(value if isinstance(value, list) else []):
                walk(item, type_name[5:-1], "%s[%d]" % (path, i))
            return
        if type_name.startswith("dict("):
            inner = type_name[5:-1].split(", ", 1)[1]
            for k, v in (value.items() if isinstance(value, dict) else []):
                walk(v, inner, "%s.%s" % (path, k))
            return
        cls = getattr(client, type_name, None)
        if cls is None or not isinstance(value, dict):
            return
        by_json = {v: k for k, v in cls.attribute_map.items()}
        for key, child in value.items():
            if key not in by_json:
                if (type_name, key) not in NEWER_THAN_PYTHON_CLIENT:
                    errors.append("%s.%s" % (path, key))
                continue
            walk(child, cls.openapi_types[by_json[key]], "%s.%s" % (path, key))

    walk(obj, root.__name__, obj.get("kind", ""))
    return errors


def by_kind(objects, kind):
    """The objects of one kind."""
    return [o for o in objects if o.get("kind") == kind]


def one(objects, kind, name=None):
    """The single object of a kind (and name); fails loudly otherwise."""
    found = [o for o in by_kind(objects, kind)
             if name is None or o["metadata"]["name"] == name]
    if len(found) != 1:
        raise AssertionError("expected one %s%s, found %d" %
                             (kind, " " + name if name else "", len(found)))
    return found[0]


def normalized_rules(rules):
    """RBAC rules as a set of (apiGroup, resource, resourceName or '*', verb) tuples, and
    (None, nonResourceURL, '*', verb) for non-resource rules, so that two rule lists granting
    the same rights compare equal however they are grouped."""
    out = set()
    for rule in rules or []:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for name in rule.get("resourceNames") or ["*"]:
                    for verb in rule.get("verbs", []):
                        out.add((group, resource, name, verb))
        for url in rule.get("nonResourceURLs", []):
            for verb in rule.get("verbs", []):
                out.add((None, url, "*", verb))
    return out


def container(objects, name="operator"):
    """The operator container of the (single) Deployment."""
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == name)
