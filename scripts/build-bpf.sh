#!/bin/sh
# Rebuilds src/deaths/bpf/deaths.bpf.o from deaths.bpf.c and kernel.h.
#
# The object is committed, so that building afterlife needs no clang: this
# script is for changing the program. It needs clang (the version that built
# the committed object is Debian bookworm's clang 14; another version makes
# a working object with different bytes) and libbpf's BPF headers (Debian:
# libbpf-dev). DWARF is stripped (it holds the build directory); the BTF and
# its CO-RE relocations stay.
#
# Usage: scripts/build-bpf.sh [OUTPUT]   (default: the committed object)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/src/deaths/bpf/deaths.bpf.o}
clang=${CLANG:-clang}
strip=${LLVM_STRIP:-llvm-strip}
cd "$root/src/deaths/bpf"
# The prefix map keeps the build directory out of the BTF line info.
"$clang" -target bpf -O2 -g -Wall -Werror -fdebug-prefix-map="$(pwd)"=. -c deaths.bpf.c -o "$out.tmp"
"$strip" -g "$out.tmp"
mv "$out.tmp" "$out"
