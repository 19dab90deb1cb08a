// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-mmio-model — a minimal virtio-mmio device model: an IOREQ server
 * in the backend domain (DomD) that answers a guest's virtio-mmio register
 * file, the way QEMU or a standalone virtio backend does, and nothing more.
 * It is the real IOREQ-server peer of the arm64 IOREQ end-to-end test
 * (tests/e2e/README.md, "arm64 IOREQ").
 *
 *   virtio-mmio-model --domid N [--base ADDRESS] [--device-id ID]
 *                     [--vcpus N] [--pidfile PATH] [--ready-command CMD]
 *                     [--verbose]
 *
 * What it does, in the order a device model must (xenreadyd(8), "Device
 * models: when to say ready"):
 *   1. creates an IOREQ server for domain N (libxendevicemodel), maps its
 *      ioreq page (libxenforeignmemory, XENMEM_resource_ioreq_server) and
 *      claims the 0x200-byte virtio-mmio region at ADDRESS;
 *   2. enables the server: from now on Xen forwards the guest's accesses to
 *      the region here instead of injecting a data abort;
 *   3. binds each vCPU's event channel, published in the ioreq page only once
 *      the server is enabled (libxenevtchn);
 *   4. only then says it is ready: it prints "ready", and runs CMD (for
 *      example "xenreadyctl ready NAME") and waits for it.
 * Then it answers the register file: magic "virt", version 2, device ID
 * (default 4, entropy), vendor, features (VIRTIO_F_VERSION_1), status,
 * queue 0 with 64 entries, an empty configuration space. Queues are never
 * processed: without the device's driver in the guest, registering the
 * device is all that happens. SIGTERM or SIGINT destroy the server and
 * remove the pidfile; SIGKILL leaves both (the pidfile then names a dead
 * process, which is how xenreadyd sees the model gone).
 *
 * Standard output: one line per step, and with --verbose one per access
 * ("read 0x000/4 = 0x74726976"), flushed at once.
 */
/* The IOREQ server interfaces are the tools-only part of Xen's headers. */
#define __XEN_TOOLS__ 1

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>

#define REGION_SIZE 0x200u
#define MAX_VCPUS 8u
#define QUEUE_SIZE 64u

/* Registers of the virtio-mmio transport, version 2 (virtio 1.x, 4.2.2). */
enum {
    REG_MAGIC = 0x000,
    REG_VERSION = 0x004,
    REG_DEVICE_ID = 0x008,
    REG_VENDOR_ID = 0x00c,
    REG_DEVICE_FEATURES = 0x010,
    REG_DEVICE_FEATURES_SEL = 0x014,
    REG_DRIVER_FEATURES = 0x020,
    REG_DRIVER_FEATURES_SEL = 0x024,
    REG_QUEUE_SEL = 0x030,
    REG_QUEUE_NUM_MAX = 0x034,
    REG_QUEUE_NUM = 0x038,
    REG_QUEUE_READY = 0x044,
    REG_QUEUE_NOTIFY = 0x050,
    REG_INTERRUPT_STATUS = 0x060,
    REG_INTERRUPT_ACK = 0x064,
    REG_STATUS = 0x070,
    REG_CONFIG_GENERATION = 0x0fc,
    REG_CONFIG = 0x100,
};
#define VIRTIO_MAGIC 0x74726976u     /* "virt" */
#define VENDOR_ID 0x6e657278u        /* "xren" */

struct device {
    uint32_t device_id;
    uint32_t device_features_sel;
    uint32_t driver_features[2];
    uint32_t driver_features_sel;
    uint32_t queue_sel;
    uint32_t queue_num;
    uint32_t queue_ready;
    uint32_t status;
    uint32_t interrupt_status;
};

static volatile sig_atomic_t stop_signal;
static int wake_pipe[2] = { -1, -1 };

static void on_signal(int signo)
{
    int saved = errno;
    stop_signal = signo;
    if (write(wake_pipe[1], "", 1) < 0) {
        /* The pipe is full: a wake-up is pending anyway. */
    }
    errno = saved;
}

static void say(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    fputs("virtio-mmio-model: ", stdout);
    vprintf(format, ap);
    fputc('\n', stdout);
    fflush(stdout);
    va_end(ap);
}

static void device_reset(struct device *dev)
{
    uint32_t id = dev->device_id;
    memset(dev, 0, sizeof(*dev));
    dev->device_id = id;
}

static uint32_t device_read(const struct device *dev, uint64_t offset)
{
    switch (offset) {
    case REG_MAGIC: return VIRTIO_MAGIC;
    case REG_VERSION: return 2;
    case REG_DEVICE_ID: return dev->device_id;
    case REG_VENDOR_ID: return VENDOR_ID;
    case REG_DEVICE_FEATURES:
        /* Bit 32, VIRTIO_F_VERSION_1: the modern interface, nothing else. */
        return dev->device_features_sel == 1 ? 1u : 0u;
    case REG_QUEUE_NUM_MAX: return dev->queue_sel == 0 ? QUEUE_SIZE : 0;
    case REG_QUEUE_READY: return dev->queue_sel == 0 ? dev->queue_ready : 0;
    case REG_INTERRUPT_STATUS: return dev->interrupt_status;
    case REG_STATUS: return dev->status;
    case REG_CONFIG_GENERATION: return 0;
    default: return 0;   /* write-only registers, configuration space */
    }
}

static void device_write(struct device *dev, uint64_t offset, uint32_t value)
{
    switch (offset) {
    case REG_DEVICE_FEATURES_SEL: dev->device_features_sel = value; break;
    case REG_DRIVER_FEATURES:
        if (dev->driver_features_sel < 2)
            dev->driver_features[dev->driver_features_sel] = value;
        break;
    case REG_DRIVER_FEATURES_SEL: dev->driver_features_sel = value; break;
    case REG_QUEUE_SEL: dev->queue_sel = value; break;
    case REG_QUEUE_NUM: if (dev->queue_sel == 0) dev->queue_num = value; break;
    case REG_QUEUE_READY: if (dev->queue_sel == 0) dev->queue_ready = value & 1u; break;
    case REG_INTERRUPT_ACK: dev->interrupt_status &= ~value; break;
    case REG_STATUS:
        if (value == 0)
            device_reset(dev);   /* the driver waits for status to read 0 */
        else
            dev->status = value;
        break;
    default: break;   /* queue addresses, notifications: no queue is served */
    }
}

/* One request from the guest, answered in place. */
static void handle(struct device *dev, ioreq_t *req, uint64_t base, bool verbose)
{
    if (req->type != IOREQ_TYPE_COPY || req->data_is_ptr || req->count != 1 ||
        req->addr < base || req->addr - base >= REGION_SIZE) {
        say("ignored request type %u at 0x%" PRIx64 " (size %u, count %u)",
            (unsigned)req->type, req->addr, req->size, req->count);
        if (req->dir == IOREQ_READ)
            req->data = ~(uint64_t)0;
        return;
    }
    uint64_t offset = req->addr - base;
    if (req->dir == IOREQ_READ) {
        uint32_t value = device_read(dev, offset & ~(uint64_t)3);
        if (offset >= REG_CONFIG || req->size < 4)
            value = offset >= REG_CONFIG ? 0 : value >> (8 * (offset & 3));
        req->data = value;
        if (verbose)
            say("read 0x%03" PRIx64 "/%u = 0x%" PRIx32, offset, req->size, value);
    } else {
        uint32_t value = (uint32_t)req->data;
        if (verbose)
            say("write 0x%03" PRIx64 "/%u = 0x%" PRIx32, offset, req->size, value);
        if (req->size == 4 && offset < REG_CONFIG)
            device_write(dev, offset, value);
    }
}

static int run_command(const char *command)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int write_pidfile(const char *path)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: virtio-mmio-model --domid N [--base ADDRESS] [--device-id ID]\n"
                    "         [--vcpus N] [--pidfile PATH] [--ready-command CMD] [--verbose]\n");
    exit(2);
}

static unsigned long long number(const char *text, unsigned long long max)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 0);
    if (errno || end == text || *end || value > max)
        usage();
    return value;
}

int main(int argc, char **argv)
{
    long domid = -1;
    uint64_t base = 0x02000000;
    struct device dev = { .device_id = 4 };
    unsigned int vcpus = 1;
    const char *pidfile = NULL, *ready_command = NULL;
    bool verbose = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(arg, "--verbose") == 0)
            verbose = true;
        else if (strcmp(arg, "--domid") == 0 && has_value)
            domid = (long)number(argv[++i], 0x7fef);
        else if (strcmp(arg, "--base") == 0 && has_value)
            base = number(argv[++i], UINT64_MAX - REGION_SIZE);
        else if (strcmp(arg, "--device-id") == 0 && has_value)
            dev.device_id = (uint32_t)number(argv[++i], UINT32_MAX);
        else if (strcmp(arg, "--vcpus") == 0 && has_value)
            vcpus = (unsigned int)number(argv[++i], MAX_VCPUS);
        else if (strcmp(arg, "--pidfile") == 0 && has_value)
            pidfile = argv[++i];
        else if (strcmp(arg, "--ready-command") == 0 && has_value)
            ready_command = argv[++i];
        else
            usage();
    }
    if (domid < 0 || vcpus == 0 || (base & 0xfff) + REGION_SIZE > 0x1000)
        usage();

    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        perror("virtio-mmio-model: pipe2");
        return 1;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if (pidfile && write_pidfile(pidfile) != 0) {
        fprintf(stderr, "virtio-mmio-model: cannot write %s: %s\n", pidfile, strerror(errno));
        return 1;
    }

    if (verbose)
        say("opening privcmd and evtchn");
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    if (!dmod || !fmem || !xce) {
        fprintf(stderr, "virtio-mmio-model: cannot open the Xen interfaces (privcmd, evtchn): %s\n",
                strerror(errno));
        return 1;
    }
    domid_t dom = (domid_t)domid;
    ioservid_t id;
    if (verbose)
        say("creating an IOREQ server for domain %ld", domid);
    if (xendevicemodel_create_ioreq_server(dmod, dom, HVM_IOREQSRV_BUFIOREQ_OFF, &id) != 0) {
        fprintf(stderr, "virtio-mmio-model: cannot create an IOREQ server for domain %ld: %s\n",
                domid, strerror(errno));
        return 1;
    }
    say("IOREQ server %u created for domain %ld", (unsigned)id, domid);
    int status = 1;
    void *page = NULL;
    xenforeignmemory_resource_handle *resource = xenforeignmemory_map_resource(
        fmem, dom, XENMEM_resource_ioreq_server, id, XENMEM_resource_ioreq_server_frame_ioreq(0),
        1, &page, PROT_READ | PROT_WRITE, 0);
    if (!resource) {
        fprintf(stderr, "virtio-mmio-model: cannot map the ioreq page: %s\n", strerror(errno));
        goto out;
    }
    shared_iopage_t *shared = page;
    if (xendevicemodel_map_io_range_to_ioreq_server(dmod, dom, id, 1, base,
                                                    base + REGION_SIZE - 1) != 0) {
        fprintf(stderr, "virtio-mmio-model: cannot claim 0x%" PRIx64 ": %s\n", base, strerror(errno));
        goto out;
    }
    if (xendevicemodel_set_ioreq_server_state(dmod, dom, id, 1) != 0) {
        fprintf(stderr, "virtio-mmio-model: cannot enable the IOREQ server: %s\n", strerror(errno));
        goto out;
    }
    say("IOREQ server %u enabled: 0x%" PRIx64 "-0x%" PRIx64 " device %" PRIu32, (unsigned)id,
        base, base + REGION_SIZE - 1, dev.device_id);
    /* The ports are in the page once the server is enabled. */
    evtchn_port_t local[MAX_VCPUS];
    for (unsigned int v = 0; v < vcpus; v++) {
        xenevtchn_port_or_error_t port =
            xenevtchn_bind_interdomain(xce, dom, shared->vcpu_ioreq[v].vp_eport);
        if (port < 0) {
            fprintf(stderr, "virtio-mmio-model: cannot bind vCPU %u's port %u: %s\n", v,
                    shared->vcpu_ioreq[v].vp_eport, strerror(errno));
            goto out;
        }
        local[v] = (evtchn_port_t)port;
    }
    say("ready: %u vCPU port(s) bound", vcpus);
    if (ready_command) {
        int rc = run_command(ready_command);
        say("ready command exited %d", rc);
    }

    struct pollfd fds[2] = {
        { .fd = xenevtchn_fd(xce), .events = POLLIN },
        { .fd = wake_pipe[0], .events = POLLIN },
    };
    bool first = true;   /* a bind leaves an event pending: look at once */
    while (!stop_signal) {
        if (!first && poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("virtio-mmio-model: poll");
            goto out;
        }
        if (!first && (fds[0].revents & POLLIN)) {
            xenevtchn_port_or_error_t port = xenevtchn_pending(xce);
            if (port >= 0)
                xenevtchn_unmask(xce, (evtchn_port_t)port);
        }
        first = false;
        for (unsigned int v = 0; v < vcpus; v++) {
            ioreq_t *req = &shared->vcpu_ioreq[v];
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            if (req->state != STATE_IOREQ_READY)
                continue;
            __atomic_thread_fence(__ATOMIC_ACQUIRE);   /* the request after its state */
            req->state = STATE_IOREQ_INPROCESS;
            handle(&dev, req, base, verbose);
            __atomic_thread_fence(__ATOMIC_RELEASE);
            req->state = STATE_IORESP_READY;
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            xenevtchn_notify(xce, local[v]);
        }
    }
    say("signal %d: destroying IOREQ server %u", (int)stop_signal, (unsigned)id);
    status = 0;
out:
    xendevicemodel_destroy_ioreq_server(dmod, dom, id);
    if (resource)
        xenforeignmemory_unmap_resource(fmem, resource);
    if (pidfile)
        unlink(pidfile);
    xenevtchn_close(xce);
    xenforeignmemory_close(fmem);
    xendevicemodel_close(dmod);
    return status;
}
