// SPDX-License-Identifier: GPL-2.0-or-later
#include "evtchn-device.h"

#include <string.h>

#include "signal-slot.h"
#include "util/log.h"
#include "xen/evtchn.h"

/* Events a frontend sends us carry nothing we need: the kernel masked the
 * port when it delivered the event, and it is left masked, so a chatty guest
 * cannot keep us awake. */
static void evtchn_device_on_event(struct ev_loop *loop, ev_io *io, int revents)
{
    struct evtchn_device *device = io->data;
    int port = evtchn_pending(device->evtchn);
    if (port >= 0)
        log_message(LOG_DEBUG, "event from a frontend on %s %d ignored; port left masked",
                    device->what, port);
}

void evtchn_device_open(struct evtchn_device *device, struct ev_loop *loop, const char *what)
{
    *device = (struct evtchn_device){.loop = loop, .what = what};
    int r = evtchn_open(&device->evtchn);
    if (r < 0) {
        device->evtchn = NULL;
        device->open_error = r;
        return;
    }
    ev_io_init(&device->io, evtchn_device_on_event, evtchn_fd(device->evtchn), EV_READ);
    device->io.data = device;
    ev_io_start(loop, &device->io);
}

struct evtchn *evtchn_device_get(struct evtchn_device *device, struct signal_slot *slot)
{
    if (!device->evtchn)
        signal_slot_fail(slot, LOG_ERR, "cannot open the event channel device: %s",
                         strerror(-device->open_error));
    return device->evtchn;
}

void evtchn_device_close(struct evtchn_device *device)
{
    if (!device->evtchn)
        return;
    ev_io_stop(device->loop, &device->io);
    evtchn_close(device->evtchn);
    device->evtchn = NULL;
}
