/*
 * object.c - encode and parse the object header (format in object.h).
 */
#include "stream/object.h"

#include <string.h>

static int
valid_id(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > CF_OBJECT_ID_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

struct wbuf {
    uint8_t *p;
    size_t len;
};

static void
put_u8(struct wbuf *w, unsigned v)
{
    w->p[w->len++] = (uint8_t)v;
}

static void
put_u16(struct wbuf *w, unsigned v)
{
    put_u8(w, (v >> 8) & 0xff);
    put_u8(w, v & 0xff);
}

static void
put_bytes(struct wbuf *w, const void *d, size_t n)
{
    memcpy(w->p + w->len, d, n);
    w->len += n;
}

cf_err
cf_object_encode_core(const struct cf_object_header *h, uint8_t *buf, size_t *len,
                      struct cf_error *err)
{
    struct wbuf w = {buf, 0};
    size_t id_len = strlen(h->backup_id), name_len = strlen(h->name);

    if (!valid_id(h->backup_id) || name_len == 0 || name_len > CF_OBJECT_NAME_MAX ||
        h->chunk_size < CF_CHUNK_MIN || h->chunk_size > CF_CHUNK_MAX)
        return cf_error_set(err, CF_ERR_INTERNAL, "invalid object header for \"%s\"", h->name);
    put_bytes(&w, CF_OBJECT_MAGIC, CF_OBJECT_MAGIC_LEN);
    put_u16(&w, CF_OBJECT_VERSION);
    put_u8(&w, h->kind);
    put_u8(&w, h->compression);
    put_u16(&w, (h->chunk_size >> 16) & 0xffff);
    put_u16(&w, h->chunk_size & 0xffff);
    put_u16(&w, (unsigned)id_len);
    put_bytes(&w, h->backup_id, id_len);
    put_u16(&w, (unsigned)name_len);
    put_bytes(&w, h->name, name_len);
    put_bytes(&w, h->ss_header, CF_OBJECT_SS_HEADER);
    *len = w.len;
    return CF_OK;
}

cf_err
cf_object_encode(const struct cf_object_header *h, uint8_t *buf, size_t *core_len,
                 size_t *total_len, struct cf_error *err)
{
    struct wbuf w = {buf, 0};

    if (cf_object_encode_core(h, buf, &w.len, err) != CF_OK)
        return err->code;
    *core_len = w.len;
    if (h->n_recipients == 0 || h->n_recipients > CF_RECIPIENTS_MAX)
        return cf_error_set(err, CF_ERR_INTERNAL, "invalid recipient count %zu", h->n_recipients);
    put_u8(&w, (unsigned)h->n_recipients);
    for (size_t i = 0; i < h->n_recipients; i++) {
        const struct cf_recipient *r = &h->recipients[i];
        size_t ul = strlen(r->uri);

        if (ul == 0 || ul > CF_RECIPIENT_URI_MAX || r->wrapped_len == 0 ||
            r->wrapped_len > CF_RECIPIENT_WRAPPED_MAX)
            return cf_error_set(err, CF_ERR_INTERNAL, "invalid recipient %zu", i);
        put_u8(&w, r->kind);
        put_u16(&w, (unsigned)ul);
        put_bytes(&w, r->uri, ul);
        put_u16(&w, r->wrapped_len);
        put_bytes(&w, r->wrapped, r->wrapped_len);
    }
    *total_len = w.len;
    return CF_OK;
}

/* A bounds-checked reader: every get fails once the input is exhausted. */
struct rbuf {
    const uint8_t *p;
    size_t len, pos;
    int short_read;
};

static int
get_bytes(struct rbuf *r, void *out, size_t n)
{
    if (r->short_read || n > r->len - r->pos) {
        r->short_read = 1;
        return -1;
    }
    if (out != NULL)
        memcpy(out, r->p + r->pos, n);
    r->pos += n;
    return 0;
}

static unsigned
get_u8(struct rbuf *r)
{
    uint8_t b = 0;

    (void)get_bytes(r, &b, 1);
    return b;
}

static unsigned
get_u16(struct rbuf *r)
{
    unsigned hi = get_u8(r);

    return (hi << 8) | get_u8(r);
}

/* Read a u16-length string into out (capacity max+1); -1 if out of range. */
static int
get_str(struct rbuf *r, char *out, size_t max)
{
    unsigned n = get_u16(r);

    if (r->short_read)
        return 0;
    if (n == 0 || n > max)
        return -1;
    if (get_bytes(r, out, n) != 0)
        return 0;
    out[n] = '\0';
    return memchr(out, '\0', n) != NULL ? -1 : 0;
}

static cf_err
corrupt(struct cf_error *err, const char *what, const char *why)
{
    cf_error_setf(err, CF_ERR_CORRUPT, "invalid header in object \"%s\": %s", what, why);
    cf_error_hint(err, "The object is damaged or is not a coffre object; restore from another "
                       "backup.");
    return CF_ERR_CORRUPT;
}

static cf_err
parse_recipients(struct rbuf *r, const char *what, struct cf_object_header *h,
                 struct cf_error *err)
{
    h->n_recipients = get_u8(r);
    if (!r->short_read && (h->n_recipients == 0 || h->n_recipients > CF_RECIPIENTS_MAX))
        return corrupt(err, what, "bad recipient count");
    for (size_t i = 0; i < h->n_recipients && !r->short_read; i++) {
        struct cf_recipient *rc = &h->recipients[i];

        rc->kind = (uint8_t)get_u8(r);
        if (get_str(r, rc->uri, CF_RECIPIENT_URI_MAX) != 0)
            return corrupt(err, what, "bad recipient URI");
        rc->wrapped_len = (uint16_t)get_u16(r);
        if (!r->short_read && (rc->wrapped_len == 0 || rc->wrapped_len > CF_RECIPIENT_WRAPPED_MAX))
            return corrupt(err, what, "bad wrapped key length");
        (void)get_bytes(r, rc->wrapped, rc->wrapped_len);
    }
    return CF_OK;
}

cf_err
cf_object_parse(const uint8_t *buf, size_t len, const char *what, struct cf_object_header *h,
                size_t *core_len, size_t *total_len, struct cf_error *err)
{
    struct rbuf r = {buf, len, 0, 0};
    uint8_t magic[CF_OBJECT_MAGIC_LEN];
    size_t n = len < CF_OBJECT_MAGIC_LEN ? len : CF_OBJECT_MAGIC_LEN;
    unsigned version;

    memset(h, 0, sizeof(*h));
    *total_len = 0;
    if (memcmp(buf, CF_OBJECT_MAGIC, n) != 0)
        return corrupt(err, what, "not a coffre object (bad magic)");
    (void)get_bytes(&r, magic, CF_OBJECT_MAGIC_LEN);
    version = get_u16(&r);
    if (!r.short_read && version != CF_OBJECT_VERSION) {
        cf_error_setf(err, CF_ERR_CORRUPT, "unsupported object format version %u in object \"%s\"",
                     version, what);
        cf_error_hint(err, "This coffre reads format version %d; use a newer coffre.",
                      CF_OBJECT_VERSION);
        return CF_ERR_CORRUPT;
    }
    h->kind = (uint8_t)get_u8(&r);
    h->compression = (uint8_t)get_u8(&r);
    h->chunk_size = (uint32_t)get_u16(&r) << 16;
    h->chunk_size |= get_u16(&r);
    if (!r.short_read && h->compression != CF_COMPRESS_ZSTD)
        return corrupt(err, what, "unknown compression");
    if (!r.short_read && (h->chunk_size < CF_CHUNK_MIN || h->chunk_size > CF_CHUNK_MAX))
        return corrupt(err, what, "chunk size out of range");
    if (get_str(&r, h->backup_id, CF_OBJECT_ID_MAX) != 0 ||
        (!r.short_read && !valid_id(h->backup_id)))
        return corrupt(err, what, "bad backup id");
    if (get_str(&r, h->name, CF_OBJECT_NAME_MAX) != 0)
        return corrupt(err, what, "bad object name");
    (void)get_bytes(&r, h->ss_header, CF_OBJECT_SS_HEADER);
    *core_len = r.pos;
    if (parse_recipients(&r, what, h, err) != CF_OK)
        return CF_ERR_CORRUPT;
    if (r.short_read)
        return CF_OK; /* need more bytes */
    *total_len = r.pos;
    return CF_OK;
}
