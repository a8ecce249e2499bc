/*
 * uri.c - PKCS#11 URIs (RFC 7512) naming key-encryption keys.
 *
 * Parsing is p11-kit's.  What we add: the URI as stored in objects and
 * printed in messages never carries PIN information, so every message below
 * uses the cleaned text, never the configured one.
 */
#include <stdio.h>
#include <string.h>

#include "pkcs11/p11.h"

static bool
is_pin_attribute(const char *field, size_t len)
{
    static const char *const names[] = {"pin-source=", "pin-value="};

    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(names[i]);

        if (len >= n && strncmp(field, names[i], n) == 0)
            return true;
        /* An attribute without "=value" is still a PIN attribute. */
        if (len == n - 1 && strncmp(field, names[i], n - 1) == 0)
            return true;
    }
    return false;
}

static bool
append(char *out, size_t size, size_t *pos, const char *s, size_t len)
{
    if (*pos + len >= size)
        return false;
    memcpy(out + *pos, s, len);
    *pos += len;
    out[*pos] = '\0';
    return true;
}

/* The query fields other than pin-source and pin-value, '&'-joined. */
cf_err
cf_p11_uri_strip_pin(const char *text, char *out, size_t size, struct cf_error *err)
{
    const char *query = strchr(text, '?');
    size_t pos = 0, path_len = query != NULL ? (size_t)(query - text) : strlen(text);
    bool ok, has_field = false;

    out[0] = '\0';
    ok = append(out, size, &pos, text, path_len);
    while (ok && query != NULL) {
        const char *field = query + 1;
        const char *end = strchr(field, '&');
        size_t len = end != NULL ? (size_t)(end - field) : strlen(field);

        if (len > 0 && !is_pin_attribute(field, len)) {
            ok = append(out, size, &pos, has_field ? "&" : "?", 1) &&
                 append(out, size, &pos, field, len);
            has_field = true;
        }
        query = end;
    }
    if (!ok) {
        /* Do not echo the text: it may hold a pin-value. */
        cf_error_setf(err, CF_ERR_CONFIG, "PKCS#11 URI is longer than %zu bytes", size - 1);
        return CF_ERR_CONFIG;
    }
    return CF_OK;
}

static void
take_attributes(struct cf_p11_uri *u)
{
    CK_ULONG n = 0;
    CK_ATTRIBUTE *attrs = p11_kit_uri_get_attributes(u->parsed, &n);

    for (CK_ULONG i = 0; i < n; i++) {
        if (attrs[i].type == CKA_LABEL)
            u->label = attrs[i];
        else if (attrs[i].type == CKA_ID)
            u->id = attrs[i];
        else if (attrs[i].type == CKA_CLASS && attrs[i].ulValueLen == sizeof(CK_OBJECT_CLASS)) {
            u->has_class = true;
            memcpy(&u->klass, attrs[i].pValue, sizeof(CK_OBJECT_CLASS));
        }
    }
}

cf_err
cf_p11_uri_parse(const char *text, struct cf_p11_uri *out, struct cf_error *err)
{
    cf_err rc;
    int r;

    memset(out, 0, sizeof(*out));
    rc = cf_p11_uri_strip_pin(text, out->clean, sizeof(out->clean), err);
    if (rc != CF_OK)
        return rc;
    out->parsed = p11_kit_uri_new();
    if (out->parsed == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    r = p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, out->parsed);
    if (r != P11_KIT_URI_OK)
        return cf_error_set(err, CF_ERR_CONFIG, "invalid PKCS#11 URI \"%s\": %s", out->clean,
                            p11_kit_uri_message(r));
    /* p11-kit matches nothing when it saw an unknown attribute: say so now. */
    if (p11_kit_uri_any_unrecognized(out->parsed))
        return cf_error_set(err, CF_ERR_CONFIG,
                            "PKCS#11 URI \"%s\" has attributes coffre does not understand",
                            out->clean);
    take_attributes(out);
    if (out->has_class && out->klass != CKO_SECRET_KEY && out->klass != CKO_PUBLIC_KEY &&
        out->klass != CKO_PRIVATE_KEY)
        return cf_error_set(err, CF_ERR_CONFIG,
                            "PKCS#11 URI \"%s\" names an object that is not a key", out->clean);
    out->pin_source = p11_kit_uri_get_pin_source(out->parsed);
    return CF_OK;
}

cf_err
cf_p11_uri_require_key(const struct cf_p11_uri *u, struct cf_error *err)
{
    if (u->label.pValue != NULL || u->id.pValue != NULL)
        return CF_OK;
    cf_error_setf(err, CF_ERR_CONFIG, "PKCS#11 URI \"%s\" names no key", u->clean);
    cf_error_hint(err, "Add object=LABEL or id=ID to the URI.");
    return CF_ERR_CONFIG;
}

void
cf_p11_uri_free(struct cf_p11_uri *u)
{
    if (u == NULL)
        return;
    if (u->parsed != NULL)
        p11_kit_uri_free(u->parsed);
    u->parsed = NULL;
}

void
cf_p11_attr_string(const CK_ATTRIBUTE *a, char *out, size_t size)
{
    size_t len = a->pValue != NULL ? a->ulValueLen : 0;

    if (len >= size)
        len = size - 1;
    if (len > 0 && a->pValue != NULL)
        memcpy(out, a->pValue, len);
    out[len] = '\0';
}
