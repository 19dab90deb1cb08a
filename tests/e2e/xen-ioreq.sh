# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by run-arm64 for the IOREQ scenarios (tests/e2e/README.md, "arm64
# IOREQ"): Debian's arm64 Xen 4.17 is built without IOREQ server support
# (CONFIG_IOREQ_SERVER needs CONFIG_EXPERT on Arm), so these scenarios boot
# the same hypervisor rebuilt from Debian's source package (bookworm main),
# with Debian's own configuration (debian/xen-kconfig) plus the two options
# below, cross-compiled with gcc-aarch64-linux-gnu (needs flex, bison and
# dpkg-source). Built once, kept in $cache/xen-ioreq; nothing is committed.
# The hypercall interface is the same across 4.17.x, so Debian's 4.17 tools
# and libraries run beside it. Expects $cache and host.sh's say and die.

ioreq_xen_options="CONFIG_EXPERT=y CONFIG_IOREQ_SERVER=y"

# ioreq_xen: sets $ioreq_xen_image, building it when the source package or
# the options changed.
ioreq_xen() {
    local dir=$cache/xen-ioreq apt=$cache/apt-source tool dsc stamp option
    local mirror=${E2E_MIRROR:-http://deb.debian.org}
    ioreq_xen_image=$dir/xen-4.17-arm64-ioreq
    for tool in flex bison dpkg-source make aarch64-linux-gnu-gcc; do
        command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps e2e)"
    done
    mkdir -p "$dir/source"
    # A private apt configuration with one deb-src line: the host's apt is
    # left alone (the security suite's source pool is not served).
    local options=(-o Dir::State="$apt/state" -o Dir::State::status=/dev/null
        -o Dir::Cache="$apt/cache" -o Dir::Etc::SourceList="$apt/sources.list"
        -o Dir::Etc::SourceParts=/dev/null -o Dir::Etc::Preferences=/dev/null
        -o Dir::Etc::PreferencesParts=/dev/null)
    [ "$(id -u)" -ne 0 ] || options+=(-o APT::Sandbox::User=root)
    if ! ls "$dir"/source/xen_*.dsc >/dev/null 2>&1; then
        mkdir -p "$apt/state/lists/partial" "$apt/cache/archives/partial"
        echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror/debian bookworm main" \
            >"$apt/sources.list"
        say "downloading Debian's Xen source package (bookworm main)"
        apt-get -q "${options[@]}" update >/dev/null || die "apt-get update (sources) failed"
        (cd "$dir/source" && apt-get -q "${options[@]}" source --download-only xen >/dev/null) ||
            die "apt-get source xen failed"
    fi
    dsc=$(ls "$dir"/source/xen_*.dsc | sort -V | tail -n1)
    stamp="${dsc##*/} $ioreq_xen_options"
    [ -s "$ioreq_xen_image" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ] && return 0

    say "building Xen for arm64 from ${dsc##*/} with $ioreq_xen_options (log: $dir/build.log)"
    rm -rf "$dir/build" "$ioreq_xen_image"
    dpkg-source -x "$dsc" "$dir/build" >"$dir/build.log" 2>&1 || die "dpkg-source -x failed: $dir/build.log"
    {
        cat "$dir/build/debian/xen-kconfig"
        for option in $ioreq_xen_options; do echo "$option"; done
    } >"$dir/build/xen/.config"
    local make_args=(-C "$dir/build/xen" XEN_TARGET_ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
    make "${make_args[@]}" olddefconfig >>"$dir/build.log" 2>&1 &&
        make "${make_args[@]}" -j"$(nproc)" >>"$dir/build.log" 2>&1 ||
        die "building Xen failed: $dir/build.log"
    for option in $ioreq_xen_options; do
        grep -qx "$option" "$dir/build/xen/.config" || die "$option did not survive olddefconfig"
    done
    cp "$dir/build/xen/xen" "$ioreq_xen_image"
    cp "$dir/build/xen/.config" "$dir/config"
    rm -rf "$dir/build"
    echo "$stamp" >"$dir/stamp"
}
