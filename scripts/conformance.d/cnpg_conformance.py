#!/usr/bin/env python3
"""Validates every CloudNativePG object of generated trees against the operator's own
CustomResourceDefinitions (scripts/conformance.d/schemas/cloudnative-pg/).

usage: cnpg_conformance.py SCHEMA_DIR TREE...

Each `postgresql.cnpg.io` object in a tree's kubernetes/ and backup/ files is validated against the
`openAPIV3Schema` of its kind's definition, the way the API server reads it: every object schema
without `x-kubernetes-preserve-unknown-fields` or `additionalProperties` refuses unknown fields
(the server would prune them silently, so a misspelt field would be lost). On top of the schema,
what the operator itself insists on: a ScheduledBackup's schedule has six fields (seconds first)
and names a Cluster of the tree; a recovery Cluster's source is one of its external clusters.
Prints one line per object and exits 1 on any problem, or when no object was checked.
"""

import copy
import pathlib
import sys

import jsonschema
import yaml

GROUP = "postgresql.cnpg.io"


def strict(schema):
    """The schema with unknown properties refused where Kubernetes' structural schema prunes them."""
    s = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                node.get("type") == "object"
                and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(s)
    return s


def load_schemas(schema_dir):
    schemas = {}
    for path in sorted(pathlib.Path(schema_dir).glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            api_version = f'{crd["spec"]["group"]}/{version["name"]}'
            schemas[(api_version, kind)] = strict(version["schema"]["openAPIV3Schema"])
    return schemas


def objects(tree):
    for folder in ("kubernetes", "backup"):
        for path in sorted((pathlib.Path(tree) / folder).glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if isinstance(doc, dict) and str(doc.get("apiVersion", "")).startswith(GROUP + "/"):
                    yield path.relative_to(tree), doc


def main(schema_dir, trees):
    schemas = load_schemas(schema_dir)
    problems, checked = [], 0
    for tree in trees:
        docs = list(objects(tree))
        clusters = {d["metadata"]["name"] for _, d in docs if d["kind"] == "Cluster"}
        for path, doc in docs:
            what = f'{pathlib.Path(tree).name}/{path}: {doc["kind"]} {doc["metadata"]["name"]}'
            before = len(problems)
            schema = schemas.get((doc["apiVersion"], doc["kind"]))
            if schema is None:
                problems.append(f"{what}: no definition of {doc['apiVersion']} {doc['kind']}")
                continue
            errors = sorted(
                jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path)
            )
            for e in errors:
                where = "/".join(str(p) for p in e.absolute_path)
                problems.append(f"{what}: {where}: {e.message}")
            spec = doc.get("spec") or {}
            if doc["kind"] == "ScheduledBackup":
                schedule = spec.get("schedule", "")
                if not schedule.startswith("@") and len(schedule.split()) != 6:
                    problems.append(f"{what}: schedule {schedule!r} is not six fields, seconds first")
                if spec.get("cluster", {}).get("name") not in clusters:
                    problems.append(f"{what}: backs up {spec.get('cluster')}, no Cluster of the tree")
            recovery = (spec.get("bootstrap") or {}).get("recovery")
            if doc["kind"] == "Cluster" and recovery:
                names = [c["name"] for c in spec.get("externalClusters") or []]
                if recovery.get("source") not in names:
                    problems.append(f"{what}: recovers from {recovery.get('source')!r}, not one of {names}")
            checked += 1
            if len(problems) == before:
                print(f"valid {what}")
    for p in problems:
        print(p)
    if checked == 0:
        print("no CloudNativePG object found")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
