/*
 * keygen.c - create key-encryption keys on a token (`coffre keys init`).
 *
 * Keys are generated inside the token, CKA_SENSITIVE and not extractable, so
 * the KEK never exists outside the HSM.  Neither half may wrap other keys
 * (CKA_WRAP false): the KEK only encrypts our 32-byte data keys through
 * C_Encrypt, and a key that can C_WrapKey could be used to export others.
 */
#include <string.h>

#include <sodium.h>

#include "pkcs11/p11.h"

#define RSA_DEFAULT_BITS 3072
#define LABEL_MAX 128
#define ID_MAX 64
#define RANDOM_ID_BYTES 8

struct key_name {
    char label[LABEL_MAX + 1];
    CK_BYTE id[ID_MAX];
    CK_ULONG id_len;
};

static cf_err
gen_aes(struct cf_keyring *kr, struct cf_p11_token *tok, const struct key_name *kn,
        struct cf_error *err)
{
    CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG len = 32;
    CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &klass, sizeof(klass)},     {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_VALUE_LEN, &len, sizeof(len)},     {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},       {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},     {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_DECRYPT, &yes, sizeof(yes)},       {CKA_WRAP, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},          {CKA_LABEL, (void *)kn->label, strlen(kn->label)},
        {CKA_ID, (void *)kn->id, kn->id_len},
    };
    CK_OBJECT_HANDLE key;
    CK_RV rv;

    rv = kr->mod->C_GenerateKey(tok->session, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &key);
    if (rv != CKR_OK)
        return cf_p11_fail(err, "C_GenerateKey", rv,
                           "could not create AES key \"%s\" on token \"%s\"", kn->label,
                           tok->label);
    return CF_OK;
}

static cf_err
gen_rsa(struct cf_keyring *kr, struct cf_p11_token *tok, const struct key_name *kn,
        unsigned bits, struct cf_error *err)
{
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG mod_bits = bits;
    CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    CK_ATTRIBUTE pub[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        /* Public object: a write-only host wraps with it without logging in. */
        {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_VERIFY, &no, sizeof(no)},
        {CKA_WRAP, &no, sizeof(no)},
        {CKA_MODULUS_BITS, &mod_bits, sizeof(mod_bits)},
        {CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)},
        {CKA_LABEL, (void *)kn->label, strlen(kn->label)},
        {CKA_ID, (void *)kn->id, kn->id_len},
    };
    CK_ATTRIBUTE priv[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},       {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},   {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_DECRYPT, &yes, sizeof(yes)},     {CKA_SIGN, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},        {CKA_LABEL, (void *)kn->label, strlen(kn->label)},
        {CKA_ID, (void *)kn->id, kn->id_len},
    };
    CK_OBJECT_HANDLE hpub, hpriv;
    CK_RV rv;

    rv = kr->mod->C_GenerateKeyPair(tok->session, &mech, pub, sizeof(pub) / sizeof(pub[0]), priv,
                                    sizeof(priv) / sizeof(priv[0]), &hpub, &hpriv);
    if (rv != CKR_OK)
        return cf_p11_fail(err, "C_GenerateKeyPair", rv,
                           "could not create RSA key pair \"%s\" on token \"%s\"", kn->label,
                           tok->label);
    return CF_OK;
}

static cf_err
key_name(const struct cf_p11_uri *u, struct key_name *kn, struct cf_error *err)
{
    if (u->label.pValue == NULL || u->label.ulValueLen == 0) {
        cf_error_setf(err, CF_ERR_USAGE, "PKCS#11 URI \"%s\" has no object label", u->clean);
        cf_error_hint(err, "Name the new key with object=LABEL.");
        return CF_ERR_USAGE;
    }
    if (u->label.ulValueLen > LABEL_MAX || u->id.ulValueLen > ID_MAX)
        return cf_error_set(err, CF_ERR_USAGE, "label or id of \"%s\" is too long", u->clean);
    cf_p11_attr_string(&u->label, kn->label, sizeof(kn->label));
    if (u->id.pValue != NULL && u->id.ulValueLen > 0) {
        memcpy(kn->id, u->id.pValue, u->id.ulValueLen);
        kn->id_len = u->id.ulValueLen;
    } else {
        /* Tools such as pkcs11-tool pair RSA halves by CKA_ID: never leave it empty. */
        randombytes_buf(kn->id, RANDOM_ID_BYTES);
        kn->id_len = RANDOM_ID_BYTES;
    }
    return CF_OK;
}

static cf_err
create_locked(struct cf_keyring *kr, const struct cf_keyring_init *init, struct cf_error *err)
{
    struct cf_p11_uri u;
    struct cf_p11_token *tok = NULL;
    struct key_name kn;
    cf_err rc;

    rc = cf_p11_uri_parse(init->uri, &u, err);
    if (rc == CF_OK)
        rc = key_name(&u, &kn, err);
    if (rc == CF_OK)
        rc = cf_p11_token_one(kr, &u, &tok, err);
    /* Private token objects can only be created, or even seen, after login. */
    if (rc == CF_OK)
        rc = cf_p11_login(kr, tok, u.pin_source, err);
    if (rc == CF_OK)
        rc = cf_p11_label_free(kr, tok, kn.label, err);
    if (rc == CF_OK && init->type == CF_KEK_AES)
        rc = gen_aes(kr, tok, &kn, err);
    else if (rc == CF_OK && init->type == CF_KEK_RSA)
        rc = gen_rsa(kr, tok, &kn, init->rsa_bits != 0 ? init->rsa_bits : RSA_DEFAULT_BITS, err);
    else if (rc == CF_OK)
        rc = cf_error_set(err, CF_ERR_USAGE, "unknown key type %d", (int)init->type);
    cf_p11_uri_free(&u);
    return rc;
}

cf_err
cf_keyring_create(struct cf_keyring *kr, const struct cf_keyring_init *init,
                  struct cf_error *err)
{
    cf_err rc;

    if (init == NULL || init->uri == NULL)
        return cf_error_set(err, CF_ERR_USAGE, "no key URI given");
    if (init->type == CF_KEK_RSA && init->rsa_bits != 0 &&
        (init->rsa_bits < 2048 || init->rsa_bits > 8192))
        return cf_error_set(err, CF_ERR_USAGE, "RSA key size %u is outside 2048..8192",
                            init->rsa_bits);
    pthread_mutex_lock(&kr->lock);
    rc = create_locked(kr, init, err);
    pthread_mutex_unlock(&kr->lock);
    return rc;
}
