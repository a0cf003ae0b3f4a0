#!/usr/bin/env python3
"""The watch loop's own CPU with many processes: the kernel's counts in one
pass (the BPF sample and task iterators) against each process's files.

Starts N `sleep`s under one parent (its own session, ended by its process
group at the end), then runs the same afterlife binary watching them at
1 s — as PIDs, then as `--tree` of the parent — with the iterators on and
off (`AFTERLIFE_PROC_WALK=1`), in turn, ROUNDS times each. The cost is the
watch process's utime + stime from /proc/PID/stat over 28 s of steady state
(after 8 s of start-up), as a share of one core. Needs root for the
iterators (without it both rows read the files).

Usage: python3 benches/watch_passes.py AFTERLIFE [N] [ROUNDS]
"""

import os
import signal
import statistics
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start_sleepers(n):
    script = (
        "import subprocess, time\n"
        f"ps = [subprocess.Popen(['sleep', '900']) for _ in range({n})]\n"
        "print(' '.join(str(p.pid) for p in ps), flush=True)\n"
        "time.sleep(900)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    return parent, parent.stdout.readline().split()


def share_of_a_core(exe, targets, files):
    env = dict(os.environ)
    if files:
        env["AFTERLIFE_PROC_WALK"] = "1"
    watch = subprocess.Popen(
        [exe, "watch", "--interval", "1s", "--duration", "40s", *targets],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        time.sleep(8)
        c0, t0 = cpu_seconds(watch.pid), time.monotonic()
        time.sleep(28)
        c1, t1 = cpu_seconds(watch.pid), time.monotonic()
    finally:
        watch.kill()
        watch.wait()
    return 100 * (c1 - c0) / (t1 - t0)


def main():
    exe = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    parent, pids = start_sleepers(n)
    try:
        for mode, targets in [("pids", pids), ("tree", ["--tree", str(parent.pid)])]:
            results = {"one pass": [], "files": []}
            for r in range(rounds):
                order = ["one pass", "files"] if r % 2 == 0 else ["files", "one pass"]
                for key in order:
                    results[key].append(share_of_a_core(exe, targets, key == "files"))
            for key, values in results.items():
                print(f"{mode:5} {key:9} median {statistics.median(values):.3f}% of a core  {[round(v, 2) for v in values]}")
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


if __name__ == "__main__":
    main()
