#!/usr/bin/env python3
"""The watch loop's own CPU with many processes.

Starts N sleepers (a copy of `sleep` named `wpsleep`, so that `--name`
finds them alone) under one parent (its own session, ended by its process
group at the end), then runs afterlife watching them at 1 s — as PIDs, as
`--tree` of the parent and as `--name wpsleep` — ROUNDS times each, the
order of the columns alternating between rounds. The cost is the watch
process's utime + stime from /proc/PID/stat over 28 s of steady state
(after 8 s of start-up), as a share of one core.

Columns: "one pass" is AFTERLIFE with its BPF iterators (root);
"files" the same binary with `AFTERLIFE_PROC_WALK=1` (each process's
files); with `--baseline OLD`, "before" is another build with its
iterators, and "files" is left out unless `--files` is given.

Usage: python3 benches/watch_passes.py AFTERLIFE [N] [ROUNDS]
           [--baseline OLD] [--files] [--modes pids,tree,name]
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


def start_sleepers(n, sleeper):
    script = (
        "import subprocess, time\n"
        f"ps = [subprocess.Popen([{sleeper!r}, '900']) for _ in range({n})]\n"
        "print(' '.join(str(p.pid) for p in ps), flush=True)\n"
        "time.sleep(900)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    return parent, parent.stdout.readline().split()


def share_of_a_core(exe, targets, files=False):
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
    import argparse
    import shutil
    import tempfile

    ap = argparse.ArgumentParser()
    ap.add_argument("exe")
    ap.add_argument("n", nargs="?", type=int, default=1000)
    ap.add_argument("rounds", nargs="?", type=int, default=2)
    ap.add_argument("--baseline")
    ap.add_argument("--files", action="store_true")
    ap.add_argument("--modes", default="pids,tree,name")
    args = ap.parse_args()
    columns = {"one pass": (args.exe, False)}
    if args.baseline:
        columns["before"] = (args.baseline, False)
    if args.files or not args.baseline:
        columns["files"] = (args.exe, True)
    with tempfile.TemporaryDirectory() as tmp:
        sleeper = os.path.join(tmp, "wpsleep")
        shutil.copy(shutil.which("sleep"), sleeper)
        parent, pids = start_sleepers(args.n, sleeper)
        try:
            modes = {"pids": pids, "tree": ["--tree", str(parent.pid)], "name": ["--name", "wpsleep"]}
            for mode in args.modes.split(","):
                targets = modes[mode]
                results = {key: [] for key in columns}
                for r in range(args.rounds):
                    order = list(columns) if r % 2 == 0 else list(reversed(columns))
                    for key in order:
                        exe, files = columns[key]
                        results[key].append(share_of_a_core(exe, targets, files))
                for key, values in results.items():
                    print(
                        f"{mode:5} {key:9} median {statistics.median(values):.3f}% of a core  "
                        f"{[round(v, 2) for v in values]}",
                        flush=True,
                    )
        finally:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait()


if __name__ == "__main__":
    main()
