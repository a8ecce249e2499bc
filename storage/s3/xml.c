/*
 * xml.c - parsers of the S3 XML responses the driver reads.
 *
 * Responses are untrusted and bounded (S3_XML_MAX) by the caller.  Elements
 * are matched by local name only: AWS puts everything in the
 * http://s3.amazonaws.com/doc/2006-03-01/ namespace, Ceph RGW often omits
 * xmlns.  No network access, no entity expansion, no DTD loading; libxml2
 * prints nothing.  Values longer than their field are refused, never
 * truncated, so a key is never silently changed.
 */
#include "storage/s3/s3_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define PARSE_FLAGS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA)

static cf_err
bad(struct cf_error *err, const char *why)
{
    return cf_error_set(err, CF_ERR_REMOTE, "could not parse S3 response: %s", why);
}

static void
silent(void *ctx, const char *msg, ...)
{
    (void)ctx, (void)msg;
}

/* S3 speaks UTF-8: the document's own encoding hints are ignored.  Some
 * libxml2 errors (encoding conversion) bypass XML_PARSE_NOERROR and go to
 * the generic handler, which is silenced for the duration of the parse. */
static xmlDocPtr
read_doc(const char *data, size_t len)
{
    xmlGenericErrorFunc saved = xmlGenericError;
    void *saved_ctx = xmlGenericErrorContext;
    xmlDocPtr doc;

    if (data == NULL || len == 0 || len > S3_XML_MAX || len > INT_MAX)
        return NULL;
    xmlSetGenericErrorFunc(NULL, silent);
    doc = xmlReadMemory(data, (int)len, "s3.xml", "UTF-8", PARSE_FLAGS | XML_PARSE_IGNORE_ENC);
    xmlSetGenericErrorFunc(saved_ctx, saved);
    return doc;
}

static bool
is_named(const xmlNode *n, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && n->name != NULL &&
           strcmp((const char *)n->name, name) == 0;
}

static xmlNode *
child(const xmlNode *parent, const char *name)
{
    for (xmlNode *n = parent != NULL ? parent->children : NULL; n != NULL; n = n->next)
        if (is_named(n, name))
            return n;
    return NULL;
}

/* The text of element name below parent into buf: false if absent or too long. */
static bool
child_text(const xmlNode *parent, const char *name, char *buf, size_t size)
{
    xmlNode *n = child(parent, name);
    xmlChar *s;
    bool ok = false;

    buf[0] = '\0';
    if (n == NULL)
        return false;
    s = xmlNodeGetContent(n);
    if (s != NULL && strlen((const char *)s) < size) {
        memcpy(buf, s, strlen((const char *)s) + 1);
        ok = true;
    }
    xmlFree(s);
    return ok;
}

/* An optional element: absent is fine, too long is not. */
static bool
opt_text(const xmlNode *parent, const char *name, char *buf, size_t size)
{
    buf[0] = '\0';
    return child(parent, name) == NULL || child_text(parent, name, buf, size);
}

static bool
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = (uint64_t)v;
    return true;
}

static bool
parse_bool(const char *s)
{
    return strcmp(s, "true") == 0;
}

static cf_err
parse_entry(enum s3_list_kind kind, const xmlNode *n, struct s3_entry *e, struct cf_error *err)
{
    char buf[64];

    memset(e, 0, sizeof(*e));
    if (!child_text(n, "Key", e->key, sizeof(e->key)) || e->key[0] == '\0')
        return bad(err, "an entry has no valid Key");
    e->is_delete_marker = is_named(n, "DeleteMarker");
    if (kind == S3_LIST_UPLOADS) {
        if (!child_text(n, "UploadId", e->upload_id, sizeof(e->upload_id)) ||
            e->upload_id[0] == '\0')
            return bad(err, "an upload has no valid UploadId");
        if (child_text(n, "Initiated", buf, sizeof(buf)) && !cf_s3_date_parse(buf, &e->mtime))
            return bad(err, "an upload has an invalid Initiated date");
        return CF_OK;
    }
    if (!e->is_delete_marker) {
        if (!child_text(n, "Size", buf, sizeof(buf)) || !parse_u64(buf, &e->size))
            return bad(err, "an entry has no valid Size");
        if (!opt_text(n, "ETag", e->etag, sizeof(e->etag)))
            return bad(err, "an entry has an invalid ETag");
    }
    if (child_text(n, "LastModified", buf, sizeof(buf)) && !cf_s3_date_parse(buf, &e->mtime))
        return bad(err, "an entry has an invalid LastModified date");
    if (kind == S3_LIST_VERSIONS) {
        if (!child_text(n, "VersionId", e->version_id, sizeof(e->version_id)))
            return bad(err, "a version has no valid VersionId");
        if (strcmp(e->version_id, "null") == 0)
            e->version_id[0] = '\0'; /* written while versioning was off */
        if (child_text(n, "IsLatest", buf, sizeof(buf)))
            e->is_latest = parse_bool(buf);
    }
    return CF_OK;
}

static const char *
root_name(enum s3_list_kind kind)
{
    switch (kind) {
    case S3_LIST_OBJECTS:
        return "ListBucketResult";
    case S3_LIST_VERSIONS:
        return "ListVersionsResult";
    case S3_LIST_UPLOADS:
        return "ListMultipartUploadsResult";
    }
    return "";
}

static bool
is_item(enum s3_list_kind kind, const xmlNode *n)
{
    switch (kind) {
    case S3_LIST_OBJECTS:
        return is_named(n, "Contents");
    case S3_LIST_VERSIONS:
        return is_named(n, "Version") || is_named(n, "DeleteMarker");
    case S3_LIST_UPLOADS:
        return is_named(n, "Upload");
    }
    return false;
}

static cf_err
parse_page_meta(enum s3_list_kind kind, const xmlNode *root, struct s3_list_page *page,
                struct cf_error *err)
{
    char buf[16];

    memset(page, 0, sizeof(*page));
    if (child_text(root, "IsTruncated", buf, sizeof(buf)))
        page->is_truncated = parse_bool(buf);
    if (!opt_text(root, "NextContinuationToken", page->next_token, sizeof(page->next_token)) ||
        !opt_text(root, "NextKeyMarker", page->next_key_marker, sizeof(page->next_key_marker)) ||
        !opt_text(root, kind == S3_LIST_UPLOADS ? "NextUploadIdMarker" : "NextVersionIdMarker",
                  page->next_id_marker, sizeof(page->next_id_marker)))
        return bad(err, "a pagination marker is too long");
    if (!page->is_truncated)
        return CF_OK;
    /* a truncated page without a way to continue would loop forever */
    if (kind == S3_LIST_OBJECTS && page->next_token[0] == '\0')
        return bad(err, "a truncated listing has no NextContinuationToken");
    if (kind != S3_LIST_OBJECTS && page->next_key_marker[0] == '\0')
        return bad(err, "a truncated listing has no NextKeyMarker");
    return CF_OK;
}

cf_err
cf_s3_xml_parse_list(enum s3_list_kind kind, const char *data, size_t len, s3_entry_cb cb,
                     void *ctx, struct s3_list_page *page, struct cf_error *err)
{
    xmlDocPtr doc = read_doc(data, len);
    xmlNode *root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
    struct s3_entry *e = NULL;
    struct s3_list_page meta;
    cf_err rc = CF_OK;

    if (root == NULL || !is_named(root, root_name(kind))) {
        rc = bad(err, root == NULL ? "not well-formed XML" : "unexpected root element");
        goto out;
    }
    if ((rc = parse_page_meta(kind, root, &meta, err)) != CF_OK)
        goto out;
    if ((e = malloc(sizeof(*e))) == NULL) {
        rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (xmlNode *n = root->children; n != NULL && rc == CF_OK; n = n->next) {
        if (!is_item(kind, n))
            continue;
        if ((rc = parse_entry(kind, n, e, err)) == CF_OK)
            rc = cb(ctx, e, err);
    }
    if (rc == CF_OK)
        *page = meta;
out:
    free(e);
    xmlFreeDoc(doc);
    return rc;
}

bool
cf_s3_xml_parse_error(const char *data, size_t len, char *code, size_t code_size, char *message,
                      size_t message_size)
{
    xmlDocPtr doc = read_doc(data, len);
    xmlNode *root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
    bool ok = false;

    code[0] = '\0';
    message[0] = '\0';
    if (is_named(root, "Error")) {
        ok = child_text(root, "Code", code, code_size) && code[0] != '\0';
        /* a message too long for the buffer is dropped, not fatal */
        if (!child_text(root, "Message", message, message_size))
            message[0] = '\0';
        if (!ok)
            code[0] = '\0';
    }
    xmlFreeDoc(doc);
    return ok;
}

/* The text of root/<name> of a document whose root is root_el. */
static cf_err
simple_field(const char *data, size_t len, const char *root_el, const char *name, char *buf,
             size_t size, bool is_required, struct cf_error *err)
{
    xmlDocPtr doc = read_doc(data, len);
    xmlNode *root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
    cf_err rc = CF_OK;

    buf[0] = '\0';
    if (root == NULL)
        rc = bad(err, "not well-formed XML");
    else if (!is_named(root, root_el))
        rc = bad(err, "unexpected root element");
    else if (is_required ? !child_text(root, name, buf, size) || buf[0] == '\0'
                         : !opt_text(root, name, buf, size))
        rc = bad(err, is_required ? "a required element is missing or too long"
                                  : "an element is too long");
    xmlFreeDoc(doc);
    return rc;
}

cf_err
cf_s3_xml_parse_upload_id(const char *data, size_t len, char *upload_id, size_t size,
                          struct cf_error *err)
{
    return simple_field(data, len, "InitiateMultipartUploadResult", "UploadId", upload_id, size,
                        true, err);
}

cf_err
cf_s3_xml_parse_complete(const char *data, size_t len, char *etag, size_t etag_size, char *code,
                         size_t code_size, char *message, size_t message_size, struct cf_error *err)
{
    etag[0] = '\0';
    /* S3 may answer 200 and then report a failure in the body */
    if (cf_s3_xml_parse_error(data, len, code, code_size, message, message_size))
        return CF_OK;
    return simple_field(data, len, "CompleteMultipartUploadResult", "ETag", etag, etag_size,
                        false, err);
}

cf_err
cf_s3_xml_parse_retention(const char *data, size_t len, char *mode, size_t mode_size,
                          int64_t *retain_until, struct cf_error *err)
{
    xmlDocPtr doc = read_doc(data, len);
    xmlNode *root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
    char date[64];
    int64_t t = 0;
    cf_err rc = CF_OK;

    mode[0] = '\0';
    if (root == NULL)
        rc = bad(err, "not well-formed XML");
    else if (!is_named(root, "Retention"))
        rc = bad(err, "unexpected root element");
    else if (!opt_text(root, "Mode", mode, mode_size))
        rc = bad(err, "the retention mode is too long");
    else if (!child_text(root, "RetainUntilDate", date, sizeof(date)) ||
             !cf_s3_date_parse(date, &t))
        rc = bad(err, "the retention has no valid RetainUntilDate");
    if (rc == CF_OK)
        *retain_until = t;
    xmlFreeDoc(doc);
    return rc;
}

cf_err
cf_s3_xml_parse_lock_config(const char *data, size_t len, bool *is_enabled, struct cf_error *err)
{
    char v[32];
    cf_err rc = simple_field(data, len, "ObjectLockConfiguration", "ObjectLockEnabled", v,
                             sizeof(v), false, err);

    if (rc == CF_OK)
        *is_enabled = strcmp(v, "Enabled") == 0;
    return rc;
}

cf_err
cf_s3_xml_parse_versioning(const char *data, size_t len, bool *is_enabled, struct cf_error *err)
{
    char v[32];
    cf_err rc = simple_field(data, len, "VersioningConfiguration", "Status", v, sizeof(v), false,
                             err);

    if (rc == CF_OK)
        *is_enabled = strcmp(v, "Enabled") == 0;
    return rc;
}
