# Tracing (istio/telemetry.yaml, helm/istiod-values.yaml, kubernetes/tracing-network-policies.yaml):
# each Telemetry against the telemetry.istio.io/v1 schema of @kubernetes-models/istio 3 (installed
# here beside the other Node validators, whose Istio models predate Telemetry v1), and the three
# files against each other and the model: every Telemetry names the mesh's extension provider at
# the environment's sampling rate, the provider points at the collector the model names, and the
# sidecars' egress reaches the collector's namespace on its port.
# shellcheck source=scripts/conformance.d/obs-trees.bash
. "$ROOT/scripts/conformance.d/obs-trees.bash"

TRACING_MODELS="$TOOLS/istio-models-3"
if [ ! -f "$TRACING_MODELS/node_modules/@kubernetes-models/istio/telemetry.istio.io/v1/Telemetry.js" ]; then
  mkdir -p "$TRACING_MODELS"
  (cd "$TRACING_MODELS" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install --no-audit --no-fund @kubernetes-models/istio@3.0.1) >>"$TOOLS/npm.log" 2>&1 ||
    log "npm install @kubernetes-models/istio@3.0.1 failed: see $TOOLS/npm.log"
fi

check "tracing: the Telemetry schema rejects a broken object" \
  env NODE_PATH="$TRACING_MODELS/node_modules:$NODE_PATH" node "$ROOT/scripts/conformance.d/35-tracing.mjs" --self-test
for tree in $(obs_trees); do
  [ -f "$tree/istio/telemetry.yaml" ] || continue
  obs_env=$(basename "$tree")
  # The model's [tracing] table, after `extends` layering, as JSON.
  tracing_model=$("$TOOLS/venv/bin/python" -c 'import json, sys
sys.path.insert(0, sys.argv[1])
from alertmanager_conformance import load_env
print(json.dumps(load_env(sys.argv[2]).get("tracing")))' "$ROOT/scripts/conformance.d" "$ROOT/environments/$obs_env.toml")
  check "tracing: $obs_env Telemetry valid (Istio schema), provider and egress match the model" \
    env NODE_PATH="$TRACING_MODELS/node_modules:$NODE_PATH" node "$ROOT/scripts/conformance.d/35-tracing.mjs" \
    "$tree" "$tracing_model"
done
