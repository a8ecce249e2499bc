/*
 * walrepo.c - WAL files in the repository (see walrepo.h).
 */
#include "storage/walrepo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/log.h"
#include "stream/hash.h"
#include "stream/signed.h"

#define SIG_SIGNER_BYTES 8
#define SIG_RAW_BYTES (1 + SIG_SIGNER_BYTES + 64) /* "s": alg, signer prefix, r||s */
/* "t" (the system identifier is signed too): alg, sysid (big-endian), signer prefix, r||s */
#define SIG2_RAW_BYTES (1 + 8 + SIG_SIGNER_BYTES + 64)
/* "s" or "t" + unpadded URL-safe base64: keys stay short enough for a 255-byte file name
 * with the posix driver's temporary suffix */
#define SIG_TAIL_LEN (1 + (4 * SIG_RAW_BYTES + 2) / 3)
#define SIG2_TAIL_LEN (1 + (4 * SIG2_RAW_BYTES + 2) / 3)

/* ---- names and keys ---------------------------------------------------- */

static bool
is_hex_lower(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Split "<segment>.partial.<OFFSET>" into the segment's file and the offset. */
static bool
parse_object_name(const char *name, struct cf_wal_file *f, uint32_t *partial_bytes)
{
    char base[CF_WAL_NAME_MAX + 1];
    const char *dot;
    size_t len = strlen(name);

    *partial_bytes = 0;
    if (len > CF_WAL_NAME_MAX)
        return false;
    if (len == 24 + 8 + 1 + 8 && strncmp(name + 24, ".partial.", 9) == 0) {
        char *end;
        unsigned long v;

        dot = name + 33;
        if (!is_hex_lower(dot, 8) && strspn(dot, "0123456789ABCDEF") != 8)
            return false;
        errno = 0;
        v = strtoul(dot, &end, 16);
        if (errno != 0 || *end != '\0' || v == 0 || v > UINT32_MAX)
            return false;
        memcpy(base, name, 32);
        base[32] = '\0';
        if (!cf_wal_parse_name(base, f) || f->type != CF_WAL_PARTIAL)
            return false;
        *partial_bytes = (uint32_t)v;
        return true;
    }
    return cf_wal_parse_name(name, f) && f->type != CF_WAL_PARTIAL;
}

cf_err
cf_wal_prefix(const struct cf_repo *r, const struct cf_wal_file *f, char *buf, size_t size,
              struct cf_error *err)
{
    size_t len;
    int n;

    if (cf_repo_wal_prefix(r, buf, size, err) != CF_OK)
        return err->code;
    len = strlen(buf);
    if (f->type == CF_WAL_HISTORY)
        n = snprintf(buf + len, size - len, "history/");
    else
        n = snprintf(buf + len, size - len, "%08X%08X/", f->timeline, f->log);
    if (n < 0 || (size_t)n >= size - len)
        return cf_error_set(err, CF_ERR_USAGE, "instance name \"%s\" is too long", r->instance);
    return CF_OK;
}

/*
 * "s" + base64url(alg, 8-byte signer prefix, 64-byte signature), or (since WAL
 * is bound to its system) "t" + base64url(alg, 8-byte system identifier,
 * 8-byte signer prefix, 64-byte signature).
 */
static bool
parse_sig_tail(const char *t, struct cf_wal_object *o)
{
    uint8_t raw[SIG2_RAW_BYTES];
    size_t len = 0, want, tail, off = 1;
    const char *end = NULL;

    if (t[0] == 's') {
        want = SIG_RAW_BYTES;
        tail = SIG_TAIL_LEN;
    } else if (t[0] == 't') {
        want = SIG2_RAW_BYTES;
        tail = SIG2_TAIL_LEN;
    } else {
        return false;
    }
    if (strlen(t) != tail ||
        sodium_base642bin(raw, sizeof(raw), t + 1, tail - 1, NULL, &len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len != want || *end != '\0' || raw[0] == 0)
        return false;
    o->sig.alg = raw[0];
    if (t[0] == 't') {
        o->sysid = 0;
        for (int i = 0; i < 8; i++)
            o->sysid = (o->sysid << 8) | raw[1 + i];
        o->binds_system = true;
        off += 8;
    }
    memcpy(o->sig.signer, raw + off, SIG_SIGNER_BYTES);
    o->sig.signer_len = SIG_SIGNER_BYTES;
    memcpy(o->sig.value, raw + off + SIG_SIGNER_BYTES, 64);
    o->sig.len = 64;
    (void)snprintf(o->sig.label, sizeof(o->sig.label), "?");
    o->is_signed = true;
    return true;
}

bool
cf_wal_parse_key(const struct cf_repo *r, const char *key, struct cf_wal_object *out)
{
    const char *rest, *slash, *dash;
    struct cf_wal_object o;
    struct cf_error ignored = CF_ERROR_INIT; /* a prefix too long matches no key */
    char dir[CF_STORAGE_KEY_MAX + 1];
    size_t nlen, plen;

    memset(&o, 0, sizeof(o));
    if (cf_repo_wal_prefix(r, dir, sizeof(dir), &ignored) != CF_OK)
        return false;
    plen = strlen(dir);
    if (strncmp(key, dir, plen) != 0)
        return false;
    rest = key + plen;
    if ((slash = strchr(rest, '/')) == NULL || strchr(slash + 1, '/') != NULL)
        return false;
    /* "<name>-<sha256>" or "<name>-<sha256>-<signature tail>": names hold no '-' */
    dash = strchr(slash + 1, '-');
    if (dash == NULL || strlen(dash + 1) < 64 || !is_hex_lower(dash + 1, 64))
        return false;
    if (dash[65] == '-') {
        if (!parse_sig_tail(dash + 66, &o))
            return false;
    } else if (dash[65] != '\0') {
        return false;
    }
    nlen = (size_t)(dash - (slash + 1));
    if (nlen == 0 || nlen > CF_WAL_NAME_MAX)
        return false;
    memcpy(o.name, slash + 1, nlen);
    o.name[nlen] = '\0';
    memcpy(o.sha256, dash + 1, 64);
    o.sha256[64] = '\0';
    if (!parse_object_name(o.name, &o.file, &o.partial_bytes))
        return false;
    /* the object must sit in the folder its name implies */
    if (cf_wal_prefix(r, &o.file, dir, sizeof(dir), &ignored) != CF_OK ||
        strncmp(key, dir, strlen(dir)) != 0 || strlen(dir) != (size_t)(slash + 1 - key))
        return false;
    (void)snprintf(o.key, sizeof(o.key), "%s", key);
    *out = o;
    return true;
}

/* ---- hashing ------------------------------------------------------------ */

struct pread_source {
    struct cf_source base;
    int fd;
    uint64_t off, len; /* len 0: to end of file */
    const char *what;
};

static cf_err
pread_read(struct cf_source *src, void *buf, size_t cap, size_t *n, struct cf_error *err)
{
    struct pread_source *p = (struct pread_source *)src;
    size_t want = cap;
    ssize_t got;

    if (p->len > 0 && p->len - p->off < want)
        want = (size_t)(p->len - p->off);
    *n = 0;
    if (want == 0)
        return CF_OK;
    do
        got = pread(p->fd, buf, want, (off_t)p->off);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return cf_error_set(err, CF_ERR_IO, "could not read \"%s\": %s", p->what,
                            strerror(errno));
    if (got == 0 && p->len > 0)
        return cf_error_set(err, CF_ERR_IO, "\"%s\" is shorter than %llu bytes", p->what,
                            (unsigned long long)p->len);
    p->off += (uint64_t)got;
    *n = (size_t)got;
    return CF_OK;
}

static void
pread_free(struct cf_source *src)
{
    free(src);
}

static const struct cf_source_ops pread_ops = {"pread", pread_read, pread_free};

static cf_err
pread_source_new(int fd, uint64_t len, const char *what, struct cf_source **out,
                 struct cf_error *err)
{
    struct pread_source *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    p->base.ops = &pread_ops;
    p->fd = fd;
    p->len = len;
    p->what = what;
    *out = &p->base;
    return CF_OK;
}

cf_err
cf_wal_hash_fd(int fd, uint64_t len, const char *what, char hex[65], struct cf_error *err)
{
    struct cf_source *src = NULL;
    struct cf_sink *null = NULL, *tap = NULL;
    uint8_t digest[CF_SHA256_BYTES];
    uint64_t bytes;
    cf_err rc;

    if ((rc = pread_source_new(fd, len, what, &src, err)) != CF_OK ||
        (rc = cf_null_sink_new(&null, err)) != CF_OK)
        goto out;
    if ((rc = cf_hash_tap_new(null, &tap, err)) != CF_OK) {
        cf_sink_free(null);
        goto out;
    }
    if ((rc = cf_pump(src, tap, CF_PUMP_BUFFER, err)) == CF_OK) {
        cf_hash_result(tap, digest, &bytes);
        cf_hex_encode(digest, sizeof(digest), hex);
    }
out:
    cf_sink_free(tap);
    cf_source_free(src);
    return rc;
}

/* ---- listing ------------------------------------------------------------ */

struct find_ctx {
    const struct cf_repo *r;
    const char *name;          /* NULL: everything */
    bool with_partials;
    struct cf_wal_object *v;
    size_t n, cap;
    size_t foreign; /* skipped: bound to another system */
};

static bool
matches(const struct find_ctx *c, const struct cf_wal_object *o)
{
    size_t len;

    if (c->name == NULL || strcmp(o->name, c->name) == 0)
        return true;
    len = strlen(c->name);
    return c->with_partials && o->file.type == CF_WAL_PARTIAL && len == 24 &&
           strncmp(o->name, c->name, 24) == 0;
}

static cf_err
find_cb(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct find_ctx *c = ctx;
    struct cf_wal_object o;

    if (!cf_wal_parse_key(c->r, info->key, &o)) /* foreign files are not ours to judge */
        return CF_OK;
    if (!matches(c, &o))
        return CF_OK;
    if (c->r->wal_system != 0 && o.sysid != 0 && o.sysid != c->r->wal_system) {
        if (c->foreign++ == 0)
            cf_log_warning("ignoring WAL object \"%s\": it belongs to database system %llu, "
                           "not to %llu",
                           o.key, (unsigned long long)o.sysid,
                           (unsigned long long)c->r->wal_system);
        return CF_OK;
    }
    o.stored_bytes = info->size;
    o.mtime = info->mtime;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct cf_wal_object *v = realloc(c->v, cap * sizeof(*v));

        if (v == NULL)
            return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = o;
    return CF_OK;
}

static int
cmp_key(const void *a, const void *b)
{
    return strcmp(((const struct cf_wal_object *)a)->key, ((const struct cf_wal_object *)b)->key);
}

static cf_err
collect(const struct cf_repo *r, const char *prefix, const char *name, bool with_partials,
        struct cf_wal_object **out, size_t *n, struct cf_error *err)
{
    struct find_ctx c = {r, name, with_partials, NULL, 0, 0, 0};
    cf_err rc = cf_storage_list(r->st, prefix, find_cb, &c, err);

    if (rc != CF_OK) {
        free(c.v);
        return rc;
    }
    if (c.foreign > 1)
        cf_log_warning("ignored %zu WAL objects of database systems other than %llu", c.foreign,
                       (unsigned long long)r->wal_system);
    if (c.n > 1)
        qsort(c.v, c.n, sizeof(*c.v), cmp_key);
    *out = c.v;
    *n = c.n;
    return CF_OK;
}

cf_err
cf_wal_find(const struct cf_repo *r, const char *name, bool with_partials,
            struct cf_wal_object **out, size_t *n, struct cf_error *err)
{
    char prefix[CF_STORAGE_KEY_MAX + 1];
    struct cf_wal_file f;
    uint32_t pb;
    cf_err rc;

    if (!parse_object_name(name, &f, &pb))
        return cf_error_set(err, CF_ERR_USAGE, "\"%s\" is not a WAL file name", name);
    if ((rc = cf_wal_prefix(r, &f, prefix, sizeof(prefix), err)) != CF_OK)
        return rc;
    /* narrow the listing to this name: "<dir>/<first 24 characters>" */
    (void)snprintf(prefix + strlen(prefix), sizeof(prefix) - strlen(prefix), "%.24s", name);
    return collect(r, prefix, name, with_partials, out, n, err);
}

cf_err
cf_wal_list(const struct cf_repo *r, struct cf_wal_object **out, size_t *n, struct cf_error *err)
{
    char prefix[CF_STORAGE_KEY_MAX + 1];

    if (cf_repo_wal_prefix(r, prefix, sizeof(prefix), err) != CF_OK)
        return err->code;
    return collect(r, prefix, NULL, true, out, n, err);
}

/* ---- store and fetch ---------------------------------------------------- */

/*
 * What a WAL object's signature covers: "wal", the instance, the file name
 * and the sha256 ("s" keys); "t" keys also the system identifier, under
 * their own domain so that neither statement can pass for the other.
 */
static void
wal_digest(const struct cf_repo *r, const char *name, const char sha256[65], bool binds_system,
           uint64_t sysid, uint8_t digest[32])
{
    struct cf_signed_context sc;
    char payload[64 + 1 + 16 + 1];

    sc.domain = binds_system ? "wal-system" : "wal";
    sc.instance = r->instance;
    sc.backup_id = r->instance;
    sc.name = name;
    if (!binds_system) {
        cf_signed_digest(&sc, sha256, 64, digest);
        return;
    }
    (void)snprintf(payload, sizeof(payload), "%.64s:%016llx", sha256, (unsigned long long)sysid);
    cf_signed_digest(&sc, payload, strlen(payload), digest);
}

/* The key's signature tail for (instance, name, sha256, system identifier). */
static cf_err
sign_tail(const struct cf_repo *r, const char *name, const char sha256[65], uint64_t sysid,
          char *out, size_t size, struct cf_error *err)
{
    struct cf_signature sig;
    uint8_t digest[32], raw[SIG2_RAW_BYTES];

    if (r->keys == NULL || r->keys->sign == NULL)
        return cf_error_set(err, CF_ERR_KEY, "no signing key: WAL file \"%s\" cannot be signed",
                            name);
    wal_digest(r, name, sha256, true, sysid, digest);
    memset(&sig, 0, sizeof(sig));
    if (r->keys->sign(r->keys->ctx, digest, &sig, err) != CF_OK) {
        cf_error_context(err, "while signing WAL file \"%s\"", name);
        return err->code;
    }
    if (sig.len != 64 || size < SIG2_TAIL_LEN + 1)
        return cf_error_set(err, CF_ERR_KEY, "a %u-byte signature does not fit a WAL key",
                            (unsigned)sig.len);
    raw[0] = sig.alg;
    for (int i = 0; i < 8; i++)
        raw[1 + i] = (uint8_t)(sysid >> (56 - 8 * i));
    memcpy(raw + 9, sig.signer, SIG_SIGNER_BYTES);
    memcpy(raw + 9 + SIG_SIGNER_BYTES, sig.value, 64);
    out[0] = 't';
    (void)sodium_bin2base64(out + 1, size - 1, raw, sizeof(raw),
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return CF_OK;
}

cf_err
cf_wal_authenticate(const struct cf_repo *r, const struct cf_wal_object *o, struct cf_error *err)
{
    uint8_t digest[32];

    if (!o->is_signed) {
        if (r->allow_unsigned)
            return CF_OK;
        cf_error_setf(err, CF_ERR_KEY, "WAL object \"%s\" is not signed", o->key);
        cf_error_hint(err, "WAL archived before signatures is read with --allow-unsigned.");
        return CF_ERR_KEY;
    }
    if (r->keys == NULL || r->keys->verify == NULL)
        return cf_error_set(err, CF_ERR_KEY, "cannot check the signature of WAL object \"%s\"",
                            o->key);
    wal_digest(r, o->name, o->sha256, o->binds_system, o->sysid, digest);
    if (r->keys->verify(r->keys->ctx, digest, &o->sig, err) != CF_OK) {
        cf_error_context(err, "while checking WAL object \"%s\"", o->key);
        return err->code;
    }
    return CF_OK;
}

/*
 * The system identifier in the long page header that starts every segment
 * (XLogLongPageHeaderData: xlp_info at offset 2 with XLP_LONG_HEADER, 0x0002;
 * xlp_sysid at 24; xlp_seg_size at 32); 0 when the first page is not one.
 */
uint64_t
cf_wal_header_sysid(int fd)
{
    uint8_t h[40];
    uint64_t sysid;
    uint32_t segsz;
    uint16_t info;

    if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
        return 0;
    memcpy(&info, h + 2, sizeof(info));
    memcpy(&sysid, h + 24, sizeof(sysid));
    memcpy(&segsz, h + 32, sizeof(segsz));
    if ((info & 0x0002) == 0 || !cf_wal_segment_size_valid(segsz))
        return 0;
    return sysid;
}

/* The system the file belongs to: its own first page decides (segments and partials). */
static cf_err
file_sysid(const char *name, const struct cf_wal_file *f, int fd, uint64_t *sysid,
           struct cf_error *err)
{
    uint64_t in_file;

    if (f->type != CF_WAL_SEGMENT && f->type != CF_WAL_PARTIAL)
        return CF_OK;
    in_file = cf_wal_header_sysid(fd);
    if (in_file != 0 && *sysid != 0 && in_file != *sysid) {
        cf_error_setf(err, CF_ERR_CORRUPT,
                      "WAL file \"%s\" belongs to database system "
                      "%llu, not to %llu",
                      name, (unsigned long long)in_file, (unsigned long long)*sysid);
        cf_error_detail(err, "The system identifier in the file's first page differs from "
                             "the one of the cluster archiving it (global/pg_control).");
        cf_error_hint(err, "Archive each cluster's own WAL only: check archive_command and "
                           "the file pushed.");
        return CF_ERR_CORRUPT;
    }
    if (in_file != 0)
        *sysid = in_file;
    return CF_OK;
}

/* The key's directory part for f, checked to leave room for name, digest and signature. */
static cf_err
wal_key_prefix(const struct cf_repo *r, const struct cf_wal_file *f, const char *name, char *key,
               size_t size, struct cf_error *err)
{
    if (cf_wal_prefix(r, f, key, size, err) != CF_OK)
        return err->code;
    if (strlen(key) + strlen(name) + 66 + 1 + SIG2_TAIL_LEN > size)
        return cf_error_set(err, CF_ERR_USAGE, "WAL key for \"%s\" is too long", name);
    return CF_OK;
}

/* "<prefix><name>-<sha256>-<signature>" */
static cf_err
wal_full_key(const struct cf_repo *r, const char *prefix, const char *name, const char sha256[65],
             uint64_t sysid, char *key, size_t size, struct cf_error *err)
{
    int n = snprintf(key, size, "%s%s-%s-", prefix, name, sha256);

    if (n < 0 || (size_t)n >= size)
        return cf_error_set(err, CF_ERR_USAGE, "WAL key for \"%s\" is too long", name);
    return sign_tail(r, name, sha256, sysid, key + strlen(key), size - strlen(key), err);
}

cf_err
cf_wal_store(const struct cf_repo *r, const char *name, int fd, uint64_t len, const char sha256[65],
             uint64_t sysid, bool *already, struct cf_error *err)
{
    char prefix[CF_STORAGE_KEY_MAX + 1], key[CF_STORAGE_KEY_MAX + 1];
    struct cf_backup_sizes sizes;
    struct cf_wal_object *found = NULL;
    struct cf_source *src = NULL;
    struct cf_wal_file f;
    uint32_t pb;
    size_t n = 0;
    cf_err rc;

    *already = false;
    if (!parse_object_name(name, &f, &pb))
        return cf_error_set(err, CF_ERR_USAGE, "\"%s\" is not a WAL file name", name);
    if (strlen(sha256) != 64 || !is_hex_lower(sha256, 64))
        return cf_error_set(err, CF_ERR_INTERNAL, "bad digest for WAL file \"%s\"", name);
    if ((rc = file_sysid(name, &f, fd, &sysid, err)) != CF_OK)
        return rc;
    if ((rc = cf_wal_find(r, name, false, &found, &n, err)) != CF_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(found[i].sha256, sha256) == 0) {
            *already = true;
            break;
        }
    }
    if (!*already && n > 0 && f.type != CF_WAL_PARTIAL) {
        cf_error_setf(err, CF_ERR_CORRUPT,
                      "WAL file \"%s\" is already archived with different content", name);
        cf_error_detail(err, "The repository holds \"%s\" (sha256 %s); this file has sha256 %s.",
                        found[0].key, found[0].sha256, sha256);
        cf_error_hint(err, "Two clusters may be archiving into one repository instance, or a "
                           "cluster was restored without a new timeline.  Check "
                           "[coffre] instance and archive_command before anything else.");
        free(found);
        return CF_ERR_CORRUPT;
    }
    free(found);
    if (*already)
        return CF_OK;
    if ((rc = wal_key_prefix(r, &f, name, prefix, sizeof(prefix), err)) != CF_OK ||
        (rc = wal_full_key(r, prefix, name, sha256, sysid, key, sizeof(key), err)) != CF_OK)
        return rc;
    if ((rc = pread_source_new(fd, len, name, &src, err)) != CF_OK)
        return rc;
    rc = cf_repo_put_key(r, key, r->instance, name, CF_OBJ_WAL, src, &sizes, err);
    cf_source_free(src);
    if (rc == CF_OK) {
        char got[65];

        cf_hex_encode(sizes.sha256, sizeof(sizes.sha256), got);
        if (strcmp(got, sha256) != 0) {
            /* the file changed under us; the object is named after the wrong digest */
            struct cf_error ignored = CF_ERROR_INIT;

            (void)cf_storage_remove(r->st, key, NULL, &ignored);
            cf_error_setf(err, CF_ERR_IO, "WAL file \"%s\" changed while it was being stored",
                          name);
            cf_error_hint(err, "Nothing was archived; the archiver will retry.");
            return CF_ERR_IO;
        }
    }
    return rc;
}

/* cf_wal_store_fd's naming, once the content's digest is known */
struct one_pass {
    const struct cf_repo *r;
    const char *name;
    const char *prefix;
    uint64_t sysid;
    char *sha256; /* out: hex */
};

static cf_err
one_pass_key(void *arg, const uint8_t digest[32], char *key, size_t size, struct cf_error *err)
{
    struct one_pass *op = arg;

    cf_hex_encode(digest, 32, op->sha256);
    return wal_full_key(op->r, op->prefix, op->name, op->sha256, op->sysid, key, size, err);
}

cf_err
cf_wal_store_fd(const struct cf_repo *r, const char *name, int fd, uint64_t len, uint64_t sysid,
                char sha256[65], bool *already, struct cf_error *err)
{
    char prefix[CF_STORAGE_KEY_MAX + 1], placeholder[CF_STORAGE_KEY_MAX + 1];
    struct cf_backup_sizes sizes;
    struct cf_wal_object *found = NULL;
    struct cf_source *src = NULL;
    struct one_pass op = {r, name, prefix, 0, sha256};
    struct cf_wal_file f;
    uint32_t pb;
    size_t n = 0;
    cf_err rc;

    *already = false;
    sha256[0] = '\0';
    if (!parse_object_name(name, &f, &pb))
        return cf_error_set(err, CF_ERR_USAGE, "\"%s\" is not a WAL file name", name);
    if ((rc = file_sysid(name, &f, fd, &sysid, err)) != CF_OK)
        return rc;
    /* one pass only where the driver can name the object at the end, and when no object
     * of this name exists: comparing with one needs the digest first */
    if (r->st->features & CF_STORAGE_FEAT_LATE_KEY) {
        if ((rc = cf_wal_find(r, name, false, &found, &n, err)) != CF_OK)
            return rc;
        free(found);
    }
    if (!(r->st->features & CF_STORAGE_FEAT_LATE_KEY) || n > 0) {
        if ((rc = cf_wal_hash_fd(fd, len, name, sha256, err)) != CF_OK)
            return rc;
        return cf_wal_store(r, name, fd, len, sha256, sysid, already, err);
    }
    if ((rc = wal_key_prefix(r, &f, name, prefix, sizeof(prefix), err)) != CF_OK)
        return rc;
    if (snprintf(placeholder, sizeof(placeholder), "%s%s.pending", prefix, name) >=
        (int)sizeof(placeholder))
        return cf_error_set(err, CF_ERR_USAGE, "WAL key for \"%s\" is too long", name);
    op.sysid = sysid;
    if ((rc = pread_source_new(fd, len, name, &src, err)) != CF_OK)
        return rc;
    rc = cf_repo_put_late_key(r, placeholder, r->instance, name, CF_OBJ_WAL, src, one_pass_key, &op,
                              &sizes, err);
    cf_source_free(src);
    if (rc == CF_ERR_EXISTS && sha256[0] != '\0') {
        /* another push of the same file won the race: the same content, then */
        cf_error_clear(err);
        *already = true;
        return CF_OK;
    }
    return rc;
}

cf_err
cf_wal_fetch(const struct cf_repo *r, const struct cf_wal_object *o, struct cf_sink *terminal,
             struct cf_error *err)
{
    uint8_t sha[CF_SHA256_BYTES];

    if (cf_hex_decode(o->sha256, sha, sizeof(sha)) != 0) {
        cf_sink_free(terminal);
        return cf_error_set(err, CF_ERR_CORRUPT, "WAL object \"%s\" has a malformed name",
                            o->key);
    }
    if (cf_wal_authenticate(r, o, err) != CF_OK) {
        cf_sink_free(terminal);
        return err->code;
    }
    /* signed objects name this instance in their header; older ones the constant "wal" */
    return cf_repo_get_key(r, o->key, o->is_signed ? r->instance : CF_WAL_OBJECT_ID, o->name,
                           CF_OBJ_WAL, sha, terminal, err);
}
