#!/usr/bin/env python3
"""Benchmarks of `afterlife run` and `afterlife timeout` against coreutils
`timeout`, side by side in one run:

1. Overhead: `afterlife run -- true`, `afterlife timeout 60 true` and
   `timeout 60 true`, whole process, medians of many runs (hyperfine when
   installed, else our own loop).
2. Deadline to all-dead for a 200-process tree with escapees: 100 plain
   background children, 50 `setsid` daemons that obey TERM and 50 `setsid`
   daemons that ignore it, under `timeout -k 0.5 1` and
   `afterlife timeout -k 0.5 1`: time from the deadline until the tool
   exits, and how many of the tree's processes are still alive then.

Usage: python3 benches/run_timeout.py [--runs N] [--trials N]
Writes target/bench-run-timeout.json.
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
import afterlife_binary

AFTERLIFE = None  # set by build()
TIMEOUT = shutil.which("timeout") or "/usr/bin/timeout"

TREE = r"""
for i in $(seq 1 100); do sleep 60 & done
for i in $(seq 1 50); do ( setsid sleep 60 & ); done
for i in $(seq 1 50); do ( setsid sh -c 'trap "" TERM; exec sleep 60' & ); done
wait
"""


def build():
    global AFTERLIFE
    AFTERLIFE = afterlife_binary.build()


def overhead(runs):
    commands = {
        "timeout 60 true": [TIMEOUT, "60", "true"],
        "afterlife timeout 60 true": [AFTERLIFE, "timeout", "60", "true"],
        "afterlife run -- true": [AFTERLIFE, "run", "--", "true"],
    }
    medians = {}
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as export:
            args = ["hyperfine", "-N", "--warmup", "20", "--runs", str(runs), "--export-json", export.name]
            args += [" ".join(c) for c in commands.values()]
            subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
            data = json.load(open(export.name))
        for name, result in zip(commands, data["results"]):
            medians[name] = result["median"] * 1000
        tool = "hyperfine -N"
    else:
        samples = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                start = time.perf_counter()
                subprocess.run(command, check=True)
                samples[name].append((time.perf_counter() - start) * 1000)
        medians = {name: statistics.median(s) for name, s in samples.items()}
        tool = "own loop (subprocess)"
    return tool, medians


def tree_processes(marker):
    """PIDs of live processes carrying our marker in their environment."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    with open(f"/proc/{entry}/stat") as s:
                        state = s.read().rsplit(") ", 1)[1][0]
                    if state not in "ZX":
                        found.append(int(entry))
        except OSError:
            continue  # ended while we looked
    return found


def end(pids):
    """Kills leftovers through pidfds, never a bare PID."""
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(fd)


def tree_trial(tool, trial):
    marker_value = f"{tool.replace(' ', '_')}-{trial}-{os.getpid()}"
    marker = f"AFTERLIFE_BENCH={marker_value}".encode()
    env = dict(os.environ, AFTERLIFE_BENCH=marker_value)
    if tool == "timeout -k":
        command = [TIMEOUT, "-k", "0.5", "1", "sh", "-c", TREE]
    else:
        command = [AFTERLIFE, "timeout", "-k", "0.5", "1", "sh", "-c", TREE]
    deadline = 1.0
    start = time.perf_counter()
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    survivors = tree_processes(marker)
    end(survivors)
    for _ in range(200):
        if not tree_processes(marker):
            break
        time.sleep(0.01)
    code = result.returncode if result.returncode >= 0 else 128 - result.returncode
    return {"exit": code, "after_deadline_ms": (elapsed - deadline) * 1000, "survivors": len(survivors)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    build()
    tool, medians = overhead(args.runs)
    base = medians["timeout 60 true"]
    print(f"overhead ({tool}, {args.runs} runs, medians):")
    for name, ms in medians.items():
        print(f"  {name:28s} {ms:7.3f} ms  x{ms / base:.2f}  (+{ms - base:.3f} ms)")
    trials = {"timeout -k": [], "afterlife timeout -k": []}
    for trial in range(args.trials):
        for name in trials:
            trials[name].append(tree_trial(name, trial))
    print(f"200-process tree with 100 setsid escapees, deadline 1s, kill-after 0.5s ({args.trials} trials, medians):")
    summary = {}
    for name, results in trials.items():
        summary[name] = {
            "after_deadline_ms": statistics.median(r["after_deadline_ms"] for r in results),
            "survivors": statistics.median(r["survivors"] for r in results),
            "exit_codes": sorted({r["exit"] for r in results}),
        }
        s = summary[name]
        print(f"  {name:22s} exits {s['after_deadline_ms']:7.1f} ms after the deadline, "
              f"{s['survivors']:.0f} of 200 still alive, exit {s['exit_codes']}")
    output = {
        "machine": {"cores": os.cpu_count(), "kernel": os.uname().release},
        "overhead": {"tool": tool, "runs": args.runs, "median_ms": medians,
                     "ratio_to_timeout": {n: m / base for n, m in medians.items()}},
        "tree": {"trials": args.trials, "results": trials, "medians": summary},
    }
    os.makedirs(os.path.join(ROOT, "target"), exist_ok=True)
    path = os.path.join(ROOT, "target", "bench-run-timeout.json")
    with open(path, "w") as f:
        json.dump(output, f, indent=2)
    print(f"written to {path}")


if __name__ == "__main__":
    sys.exit(main())
