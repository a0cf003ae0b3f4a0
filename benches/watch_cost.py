#!/usr/bin/env python3
"""CPU cost of watching processes: afterlife watch against the usual loops.

Two scenarios, as in the watch issue:
  A. 1,000 processes sampled every 1 s;
  B. one process (holding 100 files) sampled every 100 ms.
Each is watched by
  - afterlife watch --interval I PID...
  - a shell loop: for each PID, ls /proc/PID/fd | wc -l; then sleep I
  - a shell loop: for each PID, lsof -p PID | wc -l; then sleep I
over repeated trials. The cost is the CPU time per second watched: utime +
stime of the watcher and of the children it reaped, as wait4(2) returns them
(the same counters as /proc/PID/stat, in microseconds instead of 10 ms
ticks). Each trial runs a short and a long watch and divides the difference
in CPU by the difference in time, so one-off costs (afterlife opening every
process at the start, its verdicts at the end) cancel out; afterlife's
one-off cost is reported on its own.
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

import afterlife_binary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_for(command, seconds, counter=None):
    """Runs command (in its own session) for `seconds` (afterlife stops by
    itself with --duration; a loop is killed), and returns its CPU seconds
    (utime + stime of it and its reaped children, from wait4's rusage) and
    the loop's sample counter."""
    if counter and os.path.exists(counter):
        os.unlink(counter)
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        if counter:
            time.sleep(seconds)
            # The whole session we started: the loop and the ls/lsof it runs.
            os.killpg(proc.pid, signal.SIGKILL)
        _, _, usage = os.wait4(proc.pid, 0)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        raise
    count = 0
    if counter:
        try:
            with open(counter) as f:
                count = int(f.read().strip() or 0)
        except (OSError, ValueError):
            pass
    return usage.ru_utime + usage.ru_stime, count


def measure(command, short, long, counter=None):
    """Steady-state CPU per second: the difference between a short and a
    long run over the difference in time, so one-off costs (afterlife opening
    every process, the final verdicts) cancel out. Returns (CPU per second,
    one-off CPU seconds, samples per second or None)."""
    c1, n1 = run_for(command(short), short, counter)
    c2, n2 = run_for(command(long), long, counter)
    per_second = (c2 - c1) / (long - short)
    rate = (n2 - n1) / (long - short) if counter else None
    return per_second, c1 - per_second * short, rate


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
    short = 3.0
    commands = {
        "afterlife watch": lambda d: [
            afterlife, "watch", "--interval", f"{interval}s", "--duration", f"{d}s", *map(str, pids)
        ],
        "ls /proc/PID/fd | wc -l loop": lambda d: loop_command("ls", pids, interval, counter),
        "lsof -p PID | wc -l loop": lambda d: loop_command("lsof", pids, interval, counter),
    }
    for label, command in commands.items():
        costs, starts, rates = [], [], []
        is_loop = label != "afterlife watch"
        for _ in range(trials):
            cost, start, rate = measure(command, short, short + seconds, counter if is_loop else None)
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
        print(f"  afterlife's one-off cost: {rows['afterlife watch']['start_cpu_seconds_median']:.3f} s CPU (opening every process, final verdicts)")
    return rows


def main():
    # On SIGTERM, unwind through the finally blocks: every process started
    # here is killed and reaped by its PID.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seconds-a", type=float, default=6.0)
    parser.add_argument("--seconds-b", type=float, default=5.0)
    args = parser.parse_args()
    for tool in ("lsof", "ls", "wc", "bash"):
        if shutil.which(tool) is None:
            sys.exit(f"benchmark needs {tool}: apt-get install lsof coreutils bash")
    afterlife = afterlife_binary.build()
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
        shutil.rmtree(os.path.dirname(counter), ignore_errors=True)
    path = os.path.join(out_dir, "watch_cost.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nresults written to {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
