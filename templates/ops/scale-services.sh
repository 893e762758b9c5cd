DRY_RUN=0
ARGS=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      printf 'scale-services.sh: unknown option %s\n' "$1" >&2
      usage >&2
      exit 2
      ;;
    *) ARGS+=("$1") ;;
  esac
  shift
done
if [ "${#ARGS[@]}" -ne 3 ]; then
  usage >&2
  exit 2
fi
SERVICE=${ARGS[0]}
MIN=${ARGS[1]}
MAX=${ARGS[2]}

# refuse MESSAGE: nothing was changed.
refuse() {
  printf 'scale-services.sh: %s\n' "$1" >&2
  exit 2
}

if ! facts "$SERVICE"; then
  refuse "unknown service $SERVICE; the services are: $SERVICES"
fi
for n in "$MIN" "$MAX"; do
  case "$n" in
    '' | *[!0-9]*) refuse "MIN and MAX are whole numbers, not $n" ;;
  esac
done
MIN=$((10#$MIN))
MAX=$((10#$MAX))
if [ "$MIN" -lt 1 ] || [ "$MIN" -gt "$MAX" ]; then
  refuse "MIN must be at least 1 and at most MAX (got $MIN and $MAX)"
fi
if [ -z "$HPA" ]; then
  refuse "$SERVICE has no HorizontalPodAutoscaler: it runs a fixed number of replicas, set by services.$SERVICE.replicas in the environment file"
fi
if [ -n "$CEILING" ] && [ "$MAX" -gt "$CEILING" ]; then
  refuse "the ResourceQuota of $NAMESPACE holds at most $CEILING replicas of $SERVICE (every other workload at its starting count, the backup jobs running); asked for $MAX. Raise the namespace's quota in the environment file first"
fi

PATCH="{\"spec\":{\"minReplicas\":$MIN,\"maxReplicas\":$MAX}}"
CMD=(kubectl patch horizontalpodautoscaler "$HPA" --namespace "$NAMESPACE" --type merge --patch "$PATCH")
if [ "$DRY_RUN" -eq 1 ]; then
  printf "kubectl patch horizontalpodautoscaler %s --namespace %s --type merge --patch '%s'\n" \
    "$HPA" "$NAMESPACE" "$PATCH"
  exit 0
fi
"${CMD[@]}"
kubectl get horizontalpodautoscaler "$HPA" --namespace "$NAMESPACE"
