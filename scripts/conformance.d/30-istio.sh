# Istio objects (Gateway, VirtualService, DestinationRule, PeerAuthentication) against the Istio CRD
# schemas in @kubernetes-models/istio, and the gateway's cert-manager Certificate against
# @kubernetes-models/cert-manager (installed here when missing).
# shellcheck source=scripts/conformance.d/obs-trees.bash
. "$ROOT/scripts/conformance.d/obs-trees.bash"

if [ ! -d "$NODE_PATH/@kubernetes-models/cert-manager" ]; then
  (cd "$TOOLS/node" && npm install --no-audit --no-fund @kubernetes-models/cert-manager) >>"$TOOLS/npm.log" 2>&1 ||
    log "npm install @kubernetes-models/cert-manager failed: see $TOOLS/npm.log"
fi

check "istio: the CRD schemas reject broken objects" node "$ROOT/scripts/conformance.d/30-istio.mjs" --self-test
for tree in $(obs_trees); do
  check "istio: $(basename "$tree") objects valid (Istio and cert-manager schemas)" \
    node "$ROOT/scripts/conformance.d/30-istio.mjs" "$tree"/istio/*.yaml
done
