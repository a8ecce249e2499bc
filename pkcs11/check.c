/*
 * check.c - `coffre keys check` and `coffre keys list`: prove each configured
 * KEK works before long work starts, and describe it for operators.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "pkcs11/p11.h"

/* Bound into the test wrap so a check's wrapped key can never pass as a real one. */
static const uint8_t check_aad[] = "coffre keys check";

static cf_err
check_one(struct cf_keyring *kr, const char *text, bool need_unwrap, uint8_t *dek,
          uint8_t *back, struct cf_error *err)
{
    struct cf_p11_uri u;
    struct cf_p11_kek kek;
    enum cf_p11_miss miss;
    struct cf_recipient r;
    cf_err rc;

    randombytes_buf(dek, CF_DEK_BYTES);
    rc = cf_p11_uri_parse(text, &u, err);
    if (rc == CF_OK)
        rc = cf_p11_kek_find(kr, &u, CF_P11_WRAP, &kek, &miss, err);
    if (rc == CF_OK)
        rc = cf_p11_wrap_one(kr, &kek, u.clean, dek, check_aad, sizeof(check_aad), &r, err);
    if (rc == CF_OK && need_unwrap)
        rc = cf_p11_kek_find(kr, &u, CF_P11_UNWRAP, &kek, &miss, err);
    if (rc == CF_OK && need_unwrap)
        rc = cf_p11_unwrap_one(kr, &kek, &r, check_aad, sizeof(check_aad), back, err);
    if (rc == CF_OK && need_unwrap && sodium_memcmp(dek, back, CF_DEK_BYTES) != 0)
        rc = cf_error_set(err, CF_ERR_KEY, "key \"%s\" unwrapped a different key than it wrapped",
                          u.clean);
    if (rc != CF_OK)
        cf_error_context(err, "while checking key \"%s\"", u.clean[0] != '\0' ? u.clean : "?");
    cf_p11_uri_free(&u);
    return rc;
}

cf_err
cf_keyring_check(struct cf_keyring *kr, bool need_unwrap, struct cf_error *err)
{
    uint8_t *dek = sodium_malloc((size_t)2 * CF_DEK_BYTES);
    cf_err rc = CF_OK;

    if (dek == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&kr->lock);
    for (size_t i = 0; rc == CF_OK && i < kr->n_keks; i++)
        rc = check_one(kr, kr->keks[i], need_unwrap, dek, dek + CF_DEK_BYTES, err);
    pthread_mutex_unlock(&kr->lock);
    sodium_free(dek); /* wipes */
    return rc;
}

static unsigned
key_bits(struct cf_keyring *kr, const struct cf_p11_kek *kek)
{
    struct cf_error e = CF_ERROR_INIT;
    CK_ULONG v = 0;
    void *mod = NULL;

    if (kek->type == CF_KEK_AES) {
        if (cf_p11_get_ulong(kr, kek->tok, kek->key, CKA_VALUE_LEN, &v, &e) == CF_OK)
            return (unsigned)(v * 8);
        return 0;
    }
    if (kek->klass == CKO_PUBLIC_KEY &&
        cf_p11_get_ulong(kr, kek->tok, kek->key, CKA_MODULUS_BITS, &v, &e) == CF_OK)
        return (unsigned)v;
    /* A private key need not carry CKA_MODULUS_BITS; its modulus is public. */
    if (cf_p11_get_attr(kr, kek->tok, kek->key, CKA_MODULUS, &mod, &v, &e) != CF_OK)
        return 0;
    free(mod);
    return (unsigned)(v * 8);
}

static void
set_problem(struct cf_kek_status *st, const char *prefix, const char *msg)
{
    if (snprintf(st->problem, sizeof(st->problem), "%s%s", prefix, msg) < 0)
        st->problem[0] = '\0';
}

static void
status_one(struct cf_keyring *kr, const char *text, struct cf_kek_status *st)
{
    struct cf_error e = CF_ERROR_INIT, e2 = CF_ERROR_INIT;
    struct cf_p11_uri u;
    struct cf_p11_kek wk = {0}, uk = {0};
    enum cf_p11_miss miss;

    if (cf_p11_uri_parse(text, &u, &e) == CF_OK &&
        cf_p11_kek_find(kr, &u, CF_P11_WRAP, &wk, &miss, &e) == CF_OK)
        st->can_wrap = true;
    if (u.parsed != NULL && e.code != CF_ERR_CONFIG &&
        cf_p11_kek_find(kr, &u, CF_P11_UNWRAP, &uk, &miss, &e2) == CF_OK)
        st->can_unwrap = true;
    st->is_reachable = st->can_wrap || st->can_unwrap;
    if (st->is_reachable) {
        const struct cf_p11_kek *k = st->can_wrap ? &wk : &uk;

        st->type = k->type;
        st->bits = key_bits(kr, k);
        (void)snprintf(st->token_label, sizeof(st->token_label), "%s", k->tok->label);
    }
    /* Report the first problem: what stops wrapping matters most for backups. */
    if (!st->can_wrap)
        set_problem(st, "", e.msg);
    else if (!st->can_unwrap)
        set_problem(st, "cannot unwrap: ", e2.msg);
    cf_p11_uri_free(&u);
}

cf_err
cf_keyring_status(struct cf_keyring *kr, struct cf_kek_status *out, size_t n,
                  struct cf_error *err)
{
    if (n < kr->n_keks)
        return cf_error_set(err, CF_ERR_INTERNAL, "status array has %zu entries for %zu keys", n,
                            kr->n_keks);
    pthread_mutex_lock(&kr->lock);
    for (size_t i = 0; i < kr->n_keks; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        out[i].uri = kr->kek_clean[i]; /* never show a pin-value */
        status_one(kr, kr->keks[i], &out[i]);
    }
    pthread_mutex_unlock(&kr->lock);
    return CF_OK;
}
