/*
 * repo.c - layout and encrypted object I/O (see repo.h).
 */
#include "storage/repo.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "common/cancel.h"
#include "common/inject.h"
#include "common/log.h"
#include "stream/hash.h"
#include "stream/signed.h"

static cf_err
fit(int n, size_t size, const char *what, const char *name, struct cf_error *err)
{
    if (n < 0 || (size_t)n >= size)
        return cf_error_set(err, CF_ERR_USAGE, "%s \"%s\" is too long for a repository key", what,
                            name);
    return CF_OK;
}

cf_err
cf_repo_backup_prefix(const struct cf_repo *r, const char *id, char *buf, size_t size,
                      struct cf_error *err)
{
    int n = id == NULL ? snprintf(buf, size, "%s/backup/", r->instance)
                       : snprintf(buf, size, "%s/backup/%s/", r->instance, id);

    return fit(n, size, id == NULL ? "instance name" : "backup id", id ? id : r->instance, err);
}

cf_err
cf_repo_wal_prefix(const struct cf_repo *r, char *buf, size_t size, struct cf_error *err)
{
    return fit(snprintf(buf, size, "%s/wal/", r->instance), size, "instance name", r->instance,
               err);
}

cf_err
cf_repo_probe_key(const struct cf_repo *r, const char *tag, char *buf, size_t size,
                  struct cf_error *err)
{
    if (fit(snprintf(buf, size, "%s/check/probe.%s", r->instance, tag), size, "instance name",
            r->instance, err) != CF_OK)
        return err->code;
    return cf_storage_check_key(buf, err);
}

cf_err
cf_repo_key(const struct cf_repo *r, const char *id, const char *name, char *buf, size_t size,
            struct cf_error *err)
{
    size_t len;

    if (cf_repo_backup_prefix(r, id, buf, size, err) != CF_OK)
        return err->code;
    len = strlen(buf);
    if (fit(snprintf(buf + len, size - len, "%s", name), size - len, "object name", name, err) !=
        CF_OK)
        return err->code;
    return cf_storage_check_key(buf, err);
}

/*
 * The pre-commit check rides on the source: when the wrapped source reports
 * its end, the check runs, and a failure there is a read failure to
 * cf_pump, which then aborts the chain instead of closing it.
 */
struct precommit_source {
    struct cf_source base;
    struct cf_source *inner;     /* borrowed */
    cf_repo_precommit_fn fn;
    void *arg;
    bool has_run;
};

static cf_err
pc_read(struct cf_source *src, void *buf, size_t cap, size_t *n, struct cf_error *err)
{
    struct precommit_source *ps = (struct precommit_source *)src;
    cf_err rc = cf_source_read(ps->inner, buf, cap, n, err);

    if (rc != CF_OK || *n > 0 || ps->has_run)
        return rc;
    ps->has_run = true;
    if ((rc = ps->fn(ps->arg, err)) != CF_OK && err->code == CF_OK)
        rc = cf_error_set(err, CF_ERR_INTERNAL, "the pre-commit check failed without a reason");
    return rc;
}

static void
pc_free(struct cf_source *src)
{
    (void)src; /* on the stack of put_key; inner is the caller's */
}

static const struct cf_source_ops precommit_ops = {"precommit", pc_read, pc_free};

/* cf_repo_put_late_key's naming, at the terminal's close: the chain's digest is final */
struct late_key {
    const struct cf_backup_chain *chain;
    cf_repo_key_fn fn;
    void *arg;
};

static cf_err
late_key_cb(void *arg, char *key, size_t size, struct cf_error *err)
{
    const struct late_key *lk = arg;
    uint8_t digest[CF_SHA256_BYTES];
    uint64_t bytes;

    cf_hash_result(lk->chain->hash, digest, &bytes);
    return lk->fn(lk->arg, digest, key, size, err);
}

static cf_err
put_key(const struct cf_repo *r, const char *key, const char *id, const char *name, unsigned kind,
        struct cf_source *src, cf_repo_precommit_fn precommit, void *arg,
        const struct late_key *late, struct cf_backup_sizes *sizes, struct cf_error *err)
{
    struct cf_encrypt_options enc = {(uint8_t)kind, id, name, r->chunk_size};
    struct cf_write_opts wo = {r->retain_until, NULL, NULL};
    struct cf_backup_chain chain = {NULL, NULL, NULL};
    struct precommit_source ps = {{&precommit_ops}, src, precommit, arg, false};
    struct late_key lk;
    struct cf_sink *terminal = NULL;
    cf_err rc;

    if (late != NULL) {
        lk = *late;
        lk.chain = &chain;
        wo.final_key = late_key_cb;
        wo.final_key_arg = &lk;
    }
    if ((rc = cf_storage_check_key(key, err)) != CF_OK ||
        (rc = cf_storage_open_write(r->st, key, &wo, &terminal, err)) != CF_OK ||
        (rc = cf_backup_chain_new(r->keys, &enc, &r->comp, terminal, &chain, err)) != CF_OK)
        goto out;
    rc = cf_pump_progress(precommit != NULL ? &ps.base : src, chain.head, CF_PUMP_BUFFER, name,
                          err);
    if (rc == CF_OK) {
        cf_backup_chain_sizes(&chain, sizes);
        CF_INJECT("put-done");
    }
out:
    if (rc != CF_OK)
        cf_error_context(err, "while storing object \"%s\"", key);
    cf_sink_free(chain.head);
    return rc;
}

cf_err
cf_repo_put_hooked(const struct cf_repo *r, const char *id, const char *name, unsigned kind,
                   struct cf_source *src, cf_repo_precommit_fn precommit, void *arg,
                   struct cf_backup_sizes *sizes, struct cf_error *err)
{
    char key[CF_STORAGE_KEY_MAX + 1];
    cf_err rc;

    if ((rc = cf_repo_key(r, id, name, key, sizeof(key), err)) != CF_OK)
        return rc;
    return put_key(r, key, id, name, kind, src, precommit, arg, NULL, sizes, err);
}

cf_err
cf_repo_put(const struct cf_repo *r, const char *id, const char *name, unsigned kind,
            struct cf_source *src, struct cf_backup_sizes *sizes, struct cf_error *err)
{
    return cf_repo_put_hooked(r, id, name, kind, src, NULL, NULL, sizes, err);
}

cf_err
cf_repo_put_key(const struct cf_repo *r, const char *key, const char *id, const char *name,
                unsigned kind, struct cf_source *src, struct cf_backup_sizes *sizes,
                struct cf_error *err)
{
    return put_key(r, key, id, name, kind, src, NULL, NULL, NULL, sizes, err);
}

cf_err
cf_repo_put_late_key(const struct cf_repo *r, const char *placeholder, const char *id,
                     const char *name, unsigned kind, struct cf_source *src, cf_repo_key_fn key_fn,
                     void *arg, struct cf_backup_sizes *sizes, struct cf_error *err)
{
    struct late_key late = {NULL, key_fn, arg};

    return put_key(r, placeholder, id, name, kind, src, NULL, NULL, &late, sizes, err);
}

cf_err
cf_repo_get(const struct cf_repo *r, const char *id, const char *name, unsigned kind,
            const uint8_t *sha256, struct cf_sink *terminal, struct cf_error *err)
{
    char key[CF_STORAGE_KEY_MAX + 1];
    cf_err rc;

    if ((rc = cf_repo_key(r, id, name, key, sizeof(key), err)) != CF_OK) {
        cf_sink_free(terminal);
        return rc;
    }
    return cf_repo_get_key(r, key, id, name, kind, sha256, terminal, err);
}

cf_err
cf_repo_get_key(const struct cf_repo *r, const char *key, const char *id, const char *name,
                unsigned kind, const uint8_t *sha256, struct cf_sink *terminal,
                struct cf_error *err)
{
    struct cf_decrypt_expect expect = {id, name, kind};
    struct cf_restore_chain chain = {NULL, NULL, NULL};
    struct cf_source *src = NULL;
    cf_err rc;

    if ((rc = cf_storage_open_read(r->st, key, &src, err)) != CF_OK) {
        cf_sink_free(terminal);
        return rc;
    }
    rc = cf_restore_chain_new(r->keys, &expect, key, sha256, terminal, &chain, err);
    if (rc == CF_OK)
        rc = cf_pump_progress(src, chain.head, CF_PUMP_BUFFER, name, err);
    if (rc == CF_OK)
        CF_INJECT("get-done");
    cf_sink_free(chain.head);
    cf_source_free(src);
    return rc;
}

static cf_err
count_object(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    (void)info, (void)err;
    ++*(size_t *)ctx;
    return CF_OK;
}

/* A missing manifest means "incomplete" if the backup has objects, else "no such backup". */
static void
explain_missing_manifest(const struct cf_repo *r, const char *id, struct cf_error *err)
{
    char prefix[CF_STORAGE_KEY_MAX + 1];
    struct cf_error ignored = CF_ERROR_INIT;
    size_t n = 0;

    if (cf_repo_backup_prefix(r, id, prefix, sizeof(prefix), &ignored) == CF_OK)
        (void)cf_storage_list(r->st, prefix, count_object, &n, &ignored);
    if (n == 0) {
        cf_error_clear(err);
        cf_error_setf(err, CF_ERR_NOT_FOUND, "backup %s does not exist in the repository of "
                                             "instance \"%s\"", id, r->instance);
    } else {
        cf_error_detail(err, "Backup %s has no manifest: it is incomplete (interrupted or failed) "
                             "and cannot be restored.", id);
    }
    cf_error_hint(err, "Run \"coffre list\" to see the complete backups.");
}

/*
 * Decrypt a small object (at most max bytes of plaintext) into a malloc'd,
 * NUL-terminated copy.  The object's header must name it.  CF_ERR_NOT_FOUND
 * comes back unexplained: callers say what a missing object means.
 */
static cf_err
read_small(const struct cf_repo *r, const char *id, const char *name, unsigned kind, size_t max,
           char **out, size_t *out_len, struct cf_error *err)
{
    struct cf_decrypt_expect expect = {id, name, kind};
    struct cf_restore_chain chain = {NULL, NULL, NULL};
    struct cf_sink *mem = NULL, *view;
    struct cf_source *src = NULL;
    char key[CF_STORAGE_KEY_MAX + 1];
    const uint8_t *data;
    size_t len;
    cf_err rc;

    if ((rc = cf_repo_key(r, id, name, key, sizeof(key), err)) != CF_OK ||
        (rc = cf_storage_open_read(r->st, key, &src, err)) != CF_OK ||
        (rc = cf_mem_sink_new(max, &mem, err)) != CF_OK)
        goto out;
    view = mem;
    rc = cf_restore_chain_new(r->keys, &expect, key, NULL, mem, &chain, err);
    mem = NULL; /* transferred to the chain, even on failure */
    if (rc == CF_OK)
        rc = cf_pump(src, chain.head, CF_PUMP_BUFFER, err);
    if (rc == CF_OK) {
        data = cf_mem_sink_data(view, &len);
        if ((*out = malloc(len + 1)) == NULL) {
            rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (len > 0)
            memcpy(*out, data, len);
        (*out)[len] = '\0';
        *out_len = len;
    }
out:
    cf_sink_free(chain.head);
    cf_source_free(src);
    return rc;
}

/* What one signed object (a manifest, a record) is read as. */
struct signed_read {
    const char *domain;      /* "manifest", "record" */
    unsigned kind;           /* CF_OBJ_MANIFEST, CF_OBJ_RECORD */
    size_t max;              /* plaintext limit */
    uint8_t *digest;         /* may be NULL: SHA-256 of the object's plaintext */
    bool is_signed;          /* out */
    struct cf_signature sig; /* out, when signed */
};

static cf_err
unsigned_object(const char *domain, const char *key, struct cf_error *err)
{
    cf_error_setf(err, CF_ERR_KEY, "%s \"%s\" is not signed", domain, key);
    cf_error_detail(err, "Without a signature nothing shows who wrote it: anyone holding a "
                         "KEK's public key can write one.");
    cf_error_hint(err, "If it was written by coffre before signatures existed, pass "
                       "--allow-unsigned (or set keys.allow_unsigned) until it expires.");
    return CF_ERR_KEY;
}

/*
 * The checked text of object name of backup id: the envelope's payload, or
 * the whole text of an accepted unsigned one (*out malloc'd, NUL-ended).
 * CF_ERR_NOT_FOUND comes back unexplained.
 */
static cf_err
read_signed(const struct cf_repo *r, const char *id, const char *name, struct signed_read *sr,
            char **out, size_t *len, struct cf_error *err)
{
    struct cf_signed_context sc = {sr->domain, r->instance, id, name};
    char key[CF_STORAGE_KEY_MAX + 1];
    char *text = NULL;
    size_t text_len = 0;
    cf_err rc;

    *out = NULL;
    sr->is_signed = false;
    if ((rc = cf_repo_key(r, id, name, key, sizeof(key), err)) != CF_OK)
        return rc;
    rc = read_small(r, id, name, sr->kind, sr->max, &text, &text_len, err);
    if (rc == CF_OK)
        rc = cf_signed_open(r->keys, &sc, key, text, text_len, out, len, &sr->is_signed, &sr->sig,
                            err);
    if (rc == CF_OK && !sr->is_signed && !r->allow_unsigned)
        rc = unsigned_object(sr->domain, key, err);
    if (rc == CF_OK && sr->digest != NULL)
        crypto_hash_sha256(sr->digest, (const unsigned char *)text, text_len);
    free(text);
    if (rc != CF_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* The manifest's checked text; a missing manifest explained. */
static cf_err
read_manifest_text(const struct cf_repo *r, const char *id, struct signed_read *sr, char **json,
                   size_t *len, struct cf_error *err)
{
    cf_err rc;

    sr->domain = "manifest";
    sr->kind = CF_OBJ_MANIFEST;
    sr->max = CF_MANIFEST_MAX;
    rc = read_signed(r, id, CF_MANIFEST_NAME, sr, json, len, err);
    if (rc == CF_ERR_NOT_FOUND)
        explain_missing_manifest(r, id, err);
    return rc;
}

cf_err
cf_repo_manifest_text(const struct cf_repo *r, const char *id, char **json, size_t *len,
                      struct cf_error *err)
{
    struct signed_read sr = {0};

    return read_manifest_text(r, id, &sr, json, len, err);
}

/* The manifest of backup id, checked; digest (may be NULL): SHA-256 of its plaintext. */
static cf_err
read_manifest(const struct cf_repo *r, const char *id, struct cf_manifest **out,
              uint8_t digest[CF_SHA256_BYTES], struct cf_error *err)
{
    struct signed_read sr = {0};
    char key[CF_STORAGE_KEY_MAX + 1];
    char *json = NULL;
    size_t len = 0;
    cf_err rc;

    *out = NULL;
    sr.digest = digest;
    if ((rc = cf_repo_key(r, id, CF_MANIFEST_NAME, key, sizeof(key), err)) != CF_OK)
        return rc;
    rc = read_manifest_text(r, id, &sr, &json, &len, err);
    if (rc == CF_OK)
        rc = cf_manifest_from_json(json, len, key, out, err);
    free(json);
    if (rc == CF_OK && strcmp((*out)->instance, r->instance) != 0) {
        cf_error_setf(err, CF_ERR_CORRUPT, "manifest \"%s\" belongs to instance \"%s\"", key,
                      (*out)->instance);
        cf_error_detail(err, "This configuration protects instance \"%s\"; a backup was copied "
                             "into the wrong place.", r->instance);
        rc = CF_ERR_CORRUPT;
    } else if (rc == CF_OK && strcmp((*out)->id, id) != 0) {
        cf_error_setf(err, CF_ERR_CORRUPT, "manifest \"%s\" describes backup %s", key, (*out)->id);
        rc = CF_ERR_CORRUPT;
    }
    if (rc != CF_OK) {
        cf_manifest_free(*out);
        *out = NULL;
        return rc;
    }
    (*out)->is_signed = sr.is_signed;
    if (sr.is_signed)
        cf_hex_encode(sr.sig.signer, CF_SIGNER_ID_BYTES, (*out)->signer);
    return CF_OK;
}

cf_err
cf_repo_read_manifest(const struct cf_repo *r, const char *id, struct cf_manifest **out,
                      struct cf_error *err)
{
    return read_manifest(r, id, out, NULL, err);
}

cf_err
cf_repo_manifest_digest(const struct cf_repo *r, const char *id, uint8_t digest[CF_SHA256_BYTES],
                        struct cf_error *err)
{
    struct cf_manifest *m = NULL;
    cf_err rc = read_manifest(r, id, &m, digest, err);

    cf_manifest_free(m);
    return rc;
}

/*
 * The backup this host completed last (repohead.c), when it is newer than the
 * one the repository offers: a write-only host cannot read any manifest, and
 * a repository whose newest backups were deleted offers an older one.  The
 * link then names the backup that really came before, so that the chain keeps
 * the evidence (verify warns that it is gone) instead of hiding the gap.
 */
static cf_err
link_head(const struct cf_repo *r, struct cf_manifest *m, struct cf_error *err)
{
    struct cf_repo_head h;

    if (!cf_repo_head_read(r, &h) || strcmp(h.id, m->id) >= 0 ||
        (m->previous_id != NULL && strcmp(h.id, m->previous_id) <= 0))
        return CF_OK;
    if (m->previous_id != NULL)
        cf_log_warning("backup %s, the newest one this host completed, is not the newest "
                       "readable backup of the repository (%s): it was deleted or cannot be "
                       "read; backup %s is linked to it (coffre verify --all fails until this "
                       "is explained)",
                       h.id, m->previous_id, m->id);
    free(m->previous_id);
    if ((m->previous_id = strdup(h.id)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    memcpy(m->previous_sha256, h.sha256, sizeof(h.sha256));
    m->previous_expires = h.expires;
    return CF_OK;
}

/*
 * Link m to the newest complete, readable backup before it.  A backup
 * whose manifest cannot be read here (corrupt, unsigned, untrusted) is
 * skipped with a warning: the link must point at something genuine.
 */
static cf_err
link_previous(const struct cf_repo *r, struct cf_manifest *m, struct cf_error *err)
{
    struct cf_backup_entry *v = NULL;
    size_t n = 0;
    cf_err rc;

    free(m->previous_id);
    m->previous_id = NULL;
    if ((rc = cf_repo_list_backups(r, &v, &n, err)) != CF_OK)
        return rc;
    for (size_t i = n; i-- > 0 && m->previous_id == NULL;) {
        struct cf_error e = CF_ERROR_INIT;
        struct cf_manifest *p = NULL;
        uint8_t digest[CF_SHA256_BYTES];

        if (!v[i].has_manifest || strcmp(v[i].id, m->id) >= 0)
            continue;
        if (read_manifest(r, v[i].id, &p, digest, &e) != CF_OK) {
            cf_log_warning("backup %s is not linked as the previous one: %s", v[i].id, e.msg);
            continue;
        }
        m->previous_id = strdup(v[i].id);
        m->previous_expires = p->expires;
        cf_hex_encode(digest, CF_SHA256_BYTES, m->previous_sha256);
        cf_manifest_free(p);
        if (m->previous_id == NULL)
            rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        break;
    }
    free(v);
    return rc == CF_OK ? link_head(r, m, err) : rc;
}

struct presence {
    const struct cf_manifest *m;
    size_t prefix_len;
    bool *seen;
};

static cf_err
presence_cb(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct presence *p = ctx;
    const char *name = info->key + p->prefix_len;

    (void)err;
    for (size_t i = 0; i < p->m->n_objects; i++)
        if (strcmp(p->m->objects[i].name, name) == 0 && p->m->objects[i].stored == info->size)
            p->seen[i] = true;
    return CF_OK;
}

/*
 * Every object that m lists is in the repository, with the size stored.
 * Checked just before and just after the manifest is written: a prune on a
 * host whose clock is a day off takes a running backup for the leftover of
 * a dead one (its id, a start time, looks old there) and deletes it.
 */
static cf_err
check_objects_present(const struct cf_repo *r, const struct cf_manifest *m, struct cf_error *err)
{
    char prefix[CF_STORAGE_KEY_MAX + 1];
    struct presence p = {m, 0, calloc(m->n_objects + 1, sizeof(bool))};
    cf_err rc;

    if (p.seen == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if ((rc = cf_repo_backup_prefix(r, m->id, prefix, sizeof(prefix), err)) == CF_OK) {
        p.prefix_len = strlen(prefix);
        rc = cf_storage_list(r->st, prefix, presence_cb, &p, err);
    }
    for (size_t i = 0; rc == CF_OK && i < m->n_objects; i++) {
        if (p.seen[i])
            continue;
        cf_error_setf(err, CF_ERR_CORRUPT,
                      "object \"%s\" of backup %s is no longer in the "
                      "repository",
                      m->objects[i].name, m->id);
        cf_error_detail(err,
                        "It was stored (%llu bytes) while the backup ran, then deleted or "
                        "replaced by something else.",
                        (unsigned long long)m->objects[i].stored);
        cf_error_hint(err, "A prune on a host whose clock is ahead of this one (or this one "
                           "behind) takes a running backup for a dead one: compare the clocks "
                           "of every host that runs coffre on this repository (timedatectl), "
                           "then run the backup again.");
        rc = CF_ERR_CORRUPT;
    }
    free(p.seen);
    return rc;
}

cf_err
cf_repo_write_manifest(const struct cf_repo *r, struct cf_manifest *m, struct cf_error *err)
{
    struct cf_backup_sizes sizes;
    struct cf_signed_context sc = {"manifest", r->instance, m->id, CF_MANIFEST_NAME};
    struct cf_source *src = NULL;
    char *json = NULL, *sealed = NULL, sha_hex[CF_SHA256_HEX] = "";
    size_t len = 0, sealed_len = 0;
    cf_err rc;

    CF_INJECT("manifest-before");
    if ((rc = check_objects_present(r, m, err)) == CF_OK &&
        (rc = link_previous(r, m, err)) == CF_OK &&
        (rc = cf_manifest_to_json(m, &json, &len, err)) == CF_OK &&
        (rc = cf_signed_seal(r->keys, &sc, json, len, &sealed, &sealed_len, err)) == CF_OK &&
        (rc = cf_mem_source_new(sealed, sealed_len, &src, err)) == CF_OK)
        rc = cf_repo_put(r, m->id, CF_MANIFEST_NAME, CF_OBJ_MANIFEST, src, &sizes, err);
    if (rc == CF_OK) {
        uint8_t digest[CF_SHA256_BYTES];

        crypto_hash_sha256(digest, (const unsigned char *)sealed, sealed_len);
        cf_hex_encode(digest, sizeof(digest), sha_hex);
    }
    cf_source_free(src);
    free(json);
    free(sealed);
    /* once the manifest is stored, a signal must not cut its check short: the run would
     * report the backup failed while the repository lists it complete */
    cf_cancel_hold();
    if (rc == CF_OK && (rc = check_objects_present(r, m, err)) != CF_OK) {
        /* the manifest must not vouch for it (a delete marker under Object Lock) */
        char key[CF_STORAGE_KEY_MAX + 1];
        struct cf_error ignored = CF_ERROR_INIT;

        if (cf_repo_key(r, m->id, CF_MANIFEST_NAME, key, sizeof(key), &ignored) == CF_OK)
            (void)cf_storage_remove(r->st, key, NULL, &ignored);
    }
    cf_cancel_release();
    if (rc == CF_OK) {
        struct cf_error e = CF_ERROR_INIT;

        /* the backup is complete whatever happens here: a warning, not a failure */
        if (cf_repo_head_write(r, m, sha_hex, &e) != CF_OK)
            cf_log_warning("backup %s is complete, but this host could not record it as its "
                           "newest: %s%s%s",
                           m->id, e.msg, e.detail[0] ? ": " : "", e.detail);
        CF_INJECT("manifest-after");
    }
    return rc;
}

struct list_ctx {
    const char *prefix;
    size_t prefix_len;
    struct cf_backup_entry *v;
    size_t n, cap;
};

static cf_err
list_cb(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct list_ctx *lc = ctx;
    const char *rest = info->key + lc->prefix_len, *slash = strchr(rest, '/');
    size_t id_len = slash ? (size_t)(slash - rest) : 0;
    struct cf_backup_entry *e;

    if (slash == NULL || id_len == 0 || id_len > CF_OBJECT_ID_MAX)
        return CF_OK;  /* not a backup's object: ignore */
    e = lc->n > 0 ? &lc->v[lc->n - 1] : NULL;
    if (e == NULL || strlen(e->id) != id_len || strncmp(e->id, rest, id_len) != 0) {
        if (lc->n == lc->cap || lc->v == NULL) {
            size_t cap = lc->cap ? lc->cap * 2 : 32;
            struct cf_backup_entry *nv = realloc(lc->v, cap * sizeof(*nv));

            if (nv == NULL)
                return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
            lc->v = nv;
            lc->cap = cap;
        }
        e = &lc->v[lc->n++];
        memset(e, 0, sizeof(*e));
        memcpy(e->id, rest, id_len);
    }
    e->n_objects++;
    e->stored_bytes += info->size;
    if (info->mtime > e->newest_mtime)
        e->newest_mtime = info->mtime;
    if (strcmp(slash + 1, CF_MANIFEST_NAME) == 0)
        e->has_manifest = true;
    return CF_OK;
}

static int
cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct cf_backup_entry *)a)->id, ((const struct cf_backup_entry *)b)->id);
}

cf_err
cf_repo_list_backups(const struct cf_repo *r, struct cf_backup_entry **out, size_t *n,
                     struct cf_error *err)
{
    char prefix[CF_STORAGE_KEY_MAX + 1];
    struct list_ctx lc = {prefix, 0, NULL, 0, 0};
    cf_err rc;

    if ((rc = cf_repo_backup_prefix(r, NULL, prefix, sizeof(prefix), err)) != CF_OK)
        return rc;
    lc.prefix_len = strlen(prefix);
    rc = cf_storage_list(r->st, prefix, list_cb, &lc, err);
    if (rc != CF_OK) {
        free(lc.v);
        return rc;
    }
    if (lc.n > 1)
        qsort(lc.v, lc.n, sizeof(*lc.v), cmp_entry);
    *out = lc.v;
    *n = lc.n;
    return CF_OK;
}

cf_err
cf_repo_put_record(const struct cf_repo *r, const char *id, const char *prefix,
                   int64_t lock_until, const char *text, char *name, size_t name_size,
                   struct cf_error *err)
{
    struct cf_repo locked = *r;
    struct cf_backup_sizes sizes;
    struct cf_source *src = NULL;
    struct timespec ts;
    time_t now;
    struct tm tm;
    char when[24];
    int n;
    cf_err rc;

    /* microseconds in the name: two runs in one second still sort in order */
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    now = ts.tv_sec;
    (void)gmtime_r(&now, &tm);
    (void)strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
    n = snprintf(name, name_size, "%s%s-%06ld", prefix, when, ts.tv_nsec / 1000);
    if (n < 0 || (size_t)n >= name_size)
        return cf_error_set(err, CF_ERR_INTERNAL, "record name \"%s…\" is too long", prefix);
    /* locked like its backup while that lasts; a lock date in the past is refused */
    locked.retain_until =
        (r->st->features & CF_STORAGE_FEAT_OBJECT_LOCK) && lock_until > (int64_t)now ? lock_until
                                                                                      : 0;
    {
        struct cf_signed_context sc = {"record", r->instance, id, name};
        char *sealed = NULL;
        size_t sealed_len = 0;

        rc = cf_signed_seal(r->keys, &sc, text, strlen(text), &sealed, &sealed_len, err);
        if (rc == CF_OK)
            rc = cf_mem_source_new(sealed, sealed_len, &src, err);
        if (rc == CF_OK)
            rc = cf_repo_put(&locked, id, name, CF_OBJ_RECORD, src, &sizes, err);
        cf_source_free(src);
        free(sealed);
    }
    return rc;
}

cf_err
cf_repo_read_record(const struct cf_repo *r, const char *id, const char *name, char **out,
                    size_t *len, struct cf_error *err)
{
    struct signed_read sr = {"record", CF_OBJ_RECORD, CF_RECORD_MAX, NULL, false, {0}};

    return read_signed(r, id, name, &sr, out, len, err);
}

bool
cf_repo_is_record_name(const char *name, const char *prefix)
{
    static const char form[] = "DDDDDDDDTDDDDDDZ-DDDDDD";
    size_t plen = strlen(prefix);

    if (strncmp(name, prefix, plen) != 0 || strlen(name) != plen + sizeof(form) - 1)
        return false;
    name += plen;
    for (size_t i = 0; form[i] != '\0'; i++)
        if (form[i] == 'D' ? !isdigit((unsigned char)name[i]) : name[i] != form[i])
            return false;
    return true;
}

cf_err
cf_repo_record_verify(const struct cf_repo *r, const char *id, int64_t lock_until, bool ok,
                      const char *problem, struct cf_error *err)
{
    char name[64], when[32];
    json_t *j;
    char *text;
    cf_err rc;

    cf_format_time((int64_t)time(NULL), when, sizeof(when));
    j = json_pack("{s:s, s:s, s:s, s:s}", "backup", id, "time", when, "result",
                  ok ? "ok" : "failed", "problem", problem ? problem : "");
    text = j != NULL ? json_dumps(j, JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (text == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = cf_repo_put_record(r, id, CF_VERIFY_PREFIX, lock_until, text, name, sizeof(name), err);
    free(text);
    return rc;
}

struct last_ctx {
    size_t prefix_len;
    char name[CF_STORAGE_KEY_MAX + 1];
};

static cf_err
last_cb(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct last_ctx *lc = ctx;
    const char *name = info->key + lc->prefix_len;

    (void)err;
    if (cf_repo_is_record_name(name, CF_VERIFY_PREFIX) && strcmp(name, lc->name) > 0)
        (void)snprintf(lc->name, sizeof(lc->name), "%s", name);
    return CF_OK;
}

cf_err
cf_repo_last_verify(const struct cf_repo *r, const char *id, bool *has_record, bool *ok,
                    struct cf_error *err)
{
    char prefix[CF_STORAGE_KEY_MAX + 1];
    struct last_ctx lc;
    char *text = NULL;
    size_t len = 0;
    json_t *j;
    cf_err rc;

    memset(&lc, 0, sizeof(lc));
    if ((rc = cf_repo_backup_prefix(r, id, prefix, sizeof(prefix), err)) != CF_OK)
        return rc;
    lc.prefix_len = strlen(prefix);
    *has_record = false;
    if ((rc = cf_storage_list(r->st, prefix, last_cb, &lc, err)) != CF_OK || lc.name[0] == '\0')
        return rc;
    /* the newest record decides; one that cannot be read or trusted counts as a
     * failed verification, never as "not verified yet" (which prune keeps as good) */
    *has_record = true;
    *ok = false;
    rc = cf_repo_read_record(r, id, lc.name, &text, &len, err);
    if (rc == CF_OK) {
        j = json_loadb(text, len, 0, NULL);
        *ok = j != NULL && json_is_string(json_object_get(j, "result")) &&
              strcmp(json_string_value(json_object_get(j, "result")), "ok") == 0 &&
              json_is_string(json_object_get(j, "backup")) &&
              strcmp(json_string_value(json_object_get(j, "backup")), id) == 0;
        json_decref(j);
    }
    free(text);
    return rc;
}

cf_err
cf_repo_read_header(const struct cf_repo *r, const char *key, struct cf_object_header *hdr,
                    struct cf_error *err)
{
    uint8_t *buf = malloc(CF_OBJECT_HEADER_MAX);
    struct cf_source *src = NULL;
    size_t have = 0, n = 0, core = 0, total = 0;
    cf_err rc;

    if (buf == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = cf_storage_open_read(r->st, key, &src, err);
    while (rc == CF_OK && total == 0) {
        rc = cf_source_read(src, buf + have, CF_OBJECT_HEADER_MAX - have, &n, err);
        if (rc != CF_OK)
            break;
        have += n;
        if ((rc = cf_object_parse(buf, have, key, hdr, &core, &total, err)) != CF_OK)
            break;
        if (total == 0 && (n == 0 || have == CF_OBJECT_HEADER_MAX))
            rc = cf_error_set(err, CF_ERR_CORRUPT, "object \"%s\" is truncated: its header is "
                                                   "incomplete", key);
    }
    cf_source_free(src);
    free(buf);
    return rc;
}
