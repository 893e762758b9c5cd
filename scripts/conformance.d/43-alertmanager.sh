# alertmanager/: `amtool check-config` on each environment's configuration; the same document as
# kube-prometheus-stack's `alertmanager.config`; `amtool config routes test` for every alert of the
# generated rules, which must reach the receiver the model's routes name (computed from the
# environment file, not from the generated configuration); and a real Alertmanager on loopback,
# which must inhibit exactly the dependents' latency alerts while a workload's `up` alert fires.
# The receivers' credential files (`*_file` under /etc/alertmanager/secrets/) need not exist:
# check-config does not read them, and the test Alertmanager never notifies (its receivers are
# unreachable from here, and no group waits long enough to send).
if ! command -v amtool >/dev/null 2>&1 || ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  log "installing amtool and Alertmanager (Debian prometheus-alertmanager)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager; } >>"$TOOLS/apt.log" 2>&1 ||
    log "apt-get install prometheus-alertmanager failed: see $TOOLS/apt.log"
fi

for am_tree in "$OUT"/*/; do
  am_tree=${am_tree%/}
  [ -f "$am_tree/alertmanager/alertmanager.yaml" ] || continue
  am_env=$(basename "$am_tree")
  check "alertmanager: $am_env amtool check-config" amtool check-config "$am_tree/alertmanager/alertmanager.yaml"
  check "alertmanager: $am_env every alert reaches the receiver the model routes it to (amtool)" \
    "$TOOLS/venv/bin/python" "$ROOT/scripts/conformance.d/alertmanager_conformance.py" routes \
    "$ROOT/environments/$am_env.toml" "$am_tree"
  check "alertmanager: $am_env a down workload inhibits its dependents' latency alerts (Alertmanager)" \
    "$TOOLS/venv/bin/python" "$ROOT/scripts/conformance.d/alertmanager_conformance.py" inhibit \
    "$ROOT/environments/$am_env.toml" "$am_tree"
done
