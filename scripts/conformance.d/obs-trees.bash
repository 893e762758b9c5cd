# Shared by the helm, istio and prometheus fragments (sourced, not run by the driver): the output
# trees they check. Those are the Kubernetes environments the driver built, plus three fixtures: the
# minimal environment (every optional feature off), prometheus-signals (every alert signal in
# both directions, thresholds around zero, label values that need escaping, gateway TLS off) and
# observability (every workload kind scraped on its own port in a STRICT mesh, an HPA on a Pods
# metric served by prometheus-adapter). They
# are built once per run into a hidden folder of $OUT, so the driver's clean-up removes them and
# other fragments' `kube_envs` do not see them.
if [ -z "${OBS_FIXTURE_OUT:-}" ]; then
  OBS_FIXTURE_OUT="$OUT/.fixtures"
  mkdir -p "$OBS_FIXTURE_OUT"
  "$BIN" build "$ROOT/tests/fixtures/minimal.toml" "$ROOT/tests/fixtures/prometheus-signals.toml" \
    "$ROOT/tests/fixtures/observability.toml" -o "$OBS_FIXTURE_OUT" >/dev/null 2>&1 ||
    log "deaap-gen build of tests/fixtures/{minimal,prometheus-signals,observability}.toml failed"
fi

# obs_trees: one output folder per line: every built environment that has these targets' folders
# (they apply exactly to Kubernetes environments).
obs_trees() {
  local d
  for d in "$OUT"/*/ "$OBS_FIXTURE_OUT"/*/; do
    [ -d "$d/helm" ] || [ -d "$d/istio" ] || [ -d "$d/prometheus" ] || continue
    printf '%s\n' "${d%/}"
  done
}
