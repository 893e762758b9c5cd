"""Checks one `deaap-gen argocd generate` run against the built tree of the same environment.

usage: argocd_stream.py STREAM STDERR EXIT_CODE TREE_DIR

The stream must hold exactly the objects of the tree's manifest files (as parsed values, same
multiset; the restores of backup/restore-*.yaml, applied by hand, are none), each with apiVersion,
kind and metadata.name, Namespaces first; its core Kubernetes
objects must pass `kubernetes-validate --strict -k 1.33.0` (custom resources have no schema there
and are validated by their own checks). An environment without Kubernetes objects must be refused:
non-zero exit, empty stdout, one line on stderr.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

MANIFEST_DIRS = ("kubernetes/", "istio/", "opa/gatekeeper/", "backup/")
# Applied by hand during a recovery, never synced: the restores.
BY_HAND = ("backup/restore-",)


def canonical(obj):
    return json.dumps(obj, sort_keys=True)


def load_docs(text):
    return [d for d in yaml.safe_load_all(text) if d is not None]


def is_core(api_version):
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


# Manifest files outside MANIFEST_DIRS: the alert and SLO rules, the Grafana dashboards.
STREAMED_FILES = (
    "prometheus/prometheusrule.yaml",
    "prometheus/slo-prometheusrule.yaml",
    "grafana/dashboards.yaml",
)


def main():
    stream_path, stderr_path, code, tree = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with open(stream_path, encoding="utf-8") as f:
        stream = f.read()
    with open(stderr_path, encoding="utf-8") as f:
        stderr = f.read()
    with open(os.path.join(tree, "deaap-manifest.json"), encoding="utf-8") as f:
        index = json.load(f)
    expected = []
    for entry in index["files"]:
        path = entry["path"]
        if path.startswith(BY_HAND):
            continue
        if path.startswith(MANIFEST_DIRS) or path in STREAMED_FILES:
            with open(os.path.join(tree, path), encoding="utf-8") as f:
                expected.extend(load_docs(f.read()))
    env = index["environment"]

    if not expected:
        if code == 0 or stream or len(stderr.strip().splitlines()) != 1:
            sys.exit(f"{env}: no Kubernetes objects, so generate must fail with empty stdout and "
                     f"one stderr line; got exit {code}, {len(stream)} bytes, stderr {stderr!r}")
        print(f"{env}: no Kubernetes objects; refused with: {stderr.strip()}")
        return

    if code != 0:
        sys.exit(f"{env}: exit {code}: {stderr}")
    objects = load_docs(stream)
    for o in objects:
        if not (o.get("apiVersion") and o.get("kind") and (o.get("metadata") or {}).get("name")):
            sys.exit(f"{env}: object without apiVersion/kind/metadata.name: {o}")
    if sorted(map(canonical, objects)) != sorted(map(canonical, expected)):
        sys.exit(f"{env}: the stream ({len(objects)} objects) is not the tree's objects ({len(expected)})")
    kinds = [o["kind"] for o in objects]
    namespaces = [i for i, k in enumerate(kinds) if k == "Namespace"]
    if namespaces and namespaces != list(range(len(namespaces))):
        sys.exit(f"{env}: Namespaces are not first: {kinds}")

    core = [o for o in objects if is_core(o["apiVersion"])]
    if core:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump_all(core, f, sort_keys=False)
        tool = shutil.which("kubernetes-validate") or os.path.join(
            os.path.dirname(sys.executable), "kubernetes-validate")
        run = subprocess.run([tool, "--strict", "-k", "1.33.0", f.name],
                             capture_output=True, text=True, check=False)
        os.unlink(f.name)
        report = run.stdout + run.stderr
        if run.returncode != 0 or "Couldn't find schema" in report or "ERROR" in report:
            sys.exit(f"{env}: kubernetes-validate rejected the stream:\n{report}")
    print(f"{env}: {len(objects)} objects equal to the tree's, {len(core)} core objects valid")


if __name__ == "__main__":
    main()
