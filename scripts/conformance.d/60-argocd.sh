# shellcheck shell=bash
# The Argo CD plugin as argocd-cmp-server runs it: `deaap-gen argocd generate` in a copy of the
# repository with only Argo CD's variables set. Its stream must equal the built tree's Kubernetes
# objects and pass kubernetes-validate; the shipped plugin files must be what Argo CD and kubectl
# accept.

argocd_generate_matches() {
  local env=$1 work rc
  work=$(mktemp -d)
  cp -R "$ROOT/environments" "$work/environments"
  (cd "$work" && env -i PATH="$PATH" ARGOCD_APP_NAME="deaap-$env" ARGOCD_APP_NAMESPACE=deaap \
    ARGOCD_APP_REVISION=0000000000000000000000000000000000000000 KUBE_VERSION=1.33.0 \
    KUBE_API_VERSIONS=apps/v1,v1 \
    ARGOCD_APP_PARAMETERS="[{\"name\":\"environment\",\"string\":\"$env\"}]" \
    "$BIN" argocd generate </dev/null >"$work/stream.yaml" 2>"$work/stderr")
  rc=$?
  "$TOOLS/venv/bin/python" "$ROOT/scripts/conformance.d/argocd_stream.py" \
    "$work/stream.yaml" "$work/stderr" "$rc" "$OUT/$env"
  rc=$?
  rm -rf "$work"
  return "$rc"
}

argocd_refuses_broken() {
  local work out rc
  work=$(mktemp -d)
  cp -R "$ROOT/environments" "$work/environments"
  printf '\n[services.doc-ingester.bogus\n' >>"$work/environments/production.toml"
  out=$(cd "$work" && env -i PATH="$PATH" PARAM_ENVIRONMENT=production "$BIN" argocd generate 2>/dev/null </dev/null)
  rc=$?
  rm -rf "$work"
  [ "$rc" -ne 0 ] && [ -z "$out" ]
}

argocd_plugin_files() {
  local dir=$ROOT/deploy/argocd work
  work=$(mktemp -d)
  # The ConfigMap kustomize generates carries plugin.yaml byte for byte.
  kubectl kustomize "$dir" >"$work/configmap.yaml" || return 1
  "$TOOLS/venv/bin/python" - "$work/configmap.yaml" "$dir/plugin.yaml" <<'PY' || return 1
import sys, yaml
cm = yaml.safe_load(open(sys.argv[1]))
assert cm["kind"] == "ConfigMap" and cm["metadata"]["namespace"] == "argocd", cm
assert cm["data"]["plugin.yaml"] == open(sys.argv[2]).read(), "ConfigMap differs from plugin.yaml"
PY
  # The sidecar patch applied to a stock-shaped argocd-repo-server Deployment is a valid Deployment.
  cat >"$work/repo-server.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: argocd-repo-server, namespace: argocd}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: argocd-repo-server}}
  template:
    metadata: {labels: {app.kubernetes.io/name: argocd-repo-server}}
    spec:
      containers:
        - name: argocd-repo-server
          image: quay.io/argoproj/argocd:v3.1.0
          volumeMounts: [{name: var-files, mountPath: /var/run/argocd}, {name: plugins, mountPath: /home/argocd/cmp-server/plugins}]
      volumes: [{name: var-files, emptyDir: {}}, {name: plugins, emptyDir: {}}]
YAML
  kubectl patch --local --type strategic -f "$work/repo-server.yaml" \
    --patch-file "$dir/repo-server-patch.yaml" -o yaml >"$work/patched.yaml" || return 1
  kubernetes-validate --strict -k 1.33.0 "$work/patched.yaml" "$work/configmap.yaml" || return 1
  yamllint -d relaxed --no-warnings "$dir"/*.yaml || return 1
  rm -rf "$work"
}

for env_dir in "$OUT"/*/; do
  env_name=$(basename "$env_dir")
  check "argocd generate $env_name: the tree's objects, kubernetes-validate --strict" argocd_generate_matches "$env_name"
done
check "argocd generate: a broken environment exits non-zero with empty stdout" argocd_refuses_broken
check "argocd plugin files: ConfigMap from plugin.yaml, patched repo-server valid, yamllint" argocd_plugin_files
