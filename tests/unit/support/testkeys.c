/* testkeys.c - XChaCha20-Poly1305 with the header core as AAD, fixed key. */
#include "tests/unit/support/testkeys.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#define NB crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define AB crypto_aead_xchacha20poly1305_ietf_ABYTES

static cf_err
tk_wrap(void *ctx, const uint8_t dek[CF_DEK_BYTES], const uint8_t *aad, size_t aad_len,
        struct cf_recipient *out, size_t max, size_t *n, struct cf_error *err)
{
    struct testkeys *tk = ctx;
    unsigned long long clen = 0;

    if (tk->fail_wrap || max < 1)
        return cf_error_set(err, CF_ERR_KEY, "test key refuses to wrap");
    memset(out, 0, sizeof(*out));
    out->kind = CF_RECIPIENT_TEST;
    (void)snprintf(out->uri, sizeof(out->uri), "%s", tk->uri);
    randombytes_buf(out->wrapped, NB);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out->wrapped + NB, &clen, dek, CF_DEK_BYTES, aad,
                                               aad_len, NULL, out->wrapped, tk->key);
    out->wrapped_len = (uint16_t)(NB + clen);
    *n = 1;
    return CF_OK;
}

static cf_err
tk_unwrap(void *ctx, const struct cf_recipient *rs, size_t n, const uint8_t *aad, size_t aad_len,
          uint8_t dek[CF_DEK_BYTES], struct cf_error *err)
{
    struct testkeys *tk = ctx;

    for (size_t i = 0; i < n; i++) {
        unsigned long long mlen = 0;

        if (rs[i].kind != CF_RECIPIENT_TEST || rs[i].wrapped_len != NB + CF_DEK_BYTES + AB)
            continue;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(dek, &mlen, NULL, rs[i].wrapped + NB,
                                                       rs[i].wrapped_len - NB, aad, aad_len,
                                                       rs[i].wrapped, tk->key) == 0)
            return CF_OK;
    }
    return cf_error_set(err, CF_ERR_KEY, "no key can decrypt this object");
}

/* Ed25519 (libsodium) stands in for the HSM's ECDSA: the envelope code is the same. */
static cf_err
tk_sign(void *ctx, const uint8_t digest[32], struct cf_signature *out, struct cf_error *err)
{
    struct testkeys *tk = ctx;

    if (tk->fail_sign)
        return cf_error_set(err, CF_ERR_KEY, "test key refuses to sign");
    memset(out, 0, sizeof(*out));
    out->alg = CF_SIG_TEST;
    crypto_sign_detached(out->value, NULL, digest, 32, tk->sign_sk);
    out->len = crypto_sign_BYTES;
    crypto_hash_sha256(out->signer, tk->sign_pk, sizeof(tk->sign_pk));
    (void)snprintf(out->label, sizeof(out->label), "test-sign");
    return CF_OK;
}

static cf_err
tk_verify(void *ctx, const uint8_t digest[32], const struct cf_signature *sig, struct cf_error *err)
{
    struct testkeys *tk = ctx;
    uint8_t id[32];

    crypto_hash_sha256(id, tk->sign_pk, sizeof(tk->sign_pk));
    if (sig->alg != CF_SIG_TEST ||
        memcmp(id, sig->signer, sig->signer_len > 0 ? sig->signer_len : sizeof(id)) != 0)
        return cf_error_set(err, CF_ERR_KEY, "signed by a key this test does not trust");
    if (sig->len != crypto_sign_BYTES ||
        crypto_sign_verify_detached(sig->value, digest, 32, tk->sign_pk) != 0)
        return cf_error_set(err, CF_ERR_CORRUPT, "the test signature does not verify");
    return CF_OK;
}

struct cf_keyops
testkeys_ops(struct testkeys *tk)
{
    struct cf_keyops ops = {tk_wrap, tk_unwrap, tk_sign, tk_verify, tk};

    return ops;
}

void
testkeys_init(struct testkeys *tk, unsigned char seed, const char *uri)
{
    memset(tk, 0, sizeof(*tk));
    memset(tk->key, seed, sizeof(tk->key));
    tk->uri = uri;
    {
        unsigned char sign_seed[crypto_sign_SEEDBYTES];

        memset(sign_seed, seed ^ 0x5a, sizeof(sign_seed));
        crypto_sign_seed_keypair(tk->sign_pk, tk->sign_sk, sign_seed);
    }
}
