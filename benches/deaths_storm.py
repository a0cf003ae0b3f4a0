#!/usr/bin/env python3
"""afterlife deaths under a fork-exit storm, beside bcc's exitsnoop and killsnoop.

The storm: 1,000 process exits a second for 10 s (a pacer that starts
/bin/true with posix_spawn and reaps it; every 10th child is a sleep that
the pacer kills with SIGTERM at once, so there are kills to trace too).
Every PID the storm started is kept.

Phases, one after the other (each tool alone on the machine):
  1. `afterlife deaths --json` during the storm: deaths of the storm's PIDs
     seen (all must be), records lost, the feed's CPU during the storm (utime
     + stime from /proc/PID/stat, as a share of one core), and the latency
     from each death (the record's `time`, the kernel's exit time) to its
     line being read from the feed's stdout: median and 99th percentile.
     The kernel-side cost of the BPF programs (run_time_ns from
     kernel.bpf_stats_enabled) is shown where bpftool is installed.
  2. `afterlife deaths --json` idle for 30 s: its CPU, and the deaths it
     printed meanwhile (the machine is never quite idle).
  3. exitsnoop and 4. killsnoop during the same storm: bcc's Python tools
     (Debian's bpfcc-tools: exitsnoop-bpfcc, killsnoop-bpfcc) where they
     run — they compile their programs against the kernel's headers — else
     the same tools built with libbpf (Debian's libbpf-tools), which need
     no headers; tracefs is mounted for them if it is not. Events seen and
     CPU.

Usage: python3 benches/deaths_storm.py [--rate N] [--seconds S]   (root)
Results: printed, and written to target/bench/deaths_storm.json.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

import afterlife_binary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_seconds(pid):
    """CPU time of every thread of pid, in seconds, from schedstat (the
    scheduler's nanoseconds: the 10 ms ticks of stat are too coarse, and
    sampled, for a process that runs for microseconds at a time)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    return total / 1e9


def wakeups(pid):
    """Times the threads of pid were switched in (schedstat's third field)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[2])
        except FileNotFoundError:
            pass
    return total


def tree_cpu(pid):
    """cpu_seconds of pid and of its live descendants (bcc tools run under a shell wrapper)."""
    total = 0.0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            total += cpu_seconds(p)
            with open(f"/proc/{p}/task/{p}/children") as f:
                stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def pace(rate, seconds, out):
    """The storm itself, in a process of its own (so that waitpid(-1) reaps
    only its children): writes the PIDs it started, the kills and the time
    taken to `out` as JSON."""
    pids = []
    kills = 0
    interval = 1.0 / rate
    start = time.monotonic()
    n = 0
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        due = start + n * interval
        if due > now:
            time.sleep(due - now)
        if n % 10 == 9:
            pid = os.posix_spawn("/bin/sleep", ["sleep", "10"], os.environ)
            os.kill(pid, signal.SIGTERM)
            kills += 1
        else:
            pid = os.posix_spawn("/bin/true", ["true"], os.environ)
        pids.append(pid)
        n += 1
        while True:
            try:
                done, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if done == 0:
                break
    took = time.monotonic() - start
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    with open(out, "w") as f:
        json.dump({"pids": pids, "kills": kills, "took": took}, f)


def storm(rate, seconds):
    """Runs the storm; returns (pids, kill_count, seconds taken)."""
    out = os.path.join(ROOT, "target", "bench", "deaths_storm_pids.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run([sys.executable, __file__, "--pace", str(rate), str(seconds), out], check=True)
    with open(out) as f:
        result = json.load(f)
    os.unlink(out)
    return result["pids"], result["kills"], result["took"]


class Reader:
    """Reads a tool's stdout on a thread, stamping each line."""

    def __init__(self, stream):
        self.lines = []
        self.thread = threading.Thread(target=self.run, args=(stream,), daemon=True)
        self.thread.start()

    def run(self, stream):
        for line in stream:
            self.lines.append((time.time(), line))


def start_tool(command, ready_text, ready_stream):
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    stream = proc.stderr if ready_stream == "stderr" else proc.stdout
    other = proc.stdout if ready_stream == "stderr" else proc.stderr
    header = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            raise SystemExit(f"{command[0]} ended before it was ready: {header}")
        header.append(line)
        if ready_text in line:
            break
    out = Reader(proc.stdout if ready_stream == "stderr" else stream)
    err = Reader(proc.stderr if ready_stream == "stderr" else other)
    return proc, out, err


def stop_tool(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bpf_stats_on():
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled") as f:
            old = f.read().strip()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        return old
    except OSError:
        return None


def bpf_stats_off(old):
    if old is not None:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(old)


def program_stats(names):
    """run_time_ns and run_cnt of the loaded programs with these names."""
    if not shutil.which("bpftool"):
        return None
    out = subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    stats = {}
    for prog in json.loads(out.stdout):
        name = prog.get("name", "")
        for wanted in names:
            if wanted.startswith(name) and name:
                stats[wanted] = (prog.get("run_time_ns", 0), prog.get("run_cnt", 0))
    return stats


def afterlife_storm(binary, rate, seconds):
    stats_old = bpf_stats_on()
    proc, out, err = start_tool([binary, "deaths", "--json"], "deaths from", "stderr")
    programs = ["signal_generate", "mark_victim", "sched_process_exit"]
    before_progs = program_stats(programs)
    cpu0 = cpu_seconds(proc.pid)
    wall0 = time.monotonic()
    pids, kills, took = storm(rate, seconds)
    # Let the feed print the last deaths, then take its CPU.
    time.sleep(1.0)
    cpu1 = cpu_seconds(proc.pid)
    wall1 = time.monotonic()
    after_progs = program_stats(programs)
    stop_tool(proc)
    bpf_stats_off(stats_old)
    wanted = set(pids)
    seen = {}
    for read_at, line in out.lines:
        record = json.loads(line)
        if record["pid"] in wanted and record["pid"] not in seen:
            seen[record["pid"]] = (read_at - record["died_at"], record)
    latencies = sorted(v[0] * 1000 for v in seen.values())
    killed = [r for _, r in seen.values() if r.get("sender") and r["sender"]["kind"] == "kill"]
    summary = [l for _, l in err.lines if "deaths seen" in l]
    kernel_ns = None
    if before_progs and after_progs:
        kernel_ns = {
            name: {
                "run_time_ns": after_progs[name][0] - before_progs.get(name, (0, 0))[0],
                "run_cnt": after_progs[name][1] - before_progs.get(name, (0, 0))[1],
            }
            for name in after_progs
        }
    return {
        "started": len(pids),
        "rate_achieved": len(pids) / took,
        "seen": len(seen),
        "missing": len(wanted - set(seen)),
        "kills": kills,
        "kills_with_sender": len(killed),
        "summary": summary[-1].strip() if summary else None,
        "cpu_share": (cpu1 - cpu0) / (wall1 - wall0),
        "cpu_per_death_us": (cpu1 - cpu0) / max(1, len(out.lines)) * 1e6,
        "latency_ms_median": statistics.median(latencies) if latencies else None,
        "latency_ms_p99": latencies[int(len(latencies) * 0.99) - 1] if latencies else None,
        "kernel": kernel_ns,
    }


def afterlife_idle(binary, seconds):
    proc, out, err = start_tool([binary, "deaths", "--json"], "deaths from", "stderr")
    cpu0 = cpu_seconds(proc.pid)
    wakes0 = wakeups(proc.pid)
    wall0 = time.monotonic()
    time.sleep(seconds)
    cpu1 = cpu_seconds(proc.pid)
    wakes1 = wakeups(proc.pid)
    wall1 = time.monotonic()
    stop_tool(proc)
    per_wake = (cpu1 - cpu0) / max(1, wakes1 - wakes0)
    # The machine is never quite idle (other processes come and go): the
    # deaths printed meanwhile are counted, so that their share can be told
    # from the feed's own.
    # With no death at all the feed wakes twice a second (its poll timeout).
    return {
        "cpu_share": (cpu1 - cpu0) / (wall1 - wall0),
        "deaths_printed": len(out.lines),
        "seconds": wall1 - wall0,
        "wakeups": wakes1 - wakes0,
        "cpu_per_wakeup_us": per_wake * 1e6,
        "cpu_share_no_deaths_estimate": 2 * per_wake,
    }


def tool_runs(path, ready):
    """Whether the tool starts here (bcc's Python tools need kernel headers)."""
    try:
        proc, _, _ = start_tool(["stdbuf", "-oL", path], ready, "stdout")
    except SystemExit as e:
        print(f"{path} does not run here: {str(e)[-200:]}")
        return False
    stop_tool(proc)
    return True


def pick_tool(names, ready):
    for name in names:
        path = shutil.which(name)
        if path and tool_runs(path, ready):
            return path
    return None


def bcc_storm(names, ready, rate, seconds, count):
    path = pick_tool(names, ready)
    if not path:
        return None
    proc, out, err = start_tool(["stdbuf", "-oL", path], ready, "stdout")
    cpu0 = tree_cpu(proc.pid)
    wall0 = time.monotonic()
    pids, kills, _ = storm(rate, seconds)
    time.sleep(1.0)
    cpu1 = tree_cpu(proc.pid)
    wall1 = time.monotonic()
    stop_tool(proc)
    wanted = {str(p) for p in pids}
    seen = count(out.lines, wanted)
    return {
        "tool": path,
        "started": len(pids),
        "kills": kills,
        "seen": seen,
        "cpu_share": (cpu1 - cpu0) / (wall1 - wall0),
    }


def exitsnoop_count(lines, wanted):
    # PCOMM PID PPID TID AGE(s) EXIT_CODE
    return len({f[1] for f in (l.split() for _, l in lines) if len(f) > 2 and f[1] in wanted})


def killsnoop_count(lines, wanted):
    # TIME PID COMM SIG TPID RESULT (older: PID COMM SIG TPID RESULT)
    found = set()
    for _, line in lines:
        fields = line.split()
        for i, field in enumerate(fields):
            if field in wanted and i > 0 and fields[i - 1].lstrip("-").isdigit():
                found.add(field)
    return len(found)


def mount_tracefs():
    """exitsnoop and killsnoop attach to classic tracepoints, which need
    tracefs; mounts it if it is not, and says whether it did."""
    if os.path.exists("/sys/kernel/tracing/events"):
        return False
    return subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"]).returncode == 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--pace":
        return pace(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--idle", type=float, default=30)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("deaths_storm needs root")
    binary = afterlife_binary.build()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    results = {"rate": args.rate, "seconds": args.seconds}
    results["afterlife"] = afterlife_storm(binary, args.rate, args.seconds)
    print("afterlife deaths, storm:", json.dumps(results["afterlife"], indent=1))
    results["afterlife_idle"] = afterlife_idle(binary, args.idle)
    idle = results["afterlife_idle"]
    per_death = results["afterlife"]["cpu_per_death_us"] / 1e6
    idle["cpu_share_without_deaths"] = max(0.0, idle["cpu_share"] - idle["deaths_printed"] * per_death / idle["seconds"])
    print("afterlife deaths, idle:", results["afterlife_idle"])
    mounted = mount_tracefs()
    try:
        # bcc's Python tools first (bpfcc-tools), else the same tools built
        # with libbpf (libbpf-tools), which need no kernel headers.
        results["exitsnoop"] = bcc_storm(
            ["exitsnoop-bpfcc", "exitsnoop"], "PCOMM", args.rate, args.seconds, exitsnoop_count
        )
        print("exitsnoop, storm:", results["exitsnoop"])
        results["killsnoop"] = bcc_storm(
            ["killsnoop-bpfcc", "killsnoop"], "PID", args.rate, args.seconds, killsnoop_count
        )
        print("killsnoop, storm:", results["killsnoop"])
    finally:
        if mounted:
            subprocess.run(["umount", "/sys/kernel/tracing"], check=False)
    os.makedirs(os.path.join(ROOT, "target", "bench"), exist_ok=True)
    with open(os.path.join(ROOT, "target", "bench", "deaths_storm.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
