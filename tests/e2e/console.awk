# SPDX-License-Identifier: GPL-2.0-or-later
# Common to the end-to-end checkers (tests/e2e/check-log): the console's
# line format, "[host seconds] [guest| ]E2E[TAG] GUEST-TIME WORDS...", the
# xenreadyctl status tables, and how failures and times are reported.

function fail(msg) { failures++; printf "e2e: CHECK FAILED: %s\n", msg }
function ms(a, b) { return a && b ? sprintf("%.0f ms", (b - a) * 1000) : "n/a" }
# Status rows as printed by xenreadyctl, with runs of blanks squeezed and the
# SINCE column (a time, or "-") left out.
function expect_row(label, row,    key) {
    key = label SUBSEP row
    if (!(key in rows)) fail("xenreadyctl status after \"" label "\" has no row \"" row "\"" \
                             (label in tables ? "; it was:" tables[label] : "; no table printed"))
}
# Splits the current line: host (host clock, seconds since QEMU started; for
# every line), and for an E2E line also tag, t (the guest's clock), event,
# rest (the words after the time) and f[] (all words). Records FAIL lines and
# status tables. Returns whether it was an E2E line.
function parse_console_line(    i, line, row, n, c, k, key) {
    gsub(/\r/, "")
    host = $0
    sub(/^\[ */, "", host); sub(/\].*/, "", host)
    host += 0
    i = index($0, "E2E[")
    if (!i) return 0
    line = substr($0, i)
    tag = substr(line, 5, index(line, "]") - 5)
    split(line, f, " ")
    t = f[2] + 0
    rest = line; sub(/^E2E\[[^]]*\] [^ ]+ ?/, "", rest)
    event = f[3]
    if (event == "FAIL") fail(tag ": " rest)
    # A table is its domain's: dom0's may be printed between a guest's
    # forwarded lines.
    if (event == "status-begin") { label = f[4]; status_label[tag] = label; tables[label] = "" }
    if (event == "status|") {
        label = status_label[tag]
        row = rest; sub(/^status\| ?/, "", row); gsub(/ +/, " ", row); sub(/ $/, "", row)
        tables[label] = tables[label] "\n    " row
        n = split(row, c, " ")
        if (n >= 6) { key = c[1] " " c[2] " " c[3] " " c[4]; for (k = 6; k <= n; k++) key = key " " c[k]; rows[label, key] = 1 }
    }
    return 1
}
