# prometheus/: `promtool check rules` on the plain rules file, `promtool test rules` on the generated
# unit tests (each alert must fire past its threshold and stay silent short of it, with at least one
# test case per alert), and the PrometheusRule against prometheus-operator's CRD schema.
# shellcheck source=scripts/conformance.d/obs-trees.bash
. "$ROOT/scripts/conformance.d/obs-trees.bash"

# obs_promtool_tests DIR: promtool test rules passes, and every alert of rules.yaml has a test case.
obs_promtool_tests() {
  local alerts tested missing
  (cd "$1" && promtool test rules rules.test.yaml) || return 1
  alerts=$(sed -n 's/^  - alert: //p' "$1/rules.yaml" | sort -u)
  tested=$(sed -n 's/^    alertname: //p' "$1/rules.test.yaml" | sort -u)
  missing=$(comm -23 <(printf '%s\n' "$alerts") <(printf '%s\n' "$tested"))
  if [ -n "$missing" ]; then
    printf 'alerts without a test case: %s\n' "$missing"
    return 1
  fi
  printf '%s alerts, each tested\n' "$(printf '%s\n' "$alerts" | grep -c .)"
}

check "prometheus: the PrometheusRule schema rejects a broken object" \
  node "$ROOT/scripts/conformance.d/40-prometheus.mjs" --self-test
for tree in $(obs_trees); do
  obs_env=$(basename "$tree")
  check "prometheus: $obs_env promtool check rules" promtool check rules "$tree/prometheus/rules.yaml"
  check "prometheus: $obs_env promtool test rules (fires past, silent short of each threshold)" \
    obs_promtool_tests "$tree/prometheus"
  if [ -f "$tree/prometheus/prometheusrule.yaml" ]; then
    check "prometheus: $obs_env PrometheusRule valid (prometheus-operator schema)" \
      node "$ROOT/scripts/conformance.d/40-prometheus.mjs" "$tree/prometheus/prometheusrule.yaml" "$tree/prometheus/rules.yaml"
  fi
done
