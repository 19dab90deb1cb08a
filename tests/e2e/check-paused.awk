# SPDX-License-Identifier: GPL-2.0-or-later
# Verdict of the held-paused scenario (tests/e2e/run paused): dom0 toolstack
# running xenreadyd with signal = unpause, DomD (domid 1) publishing two
# bridges, the frontend (domid 2) created with xl create -p and running
# nothing of this project. See README.md. Uses console.awk.
#
# Orders are console orders (line numbers), never clocks across guests:
# dom0's own lines (its checkpoints, what xl list says, its xenreadyd's log)
# reach the serial line directly and in the order they happened; a guest's
# line is forwarded by dom0 after the guest printed it.
{
    is_e2e = parse_console_line()
    # The frontend's first console line of any kind (kernel or init).
    if ($0 ~ /^\[ *[0-9.]+\] domu\| / && !domu_first) { domu_first = NR; domu_first_host = host; domu_first_text = $0 }
    if (!is_e2e) next
    if (tag == "dom0" && event == "toolstack-ready") { boot_host = host; seen["toolstack"] = 1 }
    if (tag == "dom0" && event == "check-config-exit") check_config = f[4]
    if (tag == "dom0" && event == "check-config|") check_config_text = check_config_text "\n    " rest
    if (tag == "dom0" && event == "xenreadyd-started") seen["dom0-xenreadyd"] = 1
    if (tag == "dom0" && event == "create-begin") create_begin[f[4]] = t
    if (tag == "dom0" && event == "create-end") { create_end[f[4]] = t; domid[f[4]] = f[5] }
    if (tag == "dom0" && event == "xenreadyd|") {
        what = rest; sub(/^xenreadyd\| (<[0-9]+>)?/, "", what)
        if (what ~ /^domain 2 \(frontend domu\) is paused: unpaused once its bridges are ready/ && !held_line) held_line = NR
        if (what ~ /^domain 2 \(frontend domu\) unpaused: /) { unpauses++; unpause_line = NR; unpause_host = host; unpause_t = t; unpause_text = unpause_text "\n    " what }
        if (what ~ /^domain 2 \(frontend domu\) (is running|was unpaused by someone else)/) left_alone = left_alone "\n    " what
        if (what ~ /^bridge domu\/held \(frontend domu, domid 2\) ready/) { held_ready_line[++held_ready] = NR; held_ready_text[held_ready] = what }
        if (what ~ /^bridge domu\/held \(frontend domu, domid 2\) waiting: backend domd-pcie0 went away/ && !held_withdrawn) held_withdrawn = NR
        if (what ~ /^(cannot|ignoring)/) dom0_errors = dom0_errors "\n    " what
    }
    if (tag == "dom0" && event == "look") { look_state[f[4]] = f[6]; look_cpu[f[4]] = f[8]; look_bytes[f[4]] = f[10]; look_line[f[4]] = NR }
    if (tag == "dom0" && event == "answered") { answered_line[f[4]] = NR; answered_t[f[4]] = t }
    # e2e_stop's xl list, after the test's own xl unpause at c4.
    if (tag == "dom0" && event == "xl-list|" && f[4] == "domu") final_state = f[8]
    if (tag == "domd" && event == "xenreadyd-started") seen["domd-xenreadyd"] = 1
    if (tag == "domd" && event == "backend-up" && f[4] == "net-domu") { net_up_line = NR; net_up_t = t }
    if (tag == "domu" && event == "booted") { domu_booted_host = host; domu_uptime = f[5] }
    if (tag == "domu" && event == "sees") { domu_sees = rest; sub(/^sees /, "", domu_sees) }
    if ((tag == "dom0" || tag == "domd" || tag == "domu") && (event == "DONE" || event == "guests-done")) seen[tag "-" event] = 1
}
function paused(label) { return look_state[label] ~ /^[-a-z]*p[-a-z]*$/ }
END {
    if (!seen["toolstack"]) fail("dom0 never had the toolstack ready")
    if (check_config != "0") fail("xenreadyd --check-config in dom0 exited with status " check_config ":" check_config_text)
    if (!seen["dom0-xenreadyd"]) fail("xenreadyd never started in dom0")
    if (domid["domd"] != 1 || domid["domu"] != 2) fail("domains not created as domd=1, domu=2")
    if (!seen["domd-xenreadyd"]) fail("xenreadyd never started in DomD")
    if (!seen["domd-DONE"]) fail("DomD did not finish the scenario")
    if (!seen["domu-DONE"]) fail("the frontend never ran to its end")
    if (!seen["dom0-guests-done"]) fail("dom0 did not finish the scenario")
    if (dom0_errors != "") fail("xenreadyd in dom0 reported:" dom0_errors)

    # Held as created: dom0's xenreadyd saw the new domain paused.
    if (!held_line) fail("xenreadyd in dom0 never said it holds domain 2 (created paused)")
    else if (!("c1" in answered_line) || held_line > answered_line["c1"]) fail("xenreadyd in dom0 took domain 2 in only after checkpoint c1")

    # Before DomD's last backend: paused, never run (no CPU time), silent.
    # c1 is asked after DomD's xenreadyd published pcie0 ready and mmio0
    # waiting, and answered after dom0's xenreadyd took pcie0 in and answered
    # xenreadyctl status, so after anything it did about that step.
    if (!("c1" in look_line)) fail("dom0 never looked at the frontend at checkpoint c1")
    else if (!paused("c1") || look_cpu["c1"] != "0.0" || look_bytes["c1"] != 0)
        fail("at checkpoint c1 (DomD's last backend not up) the frontend was state " look_state["c1"] ", CPU " look_cpu["c1"] " s, " look_bytes["c1"] " console bytes; expected paused, 0.0, 0")

    # Exactly one unpause, after c1, in the step in which domu/held became
    # ready because domd-mmio0 (DomD's bridge whose last backend came last)
    # did: xenreadyd unpauses while it publishes the transition, and logs
    # the transition right after.
    if (unpauses != 1) fail("xenreadyd in dom0 unpaused domain 2 " unpauses " times, expected once:" unpause_text)
    else {
        if (!("c1" in answered_line) || unpause_line < answered_line["c1"])
            fail("xenreadyd in dom0 unpaused domain 2 before checkpoint c1, while DomD's mmio0 still waited")
        if (held_ready < 1 || held_ready_line[1] < unpause_line || held_ready_text[1] !~ /: last backend domd-mmio0 is up$/)
            fail("xenreadyd in dom0 did not unpause domain 2 as domu/held became ready with domd-mmio0; first ready: \"" held_ready_text[1] "\"")
    }
    if (left_alone != "") fail("xenreadyd in dom0 gave up holding domain 2:" left_alone)

    # The frontend's first console line: after the unpause, after c1, after
    # DomD's last backend came up; and what it read first was both ready.
    if (!domu_first) fail("the frontend never printed anything")
    else {
        if (!unpause_line || domu_first < unpause_line) fail("the frontend printed before xenreadyd in dom0 unpaused it: " domu_first_text)
        if (!("c1" in answered_line) || domu_first < answered_line["c1"]) fail("the frontend printed before checkpoint c1: " domu_first_text)
        if (!net_up_line || domu_first < net_up_line) fail("the frontend printed before DomD's last backend (net-domu) came up: " domu_first_text)
    }
    if (domu_sees != "pcie0=ready/2 mmio0=ready/2")
        fail("the frontend's first read of its xenready nodes was \"" domu_sees "\", expected pcie0=ready/2 mmio0=ready/2")

    # An operator's pause is not undone: the frontend ran (its report) and was
    # paused by dom0 at c2 (xl pause), then DomD's pcie0 was withdrawn (c3) and
    # ready again (c4): xenreadyd in dom0 sees the held bridge go and come back
    # and leaves the frontend paused, until the test unpauses it.
    if (!("c2" in look_cpu) || look_cpu["c2"] + 0 <= 0) fail("at checkpoint c2 the frontend had used no CPU: it never ran")
    if (!paused("c2")) fail("after dom0's xl pause the frontend was state " look_state["c2"] ", expected paused")
    if (!held_withdrawn || !("c2" in answered_line) || held_withdrawn < answered_line["c2"])
        fail("xenreadyd in dom0 never saw domu/held withdrawn (domd-pcie0 went away) after c2")
    if (held_ready != 2) fail("domu/held became ready " held_ready " times, expected twice (at start, after DomD's backend flapped)")
    else if (held_ready_line[2] < held_withdrawn) fail("domu/held was not ready again after it was withdrawn")
    if (!paused("c4")) fail("at checkpoint c4 (DomD's pcie0 ready again) the frontend was state " look_state["c4"] ": xenreadyd undid the operator's pause")
    if (final_state == "" || final_state ~ /p/) fail("after the test's xl unpause the frontend was state \"" final_state "\"")

    # xenreadyctl status in dom0 at each checkpoint (FRONTEND BRIDGE STATE BACKENDS MISSING).
    expect_row("dom0-c1", "domu domu/held waiting 1/2 domd-mmio0")
    expect_row("dom0-c2", "domu domu/held ready 2/2 -")
    expect_row("dom0-c4", "domu domu/held ready 2/2 -")
    # ... and in DomD after each of its steps.
    expect_row("start", "domu domu/pcie0 waiting 0/2 qemu-domu, disk-domu")
    expect_row("start", "domu domu/mmio0 waiting 0/2 qemu-domu, net-domu")
    expect_row("qemu-up", "domu domu/pcie0 waiting 1/2 disk-domu")
    expect_row("qemu-up", "domu domu/mmio0 waiting 1/2 net-domu")
    expect_row("disk-up", "domu domu/pcie0 ready 2/2 -")
    expect_row("disk-up", "domu domu/mmio0 waiting 1/2 net-domu")
    expect_row("net-up", "domu domu/pcie0 ready 2/2 -")
    expect_row("net-up", "domu domu/mmio0 ready 2/2 -")
    expect_row("disk-down", "domu domu/pcie0 waiting 1/2 disk-domu")
    expect_row("disk-down", "domu domu/mmio0 ready 2/2 -")
    expect_row("disk-again", "domu domu/pcie0 ready 2/2 -")
    expect_row("disk-again", "domu domu/mmio0 ready 2/2 -")

    print "e2e: timings (" arch ", TCG, held paused)"
    printf "  boot: Xen + dom0 to toolstack ready   %s s (host clock)\n", boot_host
    printf "  xl create -p domd / domu              %s / %s\n", ms(create_begin["domd"], create_end["domd"]), ms(create_begin["domu"], create_end["domu"])
    # On dom0's clock alone: from its answer to c1 (after which DomD starts
    # net-domu) to the unpause, so it includes DomD reading the answer and
    # starting the listener, DomD's xenreadyd publishing mmio0, and dom0's
    # xenreadyd reading it.
    printf "  c1 answered -> unpaused               %s (dom0 clock: DomD starts net-domu, both daemons, the unpause)\n", ms(answered_t["c1"], unpause_t)
    printf "  unpaused -> frontend's first line     %s s (host clock, through the console forwarding); its uptime then %s s\n", unpause_host && domu_first_host ? sprintf("%.1f", domu_first_host - unpause_host) : "n/a", domu_uptime
    printf "  whole QEMU run                        %s s\n", wall
    if (failures) { printf "e2e: FAILED (%d check(s))\n", failures; exit 1 }
    print "e2e: PASSED"
}
