/*
 * QTest testcase for the kesync-pci DMA transfer controller
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Drives the device directly through libqtest/libqos, as a driver would,
 * against docs/hardware.md of the kesync project.  Virtual time is moved
 * only with clock_step, so every timing below is exact.
 *
 * KESYNC_FUZZ_SEED and KESYNC_FUZZ_ITERS set the randomized test's seed and
 * number of register writes.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "libqtest.h"
#include "libqos/libqos-malloc.h"
#include "libqos/malloc-pc.h"
#include "libqos/pci.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "qapi/error.h"
#include "qapi/qmp/qdict.h"
#include "qapi/qmp/qjson.h"
#include "hw/misc/kesync/kesync_hw.h"

#define KS_DEVFN        QPCI_DEVFN(4, 0)
#define KS_QOM          "/machine/peripheral/ks"
#define PIIX_DEVFN      QPCI_DEVFN(1, 0)
#define PIIX_PIRQC      0x60    /* PIIX3 PIRQ route control A..D */
#define KS_GSI          11      /* where the test routes all four PIRQs */
#define MAXSEGS         256
#define ST(state, err)  ((state) | ((err) << KESYNC_USTAT_ERR_SHIFT))

#define FUZZ_DEFAULT_SEED   0x6b73796eu
#define FUZZ_DEFAULT_ITERS  100000

/* Where the firmware is ("-L dir..."), and "-machine pc -nodefaults" + it. */
static char *firmware;
static char *machine;

typedef struct Kdev {
    QTestState *qts;
    QGuestAllocator alloc;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar bar;
    uint64_t bar_size;
    unsigned units;
    uint64_t lat;       /* latency-ns */
    uint64_t nspb;      /* ns-per-byte */
    uint64_t unit_size;
    uint32_t max_segs;
    uint32_t max_xfer;
    uint64_t cmpl;      /* completion records, 0 if not set up */
} Kdev;

/* A descriptor as the test lays it out in guest memory. */
typedef struct Desc {
    uint32_t flags;
    uint32_t nsegs;
    uint64_t offset;
    uint32_t len;
    uint32_t tag;
    uint64_t rsvd;
    uint64_t seg_addr[MAXSEGS];
    uint32_t seg_len[MAXSEGS];
    uint32_t seg_rsvd[MAXSEGS];
} Desc;

/* ---- Helpers ------------------------------------------------------------ */

static uint64_t qom_get_u64(QTestState *qts, const char *prop)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'qom-get', 'arguments':"
                           " {'path': %s, 'property': %s}}", KS_QOM, prop);
    uint64_t v;

    g_assert(qdict_haskey(rsp, "return"));
    v = qdict_get_int(rsp, "return");
    qobject_unref(rsp);
    return v;
}

/* qom-set a number or bool (JSON text in @val); true if QEMU accepted it. */
static bool qom_set(QTestState *qts, const char *prop, const char *val)
{
    QObject *v = qobject_from_json(val, &error_abort);
    QDict *rsp = qtest_qmp(qts, "{'execute': 'qom-set', 'arguments':"
                           " {'path': %s, 'property': %s, 'value': %p}}",
                           KS_QOM, prop, v);
    bool ok = qdict_haskey(rsp, "return");

    qobject_unref(rsp);
    return ok;
}

static void qom_set_u32(QTestState *qts, const char *prop, uint32_t val)
{
    g_autofree char *s = g_strdup_printf("%u", val);

    g_assert(qom_set(qts, prop, s));
}

static uint32_t rd(Kdev *k, uint64_t off)
{
    return qpci_io_readl(k->dev, k->bar, off);
}

static void wr(Kdev *k, uint64_t off, uint32_t val)
{
    qpci_io_writel(k->dev, k->bar, off, val);
}

static uint32_t urd(Kdev *k, unsigned u, uint64_t reg)
{
    return rd(k, KESYNC_UNIT_BASE(u) + reg);
}

static void uwr(Kdev *k, unsigned u, uint64_t reg, uint32_t val)
{
    wr(k, KESYNC_UNIT_BASE(u) + reg, val);
}

static void step(Kdev *k, int64_t ns)
{
    qtest_clock_step(k->qts, ns);
}

static uint64_t due(Kdev *k, uint32_t len)
{
    return k->lat + (uint64_t)len * k->nspb;
}

static void kdev_map_at(Kdev *k, int devfn)
{
    k->dev = qpci_device_find(k->bus, devfn);
    g_assert(k->dev);
    qpci_device_enable(k->dev);
    k->bar = qpci_iomap(k->dev, KESYNC_BAR_REGS, &k->bar_size);
}

static void kdev_map(Kdev *k)
{
    kdev_map_at(k, KS_DEVFN);
}

/* Map the device at @devfn and read its geometry. */
static void kdev_probe(Kdev *k, int devfn)
{
    kdev_map_at(k, devfn);
    k->units = rd(k, KESYNC_REG_CAPS) & KESYNC_CAPS_UNITS_MASK;
    k->max_segs = rd(k, KESYNC_REG_MAX_SEGS);
    k->max_xfer = rd(k, KESYNC_REG_MAX_XFER);
    k->unit_size = rd(k, KESYNC_REG_UNIT_SIZE_LO) |
                   (uint64_t)rd(k, KESYNC_REG_UNIT_SIZE_HI) << 32;
    k->lat = qom_get_u64(k->qts, "latency-ns");
    k->nspb = qom_get_u64(k->qts, "ns-per-byte");
}

static void kdev_open(Kdev *k, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Start QEMU with one kesync-pci at 00:04.0 plus extra -device options. */
static void kdev_open(Kdev *k, const char *fmt, ...)
{
    g_autofree char *props = NULL;
    va_list ap;

    va_start(ap, fmt);
    props = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    memset(k, 0, sizeof(*k));
    k->qts = qtest_initf("%s -m 256M -device kesync-pci,id=ks,addr=04.0%s",
                         machine, props);
    pc_alloc_init(&k->alloc, k->qts, ALLOC_NO_FLAGS);
    k->bus = qpci_new_pc(k->qts, &k->alloc);
    kdev_probe(k, KS_DEVFN);
}

static void kdev_close(Kdev *k)
{
    g_free(k->dev);
    qpci_free_pc(k->bus);
    alloc_destroy(&k->alloc);
    qtest_quit(k->qts);
}

/* Completion records in guest memory, 64-byte aligned. */
static void kdev_cmpl(Kdev *k)
{
    uint64_t a = guest_alloc(&k->alloc, 4096);

    g_assert_cmphex(a & 63, ==, 0);
    qtest_memset(k->qts, a, 0, 4096);
    wr(k, KESYNC_REG_CMPL_ADDR_LO, a);
    wr(k, KESYNC_REG_CMPL_ADDR_HI, a >> 32);
    k->cmpl = a;
}

static void cmpl_read(Kdev *k, unsigned u, uint32_t rec[4])
{
    uint8_t b[16];
    int i;

    qtest_memread(k->qts, k->cmpl + 16 * u, b, 16);
    for (i = 0; i < 4; i++) {
        rec[i] = ldl_le_p(b + 4 * i);
    }
}

static void desc_init(Desc *d, uint32_t flags, uint64_t offset, uint32_t tag)
{
    memset(d, 0, sizeof(*d));
    d->flags = flags;
    d->offset = offset;
    d->tag = tag;
}

static void desc_add(Desc *d, uint64_t addr, uint32_t len)
{
    g_assert(d->nsegs < MAXSEGS);
    d->seg_addr[d->nsegs] = addr;
    d->seg_len[d->nsegs] = len;
    d->nsegs++;
    d->len += len;
}

/* Lay @d out in guest memory; @nsegs_out segments are written. */
static uint64_t desc_put_n(Kdev *k, const Desc *d, unsigned nsegs_out)
{
    size_t sz = 32 + 16 * (size_t)nsegs_out;
    g_autofree uint8_t *b = g_malloc0(sz);
    uint64_t a = guest_alloc(&k->alloc, sz);
    unsigned i;

    stl_le_p(b + 0, d->flags);
    stl_le_p(b + 4, d->nsegs);
    stq_le_p(b + 8, d->offset);
    stl_le_p(b + 16, d->len);
    stl_le_p(b + 20, d->tag);
    stq_le_p(b + 24, d->rsvd);
    for (i = 0; i < nsegs_out; i++) {
        stq_le_p(b + 32 + 16 * i, d->seg_addr[i]);
        stl_le_p(b + 40 + 16 * i, d->seg_len[i]);
        stl_le_p(b + 44 + 16 * i, d->seg_rsvd[i]);
    }
    qtest_memwrite(k->qts, a, b, sz);
    return a;
}

static uint64_t desc_put(Kdev *k, const Desc *d)
{
    return desc_put_n(k, d, d->nsegs);
}

static void start_at(Kdev *k, unsigned u, uint64_t desc)
{
    uwr(k, u, KESYNC_UNIT_DESC_LO, desc);
    uwr(k, u, KESYNC_UNIT_DESC_HI, desc >> 32);
    uwr(k, u, KESYNC_UNIT_DOORBELL, KESYNC_DB_START);
}

/* Start @d on unit @u, run it to its due time, return unit STATUS. */
static uint32_t run(Kdev *k, unsigned u, const Desc *d)
{
    uint64_t a = desc_put_n(k, d, MIN(d->nsegs, MAXSEGS));
    uint32_t st;

    start_at(k, u, a);
    step(k, due(k, d->len));
    st = urd(k, u, KESYNC_UNIT_STATUS);
    guest_free(&k->alloc, a);
    return st;
}

/* One-segment transfer of @len bytes between guest @buf and offset @off. */
static uint32_t run1(Kdev *k, unsigned u, uint32_t flags, uint64_t off,
                     uint64_t buf, uint32_t len, uint32_t tag)
{
    Desc d;

    desc_init(&d, flags, off, tag);
    desc_add(&d, buf, len);
    return run(k, u, &d);
}

static void fill_random(GRand *r, uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        p[i] = g_rand_int(r);
    }
}

/* Split @len into @n segments of random lengths, each >= 1. */
static void split(GRand *r, uint32_t len, unsigned n, uint32_t *out)
{
    uint32_t left = len;
    unsigned i;

    for (i = 0; i < n - 1; i++) {
        uint32_t most = left - (n - 1 - i);
        out[i] = g_rand_int_range(r, 1, MIN(most, 2 * len / n + 1) + 1);
        left -= out[i];
    }
    out[n - 1] = left;
}

/*
 * Move @len bytes from guest memory to the medium at @off with @nw segments,
 * then back with @nr segments at odd guest addresses, and compare.
 */
static void check_roundtrip(Kdev *k, GRand *r, unsigned u, uint64_t off,
                            uint32_t len, unsigned nw, unsigned nr)
{
    g_autofree uint8_t *pat = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);
    g_autofree uint32_t *sl = g_new(uint32_t, MAX(nw, nr));
    uint64_t wbuf = guest_alloc(&k->alloc, len + 64);
    uint64_t rbuf = guest_alloc(&k->alloc, len + 64);
    uint32_t tag = g_rand_int(r), rec[4], seq;
    uint8_t edge[59];   /* the guard bytes around the read-back buffer */
    uint64_t pos;
    unsigned i;
    Desc d;

    fill_random(r, pat, len);
    qtest_bufwrite(k->qts, wbuf + 3, pat, len);

    desc_init(&d, KESYNC_DESC_DIR_TO_DEV, off, tag);
    split(r, len, nw, sl);
    for (i = 0, pos = 0; i < nw; pos += sl[i], i++) {
        desc_add(&d, wbuf + 3 + pos, sl[i]);
    }
    seq = urd(k, u, KESYNC_UNIT_SEQ);
    g_assert_cmphex(run(k, u, &d), ==, ST(KESYNC_STATE_DONE, 0));
    g_assert_cmpuint(urd(k, u, KESYNC_UNIT_BYTES), ==, len);
    g_assert_cmphex(urd(k, u, KESYNC_UNIT_TAG), ==, tag);
    g_assert_cmpuint(urd(k, u, KESYNC_UNIT_SEQ), ==, seq + 1);
    if (k->cmpl) {
        cmpl_read(k, u, rec);
        g_assert_cmphex(rec[0], ==, tag);
        g_assert_cmphex(rec[1], ==, ST(KESYNC_STATE_DONE, 0));
        g_assert_cmpuint(rec[2], ==, len);
        g_assert_cmpuint(rec[3], ==, seq + 1);
    }

    qtest_memset(k->qts, rbuf, 0xee, len + 64);
    desc_init(&d, 0, off, tag ^ 1);
    split(r, len, nr, sl);
    for (i = 0, pos = 0; i < nr; pos += sl[i], i++) {
        desc_add(&d, rbuf + 5 + pos, sl[i]);
    }
    g_assert_cmphex(run(k, u, &d), ==, ST(KESYNC_STATE_DONE, 0));
    g_assert_cmpuint(urd(k, u, KESYNC_UNIT_BYTES), ==, len);
    qtest_bufread(k->qts, rbuf + 5, got, len);
    g_assert(memcmp(pat, got, len) == 0);
    /* Nothing written around the segments. */
    qtest_bufread(k->qts, rbuf, edge, 5);
    for (i = 0; i < 5; i++) {
        g_assert_cmphex(edge[i], ==, 0xee);
    }
    qtest_bufread(k->qts, rbuf + 5 + len, edge, 59);
    for (i = 0; i < 59; i++) {
        g_assert_cmphex(edge[i], ==, 0xee);
    }
    guest_free(&k->alloc, wbuf);
    guest_free(&k->alloc, rbuf);
}

/* Read @len medium bytes at @off into @out through a FROM_DEV transfer. */
static void medium_read(Kdev *k, unsigned u, uint64_t off, void *out,
                        uint32_t len)
{
    uint64_t b = guest_alloc(&k->alloc, len);

    g_assert_cmphex(run1(k, u, 0, off, b, len, 0), ==,
                    ST(KESYNC_STATE_DONE, 0));
    qtest_bufread(k->qts, b, out, len);
    guest_free(&k->alloc, b);
}

/* Route the PIIX3 PIRQs (so our INTx pin A) to GSI KS_GSI and watch it. */
static void intx_setup(Kdev *k)
{
    QPCIDevice *piix = qpci_device_find(k->bus, PIIX_DEVFN);

    g_assert(piix);
    qpci_config_writel(piix, PIIX_PIRQC, KS_GSI * 0x01010101u);
    g_free(piix);
    qtest_irq_intercept_in(k->qts, "ioapic");
}

static bool intx(Kdev *k)
{
    return qtest_get_irq(k->qts, KS_GSI);
}

/* MSI-X: point every vector at a word of guest memory. */
static uint64_t msix_setup(Kdev *k)
{
    uint64_t mb = guest_alloc(&k->alloc, 256);
    unsigned v;

    qtest_memset(k->qts, mb, 0, 256);
    qpci_msix_enable(k->dev);
    for (v = 0; v <= k->units; v++) {
        uint64_t e = k->dev->msix_table_off + v * PCI_MSIX_ENTRY_SIZE;

        qpci_io_writel(k->dev, k->dev->msix_table_bar,
                       e + PCI_MSIX_ENTRY_LOWER_ADDR, mb + 4 * v);
        qpci_io_writel(k->dev, k->dev->msix_table_bar,
                       e + PCI_MSIX_ENTRY_UPPER_ADDR, (mb + 4 * v) >> 32);
        qpci_io_writel(k->dev, k->dev->msix_table_bar,
                       e + PCI_MSIX_ENTRY_DATA, 0xab00 + v);
        qpci_io_writel(k->dev, k->dev->msix_table_bar,
                       e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    }
    return mb;
}

/* Was a message for vector @v written since the last call? */
static bool msg_seen(Kdev *k, uint64_t mb, unsigned v, uint32_t data)
{
    uint32_t w = qtest_readl(k->qts, mb + 4 * v);

    qtest_writel(k->qts, mb + 4 * v, 0);
    if (w) {
        g_assert_cmphex(w, ==, data);
    }
    return w != 0;
}

static void ctrl_reset(Kdev *k)
{
    wr(k, KESYNC_REG_CTRL, KESYNC_CTRL_RESET);
    step(k, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_STATUS) & KESYNC_STATUS_RESETTING, ==, 0);
}

/* ---- Identification and registers ---------------------------------------- */

static void test_ident(void)
{
    Kdev k;
    uint8_t cap;

    kdev_open(&k, "%s", "");
    g_assert_cmphex(qpci_config_readw(k.dev, PCI_VENDOR_ID), ==,
                    KESYNC_PCI_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(k.dev, PCI_DEVICE_ID), ==,
                    KESYNC_PCI_DEVICE_ID);
    g_assert_cmphex(qpci_config_readb(k.dev, PCI_REVISION_ID), ==,
                    KESYNC_PCI_REVISION);
    g_assert_cmphex(qpci_config_readl(k.dev, PCI_CLASS_REVISION) >> 8, ==,
                    KESYNC_PCI_CLASS);
    g_assert_cmpuint(qpci_config_readb(k.dev, PCI_INTERRUPT_PIN), ==, 1);
    g_assert_cmpuint(k.bar_size, ==, KESYNC_BAR0_SIZE);

    g_assert_cmphex(rd(&k, KESYNC_REG_MAGIC), ==, KESYNC_MAGIC);
    g_assert_cmphex(rd(&k, KESYNC_REG_VERSION), ==, KESYNC_VERSION);
    g_assert_cmphex(rd(&k, KESYNC_REG_CAPS), ==, 2 | KESYNC_CAPS_MSIX |
                    KESYNC_CAPS_MSI | KESYNC_CAPS_CMPL_RECORDS);
    g_assert_cmpuint(k.max_segs, ==, 16);
    g_assert_cmpuint(k.max_xfer, ==, 64 * 1024);
    g_assert_cmpuint(k.unit_size, ==, 16 * 1024 * 1024);
    g_assert_cmpuint(k.lat, ==, 20000);
    g_assert_cmpuint(k.nspb, ==, 1);

    cap = qpci_find_capability(k.dev, PCI_CAP_ID_MSIX, 0);
    g_assert_cmpuint(cap, !=, 0);
    g_assert_cmpuint((qpci_config_readw(k.dev, cap + PCI_MSIX_FLAGS) &
                      PCI_MSIX_FLAGS_QSIZE) + 1, ==, 3);
    g_assert_cmpuint(qpci_config_readl(k.dev, cap + PCI_MSIX_TABLE) &
                     PCI_MSIX_FLAGS_BIRMASK, ==, KESYNC_BAR_MSIX);
    g_assert_cmpuint(qpci_find_capability(k.dev, PCI_CAP_ID_MSI, 0), !=, 0);

    /* Reset values. */
    g_assert_cmphex(rd(&k, KESYNC_REG_STATUS), ==, 0);
    g_assert_cmphex(rd(&k, KESYNC_REG_CTRL), ==, 0);
    g_assert_cmphex(rd(&k, KESYNC_REG_INTR_STATUS), ==, 0);
    g_assert_cmphex(rd(&k, KESYNC_REG_INTR_ENABLE), ==, 0);
    g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_IDLE);
    g_assert_cmphex(urd(&k, 1, KESYNC_UNIT_SEQ), ==, 0);

    wr(&k, KESYNC_REG_SCRATCH, 0xdeadbeef);
    g_assert_cmphex(rd(&k, KESYNC_REG_SCRATCH), ==, 0xdeadbeef);
    kdev_close(&k);

    kdev_open(&k, ",units=8,msix=off,msi=off,max-segments=256,"
              "max-transfer=16777216,unit-size=1G");
    g_assert_cmphex(rd(&k, KESYNC_REG_CAPS), ==, 8 | KESYNC_CAPS_CMPL_RECORDS);
    g_assert_cmpuint(qpci_find_capability(k.dev, PCI_CAP_ID_MSIX, 0), ==, 0);
    g_assert_cmpuint(qpci_find_capability(k.dev, PCI_CAP_ID_MSI, 0), ==, 0);
    g_assert_cmpuint(k.max_segs, ==, 256);
    g_assert_cmpuint(k.max_xfer, ==, 16 * 1024 * 1024);
    g_assert_cmpuint(k.unit_size, ==, 1024 * 1024 * 1024);
    /* Unit 7's window exists. */
    uwr(&k, 7, KESYNC_UNIT_DESC_LO, 0x1234);
    g_assert_cmphex(urd(&k, 7, KESYNC_UNIT_DESC_LO), ==, 0x1234);
    kdev_close(&k);
}

/* Realize-time validation: device_add of bad values fails, QEMU lives. */
static void test_props(void)
{
    static const char *const bad[] = {
        "'units': 0", "'units': 9", "'max-segments': 0",
        "'max-segments': 257", "'max-transfer': 511",
        "'max-transfer': 16777217", "'unit-size': 0",
        "'unit-size': 1073741825", "'latency-ns': 10000000001",
        "'ns-per-byte': 1000001",
    };
    QTestState *qts = qtest_init(machine);
    QDict *rsp;
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        g_autofree char *args = g_strdup_printf(
            "{'driver': 'kesync-pci', 'id': 'k%u', %s}", i, bad[i]);

        rsp = qtest_qmp(qts, "{'execute': 'device_add', 'arguments': %p}",
                        qobject_from_json(args, &error_abort));
        g_assert(qdict_haskey(rsp, "error"));
        g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "error"), "class"),
                        ==, "GenericError");
        qobject_unref(rsp);
    }
    /* Hot plug and unplug (exit path), and host-only props before realize. */
    rsp = qtest_qmp(qts, "{'execute': 'device_add', 'arguments':"
                    " {'driver': 'kesync-pci', 'id': 'good', 'units': 8,"
                    " 'latency-ns': 0, 'addr': '05.0',"
                    " 'surprise-removal': true, 'misdirect-dma': true}}");
    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    qpci_unplug_acpi_device_test(qts, "good", 5);
    qtest_quit(qts);
}

/*
 * Start QEMU with @args, which must make it refuse to start: it exits with
 * status 1 (an error, not a crash) and says @why on stderr.
 */
static void qemu_start_fails(const char *args, const char *why)
{
    g_autofree char *cmd = g_strdup_printf("%s %s -display none -accel qtest "
                                           "%s", g_getenv("QTEST_QEMU_BINARY"),
                                           machine, args);
    g_autofree char *err = NULL;
    g_auto(GStrv) argv = NULL;
    int wstatus;

    g_test_message("starting QEMU, expecting it to fail: %s", cmd);
    g_assert(g_shell_parse_argv(cmd, NULL, &argv, NULL));
    /* As libqtest runs it (sh -c "exec ..."): split, searched in PATH. */
    g_assert(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH |
                          G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                          &wstatus, NULL));
    g_test_message("QEMU said: %s", err);
    g_assert_cmpint(WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0, ==, 0);
    g_assert(WIFEXITED(wstatus));
    g_assert_cmpint(WEXITSTATUS(wstatus), ==, 1);
    g_assert(strstr(err, why));
}

/*
 * Properties are set before realize (-global, -device, device_add), and
 * fault-unit and fault-count check their unit against units: units must be
 * range-checked when it is set, or they index past the unit array.
 */
static void test_props_early(void)
{
    static const char *const bad[][2] = {
        /* units, fault-unit */
        { "4294967295", "4294967294" },
        { "9", "8" },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        g_autofree char *globals = g_strdup_printf(
            "-global kesync-pci.units=%s -global kesync-pci.fault-unit=%s "
            "-global kesync-pci.fault-count=1", bad[i][0], bad[i][1]);
        g_autofree char *cold = g_strdup_printf("%s -device kesync-pci",
                                                globals);
        QTestState *qts;

        /* Cold plug: a bad -global is fatal. */
        qemu_start_fails(cold, "units must be 1..8");

        /*
         * Hot plug: QEMU only warns about a bad -global; the device comes
         * up with its default units and fault-unit.
         */
        qts = qtest_initf("%s %s", machine, globals);
        qtest_qmp_assert_success(qts, "{'execute': 'device_add', 'arguments':"
                                 " {'driver': 'kesync-pci', 'id': 'ks',"
                                 " 'addr': '04.0'}}");
        g_assert_cmpuint(qom_get_u64(qts, "units"), ==, 2);
        g_assert_cmpuint(qom_get_u64(qts, "fault-unit"), ==, 0);
        g_assert_cmpuint(qom_get_u64(qts, "fault-count"), ==, 0);
        qtest_quit(qts);
    }
}

static void test_bad_access(void)
{
    Kdev k;
    uint32_t r0, w0;

    kdev_open(&k, "%s", "");
    wr(&k, KESYNC_REG_SCRATCH, 0x11223344);
    w0 = rd(&k, KESYNC_REG_STAT_MMIO_WRITES);
    r0 = rd(&k, KESYNC_REG_STAT_MMIO_READS);
    /* The read counts itself. */
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_MMIO_READS), ==, r0 + 1);

    /* Wrong sizes and unaligned: reads 0, writes ignored, not counted. */
    g_assert_cmphex(qpci_io_readb(k.dev, k.bar, KESYNC_REG_MAGIC), ==, 0);
    g_assert_cmphex(qpci_io_readw(k.dev, k.bar, KESYNC_REG_MAGIC), ==, 0);
    g_assert_cmphex(qpci_io_readq(k.dev, k.bar, KESYNC_REG_MAGIC), ==, 0);
    g_assert_cmphex(qpci_io_readl(k.dev, k.bar, KESYNC_REG_MAGIC + 1), ==, 0);
    qpci_io_writeb(k.dev, k.bar, KESYNC_REG_SCRATCH, 0xff);
    qpci_io_writew(k.dev, k.bar, KESYNC_REG_SCRATCH, 0xffff);
    qpci_io_writeq(k.dev, k.bar, KESYNC_REG_SCRATCH, ~0ull);
    qpci_io_writel(k.dev, k.bar, KESYNC_REG_SCRATCH + 2, ~0u);
    g_assert_cmphex(rd(&k, KESYNC_REG_SCRATCH), ==, 0x11223344);
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_MMIO_READS), ==, r0 + 3);
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_MMIO_WRITES), ==, w0);

    /* Unknown offsets, units beyond CAPS, write-only registers: read 0. */
    g_assert_cmphex(rd(&k, 0x0fc), ==, 0);
    g_assert_cmphex(rd(&k, 0x068), ==, 0);
    g_assert_cmphex(rd(&k, KESYNC_UNIT_BASE(2) + KESYNC_UNIT_DESC_LO), ==, 0);
    g_assert_cmphex(urd(&k, 0, 0x3c), ==, 0);
    g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_DOORBELL), ==, 0);
    g_assert_cmphex(rd(&k, KESYNC_REG_INTR_RAISE), ==, 0);
    wr(&k, KESYNC_UNIT_BASE(2) + KESYNC_UNIT_DESC_LO, 1);
    wr(&k, 0xffc, 1);

    /* Writes to read-only registers are ignored. */
    wr(&k, KESYNC_REG_MAGIC, 0);
    wr(&k, KESYNC_REG_CAPS, 0);
    wr(&k, KESYNC_REG_STATUS, ~0u);
    wr(&k, KESYNC_REG_STAT_XFERS, 55);
    uwr(&k, 0, KESYNC_UNIT_SEQ, 77);
    uwr(&k, 0, KESYNC_UNIT_STATUS, 3);
    g_assert_cmphex(rd(&k, KESYNC_REG_MAGIC), ==, KESYNC_MAGIC);
    g_assert_cmphex(rd(&k, KESYNC_REG_CAPS) & KESYNC_CAPS_UNITS_MASK, ==, 2);
    g_assert_cmphex(rd(&k, KESYNC_REG_STATUS), ==, 0);
    g_assert_cmphex(rd(&k, KESYNC_REG_STAT_XFERS), ==, 0);
    g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_SEQ), ==, 0);
    g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_STATUS), ==, 0);

    /* INTR_ENABLE keeps only existing units and controller events. */
    wr(&k, KESYNC_REG_INTR_ENABLE, ~0u);
    g_assert_cmphex(rd(&k, KESYNC_REG_INTR_ENABLE), ==,
                    0x3 | KESYNC_INTR_CTRL_MASK);
    /* Bad fault kind and doorbell values are ignored. */
    uwr(&k, 0, KESYNC_UNIT_FAULT_KIND, KESYNC_FAULT_KIND_MAX + 1);
    g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_FAULT_KIND), ==, 0);
    uwr(&k, 0, KESYNC_UNIT_DOORBELL, 0x7);
    step(&k, 1000000);
    g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_IDLE);
    /* DEV_FAULT.REMOVED is not the guest's to set. */
    wr(&k, KESYNC_REG_DEV_FAULT, KESYNC_DEV_FAULT_REMOVED);
    g_assert_cmphex(rd(&k, KESYNC_REG_DEV_FAULT), ==, 0);
    g_assert_cmphex(rd(&k, KESYNC_REG_MAGIC), ==, KESYNC_MAGIC);

    r0 = qom_get_u64(k.qts, "mmio-reads");
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_MMIO_READS), ==, r0 + 1);
    g_assert_cmpuint(qom_get_u64(k.qts, "mmio-writes"), ==,
                     rd(&k, KESYNC_REG_STAT_MMIO_WRITES));
    kdev_close(&k);
}

/* ---- DMA ----------------------------------------------------------------- */

static void test_dma_rw(void)
{
    static const uint32_t sizes[] = {
        1, 2, 7, 511, 512, 513, 4095, 4096, 4097, 65535, 65536,
    };
    GRand *r = g_rand_new_with_seed(1);
    Kdev k;
    unsigned i, j, u;

    kdev_open(&k, ",units=3");
    kdev_cmpl(&k);
    for (i = 0; i < ARRAY_SIZE(sizes); i++) {
        uint32_t len = sizes[i];
        uint64_t offs[] = { 0, 1, 4093, k.unit_size - len };

        for (j = 0; j < ARRAY_SIZE(offs); j++) {
            unsigned nw = g_rand_int_range(r, 1, MIN(len, k.max_segs) + 1);
            unsigned nr = j == 0 ? MIN(len, k.max_segs) : 1;

            u = (i + j) % k.units;
            check_roundtrip(&k, r, u, offs[j], len, nw, nr);
        }
    }
    /* Units have separate media. */
    {
        uint8_t a[64], b[64];
        uint64_t buf = guest_alloc(&k.alloc, 64);

        memset(a, 0x5a, 64);
        qtest_bufwrite(k.qts, buf, a, 64);
        g_assert_cmphex(run1(&k, 0, KESYNC_DESC_DIR_TO_DEV, 8 << 20, buf, 64,
                             1), ==, ST(KESYNC_STATE_DONE, 0));
        medium_read(&k, 1, 8 << 20, b, 64);
        for (i = 0; i < 64; i++) {
            g_assert_cmphex(b[i], ==, 0);
        }
        medium_read(&k, 0, 8 << 20, b, 64);
        g_assert(memcmp(a, b, 64) == 0);
    }
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_LATE_DMA), ==, 0);
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_DMA_ERRORS), ==, 0);
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_XFERS), ==,
                     2 * ARRAY_SIZE(sizes) * 4 + 3);
    g_assert_cmpuint(qom_get_u64(k.qts, "xfers"), ==,
                     rd(&k, KESYNC_REG_STAT_XFERS));
    g_rand_free(r);
    kdev_close(&k);
}

/* Completion happens exactly at latency + len * ns-per-byte. */
static void test_timing(void)
{
    Kdev k;
    uint64_t buf;

    kdev_open(&k, ",latency-ns=1000,ns-per-byte=3");
    buf = guest_alloc(&k.alloc, 4096);
    kdev_cmpl(&k);
    {
        Desc d;
        uint64_t a;
        uint32_t rec[4];

        desc_init(&d, 0, 0, 0x77);
        desc_add(&d, buf, 100);
        a = desc_put(&k, &d);
        start_at(&k, 0, a);
        g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_STATUS), ==,
                        KESYNC_STATE_BUSY);
        g_assert_cmphex(rd(&k, KESYNC_REG_STATUS), ==, KESYNC_STATUS_BUSY);
        step(&k, 1000 + 300 - 1);
        g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_STATUS), ==,
                        KESYNC_STATE_BUSY);
        cmpl_read(&k, 0, rec);
        g_assert_cmpuint(rec[3], ==, 0);
        g_assert_cmphex(rd(&k, KESYNC_REG_INTR_STATUS), ==, 0);
        step(&k, 1);
        g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_STATUS), ==,
                        KESYNC_STATE_DONE);
        g_assert_cmphex(rd(&k, KESYNC_REG_STATUS), ==, 0);
        g_assert_cmphex(rd(&k, KESYNC_REG_INTR_STATUS), ==,
                        KESYNC_INTR_UNIT(0));
        cmpl_read(&k, 0, rec);
        g_assert_cmphex(rec[0], ==, 0x77);
        g_assert_cmpuint(rec[3], ==, 1);
    }
    kdev_close(&k);

    /* latency-ns=0, ns-per-byte=0: completes at the next timer pass. */
    kdev_open(&k, ",latency-ns=0,ns-per-byte=0");
    buf = guest_alloc(&k.alloc, 4096);
    g_assert_cmphex(run1(&k, 1, 0, 0, buf, 4096, 9), ==,
                    ST(KESYNC_STATE_DONE, 0));
    kdev_close(&k);
}

/* Every validation rule, and no data moved for a refused descriptor. */
static void test_validation(void)
{
    Kdev k;
    uint64_t buf, a;
    uint8_t z[256];
    uint32_t rec[4], errs;
    unsigned i;
    Desc d;

    kdev_open(&k, "%s", "");
    kdev_cmpl(&k);
    buf = guest_alloc(&k.alloc, 128 * 1024);
    qtest_memset(k.qts, buf, 0xa5, 128 * 1024);

#define BAD(expect_err, setup) do {                                        \
        desc_init(&d, KESYNC_DESC_DIR_TO_DEV, 0, 0x5150);                  \
        desc_add(&d, buf, 256);                                            \
        setup;                                                             \
        g_assert_cmphex(run(&k, 0, &d), ==,                                \
                        ST(KESYNC_STATE_ERROR, expect_err));               \
        g_assert_cmpuint(urd(&k, 0, KESYNC_UNIT_BYTES), ==, 0);            \
    } while (0)

    BAD(KESYNC_ERR_BAD_DESC, d.flags = 0x2);
    BAD(KESYNC_ERR_BAD_DESC, d.flags = 0x80000001);
    BAD(KESYNC_ERR_BAD_DESC, d.rsvd = 1);
    BAD(KESYNC_ERR_BAD_DESC, d.rsvd = 1ull << 63);
    BAD(KESYNC_ERR_BAD_DESC, d.nsegs = 0);
    BAD(KESYNC_ERR_BAD_DESC, d.len = 0);
    BAD(KESYNC_ERR_BAD_DESC, d.len = 255);
    BAD(KESYNC_ERR_BAD_DESC, d.len = 257);
    BAD(KESYNC_ERR_BAD_DESC, d.seg_rsvd[0] = 1);
    BAD(KESYNC_ERR_BAD_DESC, (d.seg_len[0] = 0, desc_add(&d, buf, 256)));
    BAD(KESYNC_ERR_BAD_DESC, d.seg_addr[0] = UINT64_MAX - 100);
    /* len == sum only modulo 2^32: still refused. */
    BAD(KESYNC_ERR_BAD_DESC, (desc_add(&d, buf, 0xffffff10u), d.len = 0x10));
    BAD(KESYNC_ERR_TOO_LONG, d.nsegs = 17);
    BAD(KESYNC_ERR_TOO_LONG, d.nsegs = 0xffffffff);
    BAD(KESYNC_ERR_TOO_LONG, (d.seg_len[0] = 65537, d.len = 65537));
    BAD(KESYNC_ERR_TOO_LONG, (d.seg_len[0] = 0xffffffff, d.len = 0xffffffff));
    BAD(KESYNC_ERR_BAD_RANGE, d.offset = k.unit_size);
    BAD(KESYNC_ERR_BAD_RANGE, d.offset = k.unit_size - 255);
    BAD(KESYNC_ERR_BAD_RANGE, d.offset = UINT64_MAX - 100);
    BAD(KESYNC_ERR_BAD_RANGE, d.offset = UINT64_MAX);
    BAD(KESYNC_ERR_BAD_RANGE, d.offset = 1ull << 63);
    /* tag of a readable descriptor is reported */
    g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_TAG), ==, 0x5150);
    cmpl_read(&k, 0, rec);
    g_assert_cmphex(rec[1], ==, ST(KESYNC_STATE_ERROR, KESYNC_ERR_BAD_RANGE));
    g_assert_cmpuint(rec[3], ==, urd(&k, 0, KESYNC_UNIT_SEQ));

    /* Exactly at the limits is fine. */
    desc_init(&d, KESYNC_DESC_DIR_TO_DEV, k.unit_size - 65536, 1);
    for (i = 0; i < 16; i++) {
        desc_add(&d, buf + i * 4096, 4096);
    }
    g_assert_cmphex(run(&k, 0, &d), ==, ST(KESYNC_STATE_DONE, 0));

    /* Descriptor address: unaligned, unreadable, wrapping. */
    desc_init(&d, 0, 0, 1);
    desc_add(&d, buf, 16);
    a = desc_put(&k, &d);
    errs = rd(&k, KESYNC_REG_STAT_DMA_ERRORS);
    start_at(&k, 1, a + 4);
    step(&k, due(&k, 16));
    g_assert_cmphex(urd(&k, 1, KESYNC_UNIT_STATUS), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_BAD_DESC));
    start_at(&k, 1, 0xfffffff000ull);
    step(&k, due(&k, 16));
    g_assert_cmphex(urd(&k, 1, KESYNC_UNIT_STATUS), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_BAD_DESC));
    g_assert_cmpuint(urd(&k, 1, KESYNC_UNIT_TAG), ==, 0);
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_DMA_ERRORS), ==, errs + 1);
    start_at(&k, 1, UINT64_MAX - 7);
    step(&k, due(&k, 16));
    g_assert_cmphex(urd(&k, 1, KESYNC_UNIT_STATUS), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_BAD_DESC));

    /* No refused descriptor moved data: the medium start is still 0. */
    medium_read(&k, 0, 0, z, sizeof(z));
    for (i = 0; i < sizeof(z); i++) {
        g_assert_cmphex(z[i], ==, 0);
    }
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_LATE_DMA), ==, 0);
#undef BAD
    kdev_close(&k);
}

/* DMA failures: to this device's own BAR (reentrancy), bus mastering off. */
static void test_dma_errors(void)
{
    Kdev k;
    uint64_t buf;
    uint16_t cmd;

    kdev_open(&k, "%s", "");
    buf = guest_alloc(&k.alloc, 4096);
    g_assert_cmphex(run1(&k, 0, 0, 0, k.bar.addr, 64, 3), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_DMA));
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_DMA_ERRORS), ==, 1);
    g_assert_cmphex(rd(&k, KESYNC_REG_MAGIC), ==, KESYNC_MAGIC);
    g_assert_cmphex(rd(&k, KESYNC_REG_SCRATCH), ==, 0);
    /* Partial: the first segment moved, the second failed. */
    {
        Desc d;

        desc_init(&d, 0, 0, 4);
        desc_add(&d, buf, 100);
        desc_add(&d, k.bar.addr + KESYNC_REG_SCRATCH, 4);
        g_assert_cmphex(run(&k, 0, &d), ==,
                        ST(KESYNC_STATE_ERROR, KESYNC_ERR_DMA));
        g_assert_cmpuint(urd(&k, 0, KESYNC_UNIT_BYTES), ==, 100);
    }
    /* Completion record aimed at the BAR is refused, interrupt still set. */
    wr(&k, KESYNC_REG_CMPL_ADDR_LO, k.bar.addr);
    wr(&k, KESYNC_REG_INTR_STATUS, ~0u);
    g_assert_cmphex(run1(&k, 1, 0, 0, buf, 64, 5), ==,
                    ST(KESYNC_STATE_DONE, 0));
    g_assert_cmphex(rd(&k, KESYNC_REG_INTR_STATUS), ==, KESYNC_INTR_UNIT(1));
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_DMA_ERRORS), ==, 3);
    wr(&k, KESYNC_REG_CMPL_ADDR_LO, 0);

    /* Bus mastering off: even the descriptor cannot be read. */
    cmd = qpci_config_readw(k.dev, PCI_COMMAND);
    qpci_config_writew(k.dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
    g_assert_cmphex(run1(&k, 0, 0, 0, buf, 64, 6), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_BAD_DESC));
    qpci_config_writew(k.dev, PCI_COMMAND, cmd);
    g_assert_cmphex(run1(&k, 0, 0, 0, buf, 64, 7), ==,
                    ST(KESYNC_STATE_DONE, 0));
    kdev_close(&k);
}

/* ---- One transfer at a time ---------------------------------------------- */

static void test_busy(void)
{
    Kdev k;
    uint64_t buf, buf2, a0, a1;
    uint8_t pat[512], got[512];
    uint32_t rec[4];
    Desc d;
    unsigned i;

    kdev_open(&k, "%s", "");
    kdev_cmpl(&k);
    wr(&k, KESYNC_REG_INTR_ENABLE, 0x3);
    buf = guest_alloc(&k.alloc, 512);
    buf2 = guest_alloc(&k.alloc, 512);
    for (i = 0; i < sizeof(pat); i++) {
        pat[i] = i * 7;
    }
    qtest_bufwrite(k.qts, buf, pat, 512);

    desc_init(&d, KESYNC_DESC_DIR_TO_DEV, 4096, 0xa0);
    desc_add(&d, buf, 512);
    a0 = desc_put(&k, &d);
    desc_init(&d, 0, 0, 0xa1);
    desc_add(&d, buf2, 512);
    a1 = desc_put(&k, &d);

    start_at(&k, 0, a0);
    step(&k, 100);
    /* Unit 1 while unit 0 runs: refused, counted, reported. */
    start_at(&k, 1, a1);
    step(&k, 1);
    g_assert_cmphex(urd(&k, 1, KESYNC_UNIT_STATUS), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_CTRL_BUSY));
    g_assert_cmpuint(urd(&k, 1, KESYNC_UNIT_SEQ), ==, 1);
    g_assert_cmpuint(urd(&k, 1, KESYNC_UNIT_TAG), ==, 0);
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_CTRL_BUSY), ==, 1);
    g_assert_cmpuint(qom_get_u64(k.qts, "ctrl-busy"), ==, 1);
    cmpl_read(&k, 1, rec);
    g_assert_cmphex(rec[1], ==, ST(KESYNC_STATE_ERROR, KESYNC_ERR_CTRL_BUSY));
    g_assert_cmpuint(rec[3], ==, 1);
    g_assert_cmphex(rd(&k, KESYNC_REG_INTR_STATUS), ==, KESYNC_INTR_UNIT(1));
    g_assert_cmphex(rd(&k, KESYNC_REG_STATUS), ==,
                    KESYNC_STATUS_BUSY | (0 << KESYNC_STATUS_UNIT_SHIFT));
    /* Nothing of unit 1's transfer happened. */
    qtest_bufread(k.qts, buf2, got, 512);
    for (i = 0; i < 512; i++) {
        g_assert_cmphex(got[i], ==, 0);
    }

    /* Unit 0 again while it runs: UNIT_BUSY, the transfer is untouched. */
    start_at(&k, 0, a1);
    step(&k, 1);
    g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_STATUS), ==,
                    ST(KESYNC_STATE_BUSY, KESYNC_ERR_UNIT_BUSY));
    g_assert_cmpuint(urd(&k, 0, KESYNC_UNIT_SEQ), ==, 1);
    cmpl_read(&k, 0, rec);
    g_assert_cmphex(rec[1], ==, ST(KESYNC_STATE_BUSY, KESYNC_ERR_UNIT_BUSY));
    g_assert_cmphex(rec[0], ==, 0);
    g_assert_cmpuint(rec[3], ==, 1);
    g_assert_cmphex(rd(&k, KESYNC_REG_INTR_STATUS), ==, 0x3);
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_CTRL_BUSY), ==, 1);

    step(&k, due(&k, 512) - 102);
    g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_STATUS), ==,
                    ST(KESYNC_STATE_DONE, 0));
    g_assert_cmpuint(urd(&k, 0, KESYNC_UNIT_SEQ), ==, 2);
    g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_TAG), ==, 0xa0);
    g_assert_cmpuint(urd(&k, 0, KESYNC_UNIT_BYTES), ==, 512);
    cmpl_read(&k, 0, rec);
    g_assert_cmphex(rec[0], ==, 0xa0);
    g_assert_cmpuint(rec[3], ==, 2);
    g_assert_cmphex(rd(&k, KESYNC_REG_STATUS), ==, 0);

    /* The controller is free again: the data is there, unit 1 works. */
    medium_read(&k, 0, 4096, got, 512);
    g_assert(memcmp(pat, got, 512) == 0);
    g_assert_cmphex(run1(&k, 1, 0, 0, buf2, 512, 0xb1), ==,
                    ST(KESYNC_STATE_DONE, 0));
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_LATE_DMA), ==, 0);
    kdev_close(&k);
}

/* ---- Interrupts ---------------------------------------------------------- */

static void test_intx(void)
{
    Kdev k;
    uint64_t buf;

    kdev_open(&k, "%s", "");
    intx_setup(&k);
    buf = guest_alloc(&k.alloc, 4096);

    /* Not enabled: pending but line low. */
    g_assert_cmphex(run1(&k, 0, 0, 0, buf, 64, 1), ==,
                    ST(KESYNC_STATE_DONE, 0));
    g_assert_cmphex(rd(&k, KESYNC_REG_INTR_STATUS), ==, KESYNC_INTR_UNIT(0));
    g_assert(!intx(&k));
    /* Enabling a pending event raises the level. */
    wr(&k, KESYNC_REG_INTR_ENABLE, KESYNC_INTR_UNIT(0));
    g_assert(intx(&k));
    wr(&k, KESYNC_REG_INTR_ENABLE, 0);
    g_assert(!intx(&k));
    wr(&k, KESYNC_REG_INTR_ENABLE, KESYNC_INTR_UNIT(0) | KESYNC_INTR_UNIT(1) |
       KESYNC_INTR_CTRL_MASK);
    g_assert(intx(&k));
    /* W1C deasserts. */
    wr(&k, KESYNC_REG_INTR_STATUS, KESYNC_INTR_UNIT(1));
    g_assert(intx(&k));
    wr(&k, KESYNC_REG_INTR_STATUS, KESYNC_INTR_UNIT(0));
    g_assert(!intx(&k));
    g_assert_cmphex(rd(&k, KESYNC_REG_INTR_STATUS), ==, 0);

    /* Two sources: the line stays up until both are acked. */
    g_assert_cmphex(run1(&k, 0, 0, 0, buf, 64, 1), ==,
                    ST(KESYNC_STATE_DONE, 0));
    g_assert(intx(&k));
    wr(&k, KESYNC_REG_INTR_RAISE, 1);
    g_assert_cmphex(rd(&k, KESYNC_REG_INTR_STATUS), ==,
                    KESYNC_INTR_UNIT(0) | KESYNC_INTR_SW);
    wr(&k, KESYNC_REG_INTR_STATUS, KESYNC_INTR_UNIT(0));
    g_assert(intx(&k));
    wr(&k, KESYNC_REG_INTR_STATUS, KESYNC_INTR_SW);
    g_assert(!intx(&k));

    /* START clears its unit's bit (and the line). */
    g_assert_cmphex(run1(&k, 1, 0, 0, buf, 64, 1), ==,
                    ST(KESYNC_STATE_DONE, 0));
    g_assert(intx(&k));
    {
        Desc d;

        desc_init(&d, 0, 0, 2);
        desc_add(&d, buf, 64);
        start_at(&k, 1, desc_put(&k, &d));
        g_assert(!intx(&k));
        g_assert_cmphex(rd(&k, KESYNC_REG_INTR_STATUS), ==, 0);
        step(&k, due(&k, 64));
        g_assert(intx(&k));
    }
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_IRQS), ==, 5);
    kdev_close(&k);
}

static void test_msi(void)
{
    Kdev k;
    uint64_t buf, mb;
    uint8_t cap;
    uint16_t flags;

    kdev_open(&k, ",msix=off");
    intx_setup(&k);
    buf = guest_alloc(&k.alloc, 4096);
    mb = guest_alloc(&k.alloc, 64);
    qtest_memset(k.qts, mb, 0, 64);
    cap = qpci_find_capability(k.dev, PCI_CAP_ID_MSI, 0);
    g_assert_cmpuint(cap, !=, 0);
    flags = qpci_config_readw(k.dev, cap + PCI_MSI_FLAGS);
    g_assert(flags & PCI_MSI_FLAGS_64BIT);
    qpci_config_writel(k.dev, cap + PCI_MSI_ADDRESS_LO, mb);
    qpci_config_writel(k.dev, cap + PCI_MSI_ADDRESS_HI, mb >> 32);
    qpci_config_writew(k.dev, cap + PCI_MSI_DATA_64, 0x4321);

    /* INTx in use first; turning MSI on lowers the line. */
    wr(&k, KESYNC_REG_INTR_ENABLE, 0x3 | KESYNC_INTR_CTRL_MASK);
    wr(&k, KESYNC_REG_INTR_RAISE, 1);
    g_assert(intx(&k));
    qpci_config_writew(k.dev, cap + PCI_MSI_FLAGS,
                       flags | PCI_MSI_FLAGS_ENABLE);
    g_assert(!intx(&k));
    g_assert(!msg_seen(&k, mb, 0, 0x4321));

    g_assert_cmphex(run1(&k, 1, 0, 0, buf, 64, 1), ==,
                    ST(KESYNC_STATE_DONE, 0));
    g_assert(msg_seen(&k, mb, 0, 0x4321));
    g_assert(!intx(&k));
    /* A message for every event even with the bit still set. */
    wr(&k, KESYNC_REG_INTR_RAISE, 1);
    g_assert(msg_seen(&k, mb, 0, 0x4321));
    wr(&k, KESYNC_REG_INTR_RAISE, 1);
    g_assert(msg_seen(&k, mb, 0, 0x4321));
    /* Disabled event: no message. */
    wr(&k, KESYNC_REG_INTR_ENABLE, 0);
    g_assert_cmphex(run1(&k, 0, 0, 0, buf, 64, 1), ==,
                    ST(KESYNC_STATE_DONE, 0));
    g_assert(!msg_seen(&k, mb, 0, 0x4321));
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_IRQS), ==, 4);
    kdev_close(&k);
}

static void test_msix(void)
{
    Kdev k;
    uint64_t buf, mb, e;
    unsigned v;

    kdev_open(&k, ",units=3");
    intx_setup(&k);
    buf = guest_alloc(&k.alloc, 4096);
    mb = msix_setup(&k);
    g_assert_cmpuint(qpci_msix_table_size(k.dev), ==, 4);
    wr(&k, KESYNC_REG_INTR_ENABLE, 0x7 | KESYNC_INTR_CTRL_MASK);

    /* Vector u per unit, never INTx. */
    for (v = 0; v < 3; v++) {
        g_assert_cmphex(run1(&k, v, 0, 0, buf, 64, v), ==,
                        ST(KESYNC_STATE_DONE, 0));
        g_assert(msg_seen(&k, mb, v, 0xab00 + v));
        g_assert(!intx(&k));
    }
    for (v = 0; v <= 3; v++) {
        g_assert(!msg_seen(&k, mb, v, 0xab00 + v));
    }
    /* No ack needed: the next completion sends again. */
    g_assert_cmphex(rd(&k, KESYNC_REG_INTR_STATUS), ==, 0x7);
    g_assert_cmphex(run1(&k, 2, 0, 0, buf, 64, 9), ==,
                    ST(KESYNC_STATE_DONE, 0));
    g_assert(msg_seen(&k, mb, 2, 0xab02));
    /* Controller events on vector `units'. */
    wr(&k, KESYNC_REG_INTR_RAISE, 1);
    g_assert(msg_seen(&k, mb, 3, 0xab03));
    wr(&k, KESYNC_REG_CTRL, KESYNC_CTRL_RESET);
    step(&k, 0);
    g_assert(msg_seen(&k, mb, 3, 0xab03));
    g_assert_cmphex(rd(&k, KESYNC_REG_INTR_STATUS), ==,
                    KESYNC_INTR_SW | KESYNC_INTR_RESET_DONE);

    /* A masked vector: pending bit instead of a message, sent on unmask. */
    e = k.dev->msix_table_off + 1 * PCI_MSIX_ENTRY_SIZE;
    qpci_io_writel(k.dev, k.dev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_VECTOR_CTRL, 1);
    g_assert_cmphex(run1(&k, 1, 0, 0, buf, 64, 1), ==,
                    ST(KESYNC_STATE_DONE, 0));
    g_assert(!msg_seen(&k, mb, 1, 0xab01));
    g_assert(qpci_msix_masked(k.dev, 1));
    qpci_io_writel(k.dev, k.dev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    g_assert(msg_seen(&k, mb, 1, 0xab01));
    g_assert(!qpci_msix_pending(k.dev, 1));
    /* Disabled unit event: bit set, no message. */
    wr(&k, KESYNC_REG_INTR_ENABLE, 0x3);
    g_assert_cmphex(run1(&k, 2, 0, 0, buf, 64, 1), ==,
                    ST(KESYNC_STATE_DONE, 0));
    g_assert(!msg_seen(&k, mb, 2, 0xab02));
    g_assert(rd(&k, KESYNC_REG_INTR_STATUS) & KESYNC_INTR_UNIT(2));

    /* MSI-X off again: back to INTx. */
    wr(&k, KESYNC_REG_INTR_ENABLE, 0x7);
    g_assert(!intx(&k));
    qpci_msix_disable(k.dev);
    g_assert(intx(&k));
    kdev_close(&k);
}

/* Point MSI-X vector @v at @addr with @data. */
static void msix_vector(Kdev *k, unsigned v, uint64_t addr, uint32_t data)
{
    uint64_t e = k->dev->msix_table_off + v * PCI_MSIX_ENTRY_SIZE;

    qpci_io_writel(k->dev, k->dev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_LOWER_ADDR, addr);
    qpci_io_writel(k->dev, k->dev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_UPPER_ADDR, addr >> 32);
    qpci_io_writel(k->dev, k->dev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_DATA, data);
}

static void msix_vector_mask(Kdev *k, unsigned v, bool masked)
{
    uint64_t e = k->dev->msix_table_off + v * PCI_MSIX_ENTRY_SIZE;

    qpci_io_writel(k->dev, k->dev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_VECTOR_CTRL, masked);
}

/*
 * An MSI-X message aimed at the device's own registers is refused, whatever
 * sends it: an event (INTR_RAISE in an MMIO write, a transfer completion, a
 * reset done), or the unmasking of a pending vector through the MSI-X table
 * (BAR1) or through config space (the function mask).  Vector 0 points at
 * SCRATCH, the controller vector at CTRL with CTRL_RESET.
 */
static void test_msix_self(void)
{
    Kdev k;
    uint64_t buf;
    uint16_t flags;
    uint8_t cap;

    kdev_open(&k, "%s", "");
    buf = guest_alloc(&k.alloc, 4096);
    msix_setup(&k);
    msix_vector(&k, 0, k.bar.addr + KESYNC_REG_SCRATCH, 0x5e1f);
    msix_vector(&k, 2, k.bar.addr + KESYNC_REG_CTRL, KESYNC_CTRL_RESET);
    wr(&k, KESYNC_REG_INTR_ENABLE, 0x3 | KESYNC_INTR_CTRL_MASK);

    /* Events. */
    wr(&k, KESYNC_REG_INTR_RAISE, 1);
    g_assert_cmphex(rd(&k, KESYNC_REG_CTRL), ==, 0);
    g_assert_cmphex(run1(&k, 0, 0, 0, buf, 64, 1), ==, KESYNC_STATE_DONE);
    g_assert_cmphex(rd(&k, KESYNC_REG_SCRATCH), ==, 0);
    ctrl_reset(&k);
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_RESETS), ==, 1);

    /* A pending vector unmasked through the table. */
    msix_vector_mask(&k, 0, true);
    g_assert_cmphex(run1(&k, 0, 0, 0, buf, 64, 2), ==, KESYNC_STATE_DONE);
    g_assert(qpci_msix_pending(k.dev, 0));
    msix_vector_mask(&k, 0, false);
    g_assert(!qpci_msix_pending(k.dev, 0));
    g_assert_cmphex(rd(&k, KESYNC_REG_SCRATCH), ==, 0);

    /* Pending vectors unmasked through config space. */
    cap = qpci_find_capability(k.dev, PCI_CAP_ID_MSIX, 0);
    flags = qpci_config_readw(k.dev, cap + PCI_MSIX_FLAGS);
    qpci_config_writew(k.dev, cap + PCI_MSIX_FLAGS,
                       flags | PCI_MSIX_FLAGS_MASKALL);
    wr(&k, KESYNC_REG_INTR_RAISE, 1);
    g_assert_cmphex(run1(&k, 0, 0, 0, buf, 64, 3), ==, KESYNC_STATE_DONE);
    g_assert(qpci_msix_pending(k.dev, 0));
    g_assert(qpci_msix_pending(k.dev, 2));
    qpci_config_writew(k.dev, cap + PCI_MSIX_FLAGS, flags);
    g_assert(!qpci_msix_pending(k.dev, 0));
    g_assert(!qpci_msix_pending(k.dev, 2));
    g_assert_cmphex(rd(&k, KESYNC_REG_SCRATCH), ==, 0);
    g_assert_cmphex(rd(&k, KESYNC_REG_CTRL), ==, 0);
    g_assert_cmphex(rd(&k, KESYNC_REG_STATUS), ==, 0);
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_RESETS), ==, 1);
    kdev_close(&k);
}

/* ---- Faults -------------------------------------------------------------- */

/* Arm unit @u with @kind/@arg for @count transfers, by register or QOM. */
static void arm(Kdev *k, bool qom, unsigned u, uint32_t kind, uint32_t arg,
                uint32_t count)
{
    if (qom) {
        qom_set_u32(k->qts, "fault-unit", u);
        qom_set_u32(k->qts, "fault-kind", kind);
        qom_set_u32(k->qts, "fault-arg", arg);
        qom_set_u32(k->qts, "fault-count", count);
        g_assert_cmpuint(qom_get_u64(k->qts, "fault-count"), ==, count);
    } else {
        uwr(k, u, KESYNC_UNIT_FAULT_KIND, kind);
        uwr(k, u, KESYNC_UNIT_FAULT_ARG, arg);
        uwr(k, u, KESYNC_UNIT_FAULT_COUNT, count);
    }
    g_assert_cmpuint(urd(k, u, KESYNC_UNIT_FAULT_COUNT), ==, count);
}

typedef struct FaultEnv {
    Kdev k;
    uint64_t buf;
    uint64_t mb;
    uint8_t pat[4096];
} FaultEnv;

static void fenv_open_with(FaultEnv *f, bool msix, const char *props)
{
    unsigned i;

    kdev_open(&f->k, "%s", props);
    f->mb = 0;
    kdev_cmpl(&f->k);
    f->buf = guest_alloc(&f->k.alloc, 4096);
    for (i = 0; i < sizeof(f->pat); i++) {
        f->pat[i] = i ^ (i >> 8) ^ 0x3c;
    }
    if (msix) {
        f->mb = msix_setup(&f->k);
    } else {
        intx_setup(&f->k);
    }
    wr(&f->k, KESYNC_REG_INTR_ENABLE, 0x3 | KESYNC_INTR_CTRL_MASK);
}

static void fenv_open(FaultEnv *f, bool msix)
{
    fenv_open_with(f, msix, "");
}

/* Start a 4 KiB write of the pattern to unit @u's medium at 0. */
static void fenv_start(FaultEnv *f, unsigned u, uint32_t tag)
{
    Desc d;

    qtest_bufwrite(f->k.qts, f->buf, f->pat, sizeof(f->pat));
    desc_init(&d, KESYNC_DESC_DIR_TO_DEV, 0, tag);
    desc_add(&d, f->buf, 1000);
    desc_add(&d, f->buf + 1000, 3096);
    start_at(&f->k, u, desc_put(&f->k, &d));
}

/* How many leading medium bytes of unit @u match the pattern. */
static uint32_t fenv_written(FaultEnv *f, unsigned u)
{
    uint8_t got[4096];
    uint32_t n = 0;

    medium_read(&f->k, u, 0, got, sizeof(got));
    while (n < sizeof(got) && got[n] == f->pat[n]) {
        n++;
    }
    return n;
}

static void fault_hang(bool qom)
{
    FaultEnv f;
    Kdev *k = &f.k;

    fenv_open(&f, false);
    arm(k, qom, 0, KESYNC_FAULT_HANG, 0, 1);
    fenv_start(&f, 0, 1);
    step(k, 1000 * due(k, 4096));
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_BUSY);
    g_assert_cmphex(rd(k, KESYNC_REG_STATUS), ==, KESYNC_STATUS_BUSY);
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_FAULT_COUNT), ==, 0);
    g_assert(!intx(k));
    /* It holds the controller. */
    g_assert_cmphex(run1(k, 1, 0, 0, f.buf, 16, 2), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_CTRL_BUSY));
    /* Abort frees it; no data was moved. */
    uwr(k, 0, KESYNC_UNIT_DOORBELL, KESYNC_DB_ABORT);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_ABORTED);
    g_assert_cmpuint(fenv_written(&f, 0), ==, 0);
    /* The next transfer is normal. */
    fenv_start(&f, 0, 3);
    step(k, due(k, 4096));
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);
    g_assert_cmpuint(fenv_written(&f, 0), ==, 4096);
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_LATE_DMA), ==, 0);
    kdev_close(k);
}

static void fault_lost_irq(bool qom)
{
    FaultEnv f;
    Kdev *k = &f.k;
    uint32_t rec[4];

    fenv_open(&f, true);
    arm(k, qom, 1, KESYNC_FAULT_LOST_IRQ, 0, 2);
    fenv_start(&f, 1, 0x10);
    step(k, due(k, 4096));
    g_assert_cmphex(urd(k, 1, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);
    g_assert_cmpuint(urd(k, 1, KESYNC_UNIT_BYTES), ==, 4096);
    cmpl_read(k, 1, rec);
    g_assert_cmphex(rec[0], ==, 0x10);
    g_assert_cmpuint(rec[3], ==, 1);
    g_assert_cmphex(rd(k, KESYNC_REG_INTR_STATUS), ==, 0);
    g_assert(!msg_seen(k, f.mb, 1, 0xab01));
    /* Armed for two: the second loses its interrupt too, the third not. */
    fenv_start(&f, 1, 0x11);
    step(k, due(k, 4096));
    g_assert_cmpuint(urd(k, 1, KESYNC_UNIT_SEQ), ==, 2);
    g_assert(!msg_seen(k, f.mb, 1, 0xab01));
    fenv_start(&f, 1, 0x12);
    step(k, due(k, 4096));
    g_assert(msg_seen(k, f.mb, 1, 0xab01));
    g_assert_cmphex(rd(k, KESYNC_REG_INTR_STATUS), ==, KESYNC_INTR_UNIT(1));
    g_assert_cmpuint(fenv_written(&f, 1), ==, 4096);
    kdev_close(k);
}

static void fault_late(bool qom)
{
    FaultEnv f;
    Kdev *k = &f.k;

    fenv_open(&f, false);
    arm(k, qom, 0, KESYNC_FAULT_LATE, 50, 1);
    fenv_start(&f, 0, 1);
    step(k, due(k, 4096) + 50 * 1000 - 1);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_BUSY);
    g_assert(!intx(k));
    step(k, 1);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);
    g_assert(intx(k));
    g_assert_cmpuint(fenv_written(&f, 0), ==, 4096);
    kdev_close(k);
}

static void fault_error(bool qom)
{
    FaultEnv f;
    Kdev *k = &f.k;
    uint32_t rec[4];

    fenv_open(&f, false);
    arm(k, qom, 0, KESYNC_FAULT_ERROR, 0, 1);
    fenv_start(&f, 0, 0x99);
    step(k, due(k, 4096) - 1);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_BUSY);
    step(k, 1);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_INJECTED));
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_BYTES), ==, 0);
    cmpl_read(k, 0, rec);
    g_assert_cmphex(rec[0], ==, 0x99);
    g_assert_cmphex(rec[1], ==, ST(KESYNC_STATE_ERROR, KESYNC_ERR_INJECTED));
    g_assert_cmpuint(rec[2], ==, 0);
    g_assert(intx(k));
    g_assert_cmpuint(fenv_written(&f, 0), ==, 0);
    kdev_close(k);
}

static void fault_short(bool qom)
{
    FaultEnv f;
    Kdev *k = &f.k;
    uint32_t rec[4];

    fenv_open(&f, false);
    /* 1500 bytes: crosses the first segment. */
    arm(k, qom, 0, KESYNC_FAULT_SHORT, 1500, 1);
    fenv_start(&f, 0, 1);
    step(k, due(k, 4096));
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_BYTES), ==, 1500);
    cmpl_read(k, 0, rec);
    g_assert_cmpuint(rec[2], ==, 1500);
    g_assert_cmpuint(fenv_written(&f, 0), ==, 1500);
    /* ARG >= len: len - 1 bytes. */
    arm(k, qom, 1, KESYNC_FAULT_SHORT, 100000, 1);
    fenv_start(&f, 1, 2);
    step(k, due(k, 4096));
    g_assert_cmpuint(urd(k, 1, KESYNC_UNIT_BYTES), ==, 4095);
    g_assert_cmpuint(fenv_written(&f, 1), ==, 4095);
    /* ARG 0: nothing moved, still DONE. */
    arm(k, qom, 1, KESYNC_FAULT_SHORT, 0, 1);
    g_assert_cmphex(run1(k, 1, 0, 0, f.buf, 1, 3), ==, KESYNC_STATE_DONE);
    g_assert_cmpuint(urd(k, 1, KESYNC_UNIT_BYTES), ==, 0);
    kdev_close(k);
}

static void fault_spurious(bool qom)
{
    FaultEnv f;
    Kdev *k = &f.k;
    uint32_t rec[4], irqs, seq;
    uint64_t d = 0;

    fenv_open(&f, true);
    arm(k, qom, 0, KESYNC_FAULT_SPURIOUS, 0, 1);
    fenv_start(&f, 0, 0x55);
    d = due(k, 4096);
    step(k, d / 2 - 1);
    g_assert(!msg_seen(k, f.mb, 0, 0xab00));
    step(k, 1);
    /* An interrupt with nothing finished. */
    g_assert(msg_seen(k, f.mb, 0, 0xab00));
    g_assert_cmphex(rd(k, KESYNC_REG_INTR_STATUS), ==, KESYNC_INTR_UNIT(0));
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_BUSY);
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_SEQ), ==, 0);
    cmpl_read(k, 0, rec);
    g_assert_cmpuint(rec[3], ==, 0);
    /* Then the real completion, at the normal time. */
    step(k, d - d / 2 - 1);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_BUSY);
    step(k, 1);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);
    g_assert(msg_seen(k, f.mb, 0, 0xab00));
    cmpl_read(k, 0, rec);
    g_assert_cmphex(rec[0], ==, 0x55);
    g_assert_cmpuint(rec[3], ==, 1);
    g_assert_cmpuint(fenv_written(&f, 0), ==, 4096);

    /* Half way and the end within one step: both happen, in order. */
    irqs = rd(k, KESYNC_REG_STAT_IRQS);
    seq = urd(k, 0, KESYNC_UNIT_SEQ);
    arm(k, qom, 0, KESYNC_FAULT_SPURIOUS, 0, 1);
    fenv_start(&f, 0, 0x56);
    step(k, 10 * d);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_SEQ), ==, seq + 1);
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_IRQS), ==, irqs + 2);
    g_assert(msg_seen(k, f.mb, 0, 0xab00));
    kdev_close(k);
}

/* REFUSE: the START is refused as if the controller were busy. */
static void fault_refuse(bool qom)
{
    FaultEnv f;
    Kdev *k = &f.k;
    uint32_t rec[4];

    fenv_open(&f, false);
    arm(k, qom, 0, KESYNC_FAULT_REFUSE, 0, 2);
    fenv_start(&f, 0, 0x21);
    step(k, 1);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_CTRL_BUSY));
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_TAG), ==, 0);
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_SEQ), ==, 1);
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_FAULT_COUNT), ==, 1);
    /* Injected, not a conflict the guest caused: not counted. */
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_CTRL_BUSY), ==, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_STATUS), ==, 0);
    cmpl_read(k, 0, rec);
    g_assert_cmphex(rec[1], ==, ST(KESYNC_STATE_ERROR, KESYNC_ERR_CTRL_BUSY));
    g_assert(intx(k));
    /* A refused START is no transfer, however long one waits. */
    step(k, 10 * due(k, 4096));
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_CTRL_BUSY));
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_BYTES), ==, 0);
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_SEQ), ==, 1);
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_XFERS), ==, 0);
    /* Another unit's START takes nothing of unit 0's fault. */
    g_assert_cmphex(run1(k, 1, 0, 0, f.buf, 16, 0x30), ==,
                    ST(KESYNC_STATE_DONE, 0));
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_FAULT_COUNT), ==, 1);
    /* The second START is refused too, the third runs. */
    fenv_start(&f, 0, 0x22);
    step(k, 1);
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_SEQ), ==, 2);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_CTRL_BUSY));
    fenv_start(&f, 0, 0x23);
    step(k, due(k, 4096));
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_TAG), ==, 0x23);
    g_assert_cmpuint(fenv_written(&f, 0), ==, 4096);
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_CTRL_BUSY), ==, 0);
    kdev_close(k);
}

/* WRONG_TAG: the data moves, the completion names the next tag. */
static void fault_wrong_tag(bool qom)
{
    FaultEnv f;
    Kdev *k = &f.k;
    uint32_t rec[4];

    fenv_open(&f, false);
    arm(k, qom, 1, KESYNC_FAULT_WRONG_TAG, 0, 1);
    fenv_start(&f, 1, 0xffffffff);
    step(k, due(k, 4096));
    g_assert_cmphex(urd(k, 1, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);
    g_assert_cmphex(urd(k, 1, KESYNC_UNIT_TAG), ==, 0);
    g_assert_cmpuint(urd(k, 1, KESYNC_UNIT_BYTES), ==, 4096);
    cmpl_read(k, 1, rec);
    g_assert_cmphex(rec[0], ==, 0);
    g_assert_cmpuint(rec[2], ==, 4096);
    g_assert(intx(k));
    g_assert_cmpuint(fenv_written(&f, 1), ==, 4096);
    /* Taken once: the next completion is true. */
    fenv_start(&f, 1, 0x41);
    step(k, due(k, 4096));
    g_assert_cmphex(urd(k, 1, KESYNC_UNIT_TAG), ==, 0x41);
    cmpl_read(k, 1, rec);
    g_assert_cmphex(rec[0], ==, 0x41);
    kdev_close(k);
}

static void test_fault_hang(void) { fault_hang(false); }
static void test_fault_lost_irq(void) { fault_lost_irq(false); }
static void test_fault_late(void) { fault_late(false); }
static void test_fault_error(void) { fault_error(false); }
static void test_fault_short(void) { fault_short(false); }
static void test_fault_spurious(void) { fault_spurious(false); }
static void test_qom_hang(void) { fault_hang(true); }
static void test_qom_lost_irq(void) { fault_lost_irq(true); }
static void test_qom_late(void) { fault_late(true); }
static void test_qom_error(void) { fault_error(true); }
static void test_qom_short(void) { fault_short(true); }
static void test_qom_spurious(void) { fault_spurious(true); }
static void test_fault_refuse(void) { fault_refuse(false); }
static void test_fault_wrong_tag(void) { fault_wrong_tag(false); }
static void test_qom_refuse(void) { fault_refuse(true); }
static void test_qom_wrong_tag(void) { fault_wrong_tag(true); }

/* Fault arming rules: invalid descriptors and refusals do not consume. */
static void test_fault_rules(void)
{
    FaultEnv f;
    Kdev *k = &f.k;

    fenv_open(&f, false);
    uwr(k, 0, KESYNC_UNIT_FAULT_KIND, KESYNC_FAULT_ERROR);
    uwr(k, 0, KESYNC_UNIT_FAULT_COUNT, 1);
    /* KIND written after COUNT does not change what is armed. */
    uwr(k, 0, KESYNC_UNIT_FAULT_KIND, KESYNC_FAULT_HANG);
    g_assert_cmphex(run1(k, 0, 0, 1ull << 40, f.buf, 16, 1), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_BAD_RANGE));
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_FAULT_COUNT), ==, 1);
    g_assert_cmphex(run1(k, 0, 0, 0, f.buf, 16, 1), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_INJECTED));
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_FAULT_COUNT), ==, 0);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_FAULT_KIND), ==, KESYNC_FAULT_HANG);
    g_assert_cmphex(run1(k, 0, 0, 0, f.buf, 16, 1), ==, KESYNC_STATE_DONE);
    /* Another unit's faults are its own. */
    uwr(k, 1, KESYNC_UNIT_FAULT_KIND, KESYNC_FAULT_ERROR);
    uwr(k, 1, KESYNC_UNIT_FAULT_COUNT, 1);
    g_assert_cmphex(run1(k, 0, 0, 0, f.buf, 16, 1), ==, KESYNC_STATE_DONE);
    /* COUNT 0 disarms. */
    uwr(k, 1, KESYNC_UNIT_FAULT_COUNT, 0);
    g_assert_cmphex(run1(k, 1, 0, 0, f.buf, 16, 1), ==, KESYNC_STATE_DONE);
    kdev_close(k);
}

static void test_qom_props(void)
{
    Kdev k;

    kdev_open(&k, "%s", "");
    g_assert(!qom_set(k.qts, "fault-unit", "2"));
    g_assert(!qom_set(k.qts, "fault-kind", "9"));   /* KIND_MAX + 1 */
    g_assert(!qom_set(k.qts, "fault-kind", "-1"));
    g_assert(!qom_set(k.qts, "fault-count", "\"x\""));
    g_assert(!qom_set(k.qts, "late-dma", "0"));
    g_assert(!qom_set(k.qts, "xfers", "5"));
    g_assert(!qom_set(k.qts, "surprise-removal", "3"));
    g_assert(qom_set(k.qts, "fault-unit", "1"));
    g_assert(qom_set(k.qts, "fault-kind", "8"));
    g_assert(qom_set(k.qts, "fault-arg", "4294967295"));
    g_assert(!qom_set(k.qts, "fault-arg", "4294967296"));
    g_assert_cmpuint(qom_get_u64(k.qts, "fault-unit"), ==, 1);
    g_assert_cmpuint(qom_get_u64(k.qts, "fault-kind"), ==, 8);
    g_assert(qom_set(k.qts, "fault-count", "3"));
    g_assert_cmpuint(urd(&k, 1, KESYNC_UNIT_FAULT_KIND), ==, 8);
    g_assert_cmpuint(urd(&k, 1, KESYNC_UNIT_FAULT_ARG), ==, 0xffffffff);
    g_assert_cmpuint(urd(&k, 1, KESYNC_UNIT_FAULT_COUNT), ==, 3);
    g_assert_cmpuint(urd(&k, 0, KESYNC_UNIT_FAULT_COUNT), ==, 0);
    g_assert(qom_set(k.qts, "reset-delay-us", "17"));
    g_assert_cmpuint(rd(&k, KESYNC_REG_RESET_DELAY_US), ==, 17);
    g_assert(qom_set(k.qts, "misdirect-dma", "true"));
    g_assert_cmphex(rd(&k, KESYNC_REG_DEV_FAULT), ==,
                    KESYNC_DEV_FAULT_MISDIRECT);
    g_assert(qom_set(k.qts, "misdirect-dma", "false"));
    g_assert_cmphex(rd(&k, KESYNC_REG_DEV_FAULT), ==, 0);
    g_assert_cmpuint(qom_get_u64(k.qts, "late-dma"), ==, 0);
    g_assert_cmpuint(qom_get_u64(k.qts, "ctrl-busy"), ==, 0);
    g_assert_cmpuint(qom_get_u64(k.qts, "xfers"), ==, 0);
    kdev_close(&k);
}

/* MISDIRECT: data goes to addr + KESYNC_MISDIRECT_OFFSET, once. */
static void test_misdirect(bool qom)
{
    Kdev k;
    uint64_t buf;
    uint8_t pat[256], got[256];
    unsigned i;

    /* 2 GiB of guest RAM: the misdirected target is real memory. */
    kdev_open(&k, " -m 2G");
    buf = guest_alloc(&k.alloc, 4096);
    for (i = 0; i < sizeof(pat); i++) {
        pat[i] = 255 - i;
    }
    qtest_bufwrite(k.qts, buf, pat, sizeof(pat));
    g_assert_cmphex(run1(&k, 0, KESYNC_DESC_DIR_TO_DEV, 0, buf, 256, 1), ==,
                    KESYNC_STATE_DONE);
    qtest_memset(k.qts, buf, 0, 256);
    qtest_memset(k.qts, buf + KESYNC_MISDIRECT_OFFSET, 0, 256);
    if (qom) {
        g_assert(qom_set(k.qts, "misdirect-dma", "true"));
    } else {
        wr(&k, KESYNC_REG_DEV_FAULT, KESYNC_DEV_FAULT_MISDIRECT);
    }
    g_assert_cmphex(run1(&k, 0, 0, 0, buf, 256, 2), ==, KESYNC_STATE_DONE);
    g_assert_cmphex(rd(&k, KESYNC_REG_DEV_FAULT), ==, 0);
    qtest_bufread(k.qts, buf, got, 256);
    for (i = 0; i < sizeof(got); i++) {
        g_assert_cmphex(got[i], ==, 0);
    }
    qtest_bufread(k.qts, buf + KESYNC_MISDIRECT_OFFSET, got, 256);
    g_assert(memcmp(got, pat, 256) == 0);
    /* Self-clearing: the next one lands where it should. */
    g_assert_cmphex(run1(&k, 0, 0, 0, buf, 256, 3), ==, KESYNC_STATE_DONE);
    qtest_bufread(k.qts, buf, got, 256);
    g_assert(memcmp(got, pat, 256) == 0);
    kdev_close(&k);
}

static void test_misdirect_reg(void) { test_misdirect(false); }
static void test_misdirect_qom(void) { test_misdirect(true); }

/*
 * MISDIRECT: a segment whose misdirected end passes 2^64 is a DMA error
 * before any byte moves; nothing lands at the bottom of guest memory.
 */
static void test_misdirect_wrap(void)
{
    static const struct {
        uint64_t addr;
        uint32_t len;
    } segs[] = {
        { 0xffffffffbffff800ull, 0x1000 },  /* end wraps past 2^64 */
        { 0xffffffffbffff000ull, 0x1000 },  /* end exactly 2^64 */
        { 0xffffffffbfffffffull, 2 },
        { 0xffffffffc0000000ull, 0x1000 },  /* start wraps */
    };
    Kdev k;
    uint8_t pat[4096], got[4096];
    uint64_t buf;
    uint32_t errs;
    unsigned i, j;

    kdev_open(&k, "%s", "");
    buf = guest_alloc(&k.alloc, sizeof(pat));
    for (i = 0; i < sizeof(pat); i++) {
        pat[i] = i * 13 + 1;
    }
    qtest_bufwrite(k.qts, buf, pat, sizeof(pat));
    g_assert_cmphex(run1(&k, 0, KESYNC_DESC_DIR_TO_DEV, 0, buf,
                         sizeof(pat), 1), ==, KESYNC_STATE_DONE);
    /* Guest page 0, where a wrapped write would land: unused, zeroed. */
    qtest_memset(k.qts, 0, 0, sizeof(got));

    for (j = 0; j < ARRAY_SIZE(segs); j++) {
        errs = rd(&k, KESYNC_REG_STAT_DMA_ERRORS);
        wr(&k, KESYNC_REG_DEV_FAULT, KESYNC_DEV_FAULT_MISDIRECT);
        g_assert_cmphex(run1(&k, 0, 0, 0, segs[j].addr, segs[j].len, 2),
                        ==, ST(KESYNC_STATE_ERROR, KESYNC_ERR_DMA));
        g_assert_cmpuint(urd(&k, 0, KESYNC_UNIT_BYTES), ==, 0);
        g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_DMA_ERRORS), ==, errs + 1);
        qtest_bufread(k.qts, 0, got, sizeof(got));
        for (i = 0; i < sizeof(got); i++) {
            g_assert_cmphex(got[i], ==, 0);
        }
    }
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_LATE_DMA), ==, 0);
    kdev_close(&k);
}

/* ---- Abort, reset, removal ---------------------------------------------- */

static void test_abort(void)
{
    FaultEnv f;
    Kdev *k = &f.k;
    uint32_t rec[4], seq;
    uint8_t got[4096];
    unsigned i;
    Desc d;

    fenv_open(&f, false);
    /* Abort on an idle unit: nothing. */
    uwr(k, 0, KESYNC_UNIT_DOORBELL, KESYNC_DB_ABORT);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_IDLE);

    /* Abort a write mid-transfer: no data, no record, no interrupt. */
    fenv_start(&f, 0, 0x42);
    step(k, due(k, 4096) / 2);
    uwr(k, 0, KESYNC_UNIT_DOORBELL, KESYNC_DB_ABORT);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_ABORTED);
    g_assert_cmphex(rd(k, KESYNC_REG_STATUS), ==, 0);
    step(k, 10 * due(k, 4096));
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_ABORTED);
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_SEQ), ==, 0);
    cmpl_read(k, 0, rec);
    g_assert_cmpuint(rec[3], ==, 0);
    g_assert(!intx(k));
    g_assert_cmphex(rd(k, KESYNC_REG_INTR_STATUS), ==, 0);
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_LATE_DMA), ==, 0);
    g_assert_cmpuint(fenv_written(&f, 0), ==, 0);

    /* Abort a read: the host buffer is never written. */
    qtest_memset(k->qts, f.buf, 0x11, 4096);
    desc_init(&d, 0, 0, 0x43);
    desc_add(&d, f.buf, 4096);
    seq = urd(k, 1, KESYNC_UNIT_SEQ);
    start_at(k, 1, desc_put(k, &d));
    step(k, 10);
    /* Abort of another unit does not touch it. */
    uwr(k, 0, KESYNC_UNIT_DOORBELL, KESYNC_DB_ABORT);
    g_assert_cmphex(urd(k, 1, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_BUSY);
    uwr(k, 1, KESYNC_UNIT_DOORBELL, KESYNC_DB_ABORT);
    step(k, 10 * due(k, 4096));
    qtest_bufread(k->qts, f.buf, got, 4096);
    for (i = 0; i < 4096; i++) {
        g_assert_cmphex(got[i], ==, 0x11);
    }
    g_assert_cmpuint(urd(k, 1, KESYNC_UNIT_SEQ), ==, seq);
    g_assert_cmphex(urd(k, 1, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_ABORTED);
    /* Right away another unit may start. */
    fenv_start(&f, 0, 0x44);
    step(k, due(k, 4096));
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);

    /* DESC written while busy does not change the copied descriptor. */
    fenv_start(&f, 1, 0x45);
    step(k, 1);
    uwr(k, 1, KESYNC_UNIT_DESC_LO, 0x12345678);
    uwr(k, 1, KESYNC_UNIT_DESC_HI, 0x9);
    step(k, due(k, 4096));
    g_assert_cmphex(urd(k, 1, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);
    g_assert_cmphex(urd(k, 1, KESYNC_UNIT_TAG), ==, 0x45);
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_LATE_DMA), ==, 0);
    g_assert_cmpuint(qom_get_u64(k->qts, "late-dma"), ==, 0);
    kdev_close(k);
}

static void test_reset(void)
{
    FaultEnv f;
    Kdev *k = &f.k;
    uint32_t rec[4];
    uint64_t cmpl;

    fenv_open(&f, false);
    cmpl = k->cmpl;
    wr(k, KESYNC_REG_SCRATCH, 0x5c);
    /* Finished unit 1 with its bit pending; unit 0 in flight. */
    g_assert_cmphex(run1(k, 1, 0, 0, f.buf, 16, 0x71), ==, KESYNC_STATE_DONE);
    g_assert(intx(k));
    uwr(k, 1, KESYNC_UNIT_FAULT_KIND, KESYNC_FAULT_ERROR);
    uwr(k, 1, KESYNC_UNIT_FAULT_COUNT, 5);
    wr(k, KESYNC_REG_INTR_RAISE, 1);
    fenv_start(&f, 0, 0x72);
    step(k, 1000);
    /* Armed for the next transfer (this one was fetched already). */
    wr(k, KESYNC_REG_DEV_FAULT, KESYNC_DEV_FAULT_MISDIRECT);

    /* 10 us, so the reset in progress can be looked at. */
    wr(k, KESYNC_REG_RESET_DELAY_US, 10);
    wr(k, KESYNC_REG_CTRL, KESYNC_CTRL_RESET);
    g_assert_cmphex(rd(k, KESYNC_REG_CTRL), ==, KESYNC_CTRL_RESET);
    g_assert_cmphex(rd(k, KESYNC_REG_STATUS), ==, KESYNC_STATUS_RESETTING);
    /* The killed transfer shows ERR_RESET; the others are idle. */
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_RESET));
    g_assert_cmphex(urd(k, 1, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_IDLE);
    /* Unit bits and armed faults cleared, SW kept, config kept. */
    g_assert_cmphex(rd(k, KESYNC_REG_INTR_STATUS), ==, KESYNC_INTR_SW);
    g_assert_cmpuint(urd(k, 1, KESYNC_UNIT_FAULT_COUNT), ==, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_DEV_FAULT), ==, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_INTR_ENABLE), ==,
                    0x3 | KESYNC_INTR_CTRL_MASK);
    g_assert_cmphex(rd(k, KESYNC_REG_CMPL_ADDR_LO), ==, (uint32_t)cmpl);
    g_assert_cmphex(rd(k, KESYNC_REG_SCRATCH), ==, 0x5c);
    g_assert_cmpuint(urd(k, 1, KESYNC_UNIT_SEQ), ==, 1);
    g_assert(urd(k, 0, KESYNC_UNIT_DESC_LO) != 0);
    /* START while resetting is ignored. */
    uwr(k, 1, KESYNC_UNIT_DOORBELL, KESYNC_DB_START);

    step(k, 10 * 1000 - 1);
    g_assert_cmphex(rd(k, KESYNC_REG_CTRL), ==, KESYNC_CTRL_RESET);
    step(k, 1);
    g_assert_cmphex(rd(k, KESYNC_REG_CTRL), ==, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_STATUS), ==, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_INTR_STATUS), ==,
                    KESYNC_INTR_SW | KESYNC_INTR_RESET_DONE);
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_RESETS), ==, 1);
    g_assert(intx(k));

    /* Nothing of the killed transfer ever happens. */
    step(k, 10 * due(k, 4096));
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==,
                    ST(KESYNC_STATE_ERROR, KESYNC_ERR_RESET));
    g_assert_cmphex(urd(k, 1, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_IDLE);
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_SEQ), ==, 0);
    cmpl_read(k, 0, rec);
    g_assert_cmpuint(rec[3], ==, 0);
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_LATE_DMA), ==, 0);
    g_assert_cmpuint(fenv_written(&f, 0), ==, 0);

    /* And the device works: armed ERROR on unit 1 is gone. */
    g_assert_cmphex(run1(k, 1, 0, 0, f.buf, 16, 1), ==, KESYNC_STATE_DONE);
    fenv_start(&f, 0, 0x73);
    step(k, due(k, 4096));
    g_assert_cmpuint(fenv_written(&f, 0), ==, 4096);
    kdev_close(k);
}

/* "Stuck reset": RESET_DELAY_US makes the next reset (only) take long. */
static void test_reset_delay(bool qom)
{
    FaultEnv f;
    Kdev *k = &f.k;

    fenv_open(&f, true);
    if (qom) {
        qom_set_u32(k->qts, "reset-delay-us", 300);
    } else {
        wr(k, KESYNC_REG_RESET_DELAY_US, 300);
    }
    wr(k, KESYNC_REG_CTRL, KESYNC_CTRL_RESET);
    g_assert_cmphex(rd(k, KESYNC_REG_RESET_DELAY_US), ==, 0);
    step(k, 200 * 1000);
    g_assert_cmphex(rd(k, KESYNC_REG_STATUS), ==, KESYNC_STATUS_RESETTING);
    /* A second reset write while resetting is ignored (no restart). */
    wr(k, KESYNC_REG_CTRL, KESYNC_CTRL_RESET);
    step(k, 100 * 1000 - 1);
    g_assert_cmphex(rd(k, KESYNC_REG_CTRL), ==, KESYNC_CTRL_RESET);
    g_assert(!msg_seen(k, f.mb, 2, 0xab02));
    step(k, 1);
    g_assert_cmphex(rd(k, KESYNC_REG_CTRL), ==, 0);
    g_assert(msg_seen(k, f.mb, 2, 0xab02));
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_RESETS), ==, 1);
    /* Self-cleared: the next reset is quick. */
    ctrl_reset(k);
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_RESETS), ==, 2);
    kdev_close(k);
}

static void test_reset_delay_reg(void) { test_reset_delay(false); }
static void test_reset_delay_qom(void) { test_reset_delay(true); }

/* Power-on reset (system_reset) clears configuration too. */
static void test_system_reset(void)
{
    FaultEnv f;
    Kdev *k = &f.k;
    QDict *rsp;

    fenv_open(&f, false);
    wr(k, KESYNC_REG_SCRATCH, 1);
    fenv_start(&f, 0, 1);
    step(k, 100);
    rsp = qtest_qmp(k->qts, "{'execute': 'system_reset'}");
    qobject_unref(rsp);
    qtest_qmp_eventwait(k->qts, "RESET");
    g_free(k->dev);
    kdev_map(k);
    g_assert_cmphex(rd(k, KESYNC_REG_SCRATCH), ==, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_INTR_ENABLE), ==, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_CMPL_ADDR_LO), ==, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_STATUS), ==, 0);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_IDLE);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_DESC_LO), ==, 0);
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_XFERS), ==, 0);
    step(k, 10 * due(k, 4096));
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_LATE_DMA), ==, 0);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_IDLE);
    g_assert_cmpuint(fenv_written(&f, 0), ==, 0);
    kdev_close(k);
}

static void test_removal(void)
{
    FaultEnv f;
    Kdev *k = &f.k;
    uint32_t rec[4];
    uint16_t cmd;

    fenv_open(&f, false);
    fenv_start(&f, 0, 1);
    step(k, 100);
    g_assert(qom_set(k->qts, "surprise-removal", "true"));
    g_assert_cmphex(rd(k, KESYNC_REG_MAGIC), ==, 0xffffffff);
    g_assert_cmphex(rd(k, KESYNC_REG_INTR_STATUS), ==, 0xffffffff);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, 0xffffffff);
    g_assert_cmphex(qpci_io_readb(k->dev, k->bar, 0), ==, 0xff);
    /* Off the link: configuration space reads all ones, ignores writes. */
    cmd = qpci_config_readw(k->dev, PCI_COMMAND);
    g_assert_cmphex(qpci_config_readw(k->dev, PCI_VENDOR_ID), ==, 0xffff);
    g_assert_cmphex(qpci_config_readl(k->dev, PCI_VENDOR_ID), ==, 0xffffffff);
    g_assert_cmphex(cmd, ==, 0xffff);
    qpci_config_writew(k->dev, PCI_COMMAND, 0);
    wr(k, KESYNC_REG_INTR_RAISE, 1);
    wr(k, KESYNC_REG_SCRATCH, 7);
    step(k, 10 * due(k, 4096));
    g_assert(!intx(k));
    cmpl_read(k, 0, rec);
    g_assert_cmpuint(rec[3], ==, 0);

    /* Back: the in-flight transfer never completed, writes were lost. */
    g_assert(qom_set(k->qts, "surprise-removal", "false"));
    g_assert_cmphex(qpci_config_readw(k->dev, PCI_VENDOR_ID), ==,
                    KESYNC_PCI_VENDOR_ID);
    g_assert(qpci_config_readw(k->dev, PCI_COMMAND) & PCI_COMMAND_MASTER);
    g_assert_cmphex(rd(k, KESYNC_REG_SCRATCH), ==, 0);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_BUSY);
    g_assert_cmphex(rd(k, KESYNC_REG_INTR_STATUS), ==, 0);
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_SEQ), ==, 0);
    /* A reset that falls due while removed ends once the device is back. */
    wr(k, KESYNC_REG_RESET_DELAY_US, 100);
    wr(k, KESYNC_REG_CTRL, KESYNC_CTRL_RESET);
    g_assert(qom_set(k->qts, "surprise-removal", "true"));
    step(k, 1000 * 1000);
    g_assert(qom_set(k->qts, "surprise-removal", "false"));
    step(k, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_STATUS), ==, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_INTR_STATUS), ==, KESYNC_INTR_RESET_DONE);
    g_assert(intx(k));
    g_assert_cmpuint(fenv_written(&f, 0), ==, 0);
    fenv_start(&f, 0, 2);
    step(k, due(k, 4096));
    g_assert_cmpuint(fenv_written(&f, 0), ==, 4096);
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_LATE_DMA), ==, 0);
    kdev_close(k);
}

/* ---- Unplugged by its own DMA ------------------------------------------- */

#define Q35_PCIEXBAR    0x60            /* MCH_HOST_BRIDGE_PCIEXBAR, 64-bit */
#define Q35_MMCFG       0xb0000000u     /* where the test puts MMCFG */
#define RP_DEVFN        QPCI_DEVFN(2, 0)
#define RP_BUS          1               /* the root port's secondary bus */
/* The pc helpers put devfn in CONFIG_ADDRESS bits 15:8, so bus in 23:16. */
#define RP_KS_DEVFN     (RP_BUS << 8 | QPCI_DEVFN(0, 0))

/*
 * q35, kesync-pci behind a pcie-root-port whose slot uses native hotplug,
 * MMCFG enabled, the port's bus numbers and memory window set up.  Returns
 * the MMCFG address of the port's Slot Control register, *off the value
 * that powers the slot off (and so unplugs the device).
 */
static uint64_t kdev_open_slot(Kdev *k, uint32_t *off)
{
    QPCIDevice *mch, *rp;
    uint8_t exp;

    memset(k, 0, sizeof(*k));
    k->qts = qtest_initf("-machine q35 -nodefaults%s -m 256M "
                         "-global ICH9-LPC.acpi-pci-hotplug-with-bridge-"
                         "support=off -device pcie-root-port,id=rp,"
                         "bus=pcie.0,chassis=1,addr=02.0 "
                         "-device kesync-pci,id=ks,bus=rp,addr=00.0",
                         firmware);
    pc_alloc_init(&k->alloc, k->qts, ALLOC_NO_FLAGS);
    k->bus = qpci_new_pc(k->qts, &k->alloc);

    mch = qpci_device_find(k->bus, QPCI_DEVFN(0, 0));
    g_assert(mch);
    qpci_config_writel(mch, Q35_PCIEXBAR + 4, 0);
    qpci_config_writel(mch, Q35_PCIEXBAR, Q35_MMCFG | 1); /* 256 MiB, on */
    g_free(mch);

    rp = qpci_device_find(k->bus, RP_DEVFN);
    g_assert(rp);
    qpci_config_writeb(rp, PCI_PRIMARY_BUS, 0);
    qpci_config_writeb(rp, PCI_SECONDARY_BUS, RP_BUS);
    qpci_config_writeb(rp, PCI_SUBORDINATE_BUS, RP_BUS);
    /* 0xe0000000-0xefffffff, where the pc helpers put memory BARs. */
    qpci_config_writew(rp, PCI_MEMORY_BASE, 0xe000);
    qpci_config_writew(rp, PCI_MEMORY_LIMIT, 0xeff0);
    qpci_config_writew(rp, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    exp = qpci_find_capability(rp, PCI_CAP_ID_EXP, 0);
    g_assert_cmpuint(exp, !=, 0);
    g_assert(qpci_config_readw(rp, exp + PCI_EXP_SLTSTA) &
             PCI_EXP_SLTSTA_PDS);
    *off = qpci_config_readw(rp, exp + PCI_EXP_SLTCTL) |
           PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PWR_IND_OFF;
    g_free(rp);

    kdev_probe(k, RP_KS_DEVFN);
    return Q35_MMCFG | RP_DEVFN << 12 | (exp + PCI_EXP_SLTCTL);
}

#define BR_DEVFN        QPCI_DEVFN(5, 0)
#define BR_BUS          1
#define BR_KS_DEVFN     (BR_BUS << 8 | QPCI_DEVFN(1, 0))
#define SHPC_CMD        0x14            /* command code, then target */

/*
 * pc, kesync-pci in slot 1 of a pci-bridge whose SHPC drives hotplug.
 * Returns the address of the SHPC command register, *off the command that
 * disables slot 1 with its power LED off (and so unplugs the device).
 * Config cycles come through the host bridge, MMCFG too, so a message sent
 * from inside a config write can unplug a device only this way.
 */
static uint64_t kdev_open_shpc(Kdev *k, uint32_t *off)
{
    QPCIDevice *br;
    QPCIBar shpc;

    memset(k, 0, sizeof(*k));
    k->qts = qtest_initf("%s -m 256M -global PIIX4_PM.acpi-pci-hotplug-with-"
                         "bridge-support=off -device pci-bridge,id=br,"
                         "chassis_nr=1,shpc=on,addr=05.0 "
                         "-device kesync-pci,id=ks,bus=br,addr=01.0",
                         machine);
    pc_alloc_init(&k->alloc, k->qts, ALLOC_NO_FLAGS);
    k->bus = qpci_new_pc(k->qts, &k->alloc);

    br = qpci_device_find(k->bus, BR_DEVFN);
    g_assert(br);
    qpci_device_enable(br);
    shpc = qpci_iomap(br, 0, NULL);
    qpci_config_writeb(br, PCI_PRIMARY_BUS, 0);
    qpci_config_writeb(br, PCI_SECONDARY_BUS, BR_BUS);
    qpci_config_writeb(br, PCI_SUBORDINATE_BUS, BR_BUS);
    /* The window, 0xe1000000-0xe1ffffff, is above the SHPC BAR. */
    qpci_config_writew(br, PCI_MEMORY_BASE, 0xe100);
    qpci_config_writew(br, PCI_MEMORY_LIMIT, 0xe1f0);
    g_assert_cmphex(shpc.addr, <, 0xe1000000);
    k->bus->mmio_alloc_ptr = 0xe1000000;
    g_free(br);

    *off = (3 << 0 | 3 << 2) | 1 << 8;  /* disabled, LED off; target 1 */
    kdev_probe(k, BR_KS_DEVFN);
    return shpc.addr + SHPC_CMD;
}

typedef enum UnplugHow {
    UNPLUG_DATA,        /* a transfer's data DMA writes Slot Control */
    UNPLUG_COMPLETION,  /* the MSI-X message of a completion does */
    UNPLUG_RAISE,       /* that of an INTR_RAISE write (MMIO handler) */
    UNPLUG_UNMASK,      /* that of clearing the function mask (config), */
                        /* to the SHPC of a pci-bridge */
} UnplugHow;

/*
 * The device's own DMA powers its slot off, which unplugs it there and
 * then.  MMCFG belongs to the host bridge, so no reentrancy guard stops
 * it.  The device must stop touching itself as soon as it is unrealized:
 * QEMU lives on, and the device is finalized (DEVICE_DELETED) afterwards.
 */
static void unplug_by_dma(UnplugHow how)
{
    Kdev k;
    uint64_t target, buf;
    uint32_t off;
    uint8_t cap;
    QDict *ev;

    if (how == UNPLUG_UNMASK) {
        target = kdev_open_shpc(&k, &off);
    } else {
        target = kdev_open_slot(&k, &off);
    }
    buf = guest_alloc(&k.alloc, 4096);
    if (how != UNPLUG_DATA) {
        msix_setup(&k);
        msix_vector(&k, how == UNPLUG_COMPLETION ? 0 : k.units, target, off);
        wr(&k, KESYNC_REG_INTR_ENABLE, 0x3 | KESYNC_INTR_CTRL_MASK);
    }
    switch (how) {
    case UNPLUG_DATA:
        /*
         * The medium gets the value, a read transfer writes it there; a
         * completion record would follow.
         */
        kdev_cmpl(&k);
        qtest_writew(k.qts, buf, off);
        g_assert_cmphex(run1(&k, 0, KESYNC_DESC_DIR_TO_DEV, 0, buf, 2, 1),
                        ==, KESYNC_STATE_DONE);
        run1(&k, 0, 0, 0, target, 2, 2);
        break;
    case UNPLUG_COMPLETION:
        run1(&k, 0, 0, 0, buf, 64, 3);
        break;
    case UNPLUG_RAISE:
        wr(&k, KESYNC_REG_INTR_RAISE, 1);
        break;
    case UNPLUG_UNMASK:
        cap = qpci_find_capability(k.dev, PCI_CAP_ID_MSIX, 0);
        qpci_config_writew(k.dev, cap + PCI_MSIX_FLAGS,
                           PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        wr(&k, KESYNC_REG_INTR_RAISE, 1);
        g_assert(qpci_msix_pending(k.dev, k.units));
        qpci_config_writew(k.dev, cap + PCI_MSIX_FLAGS,
                           PCI_MSIX_FLAGS_ENABLE);
        break;
    }

    ev = qtest_qmp_eventwait_ref(k.qts, "DEVICE_DELETED");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(ev, "data"), "device"),
                    ==, "ks");
    qobject_unref(ev);
    /* Gone from its slot; time passes and QEMU carries on. */
    g_assert_cmphex(qpci_config_readw(k.dev, PCI_VENDOR_ID), ==, 0xffff);
    step(&k, 1000 * due(&k, 4096));
    qtest_qmp_assert_success(k.qts, "{'execute': 'query-status'}");
    kdev_close(&k);
}

static void test_unplug_data(void) { unplug_by_dma(UNPLUG_DATA); }
static void test_unplug_completion(void) { unplug_by_dma(UNPLUG_COMPLETION); }
static void test_unplug_raise(void) { unplug_by_dma(UNPLUG_RAISE); }
static void test_unplug_unmask(void) { unplug_by_dma(UNPLUG_UNMASK); }

/* ---- Power management, FLR and AER ------------------------------------- */

#define KS_MMCFG(off)   (Q35_MMCFG | RP_BUS << 20 | (off))
#define KS_AER          0x100           /* the AER capability's offset */

/*
 * Program what a driver programs at probe (records, DESC of unit 0,
 * INTR_ENABLE), start a 4 KiB write of a pattern to unit 0 and let half of
 * its time pass.  Returns the guest buffer.
 */
static uint64_t pm_start_xfer(Kdev *k, uint8_t *pat)
{
    uint64_t buf = guest_alloc(&k->alloc, 4096);
    unsigned i;
    Desc d;

    kdev_cmpl(k);
    for (i = 0; i < 4096; i++) {
        pat[i] = i ^ 0x5a;
    }
    qtest_bufwrite(k->qts, buf, pat, 4096);
    wr(k, KESYNC_REG_INTR_ENABLE, 0x1 | KESYNC_INTR_CTRL_MASK);
    wr(k, KESYNC_REG_SCRATCH, 0x1234);
    desc_init(&d, KESYNC_DESC_DIR_TO_DEV, 0, 77);
    desc_add(&d, buf, 4096);
    start_at(k, 0, desc_put(k, &d));
    step(k, due(k, 4096) / 2);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_BUSY);
    return buf;
}

/*
 * After a function reset (FLR, D3hot to D0): every register at its reset
 * value, the transfer gone without its DMA, record or interrupt.
 */
static void pm_check_reset(Kdev *k, int devfn)
{
    uint32_t rec[4];
    uint8_t got[4096], zero[4096] = { 0 };

    g_assert_cmphex(qpci_config_readw(k->dev, PCI_COMMAND) &
                    (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), ==, 0);
    g_free(k->dev);
    kdev_map_at(k, devfn);
    g_assert_cmphex(rd(k, KESYNC_REG_MAGIC), ==, KESYNC_MAGIC);
    g_assert_cmphex(rd(k, KESYNC_REG_SCRATCH), ==, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_INTR_ENABLE), ==, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_CMPL_ADDR_LO), ==, 0);
    g_assert_cmphex(rd(k, KESYNC_REG_STATUS), ==, 0);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_DESC_LO), ==, 0);
    g_assert_cmphex(urd(k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_IDLE);
    g_assert_cmpuint(urd(k, 0, KESYNC_UNIT_SEQ), ==, 0);
    step(k, 10 * due(k, 4096));
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_LATE_DMA), ==, 0);
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_XFERS), ==, 0);
    cmpl_read(k, 0, rec);
    g_assert_cmpuint(rec[3], ==, 0);
    /* The medium survives; the transfer never wrote it. */
    k->cmpl = 0;
    medium_read(k, 0, 0, got, sizeof(got));
    g_assert(!memcmp(got, zero, sizeof(got)));
}

/* Conventional bus: the PM capability, no PCI Express capability. */
static void test_pm_caps(void)
{
    Kdev k;
    uint8_t pm;

    kdev_open(&k, "%s", "");
    g_assert_cmpuint(qpci_find_capability(k.dev, PCI_CAP_ID_EXP, 0), ==, 0);
    pm = qpci_find_capability(k.dev, PCI_CAP_ID_PM, 0);
    g_assert_cmpuint(pm, !=, 0);
    g_assert_cmphex(qpci_config_readw(k.dev, pm + PCI_PM_PMC), ==, 3);
    g_assert_cmphex(qpci_config_readw(k.dev, pm + PCI_PM_CTRL), ==, 0);
    kdev_close(&k);
}

/*
 * D0 -> D3hot stops the transfer and the BARs; D1/D2 are refused; D3hot ->
 * D0 resets the function, configuration space included [pm/d3hot].
 */
static void test_pm_d3hot(void)
{
    Kdev k;
    uint8_t pat[4096];
    uint8_t pm;

    kdev_open(&k, "%s", "");
    pm = qpci_find_capability(k.dev, PCI_CAP_ID_PM, 0);
    pm_start_xfer(&k, pat);
    qpci_config_writew(k.dev, pm + PCI_PM_CTRL, 3);
    g_assert_cmphex(qpci_config_readw(k.dev, pm + PCI_PM_CTRL) & 3, ==, 3);
    g_assert_cmphex(rd(&k, KESYNC_REG_MAGIC), ==, 0xffffffff);
    wr(&k, KESYNC_REG_SCRATCH, 7);
    wr(&k, KESYNC_REG_INTR_RAISE, 1);
    step(&k, 10 * due(&k, 4096));
    g_assert_cmphex(rd(&k, KESYNC_REG_SCRATCH), ==, 0xffffffff);
    /* D1 is not supported: the state stays D3hot. */
    qpci_config_writew(k.dev, pm + PCI_PM_CTRL, 1);
    g_assert_cmphex(qpci_config_readw(k.dev, pm + PCI_PM_CTRL) & 3, ==, 3);
    qpci_config_writew(k.dev, pm + PCI_PM_CTRL, 0);
    g_assert_cmphex(qpci_config_readw(k.dev, pm + PCI_PM_CTRL) & 3, ==, 0);
    pm_check_reset(&k, KS_DEVFN);
    kdev_close(&k);
}

/*
 * On a PCIe port: the PCI Express endpoint capability with FLR, AER, PM.
 * An FLR is a function reset like D3hot -> D0 [pcie/flr].
 */
static void test_pcie_flr(void)
{
    Kdev k;
    uint32_t off;
    uint8_t exp, pat[4096];

    kdev_open_slot(&k, &off);
    exp = qpci_find_capability(k.dev, PCI_CAP_ID_EXP, 0);
    g_assert_cmpuint(exp, !=, 0);
    g_assert_cmpuint(qpci_find_capability(k.dev, PCI_CAP_ID_PM, 0), !=, 0);
    g_assert(qpci_config_readl(k.dev, exp + PCI_EXP_DEVCAP) &
             PCI_EXP_DEVCAP_FLR);
    g_assert_cmphex(qtest_readl(k.qts, KS_MMCFG(KS_AER)) & 0xffff, ==,
                    PCI_EXT_CAP_ID_ERR);
    pm_start_xfer(&k, pat);
    qpci_config_writew(k.dev, exp + PCI_EXP_DEVCTL,
                       qpci_config_readw(k.dev, exp + PCI_EXP_DEVCTL) |
                       PCI_EXP_DEVCTL_BCR_FLR);
    g_assert_cmphex(qpci_config_readw(k.dev, exp + PCI_EXP_DEVCTL) &
                    PCI_EXP_DEVCTL_BCR_FLR, ==, 0);
    pm_check_reset(&k, RP_KS_DEVFN);
    kdev_close(&k);
}

static void aer_inject(Kdev *k, const char *how)
{
    g_autofree char *out = qtest_hmp(k->qts, "pcie_aer_inject_error %s", how);

    g_assert(g_str_has_prefix(out, "OK id: ks "));
}

/*
 * pcie_aer_inject_error logs correctable, non-fatal and fatal errors in
 * the function's AER registers; none of them changes the device's state
 * (recovery is the guest's: a fatal error's secondary bus reset is a
 * power-on reset, 10.3) [pcie/aer].
 */
static void test_pcie_aer(void)
{
    Kdev k;
    uint32_t off;
    uint8_t exp, pat[4096];
    uint8_t rpdev_exp;
    QPCIDevice *rp;

    kdev_open_slot(&k, &off);
    exp = qpci_find_capability(k.dev, PCI_CAP_ID_EXP, 0);
    qpci_config_writew(k.dev, PCI_COMMAND,
                       qpci_config_readw(k.dev, PCI_COMMAND) |
                       PCI_COMMAND_SERR);
    qpci_config_writew(k.dev, exp + PCI_EXP_DEVCTL,
                       PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE |
                       PCI_EXP_DEVCTL_FERE | PCI_EXP_DEVCTL_URRE);
    pm_start_xfer(&k, pat);

    aer_inject(&k, "-c ks RCVR");
    g_assert_cmphex(qtest_readl(k.qts, KS_MMCFG(KS_AER + PCI_ERR_COR_STATUS)),
                    ==, PCI_ERR_COR_RCVR);
    g_assert(qpci_config_readw(k.dev, exp + PCI_EXP_DEVSTA) &
             PCI_EXP_DEVSTA_CED);
    aer_inject(&k, "ks COMP_TIME");
    g_assert_cmphex(qtest_readl(k.qts,
                                KS_MMCFG(KS_AER + PCI_ERR_UNCOR_STATUS)),
                    ==, PCI_ERR_UNC_COMP_TIME);
    g_assert(qpci_config_readw(k.dev, exp + PCI_EXP_DEVSTA) &
             PCI_EXP_DEVSTA_NFED);
    /* W1C clears the log. */
    qtest_writel(k.qts, KS_MMCFG(KS_AER + PCI_ERR_UNCOR_STATUS),
                 PCI_ERR_UNC_COMP_TIME);
    aer_inject(&k, "ks MALF_TLP");
    g_assert_cmphex(qtest_readl(k.qts,
                                KS_MMCFG(KS_AER + PCI_ERR_UNCOR_STATUS)),
                    ==, PCI_ERR_UNC_MALF_TLP);
    g_assert(qpci_config_readw(k.dev, exp + PCI_EXP_DEVSTA) &
             PCI_EXP_DEVSTA_FED);

    /* None of them touched the device: the transfer completes. */
    g_assert_cmphex(rd(&k, KESYNC_REG_SCRATCH), ==, 0x1234);
    step(&k, due(&k, 4096));
    g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);

    /* The root port's secondary bus reset resets the function. */
    rp = qpci_device_find(k.bus, RP_DEVFN);
    g_assert(rp);
    rpdev_exp = qpci_config_readb(rp, PCI_BRIDGE_CONTROL);
    qpci_config_writeb(rp, PCI_BRIDGE_CONTROL,
                       rpdev_exp | PCI_BRIDGE_CTL_BUS_RESET);
    qpci_config_writeb(rp, PCI_BRIDGE_CONTROL, rpdev_exp);
    g_free(rp);
    g_free(k.dev);
    kdev_map_at(&k, RP_KS_DEVFN);
    g_assert_cmphex(rd(&k, KESYNC_REG_SCRATCH), ==, 0);
    g_assert_cmphex(urd(&k, 0, KESYNC_UNIT_DESC_LO), ==, 0);
    kdev_close(&k);
}

/* ---- Migration ----------------------------------------------------------- */

static void wait_migration(QTestState *qts)
{
    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{'execute': 'query-migrate'}");
        QDict *ret = qdict_get_qdict(rsp, "return");
        const char *st = qdict_haskey(ret, "status") ?
                         qdict_get_str(ret, "status") : "none";
        bool done = !strcmp(st, "completed");

        g_assert(strcmp(st, "failed") != 0);
        qobject_unref(rsp);
        if (done) {
            return;
        }
        g_usleep(2000);
    }
}

static void test_migrate(void)
{
    g_autofree char *path = NULL;
    g_autofree char *uri = NULL;
    FaultEnv f;
    Kdev *k = &f.k;
    Kdev dst;
    uint64_t rbuf, a, clock;
    uint8_t got[4096];
    uint32_t rec[4];
    int fd;
    Desc d;

    fd = g_file_open_tmp("kesync-mig-XXXXXX", &path, NULL);
    g_assert(fd >= 0);
    close(fd);

    fenv_open(&f, false);
    /* Data on the medium, then a read of it in flight, fault armed. */
    fenv_start(&f, 1, 1);
    step(k, due(k, 4096));
    g_assert_cmpuint(urd(k, 1, KESYNC_UNIT_SEQ), ==, 1);
    uwr(k, 0, KESYNC_UNIT_FAULT_KIND, KESYNC_FAULT_SHORT);
    uwr(k, 0, KESYNC_UNIT_FAULT_ARG, 1000);
    uwr(k, 0, KESYNC_UNIT_FAULT_COUNT, 1);
    rbuf = guest_alloc(&k->alloc, 4096);
    qtest_memset(k->qts, rbuf, 0, 4096);
    desc_init(&d, 0, 0, 0x600d);
    desc_add(&d, rbuf + 2048, 2048);
    desc_add(&d, rbuf, 2048);
    a = desc_put(k, &d);
    start_at(k, 1, a);
    clock = qtest_clock_step(k->qts, 1000);
    /* Change the descriptor in memory: the device has its own copy. */
    qtest_memset(k->qts, a, 0xff, 64);

    uri = g_strdup_printf("exec:cat > %s", path);
    qtest_qmp_assert_success(k->qts, "{'execute': 'migrate', 'arguments':"
                             " {'uri': %s}}", uri);
    wait_migration(k->qts);

    memset(&dst, 0, sizeof(dst));
    dst.qts = qtest_initf("%s -m 256M -device kesync-pci,id=ks,addr=04.0 "
                          "-incoming 'exec:cat %s'", machine, path);
    qtest_qmp_eventwait(dst.qts, "RESUME");
    pc_alloc_init(&dst.alloc, dst.qts, ALLOC_NO_FLAGS);
    dst.bus = qpci_new_pc(dst.qts, &dst.alloc);
    dst.dev = qpci_device_find(dst.bus, KS_DEVFN);
    dst.bar.addr = qpci_config_readl(dst.dev, PCI_BASE_ADDRESS_0) & ~0xfu;
    dst.bar.is_io = false;
    dst.lat = k->lat;
    dst.nspb = k->nspb;
    dst.cmpl = k->cmpl;
    qtest_irq_intercept_in(dst.qts, "ioapic");
    qtest_clock_set(dst.qts, clock);

    g_assert_cmphex(rd(&dst, KESYNC_REG_MAGIC), ==, KESYNC_MAGIC);
    g_assert_cmphex(urd(&dst, 1, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_BUSY);
    g_assert_cmphex(rd(&dst, KESYNC_REG_STATUS), ==,
                    KESYNC_STATUS_BUSY | (1 << KESYNC_STATUS_UNIT_SHIFT));
    g_assert_cmpuint(urd(&dst, 0, KESYNC_UNIT_FAULT_COUNT), ==, 1);
    g_assert(!intx(&dst));
    step(&dst, due(&dst, 4096) - 1000 - 1);
    g_assert_cmphex(urd(&dst, 1, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_BUSY);
    step(&dst, 1);
    g_assert_cmphex(urd(&dst, 1, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);
    g_assert_cmpuint(urd(&dst, 1, KESYNC_UNIT_BYTES), ==, 4096);
    g_assert_cmphex(urd(&dst, 1, KESYNC_UNIT_TAG), ==, 0x600d);
    cmpl_read(&dst, 1, rec);
    g_assert_cmphex(rec[0], ==, 0x600d);
    g_assert_cmpuint(rec[3], ==, 2);
    g_assert(intx(&dst));
    qtest_bufread(dst.qts, rbuf + 2048, got, 2048);
    g_assert(memcmp(got, f.pat, 2048) == 0);
    qtest_bufread(dst.qts, rbuf, got, 2048);
    g_assert(memcmp(got, f.pat + 2048, 2048) == 0);
    g_assert_cmpuint(rd(&dst, KESYNC_REG_STAT_LATE_DMA), ==, 0);

    g_free(dst.dev);
    qpci_free_pc(dst.bus);
    alloc_destroy(&dst.alloc);
    qtest_quit(dst.qts);
    kdev_close(k);
    unlink(path);
}

/*
 * Crafted migration streams.  The test saves a real stream with a transfer
 * in flight, then patches fields of the device's section and loads each
 * patched stream into a new QEMU.
 *
 * Where the fields are: the section is found by its idstr, then xfer.tag
 * by its value (the descriptor's tag, unique in the section).  The other
 * fields are at fixed distances from it, given by vmstate_kesync (all
 * big-endian, booleans one byte, nested structs inline), mirrored here:
 *   scratch intr_status intr_enable cmpl_lo cmpl_hi dev_fault
 *   reset_delay_us (u32), resetting intx_level (bool), 8 stats (u32),
 *   next_gen live_gen timer_gen (u64), removed (bool), then xfer:
 *   unit phase (u32) desc_addr gen (u64) flags nsegs (u32) offset (u64)
 *   len tag (u32) seg_addr[] (u64) seg_len[] (u32) fault fault_arg (u32)
 *   misdirect (bool) due_ns (i64) timer_event (u32), then unit[]: 13 u32,
 *   stat_bytes (u64), 2 bools, 4 u32 each; then the expiry of xfer_timer
 *   and of reset_timer (i64, -1: not armed).
 * Before patching, the test checks that every field it patches or can
 * predict holds what the source had, so a change of vmstate_kesync fails
 * the test loudly instead of patching the wrong bytes.
 */
#define MS_SEGS         KESYNC_MAX_SEGS_LIMIT
enum {
    /* Offsets from xfer.unit, the start of the xfer struct. */
    MS_SCRATCH = -87,
    MS_RESET_DELAY = -63,
    MS_RESETTING = -59,
    MS_NEXT_GEN = -25,
    MS_LIVE_GEN = -17,
    MS_TIMER_GEN = -9,
    MS_REMOVED = -1,
    MS_UNIT = 0,
    MS_PHASE = 4,
    MS_DESC = 8,
    MS_GEN = 16,
    MS_FLAGS = 24,
    MS_NSEGS = 28,
    MS_OFFSET = 32,
    MS_LEN = 40,
    MS_TAG = 44,
    MS_SEG_ADDR = 48,
    MS_SEG_LEN = MS_SEG_ADDR + 8 * MS_SEGS,
    MS_FAULT = MS_SEG_LEN + 4 * MS_SEGS,
    MS_FAULT_ARG = MS_FAULT + 4,
    MS_MISDIRECT = MS_FAULT + 8,
    MS_DUE = MS_FAULT + 9,
    MS_TEV = MS_FAULT + 17,
    MS_UNITS = MS_FAULT + 21,
    MS_UNIT_SIZE = 78,
    MS_XFER_TIMER = MS_UNITS + KESYNC_MAX_UNITS * MS_UNIT_SIZE,
    MS_RESET_TIMER = MS_XFER_TIMER + 8,
    /* Within unit[u]. */
    MS_U_DESC_LO = 0,
    MS_U_FAULT_KIND = 28,
    MS_U_FAULT_ARG = 36,
    MS_U_ARMED_KIND = 40,
    MS_U_ARMED_ARG = 44,
};
#define MS_U(u, f)      (MS_UNITS + (u) * MS_UNIT_SIZE + (f))

#define MS_MARK_TAG     0x7a6b5c4du
#define MS_MARK_SCRATCH 0x5c4a7c11u
#define MS_MARK_DELAY   0x5eed1e55u
#define MS_SHORT_ARG    0x100000u   /* 1 MiB, into a 4 KiB medium */
#define MS_PROPS        ",unit-size=4096 -m 64M"

typedef struct MsPatch {
    int off;
    int size;           /* 1, 4 or 8; 0 ends the list */
    uint64_t val;
} MsPatch;

typedef struct MsCase {
    const char *name;
    bool loads;
    MsPatch p[4];
} MsCase;

static uint64_t ms_get(const uint8_t *x, int off, int size)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < size; i++) {
        v = v << 8 | x[off + i];
    }
    return v;
}

static void ms_put(uint8_t *x, int off, int size, uint64_t val)
{
    int i;

    for (i = size - 1; i >= 0; i--, val >>= 8) {
        x[off + i] = val;
    }
}

/* The start of the xfer struct in the device's section of @st. */
static size_t ms_find_xfer(const uint8_t *st, size_t len)
{
    static const char idstr[] = "\x17" "0000:00:04.0/kesync-pci";
    const uint8_t *sec = NULL, *p, *end;
    uint8_t tag[4];
    size_t at = 0;

    /* The section header: idstr, instance 0, version 1. */
    for (p = st; p + sizeof(idstr) + 8 <= st + len; p++) {
        if (!memcmp(p, idstr, sizeof(idstr) - 1) &&
            ms_get(p, sizeof(idstr) - 1, 8) == 1) {
            g_assert(!sec);
            sec = p + sizeof(idstr) - 1 + 8;
        }
    }
    g_assert(sec);
    ms_put(tag, 0, 4, MS_MARK_TAG);
    end = MIN(sec + 16384, st + len);
    for (p = sec; p + 4 <= end; p++) {
        if (!memcmp(p, tag, 4)) {
            g_assert_cmpuint(at, ==, 0);
            at = p - st;
        }
    }
    g_assert_cmpuint(at, >, MS_TAG - MS_SCRATCH);
    g_assert_cmpuint(at - MS_TAG + MS_RESET_TIMER + 8, <=, len);
    return at - MS_TAG;
}

/*
 * Load @st into a new QEMU.  A load that fails must end QEMU with exit
 * status 1 (not a crash); then NULL is returned, else the running QEMU.
 */
static QTestState *ms_load(const char *path, const uint8_t *st, size_t len)
{
    g_autofree char *uri = g_strdup_printf("exec:cat %s", path);
    QTestState *qts;
    QDict *ev;
    const char *status;
    bool done = false, ok = false;

    g_assert(g_file_set_contents(path, (const char *)st, len, NULL));
    qts = qtest_initf("%s -device kesync-pci,id=ks,addr=04.0%s "
                      "-incoming defer", machine, MS_PROPS);
    qtest_qmp_assert_success(qts, "{'execute': 'migrate-set-capabilities',"
                             " 'arguments': {'capabilities': [{"
                             "'capability': 'events', 'state': true}]}}");
    qtest_qmp_assert_success(qts, "{'execute': 'migrate-incoming',"
                             " 'arguments': {'uri': %s}}", uri);
    while (!done) {
        ev = qtest_qmp_eventwait_ref(qts, "MIGRATION");
        status = qdict_get_str(qdict_get_qdict(ev, "data"), "status");
        ok = !strcmp(status, "completed");
        done = ok || !strcmp(status, "failed");
        qobject_unref(ev);
    }
    if (ok) {
        return qts;
    }
    while (qtest_probe_child(qts)) {
        g_usleep(1000);
    }
    qtest_set_expected_status(qts, EXIT_FAILURE);
    qtest_quit(qts);
    return NULL;
}

static void test_migrate_bad_stream(void)
{
    static const MsCase cases[] = {
        /* RUN, the phase saved: the transfer's timer is armed. */
        { "run: len 0 with SHORT armed", false, {
            { MS_LEN, 4, 0 }, { MS_SEG_LEN + 4, 4, MS_SHORT_ARG } } },
        { "run: len not the sum", false, { { MS_LEN, 4, 4095 } } },
        { "run: len past the medium", false, {
            { MS_LEN, 4, 8192 }, { MS_SEG_LEN + 4, 4, 8192 - 1000 } } },
        { "run: len past max-transfer", false, {
            { MS_LEN, 4, 65537 }, { MS_SEG_LEN + 4, 4, 65537 - 1000 } } },
        { "run: nsegs 0", false, { { MS_NSEGS, 4, 0 } } },
        { "run: nsegs past max-segments", false, { { MS_NSEGS, 4, 17 } } },
        { "run: nsegs 2^32-1", false, { { MS_NSEGS, 4, UINT32_MAX } } },
        { "run: a segment of 0 bytes", false, { { MS_NSEGS, 4, 3 } } },
        { "run: first segment 0 bytes", false, {
            { MS_SEG_LEN, 4, 0 }, { MS_SEG_LEN + 4, 4, 4096 } } },
        { "run: sum right only modulo 2^32", false, {
            { MS_SEG_LEN, 4, 0x80000000u },
            { MS_SEG_LEN + 4, 4, 0x80001000u } } },
        { "run: segment wraps", false, {
            { MS_SEG_ADDR + 8, 8, UINT64_MAX - 100 } } },
        { "run: offset past the medium", false, { { MS_OFFSET, 8, 1 } } },
        { "run: offset 2^64-1", false, { { MS_OFFSET, 8, UINT64_MAX } } },
        { "run: reserved flags", false, { { MS_FLAGS, 4, 0x80000001u } } },
        { "run: fault kind beyond the last", false, {
            { MS_FAULT, 4, KESYNC_FAULT_KIND_MAX + 1 } } },
        { "run: REFUSE taken by a transfer", false, {
            { MS_FAULT, 4, KESYNC_FAULT_REFUSE } } },
        { "run: timer event 3", false, { { MS_TEV, 4, 3 } } },
        { "run: unit 2 of 2", false, { { MS_UNIT, 4, 2 } } },
        { "run: no live generation", false, { { MS_LIVE_GEN, 8, 0 } } },
        { "run: timer of another generation", false, {
            { MS_TIMER_GEN, 8, 0 } } },
        { "run: during a controller reset", false, {
            { MS_RESETTING, 1, 1 } } },
        /* SPURIOUS's half-way event re-arms the timer when it fires. */
        { "run: half-way event, timer not armed", false, {
            { MS_TEV, 4, 1 }, { MS_XFER_TIMER, 8, UINT64_MAX } } },
        { "phase 4", false, { { MS_PHASE, 4, 4 } } },
        /* FETCH: not fetched yet, no timer. */
        { "fetch: timer armed", false, { { MS_PHASE, 4, 1 } } },
        { "fetch: timer armed, empty descriptor", false, {
            { MS_PHASE, 4, 1 }, { MS_NSEGS, 4, 0 }, { MS_LEN, 4, 0 } } },
        { "fetch: descriptor not empty", false, {
            { MS_PHASE, 4, 1 }, { MS_XFER_TIMER, 8, UINT64_MAX } } },
        /* HANG: a valid descriptor, no timer. */
        { "hang: timer armed", false, { { MS_PHASE, 4, 3 } } },
        { "hang: len 0", false, {
            { MS_PHASE, 4, 3 }, { MS_XFER_TIMER, 8, UINT64_MAX },
            { MS_LEN, 4, 0 } } },
        { "hang: offset past the medium", false, {
            { MS_PHASE, 4, 3 }, { MS_XFER_TIMER, 8, UINT64_MAX },
            { MS_OFFSET, 8, 4096 } } },
        /* IDLE: no live generation, no timer. */
        { "idle: live generation", false, {
            { MS_PHASE, 4, 0 }, { MS_XFER_TIMER, 8, UINT64_MAX } } },
        { "idle: timer armed", false, {
            { MS_PHASE, 4, 0 }, { MS_LIVE_GEN, 8, 0 } } },
        /* Elsewhere. */
        { "unit 1: armed kind beyond the last", false, {
            { MS_U(1, MS_U_ARMED_KIND), 4, KESYNC_FAULT_KIND_MAX + 1 } } },
        { "unit 0: fault kind 2^32-1", false, {
            { MS_U(0, MS_U_FAULT_KIND), 4, UINT32_MAX } } },
        { "reset timer armed, no reset", false, {
            { MS_RESET_TIMER, 8, 1000000 } } },
        /* Controls: valid states load. */
        { "unchanged", true, { } },
        { "hang", true, {
            { MS_PHASE, 4, 3 }, { MS_XFER_TIMER, 8, UINT64_MAX } } },
        { "fetch, not fetched yet", true, {
            { MS_PHASE, 4, 1 }, { MS_XFER_TIMER, 8, UINT64_MAX },
            { MS_NSEGS, 4, 0 }, { MS_LEN, 4, 0 } } },
    };
    g_autofree char *path = NULL;
    g_autofree char *uri = NULL;
    g_autofree uint8_t *st = NULL, *pst = NULL;
    uint8_t pat[4096];
    uint64_t buf, a, due_ns;
    size_t len, xo;
    const uint8_t *x;
    unsigned i, j;
    QTestState *dst;
    Kdev k, d;
    Desc desc;
    int fd;

    fd = g_file_open_tmp("kesync-mig-XXXXXX", &path, NULL);
    g_assert(fd >= 0);
    close(fd);

    /* Unit 1 writes 4 KiB to its medium, SHORT armed; saved mid-way. */
    kdev_open(&k, "%s", MS_PROPS);
    wr(&k, KESYNC_REG_SCRATCH, MS_MARK_SCRATCH);
    wr(&k, KESYNC_REG_RESET_DELAY_US, MS_MARK_DELAY);
    buf = guest_alloc(&k.alloc, sizeof(pat));
    for (i = 0; i < sizeof(pat); i++) {
        pat[i] = i * 7 + 3;
    }
    qtest_bufwrite(k.qts, buf, pat, sizeof(pat));
    uwr(&k, 1, KESYNC_UNIT_FAULT_KIND, KESYNC_FAULT_SHORT);
    uwr(&k, 1, KESYNC_UNIT_FAULT_ARG, MS_SHORT_ARG);
    uwr(&k, 1, KESYNC_UNIT_FAULT_COUNT, 1);
    desc_init(&desc, KESYNC_DESC_DIR_TO_DEV, 0, MS_MARK_TAG);
    desc_add(&desc, buf, 1000);
    desc_add(&desc, buf + 1000, 3096);
    a = desc_put(&k, &desc);
    start_at(&k, 1, a);
    due_ns = qtest_clock_step(k.qts, 1000) - 1000 + due(&k, 4096);
    g_assert_cmphex(urd(&k, 1, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_BUSY);
    uri = g_strdup_printf("exec:cat > %s", path);
    qtest_qmp_assert_success(k.qts, "{'execute': 'migrate', 'arguments':"
                             " {'uri': %s}}", uri);
    wait_migration(k.qts);
    g_assert(g_file_get_contents(path, (char **)&st, &len, NULL));

    /* The fields are where vmstate_kesync puts them. */
    xo = ms_find_xfer(st, len);
    x = st + xo;
    g_assert_cmphex(ms_get(x, MS_SCRATCH, 4), ==, MS_MARK_SCRATCH);
    g_assert_cmphex(ms_get(x, MS_RESET_DELAY, 4), ==, MS_MARK_DELAY);
    g_assert_cmphex(ms_get(x, MS_RESETTING, 1), ==, 0);
    g_assert_cmphex(ms_get(x, MS_REMOVED, 1), ==, 0);
    g_assert_cmpuint(ms_get(x, MS_GEN, 8), !=, 0);
    g_assert_cmpuint(ms_get(x, MS_NEXT_GEN, 8), ==, ms_get(x, MS_GEN, 8));
    g_assert_cmpuint(ms_get(x, MS_LIVE_GEN, 8), ==, ms_get(x, MS_GEN, 8));
    g_assert_cmpuint(ms_get(x, MS_TIMER_GEN, 8), ==, ms_get(x, MS_GEN, 8));
    g_assert_cmpuint(ms_get(x, MS_UNIT, 4), ==, 1);
    g_assert_cmpuint(ms_get(x, MS_PHASE, 4), ==, 2);    /* RUN */
    g_assert_cmphex(ms_get(x, MS_DESC, 8), ==, a);
    g_assert_cmphex(ms_get(x, MS_FLAGS, 4), ==, KESYNC_DESC_DIR_TO_DEV);
    g_assert_cmpuint(ms_get(x, MS_NSEGS, 4), ==, 2);
    g_assert_cmpuint(ms_get(x, MS_OFFSET, 8), ==, 0);
    g_assert_cmpuint(ms_get(x, MS_LEN, 4), ==, 4096);
    g_assert_cmphex(ms_get(x, MS_SEG_ADDR, 8), ==, buf);
    g_assert_cmphex(ms_get(x, MS_SEG_ADDR + 8, 8), ==, buf + 1000);
    g_assert_cmpuint(ms_get(x, MS_SEG_ADDR + 16, 8), ==, 0);
    g_assert_cmpuint(ms_get(x, MS_SEG_LEN, 4), ==, 1000);
    g_assert_cmpuint(ms_get(x, MS_SEG_LEN + 4, 4), ==, 3096);
    g_assert_cmpuint(ms_get(x, MS_SEG_LEN + 8, 4), ==, 0);
    g_assert_cmpuint(ms_get(x, MS_FAULT, 4), ==, KESYNC_FAULT_SHORT);
    g_assert_cmphex(ms_get(x, MS_FAULT_ARG, 4), ==, MS_SHORT_ARG);
    g_assert_cmpuint(ms_get(x, MS_MISDIRECT, 1), ==, 0);
    g_assert_cmpuint(ms_get(x, MS_DUE, 8), ==, due_ns);
    g_assert_cmpuint(ms_get(x, MS_TEV, 4), ==, 0);
    g_assert_cmphex(ms_get(x, MS_U(1, MS_U_DESC_LO), 4), ==, (uint32_t)a);
    for (j = 0; j < 2; j++) {
        uint32_t kind = j ? KESYNC_FAULT_SHORT : 0;
        uint32_t arg = j ? MS_SHORT_ARG : 0;

        g_assert_cmpuint(ms_get(x, MS_U(j, MS_U_FAULT_KIND), 4), ==, kind);
        g_assert_cmphex(ms_get(x, MS_U(j, MS_U_FAULT_ARG), 4), ==, arg);
        g_assert_cmpuint(ms_get(x, MS_U(j, MS_U_ARMED_KIND), 4), ==, kind);
        g_assert_cmphex(ms_get(x, MS_U(j, MS_U_ARMED_ARG), 4), ==, arg);
    }
    g_assert_cmpuint(ms_get(x, MS_XFER_TIMER, 8), ==, due_ns);
    g_assert_cmphex(ms_get(x, MS_RESET_TIMER, 8), ==, UINT64_MAX);
    kdev_close(&k);

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        const MsCase *c = &cases[i];

        g_test_message("stream %u: %s: %s", i, c->name,
                       c->loads ? "loads" : "must fail the load");
        pst = g_memdup2(st, len);
        for (j = 0; j < ARRAY_SIZE(c->p) && c->p[j].size; j++) {
            ms_put(pst + xo, c->p[j].off, c->p[j].size, c->p[j].val);
        }
        dst = ms_load(path, pst, len);
        g_free(pst);
        pst = NULL;
        if (!c->loads) {
            if (dst) {
                qtest_quit(dst);
            }
            g_assert_cmpstr(c->name, ==, dst ? "loaded" : c->name);
            continue;
        }
        g_assert(dst);

        /* Loaded: check the state the patch made does what it says. */
        memset(&d, 0, sizeof(d));
        d.qts = dst;
        pc_alloc_init(&d.alloc, d.qts, ALLOC_NO_FLAGS);
        d.bus = qpci_new_pc(d.qts, &d.alloc);
        d.dev = qpci_device_find(d.bus, KS_DEVFN);
        d.bar.addr = qpci_config_readl(d.dev, PCI_BASE_ADDRESS_0) & ~0xfu;
        d.bar.is_io = false;
        d.lat = k.lat;
        d.nspb = k.nspb;
        if (!strcmp(c->name, "unchanged")) {
            /* The saved transfer ends at its time, SHORT: 4095 bytes. */
            qtest_clock_set(d.qts, due_ns - 1);
            g_assert_cmphex(urd(&d, 1, KESYNC_UNIT_STATUS), ==,
                            KESYNC_STATE_BUSY);
            step(&d, 1);
            g_assert_cmphex(urd(&d, 1, KESYNC_UNIT_STATUS), ==,
                            KESYNC_STATE_DONE);
            g_assert_cmpuint(urd(&d, 1, KESYNC_UNIT_BYTES), ==, 4095);
        } else if (!strcmp(c->name, "hang")) {
            step(&d, 100 * due_ns);
            g_assert_cmphex(urd(&d, 1, KESYNC_UNIT_STATUS), ==,
                            KESYNC_STATE_BUSY);
            g_assert_cmphex(rd(&d, KESYNC_REG_STATUS), ==,
                            KESYNC_STATUS_BUSY |
                            (1 << KESYNC_STATUS_UNIT_SHIFT));
        } else {
            /* Fetched again from guest memory, the fault already spent. */
            step(&d, due(&d, 4096));
            g_assert_cmphex(urd(&d, 1, KESYNC_UNIT_STATUS), ==,
                            KESYNC_STATE_DONE);
            g_assert_cmpuint(urd(&d, 1, KESYNC_UNIT_BYTES), ==, 4096);
        }
        g_assert_cmpuint(rd(&d, KESYNC_REG_STAT_LATE_DMA), ==, 0);
        g_free(d.dev);
        qpci_free_pc(d.bus);
        alloc_destroy(&d.alloc);
        qtest_quit(d.qts);
    }
    unlink(path);
}

/*
 * Mutated migration streams: every field of the device's section that
 * carries transfer or controller state, in each transfer phase a stream
 * can hold (RUN as saved, HANG, FETCH, IDLE), set to one of 0, all ones,
 * the top bit alone or a random value (a fixed seed; the value rotates with
 * the field so that each field sees several over the phases).  Each stream
 * must either fail the load cleanly (QEMU exits 1: ms_load) or give a
 * device that runs: its pending work runs for 10 ms of virtual time, it
 * answers, and after a system reset a transfer round trip on every unit
 * moves the right bytes.  Under the sanitizer build (the runner's asan
 * step) any memory error on the way fails too.
 */
typedef struct MsField {
    const char *name;
    int off;
    int size;
} MsField;

static void ms_check_works(QTestState *qts, const uint8_t *pat)
{
    Kdev d;
    uint8_t got[512];
    uint64_t buf;
    unsigned u;

    memset(&d, 0, sizeof(d));
    d.qts = qts;
    step(&d, 10 * 1000 * 1000);
    /* A stream may say the function is off the link: plug it back. */
    g_assert(qom_set(qts, "surprise-removal", "false"));
    pc_alloc_init(&d.alloc, d.qts, ALLOC_NO_FLAGS);
    d.bus = qpci_new_pc(d.qts, &d.alloc);
    d.dev = qpci_device_find(d.bus, KS_DEVFN);
    d.bar.addr = qpci_config_readl(d.dev, PCI_BASE_ADDRESS_0) & ~0xfu;
    d.bar.is_io = false;
    g_assert_cmphex(rd(&d, KESYNC_REG_MAGIC), ==, KESYNC_MAGIC);
    g_free(d.dev);

    qtest_qmp_assert_success(qts, "{'execute': 'system_reset'}");
    qtest_qmp_eventwait(qts, "RESET");
    kdev_probe(&d, KS_DEVFN);
    buf = guest_alloc(&d.alloc, 1024);
    qtest_bufwrite(qts, buf, pat, sizeof(got));
    for (u = 0; u < d.units; u++) {
        g_assert_cmphex(run1(&d, u, KESYNC_DESC_DIR_TO_DEV, 100, buf,
                             sizeof(got), u), ==, ST(KESYNC_STATE_DONE, 0));
        qtest_memset(qts, buf + 512, 0, sizeof(got));
        g_assert_cmphex(run1(&d, u, 0, 100, buf + 512, sizeof(got), u), ==,
                        ST(KESYNC_STATE_DONE, 0));
        qtest_bufread(qts, buf + 512, got, sizeof(got));
        g_assert(memcmp(got, pat, sizeof(got)) == 0);
    }
    g_free(d.dev);
    qpci_free_pc(d.bus);
    alloc_destroy(&d.alloc);
}

static void test_migrate_mutate(void)
{
    static const MsField fields[] = {
        { "intr_status", MS_SCRATCH + 4, 4 },
        { "intr_enable", MS_SCRATCH + 8, 4 },
        { "cmpl_addr_lo", MS_SCRATCH + 12, 4 },
        { "cmpl_addr_hi", MS_SCRATCH + 16, 4 },
        { "dev_fault", MS_SCRATCH + 20, 4 },
        { "reset_delay_us", MS_RESET_DELAY, 4 },
        { "resetting", MS_RESETTING, 1 },
        { "intx_level", MS_RESETTING + 1, 1 },
        { "next_gen", MS_NEXT_GEN, 8 },
        { "live_gen", MS_LIVE_GEN, 8 },
        { "timer_gen", MS_TIMER_GEN, 8 },
        { "removed", MS_REMOVED, 1 },
        { "xfer.unit", MS_UNIT, 4 },
        { "xfer.phase", MS_PHASE, 4 },
        { "xfer.desc_addr", MS_DESC, 8 },
        { "xfer.gen", MS_GEN, 8 },
        { "xfer.flags", MS_FLAGS, 4 },
        { "xfer.nsegs", MS_NSEGS, 4 },
        { "xfer.offset", MS_OFFSET, 8 },
        { "xfer.len", MS_LEN, 4 },
        { "xfer.seg_addr[0]", MS_SEG_ADDR, 8 },
        { "xfer.seg_addr[1]", MS_SEG_ADDR + 8, 8 },
        { "xfer.seg_addr[2]", MS_SEG_ADDR + 16, 8 },
        { "xfer.seg_len[0]", MS_SEG_LEN, 4 },
        { "xfer.seg_len[1]", MS_SEG_LEN + 4, 4 },
        { "xfer.seg_len[2]", MS_SEG_LEN + 8, 4 },
        { "xfer.fault", MS_FAULT, 4 },
        { "xfer.fault_arg", MS_FAULT_ARG, 4 },
        { "xfer.misdirect", MS_MISDIRECT, 1 },
        { "xfer.due_ns", MS_DUE, 8 },
        { "xfer.timer_event", MS_TEV, 4 },
        { "unit[1] +0", MS_U(1, 0), 4 },
        { "unit[1] +4", MS_U(1, 4), 4 },
        { "unit[1] +8", MS_U(1, 8), 4 },
        { "unit[1] +12", MS_U(1, 12), 4 },
        { "unit[1] +16", MS_U(1, 16), 4 },
        { "unit[1] +20", MS_U(1, 20), 4 },
        { "unit[1] +24", MS_U(1, 24), 4 },
        { "unit[1] fault_kind", MS_U(1, MS_U_FAULT_KIND), 4 },
        { "unit[1] +32", MS_U(1, 32), 4 },
        { "unit[1] fault_arg", MS_U(1, MS_U_FAULT_ARG), 4 },
        { "unit[1] armed_kind", MS_U(1, MS_U_ARMED_KIND), 4 },
        { "unit[1] armed_arg", MS_U(1, MS_U_ARMED_ARG), 4 },
        { "unit[1] +48", MS_U(1, 48), 4 },
        { "unit[1] stat_bytes", MS_U(1, 52), 8 },
        { "unit[1] +60", MS_U(1, 60), 1 },
        { "unit[1] +61", MS_U(1, 61), 1 },
        { "xfer_timer", MS_XFER_TIMER, 8 },
        { "reset_timer", MS_RESET_TIMER, 8 },
    };
    /* The phases, made from the saved RUN stream as bad-stream's controls. */
    static const MsCase phases[] = {
        { "run", true, { } },
        { "hang", true, {
            { MS_PHASE, 4, 3 }, { MS_XFER_TIMER, 8, UINT64_MAX } } },
        { "fetch", true, {
            { MS_PHASE, 4, 1 }, { MS_XFER_TIMER, 8, UINT64_MAX },
            { MS_NSEGS, 4, 0 }, { MS_LEN, 4, 0 } } },
        { "idle", true, {
            { MS_PHASE, 4, 0 }, { MS_XFER_TIMER, 8, UINT64_MAX },
            { MS_LIVE_GEN, 8, 0 } } },
    };
    g_autofree char *path = NULL;
    g_autofree char *uri = NULL;
    g_autofree uint8_t *st = NULL, *pst = NULL;
    GRand *r = g_rand_new_with_seed(0x6d757461);
    unsigned i, j, f, loaded = 0, refused = 0;
    uint8_t pat[4096];
    uint64_t buf, a, v;
    size_t len, xo;
    QTestState *dst;
    Desc desc;
    Kdev k;
    int fd;

    fd = g_file_open_tmp("kesync-mut-XXXXXX", &path, NULL);
    g_assert(fd >= 0);
    close(fd);

    /* The stream of bad-stream: unit 1 mid-way through 4 KiB, SHORT. */
    kdev_open(&k, "%s", MS_PROPS);
    wr(&k, KESYNC_REG_SCRATCH, MS_MARK_SCRATCH);
    wr(&k, KESYNC_REG_RESET_DELAY_US, MS_MARK_DELAY);
    buf = guest_alloc(&k.alloc, sizeof(pat));
    for (i = 0; i < sizeof(pat); i++) {
        pat[i] = i * 7 + 3;
    }
    qtest_bufwrite(k.qts, buf, pat, sizeof(pat));
    uwr(&k, 1, KESYNC_UNIT_FAULT_KIND, KESYNC_FAULT_SHORT);
    uwr(&k, 1, KESYNC_UNIT_FAULT_ARG, MS_SHORT_ARG);
    uwr(&k, 1, KESYNC_UNIT_FAULT_COUNT, 1);
    desc_init(&desc, KESYNC_DESC_DIR_TO_DEV, 0, MS_MARK_TAG);
    desc_add(&desc, buf, 1000);
    desc_add(&desc, buf + 1000, 3096);
    a = desc_put(&k, &desc);
    start_at(&k, 1, a);
    qtest_clock_step(k.qts, 1000);
    uri = g_strdup_printf("exec:cat > %s", path);
    qtest_qmp_assert_success(k.qts, "{'execute': 'migrate', 'arguments':"
                             " {'uri': %s}}", uri);
    wait_migration(k.qts);
    g_assert(g_file_get_contents(path, (char **)&st, &len, NULL));
    kdev_close(&k);
    xo = ms_find_xfer(st, len);
    g_assert_cmphex(ms_get(st + xo, MS_SCRATCH, 4), ==, MS_MARK_SCRATCH);
    g_assert_cmphex(ms_get(st + xo, MS_RESET_DELAY, 4), ==, MS_MARK_DELAY);
    g_assert_cmpuint(ms_get(st + xo, MS_PHASE, 4), ==, 2);

    for (i = 0; i < ARRAY_SIZE(phases); i++) {
        const MsCase *c = &phases[i];

        /* The unmutated phase loads and works: the control. */
        for (f = 0; f <= ARRAY_SIZE(fields); f++) {
            const MsField *m = f ? &fields[f - 1] : NULL;
            uint64_t ones = m && m->size < 8 ?
                            (1ull << (8 * m->size)) - 1 : UINT64_MAX;

            pst = g_memdup2(st, len);
            for (j = 0; j < ARRAY_SIZE(c->p) && c->p[j].size; j++) {
                ms_put(pst + xo, c->p[j].off, c->p[j].size, c->p[j].val);
            }
            if (m) {
                switch ((f + i) % 4) {
                case 0:
                    v = 0;
                    break;
                case 1:
                    v = ones;
                    break;
                case 2:
                    v = 1ull << (8 * m->size - 1);
                    break;
                default:
                    v = ((uint64_t)g_rand_int(r) << 32 | g_rand_int(r)) & ones;
                    break;
                }
                if (v == ms_get(pst + xo, m->off, m->size)) {
                    v ^= 1;
                }
                ms_put(pst + xo, m->off, m->size, v);
                g_test_message("%s: %s = 0x%" PRIx64, c->name, m->name, v);
            }
            dst = ms_load(path, pst, len);
            g_free(pst);
            pst = NULL;
            if (!m) {
                g_assert_cmpstr(c->name, ==, dst ? c->name : "refused");
            }
            if (!dst) {
                refused++;
                continue;
            }
            loaded++;
            ms_check_works(dst, pat);
            qtest_quit(dst);
        }
    }
    g_test_message("%u mutated streams loaded and worked, %u refused",
                   loaded - (unsigned)ARRAY_SIZE(phases), refused);
    g_rand_free(r);
    unlink(path);
}

/*
 * Controller registers a stream may not hold: INTR_STATUS/INTR_ENABLE bits
 * beyond the units and the controller's two events (no write clears such a
 * status bit: with it enabled INTx stays asserted for good) and reserved
 * DEV_FAULT bits.  Each fails the load; valid values load and read back.
 */
static void test_migrate_bad_regs(void)
{
#define MS_INTR_STATUS  (MS_SCRATCH + 4)
#define MS_INTR_ENABLE  (MS_SCRATCH + 8)
#define MS_DEV_FAULT    (MS_SCRATCH + 20)
    static const struct MsReg {
        const char *name;
        bool loads;
        int off;
        uint32_t reg;
        uint32_t val;
    } cases[] = {
        { "INTR_STATUS: unit 2 of 2", false, MS_INTR_STATUS,
          KESYNC_REG_INTR_STATUS, 1u << 2 },
        { "INTR_STATUS: bit 31", false, MS_INTR_STATUS,
          KESYNC_REG_INTR_STATUS, 1u << 31 },
        { "INTR_ENABLE: unit 7 of 2", false, MS_INTR_ENABLE,
          KESYNC_REG_INTR_ENABLE, 1u << 7 },
        { "INTR_ENABLE: all ones", false, MS_INTR_ENABLE,
          KESYNC_REG_INTR_ENABLE, UINT32_MAX },
        { "DEV_FAULT: bit 1", false, MS_DEV_FAULT,
          KESYNC_REG_DEV_FAULT, 2 },
        { "DEV_FAULT: all ones", false, MS_DEV_FAULT,
          KESYNC_REG_DEV_FAULT, UINT32_MAX },
        /* Controls: what the device can hold loads and reads back. */
        { "INTR_STATUS: units and events", true, MS_INTR_STATUS,
          KESYNC_REG_INTR_STATUS, 3 | KESYNC_INTR_CTRL_MASK },
        { "INTR_ENABLE: units and events", true, MS_INTR_ENABLE,
          KESYNC_REG_INTR_ENABLE, 3 | KESYNC_INTR_CTRL_MASK },
        { "DEV_FAULT: MISDIRECT", true, MS_DEV_FAULT,
          KESYNC_REG_DEV_FAULT, KESYNC_DEV_FAULT_MISDIRECT },
    };
    g_autofree char *path = NULL;
    g_autofree char *uri = NULL;
    g_autofree uint8_t *st = NULL, *pst = NULL;
    uint64_t buf, a;
    size_t len, xo;
    QTestState *dst;
    unsigned i;
    const struct MsReg *c;
    Desc desc;
    Kdev k, d;
    int fd;

    fd = g_file_open_tmp("kesync-regs-XXXXXX", &path, NULL);
    g_assert(fd >= 0);
    close(fd);

    /* bad-stream's saved state: unit 1 mid-way through 4 KiB. */
    kdev_open(&k, "%s", MS_PROPS);
    wr(&k, KESYNC_REG_SCRATCH, MS_MARK_SCRATCH);
    wr(&k, KESYNC_REG_RESET_DELAY_US, MS_MARK_DELAY);
    buf = guest_alloc(&k.alloc, 4096);
    desc_init(&desc, KESYNC_DESC_DIR_TO_DEV, 0, MS_MARK_TAG);
    desc_add(&desc, buf, 4096);
    a = desc_put(&k, &desc);
    start_at(&k, 1, a);
    qtest_clock_step(k.qts, 1000);
    uri = g_strdup_printf("exec:cat > %s", path);
    qtest_qmp_assert_success(k.qts, "{'execute': 'migrate', 'arguments':"
                             " {'uri': %s}}", uri);
    wait_migration(k.qts);
    g_assert(g_file_get_contents(path, (char **)&st, &len, NULL));
    kdev_close(&k);
    xo = ms_find_xfer(st, len);
    g_assert_cmphex(ms_get(st + xo, MS_SCRATCH, 4), ==, MS_MARK_SCRATCH);
    g_assert_cmphex(ms_get(st + xo, MS_RESET_DELAY, 4), ==, MS_MARK_DELAY);

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        c = &cases[i];
        g_test_message("stream %u: %s = 0x%x: %s", i, c->name,
                       c->val,
                       c->loads ? "loads" : "must fail the load");
        pst = g_memdup2(st, len);
        ms_put(pst + xo, c->off, 4, c->val);
        dst = ms_load(path, pst, len);
        g_free(pst);
        pst = NULL;
        if (!c->loads) {
            if (dst) {
                qtest_quit(dst);
            }
            g_assert_cmpstr(c->name, ==, dst ? "loaded" : c->name);
            continue;
        }
        g_assert(dst);
        memset(&d, 0, sizeof(d));
        d.qts = dst;
        pc_alloc_init(&d.alloc, d.qts, ALLOC_NO_FLAGS);
        d.bus = qpci_new_pc(d.qts, &d.alloc);
        d.dev = qpci_device_find(d.bus, KS_DEVFN);
        d.bar.addr = qpci_config_readl(d.dev, PCI_BASE_ADDRESS_0) & ~0xfu;
        d.bar.is_io = false;
        g_assert_cmphex(rd(&d, c->reg), ==, c->val);
        g_free(d.dev);
        qpci_free_pc(d.bus);
        alloc_destroy(&d.alloc);
        qtest_quit(d.qts);
    }
    unlink(path);
}

/* ---- Randomized ---------------------------------------------------------- */

static uint64_t fuzz_bar;

static uint32_t fuzz_value(GRand *r, uint64_t arena, uint32_t arena_size)
{
    switch (g_rand_int_range(r, 0, 9)) {
    case 0:
        return 0;
    case 1:
        return g_rand_int_range(r, 0, 8);
    case 2:
        return 1u << g_rand_int_range(r, 0, 32);
    case 3:
        return ~0u;
    case 4:
    case 5:
        return arena + (g_rand_int_range(r, 0, arena_size / 8) * 8);
    case 6:
        return fuzz_bar + g_rand_int_range(r, 0, KESYNC_BAR0_SIZE / 64) * 64;
    default:
        return g_rand_int(r);
    }
}

/*
 * A value for an address register (low half; the high half is often 0):
 * keep it out of the 3-4 GiB MMIO hole, so that the device's DMA does not
 * program the HPET or the APICs behind the test's back.  fuzz_value() still
 * aims at the device's own BAR0 now and then (fuzz_bar).
 */
static uint32_t fuzz_nohole(uint32_t v)
{
    return v >= 0xc0000000u ? v & 0x3fffffffu : v;
}

/* Lay a random (mostly plausible) descriptor at @at in the arena. */
static void fuzz_desc(Kdev *k, GRand *r, uint64_t at, uint64_t arena,
                      uint32_t arena_size)
{
    uint8_t b[32 + 16 * 20];
    unsigned n = g_rand_int_range(r, 0, 20), i;
    uint32_t len = 0;

    memset(b, 0, sizeof(b));
    for (i = 0; i < n; i++) {
        uint32_t sl = g_rand_boolean(r) ? g_rand_int_range(r, 1, 2048)
                                        : fuzz_value(r, arena, arena_size);
        unsigned pick = g_rand_int_range(r, 0, 32);
        uint64_t sa = pick > 1 ? arena + g_rand_int_range(r, 0, arena_size) :
                      pick ? fuzz_bar + g_rand_int_range(r, 0, 4096) :
                      ((uint64_t)g_rand_int(r) << 32) | g_rand_int(r);

        stq_le_p(b + 32 + 16 * i, sa);
        stl_le_p(b + 40 + 16 * i, sl);
        stl_le_p(b + 44 + 16 * i, g_rand_int_range(r, 0, 32) ? 0 : 1);
        len += sl;
    }
    stl_le_p(b + 0, g_rand_int_range(r, 0, 16) ? g_rand_int_range(r, 0, 2)
                                               : g_rand_int(r));
    stl_le_p(b + 4, g_rand_int_range(r, 0, 16) ? n : fuzz_value(r, 0, 8));
    stq_le_p(b + 8, g_rand_int_range(r, 0, 8) ?
             g_rand_int_range(r, 0, 32 << 20) :
             ((uint64_t)g_rand_int(r) << 32) | g_rand_int(r));
    stl_le_p(b + 16, g_rand_int_range(r, 0, 8) ? len : g_rand_int(r));
    stl_le_p(b + 20, g_rand_int(r));
    stq_le_p(b + 24, g_rand_int_range(r, 0, 32) ? 0 : g_rand_int(r));
    qtest_memwrite(k->qts, at, b, sizeof(b));
}

/*
 * A fuzzer write to CTRL.  If it starts a controller reset, *reset_end is
 * when that reset ends: RESET_DELAY_US as it read before the write (the
 * write consumes it) after @now.
 */
static void fuzz_write_ctrl(Kdev *k, uint32_t val, int64_t now,
                            int64_t *reset_end)
{
    bool resetting = rd(k, KESYNC_REG_STATUS) & KESYNC_STATUS_RESETTING;
    uint32_t delay_us = rd(k, KESYNC_REG_RESET_DELAY_US);

    wr(k, KESYNC_REG_CTRL, val);
    if (!resetting &&
        (rd(k, KESYNC_REG_STATUS) & KESYNC_STATUS_RESETTING)) {
        *reset_end = now + (int64_t)delay_us * 1000;
    }
}

static void test_fuzz(void)
{
    static const uint32_t ctrl_regs[] = {
        KESYNC_REG_SCRATCH, KESYNC_REG_CTRL, KESYNC_REG_INTR_STATUS,
        KESYNC_REG_INTR_ENABLE, KESYNC_REG_INTR_RAISE,
        KESYNC_REG_CMPL_ADDR_LO, KESYNC_REG_CMPL_ADDR_HI,
        KESYNC_REG_DEV_FAULT, KESYNC_REG_RESET_DELAY_US, KESYNC_REG_MAGIC,
        KESYNC_REG_STATUS, KESYNC_REG_STAT_XFERS,
    };
    static const uint32_t unit_regs[] = {
        KESYNC_UNIT_DESC_LO, KESYNC_UNIT_DESC_HI, KESYNC_UNIT_DOORBELL,
        KESYNC_UNIT_DOORBELL, KESYNC_UNIT_DOORBELL, KESYNC_UNIT_FAULT_KIND,
        KESYNC_UNIT_FAULT_COUNT, KESYNC_UNIT_FAULT_ARG, KESYNC_UNIT_STATUS,
    };
    const char *env_seed = g_getenv("KESYNC_FUZZ_SEED");
    const char *env_iters = g_getenv("KESYNC_FUZZ_ITERS");
    unsigned int seed = FUZZ_DEFAULT_SEED;
    unsigned int iters = FUZZ_DEFAULT_ITERS;
    const uint32_t arena_size = 256 * 1024;
    uint32_t writes = 0, descs = 0, n;
    int64_t now, reset_end = -1;
    uint64_t arena;
    GRand *r;
    FaultEnv f;
    Kdev *k = &f.k;
    QDict *rsp;

    if (env_seed) {
        g_assert(qemu_strtoui(env_seed, NULL, 0, &seed) == 0);
    }
    if (env_iters) {
        g_assert(qemu_strtoui(env_iters, NULL, 0, &iters) == 0);
    }
    g_test_message("fuzz seed 0x%x, %u register writes "
                   "(KESYNC_FUZZ_SEED, KESYNC_FUZZ_ITERS)", seed, iters);
    r = g_rand_new_with_seed(seed);
    fenv_open_with(&f, false, ",units=4,latency-ns=500,max-segments=32");
    arena = guest_alloc(&k->alloc, arena_size);
    qtest_memset(k->qts, arena, 0, arena_size);
    fuzz_bar = k->bar.addr;
    now = qtest_clock_step(k->qts, 0);

    while (writes < iters) {
        unsigned op = g_rand_int_range(r, 0, 100);
        unsigned u = g_rand_int_range(r, 0, 5);  /* 4 is beyond units */
        uint32_t val = fuzz_value(r, arena, arena_size);

        if (!f.mb && writes >= iters / 2) {
            f.mb = msix_setup(k);   /* second half in MSI-X mode */
        }
        if (op < 55) {
            uint32_t reg = unit_regs[g_rand_int_range(r, 0,
                                                      ARRAY_SIZE(unit_regs))];

            if (reg == KESYNC_UNIT_DESC_LO && (val & ~0xfffu) != fuzz_bar) {
                val = fuzz_nohole(val);
            }
            wr(k, KESYNC_UNIT_BASE(u) + reg,
               (op & 1) ? g_rand_int_range(r, 0, 4) : val);
            writes++;
        } else if (op < 75) {
            uint32_t reg = ctrl_regs[g_rand_int_range(r, 0,
                                                      ARRAY_SIZE(ctrl_regs))];

            if (reg == KESYNC_REG_RESET_DELAY_US) {
                val %= 1000;
            } else if (reg == KESYNC_REG_CMPL_ADDR_LO &&
                       (val & ~0xfffu) != fuzz_bar) {
                val = fuzz_nohole(val);
            }
            if (reg == KESYNC_REG_CTRL) {
                fuzz_write_ctrl(k, val, now, &reset_end);
            } else {
                wr(k, reg, val);
            }
            writes++;
        } else if (op < 80) {
            /* Any offset, any size. */
            uint64_t off = g_rand_int_range(r, 0, KESYNC_BAR0_SIZE);

            if ((off & ~3) == KESYNC_REG_CMPL_ADDR_LO ||
                (off >= KESYNC_UNIT_BASE(0) &&
                 (off - KESYNC_UNIT_BASE(0)) % KESYNC_UNIT_STRIDE < 4)) {
                val = fuzz_nohole(val);
            }

            switch (g_rand_int_range(r, 0, 4)) {
            case 0:
                qpci_io_writeb(k->dev, k->bar, off, val);
                break;
            case 1:
                qpci_io_writew(k->dev, k->bar, off & ~1, val);
                break;
            case 2:
                if ((off & ~3) == KESYNC_REG_CTRL) {
                    fuzz_write_ctrl(k, val, now, &reset_end);
                } else {
                    qpci_io_writel(k->dev, k->bar, off & ~3, val);
                }
                break;
            default:
                qpci_io_writeq(k->dev, k->bar, off & ~7, val);
                break;
            }
            writes++;
        } else if (op < 88) {
            /* A random descriptor, started. */
            uint64_t at = arena + g_rand_int_range(r, 0, arena_size / 8 - 64)
                          * 8;

            fuzz_desc(k, r, at, arena, arena_size);
            uwr(k, u % 4, KESYNC_UNIT_DESC_LO, at);
            uwr(k, u % 4, KESYNC_UNIT_DESC_HI, 0);
            uwr(k, u % 4, KESYNC_UNIT_DOORBELL, KESYNC_DB_START);
            writes += 3;
            descs++;
        } else if (op < 95) {
            (void)rd(k, g_rand_int_range(r, 0, KESYNC_BAR0_SIZE / 4) * 4);
        } else {
            now = qtest_clock_step(k->qts, g_rand_int_range(r, 0, 200000));
        }
    }
    g_test_message("fuzz: %u descriptors, %u transfers, %u resets, "
                   "%u dma errors", descs, rd(k, KESYNC_REG_STAT_XFERS),
                   rd(k, KESYNC_REG_STAT_RESETS),
                   rd(k, KESYNC_REG_STAT_DMA_ERRORS));
    g_rand_free(r);

    /* QEMU is alive; no transfer did DMA after its abort or reset. */
    rsp = qtest_qmp(k->qts, "{'execute': 'query-status'}");
    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    g_assert_cmpuint(qom_get_u64(k->qts, "late-dma"), ==, 0);

    /*
     * A "stuck" reset the fuzzing started (RESET_DELAY_US up to ~71 min)
     * ends exactly when it is due, not a nanosecond before.
     */
    if (rd(k, KESYNC_REG_STATUS) & KESYNC_STATUS_RESETTING) {
        g_test_message("fuzz: waiting %" PRId64 " ns for a controller reset",
                       reset_end - now);
        g_assert_cmpint(reset_end, >, now);
        step(k, reset_end - now - 1);
        g_assert_cmphex(rd(k, KESYNC_REG_STATUS) & KESYNC_STATUS_RESETTING,
                        ==, KESYNC_STATUS_RESETTING);
        step(k, 1);
        g_assert_cmphex(rd(k, KESYNC_REG_STATUS) & KESYNC_STATUS_RESETTING,
                        ==, 0);
    }
    /* After a controller reset the device works. */
    wr(k, KESYNC_REG_RESET_DELAY_US, 0);
    ctrl_reset(k);
    kdev_cmpl(k);
    for (n = 0; n < 4; n++) {
        fenv_start(&f, n, n);
        step(k, due(k, 4096));
        g_assert_cmphex(urd(k, n, KESYNC_UNIT_STATUS), ==, KESYNC_STATE_DONE);
        g_assert_cmpuint(fenv_written(&f, n), ==, 4096);
    }
    g_assert_cmpuint(rd(k, KESYNC_REG_STAT_LATE_DMA), ==, 0);
    kdev_close(k);
}

/*
 * The PC machine loads its BIOS even under qtest.  A QEMU built with
 * --disable-install-blobs finds none of its own, so point it at the
 * distribution's (Debian: seabios, qemu-system-data) when they are there;
 * KESYNC_QEMU_FIRMWARE_DIRS (colon-separated) overrides the list.
 */
static void machine_init(void)
{
    const char *env = g_getenv("KESYNC_QEMU_FIRMWARE_DIRS");
    g_auto(GStrv) dirs = g_strsplit(env ? env :
                                    "/usr/share/seabios:/usr/share/qemu",
                                    ":", -1);
    GString *fw = g_string_new("");
    char **d;

    for (d = dirs; *d; d++) {
        if (**d && g_file_test(*d, G_FILE_TEST_IS_DIR)) {
            g_string_append_printf(fw, " -L %s", *d);
        }
    }
    firmware = g_string_free(fw, false);
    machine = g_strdup_printf("-machine pc -nodefaults%s", firmware);
}

static void fuzz_crash_tests(void);
static void coverage_tests(void);

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    machine_init();

    qtest_add_func("/kesync/ident", test_ident);
    qtest_add_func("/kesync/props", test_props);
    qtest_add_func("/kesync/props-early", test_props_early);
    qtest_add_func("/kesync/bad-access", test_bad_access);
    qtest_add_func("/kesync/dma/rw", test_dma_rw);
    qtest_add_func("/kesync/dma/timing", test_timing);
    qtest_add_func("/kesync/dma/validation", test_validation);
    qtest_add_func("/kesync/dma/errors", test_dma_errors);
    qtest_add_func("/kesync/busy", test_busy);
    qtest_add_func("/kesync/intr/intx", test_intx);
    qtest_add_func("/kesync/intr/msi", test_msi);
    qtest_add_func("/kesync/intr/msix", test_msix);
    qtest_add_func("/kesync/intr/msix-self", test_msix_self);
    qtest_add_func("/kesync/fault/hang", test_fault_hang);
    qtest_add_func("/kesync/fault/lost-irq", test_fault_lost_irq);
    qtest_add_func("/kesync/fault/late", test_fault_late);
    qtest_add_func("/kesync/fault/error", test_fault_error);
    qtest_add_func("/kesync/fault/short", test_fault_short);
    qtest_add_func("/kesync/fault/spurious", test_fault_spurious);
    qtest_add_func("/kesync/fault/refuse", test_fault_refuse);
    qtest_add_func("/kesync/fault/wrong-tag", test_fault_wrong_tag);
    qtest_add_func("/kesync/fault/rules", test_fault_rules);
    qtest_add_func("/kesync/fault/misdirect", test_misdirect_reg);
    qtest_add_func("/kesync/fault/misdirect-wrap", test_misdirect_wrap);
    qtest_add_func("/kesync/fault/reset-delay", test_reset_delay_reg);
    qtest_add_func("/kesync/qom/props", test_qom_props);
    qtest_add_func("/kesync/qom/hang", test_qom_hang);
    qtest_add_func("/kesync/qom/lost-irq", test_qom_lost_irq);
    qtest_add_func("/kesync/qom/late", test_qom_late);
    qtest_add_func("/kesync/qom/error", test_qom_error);
    qtest_add_func("/kesync/qom/short", test_qom_short);
    qtest_add_func("/kesync/qom/spurious", test_qom_spurious);
    qtest_add_func("/kesync/qom/refuse", test_qom_refuse);
    qtest_add_func("/kesync/qom/wrong-tag", test_qom_wrong_tag);
    qtest_add_func("/kesync/qom/misdirect", test_misdirect_qom);
    qtest_add_func("/kesync/qom/reset-delay", test_reset_delay_qom);
    qtest_add_func("/kesync/abort", test_abort);
    qtest_add_func("/kesync/reset", test_reset);
    qtest_add_func("/kesync/system-reset", test_system_reset);
    qtest_add_func("/kesync/pm/caps", test_pm_caps);
    qtest_add_func("/kesync/pm/d3hot", test_pm_d3hot);
    qtest_add_func("/kesync/pcie/flr", test_pcie_flr);
    qtest_add_func("/kesync/pcie/aer", test_pcie_aer);
    qtest_add_func("/kesync/surprise-removal", test_removal);
    qtest_add_func("/kesync/migrate", test_migrate);
    qtest_add_func("/kesync/migrate/bad-stream", test_migrate_bad_stream);
    qtest_add_func("/kesync/migrate/mutate", test_migrate_mutate);
    qtest_add_func("/kesync/migrate/bad-regs", test_migrate_bad_regs);
    qtest_add_func("/kesync/unplug/data", test_unplug_data);
    qtest_add_func("/kesync/unplug/completion", test_unplug_completion);
    qtest_add_func("/kesync/unplug/raise", test_unplug_raise);
    qtest_add_func("/kesync/unplug/unmask", test_unplug_unmask);
    qtest_add_func("/kesync/fuzz", test_fuzz);
    fuzz_crash_tests();
    coverage_tests();

    return g_test_run();
}

/*
 * ==== Regression tests from the fuzzer ====================================
 *
 * Every crash QEMU's generic-fuzz ever found in kesync-pci (scripts/fuzz.sh,
 * 'make fuzz', make check's fuzz step) stays here as a qtest case that
 * replays it: 'scripts/fuzz.sh --trace CRASH-FILE' prints the qtest
 * commands of the crashing input and the C of a case (QEMU's
 * scripts/oss-fuzz/output_reproducer.py); put it below as
 * test_fuzz_crash_<name>(), starting QEMU with the trace's arguments, and
 * register it in fuzz_crash_tests() as /kesync/fuzz-crash/<name>, with a
 * comment saying what it hit.  docs/testing.md, "A crash of the fuzzer".
 *
 * None yet: no crash in the seed corpus, make check's bounded run (3500
 * inputs, -seed=1) or a 300-second 'make fuzz' (3850 inputs) when the
 * fuzzer was added.
 */
static void fuzz_crash_tests(void)
{
}

/*
 * ==== Paths 'make coverage' found no test for ============================
 *
 * scripts/coverage.sh lists what of qemu-device/ no qtest and no guest
 * boot runs; a case added for such a path is registered here as
 * /kesync/cov/<name>.
 */

static bool qom_get_bool(QTestState *qts, const char *prop)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'qom-get', 'arguments':"
                           " {'path': %s, 'property': %s}}", KS_QOM, prop);
    bool v;

    g_assert(qdict_haskey(rsp, "return"));
    v = qdict_get_bool(rsp, "return");
    qobject_unref(rsp);
    return v;
}

/*
 * The host's bool properties read back what was set, whichever side set
 * it: misdirect-dma is DEV_FAULT.MISDIRECT, armed by the guest too.
 */
static void test_qom_bools(void)
{
    Kdev k;

    kdev_open(&k, "%s", "");
    g_assert(!qom_get_bool(k.qts, "surprise-removal"));
    g_assert(!qom_get_bool(k.qts, "misdirect-dma"));

    g_assert(qom_set(k.qts, "misdirect-dma", "true"));
    g_assert(qom_get_bool(k.qts, "misdirect-dma"));
    g_assert(qom_set(k.qts, "misdirect-dma", "false"));
    g_assert(!qom_get_bool(k.qts, "misdirect-dma"));
    wr(&k, KESYNC_REG_DEV_FAULT, KESYNC_DEV_FAULT_MISDIRECT);
    g_assert(qom_get_bool(k.qts, "misdirect-dma"));
    wr(&k, KESYNC_REG_DEV_FAULT, 0);
    g_assert(!qom_get_bool(k.qts, "misdirect-dma"));

    g_assert(qom_set(k.qts, "surprise-removal", "true"));
    g_assert(qom_get_bool(k.qts, "surprise-removal"));
    g_assert_cmphex(rd(&k, KESYNC_REG_MAGIC), ==, 0xffffffff);
    g_assert(qom_set(k.qts, "surprise-removal", "false"));
    g_assert(!qom_get_bool(k.qts, "surprise-removal"));
    g_assert_cmphex(rd(&k, KESYNC_REG_MAGIC), ==, KESYNC_MAGIC);
    kdev_close(&k);
}

/*
 * cmpl-records=off: CAPS says there are no completion records and none is
 * written even with CMPL_ADDR set; the registers carry the completion.
 */
static void test_no_records(void)
{
    uint32_t rec[4];
    uint64_t buf;
    Kdev k;
    unsigned u;

    kdev_open(&k, "%s", "");
    g_assert_cmphex(rd(&k, KESYNC_REG_CAPS) & KESYNC_CAPS_CMPL_RECORDS, ==,
                    KESYNC_CAPS_CMPL_RECORDS);
    kdev_close(&k);

    kdev_open(&k, "%s", ",cmpl-records=off");
    g_assert_cmphex(rd(&k, KESYNC_REG_CAPS) & KESYNC_CAPS_CMPL_RECORDS, ==,
                    0);
    g_assert_cmpuint(rd(&k, KESYNC_REG_CAPS) & KESYNC_CAPS_UNITS_MASK, ==,
                     2);
    kdev_cmpl(&k);
    buf = guest_alloc(&k.alloc, 4096);
    for (u = 0; u < 2; u++) {
        g_assert_cmphex(run1(&k, u, KESYNC_DESC_DIR_TO_DEV, 512 * u, buf,
                             100 + u, 0x70 + u), ==,
                        ST(KESYNC_STATE_DONE, 0));
        g_assert_cmpuint(urd(&k, u, KESYNC_UNIT_SEQ), ==, 1);
        g_assert_cmphex(urd(&k, u, KESYNC_UNIT_TAG), ==, 0x70 + u);
        g_assert_cmpuint(urd(&k, u, KESYNC_UNIT_BYTES), ==, 100 + u);
        cmpl_read(&k, u, rec);
        g_assert_cmphex(rec[0] | rec[1] | rec[2] | rec[3], ==, 0);
    }
    g_assert_cmpuint(rd(&k, KESYNC_REG_STAT_DMA_ERRORS), ==, 0);
    kdev_close(&k);
}

static void coverage_tests(void)
{
    qtest_add_func("/kesync/cov/qom-bools", test_qom_bools);
    qtest_add_func("/kesync/cov/no-records", test_no_records);
}
