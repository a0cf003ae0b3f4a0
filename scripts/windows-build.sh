#!/usr/bin/env bash
# Builds afterlife.exe for 64-bit Windows on Linux (Debian's mingw-w64 cross
# toolchain); the result is target/windows/x86_64-pc-windows-gnu/release/afterlife.exe.
# Run it on Windows, or here under Wine (scripts/windows-test.sh prepares a prefix).
source "$(dirname "$0")/windows-env.sh"
windows_install
cd "$root"
windows_cargo build --release --bin afterlife "$@"
echo "$windows_target_dir/$windows_target/release/afterlife.exe"
