#!/usr/bin/env bash
# `holds` without privilege against `ss -ltnp` run by the same user: both
# walk /proc/PID/fd of the processes that user may read. Run as root: it
# switches to USER (default nobody) for the generator and both tools.
#
# Usage: bash benches/holds_unprivileged.sh AFTERLIFE [USER] [RUNS]
# The generator (benches/holds_gen.py, normal case: 1,000 processes of that
# user, about 26,000 fds, one of them listening on the port) ends with its
# stdin; farm-bench pairs the two tools run by run.
set -euo pipefail
bin="$(realpath "$1")"
user="${2:-nobody}"
runs="${3:-30}"
gen="$(realpath "$(dirname "$0")/holds_gen.py")"
su "$user" -s /bin/bash -c "
    set -e
    coproc GEN { /usr/bin/python3 '$gen' normal 1000 22; }
    read -r ready port nprocs nfds <&\"\${GEN[0]}\"
    echo \"\$ready: port \$port, \$nprocs processes, \$nfds fds, as \$(id -un)\"
    '$bin' holds tcp:\$port | head -3
    farm-bench -n $runs --warmup 3 --vs \"ss -ltnp sport = :\$port\" -- '$bin' holds tcp:\$port
    exec {GEN[1]}>&-
    wait
"
