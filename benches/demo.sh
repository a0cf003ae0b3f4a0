#!/usr/bin/env bash
# `afterlife demo`: wall time of the whole demo (18 scenarios) and of each
# scenario, medians over repeated trials, against the 30 s budget.
# No peer runs these scenarios; the budget is the yardstick.
#
# Usage: benches/demo.sh [TRIALS]   (default 5)
# Writes target/bench-demo.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

trials="${1:-5}"
bin=$(python3 benches/afterlife_binary.py)
out=target/bench-demo.txt
runs=()
for i in $(seq 1 "$trials"); do
    file=$(mktemp)
    "$bin" demo --json > "$file" || { echo "trial $i: a check did not hold (exit $?)" >&2; }
    runs+=("$file")
done

python3 - "$trials" "$out" "${runs[@]}" <<'PY'
import json, statistics, sys
trials, out, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
reports = [json.load(open(f)) for f in files]
total = statistics.median(r["duration_seconds"] for r in reports)
lines = [
    f"afterlife demo, release build, {trials} trials, {reports[0]['machine']['kernel']}",
    f"whole demo (18 scenarios, 4 at a time): median {total:.2f} s; budget 30 s; ratio {total / 30:.3f}",
    f"every check held in {sum(all(c['held'] for s in r['scenarios'] for run in s['runs'] for c in run['checks']) for r in reports)} of {trials} trials",
    "",
    f"{'#':>2}  {'scenario':<16} median s",
]
for i, s in enumerate(reports[0]["scenarios"]):
    median = statistics.median(r["scenarios"][i]["duration_seconds"] for r in reports)
    lines.append(f"{s['id']:>2}  {s['name']:<16} {median:.3f}")
text = "\n".join(lines)
print(text)
open(out, "w").write(text + "\n")
PY
rm -f "${runs[@]}"
