#!/usr/bin/env python3
"""Benchmark `afterlife why` against what people run by hand to answer
"why does it not die": ps(1) for state and wchan, ps plus the signal masks
of /proc/PID/status, and psutil (status, threads, command line).

Builds afterlife in release mode, stages one stopped process with SIGTERM
pending, runs every tool on it in interleaved rounds, prints medians and
ratios, and writes them to target/bench-why.txt.

    python3 benches/why.py [ROUNDS]
"""

import os
import signal
import statistics
import subprocess
import sys
import time

import afterlife_binary
import peer_tools

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 200


def main():
    psutil = peer_tools.have_psutil()
    afterlife = afterlife_binary.build()
    fixture = subprocess.Popen(["sleep", "600"])
    pid = fixture.pid
    pidfd = os.pidfd_open(pid)
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGSTOP)
        while open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "T":
            time.sleep(0.005)
        signal.pidfd_send_signal(pidfd, signal.SIGTERM)
        tools = {
            "afterlife why --json": [afterlife, "why", "--json", str(pid)],
            "afterlife why (text)": [afterlife, "--color=never", "why", str(pid)],
            "ps -o stat,wchan": ["ps", "-o", "pid,stat,wchan:32,cmd", "-p", str(pid)],
            "ps + grep status": [
                "sh",
                "-c",
                f"ps -o pid,stat,wchan:32,cmd -p {pid}; grep -E 'State|TracerPid|Sig|ShdPnd|NSpid' /proc/{pid}/status",
            ],
            "psutil (python3)": [
                sys.executable,
                "-c",
                f"import psutil; p = psutil.Process({pid}); print(p.status(), p.cmdline(), [t.id for t in p.threads()])",
            ],
        }
        if not psutil:
            del tools["psutil (python3)"]
        times = {name: [] for name in tools}
        for _ in range(ROUNDS):
            for name, command in tools.items():
                start = time.perf_counter()
                subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                times[name].append(time.perf_counter() - start)
    finally:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        fixture.wait()
        os.close(pidfd)
    base = statistics.median(times["afterlife why --json"])
    lines = [f"afterlife why benchmark: {ROUNDS} rounds, one stopped process with SIGTERM pending"]
    lines.append(f"{'tool':<24} {'median ms':>10} {'ratio to why --json':>20}")
    for name, samples in times.items():
        median = statistics.median(samples)
        lines.append(f"{name:<24} {median * 1000:>10.2f} {median / base:>20.2f}")
    report = "\n".join(lines)
    print(report)
    os.makedirs(os.path.join(ROOT, "target"), exist_ok=True)
    with open(os.path.join(ROOT, "target", "bench-why.txt"), "w") as out:
        out.write(report + "\n")


if __name__ == "__main__":
    main()
