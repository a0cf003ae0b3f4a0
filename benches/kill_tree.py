#!/usr/bin/env python3
"""Benchmark: end a tree of about 1,000 processes, side by side.

Each trial builds a fresh tree with benches/kill_tree_gen.sh (sleeping, busy,
TERM-ignoring, setsid children, one live fork loop) inside a cgroup v2 leaf
made for the trial, snapshots its members, opens a pidfd on each, launches
one tool, and polls the pidfds until every original member has exited. A
member still alive 1.5 s after the tool returned counts as a survivor.
Whatever a tool leaves is ended through the leaf's cgroup.kill, and the leaf
is removed, so every run ends with nothing left running.

Tools (all with SIGKILL, so that no grace period is measured):
  afterlife kill --tree --signal KILL --no-cgroup   (freeze, then kill)
  afterlife kill --tree --signal KILL               (the tree is exactly the
                                                     leaf: cgroup.kill)
  the same two with AFTERLIFE_PROC_WALK=1            (the process table read
                                                     from /proc, not by the
                                                     BPF task iterator)
  kill -KILL -- -PGID
  pkill -KILL -s SID
  psutil: children(recursive=True), kill each, then the parent
  the kernel alone: one write of the leaf's cgroup.kill (no tool reads the
                    tree or reports on it; the floor of a complete kill)

Usage: python3 benches/kill_tree.py [--trials N] [--afterlife BIN]
           [--baseline OLD] [--only 'proc scan,PGID']   (needs root for cgroups)
Results: printed, and written to target/bench/kill_tree.{json,txt}.
"""

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATOR = os.path.join(REPO, "benches", "kill_tree_gen.sh")
import afterlife_binary
import peer_tools

AFTERLIFE = None  # set by main() once built
SETTLE = 1.5  # seconds after the tool returns before survivors are counted
CAP = 30.0  # seconds: a trial never measures longer than this

PSUTIL_KILL = """
import sys, psutil
parent = psutil.Process(int(sys.argv[1]))
children = parent.children(recursive=True)
for child in children:
    try:
        child.kill()
    except psutil.NoSuchProcess:
        pass
parent.kill()
psutil.wait_procs(children + [parent], timeout=5)
"""


def v2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    sys.exit("no cgroup v2 mount: the benchmark needs one to clean up after every trial")


class Leaf:
    """A cgroup v2 leaf holding one trial's tree."""

    def __init__(self, name):
        self.path = os.path.join(v2_mount(), name)
        os.mkdir(self.path)

    def procs(self):
        pids = []
        for directory, _, files in os.walk(self.path):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(directory, "cgroup.procs")) as f:
                        pids.extend(int(line) for line in f if line.strip())
                except FileNotFoundError:
                    pass
        return pids

    def populated(self):
        with open(os.path.join(self.path, "cgroup.events")) as f:
            return "populated 1" in f.read()

    def destroy(self):
        deadline = time.monotonic() + 20
        while self.populated() and time.monotonic() < deadline:
            with open(os.path.join(self.path, "cgroup.kill"), "w") as f:
                f.write("1")
            time.sleep(0.02)
        if self.populated():
            print(f"warning: {self.path} still populated", file=sys.stderr)
            return
        os.rmdir(self.path)


def build_tree(leaf, minimum=1000):
    root = subprocess.Popen(
        ["bash", "-c", 'echo $$ > "$1/cgroup.procs" && exec bash "$2"', "_", leaf.path, GENERATOR],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    root.stdout.readline()
    deadline = time.monotonic() + 60
    while len(leaf.procs()) < minimum:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the tree did not reach {minimum} processes")
        time.sleep(0.05)
    time.sleep(0.3)
    return root


def snapshot(leaf):
    """A pidfd for every process in the leaf now."""
    fds = {}
    for pid in leaf.procs():
        try:
            fds[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            pass
    return fds


def measure(fds, command, env=None):
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    remaining = set(fds)
    deaths = []
    start = time.monotonic()
    tool = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    # The tool's own exit wakes the poll too: without it, a tool that
    # returns after the last death was seen up to one poll timeout late.
    tool_fd = os.pidfd_open(tool.pid)
    poller.register(tool_fd, select.POLLIN)
    tool_done = None
    while remaining or tool_done is None:
        now = time.monotonic()
        if tool_done is not None and now - start > tool_done + SETTLE:
            break
        if now - start > CAP:
            break
        for fd, _ in poller.poll(20):
            at = time.monotonic() - start
            if fd == tool_fd:
                poller.unregister(fd)
                tool.wait()
                tool_done = at
            elif fd in remaining:
                remaining.discard(fd)
                poller.unregister(fd)
                deaths.append(at)
    if tool_done is None:
        tool.wait()
        tool_done = time.monotonic() - start
    os.close(tool_fd)
    for fd in fds:
        os.close(fd)
    return {
        "members": len(fds),
        "survivors": len(remaining),
        "all_gone_s": max(deaths) if not remaining and deaths else None,
        "last_death_s": max(deaths) if deaths else None,
        "tool_s": tool_done,
    }


PROC_SCAN = dict(os.environ, AFTERLIFE_PROC_WALK="1")


BASELINE = None  # another build, measured beside AFTERLIFE with --baseline
ONLY = None  # the tools whose name holds one of these, with --only
KERNEL_ALONE = "the kernel alone: cgroup.kill"
PSUTIL = True  # whether psutil could be imported (else its row is left out)


def tools(root, pgid, sid, leaf=""):
    """Each tool's command, and for some the environment it runs in; with
    a baseline, each afterlife row once more with that build ("before")."""
    all_tools = every_tool(root, pgid, sid, leaf)
    if BASELINE:
        for name, command in list(all_tools.items()):
            if name.startswith("afterlife"):
                cmd, env = command if isinstance(command, tuple) else (command, None)
                all_tools[f"{name} before"] = ([BASELINE, *cmd[1:]], env)
    if ONLY:
        all_tools = {n: c for n, c in all_tools.items() if any(o in n for o in ONLY)}
    if not PSUTIL:
        all_tools = {n: c for n, c in all_tools.items() if not n.startswith("psutil")}
    return all_tools


def every_tool(root, pgid, sid, leaf):
    return {
        "afterlife --tree (freeze)": [AFTERLIFE, "kill", "--tree", "--signal", "KILL", "--no-cgroup", str(root)],
        "afterlife --tree (cgroup)": [AFTERLIFE, "kill", "--tree", "--signal", "KILL", str(root)],
        "afterlife (freeze, /proc scan)": (
            [AFTERLIFE, "kill", "--tree", "--signal", "KILL", "--no-cgroup", str(root)],
            PROC_SCAN,
        ),
        "afterlife (cgroup, /proc scan)": ([AFTERLIFE, "kill", "--tree", "--signal", "KILL", str(root)], PROC_SCAN),
        "kill -- -PGID": ["bash", "-c", f"kill -KILL -- -{pgid}"],
        "pkill -s SID": ["pkill", "-KILL", "-s", str(sid)],
        "psutil children(recursive=True)": [sys.executable, "-c", PSUTIL_KILL, str(root)],
        KERNEL_ALONE: ["sh", "-c", 'echo 1 > "$1/cgroup.kill"', "_", leaf],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--afterlife", help="the binary to measure (default: a release build of this tree)")
    parser.add_argument("--baseline", help="another build, measured beside it in every trial")
    parser.add_argument("--only", help="comma-separated parts of tool names to keep (e.g. 'proc scan,PGID')")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the benchmark needs root (it creates cgroup v2 leaves)")
    global AFTERLIFE, BASELINE, ONLY, PSUTIL
    AFTERLIFE = args.afterlife or afterlife_binary.build()
    BASELINE = args.baseline
    ONLY = args.only.split(",") if args.only else None
    if any(n.startswith("psutil") for n in tools(0, 0, 0)):
        PSUTIL = peer_tools.have_psutil()

    names = list(tools(0, 0, 0))
    results = {name: [] for name in names}
    for trial in range(args.trials):
        # Rotate the order so that no tool always runs first.
        order = names[trial % len(names):] + names[:trial % len(names)]
        for name in order:
            leaf = Leaf(f"afterlife-bench-{os.getpid()}-{trial}")
            root = None
            try:
                root = build_tree(leaf)
                fds = snapshot(leaf)
                command = tools(root.pid, os.getpgid(root.pid), os.getsid(root.pid), leaf.path)[name]
                env = None
                if isinstance(command, tuple):
                    command, env = command
                result = measure(fds, command, env)
                results[name].append(result)
                gone = f"{result['all_gone_s']:.3f}s" if result["all_gone_s"] is not None else "—"
                print(
                    f"trial {trial + 1} {name:34} members {result['members']:5}  "
                    f"survivors {result['survivors']:4}  all gone {gone:>7}  "
                    f"last death {result['last_death_s'] or 0:.3f}s  tool {result['tool_s']:.3f}s",
                    flush=True,
                )
            finally:
                leaf.destroy()
                if root is not None:
                    root.wait()

    summary = {}
    for name, runs in results.items():
        gone = [r["all_gone_s"] for r in runs if r["all_gone_s"] is not None]
        summary[name] = {
            "trials": len(runs),
            "members_median": statistics.median(r["members"] for r in runs),
            "survivors": [r["survivors"] for r in runs],
            "trials_with_zero_survivors": sum(1 for r in runs if r["survivors"] == 0),
            "all_gone_median_s": statistics.median(gone) if len(gone) == len(runs) else None,
            "last_death_median_s": statistics.median(r["last_death_s"] or 0 for r in runs),
            "tool_median_s": statistics.median(r["tool_s"] for r in runs),
        }
    # The kernel alone is the floor, not a peer: no tool does only that.
    peers = [n for n in names if not n.startswith(("afterlife", KERNEL_ALONE))]
    # A peer's time is when the last process it ended was gone (it may have
    # left survivors); the fastest peer by that measure is the reference.
    fastest = min(peers, key=lambda n: summary[n]["last_death_median_s"]) if peers else None
    reference = summary[fastest]["last_death_median_s"] if fastest else None
    floor = summary.get(KERNEL_ALONE, {}).get("last_death_median_s")
    lines = [
        f"{'tool':34} {'members':>7} {'zero-survivor trials':>20} {'survivors/trial':>16} "
        f"{'all gone (median)':>17} {'last death (median)':>19} {'returned (median)':>17} "
        f"{'ratio':>6} {'returned ratio':>14} {'x kernel alone':>14}"
    ]
    for name in names:
        s = summary[name]
        gone = f"{s['all_gone_median_s']:.3f}s" if s["all_gone_median_s"] is not None else "never"
        ratio = s["last_death_median_s"] / reference if reference else float("nan")
        # What the performance round's targets compare: when the tool
        # returned, over the fastest peer's last death.
        returned = max(s["tool_median_s"], s["last_death_median_s"])
        returned_ratio = returned / reference if reference else float("nan")
        over_floor = s["last_death_median_s"] / floor if floor else float("nan")
        s["ratio_to_fastest_peer"] = ratio
        s["returned_ratio_to_fastest_peer"] = returned_ratio
        s["ratio_to_kernel_alone"] = over_floor
        lines.append(
            f"{name:34} {s['members_median']:7.0f} {s['trials_with_zero_survivors']:>14}/{s['trials']:<5} "
            f"{','.join(map(str, s['survivors'])):>16} {gone:>17} {s['last_death_median_s']:18.3f}s "
            f"{s['tool_median_s']:16.3f}s {ratio:6.2f} {returned_ratio:14.2f} {over_floor:14.2f}"
        )
    lines.append(f"ratio: median last-death time over that of the fastest peer ({fastest})")
    lines.append(
        "returned ratio: the later of the tool's return and its last death, over that peer's last death"
    )
    lines.append(f"x kernel alone: median last-death time over that of one write of cgroup.kill ({KERNEL_ALONE})")
    text = "\n".join(lines)
    print()
    print(text)
    out = os.path.join(REPO, "target", "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "kill_tree.json"), "w") as f:
        json.dump({"summary": summary, "runs": results, "fastest_peer": fastest}, f, indent=2)
    with open(os.path.join(out, "kill_tree.txt"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
