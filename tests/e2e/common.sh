# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the /init of dom0, DomD and DomU in the end-to-end test (busybox
# ash). Every line the host checks is printed by log: "E2E[TAG] TIME WORDS",
# TIME being CLOCK_REALTIME of the guest, comparable across Xen guests.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
STEP_TIMEOUT=90     # seconds any one step may take before the guest gives up

log() { e2e-log "$TAG" "$@"; }

# read_line FD VAR [SECONDS]: reads one line from FD into VAR, giving up after
# SECONDS (default STEP_TIMEOUT). busybox "read -t" polls and returns failure
# on any signal, and ash gets a SIGCHLD whenever a background job ends, so an
# early failure is retried until the deadline. An FD whose writers are all
# gone fails at once every time: after a few such failures, give up.
read_line() {
    local fd=$1 var=$2 up deadline early=0
    read -r up _ </proc/uptime
    deadline=$((${up%.*} + ${3:-$STEP_TIMEOUT}))
    while :; do
        read -r up _ </proc/uptime
        up=${up%.*}
        [ "$up" -lt "$deadline" ] || return 1
        IFS= read -r -t $((deadline - up)) "$var" <&"$fd" && return 0
        early=$((early + 1))
        [ "$early" -lt 20 ] || return 1
    done
}

# A failure is printed once, with the reason; dom0 stops the machine when it
# sees one, so the run ends at once instead of at the host's watchdog.
fail() {
    log FAIL "$@"
    e2e_stop
}

mount_basics() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    mkdir -p /dev/pts /dev/shm
    mount -t devpts devpts /dev/pts
    mount -t tmpfs tmpfs /tmp
    mount -t tmpfs tmpfs /run
    mkdir -p /var
    ln -sfn /run /var/run
}

# Loads the Xen modules the Debian kernel builds as modules (the xenbus
# device and the hvc console are built in).
load_modules() {
    for module in "$@"; do
        insmod "/lib/modules/$module.ko" || fail "cannot load $module"
    done
}

# await_node PATH VALUE: returns once xenstore PATH holds exactly VALUE.
# Event-driven: xenstore-watch fires once when armed and on every change; the
# value is read again after each event (events carry no value).
await_node() {
    local path=$1 want=$2 got=
    rm -f /tmp/await.fifo
    mkfifo /tmp/await.fifo
    xenstore-watch "$path" >/tmp/await.fifo &
    local watcher=$!
    exec 4</tmp/await.fifo
    while read_line 4 _; do
        got=$(xenstore-read "$path" 2>/dev/null) || got="(missing)"
        [ "$got" = "$want" ] && break
    done
    # Reaped here, so that its SIGCHLD does not interrupt a later read.
    kill "$watcher" 2>/dev/null
    wait "$watcher" 2>/dev/null
    exec 4<&-
    [ "$got" = "$want" ] || fail "timeout: $path is \"$got\", expected \"$want\""
}

# start_xenreadyd [XENREADYD-OPTIONS]: starts xenreadyd with its log going
# through a FIFO this script reads as fd 3 (wait_log), so that a step can
# wait for the line in which xenreadyd states its decision; sets
# $xenreadyd_pid. --verbose: the few debug lines say what the probes saw.
start_xenreadyd() {
    rm -f /tmp/xenreadyd.log
    mkfifo /tmp/xenreadyd.log
    xenreadyd --verbose --config-dir /etc/xen/xenready.d \
        --control-socket /run/xenready/control "$@" 2>/tmp/xenreadyd.log &
    xenreadyd_pid=$!
    exec 3</tmp/xenreadyd.log
}

# stop_xenreadyd: SIGTERM; its log to the end (end of file: it has exited);
# it must exit 0.
stop_xenreadyd() {
    local line
    kill -TERM "$xenreadyd_pid"
    while read_line 3 line 10; do log "xenreadyd| $line"; done
    wait "$xenreadyd_pid" || fail "xenreadyd exited with status $? on SIGTERM"
    exec 3<&-
}

# wait_log TEXT: prints xenreadyd's lines until one contains TEXT.
wait_log() {
    local line
    while read_line 3 line; do
        log "xenreadyd| $line"
        case "$line" in *"$1"*) return 0 ;; esac
    done
    fail "xenreadyd did not log \"$1\""
}

# status LABEL: xenreadyctl status, one logged line per row.
status() {
    log status-begin "$1"
    xenreadyctl --socket /run/xenready/control status >/tmp/status 2>&1 ||
        fail "xenreadyctl status failed: $(cat /tmp/status)"
    e2e-log --lines "$TAG" "status|" </tmp/status
    log status-end "$1"
}

# Stays alive: init must never exit.
idle_forever() {
    while :; do sleep 3600; done
}
