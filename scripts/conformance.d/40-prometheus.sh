# prometheus/: `promtool check rules` on the plain rules file, `promtool test rules` on the generated
# unit tests (each alert must fire past its threshold and stay silent short of it, with at least one
# test case per alert), and the PrometheusRule against prometheus-operator's CRD schema.
# shellcheck source=scripts/conformance.d/obs-trees.bash
. "$ROOT/scripts/conformance.d/obs-trees.bash"

# obs_promtool_tests DIR [RULES TESTS]: promtool test rules passes, and every alert of the rules
# file (rules.yaml) has a test case in the test file (rules.test.yaml).
obs_promtool_tests() {
  local alerts tested missing rules=${2:-rules.yaml} tests=${3:-rules.test.yaml}
  (cd "$1" && promtool test rules "$tests") || return 1
  alerts=$(sed -n 's/^  - alert: //p' "$1/$rules" | sort -u)
  tested=$(sed -n 's/^    alertname: //p' "$1/$tests" | sort -u)
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

# The performance targets' SLOs (slo-rules.yaml): recording rules and burn-rate alerts pass
# `promtool check rules`, their unit tests pass (the page alert fires on a burst of errors after a
# good day and the ticket alert does not; the ticket alert fires on a steady burn at twice the
# budget and the page alert does not; both stay silent within the budget), every SLO alert has a
# test case, and the `deaap-slo` PrometheusRule holds the same groups.
for tree in $(obs_trees); do
  [ -f "$tree/prometheus/slo-rules.yaml" ] || continue
  obs_env=$(basename "$tree")
  check "prometheus: $obs_env promtool check rules (SLO recording rules and burn-rate alerts)" \
    promtool check rules "$tree/prometheus/slo-rules.yaml"
  check "prometheus: $obs_env promtool test rules (page on a fast burn, ticket on a slow one)" \
    obs_promtool_tests "$tree/prometheus" slo-rules.yaml slo-rules.test.yaml
  if [ -f "$tree/prometheus/slo-prometheusrule.yaml" ]; then
    check "prometheus: $obs_env SLO PrometheusRule valid (prometheus-operator schema)" \
      node "$ROOT/scripts/conformance.d/40-prometheus.mjs" "$tree/prometheus/slo-prometheusrule.yaml" "$tree/prometheus/slo-rules.yaml"
  fi
done
