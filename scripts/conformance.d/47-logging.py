"""The generated Fluent Bit configuration of one environment tree, checked against Fluent Bit's
configuration schema and against the generated workloads (see 47-logging.sh).

Usage: 47-logging.py TREE FLUENT_BIT_SCHEMA EXTRACTED_OUT
"""

import fnmatch
import glob
import json
import re
import sys

import yaml

tree, schema_path, extracted = sys.argv[1:4]
schema = json.load(open(schema_path))
docs = [d for d in yaml.safe_load_all(open(f"{tree}/kubernetes/log-collector.yaml")) if d]
by_kind = {d["kind"]: d for d in docs}
config_map = by_kind["ConfigMap"]
(file_name, text), = config_map["data"].items()
open(extracted, "w").write(text)
config = yaml.safe_load(text)
problems = []

# Keys Fluent Bit documents for the service section and for parsers (--help-json lists neither).
SERVICE = {"flush", "grace", "daemon", "log_file", "log_level", "http_server", "http_listen",
           "http_port", "health_check", "hc_errors_count", "hc_retry_failure_count", "hc_period",
           "storage.path", "storage.sync", "storage.checksum", "storage.backlog.mem_limit",
           "storage.max_chunks_up", "storage.metrics", "parsers_file", "plugins_file"}
PARSER = {"name", "format", "regex", "time_key", "time_format", "time_keep", "time_offset",
          "time_strict", "types", "decode_field", "decode_field_as", "skip_empty_values"}
for key in config.get("service", {}):
    if key not in SERVICE:
        problems.append(f"service: unknown key {key}")
for parser in config.get("parsers", []):
    for key in parser:
        if key not in PARSER:
            problems.append(f"parser {parser.get('name')}: unknown key {key}")
    if parser.get("format") not in {"json", "regex", "ltsv", "logfmt"}:
        problems.append(f"parser {parser.get('name')}: format {parser.get('format')}")
parsers = {p["name"] for p in config.get("parsers", [])}

TYPES = {"boolean": lambda v: isinstance(v, bool) or str(v).lower() in {"on", "off", "true", "false"},
         "integer": lambda v: re.fullmatch(r"-?[0-9]+", str(v)) is not None}
checked = 0
for section in ("inputs", "filters", "outputs"):
    plugins = {p["name"]: p for p in schema[section]}
    for item in config["pipeline"][section]:
        name = item["name"]
        if name not in plugins:
            problems.append(f"{section}: no plugin {name}")
            continue
        options = {}
        prefixes = []
        for group in plugins[name]["properties"].values():
            for o in group:
                if o["type"] == "prefixed string":
                    prefixes.append(o["name"].lower())
                options[o["name"].lower()] = o["type"]
        for key, value in item.items():
            if key == "name":
                continue
            k = key.lower()
            checked += 1
            if k in options:
                check_type = TYPES.get(options[k])
                if check_type and not check_type(value):
                    problems.append(f"{section} {name}: {key}={value!r} is not {options[k]}")
            elif not any(k.startswith(p) for p in prefixes):
                problems.append(f"{section} {name}: unknown property {key}")
        for key in ("parser", "Parser"):
            if key in item and item[key] not in parsers:
                problems.append(f"{section} {name}: parser {item[key]} is not defined")

# The DaemonSet runs the file the ConfigMap holds.
pod = by_kind["DaemonSet"]["spec"]["template"]["spec"]
container = pod["containers"][0]
config_arg = next(a for a in container["args"] if a.startswith("--config="))[len("--config="):]
volume = next(v["name"] for v in pod["volumes"]
              if v.get("configMap", {}).get("name") == config_map["metadata"]["name"])
mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume)
if config_arg != f"{mount}/{file_name}":
    problems.append(f"--config={config_arg}, but the ConfigMap is {mount}/{file_name}")

# Every DEAAP container's log file, as the kubelet names it, is tailed by one input whose records
# reach one output.
inputs = config["pipeline"]["inputs"]
outputs = config["pipeline"]["outputs"]
namespaces = set()
for f in glob.glob(f"{tree}/kubernetes/namespaces.yaml"):
    namespaces |= {d["metadata"]["name"] for d in yaml.safe_load_all(open(f)) if d}
files = 0
for f in sorted(glob.glob(f"{tree}/kubernetes/*.yaml")):
    for d in yaml.safe_load_all(open(f)):
        if not d or d["kind"] not in {"Deployment", "StatefulSet"}:
            continue
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        if ns not in namespaces:
            continue
        pod_name = f"{name}-7d9f8c6b5-x2k4q" if d["kind"] == "Deployment" else f"{name}-0"
        own = d["spec"]["template"]["spec"]["containers"][0]["name"]
        log = f"/var/log/containers/{pod_name}_{ns}_{own}-{'0' * 64}.log"
        files += 1
        tailing = [i for i in inputs
                   if fnmatch.fnmatch(log, i["path"])
                   and not any(fnmatch.fnmatch(log, x) for x in i.get("exclude_path", "").split(",") if x)]
        if len(tailing) != 1:
            problems.append(f"{log}: tailed by {len(tailing)} inputs")
            continue
        tag = tailing[0]["tag"]
        shipping = [o for o in outputs if re.fullmatch(o["match_regex"], tag)]
        if len(shipping) != 1:
            problems.append(f"{tag}: shipped by {len(shipping)} outputs")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{checked} plugin properties, {files} workload log files")
