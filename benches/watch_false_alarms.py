#!/usr/bin/env python3
"""False alarms and detections of afterlife watch on real processes.

Runs the fixture of tests/common/mod.rs (WATCH_FIXTURE) many times: steady
processes and sawtooths (0.5 s and 1 s cycles) must not be called leaking;
leaks of files, sockets, pipes, eventfds and memory must be, with the right
kind named. Each run watches for 3 s at 50 ms, as the tests do.

Usage: python3 benches/watch_false_alarms.py [--runs N] [--parallel P]
Results: printed, and written to target/bench/watch_false_alarms.json.
"""

import argparse
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import afterlife_binary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fixture_source():
    with open(os.path.join(ROOT, "tests", "common", "mod.rs")) as f:
        text = f.read()
    return re.search(r'pub const WATCH_FIXTURE: &str = r#"(.*?)"#;', text, re.S).group(1)


def one(afterlife, source, mode, extra):
    fixture = subprocess.Popen(
        [sys.executable, "-c", source, mode, "0" if mode in ("steady", "sawtooth") else "400", "0", *extra],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fixture.stdout.readline().strip() == "ready"
        out = subprocess.run(
            [afterlife, "--json", "watch", "--interval", "50ms", "--duration", "3s", str(fixture.pid)],
            capture_output=True,
            text=True,
        )
        summary = [json.loads(line) for line in out.stdout.splitlines() if '"event":"summary"' in line][0]
        process = summary["processes"][0]
        leaking = [v["metric"] for v in process["verdicts"] if v["verdict"] == "leaking"]
        return {"exit": out.returncode, "leaking_metrics": leaking, "leaking_kinds": process["leaking_kinds"]}
    finally:
        fixture.kill()
        fixture.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    afterlife = afterlife_binary.build()
    source = fixture_source()
    cases = {
        "steady": ("steady", [], None),
        "sawtooth 0.5 s": ("sawtooth", ["10"], None),
        "sawtooth 1 s": ("sawtooth", ["20"], None),
        "leak files": ("files", [], "file"),
        "leak sockets": ("sockets", [], "socket"),
        "leak pipes": ("pipes", [], "pipe"),
        "leak eventfds": ("eventfds", [], "eventfd"),
        "leak memory": ("memory", [], None),
    }
    results = {}
    with ThreadPoolExecutor(args.parallel) as pool:
        for name, (mode, extra, kind) in cases.items():
            runs = args.runs if not name.startswith("leak") else max(args.runs // 4, 3)
            outcomes = list(pool.map(lambda _: one(afterlife, source, mode, extra), range(runs)))
            if name.startswith("leak"):
                if kind:
                    right = sum(1 for o in outcomes if o["exit"] == 1 and o["leaking_kinds"] == [kind])
                else:
                    right = sum(1 for o in outcomes if o["exit"] == 1 and "rss" in o["leaking_metrics"])
                results[name] = {"runs": runs, "caught_with_the_right_kind": right}
                print(f"{name:16} caught {right}/{runs}")
            else:
                alarms = [o for o in outcomes if o["exit"] != 0]
                results[name] = {"runs": runs, "false_alarms": len(alarms), "alarms": alarms}
                print(f"{name:16} false alarms {len(alarms)}/{runs} {[a['leaking_metrics'] for a in alarms]}")
    os.makedirs(os.path.join(ROOT, "target", "bench"), exist_ok=True)
    path = os.path.join(ROOT, "target", "bench", "watch_false_alarms.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print(f"results written to {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
