#!/usr/bin/env python3
"""Compares two Kubernetes object streams as parsed objects: `helm template` of charts/deaap with an
environment's generated values against `deaap-gen render` of that environment.

    chart_equivalence.py HELM_STREAM RENDER_STREAM [--core-out FILE]

Objects are matched by (apiVersion group, kind, namespace, name). The only differences allowed are
Helm's own labels on each object's metadata, listed here:
  - `helm.sh/chart` is added by the chart;
  - `app.kubernetes.io/managed-by` is `Helm` (the release service) instead of `deaap-gen`.
CustomResourceDefinitions come from the chart's crds/ folder, which Helm installs as written (no
templating), so they must match with no difference at all.
Prints one line per difference and a summary; exits 1 on any difference. With --core-out, also
writes the chart's objects of the built-in Kubernetes API groups to FILE, for kubernetes-validate.
"""
import sys

import yaml

HELM_LABELS = {"helm.sh/chart": None, "app.kubernetes.io/managed-by": ("deaap-gen", "Helm")}


BUILT_IN_GROUPS = {"", "apps", "batch", "autoscaling", "policy", "networking.k8s.io",
                   "rbac.authorization.k8s.io", "apiextensions.k8s.io", "storage.k8s.io"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def load(path):
    docs = read(path)
    out = {}
    for d in docs:
        group = d["apiVersion"].rsplit("/", 1)[0] if "/" in d["apiVersion"] else ""
        key = (group, d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
        if key in out:
            raise SystemExit(f"{path}: {key} appears twice")
        out[key] = d
    return out


def strip_helm(obj, problems, key):
    """Removes Helm's labels from a chart object, checking their values."""
    labels = obj.get("metadata", {}).get("labels", {})
    chart = labels.pop("helm.sh/chart", None)
    if not chart or not chart.startswith("deaap-"):
        problems.append(f"{key}: helm.sh/chart label missing or wrong: {chart!r}")
    managed = labels.pop("app.kubernetes.io/managed-by", None)
    if managed != "Helm":
        problems.append(f"{key}: app.kubernetes.io/managed-by is {managed!r}, not 'Helm'")


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"{path}.{k}: only in render")
            elif k not in b:
                out.append(f"{path}.{k}: only in the chart")
            else:
                diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items in the chart, {len(b)} in render")
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]", out)
    elif a != b or type(a) is not type(b):
        out.append(f"{path}: chart {a!r} != render {b!r}")


def main():
    if len(sys.argv) == 5 and sys.argv[3] == "--core-out":
        core = [d for d in read(sys.argv[1])
                if (d["apiVersion"].rsplit("/", 1)[0] if "/" in d["apiVersion"] else "") in BUILT_IN_GROUPS]
        with open(sys.argv[4], "w", encoding="utf-8") as f:
            yaml.safe_dump_all(core, f, sort_keys=True)
    elif len(sys.argv) != 3:
        raise SystemExit(__doc__)
    helm, render = load(sys.argv[1]), load(sys.argv[2])
    problems = []
    for key in sorted(set(helm) - set(render)):
        problems.append(f"{key}: only in the chart")
    for key in sorted(set(render) - set(helm)):
        problems.append(f"{key}: only in render")
    for key in sorted(set(helm) & set(render)):
        chart_obj = helm[key]
        if key[1] != "CustomResourceDefinition":
            strip_helm(chart_obj, problems, key)
        render_obj = render[key]
        render_labels = render_obj.get("metadata", {}).get("labels", {})
        if render_labels.get("app.kubernetes.io/managed-by") == "deaap-gen":
            del render_labels["app.kubernetes.io/managed-by"]
        if chart_obj.get("metadata", {}).get("labels") == {}:
            del chart_obj["metadata"]["labels"]
        if render_obj.get("metadata", {}).get("labels") == {}:
            del render_obj["metadata"]["labels"]
        found = []
        diff(chart_obj, render_obj, "", found)
        problems.extend(f"{key}: {p}" for p in found)
    for p in problems:
        print(p)
    print(f"{len(set(helm) & set(render))} objects compared, {len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
