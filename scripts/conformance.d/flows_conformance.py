#!/usr/bin/env python3
"""A second, independent NetworkPolicy evaluator, written from the upstream Kubernetes
documentation (concepts/services-networking/network-policies and the networking.k8s.io/v1 API
reference), to cross-check the verdicts of `deaap-gen check --flows --format json`.

Usage: flows_conformance.py TREE MATRIX_JSON
  TREE         a generated environment folder (generated/<env>/)
  MATRIX_JSON  the environment's line of `deaap-gen check --flows --format json`

It reads the Namespaces, NetworkPolicies and pod templates from the generated YAML itself; it
takes from the JSON only the connections to judge and the endpoints that are not generated (the
add-ons and addresses around the cluster), and checks that every generated workload's endpoint
carries its pod template's labels and container ports. Then it evaluates every connection and
fails on any verdict that differs, printing each difference.

A CloudNativePG `Cluster` has no pod template: its instances' labels are the operator's own
(`cnpg.io/cluster`, `cnpg.io/instanceName`, `cnpg.io/podRole`, the recommended
`app.kubernetes.io` labels of CloudNativePG 1.28 and later) plus the Cluster's
`spec.inheritedMetadata`, and their `postgres` container serves PostgreSQL (5432), metrics (9187)
and the instance manager's status (8000), as the operator's documentation describes its pods. The
restores in backup/ are applied by hand, not with the environment, and are left out.
"""

import ipaddress
import json
import pathlib
import sys

import yaml

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def load_objects(tree):
    objects = []
    for path in sorted(pathlib.Path(tree).rglob("*.yaml")):
        # The restore Jobs run only during a recovery, applied by hand: they are no part of the
        # network the proof judges (they share their backup job's labels and policy).
        if path.parent.name == "backup" and path.name.startswith("restore-"):
            continue
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if isinstance(doc, dict) and "kind" in doc:
                    objects.append(doc)
    return objects


def pod_template(obj):
    kind = obj["kind"]
    if kind in WORKLOAD_KINDS:
        return obj["spec"]["template"]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    if kind == "Cluster" and obj["apiVersion"].startswith("postgresql.cnpg.io/"):
        return cnpg_instance(obj)
    return None


def cnpg_instance(cluster):
    """The pod template of a CloudNativePG Cluster's first instance, as the operator makes it."""
    name = cluster["metadata"]["name"]
    labels = {
        "cnpg.io/cluster": name,
        "cnpg.io/instanceName": f"{name}-1",
        "cnpg.io/podRole": "instance",
        "app.kubernetes.io/name": "postgresql",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": "database",
        "app.kubernetes.io/managed-by": "cloudnative-pg",
    }
    inherited = cluster["spec"].get("inheritedMetadata") or {}
    labels.update(inherited.get("labels") or {})
    ports = [("postgresql", 5432), ("metrics", 9187), ("status", 8000)]
    return {
        "metadata": {"labels": labels, "annotations": inherited.get("annotations") or {}},
        "spec": {
            "containers": [
                {
                    "name": "postgres",
                    "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports],
                }
            ]
        },
    }


def selector_matches(selector, labels):
    """A label selector: matchLabels and matchExpressions ANDed; empty matches everything."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for req in selector.get("matchExpressions") or []:
        key, op, values = req["key"], req["operator"], req.get("values") or []
        if op == "In":
            if key not in labels or labels[key] not in values:
                return False
        elif op == "NotIn":
            if key in labels and labels[key] in values:
                return False
        elif op == "Exists":
            if key not in labels:
                return False
        elif op == "DoesNotExist":
            if key in labels:
                return False
        else:
            return False
    return True


class Cluster:
    def __init__(self, namespaces, policies):
        self.namespaces = namespaces  # name -> labels (with kubernetes.io/metadata.name)
        self.policies = policies  # list of (namespace, name, spec)

    def peer_matches(self, peer, policy_ns, ep):
        if "ipBlock" in peer and peer["ipBlock"] is not None:
            ip = ipaddress.ip_address(ep["ip"])
            block = peer["ipBlock"]
            net = ipaddress.ip_network(block["cidr"], strict=False)
            if ip.version != net.version or ip not in net:
                return False
            for exc in block.get("except") or []:
                e = ipaddress.ip_network(exc, strict=False)
                if ip.version == e.version and ip in e:
                    return False
            return True
        ns = ep["namespace"]
        if ns is None:
            # Only pods are selected by pod and namespace selectors.
            return False
        has_ns = "namespaceSelector" in peer and peer["namespaceSelector"] is not None
        has_pod = "podSelector" in peer and peer["podSelector"] is not None
        if not has_ns and not has_pod:
            return False
        if has_ns:
            if not selector_matches(peer["namespaceSelector"], self.namespaces.get(ns, {"kubernetes.io/metadata.name": ns})):
                return False
        elif ns != policy_ns:
            return False
        if has_pod and not selector_matches(peer["podSelector"], ep["labels"]):
            return False
        return True

    @staticmethod
    def port_matches(ports, dest, port, protocol):
        if not ports:
            return True
        for p in ports:
            if p.get("protocol", "TCP") != protocol:
                continue
            if "port" not in p or p["port"] is None:
                return True
            value = p["port"]
            if isinstance(value, int):
                end = p.get("endPort") or value
                if value <= port <= end:
                    return True
            else:
                for cp in dest["ports"]:
                    if cp.get("name") == value and cp["protocol"] == protocol and cp["port"] == port:
                        return True
        return False

    def allows(self, direction, subject, peer, dest, port, protocol):
        """Whether the policies of `subject` let the connection with `peer` through."""
        ns = subject["namespace"]
        if ns is None:
            return True
        isolated = False
        for policy_ns, _name, spec in self.policies:
            if policy_ns != ns or not selector_matches(spec.get("podSelector") or {}, subject["labels"]):
                continue
            types = spec.get("policyTypes")
            if types is None:
                types = ["Ingress"] + (["Egress"] if "egress" in spec else [])
            if direction not in types:
                continue
            isolated = True
            rules = spec.get("ingress" if direction == "Ingress" else "egress") or []
            for rule in rules:
                peers = rule.get("from" if direction == "Ingress" else "to")
                if peers and not any(self.peer_matches(p, policy_ns, peer) for p in peers):
                    continue
                if self.port_matches(rule.get("ports"), dest, port, protocol):
                    return True
        return not isolated

    def verdict(self, src, dst, port, protocol):
        return self.allows("Egress", src, dst, dst, port, protocol) and self.allows(
            "Ingress", dst, src, dst, port, protocol
        )


def main(tree, matrix_path):
    with open(matrix_path, encoding="utf-8") as f:
        line = json.load(f)
    matrix = line["matrix"]
    objects = load_objects(tree)
    namespaces = {}
    policies = []
    templates = {}
    for o in objects:
        meta = o.get("metadata") or {}
        if o["kind"] == "Namespace":
            labels = dict(meta.get("labels") or {})
            labels["kubernetes.io/metadata.name"] = meta["name"]
            namespaces[meta["name"]] = labels
        elif o["kind"] == "NetworkPolicy":
            policies.append((meta["namespace"], meta["name"], o.get("spec") or {}))
        else:
            t = pod_template(o)
            if t is not None:
                templates[f'{meta["namespace"]}/{meta["name"]}'] = t
    endpoints = {e["id"]: e for e in matrix["endpoints"]}
    for e in endpoints.values():
        if e["namespace"] is not None and e["namespace"] not in namespaces:
            namespaces[e["namespace"]] = {"kubernetes.io/metadata.name": e["namespace"]}

    problems = []
    for wid, t in sorted(templates.items()):
        e = endpoints.get(wid)
        if e is None:
            problems.append(f"{wid}: a generated workload the matrix does not judge")
            continue
        labels = (t.get("metadata") or {}).get("labels") or {}
        if e["labels"] != labels:
            problems.append(f"{wid}: judged with labels {e['labels']}, generated {labels}")
        spec = t.get("spec") or {}
        declared = [
            {"name": p.get("name"), "port": p["containerPort"], "protocol": p.get("protocol", "TCP")}
            for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
            for p in c.get("ports") or []
        ]
        judged = [{"name": p["name"], "port": p["port"], "protocol": p["protocol"]} for p in e["ports"]]
        missing = [p for p in declared if p not in judged]
        if missing:
            problems.append(f"{wid}: judged without its container ports {missing}")
        ns_labels = namespaces.get(wid.split("/")[0], {})
        annotations = (t.get("metadata") or {}).get("annotations") or {}
        opted_out = "false" in (labels.get("sidecar.istio.io/inject"), annotations.get("sidecar.istio.io/inject"))
        injected = ns_labels.get("istio-injection") == "enabled" and not opted_out
        if not injected and len(judged) != len(declared):
            problems.append(f"{wid}: judged with ports {judged}, generated {declared}")
        if spec.get("hostNetwork") and e["namespace"] is not None:
            problems.append(f"{wid}: a host-network pod judged as a pod")

    cluster = Cluster(namespaces, policies)
    checked = 0
    for f in matrix["flows"]:
        src, dst = endpoints[f["from"]], endpoints[f["to"]]
        allowed = cluster.verdict(src, dst, f["port"], f["protocol"])
        mine = "allowed" if allowed else "denied"
        checked += 1
        if mine != f["verdict"]:
            problems.append(
                f'{f["from"]} -> {f["to"]} {f["port"]}/{f["protocol"]}: deaap-gen says {f["verdict"]} '
                f'({f["why"]}), this evaluator {mine}'
            )
    if checked == 0:
        problems.append("the matrix judges no connection")
    for p in problems:
        print(p)
    print(f'{matrix["environment"]}: {checked} connections, {len(problems)} disagreements')
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
