# SPDX-License-Identifier: GPL-2.0-or-later
# Verdict of the arm64 dom0less scenarios (tests/e2e/run-arm64 dom0less and
# dom0less-domd): the backend domain runs xenreadyd and the backends, the
# dom0less guest (domid 1, no xenstore) xenready-wait on static event channel
# 10. The backend domain is dom0, or with variant=domd a dom0less guest
# without xenstore, dom0 then only relaying the checkpoints. See README.md.
# Uses console.awk. Every line reaches the serial port through Xen as it is
# printed (dom0's hvc0 and the guests' virtual PL011 alike), so console order
# is the order in which things happened, and host timestamps compare across
# domains.
BEGIN {
    domd = variant == "domd"
    backend = domd ? "domd" : "dom0"
    # The status after each step: label, then the row expected.
    if (domd) {
        step_count = split("start blk-up gpu-up net-up restarted", step_label, " ")
        # Short names: Xen cuts a guest's console lines at 126 characters.
        step_row["start"] = "domu domu/mmio0 waiting 0/3 blk, gpu, net"
        step_row["blk-up"] = "domu domu/mmio0 waiting 1/3 gpu, net"
        step_row["gpu-up"] = "domu domu/mmio0 waiting 2/3 net"
        step_row["restarted"] = "domu domu/mmio0 ready 3/3 -"
        last_backend = "net"
    } else {
        step_count = split("start qemu-up disk-up net-up restarted", step_label, " ")
        step_row["start"] = "domu domu/mmio0 waiting 0/3 qemu-domu, disk-domu, net-domu"
        step_row["qemu-up"] = "domu domu/mmio0 waiting 1/3 disk-domu, net-domu"
        step_row["disk-up"] = "domu domu/mmio0 waiting 2/3 net-domu"
        step_row["restarted"] = "domu domu/mmio0 ready 1/1 -"
        last_backend = "net-domu"
    }
    step_row["net-up"] = "domu domu/mmio0 ready 3/3 -"
}
{
    is_e2e = parse_console_line()
    if ($0 ~ /\(XEN\) Xen version/) xen_version = $0
    if (!is_e2e) next
    if (tag == "dom0" && event == "boot") { dom0_kernel = f[7] }
    if (tag == "dom0" && event == "toolstack-ready") backend_ready = host
    if (tag == "domd" && event == "booted") backend_ready = host
    if (tag == "domu" && event == "booted") { domu_booted = host; domu_kernel = f[7] }
    if (tag == backend && event == "xenreadyd-started") started = NR
    if (tag == backend && event == "backend-up") { up[f[4]] = host; up_line[f[4]] = NR }
    # dom0 asks the guest for its checkpoints (relaying DomD's in variant domd).
    if (tag == "dom0" && event == "checkpoint") asked_line[f[4]] = NR
    if (tag == "dom0" && event == "answered") answered_line[f[4]] = NR
    if (tag == backend && event == "DONE") done = 1
    if (tag == backend && index(rest, "xenreadyd| ") == 1 && index(rest, "static event channel 10 bound")) bound++
    if (tag == "dom0" && event == "xenstored-stopped") xenstored_stopped = NR
    if (tag == backend && index(rest, "xenreadyd| ") == 1 && index(rest, "running without a xenstore connection")) { without_xenstore = NR; without_count++ }
    if (tag == backend && index(rest, "xenreadyd| ") == 1 && index(rest, "connected to xenstore")) connected++
    if (tag == "domu" && event == "checkpoint") {
        what = rest; sub(/^checkpoint [^ ]+ ?/, "", what)
        checkpoint[f[4]] = what; checkpoint_line[f[4]] = NR
    }
    # The waiter started at boot: "wait| ..." lines, then "exit STATUS ...".
    if (tag == "domu" && event == "wait|") {
        what = rest; sub(/^wait\| ?/, "", what)
        wait_report = wait_report "\n    " what
        if (what == "xenready-wait: static event channel 10: ready") { woken = host; woken_line = NR }
        if (what ~ /^exit /) { exited = host; exit_what = what }
    }
    if (tag == "domu" && event ~ /^rewait-c[56]\|$/) {
        c = substr(event, 8, 2)
        what = rest; sub(/^[^ ]+ ?/, "", what)
        rewait_report[c] = rewait_report[c] "\n    " what
        if (what ~ /^exit /) rewait_exit[c] = substr(what, 6)
        if (what == "xenready-wait: static event channel 10: ready") rewait_woken[c] = 1
    }
}
# Checkpoint C was asked by dom0 and answered in order: what the guest printed
# for it lies between the question and the answer.
function in_order(c) {
    return asked_line[c] && checkpoint_line[c] && answered_line[c] &&
           asked_line[c] < checkpoint_line[c] && checkpoint_line[c] < answered_line[c]
}
END {
    if (!backend_ready) fail(domd ? "DomD never booted" : "dom0 never had xenstored ready")
    if (!domu_booted) fail("the dom0less guest never booted")
    if (!started) fail("xenreadyd never started in " backend)
    if (!done) fail(backend " did not finish the scenario")
    for (k = 1; k <= 6; k++)
        if (!in_order("c" k)) fail("checkpoint c" k " was not asked, reported and answered in that order")

    # Not before the last backend: at c1-c3 (each asked after xenreadyd
    # logged its decision on one more backend) the waiter still waits and
    # virtio_mmio is not loaded; its wake-up comes after the last backend.
    for (k = 1; k <= 3; k++)
        if (checkpoint["c" k] != "waiter=running virtio_mmio=absent")
            fail("at checkpoint c" k " (a backend still missing) the guest reported \"" checkpoint["c" k] "\"; the waiter said:" wait_report)
    if (!woken) fail("the waiter never read an event on static port 10; it said:" wait_report)
    else if (woken_line < up_line[last_backend])
        fail("the waiter woke before the last backend (" last_backend ") came up; it said:" wait_report)
    if (exit_what != "exit 0 virtio_mmio=loaded")
        fail("the waiter ended with \"" exit_what "\", expected exit 0 with virtio_mmio loaded; it said:" wait_report)
    if (checkpoint["c4"] != "waiter=exit-0 virtio_mmio=loaded")
        fail("at checkpoint c4 (all backends up) the guest reported \"" checkpoint["c4"] "\"")

    # Nothing stale left on port 10 (c5 times out), and a restarted xenreadyd
    # notifies a ready bridge again: the event waits in Xen until a waiter
    # binds (c6).
    if (rewait_exit["c5"] != 124 || rewait_woken["c5"])
        fail("at c5 a waiter on port 10 should have timed out (exit 124); it said:" rewait_report["c5"])
    if (rewait_exit["c6"] != 0 || !rewait_woken["c6"])
        fail("at c6, after the restart, a waiter on port 10 should have found the event; it said:" rewait_report["c6"])
    if (bound != 2) fail("xenreadyd bound static port 10 " bound " time(s), expected 2 (start, restart)")
    if (domd) {
        # No domain has xenstore: both daemons ran without it.
        if (without_count != 2 || connected)
            fail("xenreadyd in DomD said " without_count + 0 " time(s) that it runs without xenstore and connected " connected + 0 " time(s); expected 2 and 0")
    } else {
        # The restarted daemon ran with xenstored stopped, on a configuration
        # that uses no xenstore, and never connected.
        if (!xenstored_stopped) fail("dom0 did not stop xenstored before the restart")
        else if (!without_xenstore || without_xenstore < xenstored_stopped)
            fail("the restarted xenreadyd did not say it runs without xenstore")
        if (connected != 1) fail("xenreadyd connected to xenstore " connected " time(s), expected 1 (before the restart only)")
    }

    for (k = 1; k <= step_count; k++) expect_row(step_label[k], step_row[step_label[k]])

    sub(/^.*\(XEN\) /, "", xen_version); sub(/ \(pkg-xen.*$/, "", xen_version)
    printf "e2e: timings (%s, TCG, host clock)\n", arch
    printf "  %s; dom0 Linux %s, guest Linux %s\n", xen_version, dom0_kernel, domu_kernel
    printf "  boot: QEMU start -> %s %.1f s\n", domd ? "DomD booted            " : "dom0 xenstored ready   ", backend_ready
    printf "  boot: QEMU start -> dom0less guest booted  %.1f s (in parallel with %s)\n", domu_booted, domd ? "DomD" : "dom0"
    printf "  last backend up -> waiter woken            %s\n", ms(up[last_backend], woken)
    printf "  last backend up -> modprobe virtio_mmio done %s\n", ms(up[last_backend], exited)
    printf "  whole QEMU run                             %s s\n", wall
    if (failures) { printf "e2e: FAILED (%d check(s))\n", failures; exit 1 }
    print "e2e: PASSED"
}
