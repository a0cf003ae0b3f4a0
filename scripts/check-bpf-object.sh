#!/bin/sh
# Checks that the committed src/deaths/bpf/deaths.bpf.o is what its source
# builds to (scripts/build-bpf.sh with Debian bookworm's clang 14, llvm and
# libbpf-dev). Exit 1 with a message when they differ.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/scripts/build-bpf.sh" "$tmp/deaths.bpf.o"
if ! cmp -s "$tmp/deaths.bpf.o" "$root/src/deaths/bpf/deaths.bpf.o"; then
    echo "src/deaths/bpf/deaths.bpf.o does not match its source: run scripts/build-bpf.sh and commit the object" >&2
    exit 1
fi
echo "src/deaths/bpf/deaths.bpf.o matches its source"
