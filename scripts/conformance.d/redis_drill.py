#!/usr/bin/env python3
"""Drills of the generated Redis artifacts on loopback, with real redis-server processes.

    redis_drill.py failover TREE STORE WORK   a Sentinel set: failover, rejoin, backup, restore
    redis_drill.py backup TREE STORE WORK     a single server: backup, wipe, restore

TREE is a built environment (generated/<env>), STORE the Redis store's name, WORK an empty
scratch folder. The drills run what deaap-gen generated (the ConfigMap's redis.conf,
sentinel.conf and start.sh, the StatefulSet's commands, the backup CronJob's command, the restore
Job's steps) with only hosts, ports and paths changed: pod i's DNS name becomes the loopback
address 127.0.0.<11+i>, ports 6379 and 26379 become free ones, /data, /tmp, /config, /etc/redis
and /backup become folders in WORK, and the upload to the bucket becomes a copy into WORK.

Every process it starts is written to WORK/pids (one PID a line) and stopped by PID when it ends,
however it ends; the caller's trap stops what is left. What was proved, with timings, goes to
stdout and to WORK/report.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import yaml

STARTED = []
WORK = ""
REPORT = []


def say(line):
    REPORT.append(line)
    print(line, flush=True)


def fail(message):
    raise SystemExit(f"FAILED: {message}")


# ── processes ─────────────────────────────────────────────────────────────────────────────────


def spawn(argv, log, env=None):
    with open(log, "ab") as out:
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    STARTED.append(p)
    with open(os.path.join(WORK, "pids"), "a", encoding="utf-8") as f:
        f.write(f"{p.pid}\n")
    return p


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def stop_all(*_):
    for p in STARTED:
        stop(p)


def run(script, env, log, timeout=60):
    """Runs a generated shell script with sh, as its container does."""
    with open(log, "ab") as out:
        r = subprocess.run(["sh", "-c", script], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if r.returncode != 0:
        with open(log, encoding="utf-8", errors="replace") as f:
            fail(f"script exited {r.returncode}:\n{script}\n--- output ---\n{f.read()[-3000:]}")


# ── a minimal RESP client ─────────────────────────────────────────────────────────────────────


class RespError(Exception):
    pass


class Redis:
    def __init__(self, host, port, timeout=3.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, *commands):
        out = bytearray()
        for cmd in commands:
            out += b"*%d\r\n" % len(cmd)
            for a in cmd:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return [self.reply() for _ in commands]

    def call(self, *args):
        r = self.send(args)[0]
        if isinstance(r, RespError):
            raise r
        return r

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ConnectionError(f"unexpected reply {line!r}")


def try_call(host, port, *args):
    try:
        c = Redis(host, port, timeout=1.0)
        try:
            return c.call(*args)
        finally:
            c.close()
    except (OSError, ConnectionError, RespError):
        return None


def wait_for(what, predicate, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = predicate()
        if v:
            return v
        time.sleep(0.1)
    fail(f"timed out after {seconds}s waiting for {what}")


def info(host, port, section="replication"):
    raw = try_call(host, port, "INFO", section)
    if raw is None:
        return {}
    out = {}
    for line in raw.decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


# ── the generated files ───────────────────────────────────────────────────────────────────────


def documents(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    if len(found) != 1:
        fail(f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0]


def container(pod_spec, name, field="containers"):
    for c in pod_spec.get(field) or []:
        if c["name"] == name:
            return c
    fail(f"no container {name} in {field}")


def script_of(c):
    cmd = c["command"]
    if cmd[:2] != ["sh", "-c"]:
        fail(f"container {c['name']} runs {cmd}, not a shell command")
    return cmd[2]


def plain_env(c):
    return {e["name"]: e["value"] for e in c.get("env") or [] if "value" in e}


def backup_job(tree, store):
    """The backup CronJob whose BACKUP_SOURCE is the store, and its container."""
    for d in documents(os.path.join(tree, "backup", "cronjobs.yaml")):
        if d["kind"] != "CronJob":
            continue
        c = d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        if plain_env(c).get("BACKUP_SOURCE") == store:
            return d["metadata"]["name"], c
    fail(f"no backup CronJob of {store}")


class Rewrite:
    """Hosts, ports and paths of the generated text, mapped to the drill's."""

    def __init__(self, hosts=None, ports=None, paths=None):
        self.hosts = dict(hosts or {})
        self.ports = dict(ports or {})
        self.paths = dict(paths or {})

    def __call__(self, text):
        for old, new in self.ports.items():
            text = re.sub(rf"(?<![0-9]){old}(?![0-9])", str(new), text)
        table = {**self.hosts, **self.paths}
        if not table:
            return text
        # One pass, longest first, so nothing replaced is replaced again; a path only where it
        # stands as a whole path (`/tmp`, `/tmp/x`, not `/var/tmp`).
        alternatives = [
            rf"(?<![\w./-]){re.escape(k)}(?![\w-])" if k in self.paths else re.escape(k)
            for k in sorted(table, key=len, reverse=True)
        ]
        return re.sub("|".join(alternatives), lambda m: table[m.group(0)], text)


def free_port(ips):
    for _ in range(50):
        s = socket.socket()
        s.bind((ips[0], 0))
        port = s.getsockname()[1]
        s.close()
        ok = True
        for ip in ips:
            t = socket.socket()
            try:
                t.bind((ip, port))
            except OSError:
                ok = False
            finally:
                t.close()
        if ok:
            return port
    fail("no free port")


def upload_to_copy(text, bucket):
    """The upload to the bucket, as a copy into a local folder."""
    return text.replace("aws s3 cp", "cp").replace("s3://$S3_BUCKET", bucket)


def credentials(c, folder):
    """The container's plain variables, with each `<NAME>_FILE` pointing at a stand-in file."""
    env = dict(os.environ)
    env.update(plain_env(c))
    for e in c.get("env") or []:
        if e["name"].endswith("_FILE"):
            path = os.path.join(folder, e["name"])
            with open(path, "w", encoding="utf-8") as f:
                f.write("drill-only-not-a-credential")
            env[e["name"]] = path
    return env


# ── sample data ───────────────────────────────────────────────────────────────────────────────


def sample_commands(prefix, n):
    """n keys of three types: strings, hashes and lists."""
    for i in range(n):
        k = f"{prefix}:{i}"
        if i % 3 == 0:
            yield ("SET", f"{k}:s", f"value-{i}-" + "x" * (i % 50))
        elif i % 3 == 1:
            yield ("HSET", f"{k}:h", "id", str(i), "name", f"n{i}", "blob", "y" * (i % 40))
        else:
            yield ("RPUSH", f"{k}:l", *[f"e{i}-{j}" for j in range(1 + i % 7)])


def value(c, key):
    t = c.call("TYPE", key)
    if t == "string":
        return ("string", c.call("GET", key))
    if t == "hash":
        flat = c.call("HGETALL", key)
        return ("hash", tuple(sorted(zip(flat[::2], flat[1::2]))))
    if t == "list":
        return ("list", tuple(c.call("LRANGE", key, 0, -1)))
    if t == "none":
        return None
    return (t, None)


def snapshot(host, port):
    c = Redis(host, port, timeout=10)
    try:
        keys = []
        cursor = b"0"
        while True:
            cursor, batch = c.call("SCAN", cursor, "COUNT", 1000)
            keys.extend(batch)
            if cursor == b"0":
                break
        return {k: value(c, k) for k in keys}
    finally:
        c.close()


def load(host, port, prefix, n):
    c = Redis(host, port, timeout=10)
    try:
        cmds = list(sample_commands(prefix, n))
        for i in range(0, len(cmds), 500):
            for r in c.send(*cmds[i : i + 500]):
                if isinstance(r, RespError):
                    fail(f"loading sample keys: {r}")
    finally:
        c.close()


def same(expected, host, port, what):
    got = snapshot(host, port)
    if len(got) != len(expected):
        fail(f"{what}: {len(got)} keys, expected {len(expected)}")
    wrong = [k for k, v in expected.items() if got.get(k) != v]
    if wrong:
        fail(f"{what}: {len(wrong)} keys differ, e.g. {wrong[:3]}")
    return len(got)


# ── the backup and the restore ────────────────────────────────────────────────────────────────


def backup_and_restore(tree, store, work, source_hosts, ports, expected, label, start_server):
    """Runs the generated backup command against the live source, then the restore Job's steps
    into an empty volume, then `start_server(data)` (the store's own start), and compares."""
    job, c = backup_job(tree, store)
    bucket = os.path.join(work, "bucket")
    dumps = os.path.join(work, "backup")
    os.makedirs(os.path.join(bucket, store), exist_ok=True)
    os.makedirs(dumps, exist_ok=True)
    rw = Rewrite(hosts=source_hosts, ports=ports, paths={"/backup": dumps})
    script = upload_to_copy(rw(script_of(c)), bucket)
    t0 = time.monotonic()
    run(script, credentials(c, work), os.path.join(work, "backup.log"))
    t_backup = time.monotonic() - t0
    uploaded = sorted(os.listdir(os.path.join(bucket, store)))
    if "latest.rdb" not in uploaded or len(uploaded) != 2:
        fail(f"the backup uploaded {uploaded}, expected a timestamped dump and latest.rdb")

    restore_docs = documents(os.path.join(tree, "backup", f"restore-{store}.yaml"))
    rjob = one(restore_docs, "Job")
    spec = rjob["spec"]["template"]["spec"]
    fetch = container(spec, "fetch", "initContainers")
    loader = container(spec, "load")
    data = os.path.join(work, "restored", "data")
    scratch = os.path.join(work, "restored", "tmp")
    os.makedirs(data)
    os.makedirs(scratch)
    rw = Rewrite(paths={"/data": data, "/tmp": scratch})
    t0 = time.monotonic()
    env = credentials(fetch, work)
    run(upload_to_copy(rw(script_of(fetch)), bucket), env, os.path.join(work, "restore.log"))
    run(rw(script_of(loader)), dict(os.environ), os.path.join(work, "restore.log"), timeout=120)
    t_restore = time.monotonic() - t0
    with open(os.path.join(work, "restore.log"), encoding="utf-8") as f:
        restored_line = next((l.strip() for l in f if l.startswith("keys restored:")), "")
    if restored_line != f"keys restored: {len(expected)}":
        fail(f"the restore Job printed {restored_line!r}, expected {len(expected)} keys")
    host, port = start_server(data)
    n = same(expected, host, port, f"{label}: the restored server")
    say(
        f"{label}: backup `{job}` dumped and uploaded in {t_backup:.1f}s; the restore Job's steps "
        f"loaded it into an empty volume in {t_restore:.1f}s; the server started on it holds all "
        f"{n} keys with the same values"
    )


# ── the drills ────────────────────────────────────────────────────────────────────────────────


class Pod:
    def __init__(self, i, ip, base):
        self.i, self.ip = i, ip
        self.dir = os.path.join(base, f"pod-{i}")
        for sub in ("data", "tmp", "config", "etc"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.server = self.sentinel = None

    def paths(self):
        return {
            "/data": os.path.join(self.dir, "data"),
            "/tmp": os.path.join(self.dir, "tmp"),
            "/config": os.path.join(self.dir, "config"),
            "/etc/redis": os.path.join(self.dir, "etc"),
        }


class SentinelSet:
    """The generated Sentinel set, its pods on loopback addresses."""

    def __init__(self, tree, store, base, first_ip):
        docs = documents(os.path.join(tree, "kubernetes", f"storage-{store}.yaml"))
        sts = one(docs, "StatefulSet", store)
        self.store = store
        self.replicas = sts["spec"]["replicas"]
        self.namespace = sts["metadata"]["namespace"]
        self.headless = sts["spec"]["serviceName"]
        spec = sts["spec"]["template"]["spec"]
        self.server_cmd = container(spec, store)["command"]
        self.sentinel_cmd = container(spec, "sentinel")["command"]
        self.start_cmd = container(spec, "start", "initContainers")["command"]
        volume = next(v for v in spec["volumes"] if "configMap" in v)
        cm = one(docs, "ConfigMap", volume["configMap"]["name"])
        self.files = cm["data"]
        conf = self.files["sentinel.conf"]
        self.failover_timeout_ms = int(re.search(r"failover-timeout \S+ (\d+)", conf).group(1))
        self.down_after_ms = int(re.search(r"down-after-milliseconds \S+ (\d+)", conf).group(1))
        self.quorum = int(re.search(r"sentinel monitor \S+ \S+ \d+ (\d+)", conf).group(1))
        self.ips = [f"127.0.0.{first_ip + i}" for i in range(self.replicas)]
        self.port = free_port(self.ips)
        self.sport = free_port(self.ips)
        self.pods = [Pod(i, ip, base) for i, ip in enumerate(self.ips)]
        domain = f"{self.headless}.{self.namespace}.svc.cluster.local"
        self.hosts = {f"{store}-{i}.{domain}": ip for i, ip in enumerate(self.ips)}
        # start.sh names its own pod `$POD_NAME.<domain>`: POD_NAME is the loopback address.
        self.hosts["." + domain] = ""
        self.service = f"{store}-sentinel.{self.namespace}.svc.cluster.local"

    def rewrite(self, pod):
        return Rewrite(hosts=self.hosts, ports={26379: self.sport, 6379: self.port}, paths=pod.paths())

    def start(self, pod):
        """The pod starts as Kubernetes starts it: the start step, then the server and the
        sentinel with the StatefulSet's commands."""
        rw = self.rewrite(pod)
        for name, text in self.files.items():
            text = rw(text).replace("bind * -::*", f"bind {pod.ip}")
            with open(os.path.join(pod.dir, "config", name), "w", encoding="utf-8") as f:
                f.write(text)
        env = dict(os.environ, POD_NAME=pod.ip)
        start = [rw(a) for a in self.start_cmd]
        log = os.path.join(pod.dir, "start.log")
        with open(log, "ab") as out:
            r = subprocess.run(start, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=90)
        if r.returncode != 0:
            fail(f"the start step of pod {pod.i} exited {r.returncode}: see {log}")
        pod.server = spawn([rw(a) for a in self.server_cmd], os.path.join(pod.dir, "server.log"))
        pod.sentinel = spawn([rw(a) for a in self.sentinel_cmd], os.path.join(pod.dir, "sentinel.log"))
        wait_for(f"pod {pod.i} to answer", lambda: try_call(pod.ip, self.port, "PING") == "PONG"
                 and try_call(pod.ip, self.sport, "PING") == "PONG", 20)

    def primary_by(self, pod):
        r = try_call(pod.ip, self.sport, "SENTINEL", "get-master-addr-by-name", self.store)
        return r[0].decode() if r else None

    def role(self, ip):
        r = try_call(ip, self.port, "ROLE")
        return r[0].decode() if r else None


def failover(tree, store, work):
    t_all = time.monotonic()
    s = SentinelSet(tree, store, os.path.join(work, "set"), 11)
    if s.replicas < 3:
        fail(f"{store} runs {s.replicas} pods")
    t0 = time.monotonic()
    for pod in s.pods:  # in order, as the StatefulSet starts them
        s.start(pod)
    first = s.pods[0].ip
    if s.role(first) != "master":
        fail("the first pod did not start as the primary")
    wait_for("every replica to be in sync", lambda: info(first, s.port).get("connected_slaves") == str(s.replicas - 1)
             and all("state=online" in v for k, v in info(first, s.port).items() if k.startswith("slave")), 30)

    def discovered(pod):
        sentinels = try_call(pod.ip, s.sport, "SENTINEL", "sentinels", store)
        replicas = try_call(pod.ip, s.sport, "SENTINEL", "replicas", store)
        return sentinels is not None and len(sentinels) == s.replicas - 1 and replicas is not None and len(replicas) == s.replicas - 1

    wait_for("the sentinels to discover each other and the replicas", lambda: all(discovered(p) for p in s.pods), 30)
    say(
        f"{store}: {s.replicas} servers and {s.replicas} sentinels from the generated ConfigMap and "
        f"start step up in {time.monotonic() - t0:.1f}s: pod 0 primary, {s.replicas - 1} replicas in sync, "
        f"every sentinel knowing the others (quorum {s.quorum})"
    )

    # A client finds the primary as the platform tells it to, and writes with WAIT; only the
    # writes every replica acknowledged count. The primary's node fails under the load.
    primary_ip = s.primary_by(s.pods[1])
    if primary_ip != first:
        fail(f"the sentinels name {primary_ip}, not pod 0")
    acked = {}
    stop_writing = threading.Event()
    errors = []

    def writer():
        try:
            c = Redis(primary_ip, s.port, timeout=5)
            batch = 0
            while not stop_writing.is_set():
                cmds = list(sample_commands(f"w{batch}", 100))
                replies = c.send(*cmds, ("WAIT", s.replicas - 1, 2000))
                if all(not isinstance(r, RespError) for r in replies[:-1]) and replies[-1] == s.replicas - 1:
                    for cmd in cmds:
                        acked[cmd[1]] = cmd
                batch += 1
        except (OSError, ConnectionError) as e:
            errors.append(e)

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    wait_for("a few thousand acknowledged writes", lambda: len(acked) >= 3000, 30)
    old = s.pods[0]
    t_kill = time.monotonic()
    stop(old.server, signal.SIGKILL)
    stop(old.sentinel, signal.SIGKILL)
    stop_writing.set()
    w.join(timeout=10)
    keys_acked = dict(acked)

    survivors = s.pods[1:]
    new_ip = wait_for(
        "a replica to be promoted",
        lambda: next((ip for ip in [s.primary_by(survivors[0])] if ip and ip != first), None),
        s.failover_timeout_ms / 1000,
    )
    t_promoted = time.monotonic() - t_kill
    if t_promoted * 1000 > s.failover_timeout_ms:
        fail(f"promotion took {t_promoted:.1f}s, above the failover timeout")
    wait_for("the promoted replica to act as primary", lambda: s.role(new_ip) == "master", 10)
    agree = wait_for("every surviving sentinel to name it", lambda: all(s.primary_by(p) == new_ip for p in survivors), 10)
    c = Redis(new_ip, s.port, timeout=10)
    missing = []
    for key, cmd in keys_acked.items():
        got = value(c, key)
        if cmd[0] == "SET":
            want = ("string", cmd[2].encode())
        elif cmd[0] == "HSET":
            pairs = [x.encode() for x in cmd[2:]]
            want = ("hash", tuple(sorted(zip(pairs[::2], pairs[1::2]))))
        else:
            want = ("list", tuple(x.encode() for x in cmd[2:]))
        if got != want:
            missing.append(key)
    c.close()
    if missing:
        fail(f"{len(missing)} acknowledged keys are missing or differ on the new primary, e.g. {missing[:3]}")
    say(
        f"{store}: kill -9 of the primary's server and sentinel (its node lost) under load; the "
        f"sentinels promoted {new_ip} in {t_promoted:.1f}s (down-after {s.down_after_ms / 1000:g}s, "
        f"failover timeout {s.failover_timeout_ms / 1000:g}s) and all agree; all {len(keys_acked)} "
        f"writes acknowledged by every replica (WAIT) are on the new primary"
    )

    # The lost pod comes back: its start step asks the sentinels and it rejoins as a replica.
    t0 = time.monotonic()
    s.start(old)
    wait_for("the old primary to replicate from the new one", lambda: info(old.ip, s.port).get("master_host") == new_ip
             and info(old.ip, s.port).get("master_link_status") == "up", 30)
    if s.role(old.ip) != "slave":
        fail("the restarted pod is not a replica")
    say(f"{store}: the lost pod restarted through the start step and rejoined as a replica of {new_ip} in {time.monotonic() - t0:.1f}s")

    # The backup follows the primary; the restore brings it back into an empty set.
    expected = snapshot(new_ip, s.port)
    live = next(p for p in survivors if p.ip != new_ip) if len(survivors) > 1 else survivors[0]
    hosts = dict(s.hosts)
    hosts[s.service] = live.ip  # the sentinel Service reaches a live sentinel

    def restored_set(data):
        # A fresh set on other addresses: no sentinel answers, so pod 0 starts as the primary
        # on the restored volume, as after the restore procedure.
        r = SentinelSet(tree, store, os.path.join(work, "restored-set"), 21)
        pod = r.pods[0]
        os.rmdir(pod.paths()["/data"])
        os.symlink(data, pod.paths()["/data"])
        r.start(pod)
        if r.role(pod.ip) != "master":
            fail("the restored pod 0 did not start as the primary")
        return pod.ip, r.port

    backup_and_restore(tree, store, work, hosts, {26379: s.sport, 6379: s.port}, expected,
                       store, restored_set)
    say(f"{store}: drill done in {time.monotonic() - t_all:.1f}s")


def single(tree, store, work):
    """A single server (replication none): sample keys, backup, wipe, restore, compare."""
    t_all = time.monotonic()
    docs = documents(os.path.join(tree, "kubernetes", f"storage-{store}.yaml"))
    sts = one(docs, "StatefulSet", store)
    if sts["spec"]["replicas"] != 1:
        fail(f"{store} is not a single server")
    ns = sts["metadata"]["namespace"]
    server = container(sts["spec"]["template"]["spec"], store)
    if server.get("command"):
        fail(f"{store}'s container has its own command {server['command']}; the drill starts the image's")
    ip = "127.0.0.31"
    port = free_port([ip])
    data = os.path.join(work, "server", "data")
    os.makedirs(data)

    def start(folder):
        # The image's own start (`redis-server`, its working directory the data volume).
        p = spawn(["redis-server", "--bind", ip, "--port", str(port), "--dir", folder],
                  os.path.join(work, "server.log"))
        wait_for("the server to answer", lambda: try_call(ip, port, "PING") == "PONG", 20)
        return p

    p = start(data)
    load(ip, port, "sample", 3000)
    expected = snapshot(ip, port)
    say(f"{store}: {len(expected)} sample keys (strings, hashes, lists) in a loopback server")

    def wiped_then_started(restored):
        # The server's data is wiped and the server stopped; it starts again on the volume the
        # restore Job filled.
        if try_call(ip, port, "FLUSHALL") != "OK" or try_call(ip, port, "DBSIZE") != 0:
            fail("could not wipe the server")
        stop(p)
        start(restored)
        return ip, port

    hosts = {f"{store}.{ns}.svc.cluster.local": ip}
    backup_and_restore(tree, store, work, hosts, {6379: port}, expected, store, wiped_then_started)
    say(f"{store}: drill done in {time.monotonic() - t_all:.1f}s")


def main():
    global WORK
    if len(sys.argv) != 5 or sys.argv[1] not in ("failover", "backup"):
        print(__doc__, file=sys.stderr)
        return 2
    drill, tree, store, WORK = sys.argv[1:]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("FAILED: stopped (timeout)"))
    try:
        (failover if drill == "failover" else single)(tree, store, WORK)
    finally:
        stop_all()
        with open(os.path.join(WORK, "report"), "w", encoding="utf-8") as f:
            f.write("\n".join(REPORT) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
