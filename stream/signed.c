/*
 * signed.c - signed envelopes (see signed.h).
 */
#include "stream/signed.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "stream/hash.h"

static const char domain_tag[] = "coffre-signed-v1";

const char *
cf_signature_alg_name(unsigned alg)
{
    switch (alg) {
    case CF_SIG_ECDSA_P256: return "ecdsa-p256-sha256";
    case CF_SIG_TEST: return "test";
    default: return NULL;
    }
}

static unsigned
alg_from_name(const char *name)
{
    for (unsigned a = 1; a < 256; a++) {
        const char *n = cf_signature_alg_name(a);

        if (n != NULL && strcmp(n, name) == 0)
            return a;
    }
    return 0;
}

void
cf_signer_short(const uint8_t id[CF_SIGNER_ID_BYTES], char out[17])
{
    cf_hex_encode(id, 8, out);
}

static void
absorb(crypto_hash_sha256_state *st, const char *s)
{
    /* the NUL is part of the input: fields cannot run into each other */
    crypto_hash_sha256_update(st, (const unsigned char *)(s != NULL ? s : ""),
                              strlen(s != NULL ? s : "") + 1);
}

void
cf_signed_digest(const struct cf_signed_context *ctx, const char *payload, size_t len,
                 uint8_t out[32])
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    absorb(&st, domain_tag);
    absorb(&st, ctx->domain);
    absorb(&st, ctx->instance);
    absorb(&st, ctx->backup_id);
    absorb(&st, ctx->name);
    crypto_hash_sha256_update(&st, (const unsigned char *)payload, len);
    crypto_hash_sha256_final(&st, out);
}

static json_t *
hex_string(const uint8_t *bin, size_t len)
{
    char hex[2 * CF_SIGNATURE_MAX + 1];

    cf_hex_encode(bin, len, hex);
    return json_string(hex);
}

cf_err
cf_signed_seal(const struct cf_keyops *keys, const struct cf_signed_context *ctx,
               const char *payload, size_t len, char **out, size_t *out_len, struct cf_error *err)
{
    struct cf_signature sig;
    uint8_t digest[32];
    json_t *root = NULL, *s = NULL;
    cf_err rc;

    memset(&sig, 0, sizeof(sig));
    if (keys == NULL || keys->sign == NULL)
        return cf_error_set(err, CF_ERR_KEY, "no signing key: the key provider cannot sign");
    cf_signed_digest(ctx, payload, len, digest);
    if ((rc = keys->sign(keys->ctx, digest, &sig, err)) != CF_OK)
        return rc;
    if (cf_signature_alg_name(sig.alg) == NULL || sig.len == 0 || sig.len > CF_SIGNATURE_MAX)
        return cf_error_set(err, CF_ERR_INTERNAL, "the key provider returned an invalid signature");
    s = json_pack("{s:s, s:o, s:s, s:o}", "alg", cf_signature_alg_name(sig.alg), "signer",
                  hex_string(sig.signer, sizeof(sig.signer)), "label", sig.label, "value",
                  hex_string(sig.value, sig.len));
    if (s != NULL)
        root = json_pack("{s:i, s:s%, s:o}", "coffre_signed", CF_SIGNED_FORMAT, "payload", payload,
                         len, "signature", s);
    *out = root != NULL ? json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (*out == NULL)
        return cf_error_set(err, CF_ERR_NOMEM,
                            "out of memory (or a payload that is not UTF-8) "
                            "while signing \"%s\"",
                            ctx->name);
    *out_len = strlen(*out);
    return CF_OK;
}

/* Copy untrusted text for messages: printable ASCII only. */
static void
copy_label(const char *in, char *out, size_t size)
{
    size_t i = 0;

    for (; in[i] != '\0' && i + 1 < size; i++) {
        out[i] = in[i];
        if (in[i] < 0x20 || in[i] >= 0x7f)
            out[i] = '?';
    }
    out[i] = '\0';
}

static cf_err
parse_signature(json_t *s, const char *what, struct cf_signature *sig, struct cf_error *err)
{
    const char *alg = json_string_value(json_object_get(s, "alg"));
    const char *signer = json_string_value(json_object_get(s, "signer"));
    const char *label = json_string_value(json_object_get(s, "label"));
    const char *value = json_string_value(json_object_get(s, "value"));
    const char *bad = NULL;
    size_t vlen;

    memset(sig, 0, sizeof(*sig));
    if (alg == NULL || (sig->alg = (uint8_t)alg_from_name(alg)) == 0)
        bad = "alg";
    else if (signer == NULL || strlen(signer) != (size_t)2 * CF_SIGNER_ID_BYTES ||
             cf_hex_decode(signer, sig->signer, CF_SIGNER_ID_BYTES) != 0)
        bad = "signer";
    else if (label == NULL)
        bad = "label";
    else if (value == NULL || (vlen = strlen(value)) == 0 || vlen % 2 != 0 ||
             vlen / 2 > CF_SIGNATURE_MAX || cf_hex_decode(value, sig->value, vlen / 2) != 0)
        bad = "value";
    if (bad != NULL)
        return cf_error_set(err, CF_ERR_CORRUPT,
                            "invalid signature in \"%s\": field \"%s\" is missing or invalid", what,
                            bad);
    sig->len = (uint16_t)(vlen / 2);
    copy_label(label, sig->label, sizeof(sig->label));
    return CF_OK;
}

static cf_err
copy_out(const char *text, size_t len, char **payload, size_t *payload_len, struct cf_error *err)
{
    if ((*payload = malloc(len + 1)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    memcpy(*payload, text, len);
    (*payload)[len] = '\0';
    *payload_len = len;
    return CF_OK;
}

cf_err
cf_signed_open(const struct cf_keyops *keys, const struct cf_signed_context *ctx, const char *what,
               const char *text, size_t len, char **payload, size_t *payload_len, bool *is_signed,
               struct cf_signature *signer, struct cf_error *err)
{
    struct cf_signature sig;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *marker, *p;
    uint8_t digest[32];
    cf_err rc;

    *payload = NULL;
    *is_signed = false;
    marker = json_is_object(root) ? json_object_get(root, "coffre_signed") : NULL;
    if (marker == NULL) {
        /* not an envelope: the caller decides about unsigned text */
        json_decref(root);
        return copy_out(text, len, payload, payload_len, err);
    }
    p = json_object_get(root, "payload");
    if (!json_is_integer(marker) || json_integer_value(marker) != CF_SIGNED_FORMAT) {
        rc = cf_error_set(err, CF_ERR_CORRUPT, "unsupported signed envelope in \"%s\"", what);
        goto out;
    }
    if (!json_is_string(p)) {
        rc = cf_error_set(err, CF_ERR_CORRUPT, "invalid signed envelope in \"%s\": no payload",
                          what);
        goto out;
    }
    if ((rc = parse_signature(json_object_get(root, "signature"), what, &sig, err)) != CF_OK)
        goto out;
    if (keys == NULL || keys->verify == NULL) {
        rc = cf_error_set(err, CF_ERR_KEY,
                          "cannot check the signature of \"%s\": no key "
                          "provider",
                          what);
        goto out;
    }
    cf_signed_digest(ctx, json_string_value(p), json_string_length(p), digest);
    if ((rc = keys->verify(keys->ctx, digest, &sig, err)) != CF_OK) {
        cf_error_context(err, "while checking the signature of \"%s\"", what);
        goto out;
    }
    rc = copy_out(json_string_value(p), json_string_length(p), payload, payload_len, err);
    if (rc == CF_OK) {
        *is_signed = true;
        if (signer != NULL)
            *signer = sig;
    }
out:
    json_decref(root);
    return rc;
}
