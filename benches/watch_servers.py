#!/usr/bin/env python3
"""False alarms and detections of `afterlife watch` on real servers under
load and on processes of known shapes, beside a predict_linear alert.

False-alarm part (none of these leaks; every LEAK is a false alarm):
  - PostgreSQL under pgbench, watched with --tree (postmaster, backends,
    background writer, checkpointer, ...);
  - Redis under redis-benchmark -t set,get -r 100000;
  - nginx (2 workers) under wrk -t2 -c100, watched with --tree;
  - processes of known shapes: a 64 MiB step at 00:03, a pool that opens one
    fd a second up to 20 and holds them, a warm-up that levels off, a
    sawtooth of 8 MiB and 10 fds every 10 s.
Detection part (each leaks; the time from the start of the leak to the
first LEAK verdict is measured):
  - Redis with a client that opens a connection every 200 ms and never
    closes it (a socket leak in the server);
  - a process opening a file every second (an fd leak);
  - a process leaking 1 MiB of anonymous memory every 3 s;
  - a process that warms up (50 MiB in 10 s), holds until 00:30, then leaks
    1 MiB every 2 s.

Every watch starts before the load, so warm-ups are in the window. The
watch runs with --json (the final verdicts) and --prometheus (the live
verdicts, scraped every second for the time to the first LEAK). From the
same samples each series is also judged as the kube-prometheus style rule
`predict_linear(METRIC[window], 4h) > LIMIT` would judge it (least squares
over the whole window, extrapolated 4 hours, against the fd limit or the
memory limit, else the machine's memory), at the end of the window.

The watcher's own CPU (utime + stime from wait4) per second watched is the
cost of watching; it is reported per server.

Usage: python3 benches/watch_servers.py [--seconds S] [--only NAME,...] [--binary PATH]
(NAME: PostgreSQL, Redis, nginx, shapes, socket)
Results: printed, and written to target/bench/watch_servers.json.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import afterlife_binary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HORIZON = 4 * 3600


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def program(name):
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found:
        return found
    base = "/usr/lib/postgresql"
    if os.path.isdir(base):
        for version in sorted(os.listdir(base), reverse=True):
            path = os.path.join(base, version, "bin", name)
            if os.path.exists(path):
                return path
    return None


def wait_for(condition, limit=60):
    deadline = time.time() + limit
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class Server:
    """A server in its own process group, stopped by the PID started."""

    def __init__(self, argv, port, directory, stop_signal, user=None):
        self.port, self.dir, self.stop_signal = port, directory, stop_signal
        self.started = time.time() - 1
        log = open(os.path.join(directory, "server.log"), "w")
        prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"] if user else []
        self.proc = subprocess.Popen(prefix + argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True, cwd=directory)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        try:
            os.kill(self.proc.pid, self.stop_signal)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        # What the group still maps in /dev/shm (PostgreSQL's POSIX DSM
        # segments) and a postmaster's SysV segment (line 7 of its
        # postmaster.pid: key and id) stay behind a SIGKILL: noted now,
        # removed after.
        mapped = shm_mapped_by_group(self.proc.pid)
        sysv = postmaster_sysv_id(os.path.join(self.dir, "data", "postmaster.pid"))
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        for path in mapped:
            try:
                if os.stat(path).st_mtime >= self.started:
                    os.unlink(path)
            except OSError:
                pass
        if sysv is not None:
            subprocess.run(["ipcrm", "-m", sysv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


def postmaster_sysv_id(pid_file):
    """The id of the SysV segment a postmaster.pid names, if any."""
    try:
        with open(pid_file) as f:
            fields = f.read().splitlines()[6].split()
        return fields[1] if len(fields) == 2 else None
    except (OSError, IndexError):
        return None


# PostgreSQL's DSM control segment (src/backend/storage/ipc/dsm.c): a
# header {magic u32, nitems u32, maxitems u32} and, 8-aligned, items of
# {handle u32, refcnt u32, first_page, npages, pm handle, pinned}, 40 bytes
# on 64-bit machines; a used item has refcnt > 0, its segment is
# /dev/shm/PostgreSQL.<handle>.
PG_DSM_CONTROL_MAGIC = 0x9A503D32


def pg_dsm_segments(control_path):
    """The segments a PostgreSQL DSM control segment lists ([] for any other file)."""
    try:
        with open(control_path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return []
    if len(head) < 16 or int.from_bytes(head[0:4], "little") != PG_DSM_CONTROL_MAGIC:
        return []
    nitems = int.from_bytes(head[4:8], "little")
    paths = []
    for i in range(nitems):
        at = 16 + 40 * i
        if at + 8 > len(head):
            break
        handle = int.from_bytes(head[at:at + 4], "little")
        if int.from_bytes(head[at + 4:at + 8], "little") > 0:
            paths.append(f"/dev/shm/PostgreSQL.{handle}")
    return paths


def shm_mapped_by_group(pgid):
    """The /dev/shm files mapped by the live members of process group pgid,
    and the PostgreSQL segments their DSM control segment lists."""
    paths = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != pgid:
                continue
            with open(f"/proc/{entry}/maps") as maps:
                for line in maps:
                    fields = line.split(maxsplit=5)
                    if len(fields) == 6 and fields[5].startswith("/dev/shm/"):
                        paths.add(fields[5].strip().removesuffix(" (deleted)"))
        except OSError:
            continue
    for path in list(paths):
        paths.update(pg_dsm_segments(path))
    return sorted(paths)


def postgres():
    initdb, server = program("initdb"), program("postgres")
    if not (initdb and server and program("pgbench")):
        return None
    directory = tempfile.mkdtemp(prefix="afterlife-bench-pg-")
    user = "postgres" if os.geteuid() == 0 else None
    if user:
        shutil.chown(directory, user, user)
    data = os.path.join(directory, "data")
    prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"] if user else []
    subprocess.run(prefix + [initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory)
    port = free_port()
    s = Server([server, "-D", data, "-p", str(port), "-k", directory, "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off", "-c", "shared_buffers=128MB"], port, directory, signal.SIGINT, user)
    pid_file = os.path.join(data, "postmaster.pid")

    def ready():
        try:
            with open(pid_file) as f:
                lines = f.read().splitlines()
            return len(lines) > 7 and lines[7].strip() == "ready"
        except OSError:
            return False

    wait_for(ready)
    subprocess.run(["pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-i", "-s", "5", "-q",
                    "postgres"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return s


def redis():
    binary = program("redis-server")
    if not binary:
        return None
    directory = tempfile.mkdtemp(prefix="afterlife-bench-redis-")
    port = free_port()
    s = Server([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", directory], port, directory, signal.SIGTERM)
    wait_for(lambda: connects(port))
    return s


def nginx():
    binary = program("nginx")
    if not (binary and program("wrk")):
        return None
    directory = tempfile.mkdtemp(prefix="afterlife-bench-nginx-")
    port = free_port()
    conf = os.path.join(directory, "nginx.conf")
    d = directory
    with open(conf, "w") as f:
        f.write(f"daemon off;\nmaster_process on;\nworker_processes 2;\npid {d}/nginx.pid;\n"
                f"error_log {d}/error.log;\nevents {{ worker_connections 1024; }}\n"
                f"http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n"
                f" fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n"
                f" server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }}\n}}\n")
    s = Server([binary, "-p", directory, "-e", os.path.join(d, "error.log"), "-c", conf], port, directory,
               signal.SIGQUIT)
    wait_for(lambda: connects(port))
    return s


SHAPES = {
    # 64 MiB allocated once at 00:03, then jitter.
    "step": """
import time, random
time.sleep(3)
block = bytearray(64 << 20)
for i in range(0, len(block), 4096): block[i] = 1
while True:
    jitter = bytearray(random.randint(0, 1 << 19)); time.sleep(0.5)
""",
    # One fd a second up to 20, held.
    "pool": """
import time
held = []
while True:
    if len(held) < 20: held.append(open('/dev/null'))
    time.sleep(1)
""",
    # Warm-up: 100 MiB touched in a curve that levels off after ~40 s.
    "warm-up": """
import time, math
blocks, total, t0 = [], 0, time.time()
while True:
    want = int(100 * (1 - math.exp(-(time.time() - t0) / 10)))
    while total < want:
        b = bytearray(1 << 20)
        for i in range(0, len(b), 4096): b[i] = 1
        blocks.append(b); total += 1
    time.sleep(0.2)
""",
    # Sawtooth: 8 MiB and 10 fds grown over 10 s, then freed.
    "sawtooth": """
import time, mmap
cycle = []
while True:
    for f, m in cycle: f.close(); m.close()
    cycle = []
    for _ in range(10):
        m = mmap.mmap(-1, (8 << 20) // 10); m.write(b"z" * ((8 << 20) // 10))
        cycle.append((open('/dev/null'), m)); time.sleep(1)
""",
}

LEAKS = {
    # An fd leak: one file a second.
    "fd leak": (0.0, """
import time
held = []
while True:
    held.append(open('/dev/null')); time.sleep(1)
"""),
    # A slow anonymous-memory leak: 1 MiB every 3 s.
    "slow memory leak": (0.0, """
import time
held = []
while True:
    b = bytearray(1 << 20)
    for i in range(0, len(b), 4096): b[i] = 1
    held.append(b); time.sleep(3)
"""),
    # Warm-up (50 MiB in 10 s), flat, then 1 MiB every 2 s from 00:30.
    "leak after warm-up": (30.0, """
import time
held, t0 = [], time.time()
def grab():
    b = bytearray(1 << 20)
    for i in range(0, len(b), 4096): b[i] = 1
    held.append(b)
for _ in range(50):
    grab(); time.sleep(0.2)
while time.time() - t0 < 30: time.sleep(0.2)
while True:
    grab(); time.sleep(2)
"""),
}


class Scraper(threading.Thread):
    """Scrapes afterlife's /metrics every second and notes when each PID
    was first judged leaking (`afterlife_leak{...} 1`)."""

    def __init__(self, address, start):
        super().__init__(daemon=True)
        self.address, self.start_time, self.first_leak, self.stop = address, start, {}, False
        # pid -> [(seconds, leaking)] at every scrape.
        self.states = {}

    def run(self):
        while not self.stop:
            try:
                text = urllib.request.urlopen(f"http://{self.address}/metrics", timeout=2).read().decode()
                now = time.time() - self.start_time
                leaking = {}
                for line in text.splitlines():
                    if line.startswith("afterlife_leak{"):
                        pid = int(line.split('pid="')[1].split('"')[0])
                        leaking[pid] = leaking.get(pid, False) or line.endswith(" 1")
                for pid, state in leaking.items():
                    self.states.setdefault(pid, []).append((now, state))
                    if state:
                        self.first_leak.setdefault(pid, now)
            except OSError:
                pass
            time.sleep(1)


def watch(afterlife, target_args, seconds, during=None):
    """Runs the watch with --json and --prometheus; returns the NDJSON
    events, the exit code, the CPU seconds and the first-leak times."""
    out = tempfile.TemporaryFile()
    err = tempfile.NamedTemporaryFile(delete=False)
    start = time.time()
    proc = subprocess.Popen([afterlife, "--json", "watch", "--interval", "1s", "--duration", f"{seconds}s",
                             "--prometheus", "127.0.0.1:0", *target_args], stdout=out, stderr=err)
    address = None
    for _ in range(200):
        with open(err.name) as f:
            text = f.read()
        if "/metrics" in text:
            address = text.split("http://")[1].split("/metrics")[0]
            break
        time.sleep(0.05)
    scraper = Scraper(address, start) if address else None
    if scraper:
        scraper.start()
    if during:
        during()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if scraper:
        scraper.stop = True
    out.seek(0)
    events = [json.loads(line) for line in out.read().decode().splitlines() if line.strip()]
    os.unlink(err.name)
    return events, proc.returncode, usage.ru_utime, usage.ru_stime, (scraper.states if scraper else {})


def first_leak_after(states, start):
    """The first scrape at or after `start` with a LEAK verdict."""
    return next((t for t, leaking in states if leaking and t >= start), None)


def first_leak_before(states, start):
    """The first scrape before `start` with a LEAK verdict (an alarm before
    the leak began), if any."""
    return next((t for t, leaking in states if leaking and t < start), None)


def mem_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def predict_linear_alerts(events):
    """Per PID, the metrics a `predict_linear(M[window], 4h) > limit` rule
    fires on at the end of the window (fds against max_fds, RSS against the
    memory limit or the machine's memory)."""
    limits = {e["pid"]: e["limits"] for e in events if e["event"] == "process"}
    series = {}
    for e in events:
        if e["event"] == "sample":
            series.setdefault(e["pid"], []).append(e)
    fired = {}
    for pid, samples in series.items():
        if len(samples) < 3:
            continue
        limit = limits.get(pid, {})
        memory = (limit.get("memory") or {}).get("bytes") or mem_total()
        for metric, cap in (("fds", limit.get("max_fds")), ("rss_bytes", memory)):
            points = [(s["at_seconds"], s[metric]) for s in samples if s.get(metric) is not None]
            if cap is None or len(points) < 3:
                continue
            n = len(points)
            mx = sum(p[0] for p in points) / n
            my = sum(p[1] for p in points) / n
            sxx = sum((p[0] - mx) ** 2 for p in points)
            slope = sum((p[0] - mx) * (p[1] - my) for p in points) / sxx if sxx else 0.0
            last_t = points[-1][0]
            predicted = my + slope * (last_t + HORIZON - mx)
            if predicted > cap:
                fired.setdefault(pid, []).append(metric)
    return fired


def names(events):
    out = {}
    for e in events:
        if e["event"] == "process":
            out[e["pid"]] = e.get("title") or e["name"]
    summary = [e for e in events if e["event"] == "summary"]
    if summary:
        for p in summary[0]["processes"]:
            out[p["pid"]] = p.get("title") or p["name"]
    return out


def leaking(events):
    summary = [e for e in events if e["event"] == "summary"][0]
    return {p["pid"]: [v["metric"] for v in p["verdicts"] if v["verdict"] == "leaking" and v["judged"]]
            for p in summary["processes"] if p["leaking"]}


def shifting(events):
    """The metrics judged `shifting`: leaking alone, but the load moves
    between siblings whose total does not leak."""
    summary = [e for e in events if e["event"] == "summary"][0]
    return {p["pid"]: [v["metric"] for v in p["verdicts"] if v["verdict"] == "shifting"]
            for p in summary["processes"] if any(v["verdict"] == "shifting" for v in p["verdicts"])}


def shapes_of(events, pid):
    summary = [e for e in events if e["event"] == "summary"][0]
    for p in summary["processes"]:
        if p["pid"] == pid:
            return {v["metric"]: v["verdict"] for v in p["verdicts"]
                    if v["metric"] in ("fds", "rss", "rss_anon", "rss_shmem")}
    return {}


def server_case(afterlife, name, start, load, seconds, tree):
    server = start()
    if server is None:
        print(f"{name}: skipped (not installed)")
        return None
    try:
        loader = []

        def during():
            time.sleep(2)
            loader.append(subprocess.Popen(load(server, seconds), stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, start_new_session=True))

        target = ["--tree", str(server.pid)] if tree else [str(server.pid)]
        events, code, user, system, first = watch(afterlife, target, seconds, during)
        for p in loader:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    finally:
        server.stop()
    return events, code, user, system, first


def report_false_alarms(name, events, code, user, system, seconds):
    leaks = leaking(events)
    fired = predict_linear_alerts(events)
    processes = len(names(events))
    row = {
        "processes": processes,
        "exit": code,
        "afterlife_false_alarms": len(leaks),
        "afterlife_leaks": {names(events).get(pid, str(pid)): m for pid, m in leaks.items()},
        "afterlife_shifting": {names(events).get(pid, str(pid)): m for pid, m in shifting(events).items()},
        "predict_linear_false_alarms": len(fired),
        "predict_linear_fired": {names(events).get(pid, str(pid)): m for pid, m in fired.items()},
        "watch_cpu_percent": round(100 * (user + system) / seconds, 2),
        "watch_user_s": round(user, 3),
        "watch_system_s": round(system, 3),
    }
    print(f"{name:28} {processes:3} processes: afterlife LEAK {len(leaks)}, predict_linear {len(fired)}, "
          f"watch CPU {row['watch_cpu_percent']}% of a core (exit {code}); "
          f"shifting between siblings: {row['afterlife_shifting'] or 'none'}")
    return row


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument("--only", default="")
    parser.add_argument("--binary", help="an afterlife executable to use instead of building one")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    afterlife = args.binary or afterlife_binary.build()
    results = {"seconds": args.seconds, "false_alarms": {}, "detections": {}}
    pg_load = lambda s, t: ["pgbench", "-h", "127.0.0.1", "-p", str(s.port), "-U", "postgres", "-c", "8", "-j", "2",
                            "-T", str(t), "postgres"]
    redis_load = lambda s, t: ["redis-benchmark", "-h", "127.0.0.1", "-p", str(s.port), "-t", "set,get", "-r",
                               "100000", "-n", "1000000000", "-q"]
    wrk_load = lambda s, t: ["wrk", "-t2", "-c100", "-d", f"{t}s", f"http://127.0.0.1:{s.port}/"]
    for name, start, load, tree in (("PostgreSQL + pgbench", postgres, pg_load, True),
                                    ("Redis + redis-benchmark", redis, redis_load, False),
                                    ("nginx + wrk", nginx, wrk_load, True)):
        if only and name.split()[0] not in only:
            continue
        out = server_case(afterlife, name, start, load, args.seconds, tree)
        if out:
            events, code, user, system, _ = out
            results["false_alarms"][name] = report_false_alarms(name, events, code, user, system, args.seconds)

    if not only or "shapes" in only or "leaks" in only:
        # Shapes and leaks run side by side: they are light.
        procs = {}
        for name, source in SHAPES.items():
            procs[name] = (None, subprocess.Popen([sys.executable, "-c", source]))
        for name, (leak_start, source) in LEAKS.items():
            procs[name] = (leak_start, subprocess.Popen([sys.executable, "-c", source]))
        try:
            pids = [str(p.pid) for _, p in procs.values()]
            events, code, user, system, first = watch(afterlife, pids, args.seconds)
        finally:
            for _, p in procs.values():
                p.kill()
                p.wait()
        leaks = leaking(events)
        fired = predict_linear_alerts(events)
        for name, (leak_start, p) in procs.items():
            shape = shapes_of(events, p.pid)
            if leak_start is None:
                row = {"afterlife_leak": p.pid in leaks, "predict_linear_fired": fired.get(p.pid, []),
                       "verdicts": shape}
                results["false_alarms"][f"shape: {name}"] = row
                print(f"shape {name:22} afterlife LEAK {p.pid in leaks}, predict_linear {fired.get(p.pid, [])}, "
                      f"{shape}")
            else:
                states = first.get(p.pid, [])
                seen = first_leak_after(states, leak_start)
                early = first_leak_before(states, leak_start)
                row = {"afterlife_leak": p.pid in leaks, "leaking_metrics": leaks.get(p.pid, []),
                       "seconds_from_leak_to_verdict": None if seen is None else round(seen - leak_start, 1),
                       "alarm_before_the_leak_at": None if early is None else round(early, 1),
                       "predict_linear_fired": fired.get(p.pid, [])}
                results["detections"][name] = row
                print(f"leak {name:23} afterlife LEAK {p.pid in leaks} after "
                      f"{row['seconds_from_leak_to_verdict']} s (alarm before it began: "
                      f"{row['alarm_before_the_leak_at']}), predict_linear {fired.get(p.pid, [])}")

    if not only or "socket" in only:
        server = redis()
        if server:
            stop = threading.Event()

            def during():
                def client():
                    held = []
                    time.sleep(2)
                    while not stop.is_set():
                        try:
                            held.append(socket.create_connection(("127.0.0.1", server.port)))
                        except OSError:
                            pass
                        time.sleep(0.2)
                    for s in held:
                        s.close()
                threading.Thread(target=client, daemon=True).start()

            try:
                events, code, user, system, first = watch(afterlife, [str(server.pid)], args.seconds, during)
            finally:
                stop.set()
                server.stop()
            summary = [e for e in events if e["event"] == "summary"][0]
            process = summary["processes"][0]
            fired = predict_linear_alerts(events)
            seen = first_leak_after(first.get(server.pid, []), 2.0)
            row = {"afterlife_leak": process["leaking"], "leaking_kinds": process["leaking_kinds"],
                   "held": process["fd_breakdown"]["top_targets"][:2],
                   "seconds_from_leak_to_verdict": None if seen is None else round(seen - 2.0, 1),
                   "predict_linear_fired": fired.get(server.pid, [])}
            results["detections"]["socket leak (Redis client never closes)"] = row
            print(f"leak {'socket leak in Redis':23} afterlife LEAK {row['afterlife_leak']} after "
                  f"{row['seconds_from_leak_to_verdict']} s, predict_linear {row['predict_linear_fired']}, "
                  f"held {row['held'][:1]}")

    os.makedirs(os.path.join(ROOT, "target", "bench"), exist_ok=True)
    path = os.path.join(ROOT, "target", "bench", "watch_servers.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print(f"results written to {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
