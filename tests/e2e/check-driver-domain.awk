# SPDX-License-Identifier: GPL-2.0-or-later
# Verdict of the driver-domain scenario (tests/e2e/run, tests/e2e/run-arm64
# driver-domain): dom0 toolstack, DomD (domid 1) running xenreadyd, DomU
# (domid 2) with xenready-wait --evtchn. See README.md. Uses console.awk.
{
    is_e2e = parse_console_line()
    # The socket probe fell back to /proc/net/unix: unix_diag was not loaded.
    if (index($0, "sock_diag is not available")) sock_diag_missing = 1
    # The socket probe saw the listener die through its pidfd (xenreadyd
    # --verbose), and withdrew mmio0 after that.
    if ($0 ~ /backend net-domu: process [0-9]+ holding \/run\/e2e\/net-domu\.sock exited/ && !holder_exit_line) holder_exit_line = NR
    if (index($0, "bridge domu/mmio0 (frontend domu, domid 2) waiting: backend net-domu went away")) mmio0_withdrawn_line = NR
    if (!is_e2e) next
    if (tag == "dom0" && event == "boot") { dom0_uptime = f[5] }
    if (tag == "dom0" && event == "toolstack-ready") { boot_host = host; seen["toolstack"] = 1 }
    if (tag == "dom0" && event == "create-begin") create_begin[f[4]] = t
    if (tag == "dom0" && event == "create-end") { create_end[f[4]] = t; domid[f[4]] = f[5] }
    if (tag == "dom0" && event == "unpaused") unpaused = t
    if (tag == "domd" && event == "booted") domd_booted = t
    if (tag == "domu" && event == "booted") domu_booted = t
    if (tag == "domd" && event == "xenreadyd-started") started = t
    if (tag == "domd" && event == "backend-up") up[f[4]] = t
    if (tag == "domd" && event == "backend-down") down[f[4]] = t
    if (tag == "domu" && event == "readonly-ok") seen["readonly"] = 1
    if ((tag == "domd" || tag == "domu") && event == "DONE") seen[tag "-done"] = 1
    if (tag == "domd" && event == "domu-reported") { what = rest; sub(/^domu-reported /, "", what); reported[what] = t }
    if (tag == "domu" && event == "checkpoint") {
        what = rest; sub(/^checkpoint [^ ]+ /, "", what)
        checkpoint[f[4]] = what; checkpoint_at[f[4]] = sees_n; checkpoint_line[f[4]] = NR; checkpoint_t[f[4]] = t
    }
    if (tag == "domu" && event == "waiters") { what = rest; sub(/^waiters [^ ]+ /, "", what); waiters[f[4]] = what }
    # xenready-wait --evtchn --verbose BRIDGE, then "exit STATUS".
    if (tag == "domu" && event ~ /^wait-[a-z0-9]+\|$/) {
        b = substr(event, 6, length(event) - 6)
        what = rest; sub(/^[^ ]+ ?/, "", what)
        wait_report[b] = wait_report[b] "\n    " what
        if (what ~ /^xenready-wait: [a-z0-9]+: .*state ready$/ && !(b in wait_ready)) wait_ready[b] = what
        if (what ~ /^exit [0-9]+$/) { wait_exit[b] = substr(what, 6); wait_exit_line[b] = NR; wait_exit_t[b] = t }
    }
    if (tag == "domu" && event == "sees") {
        what = rest; sub(/^sees /, "", what)
        if (what ~ /=-/) next          # a bridge node not created yet
        if (sees_n == 0 || sees[sees_n] != what) sees[++sees_n] = what
    }
}
END {
    if (!seen["toolstack"]) fail("dom0 never had the toolstack ready")
    if (domid["domd"] != 1 || domid["domu"] != 2) fail("domains not created as domd=1, domu=2")
    if (!started) fail("xenreadyd never started in DomD")
    if (!seen["readonly"]) fail("DomU never checked that it cannot write its xenready node")
    if (!seen["domd-done"]) fail("DomD did not finish the scenario")
    if (!seen["domu-done"]) fail("DomU did not finish the scenario")

    # What DomU saw, in order: nothing but these, each once.
    n = split("pcie0=waiting/1 mmio0=waiting/1|pcie0=ready/2 mmio0=waiting/1|" \
              "pcie0=ready/2 mmio0=ready/2|pcie0=waiting/3 mmio0=ready/2|" \
              "pcie0=waiting/3 mmio0=waiting/3", want, "|")
    got = ""
    for (k = 1; k <= sees_n; k++) got = got "\n    " sees[k]
    if (sees_n != n) fail("DomU saw " sees_n " states instead of " n ":" got)
    for (k = 1; k <= n && k <= sees_n; k++)
        if (sees[k] != want[k]) { fail("DomU state " k " was \"" sees[k] "\", expected \"" want[k] "\"; all:" got); break }

    # No premature signal, without trusting clocks across guests: DomD asked
    # for checkpoint c1 after xenreadyd had handled qemu-domu (and answered
    # xenreadyctl status), so what DomU read then is what xenreadyd had
    # published with all but the last backend of each bridge up.
    if (checkpoint["c1"] != "pcie0=waiting/1 mmio0=waiting/1")
        fail("at checkpoint c1 (qemu-domu up, disk-domu and net-domu not) DomU read \"" checkpoint["c1"] "\", expected waiting for both bridges")
    if (!("c1" in checkpoint_at) || checkpoint_at["c1"] != 1)
        fail("DomU saw a change before checkpoint c1 (" checkpoint_at["c1"] " states seen by then)")

    # Checkpoint c2: disk-domu up, net-domu not; mmio0 must still be waiting.
    if (checkpoint["c2"] != "pcie0=ready/2 mmio0=waiting/1")
        fail("at checkpoint c2 (net-domu not up) DomU read \"" checkpoint["c2"] "\", expected pcie0 ready, mmio0 waiting")
    if (!("c2" in checkpoint_at) || checkpoint_at["c2"] != 2)
        fail("DomU saw " checkpoint_at["c2"] " states by checkpoint c2 instead of 2")

    # xenready-wait (event channel): still waiting at the checkpoints where its
    # bridge was not complete, then woken by an event on its port that read
    # "ready", and exited 0 after that checkpoint (console order: a line is
    # printed only after what it reports happened).
    if (waiters["c1"] != "pcie0=running mmio0=running")
        fail("at checkpoint c1 the xenready-wait processes were \"" waiters["c1"] "\", expected both running")
    if (waiters["c2"] !~ /mmio0=running/)
        fail("at checkpoint c2 xenready-wait mmio0 was \"" waiters["c2"] "\", expected running")
    split("pcie0 c1|mmio0 c2", pairs, "|")
    for (k = 1; k <= 2; k++) {
        split(pairs[k], pc, " "); b = pc[1]; cp = pc[2]
        if (!(b in wait_exit)) { fail("xenready-wait " b " never returned; it said:" wait_report[b]); continue }
        if (wait_exit[b] != 0) fail("xenready-wait " b " exited with status " wait_exit[b] "; it said:" wait_report[b])
        if (wait_ready[b] !~ /: event on port [0-9]+; state ready$/)
            fail("xenready-wait " b " did not read ready after an event on its event channel; it said:" wait_report[b])
        if (!(cp in checkpoint_line) || wait_exit_line[b] < checkpoint_line[cp])
            fail("xenready-wait " b " returned before checkpoint " cp ", where its bridge was still waiting")
    }

    # The socket probe used sock_diag (unix_diag loaded in DomD).
    if (sock_diag_missing) fail("xenreadyd in DomD fell back to /proc/net/unix: unix_diag not loaded?")
    if (!holder_exit_line) fail("xenreadyd never logged the death of net-domu (process holding /run/e2e/net-domu.sock exited)")
    if (!mmio0_withdrawn_line) fail("xenreadyd never withdrew domu/mmio0 for net-domu going away")
    else if (holder_exit_line > mmio0_withdrawn_line) fail("xenreadyd withdrew domu/mmio0 before it saw net-domu die")

    # xenreadyctl status in DomD after each step (FRONTEND BRIDGE STATE BACKENDS MISSING).
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
    expect_row("net-down", "domu domu/pcie0 waiting 1/2 disk-domu")
    expect_row("net-down", "domu domu/mmio0 waiting 1/2 net-domu")

    print "e2e: timings (" arch ", TCG)"
    printf "  boot: Xen + dom0 to toolstack ready   %s s (host clock; dom0 uptime %s s)\n", boot_host, dom0_uptime
    printf "  xl create -p domd / domu              %s / %s\n", ms(create_begin["domd"], create_end["domd"]), ms(create_begin["domu"], create_end["domu"])
    printf "  unpause -> xenreadyd started in DomD  %s\n", ms(unpaused, started)
    # Measured on the DomD clock: from just before the backend writes (or
    # removes) its key to the DomU report of the new state read back in DomD,
    # so it also contains that report and the DomD watch on it (shell tools,
    # ~0.1 s per exec). Cross-guest stamps are not compared: guest wallclocks were
    # seen up to a second apart under TCG.
    printf "  last backend up -> DomU sees ready    pcie0 %s, mmio0 %s (round trip, DomD clock)\n", ms(up["disk-domu"], reported["c1 pcie0=ready/2 mmio0=waiting/1"]), ms(up["net-domu"], reported["c2 pcie0=ready/2 mmio0=ready/2"])
    printf "  backend gone -> DomU sees waiting     pcie0 (key removed) %s, mmio0 (listener killed) %s (round trip, DomD clock)\n", ms(down["disk-domu"], reported["c2 pcie0=waiting/3 mmio0=ready/2"]), ms(down["net-domu"], reported["c2 pcie0=waiting/3 mmio0=waiting/3"])
    # DomU clock alone: from the checkpoint at which the bridge still waited to
    # xenready-wait returning (an upper bound on its latency, including the step in DomD).
    printf "  xenready-wait returned (DomU clock)    pcie0 %s after c1, mmio0 %s after c2\n", ms(checkpoint_t["c1"], wait_exit_t["pcie0"]), ms(checkpoint_t["c2"], wait_exit_t["mmio0"])
    printf "  whole QEMU run                        %s s\n", wall
    if (failures) { printf "e2e: FAILED (%d check(s))\n", failures; exit 1 }
    print "e2e: PASSED"
}