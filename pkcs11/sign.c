/*
 * sign.c - the signing key and the trusted signers (docs/security.md).
 *
 * Each backing-up host holds an ECDSA P-256 key pair on its token
 * (keys.sign, by default object "coffre-sign" on the first KEK's token):
 * the private half is sensitive, not extractable and may only sign.  It
 * signs the SHA-256 digests that stream/signed.c computes (CKM_ECDSA,
 * signature r||s).  A signer is named by the SHA-256 of its uncompressed
 * public point.
 *
 * A reader trusts its own signing key (when its token has one) and the
 * public keys listed in keys.trust (files written by `coffre keys
 * export-signer`).  Verification runs in the HSM too: a trusted key from a
 * file becomes a session object (CKA_TOKEN false, gone when the session
 * closes) that C_Verify uses.  The trust files are read when the keyring is
 * opened, so a bad file is a configuration error before any work.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "pkcs11/p11.h"
#include "stream/hash.h"
#include "stream/signed.h"

#define SIGN_DEFAULT_OBJECT "coffre-sign"
#define P256_SIG_BYTES 64
#define ID_BYTES 8

/* DER of the OID 1.2.840.10045.3.1.7 (prime256v1, secp256r1) */
static const CK_BYTE p256_params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

static void
signer_id(const uint8_t point[CF_P11_EC_POINT_BYTES], uint8_t id[CF_SIGNER_ID_BYTES])
{
    crypto_hash_sha256(id, point, CF_P11_EC_POINT_BYTES);
}

/* ------------------------------------------------------------ the signing key URI */

static bool
is_token_field(const char *f, size_t len)
{
    static const char *const names[] = {
        "token=",          "manufacturer=",        "serial=",
        "model=",          "slot-description=",    "slot-manufacturer=",
        "slot-id=",        "library-description=", "library-manufacturer=",
        "library-version="};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (len >= strlen(names[i]) && strncmp(f, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

/*
 * keys.sign when it is not set: object "coffre-sign" on the token of the
 * first KEK, with the same PIN source (the query part is kept).
 */
static cf_err
derive_sign_uri(const char *kek, char **out, struct cf_error *err)
{
    const char *path = kek + strlen("pkcs11:"), *query = strchr(kek, '?');
    size_t path_len = query != NULL ? (size_t)(query - path) : strlen(path);
    size_t cap = strlen(kek) + sizeof(SIGN_DEFAULT_OBJECT) + 16, pos;
    char *u;

    if (strncmp(kek, "pkcs11:", 7) != 0)
        return cf_error_set(err, CF_ERR_CONFIG, "keys.kek is not a PKCS#11 URI");
    if ((u = malloc(cap)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    pos = (size_t)snprintf(u, cap, "pkcs11:");
    for (const char *f = path; f < path + path_len;) {
        const char *semi = memchr(f, ';', (size_t)(path + path_len - f));
        size_t len = semi != NULL ? (size_t)(semi - f) : (size_t)(path + path_len - f);

        if (is_token_field(f, len)) {
            memcpy(u + pos, f, len);
            pos += len;
            u[pos++] = ';';
        }
        f += len + (semi != NULL ? 1 : 0);
    }
    pos += (size_t)snprintf(u + pos, cap - pos, "object=" SIGN_DEFAULT_OBJECT "%s",
                            query != NULL ? query : "");
    (void)pos;
    *out = u;
    return CF_OK;
}

/* ------------------------------------------------------------ trust files */

static bool
hex_field(json_t *root, const char *name, uint8_t *out, size_t len)
{
    const char *hex = json_string_value(json_object_get(root, name));

    return hex != NULL && strlen(hex) == 2 * len && cf_hex_decode(hex, out, len) == 0;
}

static cf_err
read_trust_file(const char *path, struct cf_p11_trusted *t, struct cf_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    const char *label, *curve, *bad = NULL;
    uint8_t id[CF_SIGNER_ID_BYTES];

    if (root == NULL) {
        cf_error_setf(err, CF_ERR_CONFIG, "could not read trusted signer file \"%s\": %s", path,
                      jerr.text);
        cf_error_hint(err, "Export the file on the backing-up host with \"coffre keys "
                           "export-signer FILE\" and list it in keys.trust.");
        return CF_ERR_CONFIG;
    }
    label = json_string_value(json_object_get(root, "label"));
    curve = json_string_value(json_object_get(root, "curve"));
    if (json_integer_value(json_object_get(root, "coffre_signer")) != 1)
        bad = "coffre_signer";
    else if (curve == NULL || strcmp(curve, "P-256") != 0)
        bad = "curve";
    else if (label == NULL || strlen(label) > CF_SIGNER_LABEL_MAX)
        bad = "label";
    else if (!hex_field(root, "point", t->point, sizeof(t->point)) || t->point[0] != 0x04)
        bad = "point";
    else if (!hex_field(root, "id", id, sizeof(id)))
        bad = "id";
    if (bad == NULL) {
        signer_id(t->point, t->id);
        if (sodium_memcmp(id, t->id, sizeof(id)) != 0)
            bad = "id";
        else
            (void)snprintf(t->label, sizeof(t->label), "%s", label);
    }
    json_decref(root);
    if (bad != NULL)
        return cf_error_set(err, CF_ERR_CONFIG,
                            "invalid trusted signer file \"%s\": field \"%s\" is missing or "
                            "invalid",
                            path, bad);
    t->handle = CK_INVALID_HANDLE;
    return CF_OK;
}

cf_err
cf_p11_sign_setup(struct cf_keyring *kr, const struct cf_keyring_options *opts,
                  struct cf_error *err)
{
    cf_err rc;

    if (opts->sign != NULL && opts->sign[0] != '\0')
        kr->sign_uri = strdup(opts->sign);
    else if (opts->n_keks > 0 && (rc = derive_sign_uri(opts->keks[0], &kr->sign_uri, err)) != CF_OK)
        return rc;
    if ((opts->sign != NULL || opts->n_keks > 0) && kr->sign_uri == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if (kr->sign_uri != NULL) {
        struct cf_p11_uri u;

        rc = cf_p11_uri_parse(kr->sign_uri, &u, err);
        if (rc == CF_OK)
            rc = cf_p11_uri_require_key(&u, err);
        if (rc == CF_OK)
            (void)snprintf(kr->sign_clean, sizeof(kr->sign_clean), "%s", u.clean);
        cf_p11_uri_free(&u);
        if (rc != CF_OK) {
            cf_error_context(err, "in keys.sign");
            return rc;
        }
    }
    if (opts->n_trust > CF_P11_TRUST_MAX)
        return cf_error_set(err, CF_ERR_CONFIG, "too many trusted signers: %zu (at most %d)",
                            opts->n_trust, CF_P11_TRUST_MAX);
    for (size_t i = 0; i < opts->n_trust; i++) {
        struct cf_p11_trusted *t = &kr->trusted[kr->n_trusted];

        if ((rc = read_trust_file(opts->trust[i], t, err)) != CF_OK)
            return rc;
        (void)snprintf(t->source, sizeof(t->source), "%s", opts->trust[i]);
        kr->n_trusted++;
    }
    return CF_OK;
}

/* ------------------------------------------------------------ the signing key */

static cf_err
find_ec(struct cf_keyring *kr, struct cf_p11_token *tok, const struct cf_p11_uri *u,
        CK_OBJECT_CLASS klass, CK_OBJECT_HANDLE *out, bool *found, struct cf_error *err)
{
    CK_KEY_TYPE kt = CKK_EC;
    CK_ATTRIBUTE tmpl[4] = {{CKA_CLASS, &klass, sizeof(klass)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}};
    CK_ULONG n_tmpl = 2, n = 0;
    CK_OBJECT_HANDLE objs[2];
    cf_err rc;

    if (u->label.pValue != NULL)
        tmpl[n_tmpl++] = u->label;
    if (u->id.pValue != NULL)
        tmpl[n_tmpl++] = u->id;
    if ((rc = cf_p11_find(kr, tok, tmpl, n_tmpl, objs, &n, err)) != CF_OK)
        return rc;
    if (n > 1)
        return cf_error_set(err, CF_ERR_KEY,
                            "more than one signing key matches \"%s\" on token \"%s\"", u->clean,
                            tok->label);
    *found = n == 1;
    if (n == 1)
        *out = objs[0];
    return CF_OK;
}

/* The uncompressed point of an EC public key; DER OCTET STRING or raw. */
static cf_err
read_point(struct cf_keyring *kr, struct cf_p11_token *tok, CK_OBJECT_HANDLE pub, const char *what,
           uint8_t point[CF_P11_EC_POINT_BYTES], struct cf_error *err)
{
    void *params = NULL, *v = NULL;
    CK_ULONG plen = 0, len = 0;
    const uint8_t *p;
    cf_err rc;

    rc = cf_p11_get_attr(kr, tok, pub, CKA_EC_PARAMS, &params, &plen, err);
    if (rc == CF_OK && (plen != sizeof(p256_params) || memcmp(params, p256_params, plen) != 0))
        rc = cf_error_set(err, CF_ERR_KEY, "signing key \"%s\" is not on curve P-256", what);
    if (rc == CF_OK)
        rc = cf_p11_get_attr(kr, tok, pub, CKA_EC_POINT, &v, &len, err);
    p = v;
    if (rc == CF_OK && len == CF_P11_EC_POINT_BYTES + 2 && p[0] == 0x04 &&
        p[1] == CF_P11_EC_POINT_BYTES) {
        p += 2; /* OCTET STRING, as PKCS#11 v2.20+ says */
        len -= 2;
    }
    if (rc == CF_OK && (len != CF_P11_EC_POINT_BYTES || p[0] != 0x04))
        rc = cf_error_set(err, CF_ERR_KEY,
                          "the public half of signing key \"%s\" is not an uncompressed "
                          "P-256 point",
                          what);
    if (rc == CF_OK)
        memcpy(point, p, CF_P11_EC_POINT_BYTES);
    free(params);
    free(v);
    return rc;
}

/*
 * Resolve keys.sign: its public half (no login: a public object), and,
 * when need_private, its private half (after login).  Cached.
 */
static cf_err
signer_resolve(struct cf_keyring *kr, bool need_private, struct cf_error *err)
{
    struct cf_p11_signer *s = &kr->signer;
    struct cf_p11_token *toks[CF_P11_TOKENS_MAX];
    struct cf_p11_uri u;
    size_t n = 0;
    bool found = false;
    cf_err rc;

    if (kr->sign_uri == NULL)
        return cf_error_set(err, CF_ERR_KEY, "no signing key is configured (keys.sign)");
    if (s->has_public && (!need_private || s->has_private))
        return CF_OK;
    if ((rc = cf_p11_uri_parse(kr->sign_uri, &u, err)) != CF_OK)
        return rc;
    if (!s->has_public) {
        rc = cf_p11_tokens_match(kr, &u, toks, CF_P11_TOKENS_MAX, &n, err);
        for (size_t i = 0; rc == CF_OK && !found && i < n; i++) {
            rc = find_ec(kr, toks[i], &u, CKO_PUBLIC_KEY, &s->pub, &found, err);
            if (rc == CF_OK && found)
                s->tok = toks[i];
        }
        if (rc == CF_OK && !found) {
            cf_error_setf(err, CF_ERR_KEY, "no signing key matches \"%s\"", u.clean);
            cf_error_hint(err, "Create it with \"coffre keys init --sign\" (or set keys.sign to "
                               "the URI of an existing ECDSA P-256 key pair).");
            rc = CF_ERR_KEY;
        }
        if (rc == CF_OK)
            rc = read_point(kr, s->tok, s->pub, u.clean, s->point, err);
        if (rc == CF_OK) {
            CK_ATTRIBUTE a = u.label;

            signer_id(s->point, s->id);
            cf_p11_attr_string(&a, s->label, sizeof(s->label));
            s->has_public = true;
        }
    }
    if (rc == CF_OK && need_private && !s->has_private) {
        rc = cf_p11_login(kr, s->tok, u.pin_source, err);
        if (rc == CF_OK)
            rc = find_ec(kr, s->tok, &u, CKO_PRIVATE_KEY, &s->priv, &found, err);
        if (rc == CF_OK && !found) {
            cf_error_setf(err, CF_ERR_KEY, "signing key \"%s\" has no private half on token \"%s\"",
                          u.clean, s->tok->label);
            cf_error_detail(err, "Only its public key is there: this host can check signatures "
                                 "but cannot sign.");
            rc = CF_ERR_KEY;
        }
        s->has_private = rc == CF_OK;
    }
    cf_p11_uri_free(&u);
    return rc;
}

static cf_err
sign_locked(struct cf_keyring *kr, const uint8_t digest[32], struct cf_signature *out,
            struct cf_error *err)
{
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    CK_ULONG len = sizeof(out->value);
    const char *fn = "C_SignInit";
    cf_err rc;
    CK_RV rv;

    if ((rc = signer_resolve(kr, true, err)) != CF_OK)
        return rc;
    rv = kr->mod->C_SignInit(kr->signer.tok->session, &mech, kr->signer.priv);
    if (rv == CKR_OK) {
        fn = "C_Sign";
        rv = kr->mod->C_Sign(kr->signer.tok->session, (CK_BYTE_PTR)digest, 32, out->value, &len);
    }
    if (rv != CKR_OK)
        return cf_p11_fail(err, fn, rv, "could not sign with key \"%s\" on token \"%s\"",
                           kr->sign_clean, kr->signer.tok->label);
    if (len != P256_SIG_BYTES)
        return cf_error_set(err, CF_ERR_KEY, "signing key \"%s\" returned a %lu-byte signature",
                            kr->sign_clean, (unsigned long)len);
    out->alg = CF_SIG_ECDSA_P256;
    out->len = (uint16_t)len;
    memcpy(out->signer, kr->signer.id, sizeof(out->signer));
    (void)snprintf(out->label, sizeof(out->label), "%s", kr->signer.label);
    return CF_OK;
}

cf_err
cf_p11_keyops_sign(void *ctx, const uint8_t digest[32], struct cf_signature *out,
                   struct cf_error *err)
{
    struct cf_keyring *kr = ctx;
    cf_err rc;

    pthread_mutex_lock(&kr->lock);
    rc = sign_locked(kr, digest, out, err);
    pthread_mutex_unlock(&kr->lock);
    return rc;
}

/* ------------------------------------------------------------ verification */

/* A token to run C_Verify on: the signing key's, else the first KEK's. */
static cf_err
verify_token(struct cf_keyring *kr, struct cf_p11_token **out, struct cf_error *err)
{
    struct cf_p11_uri u;
    size_t n = 0;
    cf_err rc;

    if (kr->signer.has_public) {
        *out = kr->signer.tok;
        return CF_OK;
    }
    if (kr->n_keks == 0)
        return cf_error_set(err, CF_ERR_KEY, "no token to check signatures with");
    if ((rc = cf_p11_uri_parse(kr->keks[0], &u, err)) != CF_OK)
        return rc;
    rc = cf_p11_tokens_match(kr, &u, out, 1, &n, err);
    if (rc == CF_OK && n == 0)
        rc = cf_error_set(err, CF_ERR_KEY, "no PKCS#11 token matches \"%s\"", u.clean);
    cf_p11_uri_free(&u);
    return rc;
}

static cf_err
trusted_handle(struct cf_keyring *kr, struct cf_p11_trusted *t, struct cf_error *err)
{
    CK_OBJECT_CLASS klass = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_BYTE der[CF_P11_EC_POINT_BYTES + 2] = {0x04, CF_P11_EC_POINT_BYTES};
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &klass, sizeof(klass)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, &no, sizeof(no)},
        {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_EC_PARAMS, (void *)p256_params, sizeof(p256_params)},
        {CKA_EC_POINT, der, sizeof(der)},
    };
    cf_err rc;
    CK_RV rv;

    if (t->handle != CK_INVALID_HANDLE)
        return CF_OK;
    if ((rc = verify_token(kr, &t->tok, err)) != CF_OK)
        return rc;
    memcpy(der + 2, t->point, CF_P11_EC_POINT_BYTES);
    rv = kr->mod->C_CreateObject(t->tok->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &t->handle);
    if (rv != CKR_OK) {
        t->handle = CK_INVALID_HANDLE;
        return cf_p11_fail(err, "C_CreateObject", rv,
                           "could not load trusted signer \"%s\" into token \"%s\"", t->source,
                           t->tok->label);
    }
    return CF_OK;
}

static cf_err
untrusted(const struct cf_signature *sig, struct cf_error *err)
{
    char hex[17];

    cf_signer_short(sig->signer, hex);
    cf_error_setf(err, CF_ERR_KEY,
                  "signed by key %s (label \"%s\"), which this host does not "
                  "trust",
                  hex, sig->label);
    cf_error_detail(err, "A host trusts its own signing key (keys.sign) and the keys listed in "
                         "keys.trust; a backup written with another key may be forged.");
    cf_error_hint(err, "If the backing-up host is yours, run \"coffre keys export-signer FILE\" "
                       "there and add FILE to keys.trust here.");
    return CF_ERR_KEY;
}

static cf_err
verify_locked(struct cf_keyring *kr, const uint8_t digest[32], const struct cf_signature *sig,
              struct cf_error *err)
{
    struct cf_error ignored = CF_ERROR_INIT;
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    struct cf_p11_token *tok = NULL;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    const char *fn = "C_VerifyInit";
    size_t id_len = sig->signer_len > 0 && sig->signer_len < CF_SIGNER_ID_BYTES
                        ? sig->signer_len
                        : CF_SIGNER_ID_BYTES;
    char hex[17];
    cf_err rc;
    CK_RV rv;

    if (sig->alg != CF_SIG_ECDSA_P256)
        return cf_error_set(err, CF_ERR_CORRUPT, "unsupported signature algorithm %u", sig->alg);
    /* our own key, when this host has one: its absence is not an error here (looked
     * up once per keyring: `list` checks every backup) */
    if (kr->sign_uri != NULL && !kr->signer.has_public && !kr->signer.was_looked_up) {
        (void)signer_resolve(kr, false, &ignored);
        kr->signer.was_looked_up = true;
    }
    if (kr->signer.has_public && sodium_memcmp(sig->signer, kr->signer.id, id_len) == 0) {
        tok = kr->signer.tok;
        key = kr->signer.pub;
    }
    for (size_t i = 0; key == CK_INVALID_HANDLE && i < kr->n_trusted; i++) {
        struct cf_p11_trusted *t = &kr->trusted[i];

        if (sodium_memcmp(sig->signer, t->id, id_len) != 0)
            continue;
        if ((rc = trusted_handle(kr, t, err)) != CF_OK)
            return rc;
        tok = t->tok;
        key = t->handle;
    }
    if (key == CK_INVALID_HANDLE)
        return untrusted(sig, err);
    rv = kr->mod->C_VerifyInit(tok->session, &mech, key);
    if (rv == CKR_OK) {
        fn = "C_Verify";
        rv = kr->mod->C_Verify(tok->session, (CK_BYTE_PTR)digest, 32, (CK_BYTE_PTR)sig->value,
                               sig->len);
    }
    if (rv == CKR_OK)
        return CF_OK;
    cf_signer_short(sig->signer, hex);
    if (rv == CKR_SIGNATURE_INVALID || rv == CKR_SIGNATURE_LEN_RANGE) {
        cf_error_setf(err, CF_ERR_CORRUPT,
                      "the signature by key %s does not match the "
                      "signed text",
                      hex);
        cf_error_detail(err, "The object was changed after it was signed, or copied from "
                             "another backup or instance.");
        return CF_ERR_CORRUPT;
    }
    return cf_p11_fail(err, fn, rv, "could not check a signature by key %s on token \"%s\"", hex,
                       tok->label);
}

cf_err
cf_p11_keyops_verify(void *ctx, const uint8_t digest[32], const struct cf_signature *sig,
                     struct cf_error *err)
{
    struct cf_keyring *kr = ctx;
    cf_err rc;

    pthread_mutex_lock(&kr->lock);
    rc = verify_locked(kr, digest, sig, err);
    pthread_mutex_unlock(&kr->lock);
    return rc;
}

/* ------------------------------------------------------------ keys init, export, check */

static cf_err
create_signer_locked(struct cf_keyring *kr, struct cf_error *err)
{
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    struct cf_p11_token *tok = NULL;
    struct cf_p11_uri u;
    char label[CF_SIGNER_LABEL_MAX + 1];
    CK_BYTE id[ID_BYTES];
    CK_OBJECT_HANDLE hpub, hpriv;
    cf_err rc;
    CK_RV rv;

    if (kr->sign_uri == NULL)
        return cf_error_set(err, CF_ERR_CONFIG, "no signing key is configured (keys.sign)");
    if ((rc = cf_p11_uri_parse(kr->sign_uri, &u, err)) != CF_OK)
        return rc;
    if (u.label.pValue == NULL || u.label.ulValueLen == 0 ||
        u.label.ulValueLen > CF_SIGNER_LABEL_MAX) {
        cf_p11_uri_free(&u);
        return cf_error_set(err, CF_ERR_USAGE,
                            "keys.sign \"%s\" needs an object label of 1 to "
                            "%d bytes",
                            kr->sign_clean, CF_SIGNER_LABEL_MAX);
    }
    cf_p11_attr_string(&u.label, label, sizeof(label));
    if (u.id.pValue != NULL && u.id.ulValueLen == ID_BYTES)
        memcpy(id, u.id.pValue, ID_BYTES);
    else
        randombytes_buf(id, sizeof(id)); /* pkcs11-tool pairs the halves by CKA_ID */
    rc = cf_p11_token_one(kr, &u, &tok, err);
    if (rc == CF_OK)
        rc = cf_p11_login(kr, tok, u.pin_source, err);
    if (rc == CF_OK)
        rc = cf_p11_label_free(kr, tok, label, err);
    if (rc == CF_OK) {
        CK_ATTRIBUTE pub[] = {
            {CKA_TOKEN, &yes, sizeof(yes)},
            {CKA_PRIVATE, &no, sizeof(no)}, /* readers find it without a PIN */
            {CKA_VERIFY, &yes, sizeof(yes)},
            {CKA_ENCRYPT, &no, sizeof(no)},
            {CKA_WRAP, &no, sizeof(no)},
            {CKA_EC_PARAMS, (void *)p256_params, sizeof(p256_params)},
            {CKA_LABEL, label, strlen(label)},
            {CKA_ID, id, sizeof(id)},
        };
        CK_ATTRIBUTE priv[] = {
            {CKA_TOKEN, &yes, sizeof(yes)},     {CKA_PRIVATE, &yes, sizeof(yes)},
            {CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_EXTRACTABLE, &no, sizeof(no)},
            {CKA_SIGN, &yes, sizeof(yes)},      {CKA_DECRYPT, &no, sizeof(no)},
            {CKA_DERIVE, &no, sizeof(no)},      {CKA_UNWRAP, &no, sizeof(no)},
            {CKA_LABEL, label, strlen(label)},  {CKA_ID, id, sizeof(id)},
        };

        rv = kr->mod->C_GenerateKeyPair(tok->session, &mech, pub, sizeof(pub) / sizeof(pub[0]),
                                        priv, sizeof(priv) / sizeof(priv[0]), &hpub, &hpriv);
        if (rv != CKR_OK)
            rc = cf_p11_fail(err, "C_GenerateKeyPair", rv,
                             "could not create ECDSA P-256 signing key \"%s\" on token \"%s\"",
                             label, tok->label);
    }
    cf_p11_uri_free(&u);
    return rc;
}

cf_err
cf_keyring_create_signer(struct cf_keyring *kr, struct cf_error *err)
{
    cf_err rc;

    pthread_mutex_lock(&kr->lock);
    rc = create_signer_locked(kr, err);
    pthread_mutex_unlock(&kr->lock);
    return rc;
}

static cf_err
export_signer_locked(struct cf_keyring *kr, const char *path, struct cf_error *err)
{
    char point[2 * CF_P11_EC_POINT_BYTES + 1], id[2 * CF_SIGNER_ID_BYTES + 1];
    json_t *root;
    cf_err rc;

    if ((rc = signer_resolve(kr, false, err)) != CF_OK)
        return rc;
    cf_hex_encode(kr->signer.point, CF_P11_EC_POINT_BYTES, point);
    cf_hex_encode(kr->signer.id, CF_SIGNER_ID_BYTES, id);
    root = json_pack("{s:i, s:s, s:s, s:s, s:s}", "coffre_signer", 1, "label", kr->signer.label,
                     "curve", "P-256", "point", point, "id", id);
    if (root == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if (json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        rc = cf_error_set_errno(err, CF_ERR_IO, errno, "could not write signer file \"%s\"", path);
    json_decref(root);
    return rc;
}

cf_err
cf_keyring_export_signer(struct cf_keyring *kr, const char *path, struct cf_error *err)
{
    cf_err rc;

    pthread_mutex_lock(&kr->lock);
    rc = export_signer_locked(kr, path, err);
    pthread_mutex_unlock(&kr->lock);
    return rc;
}

cf_err
cf_keyring_signer_status(struct cf_keyring *kr, struct cf_signer_status *st)
{
    struct cf_error e = CF_ERROR_INIT;

    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&kr->lock);
    st->uri = kr->sign_uri != NULL ? kr->sign_clean : NULL;
    if (kr->sign_uri != NULL && signer_resolve(kr, false, &e) == CF_OK) {
        st->is_present = true;
        cf_hex_encode(kr->signer.id, CF_SIGNER_ID_BYTES, st->id);
        (void)snprintf(st->token_label, sizeof(st->token_label), "%s", kr->signer.tok->label);
    } else {
        (void)snprintf(st->problem, sizeof(st->problem), "%s", e.msg);
    }
    st->n_trusted = kr->n_trusted;
    for (size_t i = 0; i < kr->n_trusted && i < CF_P11_TRUST_MAX; i++) {
        cf_hex_encode(kr->trusted[i].id, CF_SIGNER_ID_BYTES, st->trusted[i].id);
        st->trusted[i].source = kr->trusted[i].source;
        st->trusted[i].label = kr->trusted[i].label;
    }
    pthread_mutex_unlock(&kr->lock);
    return CF_OK;
}

cf_err
cf_keyring_check_signer(struct cf_keyring *kr, struct cf_error *err)
{
    static const char check_text[] = "coffre keys check";
    struct cf_signature sig;
    uint8_t digest[32];
    cf_err rc;

    crypto_hash_sha256(digest, (const unsigned char *)check_text, sizeof(check_text));
    memset(&sig, 0, sizeof(sig));
    rc = cf_p11_keyops_sign(kr, digest, &sig, err);
    if (rc == CF_OK)
        rc = cf_p11_keyops_verify(kr, digest, &sig, err);
    if (rc == CF_OK) {
        digest[0] ^= 1; /* a check that cannot fail proves nothing */
        if (cf_p11_keyops_verify(kr, digest, &sig, &(struct cf_error)CF_ERROR_INIT) == CF_OK)
            rc = cf_error_set(err, CF_ERR_KEY, "signing key \"%s\" verified a wrong digest",
                              kr->sign_clean);
    }
    if (rc != CF_OK)
        cf_error_context(err, "while checking signing key \"%s\"",
                         kr->sign_clean[0] != '\0' ? kr->sign_clean : "?");
    return rc;
}
