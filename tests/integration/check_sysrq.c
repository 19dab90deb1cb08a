// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * signal = sysrq (compatibility with the origin prototype): the sysrq key is
 * written to the frontend's control/sysrq, which works when xenreadyd runs
 * as dom0 and is refused, with a clear message in status, for an
 * unprivileged DomD. Both against the real xenstored's permission checks.
 */
#include <json-c/json.h>
#include <signal.h>

#include "signal-fixture.h"

#define SYSRQ "/local/domain/5/control/sysrq"

static const char sysrq_config[] = SCENE_CONFIG("signal = xenstore sysrq\nsysrq-key = x\n");

/* The sysrq entry of the bridge's "signals" in xenreadyctl status --json. */
static char *sysrq_error(void)
{
    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output,
                                       (const char *[]){"status", "--json", NULL}), 0);
    struct json_object *status = json_tokener_parse(output), *bridges, *signals;
    ck_assert_ptr_nonnull(status);
    ck_assert(json_object_object_get_ex(status, "bridges", &bridges));
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(bridges, 0), "signals",
                                        &signals));
    char *error = NULL;
    bool found = false;
    for (size_t i = 0; i < json_object_array_length(signals); i++) {
        struct json_object *signal = json_object_array_get_idx(signals, i), *method, *text;
        json_object_object_get_ex(signal, "method", &method);
        if (strcmp(json_object_get_string(method), "sysrq") != 0)
            continue;
        found = true;
        if (json_object_object_get_ex(signal, "error", &text) && text)
            error = strdup(json_object_get_string(text));
    }
    ck_assert_msg(found, "no sysrq signal in status:\n%s", output);
    json_object_put(status);
    free(output);
    return error;
}

START_TEST(refused_as_unprivileged_domd)
{
    scene_start_daemon(sysrq_config);
    scene_backend("a", "up");
    scene_backend("b", "up");
    scene_wait_status(STATUS_READY);
    char *error = sysrq_error();
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(error, "cannot write sysrq key 'x' to " SYSRQ ": permission denied; only "
                            "dom0 may write a guest's control/sysrq (domain 1 is not dom0): use "
                            "signal = xenstore or evtchn");
    free(error);
    char *value = xs_read_string(frontend, SYSRQ);
    ck_assert_ptr_null(value);
    /* The other method of the bridge is not affected. */
    value = xs_read_string(frontend, NODE "/state");
    ck_assert_str_eq(value, "ready");
    free(value);
}
END_TEST

START_TEST(written_as_dom0)
{
    /* xenreadyd in dom0: the harness's privileged socket is domain 0. */
    ck_assert_int_eq(daemon_runner_init(&runner, harness, 0,
                                        SCENE_CONFIG("signal = sysrq\nsysrq-key = x\n")), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    /* The backends' relative paths now resolve in dom0's home. */
    ck_assert_int_eq(xs_write_string(dom0, "/local/domain/0/backend/a", "up"), 0);
    scene_wait_status(STATUS_WAITING_B);
    char *value = xs_read_string(frontend, SYSRQ);
    ck_assert_msg(!value || !value[0], "sysrq written before the bridge was ready");
    free(value);
    ck_assert_int_eq(xs_write_string(dom0, "/local/domain/0/backend/b", "up"), 0);
    ck_assert_int_eq(xs_wait_value(frontend, SYSRQ, SYSRQ, "x", TIMEOUT_MS), 0);
    /* Take the "ready" status too, so that waiting for "waiting" below waits
     * for the next change, not the one before. */
    scene_wait_status(STATUS_READY);
    char *error = sysrq_error();
    ck_assert_ptr_null(error);

    /* The guest acknowledges with "" (as Linux does); a withdrawal writes
     * nothing, the next readiness writes again. */
    ck_assert_int_eq(xs_write_string(frontend, SYSRQ, ""), 0);
    ck_assert_int_eq(xs_write_string(dom0, "/local/domain/0/backend/b", "gone"), 0);
    scene_wait_status(STATUS_WAITING_B);
    value = xs_read_string(frontend, SYSRQ);
    ck_assert_str_eq(value, "");
    free(value);
    ck_assert_int_eq(xs_write_string(dom0, "/local/domain/0/backend/b", "up"), 0);
    ck_assert_int_eq(xs_wait_value(frontend, SYSRQ, SYSRQ, "x", TIMEOUT_MS), 0);
}
END_TEST

int main(void)
{
    const struct integration_case cases[] = {
        {"refused_as_unprivileged_domd", refused_as_unprivileged_domd},
        {"written_as_dom0", written_as_dom0},
    };
    return scene_run(scene_suite("sysrq", cases, sizeof(cases) / sizeof(cases[0])));
}
