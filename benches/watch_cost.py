#!/usr/bin/env python3
"""CPU cost of watching processes: afterlife watch against the usual loops.

Two scenarios, as in the watch issue:
  A. 1,000 processes sampled every 1 s;
  B. one process (holding 100 files) sampled every 100 ms.
Each is watched by
  - afterlife watch --interval I PID...
  - a shell loop: for each PID, ls /proc/PID/fd | wc -l; then sleep I
  - a shell loop: for each PID, lsof -p PID | wc -l; then sleep I
over repeated trials. The cost is the CPU time (utime + stime of the
measuring process and of its reaped children, read from /proc/PID/stat) per
second watched, measured between two reads of /proc in steady state, so
afterlife's one-off start (opening every process) is reported on its own.
A loop that cannot keep the rate is reported with the share of the rate it
achieved and the cores it would need to keep it.

Usage: python3 benches/watch_cost.py [--trials N] [--seconds-a S] [--seconds-b S]
Results: printed, and written to target/bench/watch_cost.json.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime + cutime + cstime of pid, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime is field 14.
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS


def counter_of(pid, path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def measure(command, warmup, seconds, counter=None):
    """Starts command in its own session, reads its CPU after warmup and
    after warmup + seconds, then ends it. Returns (cpu per second, start cpu,
    rounds completed per second or None)."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(warmup)
        c0, t0, r0 = cpu_seconds(proc.pid), time.monotonic(), counter_of(proc.pid, counter) if counter else 0
        time.sleep(seconds)
        c1, t1, r1 = cpu_seconds(proc.pid), time.monotonic(), counter_of(proc.pid, counter) if counter else 0
    finally:
        # The whole session we started: the loop and the ls/lsof it runs.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    rate = (r1 - r0) / (t1 - t0) if counter else None
    return (c1 - c0) / (t1 - t0), c0, rate


def loop_command(kind, pids, interval, counter):
    per = {
        "ls": 'ls /proc/$p/fd | wc -l > /dev/null',
        "lsof": 'lsof -p $p | wc -l > /dev/null',
    }[kind]
    # The counter file counts samples taken, to tell whether the loop keeps up.
    script = (
        f'n=0; while :; do for p in {" ".join(map(str, pids))}; do {per}; n=$((n+1)); '
        f'echo $n > {counter}; done; sleep {interval}; done'
    )
    return ["bash", "-c", script]


def scenario(name, afterlife, pids, interval, trials, seconds, counter):
    rows = {}
    warmup = 3.0
    commands = {
        "afterlife watch": [afterlife, "watch", "--interval", f"{interval}s", *map(str, pids)],
        "ls /proc/PID/fd | wc -l loop": loop_command("ls", pids, interval, counter),
        "lsof -p PID | wc -l loop": loop_command("lsof", pids, interval, counter),
    }
    for label, command in commands.items():
        costs, starts, rates = [], [], []
        for _ in range(trials):
            if os.path.exists(counter):
                os.unlink(counter)
            is_loop = label != "afterlife watch"
            cost, start, rate = measure(command, warmup, seconds, counter if is_loop else None)
            costs.append(cost)
            starts.append(start)
            if rate is not None:
                rates.append(rate)
        wanted = len(pids) / interval
        row = {
            "cpu_share_of_one_core_median": statistics.median(costs),
            "cpu_share_trials": costs,
        }
        if rates:
            achieved = statistics.median(rates)
            row["samples_per_second_achieved"] = achieved
            row["samples_per_second_wanted"] = wanted
            # CPU per sample x the rate wanted: the cores needed to keep it.
            row["cores_needed_for_the_rate"] = statistics.median(costs) / max(achieved, 1e-9) * wanted
        else:
            row["start_cpu_seconds_median"] = statistics.median(starts)
            row["cores_needed_for_the_rate"] = statistics.median(costs)
        rows[label] = row
    base = rows["afterlife watch"]["cores_needed_for_the_rate"]
    print(f"\n{name}")
    print(f"  {'watcher':32} {'CPU share':>10} {'rate kept':>10} {'cores for rate':>15} {'vs afterlife':>13}")
    for label, row in rows.items():
        kept = (
            f"{row['samples_per_second_achieved'] / row['samples_per_second_wanted'] * 100:.0f}%"
            if "samples_per_second_achieved" in row
            else "100%"
        )
        ratio = row["cores_needed_for_the_rate"] / base if base > 0 else float("inf")
        row["ratio_to_afterlife"] = ratio
        print(
            f"  {label:32} {row['cpu_share_of_one_core_median'] * 100:9.3f}% {kept:>10} "
            f"{row['cores_needed_for_the_rate'] * 100:14.3f}% {ratio:12.1f}x"
        )
    if "start_cpu_seconds_median" in rows["afterlife watch"]:
        print(f"  afterlife's one-off start: {rows['afterlife watch']['start_cpu_seconds_median']:.3f} s CPU (opening every process)")
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seconds-a", type=float, default=10.0)
    parser.add_argument("--seconds-b", type=float, default=6.0)
    args = parser.parse_args()
    for tool in ("lsof", "ls", "wc", "bash"):
        if shutil.which(tool) is None:
            sys.exit(f"benchmark needs {tool}: apt-get install lsof coreutils bash")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    afterlife = os.path.join(ROOT, "target", "release", "afterlife")
    out_dir = os.path.join(ROOT, "target", "bench")
    os.makedirs(out_dir, exist_ok=True)
    counter = os.path.join(tempfile.mkdtemp(prefix="afterlife-bench-"), "count")

    results = {"machine": {"cores": os.cpu_count(), "kernel": os.uname().release}}
    sleepers = [
        subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL) for _ in range(1000)
    ]
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; fs=[open('/dev/null') for _ in range(100)]; time.sleep(3600)"],
        stdin=subprocess.DEVNULL,
    )
    try:
        results["a_1000_processes_at_1s"] = scenario(
            "A. 1,000 processes every 1 s", afterlife, [p.pid for p in sleepers], 1.0, args.trials, args.seconds_a, counter
        )
        results["b_one_process_at_100ms"] = scenario(
            "B. one process (100 fds) every 100 ms", afterlife, [holder.pid], 0.1, args.trials, args.seconds_b, counter
        )
    finally:
        for p in sleepers + [holder]:
            p.kill()
            p.wait()
    path = os.path.join(out_dir, "watch_cost.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nresults written to {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
