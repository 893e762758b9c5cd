"""Alertmanager conformance of one environment's output tree, against its model.

Usage: alertmanager_conformance.py routes ENV_FILE TREE
       alertmanager_conformance.py inhibit ENV_FILE TREE

routes:  the standalone alertmanager/alertmanager.yaml and kube-prometheus-stack's
         alertmanager.config are the same document; then, for every alert of
         prometheus/rules.yaml and slo-rules.yaml (its labels plus alertname), `amtool config routes test` must name
         the receiver the model's routes give it. The expectation is computed here from the
         environment file (first route whose severity and business unit match, else the default
         receiver), not read from the generated file.
inhibit: a real Alertmanager runs on loopback with the generated file; every alert is posted,
         then each `up` alert too, and the alerts Alertmanager reports inhibited must be exactly
         the latency alerts of the workloads that depend on that alert's workload, computed here
         from the model's depends_on.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request

import yaml


def load_env(path):
    """The environment file with its `extends` chain merged: tables deep-merge, the rest
    replaces."""
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    parent = doc.pop("extends", None)
    if parent is None:
        return doc
    return merge(load_env(os.path.join(os.path.dirname(path), parent)), doc)


def merge(base, over):
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def rule_alerts(tree):
    docs = []
    for name in ("rules.yaml", "slo-rules.yaml"):
        path = os.path.join(tree, "prometheus", name)
        if os.path.exists(path):
            with open(path) as f:
                docs.append(yaml.safe_load(f))
    out = []
    for g in (g for doc in docs for g in doc["groups"]):
        for r in g["rules"]:
            if "alert" not in r:
                continue
            labels = dict(r.get("labels", {}))
            labels["alertname"] = r["alert"]
            out.append(labels)
    return out


def expected_receiver(am, labels):
    if labels["alertname"] == "Watchdog":
        return "null"
    for r in am.get("routes", []):
        if "severity" in r and r["severity"] != labels.get("severity"):
            continue
        if "business_unit" in r and r["business_unit"] != labels.get("bu_name"):
            continue
        return r["receiver"]
    return am["default_receiver"]


def routes(env_file, tree):
    env = load_env(env_file)
    am = env["monitoring"]["alertmanager"]
    config = os.path.join(tree, "alertmanager", "alertmanager.yaml")
    with open(config) as f:
        standalone = yaml.safe_load(f)
    with open(os.path.join(tree, "helm", "monitoring-values.yaml")) as f:
        values = yaml.safe_load(f)
    if values["alertmanager"]["config"] != standalone:
        print("alertmanager.config in monitoring-values.yaml differs from alertmanager.yaml")
        return 1
    failed = 0
    alerts = rule_alerts(tree) + [{"alertname": "Watchdog", "severity": "none"}]
    bu = env["environment"]["business_unit"]
    receivers = set()
    for labels in alerts:
        if labels["alertname"] != "Watchdog" and labels.get("bu_name") != bu:
            print(f"{labels['alertname']}: bu_name {labels.get('bu_name')!r}, not the environment's {bu!r}")
            failed += 1
        want = expected_receiver(am, labels)
        receivers.add(want)
        args = [f"{k}={v}" for k, v in sorted(labels.items())]
        out = subprocess.run(
            ["amtool", "config", "routes", "test", f"--config.file={config}",
             f"--verify.receivers={want}", *args],
            capture_output=True, text=True,
        )
        got = out.stdout.strip()
        if out.returncode != 0 or got != want:
            print(f"{labels['alertname']} ({', '.join(args)}): amtool routes to {got!r}, the model to {want!r}")
            failed += 1
    if failed:
        return 1
    print(f"{len(alerts)} alerts routed as the model says, to {len(receivers)} receivers: {', '.join(sorted(receivers))}")
    return 0


def workload_of(env, alert):
    """The workload an alert watches, as the model names it."""
    if alert["signal"]["kind"] == "up":
        sel = alert.get("selector", {})
        if sel.get("job") == env["blockchain"].get("metrics_job", "blockchain-node"):
            return "blockchain"
        return sel.get("app")
    by = env.get("metrics", {}).get(alert["metric"], {}).get("exposed_by")
    return {"consensus": "bu-validator"}.get(by, by)


def dependents(env, name):
    uses = {}
    for s, svc in env.get("services", {}).items():
        if svc.get("enabled", True):
            for d in svc.get("depends_on", []):
                uses.setdefault(d, set()).add(s)
    # The validators validate for the blockchain nodes.
    uses.setdefault("blockchain", set()).add("bu-validator")
    out, todo = set(), [name]
    while todo:
        for u in uses.get(todo.pop(), ()):
            if u not in out and u != name:
                out.add(u)
                todo.append(u)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def inhibit(env_file, tree):
    env = load_env(env_file)
    alerts = dict(env.get("alerts", {}))
    for t in env.get("performance_targets", []):
        alerts[t["alert_name"]] = t["alert"]
    labels = {a["alertname"]: a for a in rule_alerts(tree)}
    config = os.path.join(tree, "alertmanager", "alertmanager.yaml")
    failed = 0
    checked = 0
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(os.path.join(tmp, "alertmanager.log"), "w")
        am = subprocess.Popen(
            ["prometheus-alertmanager", f"--config.file={config}", f"--storage.path={tmp}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"{url}/-/ready", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                print("Alertmanager did not start")
                return 1
            down = [n for n, a in alerts.items() if a["signal"]["kind"] == "up"]
            for source in down:
                affected = dependents(env, workload_of(env, alerts[source]))
                want = sorted(
                    n for n, a in alerts.items()
                    if a["signal"]["kind"] == "quantile" and workload_of(env, a) in affected
                )
                # Post every alert but the other down alerts, so only this one can inhibit.
                batch = [
                    {"labels": labels[n], "annotations": {}}
                    for n in labels if n == source or n not in down
                ]
                post(url, batch)
                time.sleep(0.5)
                got = sorted(
                    a["labels"]["alertname"] for a in query(url)
                    if a["status"]["inhibitedBy"]
                )
                checked += 1
                if got != want:
                    print(f"{source}: Alertmanager inhibits {got}, the model's dependents' latency alerts are {want}")
                    failed += 1
                else:
                    print(f"{source} inhibits {want or 'nothing'}")
                # Resolve the source, so the next case starts without it.
                post(url, [{"labels": labels[source], "annotations": {}, "endsAt": "2000-01-01T00:00:00Z"}])
        finally:
            am.terminate()
            am.wait(timeout=10)
    if checked == 0:
        print("no `up` alert to inhibit with")
    return 1 if failed else 0


def post(url, alerts):
    req = urllib.request.Request(
        f"{url}/api/v2/alerts", data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    urllib.request.urlopen(req, timeout=5).read()


def query(url):
    with urllib.request.urlopen(f"{url}/api/v2/alerts?active=true&inhibited=true&silenced=true", timeout=5) as r:
        return json.load(r)


if __name__ == "__main__":
    mode, env_file, tree = sys.argv[1:4]
    sys.exit({"routes": routes, "inhibit": inhibit}[mode](env_file, tree))
