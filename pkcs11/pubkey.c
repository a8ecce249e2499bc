/*
 * pubkey.c - move the public half of an RSA KEK to a write-only host.
 *
 * The file holds nothing secret: {"label", "id", "modulus",
 * "public_exponent"}, binary values in lowercase hex.  Imported as a public
 * token object that may encrypt and nothing else, it lets a host wrap data
 * keys that only the holder of the private key can unwrap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "pkcs11/p11.h"

#define FIELD_MAX 1024 /* bytes: RSA-8192 modulus */

struct pubkey {
    char label[129];
    CK_BYTE id[64], modulus[FIELD_MAX], exponent[16];
    size_t id_len, modulus_len, exponent_len;
};

static cf_err
put_hex(json_t *root, const char *name, const void *bin, size_t len, struct cf_error *err)
{
    char *hex = malloc(len * 2 + 1);
    int r;

    if (hex == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    sodium_bin2hex(hex, len * 2 + 1, bin, len);
    r = json_object_set_new(root, name, json_string(hex));
    free(hex);
    return r == 0 ? CF_OK : cf_error_set(err, CF_ERR_NOMEM, "out of memory");
}

/* Add attribute type of obj to root as hex (or, for the label, as a string). */
static cf_err
put_attr(struct cf_keyring *kr, const struct cf_p11_kek *kek, json_t *root, const char *name,
         CK_ATTRIBUTE_TYPE type, struct cf_error *err)
{
    void *v = NULL;
    CK_ULONG len = 0;
    cf_err rc;

    rc = cf_p11_get_attr(kr, kek->tok, kek->key, type, &v, &len, err);
    if (rc == CF_OK && type == CKA_LABEL) {
        CK_ATTRIBUTE a = {CKA_LABEL, v, len};
        char label[129];

        cf_p11_attr_string(&a, label, sizeof(label));
        if (json_object_set_new(root, name, json_string(label)) != 0)
            rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    } else if (rc == CF_OK) {
        rc = put_hex(root, name, v, len, err);
    }
    free(v);
    return rc;
}

static cf_err
export_locked(struct cf_keyring *kr, const char *uri, const char *path, struct cf_error *err)
{
    struct cf_p11_uri u;
    struct cf_p11_kek kek;
    enum cf_p11_miss miss;
    json_t *root = json_object();
    cf_err rc;

    if (root == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = cf_p11_uri_parse(uri, &u, err);
    if (rc == CF_OK)
        rc = cf_p11_kek_find(kr, &u, CF_P11_WRAP, &kek, &miss, err);
    if (rc == CF_OK && kek.type != CF_KEK_RSA)
        rc = cf_error_set(err, CF_ERR_USAGE, "key \"%s\" is not an RSA key", u.clean);
    if (rc == CF_OK)
        rc = put_attr(kr, &kek, root, "label", CKA_LABEL, err);
    if (rc == CF_OK)
        rc = put_attr(kr, &kek, root, "id", CKA_ID, err);
    if (rc == CF_OK)
        rc = put_attr(kr, &kek, root, "modulus", CKA_MODULUS, err);
    if (rc == CF_OK)
        rc = put_attr(kr, &kek, root, "public_exponent", CKA_PUBLIC_EXPONENT, err);
    if (rc == CF_OK && json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        rc = cf_error_set_errno(err, CF_ERR_IO, errno, "could not write public key file \"%s\"",
                                path);
    cf_p11_uri_free(&u);
    json_decref(root);
    return rc;
}

cf_err
cf_keyring_export_public(struct cf_keyring *kr, const char *uri, const char *path,
                         struct cf_error *err)
{
    cf_err rc;

    pthread_mutex_lock(&kr->lock);
    rc = export_locked(kr, uri, path, err);
    pthread_mutex_unlock(&kr->lock);
    return rc;
}

static bool
get_hex(json_t *root, const char *name, CK_BYTE *out, size_t max, size_t *len)
{
    const char *hex = json_string_value(json_object_get(root, name));
    const char *end = NULL;
    size_t hex_len = hex != NULL ? strlen(hex) : 0;

    if (hex_len == 0 || sodium_hex2bin(out, max, hex, hex_len, NULL, len, &end) != 0)
        return false;
    return end == hex + hex_len && *len > 0;
}

static cf_err
read_pubkey(const char *path, struct pubkey *pk, struct cf_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    const char *label, *bad = NULL;

    if (root == NULL)
        return cf_error_set(err, CF_ERR_IO, "could not read public key file \"%s\": %s", path,
                            jerr.text);
    label = json_string_value(json_object_get(root, "label"));
    if (label == NULL || label[0] == '\0' || strlen(label) >= sizeof(pk->label))
        bad = "label";
    else if (!get_hex(root, "id", pk->id, sizeof(pk->id), &pk->id_len))
        bad = "id";
    else if (!get_hex(root, "modulus", pk->modulus, sizeof(pk->modulus), &pk->modulus_len))
        bad = "modulus";
    else if (!get_hex(root, "public_exponent", pk->exponent, sizeof(pk->exponent),
                      &pk->exponent_len))
        bad = "public_exponent";
    else
        memcpy(pk->label, label, strlen(label) + 1);
    json_decref(root);
    if (bad != NULL)
        return cf_error_set(err, CF_ERR_CORRUPT,
                            "invalid public key file \"%s\": field \"%s\" is missing or invalid",
                            path, bad);
    return CF_OK;
}

static cf_err
create_pubkey(struct cf_keyring *kr, struct cf_p11_token *tok, const struct pubkey *pk,
              struct cf_error *err)
{
    CK_OBJECT_CLASS klass = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &klass, sizeof(klass)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_VERIFY, &no, sizeof(no)},
        {CKA_WRAP, &no, sizeof(no)},
        {CKA_LABEL, (void *)pk->label, strlen(pk->label)},
        {CKA_ID, (void *)pk->id, pk->id_len},
        {CKA_MODULUS, (void *)pk->modulus, pk->modulus_len},
        {CKA_PUBLIC_EXPONENT, (void *)pk->exponent, pk->exponent_len},
    };
    CK_OBJECT_HANDLE obj;
    CK_RV rv;

    rv = kr->mod->C_CreateObject(tok->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &obj);
    if (rv != CKR_OK)
        return cf_p11_fail(err, "C_CreateObject", rv,
                           "could not import public key \"%s\" on token \"%s\"", pk->label,
                           tok->label);
    return CF_OK;
}

static cf_err
import_locked(struct cf_keyring *kr, const char *path, const char *to_uri, struct cf_error *err)
{
    struct pubkey *pk = calloc(1, sizeof(*pk));
    struct cf_p11_uri u;
    struct cf_p11_token *tok = NULL;
    cf_err rc;

    if (pk == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = read_pubkey(path, pk, err);
    if (rc == CF_OK)
        rc = cf_p11_uri_parse(to_uri, &u, err);
    else
        memset(&u, 0, sizeof(u));
    if (rc == CF_OK)
        rc = cf_p11_token_one(kr, &u, &tok, err);
    /* SoftHSM and most HSMs only create token objects for a logged-in user. */
    if (rc == CF_OK && cf_p11_have_pin(kr, u.pin_source))
        rc = cf_p11_login(kr, tok, u.pin_source, err);
    /* The label and id travel with the key, so the same URI names it on every host. */
    if (rc == CF_OK)
        rc = cf_p11_label_free(kr, tok, pk->label, err);
    if (rc == CF_OK)
        rc = create_pubkey(kr, tok, pk, err);
    cf_p11_uri_free(&u);
    free(pk);
    return rc;
}

cf_err
cf_keyring_import_public(struct cf_keyring *kr, const char *path, const char *to_uri,
                         struct cf_error *err)
{
    cf_err rc;

    pthread_mutex_lock(&kr->lock);
    rc = import_locked(kr, path, to_uri, err);
    pthread_mutex_unlock(&kr->lock);
    return rc;
}
