# Sourced by windows-build.sh and windows-test.sh: the cross toolchain for
# x86_64-pc-windows-gnu from Debian's archive, and a Wine prefix that can run
# what it builds.
#
# Debian's rustc-web ships the standard library's source (rust-web-src) but
# no prebuilt Windows standard library, so it is built with -Z build-std
# (RUSTC_BOOTSTRAP=1 allows the unstable flag on a stable compiler). Its
# crates come from crates.io like any other dependency.

set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export DEBIAN_FRONTEND=noninteractive
export WINEDEBUG=-all
# No display: Wine's console programs (cmd, ping, afterlife itself) need none.
unset DISPLAY
export WINEDLLOVERRIDES="mscoree,mshtml="

windows_target=x86_64-pc-windows-gnu
windows_target_dir="$root/target/windows"
export WINEPREFIX="${WINEPREFIX:-$windows_target_dir/wineprefix}"

windows_packages=(rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 wine64 wine)

windows_install() {
    local missing=() package
    for package in "${windows_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
}

# Debian's compiler, not rustup's (which stays first on PATH for Linux).
windows_cargo() {
    RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
        CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
        CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64 \
        CARGO_TERM_COLOR=never \
        nice -n 10 /usr/bin/cargo "$@" -Z build-std --target "$windows_target" --target-dir "$windows_target_dir"
}

# A Wine prefix with the stand-in bcryptprimitives.dll (windows/bcryptprimitives.c).
windows_prefix() {
    local dll="$windows_target_dir/bcryptprimitives.dll"
    mkdir -p "$windows_target_dir"
    if [ ! -f "$dll" ] || [ "$root/windows/bcryptprimitives.c" -nt "$dll" ]; then
        x86_64-w64-mingw32-gcc -shared -O2 -o "$dll" "$root/windows/bcryptprimitives.c" -ladvapi32
    fi
    if [ ! -f "$WINEPREFIX/system.reg" ]; then
        /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1
        /usr/lib/wine/wineserver -w
    fi
    cp "$dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
}
