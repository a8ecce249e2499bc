/*
 * hash.c - sha256 tap and verifier (see hash.h).
 *
 * The digest comes from OpenSSL's EVP (libcrypto, already linked for S3's
 * Content-MD5): it uses the CPU's SHA extensions, 1.5 GB/s here against
 * 0.2 GB/s for libsodium's portable sha256, and sha256 runs over every
 * plaintext byte (bench/results/2026-11-22-stages.md).
 */
#include "stream/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

struct hash_sink {
    struct cf_sink base;
    EVP_MD_CTX *md;
    uint64_t bytes;
    int is_verifier;
    uint8_t expected[CF_SHA256_BYTES];
    uint8_t digest[CF_SHA256_BYTES];
    char name[256];
};

static cf_err
hash_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    struct hash_sink *h = (struct hash_sink *)s;

    if (EVP_DigestUpdate(h->md, data, len) != 1)
        return cf_error_set(err, CF_ERR_INTERNAL, "sha256 failed");
    h->bytes += len;
    return cf_sink_write(s->next, data, len, err);
}

static cf_err
hash_close(struct cf_sink *s, struct cf_error *err)
{
    struct hash_sink *h = (struct hash_sink *)s;

    unsigned int dlen = 0;

    if (EVP_DigestFinal_ex(h->md, h->digest, &dlen) != 1 || dlen != CF_SHA256_BYTES)
        return cf_error_set(err, CF_ERR_INTERNAL, "sha256 failed");
    if (h->is_verifier && sodium_memcmp(h->digest, h->expected, CF_SHA256_BYTES) != 0) {
        char want[CF_SHA256_HEX], got[CF_SHA256_HEX];

        cf_hex_encode(h->expected, CF_SHA256_BYTES, want);
        cf_hex_encode(h->digest, CF_SHA256_BYTES, got);
        cf_error_setf(err, CF_ERR_CORRUPT, "checksum mismatch in object \"%s\"", h->name);
        cf_error_detail(err, "The manifest records sha256 %s, the decrypted content has %s.",
                        want, got);
        cf_error_hint(err, "The object or the manifest was altered; restore from another backup.");
        return CF_ERR_CORRUPT;
    }
    return cf_sink_close(s->next, err);
}

static void
hash_free(struct cf_sink *s)
{
    EVP_MD_CTX_free(((struct hash_sink *)s)->md);
    free(s);
}

static const struct cf_sink_ops tap_ops = {
    "sha256", CF_STAGE_SOURCE_TAP, hash_write, hash_close, NULL, hash_free,
};
static const struct cf_sink_ops verify_ops = {
    "sha256-verify", CF_STAGE_VERIFY, hash_write, hash_close, NULL, hash_free,
};

static cf_err
hash_new(const struct cf_sink_ops *ops, struct cf_sink *next, struct hash_sink **out,
         struct cf_error *err)
{
    struct hash_sink *h = calloc(1, sizeof(*h));
    cf_err rc;

    if (h == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    h->base.ops = ops;
    h->md = EVP_MD_CTX_new();
    if (h->md == NULL || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        hash_free(&h->base);
        return cf_error_set(err, CF_ERR_INTERNAL, "could not initialise sha256");
    }
    rc = cf_sink_link(&h->base, next, err);
    if (rc != CF_OK) {
        hash_free(&h->base);
        return rc;
    }
    *out = h;
    return CF_OK;
}

cf_err
cf_hash_tap_new(struct cf_sink *next, struct cf_sink **out, struct cf_error *err)
{
    struct hash_sink *h;
    cf_err rc = hash_new(&tap_ops, next, &h, err);

    if (rc == CF_OK)
        *out = &h->base;
    return rc;
}

cf_err
cf_hash_verify_new(const uint8_t expected[CF_SHA256_BYTES], const char *name,
                   struct cf_sink *next, struct cf_sink **out, struct cf_error *err)
{
    struct hash_sink *h;
    cf_err rc = hash_new(&verify_ops, next, &h, err);

    if (rc != CF_OK)
        return rc;
    h->is_verifier = 1;
    memcpy(h->expected, expected, CF_SHA256_BYTES);
    (void)snprintf(h->name, sizeof(h->name), "%s", name);
    *out = &h->base;
    return CF_OK;
}

void
cf_hash_result(const struct cf_sink *s, uint8_t digest[CF_SHA256_BYTES], uint64_t *bytes)
{
    const struct hash_sink *h = (const struct hash_sink *)s;

    memcpy(digest, h->digest, CF_SHA256_BYTES);
    *bytes = h->bytes;
}

void
cf_hex_encode(const uint8_t *in, size_t len, char *out)
{
    (void)sodium_bin2hex(out, 2 * len + 1, in, len);
}

int
cf_hex_decode(const char *in, uint8_t *out, size_t len)
{
    size_t got = 0;

    if (strlen(in) != 2 * len)
        return -1;
    if (sodium_hex2bin(out, len, in, 2 * len, NULL, &got, NULL) != 0 || got != len)
        return -1;
    return 0;
}
