#!/usr/bin/env bash
# The Windows figures of docs/BENCHMARKS.md, measured under Wine with the
# release build (scripts/windows-build.sh):
#  - kill --tree of a 40-process tree (afterlife's hidden child mode
#    `__child tree 3 3`: 1 + 3 + 9 + 27 processes), survivors and time,
#    beside taskkill /T /F (and taskkill /F, the root alone); times are
#    wall clock from Linux, each including one Wine process start;
#  - run -- cmd /c exit 0 against cmd /c exit 0 alone.
# ROUNDS (default 7) rounds each; medians.
source "$(dirname "$0")/windows-env.sh"
rounds="${1:-7}"
exe="$windows_target_dir/$windows_target/release/afterlife.exe"
[ -f "$exe" ] || bash "$root/scripts/windows-build.sh" >/dev/null
windows_prefix
wine=/usr/lib/wine/wine64
"$wine" cmd /c exit 0 # start the wineserver once, outside the timings

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Linux processes of the tree (Wine runs each Windows process as one, its
# command line the Windows one: afterlife.exe, never the Linux afterlife).
pattern='afterlife\.exe __child tree'
members() { pgrep -fc "$pattern" || true; }

tree_kill() { # $1: afterlife | taskkill-tree | taskkill
    local out="$windows_target_dir/bench-tree.out" root count started ended
    "$wine" "$exe" __child tree 3 3 >"$out" &
    for _ in $(seq 200); do
        count=$(members)
        [ "$count" -ge 40 ] && break
        sleep 0.1
    done
    root=$(head -1 "$out" | tr -d '\r')
    started=$(now)
    local inner=-
    case "$1" in
    afterlife)
        inner=$("$wine" "$exe" --json kill --tree --signal KILL "$root" 2>/dev/null |
            python3 -c 'import json, sys; print(round(json.load(sys.stdin)["elapsed"], 3))' || echo -)
        ;;
    taskkill-tree) "$wine" taskkill /T /F /PID "$root" >/dev/null 2>&1 || true ;;
    taskkill) "$wine" taskkill /F /PID "$root" >/dev/null 2>&1 || true ;;
    esac
    ended=$(now)
    sleep 1
    echo "$(echo "$ended - $started" | bc) $(members) $count $inner"
    # Whatever survived (taskkill) is ended before the next round, by the
    # Linux PIDs of this tree's processes.
    pgrep -f "$pattern" | xargs -r kill -KILL || true
    wait 2>/dev/null || true
}

for tool in afterlife taskkill-tree taskkill; do
    : >"$windows_target_dir/bench-$tool.txt"
    for _ in $(seq "$rounds"); do tree_kill "$tool" >>"$windows_target_dir/bench-$tool.txt"; done
    echo "kill tree $tool: median $(cut -d' ' -f1 "$windows_target_dir/bench-$tool.txt" | median) s," \
        "survivors per round: $(cut -d' ' -f2 "$windows_target_dir/bench-$tool.txt" | tr '\n' ' ')," \
        "tree sizes: $(cut -d' ' -f3 "$windows_target_dir/bench-$tool.txt" | tr '\n' ' ')," \
        "afterlife's own elapsed (report): median $(cut -d' ' -f4 "$windows_target_dir/bench-$tool.txt" | median) s"
done

time_one() {
    local started
    started=$(now)
    "$@" >/dev/null 2>&1 || true
    echo "$(now) - $started" | bc
}
: >"$windows_target_dir/bench-run.txt"
: >"$windows_target_dir/bench-cmd.txt"
for _ in $(seq "$rounds"); do
    time_one "$wine" "$exe" run -q -- cmd /c exit 0 >>"$windows_target_dir/bench-run.txt"
    time_one "$wine" cmd /c exit 0 >>"$windows_target_dir/bench-cmd.txt"
done
echo "run -- cmd /c exit 0: median $(median <"$windows_target_dir/bench-run.txt") s"
echo "cmd /c exit 0 alone: median $(median <"$windows_target_dir/bench-cmd.txt") s"
