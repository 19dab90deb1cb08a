# SPDX-License-Identifier: GPL-2.0-or-later
# Verdict of the arm64 IOREQ scenarios (tests/e2e/run-arm64 ioreq-problem
# and ioreq-fix; variant=problem or fix): DomD (domid 2) runs xenreadyd and,
# late, virtio-mmio-model, a real IOREQ server for the frontend's (domid 1)
# virtio-mmio device; dom0 made DomD the frontend's device model. See
# README.md, "arm64 IOREQ". Uses console.awk. Every line reaches the serial
# port through Xen as it is printed, so console order is the order in which
# things happened and host timestamps compare across domains.
#   problem  the frontend loads virtio_mmio at boot: its probe must fault
#            (no IOREQ server yet), and the device must still be missing
#            once the device model is up and xenreadyd says ready.
#   fix      the frontend waits (xenready-wait --modprobe virtio_mmio): the
#            probe comes only after the device model enabled its server and
#            announced itself, and the device registers at that first probe.
BEGIN {
    fix = variant == "fix"
    if (variant != "fix" && variant != "problem") { fail("unknown variant \"" variant "\""); exit 1 }
    step_count = split("start model-up model-killed", step_label, " ")
    step_row["start"] = "domu domu/mmio0 waiting 0/1 model"
    step_row["model-up"] = "domu domu/mmio0 ready 1/1 -"
    step_row["model-killed"] = "domu domu/mmio0 waiting 0/1 model"
    device = "virtio0:0x0004"    # virtio-mmio-model --device-id 4 (entropy)
}
# dom0's console (hvc0) and Xen's own lines share the serial port: a guest's
# line printed by Xen may follow a dom0 line that had no newline yet. Split
# such lines so that each part is judged with the host time of the line.
{
    line = $0
    stamp = line; sub(/\].*/, "]", stamp)
    first = 1
    while (line != "") {
        i = index(substr(line, 2), "(XEN) ")
        if (i > 0 && !(substr(line, 1, i) ~ /^\[[ 0-9.]+\] $/)) { part = substr(line, 1, i); line = substr(line, i + 1) }
        else { part = line; line = "" }
        $0 = first ? part : stamp " " part
        first = 0
        judge()
    }
}
function judge(    what) {
    if ($0 ~ /\(XEN\) Xen version/) xen_version = $0
    # What the frontend's kernel printed about a faulting access (its
    # console is the PL011 Xen prints as "(XEN) DOM1: ...").
    if ($0 ~ /\(XEN\) DOM1: \[ *[0-9.]+\] (Unable to handle|Internal error|pc :|  ESR =|  EC =|  FSC =)/) {
        what = $0; sub(/^.*\(XEN\) DOM1: \[ *[0-9.]+\] */, "", what)
        kernel_report = kernel_report "\n    " what
        if (what ~ /^Internal error/) { oops++; oops_line = oops_line ? oops_line : NR }
        if (what ~ /^pc : virtio_mmio_probe/) oops_in_probe = 1
    }
    if (!parse_console_line()) return
    if (tag == "dom0" && event == "boot") dom0_kernel = f[7]
    if (tag == "dom0" && event == "device-model-privileges") privileges = rest
    if (tag == "domd" && event == "booted") domd_booted = host
    if (tag == "domu" && event == "booted") { domu_booted = host; domu_kernel = f[9]; mode = f[5] }
    if (tag == "domd" && event == "xenreadyd-started") started = NR
    if (tag == "domd" && event == "model-start") model_start = NR
    if (tag == "domd" && event == "model-kill") model_kill = NR
    if (tag == "domd" && event == "DONE") done = 1
    if (tag == "dom0" && event == "checkpoint") asked_line[f[4]] = NR
    if (tag == "dom0" && event == "answered") answered_line[f[4]] = NR
    if (tag == "domd" && index(rest, "xenreadyd| ") == 1) {
        if (index(rest, "bridge domu/mmio0 (frontend domu, domid 1) ready: last backend model is up")) { ready_line = NR; ready++ }
        if (index(rest, "bridge domu/mmio0 (frontend domu, domid 1) waiting: backend model went away")) { withdrawn_line = NR; withdrawn++ }
        if (index(rest, "running without a xenstore connection")) without_xenstore++
    }
    # The device model's own report, and every access the frontend made.
    if (tag == "domd" && event == "model|") {
        what = rest; sub(/^model\| virtio-mmio-model: /, "", what)
        model_report = model_report "\n    " what
        if (what ~ /^IOREQ server [0-9]+ created/) created_line = NR
        if (what ~ /^IOREQ server [0-9]+ enabled/) { enabled = host; enabled_line = NR }
        if (what ~ /^ready: /) model_ready_line = NR
        if (what == "ready command exited 0") announced_line = NR
        if (what ~ /^(read|write) /) { accesses++; if (!first_access_line) first_access_line = NR }
        if (what == "read 0x000/4 = 0x74726976") magic_reads++
    }
    if (tag == "domu" && event == "checkpoint") {
        what = rest; sub(/^checkpoint [^ ]+ ?/, "", what)
        checkpoint[f[4]] = what; checkpoint_line[f[4]] = NR
    }
    if (tag == "domu" && event == "probe-now") probe_now_line = NR
    if (tag == "domu" && event == "modprobe|") {
        what = rest; sub(/^modprobe\| ?/, "", what)
        modprobe_report = modprobe_report "\n    " what
        if (what ~ /^exit /) modprobe_exit = what
    }
    if (tag == "domu" && event == "wait|") {
        what = rest; sub(/^wait\| ?/, "", what)
        wait_report = wait_report "\n    " what
        if (what == "xenready-wait: static event channel 10: ready") { woken = host; woken_line = NR }
        if (what ~ /^exit /) { registered = host; exit_what = what; exit_line = NR }
    }
}
function in_order(c) {
    return asked_line[c] && checkpoint_line[c] && answered_line[c] &&
           asked_line[c] < checkpoint_line[c] && checkpoint_line[c] < answered_line[c]
}
END {
    if (!domd_booted) fail("DomD never booted")
    if (!domu_booted) fail("the frontend never booted")
    else if (mode != variant) fail("the frontend ran mode \"" mode "\", expected \"" variant "\"")
    if (!privileges) fail("dom0 did not make DomD the frontend's device model")
    if (!started) fail("xenreadyd never started in DomD")
    if (without_xenstore != 1) fail("xenreadyd in DomD did not say it runs without xenstore")
    if (!done) fail("DomD did not finish the scenario")
    for (k = 1; k <= 3; k++)
        if (!in_order("c" k)) fail("checkpoint c" k " was not asked, reported and answered in that order")

    # The device model, in the order a device model must: created, enabled,
    # ports bound ("ready: ..."), then announced; started only after c1.
    if (!(created_line && enabled_line && model_ready_line && announced_line &&
          created_line < enabled_line && enabled_line < model_ready_line && model_ready_line < announced_line))
        fail("the device model did not create, enable, bind and then announce; it said:" model_report)
    if (!model_start || model_start < answered_line["c1"])
        fail("the device model started before checkpoint c1 was answered")
    # xenreadyd: ready only after the model could answer, withdrawn after its death.
    if (ready != 1) fail("xenreadyd declared domu/mmio0 ready " ready + 0 " time(s), expected once")
    else if (ready_line < model_ready_line)
        fail("xenreadyd declared domu/mmio0 ready before the device model had its IOREQ server enabled and bound")
    if (withdrawn != 1 || !model_kill || withdrawn_line < model_kill)
        fail("xenreadyd did not withdraw domu/mmio0 once after the device model was killed")
    for (k = 1; k <= step_count; k++) expect_row(step_label[k], step_row[step_label[k]])

    if (fix) {
        # Before the device model: the waiter waits, nothing was probed.
        if (checkpoint["c1"] != "waiter=running virtio_mmio=absent devices=none aborts=0")
            fail("at c1 (no device model yet) the frontend reported \"" checkpoint["c1"] "\"; the waiter said:" wait_report)
        # The signal came after the model could answer, the probe after the signal.
        if (!woken) fail("the waiter never read an event on static port 10; it said:" wait_report)
        else if (woken_line < model_ready_line)
            fail("the waiter woke before the device model's IOREQ server was enabled and bound; it said:" wait_report)
        if (!first_access_line || first_access_line < woken_line)
            fail("the frontend's first access to the device did not come after the waiter woke; the model said:" model_report)
        # Registered at its first probe: one probe, no fault, the device's ID.
        if (exit_what != "exit 0 virtio_mmio=loaded devices=" device)
            fail("the waiter ended with \"" exit_what "\", expected exit 0 with virtio_mmio loaded and " device "; it said:" wait_report)
        if (magic_reads != 1) fail("the frontend read the magic " magic_reads + 0 " time(s), expected once (one probe)")
        if (oops) fail("the frontend's kernel reported a fault:" kernel_report)
        if (checkpoint["c2"] != "waiter=exit-0 virtio_mmio=loaded devices=" device " aborts=0")
            fail("at c2 (device model up) the frontend reported \"" checkpoint["c2"] "\"")
        if (checkpoint["c3"] != "waiter=exit-0 virtio_mmio=loaded devices=" device " aborts=0")
            fail("at c3 (device model killed) the frontend reported \"" checkpoint["c3"] "\"")
    } else {
        # The probe ran before any IOREQ server existed: Xen injected a data
        # abort, the kernel oopsed in virtio_mmio_probe, modprobe died.
        if (!probe_now_line || !created_line || probe_now_line > created_line)
            fail("the frontend did not probe before the device model created its IOREQ server")
        if (!oops || !oops_in_probe)
            fail("the frontend's kernel did not report a fault in virtio_mmio_probe:" kernel_report)
        if (modprobe_exit !~ /^exit [1-9][0-9]* virtio_mmio=loaded devices=none$/)
            fail("modprobe virtio_mmio ended with \"" modprobe_exit "\", expected a failure and no device:" modprobe_report)
        if (checkpoint["c1"] !~ /^waiter=none virtio_mmio=loaded devices=none aborts=[1-9]/)
            fail("at c1 the frontend reported \"" checkpoint["c1"] "\", expected the fault and no device")
        # The device model came up and xenreadyd said so, too late: no device.
        if (checkpoint["c2"] !~ /^waiter=none virtio_mmio=loaded devices=none aborts=[1-9]/)
            fail("at c2 (device model up) the frontend reported \"" checkpoint["c2"] "\", expected still no device")
        if (accesses) fail("the device model saw " accesses " access(es); the only probe ran before it existed")
    }

    sub(/^.*\(XEN\) /, "", xen_version); sub(/ \(.*$/, "", xen_version)
    printf "e2e: %s run (%s, TCG, host clock)\n", variant, arch
    printf "  %s (IOREQ server built in); dom0 Linux %s, guest Linux %s\n", xen_version, dom0_kernel, domu_kernel
    printf "  boot: QEMU start -> DomD booted            %.1f s\n", domd_booted
    printf "  boot: QEMU start -> frontend booted        %.1f s (in parallel)\n", domu_booted
    if (fix) {
        printf "  IOREQ server enabled -> waiter woken       %s\n", ms(enabled, woken)
        printf "  IOREQ server enabled -> device registered  %s (modprobe virtio_mmio done)\n", ms(enabled, registered)
    } else {
        printf "  what Linux did:%s\n", kernel_report
        printf "  modprobe:%s\n", modprobe_report
    }
    printf "  whole QEMU run                             %s s\n", wall
    if (failures) { printf "e2e: FAILED (%d check(s))\n", failures; exit 1 }
    print "e2e: PASSED"
}
