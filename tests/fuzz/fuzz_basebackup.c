/*
 * fuzz_basebackup.c - libFuzzer: BASE_BACKUP's CopyData framing on arbitrary
 * streams.  The input is a sequence of messages, each preceded by its length
 * in 2 bytes, big-endian (cf_bb_mem_msgs).  What the parser accepts must
 * hold: one manifest, a base.tar, archive names as PostgreSQL spells them,
 * absolute tablespace locations, and every data byte delivered once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/basebackup_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    size_t bytes, archives, bases, manifests;
};

static cf_err
drain(struct seen *w, struct cf_source *src, struct cf_error *err)
{
    char buf[7]; /* small: archives cross reads and messages */
    size_t n;

    do {
        if (cf_source_read(src, buf, sizeof(buf), &n, err) != CF_OK)
            return err->code;
        if (n > sizeof(buf))
            abort();
        w->bytes += n;
    } while (n > 0);
    return CF_OK;
}

static cf_err
on_archive(void *ctx, const char *name, uint32_t oid, const char *location, struct cf_source *data,
           struct cf_error *err)
{
    struct seen *w = ctx;
    char want[16];

    if (oid == 0)
        (void)snprintf(want, sizeof(want), "base.tar");
    else
        (void)snprintf(want, sizeof(want), "%u.tar", oid);
    /* the name becomes an object name: exactly as PostgreSQL writes it */
    if (strcmp(name, want) != 0 || (oid != 0 && location[0] != '/'))
        abort();
    w->archives++;
    w->bases += oid == 0;
    return drain(w, data, err);
}

static cf_err
on_manifest(void *ctx, struct cf_source *data, struct cf_error *err)
{
    struct seen *w = ctx;

    w->manifests++;
    return drain(w, data, err);
}

/* Bytes of the 'd' messages, as far as the framing is intact. */
static size_t
data_bytes(const uint8_t *p, size_t size)
{
    size_t pos = 0, sum = 0;

    while (size - pos >= 2) {
        size_t n = ((size_t)p[pos] << 8) | p[pos + 1];

        if (n == 0 || n > size - pos - 2)
            break;
        if (p[pos + 2] == 'd')
            sum += n - 1;
        pos += 2 + n;
    }
    return sum;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_bb_mem_msgs msgs;
    struct seen w = {0, 0, 0, 0};
    const struct cf_bb_handler h = {on_archive, on_manifest, &w};
    cf_err rc;

    cf_bb_mem_msgs_init(&msgs, data, size);
    rc = cf_bb_receive(&msgs.base, &h, &err);
    if ((rc == CF_OK) != (err.msg[0] == '\0') || err.code != rc)
        abort(); /* a failure always says why; success leaves no message */
    if (rc == CF_OK && (w.manifests != 1 || w.bases < 1 || w.bytes != data_bytes(data, size)))
        abort();
    return 0;
}
