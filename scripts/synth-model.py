#!/usr/bin/env python3
"""Writes a synthetic, valid environment of N application services for the scaling benchmark.

    scripts/synth-model.py N OUTDIR

OUTDIR/synth.toml extends a copy of the shipped production environment (OUTDIR/layers/), through
layers of at most 2,000 services each (deaap-gen reads files of at most 4 MiB), which add N
services shaped like production's own: Kubernetes, a Deployment of two replicas autoscaled 2-4 at
70% CPU, a Vault secret, a route through the gateway, its own metrics port, NetworkPolicies for
its dependencies (the previous synthetic service, Redis or PostgreSQL), one declared metric and one
alert each. The core quota is raised to fit them. `deaap-gen build OUTDIR` compiles it alone (the
layers are not in OUTDIR itself); `deaap-gen validate OUTDIR` reports no errors.
"""

import pathlib
import sys

PER_LAYER = 2000


def service(i: int) -> str:
    name = f"svc-{i:05d}"
    deps = ['"redis"'] if i % 3 == 0 else ['"postgres"'] if i % 3 == 1 else []
    if i > 0:
        deps.append(f'"svc-{i - 1:05d}"')
    metric = f"deaap_svc_{i:05d}_request_duration_seconds"
    alert = f"Svc{i:05d}HighLatency"
    return f"""
[services.{name}]
image = {{ repository = "deaap/{name}", tag = "1.0.{i}" }}
port = 8080
namespace = "core"
route = "/api/v1/{name}"
replicas = 2
depends_on = [{", ".join(deps)}]
metrics = {{ scrape = true, port = 9090 }}
env = {{ SERVICE_INDEX = "{i}" }}
secrets = {{ API_TOKEN = "vault:secret/data/deaap/{name}#api-token" }}
autoscaling = {{ min_replicas = 2, max_replicas = 4, cpu_percent = 70 }}
resources = {{ requests = {{ cpu = "100m", memory = "128Mi" }}, limits = {{ cpu = "200m", memory = "256Mi" }} }}

[metrics.{metric}]
type = "histogram"
description = "Request latency of {name}"
labels = ["route", "code"]
unit = "seconds"
exposed_by = "{name}"

[alerts.{alert}]
signal = {{ kind = "quantile", quantile = 0.95 }}
metric = "{metric}"
when = "above"
threshold = 2
for = "5m"
severity = "warning"
summary = "{name} p95 latency above 2s"
description = "95th percentile request latency of {name} is above 2 seconds."
"""


def main() -> int:
    if len(sys.argv) != 3 or not sys.argv[1].isdigit():
        print(__doc__.strip(), file=sys.stderr)
        return 2
    n = int(sys.argv[1])
    out = pathlib.Path(sys.argv[2])
    root = pathlib.Path(__file__).resolve().parent.parent
    layers = out / "layers"
    layers.mkdir(parents=True, exist_ok=True)
    for f in ("base.toml", "production.toml"):
        text = (root / "environments" / f).read_text()
        # The copies live one folder deeper: their schema comment points at the repository's.
        text = text.replace("#:schema ../schema/", f"#:schema {root}/schema/", 1)
        (layers / f).write_text(text)
    # Per pod at the autoscaling maximum: the service, an Istio proxy and a Vault agent.
    cpu, memory_mi, pods = 100 + n * 4 * 1, 200 * 1024 + n * 4 * 448, 100 + n * 4
    # deaap-gen reads files of at most 4 MiB: the services come in layers of 2,000, each extending
    # the one before.
    schema = "#:schema " + str(root / "schema/deaap-environment.schema.json")
    parent = "production.toml"
    for k, first in enumerate(range(0, n, PER_LAYER)):
        layer = [schema, f'extends = "{parent}"']
        layer.extend(service(i) for i in range(first, min(n, first + PER_LAYER)))
        parent = f"services-{k}.toml"
        (layers / parent).write_text("\n".join(layer) + "\n")
    parts = [
        schema,
        f"# {n} synthetic services on production's model (scripts/synth-model.py).",
        f'extends = "layers/{parent}"',
        "",
        "[environment]",
        'name = "synth"',
        'cluster = "deaap-synth"',
        "",
        "[quotas.core]",
        f'requests_cpu = "{cpu}"',
        f'requests_memory = "{memory_mi}Mi"',
        f'limits_cpu = "{cpu * 2}"',
        f'limits_memory = "{memory_mi * 2}Mi"',
        f"pods = {pods}",
    ]
    (out / "synth.toml").write_text("\n".join(parts) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
