// SPDX-License-Identifier: GPL-2.0-or-later
#include "sources.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "probes/probe.h"
#include "signallers/signaller.h"
#include "xen/domains.h"
#include "xen/xenstore.h"

void sources_init(struct sources *sources, struct ev_loop *loop, const char *state_directory)
{
    *sources = (struct sources){.loop = loop, .state_directory = state_directory};
}

void sources_set_xenstore(struct sources *sources, struct xenstore *xenstore)
{
    sources->xenstore = xenstore;
}

static bool probe_needed(const struct probe_type *kind, const struct model *model)
{
    for (size_t i = 0; i < model->backend_count; i++)
        if (model->backends[i]->bridge_count && kind->follows(model->backends[i]))
            return true;
    return false;
}

static bool method_needed(const struct signaller_type *method, const struct model *model)
{
    for (size_t i = 0; i < model->bridge_count; i++)
        if (model->bridges[i]->signal_methods & method->bit)
            return true;
    return false;
}

static void on_refresh(struct bridge *bridge, void *userdata)
{
    sources_refresh(userdata, bridge);
}

static void on_domain_change(struct frontend *frontend, bool present, void *userdata)
{
    sources_frontend_changed(userdata, frontend, present);
}

void sources_abort(struct sources *sources)
{
    for (unsigned int i = 0; i < probe_type_count; i++) {
        if (sources->probe_fresh[i]) {
            probe_free(sources->probes[i]);
            sources->probes[i] = NULL;
        } else if (sources->probe_staged[i]) {
            sources->probes[i]->ops->abort(sources->probes[i]);
        }
        sources->probe_fresh[i] = sources->probe_staged[i] = false;
    }
    for (unsigned int i = 0; i < signaller_type_count; i++) {
        if (sources->signaller_fresh[i]) {
            signaller_free(sources->signallers[i]);
            sources->signallers[i] = NULL;
        } else if (sources->signaller_staged[i]) {
            sources->signallers[i]->ops->abort(sources->signallers[i]);
        }
        sources->signaller_fresh[i] = sources->signaller_staged[i] = false;
        free(sources->staged_held[i]);
        sources->staged_held[i] = NULL;
    }
    if (sources->domains_fresh) {
        domains_free(sources->domains);
        sources->domains = NULL;
        sources->domains_fresh = false;
    }
    sources->staged_model = NULL;
}

static int stage_probes(struct sources *sources, struct model *model, bool strict)
{
    const struct probe_context context = {
        .loop = sources->loop,
        .xenstore = sources->xenstore,
        .state_directory = sources->state_directory,
    };
    for (unsigned int i = 0; i < probe_type_count; i++) {
        const struct probe_type *kind = probe_types[i];
        if (!probe_needed(kind, model) || (kind->needs_xenstore && !sources->xenstore))
            continue;
        if (!sources->probes[i]) {
            int r = kind->create(&sources->probes[i], &context);
            if (r < 0)
                return r;
            sources->probe_fresh[i] = true;
        }
        int r = sources->probes[i]->ops->stage(sources->probes[i], model, strict);
        if (r < 0)
            return r;
        sources->probe_staged[i] = true;
    }
    return 0;
}

static int stage_signallers(struct sources *sources, struct model *model, bool strict)
{
    const struct signaller_context context = {
        .loop = sources->loop,
        .xenstore = sources->xenstore,
        .on_refresh = on_refresh,
        .userdata = sources,
        .state_directory = sources->state_directory,
    };
    for (unsigned int i = 0; i < signaller_type_count; i++) {
        const struct signaller_type *method = signaller_types[i];
        if (!method_needed(method, model) || (method->needs_xenstore && !sources->xenstore))
            continue;
        if (model->bridge_count
            && !(sources->staged_held[i] = calloc(model->bridge_count, sizeof(bool))))
            return -ENOMEM;
        if (!sources->signallers[i]) {
            int r = method->create(&sources->signallers[i], &context);
            if (r < 0)
                return r;
            sources->signaller_fresh[i] = true;
        }
        int r = sources->signallers[i]->ops->stage(sources->signallers[i], model, strict);
        if (r < 0)
            return r;
        sources->signaller_staged[i] = true;
    }
    return 0;
}

/* Probes first, then the domain events, then the signallers: when
 * xenstored's watch quota is short, backends are watched first (the
 * frontends' directory watches only repair). */
int sources_stage(struct sources *sources, struct model *model, bool strict)
{
    sources_abort(sources);
    sources->staged_model = model;
    int r = stage_probes(sources, model, strict);
    bool domains_needed = sources->xenstore && model_needs_xenstore(model);
    if (r == 0 && domains_needed && !sources->domains) {
        r = domains_new(&sources->domains, sources->xenstore, on_domain_change, sources);
        sources->domains_fresh = r == 0;
    }
    if (r == 0 && domains_needed)
        domains_stage(sources->domains, model);
    if (r == 0)
        r = stage_signallers(sources, model, strict);
    if (r < 0)
        sources_abort(sources);
    return r;
}

int sources_shown(struct sources *sources, const struct bridge *bridge)
{
    for (unsigned int i = 0; i < signaller_type_count; i++) {
        struct signaller *signaller = sources->signallers[i];
        if (!sources->signaller_staged[i] || !signaller->ops->shown)
            continue;
        int shown = signaller->ops->shown(signaller, bridge);
        if (shown >= 0)
            return shown;
    }
    return -1;
}

/* Signallers first, so that what the probes' first looks change is noted
 * by the entries it concerns; then the probes; what no staged source
 * follows any more goes last. */
void sources_commit(struct sources *sources)
{
    struct model *model = sources->staged_model;
    sources->committing = true;
    for (unsigned int i = 0; i < signaller_type_count; i++) {
        if (sources->signaller_staged[i]) {
            sources->signallers[i]->ops->commit(sources->signallers[i]);
        } else {
            signaller_free(sources->signallers[i]);
            sources->signallers[i] = NULL;
        }
        free(sources->held[i]);
        sources->held[i] = sources->staged_held[i];
        sources->staged_held[i] = NULL;
        sources->signaller_fresh[i] = sources->signaller_staged[i] = false;
    }
    sources->model = model;
    if (sources->domains && sources->xenstore && model_needs_xenstore(model)) {
        domains_commit(sources->domains, model);
    } else {
        domains_free(sources->domains);
        sources->domains = NULL;
    }
    sources->domains_fresh = false;
    for (unsigned int i = 0; i < probe_type_count; i++) {
        if (sources->probe_staged[i]) {
            sources->probes[i]->ops->commit(sources->probes[i]);
        } else {
            probe_free(sources->probes[i]);
            sources->probes[i] = NULL;
        }
        sources->probe_fresh[i] = sources->probe_staged[i] = false;
    }
    sources->staged_model = NULL;
}

static bool signaller_held(const struct sources *sources, unsigned int i)
{
    return sources->committing || (sources->xenstore_away && signaller_types[i]->needs_xenstore);
}

/* Tells each signaller that may publish now of the bridges it held. */
static void sources_release(struct sources *sources)
{
    struct model *model = sources->model;
    for (unsigned int i = 0; i < signaller_type_count; i++) {
        struct signaller *signaller = sources->signallers[i];
        if (!signaller || signaller_held(sources, i) || !sources->held[i])
            continue;
        for (size_t j = 0; j < model->bridge_count; j++)
            if (sources->held[i][j]) {
                sources->held[i][j] = false;
                signaller->ops->publish(signaller, model->bridges[j]);
            }
    }
}

void sources_start(struct sources *sources)
{
    for (unsigned int i = 0; i < signaller_type_count; i++)
        if (sources->signallers[i])
            sources->signallers[i]->ops->start(sources->signallers[i]);
    sources->committing = false;
    sources_release(sources);
}

void sources_publish(struct sources *sources, struct bridge *bridge)
{
    for (unsigned int i = 0; i < signaller_type_count; i++) {
        struct signaller *signaller = sources->signallers[i];
        if (!signaller)
            continue;
        if (signaller_held(sources, i)) {
            if (sources->held[i] && bridge->index < sources->model->bridge_count)
                sources->held[i][bridge->index] = true;
            continue;
        }
        signaller->ops->publish(signaller, bridge);
    }
}

void sources_xenstore_lost(struct sources *sources)
{
    sources->xenstore_away = true;
    for (unsigned int i = 0; i < probe_type_count; i++)
        if (sources->probes[i] && sources->probes[i]->ops->xenstore_lost)
            sources->probes[i]->ops->xenstore_lost(sources->probes[i]);
}

void sources_xenstore_reread(struct sources *sources)
{
    for (unsigned int i = 0; i < probe_type_count; i++)
        if (sources->probes[i] && sources->probes[i]->ops->xenstore_back)
            sources->probes[i]->ops->xenstore_back(sources->probes[i]);
}

/* The backends first: nothing is published from what was read before the
 * outage (the held signallers note the changes), then the frontends. */
void sources_xenstore_back(struct sources *sources)
{
    sources_xenstore_reread(sources);
    if (sources->domains)
        domains_back(sources->domains);
    sources->xenstore_away = false;
    for (unsigned int i = 0; i < signaller_type_count; i++)
        if (sources->signallers[i] && sources->signallers[i]->ops->xenstore_back)
            sources->signallers[i]->ops->xenstore_back(sources->signallers[i]);
    sources_release(sources);
}

int sources_retry(struct sources *sources)
{
    for (unsigned int i = 0; i < signaller_type_count; i++) {
        struct signaller *signaller = sources->signallers[i];
        if (!signaller || !signaller->ops->retry)
            continue;
        int r = signaller->ops->retry(signaller);
        if (r < 0)
            return r;
    }
    return 0;
}

void sources_frontend_changed(struct sources *sources, struct frontend *frontend, bool present)
{
    for (unsigned int i = 0; i < signaller_type_count; i++) {
        struct signaller *signaller = sources->signallers[i];
        if (signaller && signaller->ops->frontend_changed)
            signaller->ops->frontend_changed(signaller, frontend, present);
    }
}

void sources_refresh(struct sources *sources, struct bridge *bridge)
{
    for (unsigned int i = 0; i < signaller_type_count; i++) {
        struct signaller *signaller = sources->signallers[i];
        if (signaller && signaller->ops->refresh)
            signaller->ops->refresh(signaller, bridge);
    }
}

size_t sources_signallers(const struct sources *sources, struct signaller **out, size_t max)
{
    size_t count = 0;
    for (unsigned int i = 0; i < signaller_type_count && count < max; i++)
        if (sources->signallers[i])
            out[count++] = sources->signallers[i];
    return count;
}

struct probe *sources_probe(const struct sources *sources, const char *name)
{
    for (unsigned int i = 0; i < probe_type_count; i++)
        if (strcmp(probe_types[i]->name, name) == 0)
            return sources->probes[i];
    return NULL;
}

void sources_finish(struct sources *sources)
{
    sources_abort(sources);
    for (unsigned int i = 0; i < probe_type_count; i++)
        probe_free(sources->probes[i]);
    for (unsigned int i = 0; i < signaller_type_count; i++) {
        signaller_free(sources->signallers[i]);
        free(sources->held[i]);
    }
    domains_free(sources->domains);
    *sources = (struct sources){0};
}
