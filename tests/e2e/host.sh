# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the host side of the end-to-end tests (run, run-arm64): fetching
# Debian's packages without installing them, building guest trees and
# initramfs images, and running QEMU under a watchdog. Expects $here (this
# directory), $out (the test's directory in the build tree) and $start.

say() { printf 'e2e: %s\n' "$*"; }
die() { printf 'e2e: FAILED: %s\n' "$*" >&2; exit 1; }
skip() {
    if [ "${CI:-}" = true ]; then
        die "QEMU cannot run ($*); CI=true, so a skipped end-to-end test is a failure"
    fi
    printf 'e2e: SKIPPED: QEMU cannot run: %s\n' "$*"
    exit 77
}
# Seconds (one decimal) between two $EPOCHREALTIME values, without a fork.
elapsed() {
    local us=$(( ${2/./} - ${1/./} ))
    printf '%d.%d' $((us / 1000000)) $((us / 100000 % 10))
}

# require_qemu BINARY: sets $qemu, or skips (the only reason to skip).
require_qemu() {
    qemu=${E2E_QEMU:-$(command -v "$1" || true)}
    [ -n "$qemu" ] && [ -x "$qemu" ] ||
        skip "${E2E_QEMU:-$1} not found (see scripts/install-deps)"
    "$qemu" -accel help 2>/dev/null | grep -qx tcg || skip "$qemu has no TCG accelerator"
    local tool
    for tool in cpio gzip xz apt-get dpkg-deb readelf timeout; do
        command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps)"
    done
}

# --- Debian packages: downloaded once, never installed -------------------------
# A private apt configuration per architecture under $cache/apt-ARCH: its own
# package lists, no root needed, the host's apt left alone. Suites: bookworm
# and its updates, plus bookworm-backports for Linux 6.12.
apt_options() {
    local dir=$cache/apt-$1
    echo -o Dir::State="$dir/state" -o Dir::State::status=/dev/null \
        -o Dir::Cache="$dir/cache" -o Dir::Etc::SourceList="$dir/sources.list" \
        -o Dir::Etc::SourceParts=/dev/null -o Dir::Etc::Preferences=/dev/null \
        -o Dir::Etc::PreferencesParts=/dev/null \
        -o APT::Architecture="$1" -o APT::Architectures::="$1"
    [ "$(id -u)" -ne 0 ] || echo -o APT::Sandbox::User=root
}
apt_private_update() {
    local dir=$cache/apt-$1 mirror=${E2E_MIRROR:-http://deb.debian.org} suite
    local options="arch=$1 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
    mkdir -p "$dir/state/lists/partial" "$dir/cache/archives/partial"
    for suite in bookworm bookworm-updates bookworm-backports; do
        echo "deb [$options] $mirror/debian $suite main"
    done >"$dir/sources.list"
    echo "deb [$options] $mirror/debian-security bookworm-security main" >>"$dir/sources.list"
    # shellcheck disable=SC2046 # the options are words without blanks
    apt-get -q $(apt_options "$1") update >/dev/null || die "apt-get update ($1) failed"
}

# fetch_packages ARCH DIR PACKAGE...: every PACKAGE not yet in DIR is
# downloaded there; DIR/.names lists them for unpack_packages.
# kernel:SUITE stands for the image linux-image-ARCH depends on in SUITE
# (kernel: for the default candidate).
fetch_packages() {
    [ -s "$cache/apt-$1/sources.list" ] || apt_private_update "$1"
    # Lists older than a security update name versions the mirror no longer
    # has: refresh them once, resolve again and retry.
    download_packages "$@" || { apt_private_update "$1" && download_packages "$@"; } ||
        die "apt-get download ($1) failed"
}
download_packages() {
    local arch=$1 dir=$2 package wanted=() names=()
    shift 2
    mkdir -p "$dir"
    for package in "$@"; do
        case "$package" in kernel:*) package=$(kernel_package "$arch" "${package#kernel:}") ;; esac
        [ -n "$package" ] || return 1
        names+=("$package")
        ls "$dir/${package}"_*.deb >/dev/null 2>&1 || wanted+=("$package")
    done
    printf '%s\n' "${names[@]}" >"$dir/.names"
    [ "${#wanted[@]}" -eq 0 ] && return 0
    say "downloading ($arch) ${wanted[*]}"
    # shellcheck disable=SC2046 # the options are words without blanks
    (cd "$dir" && apt-get -q $(apt_options "$arch") download "${wanted[@]}" >/dev/null)
}
kernel_package() {
    # shellcheck disable=SC2046
    apt-cache $(apt_options "$1") depends "linux-image-$1${2:+/$2}" 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# unpack_packages DIR ROOT [PATTERN...]: unpacks every package fetched into
# DIR into ROOT, kernels limited to the PATTERNs (tar wildcards). Skipped
# when nothing changed since the last time.
unpack_packages() {
    local dir=$1 root=$2 deb stamp
    shift 2
    stamp=$(cd "$dir" && { ls ./*.deb | sort; echo "$*"; } | md5sum | cut -d' ' -f1)
    [ "$(cat "$root/.stamp" 2>/dev/null)" = "$stamp" ] && return 0
    say "unpacking packages into $root"
    rm -rf "$root"
    mkdir -p "$root"
    while read -r deb; do
        deb=$(ls "$dir/${deb}"_*.deb | head -n1)
        case "$deb" in
            */linux-image-*) dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" --wildcards "$@" ;;
            *) dpkg-deb -x "$deb" "$root" ;;
        esac
    done <"$dir/.names"
    echo "$stamp" >"$root/.stamp"
}

# --- Guest trees ----------------------------------------------------------------
# install_program TREE FILE DEST: copies FILE to TREE/DEST with its program
# interpreter and every library it needs, found through $library_path (":"
# separated) by walking DT_NEEDED with readelf: ldd cannot look into
# binaries of another architecture.
install_program() {
    local tree=$1 file=$2 dest=$3
    mkdir -p "$tree/$(dirname "$dest")"
    cp -L "$file" "$tree/$dest"
    install_libraries "$tree" "$file"
}
install_libraries() {
    local tree=$1 file=$2 interpreter needed dir found
    interpreter=$(readelf -lW "$file" 2>/dev/null |
        sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')
    if [ -n "$interpreter" ] && [ ! -e "$tree$interpreter" ]; then
        mkdir -p "$tree$(dirname "$interpreter")"
        cp -L "$(find_library "$(basename "$interpreter")")" "$tree$interpreter"
    fi
    for needed in $(readelf -dW "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -e "$tree/lib/$multiarch/$needed" ] && continue
        found=$(find_library "$needed")
        mkdir -p "$tree/lib/$multiarch"
        cp -L "$found" "$tree/lib/$multiarch/$needed"
        install_libraries "$tree" "$found"
    done
}
find_library() {
    local dir
    local IFS=:
    for dir in $library_path; do
        [ -e "$dir/$1" ] && { echo "$dir/$1"; return 0; }
    done
    die "library $1 not found in $library_path"
}

# new_tree TREE INIT: busybox with its applets, INIT as /init, the scripts
# common to all guests, libgcc_s (glibc dlopen()s it for pthread_cancel;
# DT_NEEDED does not show it) and e2e-log.
new_tree() {
    local tree=$1 init=$2 applet
    mkdir -p "$tree"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,e2e,lib/modules}
    cp "$busybox" "$tree/bin/busybox"
    for applet in $("${busybox_list[@]}"); do
        [ "$applet" = busybox ] || ln -sf busybox "$tree/bin/$applet"
    done
    cp "$here/$init" "$tree/init"
    cp "$here/common.sh" "$tree/e2e/common.sh"
    mkdir -p "$tree/lib/$multiarch"
    cp -L "$(find_library libgcc_s.so.1)" "$tree/lib/$multiarch/"
    install_program "$tree" "$programs/tests/e2e/e2e-log" usr/bin/e2e-log
}
install_xenstore_tools() {
    local tree=$1 tool
    for tool in xenstore-read xenstore-write xenstore-rm xenstore-chmod xenstore-ls \
        xenstore-watch xenstore-exists xenstore-list; do
        install_program "$tree" "$root/usr/bin/$tool" "usr/bin/$tool"
    done
}

# add_modules TREE MODULE...: kernel modules from $modules (the unpacked
# kernel's lib/modules), uncompressed (busybox's insmod reads no .ko.xz), into
# TREE/lib/modules where the init scripts insmod them.
add_modules() {
    local tree=$1 module file
    shift
    for module in "$@"; do
        file=$(find "$modules" -name "$module.ko" -o -name "$module.ko.xz" | head -n1)
        [ -n "$file" ] || die "module $module not found in $modules"
        case "$file" in
            *.xz) xz -dc "$file" >"$tree/lib/modules/$module.ko" ;;
            *) cp "$file" "$tree/lib/modules/" ;;
        esac
    done
}

# driver_domain_trees GUEST_KERNEL: the driver-domain scenario's trees in
# $work: dom0 (the toolstack, with both guests' kernel, initramfs and xl
# configuration under /guests and /etc/e2e), DomD (xenreadyd and the
# backends) and DomU (xenready-wait). The guests are of type $guest_type
# with $guest_memory MiB.
driver_domain_trees() {
    local kernel=$1 tool guest
    new_tree "$work/domd" domd-init
    add_modules "$work/domd" xen-evtchn unix_diag
    install_xenstore_tools "$work/domd"
    install_program "$work/domd" "$programs/daemon/xenreadyd" usr/sbin/xenreadyd
    install_program "$work/domd" "$programs/ctl/xenreadyctl" usr/bin/xenreadyctl
    install_program "$work/domd" "$programs/tests/e2e/e2e-listen" usr/bin/e2e-listen
    install -d -m 0755 "$work/domd/etc/xen/xenready.d"
    install -m 0644 "$here/xenready.conf" "$work/domd/etc/xen/xenready.conf"

    new_tree "$work/domu" domu-init
    add_modules "$work/domu" xen-evtchn
    install_xenstore_tools "$work/domu"
    install_program "$work/domu" "$programs/guest/xenready-wait" usr/bin/xenready-wait

    new_tree "$work/dom0" dom0-init
    add_modules "$work/dom0" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs
    install_xenstore_tools "$work/dom0"
    for tool in xenstored xenconsoled xen-init-dom0 xl; do
        install_program "$work/dom0" "$xen_bin/$tool" "usr/lib/xen-4.17/bin/$tool"
    done
    mkdir -p "$work/dom0/guests" "$work/dom0/etc/e2e" "$work/dom0/etc/xen"
    : >"$work/dom0/etc/xen/xl.conf"
    cp "$kernel" "$work/dom0/guests/vmlinuz"
    for guest in domd domu; do
        sed -e "s/^type = .*/type = \"$guest_type\"/" -e "s/^memory = .*/memory = $guest_memory/" \
            "$here/$guest.cfg" >"$work/dom0/etc/e2e/$guest.cfg"
        cpio_of "$work/$guest" | gzip -1 >"$work/dom0/guests/$guest.cpio.gz"
    done
}

# paused_trees GUEST_KERNEL: the held-paused scenario's trees in $work (run
# paused): dom0 is the toolstack and runs xenreadyd (probe = xenready, signal
# = unpause) with xenreadyctl; DomD runs xenreadyd and the backends as in the
# driver-domain layout (signal = xenstore only); the frontend has nothing of
# this project, only xenstore-read to report what it finds at its first
# moment. E2E_PAUSED_DOM0_CONF replaces dom0's configuration (to see the
# checks fail on a wrong one).
paused_trees() {
    local kernel=$1 tool guest
    new_tree "$work/domd" paused-domd-init
    add_modules "$work/domd" xen-evtchn unix_diag
    install_xenstore_tools "$work/domd"
    install_program "$work/domd" "$programs/daemon/xenreadyd" usr/sbin/xenreadyd
    install_program "$work/domd" "$programs/ctl/xenreadyctl" usr/bin/xenreadyctl
    install_program "$work/domd" "$programs/tests/e2e/e2e-listen" usr/bin/e2e-listen
    install -d -m 0755 "$work/domd/etc/xen/xenready.d"
    install -m 0644 "$here/paused-domd.conf" "$work/domd/etc/xen/xenready.conf"

    new_tree "$work/domu" paused-domu-init
    install_program "$work/domu" "$root/usr/bin/xenstore-read" usr/bin/xenstore-read

    new_tree "$work/dom0" paused-dom0-init
    add_modules "$work/dom0" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs
    install_xenstore_tools "$work/dom0"
    for tool in xenstored xenconsoled xen-init-dom0 xl; do
        install_program "$work/dom0" "$xen_bin/$tool" "usr/lib/xen-4.17/bin/$tool"
    done
    # xenreadyd links libxenctrl (signal = unpause): the one unpacked from
    # Debian's libxenmisc4.17, like xl's.
    install_program "$work/dom0" "$programs/daemon/xenreadyd" usr/sbin/xenreadyd
    install_program "$work/dom0" "$programs/ctl/xenreadyctl" usr/bin/xenreadyctl
    install -d -m 0755 "$work/dom0/etc/xen/xenready.d"
    install -m 0644 "${E2E_PAUSED_DOM0_CONF:-$here/paused-dom0.conf}" \
        "$work/dom0/etc/xen/xenready.conf"
    mkdir -p "$work/dom0/guests" "$work/dom0/etc/e2e"
    : >"$work/dom0/etc/xen/xl.conf"
    cp "$kernel" "$work/dom0/guests/vmlinuz"
    for guest in domd domu; do
        sed -e "s/^type = .*/type = \"$guest_type\"/" -e "s/^memory = .*/memory = $guest_memory/" \
            "$here/$guest.cfg" >"$work/dom0/etc/e2e/$guest.cfg"
        cpio_of "$work/$guest" | gzip -1 >"$work/dom0/guests/$guest.cpio.gz"
    done
}

cpio_of() { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --owner 0:0); }

# --- QEMU ------------------------------------------------------------------------
# run_qemu LOG ARGS...: runs $qemu ARGS under the watchdog ($watchdog
# seconds), stamping every serial line with the host's clock (seconds since
# QEMU started) into LOG and onto stdout. Dies unless QEMU exits 0; sets
# $qemu_seconds.
run_qemu() {
    local log=$1 status qemu_start line us
    shift
    say "booting Xen under $("$qemu" --version | head -n1) (TCG), watchdog ${watchdog}s; console: $log"
    qemu_start=$EPOCHREALTIME
    set +e
    timeout -k 5 "$watchdog" "$qemu" "$@" </dev/null 2>&1 |
        while IFS= read -r line; do
            us=$(( ${EPOCHREALTIME/./} - ${qemu_start/./} ))
            printf '[%4d.%03d] %s\n' $((us / 1000000)) $((us / 1000 % 1000)) "${line//$'\r'/}"
        done | tee "$log"
    status=${PIPESTATUS[0]}
    set -e
    qemu_seconds=$(elapsed "$qemu_start" "$EPOCHREALTIME")
    [ "$status" -eq 124 ] || [ "$status" -eq 137 ] && die "watchdog: QEMU killed after ${watchdog}s"
    [ "$status" -eq 0 ] || die "QEMU exited with status $status"
}
