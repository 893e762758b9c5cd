# shellcheck shell=bash
# The log collector (kubernetes/log-collector.yaml, from `[logging]`) and the standard log format.
# Fluent Bit itself is in none of the package registries CI reaches, so `fluent-bit --dry-run`
# cannot run here. Instead, for every Kubernetes environment, 47-logging.py reads the generated
# fluent-bit.yaml out of its ConfigMap and checks: every input, filter and output plugin and every
# property of it against Fluent Bit's own configuration schema (`fluent-bit --help-json`, vendored
# as schema/external/fluent-bit-schema.json); the service and parser keys against the ones Fluent
# Bit documents; that the DaemonSet runs the configuration file its ConfigMap holds; that each
# container of every generated Deployment and StatefulSet in the DEAAP namespaces has its log
# file (as the kubelet names it) tailed by exactly one input, and each input's records reach
# exactly one Kafka output. yamllint reads the extracted file. check-jsonschema validates the
# seed's sample log line against schema/log-format.schema.json and refuses broken lines. The
# objects themselves go through 10-kubernetes (kubernetes-validate, checkov) and 20-helm.
# Sourced by scripts/conformance.sh, which provides $ROOT, $TOOLS, $OUT, $BIN and check.

logging_collector() {
  local tree=$1 extracted
  [ -f "$tree/kubernetes/log-collector.yaml" ] || { echo "no kubernetes/log-collector.yaml"; return 1; }
  extracted=$(mktemp "$OUT/.fluent-bit-XXXXXX.yaml")
  "$TOOLS/venv/bin/python" "$ROOT/scripts/conformance.d/47-logging.py" \
    "$tree" "$ROOT/schema/external/fluent-bit-schema.json" "$extracted" || return 1
  "$TOOLS/venv/bin/yamllint" -d relaxed "$extracted"
}

logging_format() {
  local schema="$ROOT/schema/log-format.schema.json" sample="$ROOT/tests/fixtures/logging/sample.json"
  "$TOOLS/venv/bin/check-jsonschema" --schemafile "$schema" "$sample" || return 1
  local bad
  for edit in 'del line["message"]' 'line["level"] = "info"' 'line["timestamp"] = "2024-01-15T10:30:00Z"'; do
    bad=$(mktemp "$OUT/.log-line-XXXXXX.json")
    "$TOOLS/venv/bin/python" -c "import json, sys
line = json.load(open(sys.argv[1]))
$edit
json.dump(line, open(sys.argv[2], 'w'))" "$sample" "$bad" || return 1
    if "$TOOLS/venv/bin/check-jsonschema" --schemafile "$schema" "$bad" >/dev/null 2>&1; then
      echo "the log format accepts a line after: $edit"
      return 1
    fi
  done
}

for e in $(kube_envs); do
  if [ -f "$OUT/$e/kubernetes/log-collector.yaml" ]; then
    check "fluent-bit configuration $e" logging_collector "$OUT/$e"
  fi
done
check "log format: the seed's sample line, and three broken ones refused" logging_format
