/*
 * find.c - resolve a key URI to a key object on the module's tokens.
 *
 * The KEK type comes from the object found (CKA_KEY_TYPE), not from the URI.
 * Without type=, a secret key is tried first, then the public key (to wrap)
 * or the private key (to unwrap) of an RSA pair with that label/id; with
 * type=public or type=private, the half the role needs is used, so one URI
 * names the whole pair.
 *
 * Searches run without logging in first: a public RSA key must be usable by
 * a write-only host that has no PIN.  Only when no token shows the key
 * publicly do we log in (one token at a time, stopping at the first login
 * failure so a wrong PIN is not tried against every token).
 */
#include <stdlib.h>
#include <string.h>

#include "pkcs11/p11.h"

cf_err
cf_p11_find(struct cf_keyring *kr, struct cf_p11_token *tok, CK_ATTRIBUTE *tmpl, CK_ULONG n_tmpl,
            CK_OBJECT_HANDLE found[2], CK_ULONG *n_found, struct cf_error *err)
{
    CK_RV rv;

    rv = kr->mod->C_FindObjectsInit(tok->session, tmpl, n_tmpl);
    if (rv != CKR_OK)
        return cf_p11_fail(err, "C_FindObjectsInit", rv, "could not search token \"%s\"",
                           tok->label);
    rv = kr->mod->C_FindObjects(tok->session, found, 2, n_found);
    (void)kr->mod->C_FindObjectsFinal(tok->session);
    if (rv != CKR_OK)
        return cf_p11_fail(err, "C_FindObjects", rv, "could not search token \"%s\"",
                           tok->label);
    return CF_OK;
}

cf_err
cf_p11_get_attr(struct cf_keyring *kr, struct cf_p11_token *tok, CK_OBJECT_HANDLE obj,
                CK_ATTRIBUTE_TYPE type, void **value, CK_ULONG *len, struct cf_error *err)
{
    CK_ATTRIBUTE a = {type, NULL, 0};
    void *buf = NULL;
    CK_RV rv;

    rv = kr->mod->C_GetAttributeValue(tok->session, obj, &a, 1);
    if (rv == CKR_OK && a.ulValueLen != CK_UNAVAILABLE_INFORMATION && a.ulValueLen > 0) {
        buf = malloc(a.ulValueLen);
        if (buf == NULL)
            return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        a.pValue = buf;
        rv = kr->mod->C_GetAttributeValue(tok->session, obj, &a, 1);
    }
    if (rv != CKR_OK) {
        free(buf);
        return cf_p11_fail(err, "C_GetAttributeValue", rv,
                           "could not read attribute 0x%lx of a key on token \"%s\"", type,
                           tok->label);
    }
    *value = buf;
    *len = buf != NULL ? a.ulValueLen : 0;
    return CF_OK;
}

cf_err
cf_p11_get_ulong(struct cf_keyring *kr, struct cf_p11_token *tok, CK_OBJECT_HANDLE obj,
                 CK_ATTRIBUTE_TYPE type, CK_ULONG *out, struct cf_error *err)
{
    CK_ULONG v = 0;
    CK_ATTRIBUTE a = {type, &v, sizeof(v)};
    CK_RV rv;

    rv = kr->mod->C_GetAttributeValue(tok->session, obj, &a, 1);
    if (rv != CKR_OK)
        return cf_p11_fail(err, "C_GetAttributeValue", rv,
                           "could not read attribute 0x%lx of a key on token \"%s\"", type,
                           tok->label);
    *out = v;
    return CF_OK;
}

/* The object classes to try for role, in order; returns how many. */
static size_t
role_classes(const struct cf_p11_uri *u, enum cf_p11_role role, CK_OBJECT_CLASS out[2])
{
    CK_OBJECT_CLASS half = role == CF_P11_WRAP ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY;

    if (u->has_class && u->klass == CKO_SECRET_KEY) {
        out[0] = CKO_SECRET_KEY;
        return 1;
    }
    if (u->has_class) {
        out[0] = half;
        return 1;
    }
    out[0] = CKO_SECRET_KEY;
    out[1] = half;
    return 2;
}

static cf_err
check_type(struct cf_keyring *kr, const struct cf_p11_uri *u, struct cf_p11_kek *kek,
           struct cf_error *err)
{
    CK_ULONG kt = 0;
    cf_err rc;

    rc = cf_p11_get_ulong(kr, kek->tok, kek->key, CKA_KEY_TYPE, &kt, err);
    if (rc != CF_OK)
        return rc;
    if (kt == CKK_AES && kek->klass == CKO_SECRET_KEY)
        kek->type = CF_KEK_AES;
    else if (kt == CKK_RSA && kek->klass != CKO_SECRET_KEY)
        kek->type = CF_KEK_RSA;
    else
        return cf_error_set(err, CF_ERR_KEY,
                            "key \"%s\" on token \"%s\" is neither an AES nor an RSA key",
                            u->clean, kek->tok->label);
    return CF_OK;
}

/* Search one token; *found tells whether out was filled. */
static cf_err
search_token(struct cf_keyring *kr, struct cf_p11_token *tok, const struct cf_p11_uri *u,
             enum cf_p11_role role, struct cf_p11_kek *out, bool *found, struct cf_error *err)
{
    CK_OBJECT_CLASS classes[2];
    size_t n_classes = role_classes(u, role, classes);
    CK_OBJECT_HANDLE objs[2];

    for (size_t i = 0; i < n_classes; i++) {
        CK_ATTRIBUTE tmpl[3] = {{CKA_CLASS, &classes[i], sizeof(classes[i])}};
        CK_ULONG n_tmpl = 1, n_objs = 0;
        cf_err rc;

        if (u->label.pValue != NULL)
            tmpl[n_tmpl++] = u->label;
        if (u->id.pValue != NULL)
            tmpl[n_tmpl++] = u->id;
        rc = cf_p11_find(kr, tok, tmpl, n_tmpl, objs, &n_objs, err);
        if (rc != CF_OK)
            return rc;
        /* Two keys under one name: using either could lock data to the wrong one. */
        if (n_objs > 1)
            return cf_error_set(err, CF_ERR_KEY, "more than one key matches \"%s\" on token \"%s\"",
                                u->clean, tok->label);
        if (n_objs == 1) {
            out->tok = tok;
            out->key = objs[0];
            out->klass = classes[i];
            *found = true;
            return check_type(kr, u, out, err);
        }
    }
    return CF_OK;
}

static cf_err
not_found(struct cf_keyring *kr, const struct cf_p11_uri *u, struct cf_p11_token **toks,
          size_t n, enum cf_p11_miss *miss, struct cf_error *err)
{
    bool has_pin = cf_p11_have_pin(kr, u->pin_source);

    if (n == 1 && !has_pin && !toks[0]->is_logged_in) {
        cf_error_setf(err, CF_ERR_KEY, "no PIN for token \"%s\"", toks[0]->label);
        cf_error_detail(err, "No public object on the token matches \"%s\", and private objects "
                             "can be searched only after logging in.", u->clean);
        cf_error_hint(err, "Set keys.pin_file to a file holding the token's user PIN, or pass "
                           "it as the systemd credential coffre-hsm-pin.");
        return CF_ERR_KEY;
    }
    *miss = CF_P11_MISS_KEY;
    if (n == 1)
        cf_error_setf(err, CF_ERR_KEY, "no key matches \"%s\" on token \"%s\"", u->clean,
                     toks[0]->label);
    else
        cf_error_setf(err, CF_ERR_KEY, "no key matches \"%s\" on any of the %zu tokens it names",
                     u->clean, n);
    cf_error_hint(err, "List the token's objects with \"pkcs11-tool --list-objects\" and check "
                       "the URI's object= and id= attributes.");
    return CF_ERR_KEY;
}

cf_err
cf_p11_kek_find(struct cf_keyring *kr, const struct cf_p11_uri *u, enum cf_p11_role role,
                struct cf_p11_kek *out, enum cf_p11_miss *miss, struct cf_error *err)
{
    struct cf_p11_token *toks[CF_P11_TOKENS_MAX];
    struct cf_p11_kek kek = {0};
    size_t n = 0;
    bool found = false;
    cf_err rc;

    *miss = CF_P11_MISS_NONE;
    rc = cf_p11_uri_require_key(u, err);
    if (rc == CF_OK)
        rc = cf_p11_tokens_match(kr, u, toks, CF_P11_TOKENS_MAX, &n, err);
    if (rc != CF_OK)
        return rc;
    if (n == 0) {
        *miss = CF_P11_MISS_TOKEN;
        cf_error_setf(err, CF_ERR_KEY, "no PKCS#11 token matches \"%s\"", u->clean);
        cf_error_hint(err, "Check that the token is present and that keys.module is the "
                           "module that serves it.");
        return CF_ERR_KEY;
    }
    for (size_t i = 0; rc == CF_OK && !found && i < n; i++)
        rc = search_token(kr, toks[i], u, role, &kek, &found, err);
    for (size_t i = 0; rc == CF_OK && !found && i < n; i++) {
        if (toks[i]->is_logged_in || !cf_p11_have_pin(kr, u->pin_source))
            continue; /* already searched with login, or cannot log in */
        rc = cf_p11_login(kr, toks[i], u->pin_source, err);
        if (rc == CF_OK)
            rc = search_token(kr, toks[i], u, role, &kek, &found, err);
    }
    if (rc != CF_OK)
        return rc;
    if (!found)
        return not_found(kr, u, toks, n, miss, err);
    *out = kek;
    return CF_OK;
}

cf_err
cf_p11_label_free(struct cf_keyring *kr, struct cf_p11_token *tok, const char *label,
                  struct cf_error *err)
{
    CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE objs[2];
    CK_ULONG n = 0;
    cf_err rc;

    rc = cf_p11_find(kr, tok, tmpl, 1, objs, &n, err);
    if (rc != CF_OK)
        return rc;
    if (n > 0)
        return cf_error_set(err, CF_ERR_EXISTS,
                            "a key labelled \"%s\" already exists on token \"%s\"", label,
                            tok->label);
    return CF_OK;
}
