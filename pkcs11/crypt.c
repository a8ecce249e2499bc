/*
 * crypt.c - wrap and unwrap data keys: the struct cf_keyops of a keyring.
 *
 * AES-256 KEK: CKM_AES_GCM, random 96-bit IV, 128-bit tag, AAD = header core;
 *   wrapped = iv(12) || ciphertext(32) || tag(16).
 * RSA KEK: CKM_RSA_PKCS_OAEP, SHA-256 and MGF1-SHA-256, no label; the public
 *   key wraps (no login), the private key unwraps.
 * Unwrapped bytes land in sodium_malloc'd memory first, because the module's
 * output length is only known after C_Decrypt; they are wiped on every path.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "pkcs11/p11.h"

#define GCM_IV_BYTES 12
#define GCM_TAG_BYTES 16
#define GCM_WRAPPED_BYTES (GCM_IV_BYTES + CF_DEK_BYTES + GCM_TAG_BYTES)

static void
gcm_mechanism(CK_MECHANISM *mech, CK_GCM_PARAMS *gcm, const uint8_t *iv, const uint8_t *aad,
              size_t aad_len)
{
    memset(gcm, 0, sizeof(*gcm));
    gcm->pIv = (CK_BYTE_PTR)iv;
    gcm->ulIvLen = GCM_IV_BYTES;
    /* SoftHSM reads ulIvBits, the spec ulIvLen: set both */
    gcm->ulIvBits = (CK_ULONG)GCM_IV_BYTES * 8;
    gcm->pAAD = (CK_BYTE_PTR)aad;
    gcm->ulAADLen = aad_len;
    gcm->ulTagBits = (CK_ULONG)GCM_TAG_BYTES * 8;
    mech->mechanism = CKM_AES_GCM;
    mech->pParameter = gcm;
    mech->ulParameterLen = sizeof(*gcm);
}

/*
 * SoftHSM 2.6 implements OAEP only with SHA-1 and MGF1-SHA-1 (C_EncryptInit
 * returns CKR_ARGUMENTS_BAD for SHA-256).  Such a module gets SHA-1 OAEP and a
 * recipient of its own kind, so unwrap never guesses the hash.  OAEP's
 * security does not rest on collision resistance, so SHA-1 stays sound here.
 */
static void
oaep_mechanism(CK_MECHANISM *mech, CK_RSA_PKCS_OAEP_PARAMS *oaep, bool is_sha1)
{
    oaep->hashAlg = is_sha1 ? CKM_SHA_1 : CKM_SHA256;
    oaep->mgf = is_sha1 ? CKG_MGF1_SHA1 : CKG_MGF1_SHA256;
    oaep->source = CKZ_DATA_SPECIFIED;
    oaep->pSourceData = NULL;
    oaep->ulSourceDataLen = 0;
    mech->mechanism = CKM_RSA_PKCS_OAEP;
    mech->pParameter = oaep;
    mech->ulParameterLen = sizeof(*oaep);
}

static CK_RV
encrypt(struct cf_keyring *kr, const struct cf_p11_kek *kek, CK_MECHANISM *mech,
        const uint8_t dek[CF_DEK_BYTES], uint8_t *ct, CK_ULONG *ct_len, const char **fn)
{
    CK_RV rv;

    *fn = "C_EncryptInit";
    rv = kr->mod->C_EncryptInit(kek->tok->session, mech, kek->key);
    if (rv != CKR_OK)
        return rv;
    *fn = "C_Encrypt";
    return kr->mod->C_Encrypt(kek->tok->session, (CK_BYTE_PTR)dek, CF_DEK_BYTES, ct, ct_len);
}

static CK_RV
rsa_encrypt(struct cf_keyring *kr, const struct cf_p11_kek *kek, const uint8_t dek[CF_DEK_BYTES],
            struct cf_recipient *out, const char **fn)
{
    CK_MECHANISM mech;
    CK_RSA_PKCS_OAEP_PARAMS oaep;
    CK_ULONG len = sizeof(out->wrapped);
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (!kr->is_oaep_sha1) {
        oaep_mechanism(&mech, &oaep, false);
        rv = encrypt(kr, kek, &mech, dek, out->wrapped, &len, fn);
        if (rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID) {
            cf_log_warning("PKCS#11 module \"%s\" rejects RSA-OAEP with SHA-256: using SHA-1",
                           kr->module_path);
            kr->is_oaep_sha1 = true; /* a property of the module: do not retry every object */
        }
    }
    if (kr->is_oaep_sha1) {
        len = sizeof(out->wrapped);
        oaep_mechanism(&mech, &oaep, true);
        rv = encrypt(kr, kek, &mech, dek, out->wrapped, &len, fn);
    }
    out->kind = kr->is_oaep_sha1 ? CF_RECIPIENT_RSA_OAEP_SHA1 : CF_RECIPIENT_RSA_OAEP;
    out->wrapped_len = (uint16_t)len;
    return rv;
}

static CK_RV
aes_encrypt(struct cf_keyring *kr, const struct cf_p11_kek *kek, const uint8_t dek[CF_DEK_BYTES],
            const uint8_t *aad, size_t aad_len, struct cf_recipient *out, const char **fn)
{
    CK_MECHANISM mech;
    CK_GCM_PARAMS gcm;
    CK_ULONG len = sizeof(out->wrapped) - GCM_IV_BYTES;
    CK_RV rv;

    randombytes_buf(out->wrapped, GCM_IV_BYTES);
    gcm_mechanism(&mech, &gcm, out->wrapped, aad, aad_len);
    rv = encrypt(kr, kek, &mech, dek, out->wrapped + GCM_IV_BYTES, &len, fn);
    if (rv == CKR_OK && len != CF_DEK_BYTES + GCM_TAG_BYTES)
        rv = CKR_GENERAL_ERROR; /* a module bug; never store a short recipient */
    out->kind = CF_RECIPIENT_AES_GCM;
    out->wrapped_len = (uint16_t)(GCM_IV_BYTES + len);
    return rv;
}

cf_err
cf_p11_wrap_one(struct cf_keyring *kr, const struct cf_p11_kek *kek, const char *uri,
                const uint8_t dek[CF_DEK_BYTES], const uint8_t *aad, size_t aad_len,
                struct cf_recipient *out, struct cf_error *err)
{
    const char *fn = "C_Encrypt";
    CK_RV rv;

    memset(out, 0, sizeof(*out));
    if (kek->type == CF_KEK_AES)
        rv = aes_encrypt(kr, kek, dek, aad, aad_len, out, &fn);
    else
        rv = rsa_encrypt(kr, kek, dek, out, &fn);
    if (rv != CKR_OK) {
        memset(out, 0, sizeof(*out));
        return cf_p11_fail(err, fn, rv, "could not wrap a data key with \"%s\" on token \"%s\"",
                           uri, kek->tok->label);
    }
    (void)snprintf(out->uri, sizeof(out->uri), "%s", uri);
    return CF_OK;
}

static cf_err
decrypt(struct cf_keyring *kr, const struct cf_p11_kek *kek, CK_MECHANISM *mech,
        const uint8_t *in, size_t in_len, uint8_t dek[CF_DEK_BYTES], struct cf_error *err)
{
    CK_SESSION_HANDLE s = kek->tok->session;
    CK_ULONG len = CF_RECIPIENT_WRAPPED_MAX;
    uint8_t *plain = sodium_malloc(CF_RECIPIENT_WRAPPED_MAX);
    cf_err rc = CF_OK;
    CK_RV rv;

    if (plain == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rv = kr->mod->C_DecryptInit(s, mech, kek->key);
    if (rv != CKR_OK)
        rc = cf_p11_fail(err, "C_DecryptInit", rv, "could not unwrap");
    else if ((rv = kr->mod->C_Decrypt(s, (CK_BYTE_PTR)in, in_len, plain, &len)) != CKR_OK)
        rc = cf_p11_fail(err, "C_Decrypt", rv, "could not unwrap");
    else if (len != CF_DEK_BYTES)
        rc = cf_error_set(err, CF_ERR_KEY, "could not unwrap: unwrapped key is %lu bytes, not %d",
                          len, CF_DEK_BYTES);
    else
        memcpy(dek, plain, CF_DEK_BYTES);
    sodium_free(plain); /* wipes */
    return rc;
}

cf_err
cf_p11_unwrap_one(struct cf_keyring *kr, const struct cf_p11_kek *kek,
                  const struct cf_recipient *r, const uint8_t *aad, size_t aad_len,
                  uint8_t dek[CF_DEK_BYTES], struct cf_error *err)
{
    CK_MECHANISM mech;
    CK_GCM_PARAMS gcm;
    CK_RSA_PKCS_OAEP_PARAMS oaep;

    if (r->wrapped_len > sizeof(r->wrapped))
        return cf_error_set(err, CF_ERR_CORRUPT, "could not unwrap: wrapped key is too long");
    if (r->kind == CF_RECIPIENT_AES_GCM && kek->type == CF_KEK_AES) {
        if (r->wrapped_len != GCM_WRAPPED_BYTES)
            return cf_error_set(err, CF_ERR_CORRUPT,
                                "could not unwrap: AES-GCM wrapped key is %u bytes, not %d",
                                (unsigned)r->wrapped_len, GCM_WRAPPED_BYTES);
        gcm_mechanism(&mech, &gcm, r->wrapped, aad, aad_len);
        return decrypt(kr, kek, &mech, r->wrapped + GCM_IV_BYTES,
                       r->wrapped_len - GCM_IV_BYTES, dek, err);
    }
    if ((r->kind == CF_RECIPIENT_RSA_OAEP || r->kind == CF_RECIPIENT_RSA_OAEP_SHA1) &&
        kek->type == CF_KEK_RSA) {
        oaep_mechanism(&mech, &oaep, r->kind == CF_RECIPIENT_RSA_OAEP_SHA1);
        return decrypt(kr, kek, &mech, r->wrapped, r->wrapped_len, dek, err);
    }
    return cf_error_set(err, CF_ERR_KEY, "could not unwrap: the key's type does not match the "
                                         "recipient's kind %u", (unsigned)r->kind);
}

cf_err
cf_p11_keyops_wrap(void *ctx, const uint8_t dek[CF_DEK_BYTES], const uint8_t *aad,
                   size_t aad_len, struct cf_recipient *out, size_t max, size_t *n,
                   struct cf_error *err)
{
    struct cf_keyring *kr = ctx;
    cf_err rc = CF_OK;

    if (kr->n_keks == 0 || kr->n_keks > max)
        return cf_error_set(err, kr->n_keks == 0 ? CF_ERR_CONFIG : CF_ERR_INTERNAL,
                            "cannot wrap a data key for %zu key-encryption keys", kr->n_keks);
    pthread_mutex_lock(&kr->lock);
    /* All or nothing: an object must never get fewer recipients than configured. */
    for (size_t i = 0; rc == CF_OK && i < kr->n_keks; i++) {
        struct cf_p11_uri u;
        struct cf_p11_kek kek;
        enum cf_p11_miss miss;

        rc = cf_p11_uri_parse(kr->keks[i], &u, err);
        if (rc == CF_OK)
            rc = cf_p11_kek_find(kr, &u, CF_P11_WRAP, &kek, &miss, err);
        if (rc == CF_OK)
            rc = cf_p11_wrap_one(kr, &kek, u.clean, dek, aad, aad_len, &out[i], err);
        cf_p11_uri_free(&u);
    }
    pthread_mutex_unlock(&kr->lock);
    if (rc != CF_OK) {
        sodium_memzero(out, sizeof(*out) * kr->n_keks);
        return rc;
    }
    *n = kr->n_keks;
    return CF_OK;
}

/* Try one recipient; on failure write a short reason to why. */
static bool
try_recipient(struct cf_keyring *kr, const struct cf_recipient *r, const uint8_t *aad,
              size_t aad_len, uint8_t dek[CF_DEK_BYTES], char *why, size_t why_size)
{
    struct cf_error e = CF_ERROR_INIT;
    struct cf_p11_uri u;
    struct cf_p11_kek kek;
    enum cf_p11_miss miss = CF_P11_MISS_NONE;
    char uri[CF_RECIPIENT_URI_MAX + 1], clean[CF_RECIPIENT_URI_MAX + 1];
    const char *reason = e.msg;
    int configured = -1;
    cf_err rc;

    /* The stored URI comes from an untrusted header: never trust its termination. */
    memcpy(uri, r->uri, CF_RECIPIENT_URI_MAX);
    uri[CF_RECIPIENT_URI_MAX] = '\0';
    if (cf_p11_uri_strip_pin(uri, clean, sizeof(clean), &e) != CF_OK) {
        (void)snprintf(why, why_size, "invalid URI");
        return false;
    }
    /* Only the keys our configuration names, looked up by the configured URI with its PIN
     * source: a crafted header can neither choose a token we log in to (burning its retry
     * counter) nor a file we send to C_Login. */
    for (size_t i = 0; i < kr->n_uris && configured < 0; i++)
        if (strcmp(kr->kek_clean[i], clean) == 0)
            configured = (int)i;
    if (configured < 0) {
        (void)snprintf(why, why_size, "not configured here (keys.kek, keys.read)");
        return false;
    }
    rc = cf_p11_uri_parse(kr->keks[configured], &u, &e);
    if (rc == CF_OK)
        rc = cf_p11_kek_find(kr, &u, CF_P11_UNWRAP, &kek, &miss, &e);
    if (rc == CF_OK)
        rc = cf_p11_unwrap_one(kr, &kek, r, aad, aad_len, dek, &e);
    cf_p11_uri_free(&u);
    if (rc == CF_OK)
        return true;
    if (miss == CF_P11_MISS_TOKEN)
        reason = "token not present";
    else if (miss == CF_P11_MISS_KEY)
        reason = "key not found";
    else if (strncmp(e.msg, "could not unwrap: ", 18) == 0)
        reason = e.msg + 18;
    if (snprintf(why, why_size, "%s", reason) < 0)
        why[0] = '\0';
    return false;
}

static void
append_reason(char *detail, size_t size, const char *uri, const char *why)
{
    size_t len = strlen(detail);

    /* Truncation is acceptable: the first recipients matter most and the sentence stays
     * readable. */
    if (len < size - 1 && snprintf(detail + len, size - len, "%sRecipient \"%.*s\": %s.",
                                   len > 0 ? " " : "", CF_RECIPIENT_URI_MAX, uri, why) < 0)
        detail[len] = '\0';
}

cf_err
cf_p11_keyops_unwrap(void *ctx, const struct cf_recipient *rs, size_t n, const uint8_t *aad,
                     size_t aad_len, uint8_t dek[CF_DEK_BYTES], struct cf_error *err)
{
    struct cf_keyring *kr = ctx;
    char detail[sizeof(err->detail)] = "", why[256];
    bool ok = false;

    bool has_required = false;

    pthread_mutex_lock(&kr->lock);
    for (size_t i = 0; !ok && i < n; i++) {
        /* keys.require: that recipient alone decides */
        if (kr->require >= 0 &&
            strncmp(rs[i].uri, kr->kek_clean[kr->require], CF_RECIPIENT_URI_MAX) != 0)
            continue;
        has_required = true;
        ok = try_recipient(kr, &rs[i], aad, aad_len, dek, why, sizeof(why));
        if (!ok)
            append_reason(detail, sizeof(detail), rs[i].uri, why);
    }
    pthread_mutex_unlock(&kr->lock);
    if (ok)
        return CF_OK;
    if (kr->require >= 0 && !has_required) {
        cf_error_setf(err, CF_ERR_KEY, "this object is not wrapped for the required key \"%s\"",
                      kr->kek_clean[kr->require]);
        cf_error_detail(err,
                        "keys.require names the key every object must open with; this "
                        "object has %zu other recipient(s).",
                        n);
        cf_error_hint(err, "Run \"coffre keys check\" to list the keys the stored objects "
                           "name.");
        return CF_ERR_KEY;
    }
    cf_error_setf(err, CF_ERR_KEY, "no key can decrypt this object");
    cf_error_detail(err, "%s", n > 0 ? detail : "The object has no recipients.");
    cf_error_hint(err, "Check that keys.kek (or keys.read, for retired keys) names one of the "
                       "recipients above, that its token is present, and run \"coffre keys "
                       "check\".");
    return CF_ERR_KEY;
}
