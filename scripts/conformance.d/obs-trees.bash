# Shared by the helm, istio and prometheus fragments (sourced, not run by the driver): the output
# trees they check. Those are the Kubernetes environments the driver built, plus the minimal fixture
# (every optional feature off), built once per run into a hidden folder of $OUT so the driver's
# clean-up removes it and other fragments' `kube_envs` do not see it.
if [ -z "${OBS_FIXTURE_OUT:-}" ]; then
  OBS_FIXTURE_OUT="$OUT/.fixtures"
  mkdir -p "$OBS_FIXTURE_OUT"
  "$BIN" build "$ROOT/tests/fixtures/minimal.toml" -o "$OBS_FIXTURE_OUT" >/dev/null 2>&1 ||
    log "deaap-gen build tests/fixtures/minimal.toml failed"
fi

# obs_trees: one output folder per line.
obs_trees() {
  local e d
  for e in $(kube_envs); do printf '%s\n' "$OUT/$e"; done
  for d in "$OBS_FIXTURE_OUT"/*/; do
    [ -d "$d/kubernetes" ] || [ -d "$d/helm" ] || continue
    printf '%s\n' "${d%/}"
  done
}
