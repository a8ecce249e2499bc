/*
 * basebackup_proto.c - the CopyData framing of BASE_BACKUP (see
 * basebackup_proto.h).  Each archive is a cf_source over the 'd' messages
 * that follow its header, so it flows through the standard backup chain
 * without touching local disk.
 */
#include "agent/basebackup_proto.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/cancel.h"

/* The COPY OUT stream, one message at a time. */
struct copy_stream {
    struct cf_bb_msgs *msgs;
    const char *msg; /* current message (borrowed), msg[0] is its type; NULL: ended */
    int len;
    int pos; /* next unread data byte of a 'd' message */
};

struct archive_source {
    struct cf_source base;
    struct copy_stream *cs; /* borrowed */
};

static cf_err
copy_next(struct copy_stream *cs, struct cf_error *err)
{
    cs->msg = NULL;
    cs->len = cs->pos = 0;
    if (cf_cancel_check(err) != CF_OK)
        return err->code;
    if (cs->msgs->next(cs->msgs, &cs->msg, &cs->len, err) != CF_OK) {
        cs->msg = NULL;
        return err->code;
    }
    cs->pos = 1;
    return CF_OK;
}

static cf_err
archive_read(struct cf_source *src, void *buf, size_t cap, size_t *n, struct cf_error *err)
{
    struct copy_stream *cs = ((struct archive_source *)src)->cs;

    *n = 0;
    for (;;) {
        if (cs->msg == NULL)
            return CF_OK;
        switch (cs->msg[0]) {
        case 'd':
            if (cs->pos < cs->len) {
                size_t k = (size_t)(cs->len - cs->pos);

                if (k > cap)
                    k = cap;
                memcpy(buf, cs->msg + cs->pos, k);
                cs->pos += (int)k;
                *n = k;
                return CF_OK;
            }
            break;
        case 'p': break;
        case 'n':
        case 'm': return CF_OK; /* the next archive: this one is complete */
        default:
            return cf_error_set(err, CF_ERR_PG,
                                "unexpected message type 0x%02x in the base backup stream",
                                (unsigned char)cs->msg[0]);
        }
        if (copy_next(cs, err) != CF_OK)
            return err->code;
    }
}

static void
archive_free(struct cf_source *src)
{
    (void)src; /* lives on the caller's stack */
}

static const struct cf_source_ops archive_ops = {"base backup stream", archive_read, archive_free};

/*
 * "base.tar" or "<oid>.tar" as PostgreSQL prints it ("%u.tar": no leading
 * zero, so the name is at most 14 bytes and one OID has one name): anything
 * else would be a surprise worth stopping for.
 */
static int
archive_oid(const char *name, uint32_t *oid)
{
    unsigned long v = 0;
    const char *p = name;

    if (strcmp(name, "base.tar") == 0) {
        *oid = 0;
        return 0;
    }
    if (*p == '0')
        return -1;
    for (; *p >= '0' && *p <= '9' && v < 0xFFFFFFFFul; p++)
        v = v * 10 + (unsigned long)(*p - '0');
    if (p == name || strcmp(p, ".tar") != 0 || v == 0 || v > 0xFFFFFFFFul)
        return -1;
    *oid = (uint32_t)v;
    return 0;
}

/* 'n' name\0 path\0: check the header, then hand the archive to h. */
static cf_err
receive_archive(struct copy_stream *cs, const struct cf_bb_handler *h, bool *is_base,
                struct cf_error *err)
{
    struct archive_source src = {{&archive_ops}, cs};
    const char *name = cs->msg + 1, *end = cs->msg + cs->len, *path;
    char *copy;
    uint32_t oid;
    cf_err rc;

    if (memchr(name, '\0', (size_t)(cs->len - 1)) == NULL ||
        (path = name + strlen(name) + 1) >= end ||
        memchr(path, '\0', (size_t)(end - path)) == NULL || archive_oid(name, &oid) != 0 ||
        (oid != 0 && path[0] != '/'))
        return cf_error_set(err, CF_ERR_PG, "unexpected archive header in the base backup stream");
    /* the header is gone once the first data message is read */
    if ((copy = malloc((size_t)(end - name))) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    memcpy(copy, name, (size_t)(end - name));
    rc = copy_next(cs, err);
    if (rc == CF_OK)
        rc = h->archive(h->ctx, copy, oid, copy + (path - name), &src.base, err);
    free(copy);
    if (rc == CF_OK && oid == 0)
        *is_base = true;
    return rc;
}

cf_err
cf_bb_receive(struct cf_bb_msgs *msgs, const struct cf_bb_handler *h, struct cf_error *err)
{
    struct copy_stream cs = {msgs, NULL, 0, 0};
    struct archive_source src = {{&archive_ops}, &cs};
    bool has_base = false, has_manifest = false;
    cf_err rc = copy_next(&cs, err);

    while (rc == CF_OK && cs.msg != NULL) {
        char type = cs.msg[0];

        if (type == 'n') {
            rc = receive_archive(&cs, h, &has_base, err);
        } else if (type == 'm' && has_manifest) {
            rc = cf_error_set(err, CF_ERR_PG, "the server sent two backup manifests");
        } else if (type == 'm') {
            if ((rc = copy_next(&cs, err)) == CF_OK &&
                (rc = h->manifest(h->ctx, &src.base, err)) == CF_OK)
                has_manifest = true;
        } else if (type == 'p') {
            rc = copy_next(&cs, err);
        } else {
            rc = cf_error_set(err, CF_ERR_PG,
                              "unexpected message type 0x%02x in the base backup stream",
                              (unsigned char)type);
        }
    }
    if (rc == CF_OK && !has_manifest)
        rc = cf_error_set(err, CF_ERR_PG, "the server sent no backup_manifest");
    if (rc == CF_OK && !has_base)
        rc = cf_error_set(err, CF_ERR_PG, "the server sent no base.tar");
    return rc;
}

static cf_err
mem_next(struct cf_bb_msgs *m, const char **msg, int *len, struct cf_error *err)
{
    struct cf_bb_mem_msgs *b = (struct cf_bb_mem_msgs *)m;
    size_t left = b->len - b->pos, n;

    *msg = NULL;
    *len = 0;
    if (left == 0)
        return CF_OK;
    n = left < 2 ? 0 : ((size_t)b->p[b->pos] << 8) | b->p[b->pos + 1];
    if (n == 0 || n > left - 2) {
        cf_error_setf(err, CF_ERR_PG, "base backup stream failed");
        cf_error_detail(err, "A message at byte %zu is empty or truncated.", b->pos);
        return CF_ERR_PG;
    }
    *msg = (const char *)b->p + b->pos + 2;
    *len = (int)n;
    b->pos += 2 + n;
    return CF_OK;
}

void
cf_bb_mem_msgs_init(struct cf_bb_mem_msgs *m, const void *buf, size_t len)
{
    m->base.next = mem_next;
    m->p = buf;
    m->len = len;
    m->pos = 0;
}
