# SPDX-License-Identifier: GPL-2.0-or-later
# Verdict of the systemd DomD scenario (tests/e2e/run-systemd): DomD boots
# systemd from a Debian 12 root with the xenreadyd package, the daemon runs
# from its shipped unit, the backends are real (QEMU's qdisk started by xl
# devd, virtiofsd, an announcing unit). See README.md. Uses console.awk.
# variant: systemd (DomU runs systemd and the packaged xenready-wait@ unit)
# or busybox (DomU runs the unit's command line from busybox init).
{
    is_e2e = parse_console_line()
    if (!is_e2e) next
    if (tag == "dom0" && event == "toolstack-ready") { seen["toolstack"] = 1; toolstack_host = host }
    if (tag == "dom0" && event == "unpaused" && f[4] == "domd") unpaused_domd_host = host
    if (tag == "dom0" && event == "create-end") domid[f[4]] = f[5]
    if (tag == "dom0" && event == "xenready-directory") seen["directory"] = 1
    if (tag == "domd" && event == "booted") { booted_host = host; system_state = f[7] }
    if (tag == "domd" && event == "boot-time|") { boot_time = rest; sub(/^boot-time\| /, "", boot_time) }
    # xenreadyd's journal, as DomD's driver followed it.
    if (tag == "domd" && event == "xenreadyd|") {
        what = rest; sub(/^xenreadyd\| /, "", what)
        if (what ~ /^started: /) started++
        if (what ~ /^frontend domu \(domain 2\) is back/) seen["introduced"] = 1
        if (what ~ /^backend qemu-domu up/) seen["qemu-up"] = 1
        if (what ~ /^backend fs-domu up/) seen["fs-up"] = 1
        if (what ~ /Watchdog timeout/) seen["watchdog"] = 1
        if (what ~ /sock_diag is not available/) seen["no-sock-diag"] = 1
        if (what ~ /^bridge domu\/pcie0 \(frontend domu, domid 2\) ready/) ready_t[++ready_n] = t
    }
    if (tag == "domd" && event == "unit") units[++unit_n] = rest
    if (tag == "domd" && event == "after-xenreadyd") { after_ready = rest; sub(/^after-xenreadyd /, "", after_ready) }
    # QEMU in xl-devd.service's control group, as libxl started it.
    if (tag == "domd" && event == "xl-devd|" && rest ~ /xen-qemu-system-i386 -xen-domid 2 -xen-attach .*-M xenpv/) seen["qemu-by-devd"] = 1
    if (tag == "domd" && event == "backend-active") last_active = t
    if (tag == "domd" && event == "domu-probed") probed = t
    if (tag == "domd" && event == "status-line") { status_line = rest; sub(/^status-line /, "", status_line) }
    if (tag == "domd" && event == "journal-bridge") journal_count = f[4]
    if (tag == "domd" && event == "security") security = f[4]
    if (tag == "domd" && event == "reload-broken") reload = f[4]
    if (tag == "domd" && event == "generation") generations[++generation_n] = f[4] " " f[5]
    if (tag == "domd" && event == "domu-followed") seen["followed"] = 1
    if (tag == "domd" && event == "domu-reported") { what = rest; sub(/^domu-reported /, "", what); reported[f[4]] = what }
    if (tag == "domu" && event == "booted") { seen["domu-booted"] = 1; domu_uptime = f[7] }
    # DomU under systemd (variant=systemd): the packaged unit ran, and finished.
    if (tag == "domu" && event == "waiter-unit" && rest ~ /path=\/usr\/bin\/xenready-wait ;/) seen["packaged-unit"] = 1
    if (tag == "domu" && event == "wait|" && rest ~ /Finished xenready-wait@pcie0\.service/) seen["unit-finished"] = 1
    # probe-disk's line, through xenready-wait's output ("wait| E2E[domu] ...").
    if (tag == "domu" && match(rest, /disk-read [^ ]+/)) disk = substr(rest, RSTART + 10, RLENGTH - 10)
    if (tag == "domu" && event == "follow|") { what = rest; sub(/^follow\| /, "", what); follow = follow "\n    " what }
    if (tag == "domu" && event == "wait|") {
        what = rest; sub(/^wait\| /, "", what)
        if (what ~ /^exit [0-9]+$/) wait_exit = substr(what, 6)
        if (what ~ /state ready$/ && what ~ /event on port/ && !wait_ready) wait_ready = what
    }
    if ((tag == "domd" || tag == "domu") && event == "DONE") seen[tag "-done"] = 1
}
END {
    if (!seen["toolstack"]) fail("dom0 never had the toolstack ready")
    if (domid["domd"] != 1 || domid["domu"] != 2) fail("domains not created as domd=1, domu=2")
    if (system_state != "running") fail("systemd in DomD did not reach \"running\" (" system_state ")")
    # The packaged unit: Type=notify, so active only after READY=1.
    if (unit_n < 1 || units[1] !~ /ActiveState=active SubState=running/ || units[1] !~ /NRestarts=0/)
        fail("xenreadyd.service was not active (READY=1) at boot: " units[1])
    # Type=notify: a unit ordered after it starts only after READY=1, which
    # follows the first scan's STATUS=.
    if (after_ready !~ /0\/1 bridges ready; waiting: domu\/pcie0/ || after_ready !~ /(^| )active( |$)/)
        fail("a unit ordered after xenreadyd.service started before its READY=1 (it saw \"" after_ready "\")")
    if (units[1] !~ /StatusText=0\/1 bridges ready; waiting: domu\/pcie0/)
        fail("STATUS= at boot was not \"0/1 bridges ready; waiting: domu/pcie0 ...\": " units[1])
    if (!seen["directory"] || !seen["introduced"]) fail("xenreadyd did not find DomU at its introduction")
    if (!seen["qemu-up"]) fail("xenreadyd never saw QEMU (device-model state) up")
    if (!seen["qemu-by-devd"]) fail("no QEMU (-xen-attach, -M xenpv) for DomU in xl-devd.service's control group")
    if (seen["no-sock-diag"]) fail("the socket probe had no sock_diag")
    # Nothing reached the guest before the last backend: DomU's answers at the
    # checkpoints after QEMU (c1) and virtiofsd (c2) came up.
    if (reported["c1"] != "c1 pcie0=waiting/1 waiter=running") fail("c1 (QEMU up) DomU reported: " reported["c1"])
    if (reported["c2"] != "c2 pcie0=waiting/1 waiter=running") fail("c2 (virtiofsd up) DomU reported: " reported["c2"])
    if (reported["c3"] != "c3 pcie0=ready/2 waiter=exited") fail("c3 (announced) DomU reported: " reported["c3"])
    if (!wait_ready) fail("DomU's xenready-wait never read ready after an event on its port")
    if (wait_exit != "0") fail("DomU's xenready-wait exited with " wait_exit)
    if (disk != "qdisk-from-domd-ok") fail("DomU did not read the test's file from the qdisk (read \"" disk "\")")
    # Under systemd.
    if (status_line !~ /^"?1\/1 bridges ready/) fail("systemctl status shows no STATUS= line \"1/1 bridges ready\": " status_line)
    if (journal_count + 0 < 1) fail("journalctl -u xenreadyd BRIDGE=domu/pcie0 returned nothing")
    if (security == "" || security + 0 > 2.0) fail("systemd-analyze security: exposure " security " (at most 2.0 wanted)")
    if (reload != "refused") fail("systemctl reload with a broken configuration was " (reload ? reload : "not tried"))
    if (generations[1] != "2 2") fail("the refused reload changed the generation: " generations[1])
    if (reported["c4"] != "c4 pcie0=ready/2 waiter=exited") fail("c4 (after the refused reload) DomU reported: " reported["c4"])
    if (!seen["followed"]) fail("DomU's follower did not see waiting then ready on its event channel:" follow)
    if (reported["c5"] != "c5 pcie0=ready/4 waiter=exited") fail("c5 (virtiofsd restarted) DomU reported: " reported["c5"])
    if (!seen["watchdog"]) fail("systemd's watchdog did not fire for the frozen xenreadyd")
    if (units[unit_n] !~ /NRestarts=1/ || units[unit_n] !~ /ActiveState=active/)
        fail("xenreadyd was not restarted once by the watchdog: " units[unit_n])
    if (generations[2] != "4 4") fail("the watchdog's restart changed the generation: " generations[2])
    if (reported["c6"] != "c6 pcie0=ready/4 waiter=exited") fail("c6 (after the restart) DomU reported: " reported["c6"])
    if (variant == "systemd" && !seen["packaged-unit"]) fail("DomU's xenready-wait@pcie0.service is not the packaged unit's ExecStart=")
    if (variant == "systemd" && !seen["unit-finished"]) fail("DomU's xenready-wait@pcie0.service did not finish")
    if (!seen["domd-done"]) fail("DomD did not finish the scenario")
    if (!seen["domu-done"]) fail("DomU did not finish the scenario")

    printf "e2e: %s: DomD (systemd) booted %s s after it was unpaused (host clock); %s\n", arch,
        booted_host && unpaused_domd_host ? sprintf("%.1f", booted_host - unpaused_domd_host) : "n/a", boot_time
    printf "e2e: last backend's unit active -> DomU probed its disk and its waiter exited (DomD's clock, a round trip): %s\n", ms(last_active, probed)
    if (variant == "systemd") printf "e2e: DomU (systemd) booted, uptime %s s\n", domu_uptime
    printf "e2e: systemd-analyze security: %s; whole run %s s\n", security, wall
    if (failures) { printf "e2e: FAILED (%d checks)\n", failures; exit 1 }
    print "e2e: passed"
}
