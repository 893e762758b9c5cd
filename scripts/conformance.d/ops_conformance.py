#!/usr/bin/env python3
"""The operations scripts and the backup and restore commands of a generated environment, checked
against the generated Kubernetes objects they act on, with no cluster.

Usage: ops_conformance.py COMMAND TREE [OUT]
  commands  TREE OUT  write the bash of every backup and restore container (backup/*.yaml whose
                      command is `/bin/bash -c SCRIPT`) to OUT/<file>-<object>-<n>.sh, for shellcheck
  health    TREE      `ops/health-check.sh --dry-run` names the pods of every namespace with
                      workloads and, for every Deployment's Service, a port forward to its port
  scale     TREE      `ops/scale-services.sh --dry-run` patches each HorizontalPodAutoscaler in its
                      namespace up to the embedded ceiling, refuses one more, refuses an unknown
                      service and a Deployment without an autoscaler
  drill     TREE      the data volume's backup command then its restore command, taken out of the
                      CronJob and the restore Job with only the directory rewritten, against a
                      stand-in `aws` that keeps the bucket in a folder: what comes back is what was
                      archived; a non-empty volume is refused; archives past the retention go
"""

import os
import pathlib
import re
import shutil
import stat
import subprocess
import sys
import tempfile

import yaml


def objects(tree, folder):
    out = []
    for path in sorted(pathlib.Path(tree, folder).glob("*.yaml")):
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if isinstance(doc, dict) and "kind" in doc:
                    out.append((path.name, doc))
    return out


def pod_spec(obj):
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec.get("template", {}).get("spec", {})


def bash_containers(tree):
    """(file, object, container) of every container running `/bin/bash -c SCRIPT`."""
    for name, obj in objects(tree, "backup"):
        for c in pod_spec(obj).get("containers", []):
            cmd = c.get("command") or []
            if len(cmd) == 3 and cmd[:2] == ["/bin/bash", "-c"]:
                yield name, obj, c


def commands(tree, out):
    n = 0
    for name, obj, c in bash_containers(tree):
        n += 1
        path = pathlib.Path(out, f"{name[:-5]}-{obj['metadata']['name']}-{n}.sh")
        path.write_text("#!/usr/bin/env bash\n" + c["command"][2], encoding="utf-8")
    if n == 0:
        sys.exit("no backup or restore command found")


def run(tree, script, *args, env=None):
    return subprocess.run(
        ["bash", str(pathlib.Path(tree, "ops", script)), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def fail(problems):
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


def health(tree):
    r = run(tree, "health-check.sh", "--dry-run")
    if r.returncode != 0:
        sys.exit(f"--dry-run exited {r.returncode}: {r.stderr}")
    lines = set(r.stdout.splitlines())
    problems = []
    workloads = [
        o for _, o in objects(tree, "kubernetes") if o["kind"] in ("Deployment", "StatefulSet")
    ]
    for ns in sorted({o["metadata"]["namespace"] for o in workloads}):
        if not any(l.startswith(f"kubectl get pods --namespace {ns} ") for l in lines):
            problems.append(f"no pods check of namespace {ns}")
    for _, svc in objects(tree, "kubernetes"):
        name = svc["metadata"]["name"]
        if svc["kind"] != "Service" or not name.endswith("-service"):
            continue
        port = svc["spec"]["ports"][0]["port"]
        ns = svc["metadata"]["namespace"]
        want = f"kubectl port-forward --namespace {ns} service/{name} :{port}"
        if want not in lines:
            problems.append(f"no check of Service {ns}/{name}: {want}")
    fail(problems)


def scale(tree):
    text = pathlib.Path(tree, "ops", "scale-services.sh").read_text(encoding="utf-8")
    facts = dict(
        (m[0], (m[1], m[2].strip("'"), m[3].strip("'")))
        for m in re.findall(r"^    ([a-z0-9-]+)\) NAMESPACE=(\S+) HPA=(\S+) CEILING=(\S+) ;;$", text, re.M)
    )
    problems = []
    hpas = [o for _, o in objects(tree, "kubernetes") if o["kind"] == "HorizontalPodAutoscaler"]
    for hpa in hpas:
        name, ns = hpa["metadata"]["name"], hpa["metadata"]["namespace"]
        if name not in facts:
            problems.append(f"{name}: not in the script")
            continue
        fns, fhpa, ceiling = facts[name]
        if (fns, fhpa) != (ns, name):
            problems.append(f"{name}: the script says {fns}/{fhpa}")
        low = hpa["spec"]["minReplicas"]
        top = int(ceiling) if ceiling else hpa["spec"]["maxReplicas"]
        r = run(tree, "scale-services.sh", "--dry-run", name, str(min(low, top)), str(top))
        want = f"kubectl patch horizontalpodautoscaler {name} --namespace {ns} --type merge"
        if r.returncode != 0 or not r.stdout.startswith(want):
            problems.append(f"{name} {low} {top}: {r.returncode} {r.stdout}{r.stderr}")
        if ceiling:
            r = run(tree, "scale-services.sh", "--dry-run", name, str(low), str(top + 1))
            if r.returncode != 2 or r.stdout or "ResourceQuota" not in r.stderr:
                problems.append(f"{name} above the quota ({top + 1}) not refused: {r.stdout}{r.stderr}")
    for _, d in objects(tree, "kubernetes"):
        if d["kind"] == "Deployment" and d["metadata"]["name"] not in {h["metadata"]["name"] for h in hpas}:
            r = run(tree, "scale-services.sh", "--dry-run", d["metadata"]["name"], "1", "2")
            if r.returncode != 2 or "no HorizontalPodAutoscaler" not in r.stderr:
                problems.append(f"{d['metadata']['name']} has no autoscaler but was not refused")
    r = run(tree, "scale-services.sh", "--dry-run", "no-such-service", "1", "2")
    if r.returncode != 2 or "unknown service" not in r.stderr:
        problems.append(f"an unknown service was not refused: {r.stderr}")
    if not hpas:
        problems.append("no HorizontalPodAutoscaler to scale")
    fail(problems)


FAKE_AWS = r"""#!/usr/bin/env bash
# A stand-in for the AWS CLI's `s3 cp`, `s3 ls` and `s3 rm`: the bucket is a folder.
set -euo pipefail
at() { printf '%s/%s' "$FAKE_BUCKET" "${1#s3://}"; }
[ "$1" = s3 ] || exit 2
case "$2" in
  cp)
    if [ "$3" = - ]; then mkdir -p "$(dirname "$(at "$4")")"; cat >"$(at "$4")"
    else cat "$(at "$3")"; fi ;;
  ls)
    dir=$(at "$3")
    [ -d "$dir" ] || exit 1
    for f in "$dir"*; do
      [ -f "$f" ] && printf '2024-01-01 00:00:00 %s %s\n' "$(wc -c <"$f")" "$(basename "$f")"
    done ;;
  rm) rm "$(at "$3")" ;;
  *) exit 2 ;;
esac
"""


def env_of(container):
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def drill(tree):
    found = {}
    for _, obj, c in bash_containers(tree):
        env = env_of(c)
        if env.get("S3_PREFIX", "").endswith("/data"):
            found["restore" if "RESTORE_KEY" in env else "backup"] = c
    if set(found) != {"backup", "restore"}:
        sys.exit(f"no data backup and restore pair in {tree}/backup: {sorted(found)}")
    mount = next(
        m["mountPath"] for m in found["backup"]["volumeMounts"] if m["name"] == "data"
    )
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        bin_dir, bucket, src, dst, secrets = (tmp / d for d in ("bin", "bucket", "src", "dst", "secrets"))
        for d in (bin_dir, bucket, src, dst, secrets):
            d.mkdir()
        aws = bin_dir / "aws"
        aws.write_text(FAKE_AWS, encoding="utf-8")
        aws.chmod(aws.stat().st_mode | stat.S_IEXEC)
        (src / "docs").mkdir()
        (src / "docs" / "a.pdf").write_bytes(os.urandom(4096))
        (src / "index.json").write_text('{"n": 1}\n', encoding="utf-8")
        (src / "lost+found").mkdir()

        def run_command(container, directory, extra):
            env = {
                "PATH": f"{bin_dir}:{os.environ['PATH']}",
                "FAKE_BUCKET": str(bucket),
                **env_of(container),
                **extra,
            }
            for k in list(env):
                if k.endswith("_FILE"):
                    path = secrets / k
                    path.write_text("not-a-real-credential", encoding="utf-8")
                    env[k] = str(path)
            script = container["command"][2].replace(mount, str(directory))
            return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=False)

        prefix = env_of(found["backup"])["S3_PREFIX"]
        stale = bucket / env_of(found["backup"])["S3_BUCKET"] / prefix / "20000101T000000Z.tar"
        stale.parent.mkdir(parents=True)
        stale.write_bytes(b"")
        r = run_command(found["backup"], src, {})
        if r.returncode != 0:
            problems.append(f"backup failed: {r.stdout}{r.stderr}")
        if stale.exists():
            problems.append("an archive older than the retention was kept")
        r = run_command(found["restore"], dst, {})
        if r.returncode != 0:
            problems.append(f"restore failed: {r.stdout}{r.stderr}")
        shutil.rmtree(src / "lost+found")
        diff = subprocess.run(["diff", "-r", str(src), str(dst)], capture_output=True, text=True, check=False)
        if diff.returncode != 0:
            problems.append(f"restored data differs: {diff.stdout}{diff.stderr}")
        r = run_command(found["restore"], dst, {})
        if r.returncode == 0 or "not empty" not in r.stderr:
            problems.append(f"a restore into a volume holding data was not refused: {r.stderr}")
        r = run_command(found["restore"], dst, {"RESTORE_OVERWRITE": "true"})
        if r.returncode != 0:
            problems.append(f"a restore with RESTORE_OVERWRITE=true failed: {r.stderr}")
    fail(problems)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    command, tree = sys.argv[1], sys.argv[2]
    if command == "commands" and len(sys.argv) == 4:
        commands(tree, sys.argv[3])
    elif command == "health":
        health(tree)
    elif command == "scale":
        scale(tree)
    elif command == "drill":
        drill(tree)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
