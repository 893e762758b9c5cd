DRY_RUN=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      printf 'health-check.sh: unknown argument %s\n' "$1" >&2
      usage >&2
      exit 2
      ;;
  esac
  shift
done

TIMEOUT=${HEALTH_CHECK_TIMEOUT:-10}
CHECKS=0
FAILED=()

# show COMMAND...: prints the command as it would be typed.
show() {
  local out="" word
  for word in "$@"; do
    case "$word" in
      '' | *[!A-Za-z0-9_./:=@%+,-]*) out+="'${word//\'/\'\\\'\'}' " ;;
      *) out+="$word " ;;
    esac
  done
  printf '%s\n' "${out% }"
}

# bounded COMMAND...: runs the command for at most $TIMEOUT seconds (where `timeout` exists).
bounded() {
  if command -v timeout >/dev/null 2>&1; then
    timeout "$TIMEOUT" "$@"
  else
    "$@"
  fi
}

# result NAME STATUS: records the outcome of one check.
result() {
  CHECKS=$((CHECKS + 1))
  if [ "$2" -eq 0 ]; then
    printf 'ok    %s\n' "$1"
  else
    printf 'FAIL  %s\n' "$1"
    FAILED+=("$1")
  fi
}

# pods_check NAMESPACE: every pod of the namespace runs (or has completed).
pods_check() {
  local cmd=(kubectl get pods --namespace "$1"
    '--field-selector=status.phase!=Running,status.phase!=Succeeded' --output=name)
  if [ "$DRY_RUN" -eq 1 ]; then
    show "${cmd[@]}"
    return 0
  fi
  local out="" rc=0
  out=$(bounded "${cmd[@]}" 2>/dev/null) || rc=$?
  if [ "$rc" -eq 0 ] && [ -n "$out" ]; then
    printf '%s\n' "$out" | sed 's/^/      not running: /'
    rc=1
  fi
  result "pods of $1" "$rc"
}

# exec_check NAME NAMESPACE SERVICE CONTAINER -- COMMAND...: COMMAND succeeds in CONTAINER of a
# pod behind SERVICE.
exec_check() {
  local name=$1 namespace=$2 service=$3 container=$4
  shift 5
  local cmd=(kubectl exec --namespace "$namespace" "service/$service" --container "$container" -- "$@")
  if [ "$DRY_RUN" -eq 1 ]; then
    show "${cmd[@]}"
    return 0
  fi
  local rc=0
  bounded "${cmd[@]}" >/dev/null 2>&1 || rc=$?
  result "$name" "$rc"
}

# http_check NAME NAMESPACE SERVICE PORT PATH [BODY EXPECT]: a GET of PATH on SERVICE:PORT (a POST
# of the JSON BODY, whose answer must contain EXPECT) answers with a 2xx status. The request goes
# through `kubectl port-forward`, which reaches the pod from its own network namespace: neither
# the NetworkPolicies nor the mesh's mutual TLS stand in its way.
http_check() {
  local name=$1 namespace=$2 service=$3 port=$4 path=$5 body=${6:-} expect=${7:-}
  local forward=(kubectl port-forward --namespace "$namespace" "service/$service" ":$port")
  local request=(curl --fail --silent --show-error --max-time "$TIMEOUT")
  if [ -n "$body" ]; then
    request+=(--header 'Content-Type: application/json' --data "$body")
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    show "${forward[@]}"
    show "${request[@]}" "http://127.0.0.1:LOCAL_PORT$path"
    return 0
  fi
  local log pid local_port="" tries=0 rc=0 answer=""
  log=$(mktemp)
  "${forward[@]}" >"$log" 2>&1 &
  pid=$!
  while [ -z "$local_port" ] && [ "$tries" -lt 100 ] && kill -0 "$pid" 2>/dev/null; do
    local_port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$log" | head -n 1)
    if [ -z "$local_port" ]; then
      sleep 0.1
      tries=$((tries + 1))
    fi
  done
  if [ -z "$local_port" ]; then
    rc=1
  else
    answer=$("${request[@]}" "http://127.0.0.1:$local_port$path" 2>/dev/null) || rc=$?
    if [ "$rc" -eq 0 ] && [ -n "$expect" ] && [[ "$answer" != *"$expect"* ]]; then
      rc=1
    fi
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
  result "$name" "$rc"
}

if [ "$DRY_RUN" -eq 1 ]; then
  echo "# health-check.sh --dry-run: the commands each check runs"
fi
