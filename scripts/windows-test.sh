#!/usr/bin/env bash
# Runs afterlife's test suite for 64-bit Windows under Wine: installs the
# cross toolchain and Wine where missing, prepares a Wine prefix with the
# stand-in bcryptprimitives.dll, then `cargo test` for x86_64-pc-windows-gnu,
# each test executable run by wine64. Needs no display. Extra arguments go to
# cargo test (e.g. `--lib sys`).
source "$(dirname "$0")/windows-env.sh"
windows_install
windows_prefix
cd "$root"
started=$SECONDS
# Clippy for the Windows target with rustup's toolchain (its prebuilt
# Windows standard library is enough to check; nothing is linked), where
# rustup is installed, as the Linux gates run it.
if command -v rustup >/dev/null; then
    rustup target list --installed | grep -qx "$windows_target" || rustup target add "$windows_target"
    for mode in "--profile dev" "--profile test"; do
        # shellcheck disable=SC2086
        nice -n 10 cargo clippy --target "$windows_target" --target-dir "$windows_target_dir/clippy" \
            --lib --bins --test 'windows_*' $mode -- -D warnings
    done
fi
status=0
# A directory of its own for the build's temporary files, removed after it:
# a fresh build for the Windows target leaves about a hundred empty ccXXXXXX
# files behind in TMPDIR (seen in /tmp after each run from a fresh clone).
build_tmp=$(mktemp -d)
TMPDIR="$build_tmp" windows_cargo test --no-fail-fast --lib --test 'windows_*' "$@" || status=$?
rm -rf "$build_tmp"
/usr/lib/wine/wineserver -k 2>/dev/null || true
echo "windows tests: $((SECONDS - started)) s"
exit $status
