/*
 * crypt.c - encrypt and decrypt sinks (see crypt.h).
 */
#include "stream/crypt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES

struct crypt_sink {
    struct cf_sink base;
    const struct cf_keyops *keys;
    crypto_secretstream_xchacha20poly1305_state *st; /* sodium_malloc */
    struct cf_object_header *hdr;                    /* heap: ~12 KiB */
    uint8_t *hbuf;                                   /* encoded header (AD of chunk 0) */
    size_t hlen;                                     /* header bytes (held / complete) */
    size_t core_len;
    int has_header;                                  /* decrypt: header parsed */
    uint8_t *buf;                                    /* one chunk (+ABYTES on decrypt) */
    size_t buf_len, buf_cap;
    uint8_t *cbuf;                                   /* ciphertext/plaintext output */
    uint64_t chunk_no;
    uint64_t bytes;                                  /* ciphertext bytes */
    uint64_t in_bytes;                               /* encrypt: compressed bytes in */
    int is_final;                                    /* decrypt: TAG_FINAL seen */
    struct cf_decrypt_expect expect;
    char what[512];
};

static void
crypt_free(struct cf_sink *s)
{
    struct crypt_sink *c = (struct crypt_sink *)s;

    sodium_free(c->st);
    free(c->hdr);
    free(c->hbuf);
    /* both hold plaintext at some point (encrypt: buf; decrypt: cbuf) */
    if (c->buf != NULL)
        sodium_memzero(c->buf, c->buf_cap);
    if (c->cbuf != NULL)
        sodium_memzero(c->cbuf, c->buf_cap);
    free(c->buf);
    free(c->cbuf);
    free(c);
}

static struct crypt_sink *
crypt_alloc(const struct cf_sink_ops *ops, const struct cf_keyops *keys, struct cf_error *err)
{
    struct crypt_sink *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        cf_error_setf(err, CF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->base.ops = ops;
    c->keys = keys;
    c->st = sodium_malloc(sizeof(*c->st));
    c->hdr = calloc(1, sizeof(*c->hdr));
    c->hbuf = malloc(CF_OBJECT_HEADER_MAX);
    if (c->st == NULL || c->hdr == NULL || c->hbuf == NULL) {
        crypt_free(&c->base);
        cf_error_setf(err, CF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return c;
}

static cf_err
alloc_chunk_buffers(struct crypt_sink *c, size_t chunk, struct cf_error *err)
{
    c->buf_cap = chunk + ABYTES;
    c->buf = malloc(c->buf_cap);
    c->cbuf = malloc(c->buf_cap);
    if (c->buf == NULL || c->cbuf == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    return CF_OK;
}

/* Copy what fits of data into the chunk buffer (filled up to limit); returns
 * the bytes taken. */
static size_t
take(struct crypt_sink *c, const uint8_t *data, size_t len, size_t limit)
{
    size_t k = limit - c->buf_len;

    if (k > len)
        k = len;
    memcpy(c->buf + c->buf_len, data, k);
    c->buf_len += k;
    return k;
}

/* ---- encrypt ---- */

static cf_err
push_chunk(struct crypt_sink *c, unsigned char tag, struct cf_error *err)
{
    unsigned long long clen = 0;
    const uint8_t *ad = c->chunk_no == 0 ? c->hbuf : NULL;
    size_t ad_len = c->chunk_no == 0 ? c->hlen : 0;

    if (c->chunk_no == 0 && cf_sink_write(c->base.next, c->hbuf, c->hlen, err) != CF_OK)
        return err->code;
    (void)crypto_secretstream_xchacha20poly1305_push(c->st, c->cbuf, &clen, c->buf, c->buf_len,
                                                     ad, ad_len, tag);
    c->chunk_no++;
    c->buf_len = 0;
    c->bytes += clen;
    return cf_sink_write(c->base.next, c->cbuf, (size_t)clen, err);
}

static cf_err
encrypt_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    struct crypt_sink *c = (struct crypt_sink *)s;
    const uint8_t *p = data;
    size_t chunk = c->hdr->chunk_size;

    c->in_bytes += len;
    while (len > 0) {
        size_t k;

        /* a full chunk is pushed only when more data follows, so the last chunk
         * (TAG_FINAL, pushed by close) is never empty unless the object is */
        if (c->buf_len == chunk && push_chunk(c, 0, err) != CF_OK)
            return err->code;
        k = take(c, p, len, chunk);
        p += k;
        len -= k;
    }
    return CF_OK;
}

static cf_err
encrypt_close(struct cf_sink *s, struct cf_error *err)
{
    struct crypt_sink *c = (struct crypt_sink *)s;

    if (push_chunk(c, crypto_secretstream_xchacha20poly1305_TAG_FINAL, err) != CF_OK)
        return err->code;
    return cf_sink_close(s->next, err);
}

static const struct cf_sink_ops encrypt_ops = {
    "encrypt", CF_STAGE_ENCRYPT, encrypt_write, encrypt_close, NULL, crypt_free,
};

static cf_err
encrypt_setup(struct crypt_sink *c, const struct cf_encrypt_options *o, struct cf_error *err)
{
    uint8_t *dek = sodium_malloc(CF_DEK_BYTES);
    struct cf_object_header *h = c->hdr;
    cf_err rc;

    if (dek == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    h->kind = o->kind;
    h->compression = CF_COMPRESS_ZSTD;
    h->chunk_size = o->chunk_size;
    (void)snprintf(h->backup_id, sizeof(h->backup_id), "%s", o->backup_id);
    (void)snprintf(h->name, sizeof(h->name), "%s", o->name);
    crypto_secretstream_xchacha20poly1305_keygen(dek);
    (void)crypto_secretstream_xchacha20poly1305_init_push(c->st, h->ss_header, dek);
    rc = cf_object_encode_core(h, c->hbuf, &c->core_len, err);
    if (rc == CF_OK)
        rc = c->keys->wrap(c->keys->ctx, dek, c->hbuf, c->core_len, h->recipients,
                           CF_RECIPIENTS_MAX, &h->n_recipients, err);
    if (rc == CF_OK)
        rc = cf_object_encode(h, c->hbuf, &c->core_len, &c->hlen, err);
    sodium_free(dek);
    if (rc != CF_OK)
        cf_error_context(err, "while encrypting object \"%s\"", o->name);
    return rc;
}

cf_err
cf_encrypt_new(const struct cf_keyops *keys, const struct cf_encrypt_options *opts,
               struct cf_sink *next, struct cf_sink **out, struct cf_error *err)
{
    struct crypt_sink *c = crypt_alloc(&encrypt_ops, keys, err);
    cf_err rc;

    if (c == NULL)
        return err->code;
    if (opts->chunk_size < CF_CHUNK_MIN || opts->chunk_size > CF_CHUNK_MAX) {
        rc = cf_error_set(err, CF_ERR_CONFIG, "chunk size %u is out of range", opts->chunk_size);
        goto fail;
    }
    if ((rc = alloc_chunk_buffers(c, opts->chunk_size, err)) != CF_OK ||
        (rc = encrypt_setup(c, opts, err)) != CF_OK ||
        (rc = cf_sink_link(&c->base, next, err)) != CF_OK)
        goto fail;
    *out = &c->base;
    return CF_OK;
fail:
    crypt_free(&c->base);
    return rc;
}

/* ---- decrypt ---- */

static cf_err
check_expected(struct crypt_sink *c, struct cf_error *err)
{
    const struct cf_object_header *h = c->hdr;
    const struct cf_decrypt_expect *e = &c->expect;

    if ((e->backup_id != NULL && strcmp(e->backup_id, h->backup_id) != 0) ||
        (e->name != NULL && strcmp(e->name, h->name) != 0) ||
        (e->kind != 0 && e->kind != h->kind)) {
        cf_error_setf(err, CF_ERR_CORRUPT, "object \"%s\" holds another object's content", c->what);
        cf_error_detail(err, "Its header names %s \"%s\" of backup %s.",
                        cf_object_kind_name(h->kind), h->name, h->backup_id);
        cf_error_hint(err, "The repository was altered; restore from another backup.");
        return CF_ERR_CORRUPT;
    }
    return CF_OK;
}

static cf_err
open_stream(struct crypt_sink *c, struct cf_error *err)
{
    uint8_t *dek = sodium_malloc(CF_DEK_BYTES);
    cf_err rc;

    if (dek == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = c->keys->unwrap(c->keys->ctx, c->hdr->recipients, c->hdr->n_recipients, c->hbuf,
                         c->core_len, dek, err);
    if (rc == CF_OK &&
        crypto_secretstream_xchacha20poly1305_init_pull(c->st, c->hdr->ss_header, dek) != 0)
        rc = cf_error_set(err, CF_ERR_CORRUPT, "invalid stream header in object \"%s\"", c->what);
    sodium_free(dek);
    if (rc != CF_OK)
        cf_error_context(err, "while decrypting object \"%s\"", c->what);
    if (rc == CF_OK)
        rc = alloc_chunk_buffers(c, c->hdr->chunk_size, err);
    return rc;
}

/* Accumulate header bytes; returns bytes consumed from data. */
static cf_err
take_header(struct crypt_sink *c, const uint8_t *data, size_t len, size_t *used,
            struct cf_error *err)
{
    size_t room = CF_OBJECT_HEADER_MAX - c->hlen, k = len < room ? len : room, total;

    memcpy(c->hbuf + c->hlen, data, k);
    if (cf_object_parse(c->hbuf, c->hlen + k, c->what, c->hdr, &c->core_len, &total, err) != CF_OK)
        return err->code;
    if (total == 0) {
        if (c->hlen + k == CF_OBJECT_HEADER_MAX)
            return cf_error_set(err, CF_ERR_CORRUPT, "invalid header in object \"%s\": too long",
                                c->what);
        c->hlen += k;
        *used = k;
        return CF_OK;
    }
    *used = total - c->hlen;
    c->hlen = total;
    c->has_header = 1;
    if (check_expected(c, err) != CF_OK)
        return err->code;
    return open_stream(c, err);
}

static cf_err
pull_chunk(struct crypt_sink *c, struct cf_error *err)
{
    unsigned long long mlen = 0;
    unsigned char tag = 0;
    const uint8_t *ad = c->chunk_no == 0 ? c->hbuf : NULL;
    size_t ad_len = c->chunk_no == 0 ? c->hlen : 0;

    if (c->is_final) {
        cf_error_setf(err, CF_ERR_CORRUPT, "object \"%s\" has data after its final chunk", c->what);
        cf_error_hint(err, "The object was altered; restore from another backup.");
        return CF_ERR_CORRUPT;
    }
    if (crypto_secretstream_xchacha20poly1305_pull(c->st, c->cbuf, &mlen, &tag, c->buf,
                                                   c->buf_len, ad, ad_len) != 0) {
        cf_error_setf(err, CF_ERR_CORRUPT,
                     "could not decrypt chunk %llu of object \"%s\": authentication failed",
                     (unsigned long long)c->chunk_no, c->what);
        cf_error_detail(err, "The chunk or the object header was altered or truncated.");
        cf_error_hint(err, "Do not use this object; restore from another backup.");
        return CF_ERR_CORRUPT;
    }
    c->chunk_no++;
    c->buf_len = 0;
    c->is_final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    return cf_sink_write(c->base.next, c->cbuf, (size_t)mlen, err);
}

static cf_err
decrypt_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    struct crypt_sink *c = (struct crypt_sink *)s;
    const uint8_t *p = data;

    c->bytes += len;
    while (len > 0) {
        size_t k = 0;

        if (!c->has_header) {
            if (take_header(c, p, len, &k, err) != CF_OK)
                return err->code;
        } else {
            /* a full chunk is decrypted only when more bytes follow: the last
             * one is checked for TAG_FINAL in close() */
            if (c->buf_len == c->buf_cap && pull_chunk(c, err) != CF_OK)
                return err->code;
            k = take(c, p, len, c->buf_cap);
        }
        p += k;
        len -= k;
    }
    return CF_OK;
}

static cf_err
decrypt_close(struct cf_sink *s, struct cf_error *err)
{
    struct crypt_sink *c = (struct crypt_sink *)s;

    if (!c->has_header)
        return cf_error_set(err, CF_ERR_CORRUPT, "object \"%s\" is truncated: %s", c->what,
                            c->hlen == 0 ? "it is empty" : "its header is incomplete");
    if (c->buf_len > 0 && pull_chunk(c, err) != CF_OK)
        return err->code;
    if (!c->is_final) {
        cf_error_setf(err, CF_ERR_CORRUPT, "object \"%s\" is truncated: its final chunk is missing",
                     c->what);
        cf_error_detail(err, "%llu chunks were read and authenticated.",
                        (unsigned long long)c->chunk_no);
        cf_error_hint(err, "Do not use this object; restore from another backup.");
        return CF_ERR_CORRUPT;
    }
    return cf_sink_close(s->next, err);
}

static const struct cf_sink_ops decrypt_ops = {
    "decrypt", CF_STAGE_DECRYPT, decrypt_write, decrypt_close, NULL, crypt_free,
};

cf_err
cf_decrypt_new(const struct cf_keyops *keys, const struct cf_decrypt_expect *expect,
               const char *what, struct cf_sink *next, struct cf_sink **out, struct cf_error *err)
{
    struct crypt_sink *c = crypt_alloc(&decrypt_ops, keys, err);

    if (c == NULL)
        return err->code;
    if (expect != NULL)
        c->expect = *expect;   /* strings borrowed: valid for the sink's life */
    (void)snprintf(c->what, sizeof(c->what), "%s", what);
    if (cf_sink_link(&c->base, next, err) != CF_OK) {
        crypt_free(&c->base);
        return err->code;
    }
    *out = &c->base;
    return CF_OK;
}

const struct cf_object_header *
cf_decrypt_header(const struct cf_sink *s)
{
    const struct crypt_sink *c = (const struct crypt_sink *)s;

    return c->has_header ? c->hdr : NULL;
}

uint64_t
cf_crypt_bytes(const struct cf_sink *s)
{
    const struct crypt_sink *c = (const struct crypt_sink *)s;

    return c->bytes + (s->ops == &encrypt_ops ? c->hlen : 0);
}

uint64_t
cf_crypt_plain_bytes(const struct cf_sink *s)
{
    return ((const struct crypt_sink *)s)->in_bytes;
}
