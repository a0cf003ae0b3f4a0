#!/usr/bin/env python3
"""afterlife as cargo-nextest's wrapper script, against nextest alone:

1. Which leaks each catches, on the fixture crate tests/fixtures/leaky
   (three clean tests; six leaky ones: (a) a child keeps the test's stdout,
   (b) a setsid daemon with stdio closed, (c) a double fork on /dev/null,
   (d) a child left listening on a port, (e) a SysV segment left, (f) a
   file left in the temp dir). nextest alone runs inside an outer
   `afterlife run --remove-ipc --tmpdir`, which ends and removes what the
   tests leaked once the run is over.
2. False alarms: N empty tests (default 1,000) under the wrapper while two
   busy loops keep both cores busy: how many afterlife reports as leaky
   (exit 121), and how many nextest's own leak detector flags in the same
   run.
3. Overhead: the same empty tests one at a time (-j 1), with and without
   the wrapper, the configurations in turn in each trial: the median of
   nextest's per-test times, and the wall time per test. `--baseline PATH`
   adds the wrapper with another afterlife binary (an earlier build) to
   each trial, for a before/after pair measured in the same minutes;
   `--busy N` keeps N busy loops running through the trials (a loaded
   machine, where every hand-off between processes waits for a core).

Usage: python3 benches/nextest_leaks.py [--empty N] [--trials N] [--afterlife PATH]
                                        [--baseline PATH] [--busy N] [--overhead-only]
Writes target/bench-nextest-leaks.json.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import afterlife_binary  # noqa: E402

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "leaky")
WORK = os.path.join(ROOT, "target", "bench-nextest")
STATUS = re.compile(r"^\s+(\S+)\s+\[\s*([0-9.]+)s\]\s+(?:\(\s*\d+/\d+\)\s+)?\S+\s+(\S+)$")
LEAKY = ["a_child_keeps_stdout", "b_setsid_daemon", "c_double_fork",
         "d_listening_port", "e_sysv_segment", "f_temp_file"]


def config(path, afterlife, containment=None):
    """A nextest config: with the afterlife wrapper, or empty."""
    forced = f"'--containment', '{containment}', " if containment else ""
    with open(path, "w") as f:
        if afterlife:
            f.write('experimental = ["wrapper-scripts"]\n\n[scripts.wrapper.afterlife]\n'
                    f"command = ['{afterlife}', 'run', {forced}'--fail-on-leftovers', '--tmpdir', '--']\n\n"
                    "[[profile.default.scripts]]\nfilter = 'all()'\nrun-wrapper = 'afterlife'\n")
    return path


def cargo_env():
    """The tests are built for the host's triple (glibc), as a project
    outside this repository builds them, not for the musl target this
    repository's cargo configuration names."""
    host = next(line.split(": ", 1)[1] for line in
                subprocess.run(["rustc", "-vV"], stdout=subprocess.PIPE, text=True, check=True).stdout.splitlines()
                if line.startswith("host: "))
    return dict(os.environ, CARGO_TARGET_DIR=os.path.join(WORK, "target"), CARGO_BUILD_TARGET=host)


def nextest(crate, config_file, extra=(), outer=None, success="never"):
    """Runs cargo nextest on `crate`; returns (seconds, statuses, text):
    statuses maps a test to [(status, seconds)]."""
    command = ["cargo", "nextest", "run", "--offline", "--no-fail-fast", "--color", "never",
               "--success-output", success, "--failure-output", "immediate",
               "--status-level", "all", "--final-status-level", "none",
               "--config-file", config_file, *extra]
    if outer:
        command = [outer, "run", "--remove-ipc", "--tmpdir", "--", *command]
    env = cargo_env()
    start = time.monotonic()
    done = subprocess.run(command, cwd=crate, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    seconds = time.monotonic() - start
    statuses = {}
    for line in done.stdout.splitlines():
        m = STATUS.match(line)
        if m and m.group(1).isupper():
            statuses.setdefault(m.group(3), []).append((m.group(1), float(m.group(2))))
    return seconds, statuses, done.stdout


def build(crate):
    env = cargo_env()
    subprocess.run(["cargo", "nextest", "list", "--offline"], cwd=crate, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def empty_crate(n):
    crate = os.path.join(WORK, f"empty-{n}")
    os.makedirs(os.path.join(crate, "src"), exist_ok=True)
    with open(os.path.join(crate, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "empty-tests"\nversion = "0.1.0"\nedition = "2024"\n\n[workspace]\n')
    with open(os.path.join(crate, "src", "lib.rs"), "w") as f:
        f.write("#[cfg(test)]\nmod tests {\n")
        for i in range(n):
            f.write(f"    #[test]\n    fn t{i:05}() {{}}\n")
        f.write("}\n")
    return crate


def detection(afterlife):
    alone = config(os.path.join(WORK, "alone.toml"), None)
    wrapped = config(os.path.join(WORK, "wrapped.toml"), afterlife)
    build(FIXTURE)
    # The outer afterlife ends the leaked processes and removes the temp
    # files; the segment's creator (the test process) has ended before it
    # looks, which it tells only as root (with a PID namespace), so the
    # segment is also removed here, by the id the test printed.
    _, by_alone, alone_text = nextest(FIXTURE, alone, outer=afterlife, success="immediate")
    for segment in re.findall(r"^\s*segment (\d+)$", alone_text, re.M):
        subprocess.run(["ipcrm", "-m", segment], stderr=subprocess.DEVNULL)
    _, by_wrapper, text = nextest(FIXTURE, wrapped)
    rows = []
    for test in sorted(set(by_alone) | set(by_wrapper)):
        name = test.removeprefix("tests::")
        rows.append({
            "test": name,
            "nextest": by_alone.get(test, [("?", 0)])[0][0],
            "nextest_with_afterlife": by_wrapper.get(test, [("?", 0)])[0][0],
        })
    named = text.count("leaked ")
    return rows, named


def busy_loops(count):
    """`count` processes spinning on a core each; kill and wait them when done."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def false_alarms(afterlife, crate):
    wrapped = config(os.path.join(WORK, "wrapped.toml"), afterlife)
    hogs = busy_loops(2)
    try:
        seconds, statuses, text = nextest(crate, wrapped)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    firsts = [s[0][0] for s in statuses.values()]
    return {
        "tests": len(statuses),
        "seconds": round(seconds, 1),
        "afterlife_leaks": text.count("(exit 121)"),
        "failed": sum(1 for s in firsts if s == "FAIL"),
        "nextest_leaks": sum(1 for s in firsts if s.startswith("LEAK")),
        "passed": sum(1 for s in firsts if s == "PASS"),
    }


def overhead(afterlife, crate, trials, baseline=None, busy=0):
    configs = [
        ("alone", config(os.path.join(WORK, "alone.toml"), None)),
        ("wrapped", config(os.path.join(WORK, "wrapped.toml"), afterlife)),
        ("wrapped_subreaper", config(os.path.join(WORK, "subreaper.toml"), afterlife, "subreaper")),
    ]
    if baseline:
        configs.append(("wrapped_baseline", config(os.path.join(WORK, "baseline.toml"), baseline)))
    result = {kind: [] for kind, _ in configs}
    hogs = busy_loops(busy)
    try:
        trial_runs(crate, configs, trials, result)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    return summarize(result, baseline)


def trial_runs(crate, configs, trials, result):
    """Each configuration in turn, `trials` times; per run the median of
    nextest's per-test times and the wall time per test."""
    for _ in range(trials):
        for kind, cfg in configs:
            seconds, statuses, _ = nextest(crate, cfg, extra=["-j", "1"])
            times = [s[0][1] for s in statuses.values()]
            result[kind].append({
                "median_ms": statistics.median(times) * 1000,
                "wall_per_test_ms": seconds * 1000 / max(len(times), 1),
                "tests": len(times),
            })


def summarize(result, baseline):
    summary = {}
    for kind, runs in result.items():
        summary[kind] = {
            "median_ms": statistics.median(r["median_ms"] for r in runs),
            "wall_per_test_ms": statistics.median(r["wall_per_test_ms"] for r in runs),
        }
    summary["added_median_ms"] = summary["wrapped"]["median_ms"] - summary["alone"]["median_ms"]
    summary["added_wall_per_test_ms"] = (summary["wrapped"]["wall_per_test_ms"]
                                         - summary["alone"]["wall_per_test_ms"])
    summary["added_median_subreaper_ms"] = (summary["wrapped_subreaper"]["median_ms"]
                                            - summary["alone"]["median_ms"])
    if baseline:
        summary["added_median_baseline_ms"] = (summary["wrapped_baseline"]["median_ms"]
                                               - summary["alone"]["median_ms"])
    summary["runs"] = result
    return summary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--empty", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--afterlife")
    parser.add_argument("--baseline", help="another afterlife binary to measure beside it")
    parser.add_argument("--busy", type=int, default=0, help="busy loops during the overhead trials")
    parser.add_argument("--overhead-only", action="store_true")
    args = parser.parse_args()
    if not shutil.which("cargo-nextest"):
        raise SystemExit("cargo-nextest is not installed")
    afterlife = args.afterlife or afterlife_binary.build()
    os.makedirs(WORK, exist_ok=True)
    version = subprocess.run(["cargo", "nextest", "--version"], stdout=subprocess.PIPE, text=True).stdout
    print(version.splitlines()[0])

    rows, named, alarms = [], None, None
    if not args.overhead_only:
        rows, named = detection(afterlife)
        print("\n| test | nextest alone | nextest + afterlife wrapper |\n|---|---|---|")
        for row in rows:
            print(f"| {row['test']} | {row['nextest']} | {row['nextest_with_afterlife']} |")
        print(f"(leftovers named by the wrapper: {named})")

    crate = empty_crate(args.empty)
    build(crate)
    if not args.overhead_only:
        alarms = false_alarms(afterlife, crate)
        print(f"\nfalse alarms, {alarms['tests']} empty tests, both cores busy: "
              f"afterlife {alarms['afterlife_leaks']} leaks ({alarms['failed']} failed), "
              f"nextest's detector {alarms['nextest_leaks']} leaky, in {alarms['seconds']} s")

    load = os.getloadavg()[0]
    cost = overhead(afterlife, crate, args.trials, args.baseline, args.busy)
    cost["busy_loops"] = args.busy
    cost["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    print(f"\noverhead per test (-j 1, {args.trials} trials of {args.empty}, {args.busy} busy loops): "
          f"nextest alone median "
          f"{cost['alone']['median_ms']:.2f} ms, wall {cost['alone']['wall_per_test_ms']:.2f} ms; "
          f"with the wrapper median {cost['wrapped']['median_ms']:.2f} ms, wall "
          f"{cost['wrapped']['wall_per_test_ms']:.2f} ms; added {cost['added_median_ms']:.2f} ms "
          f"(median), {cost['added_wall_per_test_ms']:.2f} ms (wall); with --containment subreaper "
          f"median {cost['wrapped_subreaper']['median_ms']:.2f} ms, wall "
          f"{cost['wrapped_subreaper']['wall_per_test_ms']:.2f} ms")
    print(f"load average at the start and the end: {cost['load_average']}")
    if args.baseline:
        print(f"baseline {args.baseline}: median {cost['wrapped_baseline']['median_ms']:.2f} ms, wall "
              f"{cost['wrapped_baseline']['wall_per_test_ms']:.2f} ms; added "
              f"{cost['added_median_baseline_ms']:.2f} ms (median)")

    out = os.path.join(ROOT, "target", "bench-nextest-leaks.json")
    with open(out, "w") as f:
        json.dump({"nextest": version.strip(), "detection": rows, "named": named,
                   "false_alarms": alarms, "overhead": cost}, f, indent=2)
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
