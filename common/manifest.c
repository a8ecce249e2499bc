/*
 * manifest.c - manifest <-> JSON (see manifest.h).
 */
#include "common/manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

void
cf_format_time(int64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        (void)snprintf(buf, size, "?");
}

int64_t
cf_parse_time(const char *s)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0')
        return -1;
    return (int64_t)timegm(&tm);
}

static json_t *
str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *
object_to_json(const struct cf_manifest_object *o)
{
    json_t *tables = json_object();
    json_t *j;

    for (size_t i = 0; i < o->n_tables; i++)
        json_object_set_new(tables, o->tables[i].name, json_integer(o->tables[i].rows));
    j = json_pack("{s:s, s:s, s:o, s:s, s:I, s:I, s:I}", "name", o->name, "kind",
                  cf_object_kind_name(o->kind),
                  "database", str_or_null(o->database), "sha256", o->sha256, "plain_bytes",
                  (json_int_t)o->plain, "compressed_bytes", (json_int_t)o->compressed,
                  "stored_bytes", (json_int_t)o->stored);
    if (j == NULL) {
        json_decref(tables);
        return NULL;
    }
    json_object_set_new(j, "row_counts", tables);
    json_object_set_new(j, "row_count_seconds", json_real(o->count_seconds));
    if (o->has_content) {
        json_t *seqs = json_array();

        for (size_t i = 0; i < o->n_sequences; i++)
            json_array_append_new(seqs, json_string(o->sequences[i]));
        json_object_set_new(j, "sequences", seqs);
        json_object_set_new(j, "large_objects", json_integer((json_int_t)o->large_objects));
    }
    return j;
}

/*
 * "physical": {"start_lsn": "0/2000028", "stop_lsn": ..., "start_timeline": 1,
 *   "stop_timeline": 1, "wal_start": "000000010000000000000002", "wal_stop": ...,
 *   "wal_segment_size": 16777216, "from_standby": false, "pg_manifest": "backup_manifest",
 *   "system_identifier": "7312345678901234567" (a string: it is a uint64; absent before
 *   WAL was bound to its system),
 *   "tablespaces": [{"oid": 0, "location": null, "object": "base.tar"}, ...]}
 */
static json_t *
physical_to_json(const struct cf_manifest_physical *p)
{
    json_t *tbs = json_array(), *j;

    for (size_t i = 0; i < p->n_tablespaces; i++)
        json_array_append_new(tbs, json_pack("{s:I, s:o, s:s}", "oid",
                                             (json_int_t)p->tablespaces[i].oid, "location",
                                             str_or_null(p->tablespaces[i].location), "object",
                                             p->tablespaces[i].object));
    j = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:b, s:s}", "start_lsn", p->start_lsn,
                  "stop_lsn", p->stop_lsn, "start_timeline", (json_int_t)p->start_timeline,
                  "stop_timeline", (json_int_t)p->stop_timeline, "wal_start", p->wal_start,
                  "wal_stop", p->wal_stop, "wal_segment_size", (json_int_t)p->wal_segment_size,
                  "from_standby", p->from_standby, "pg_manifest", p->pg_manifest);
    if (j == NULL) {
        json_decref(tbs);
        return NULL;
    }
    json_object_set_new(j, "tablespaces", tbs);
    if (p->system_identifier != 0) {
        char sysid[24];

        (void)snprintf(sysid, sizeof(sysid), "%llu", (unsigned long long)p->system_identifier);
        json_object_set_new(j, "system_identifier", json_string(sysid));
    }
    return j;
}

cf_err
cf_manifest_to_json(const struct cf_manifest *m, char **out, size_t *len, struct cf_error *err)
{
    char start[32], stop[32];
    json_t *root, *retention, *objs = json_array();
    char *s;

    cf_format_time(m->start_time, start, sizeof(start));
    cf_format_time(m->stop_time, stop, sizeof(stop));
    for (size_t i = 0; i < m->n_objects; i++)
        json_array_append_new(objs, object_to_json(&m->objects[i]));
    {
        char expires[32], lock[32];

        cf_format_time(m->expires, expires, sizeof(expires));
        cf_format_time(m->lock_until, lock, sizeof(lock));
        root = json_pack("{s:s, s:s, s:o}", "class",
                         m->retention_class ? m->retention_class : "daily", "expires", expires,
                         "lock_until", m->lock_until > 0 ? json_string(lock) : json_null());
    }
    retention = root;
    root = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:i, s:s, s:s, s:s, s:s, s:s, s:o, s:o}",
                     "format", CF_MANIFEST_FORMAT, "id", m->id, "instance", m->instance, "kind",
                     m->kind, "formula", m->formula, "schema", str_or_null(m->schema),
                     "pg_version_num", m->pg_version_num, "pg_version", m->pg_version,
                     "hostname", m->hostname, "coffre_version", m->coffre_version, "start_time",
                     start, "stop_time", stop, "globals_note", str_or_null(m->globals_note),
                     "objects", objs);
    if (root == NULL || retention == NULL) {
        json_decref(root);
        json_decref(retention);
        return cf_error_set(err, CF_ERR_INTERNAL, "could not build the manifest");
    }
    json_object_set_new(root, "retention", retention);
    if (m->previous_id != NULL) {
        char expires[32];
        json_t *prev;

        cf_format_time(m->previous_expires, expires, sizeof(expires));
        prev = json_pack("{s:s, s:s, s:s}", "id", m->previous_id, "sha256", m->previous_sha256,
                         "expires", expires);
        if (prev == NULL) {
            json_decref(root);
            return cf_error_set(err, CF_ERR_INTERNAL, "could not build the manifest");
        }
        json_object_set_new(root, "previous", prev);
    }
    if (m->physical != NULL) {
        json_t *ph = physical_to_json(m->physical);

        if (ph == NULL) {
            json_decref(root);
            return cf_error_set(err, CF_ERR_INTERNAL, "could not build the manifest");
        }
        json_object_set_new(root, "physical", ph);
    }
    s = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    if (s == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    *out = s;
    *len = strlen(s);
    return CF_OK;
}

static char *
dup_opt(json_t *j)
{
    return json_is_string(j) ? strdup(json_string_value(j)) : NULL;
}

static int
object_from_json(json_t *j, struct cf_manifest_object *o, struct cf_error *err)
{
    const char *name, *kind, *sha;
    json_t *db = NULL, *tables = NULL, *secs = NULL, *seqs = NULL, *los = NULL;
    json_int_t plain, comp, stored;
    const char *key;
    json_t *val;
    size_t i = 0;

    if (json_unpack(j, "{s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:o, s?o, s?o, s?o}", "name", &name,
                    "kind", &kind, "database", &db, "sha256", &sha, "plain_bytes", &plain,
                    "compressed_bytes", &comp, "stored_bytes", &stored, "row_counts", &tables,
                    "row_count_seconds", &secs, "sequences", &seqs, "large_objects",
                    &los) != 0 ||
        strlen(sha) != 64 || !json_is_object(tables) || plain < 0 || comp < 0 || stored < 0)
        return -1;
    if ((seqs != NULL) != (los != NULL) || (seqs != NULL && !json_is_array(seqs)) ||
        (los != NULL && (!json_is_integer(los) || json_integer_value(los) < 0)))
        return -1;
    if (cf_object_kind_parse(kind, name, &o->kind, err) != CF_OK)
        return -1; /* never guessed: an unknown kind is not a dump */
    o->name = strdup(name);
    o->database = dup_opt(db);
    memcpy(o->sha256, sha, 65);
    o->plain = (uint64_t)plain;
    o->compressed = (uint64_t)comp;
    o->stored = (uint64_t)stored;
    o->count_seconds = json_is_number(secs) ? json_number_value(secs) : 0;
    o->tables = calloc(json_object_size(tables) + 1, sizeof(*o->tables));
    if (o->name == NULL || o->tables == NULL)
        return -1;
    json_object_foreach(tables, key, val) {
        if (!json_is_integer(val))
            return -1;
        o->tables[i].name = strdup(key);
        o->tables[i].rows = (int64_t)json_integer_value(val);
        o->n_tables = ++i;
        if (o->tables[i - 1].name == NULL)
            return -1;
    }
    if (seqs == NULL)
        return 0;
    o->has_content = true;
    o->large_objects = (int64_t)json_integer_value(los);
    o->sequences = calloc(json_array_size(seqs) + 1, sizeof(*o->sequences));
    if (o->sequences == NULL)
        return -1;
    json_array_foreach(seqs, i, val) {
        if (!json_is_string(val) || (o->sequences[i] = strdup(json_string_value(val))) == NULL)
            return -1;
        o->n_sequences = i + 1;
    }
    return 0;
}

/* "previous": {"id": "...", "sha256": "<64 hex>", "expires": "..."} */
static int
previous_from_json(json_t *j, struct cf_manifest *m)
{
    const char *id, *sha, *expires;

    if (json_unpack(j, "{s:s, s:s, s:s}", "id", &id, "sha256", &sha, "expires", &expires) != 0 ||
        strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
        return -1;
    if ((m->previous_id = strdup(id)) == NULL)
        return -1;
    memcpy(m->previous_sha256, sha, 65);
    m->previous_expires = cf_parse_time(expires);
    return m->previous_expires < 0 ? -1 : 0;
}

/* "retention": {"class": "weekly", "expires": "...", "lock_until": "..." | null} */
static int
retention_from_json(json_t *j, struct cf_manifest *m)
{
    const char *cls, *expires;
    json_t *lock = NULL;

    if (json_unpack(j, "{s:s, s:s, s:o}", "class", &cls, "expires", &expires, "lock_until",
                    &lock) != 0 ||
        (strcmp(cls, "daily") != 0 && strcmp(cls, "weekly") != 0 && strcmp(cls, "monthly") != 0))
        return -1;
    m->retention_class = strdup(cls);
    m->expires = cf_parse_time(expires);
    m->lock_until = json_is_string(lock) ? cf_parse_time(json_string_value(lock)) : 0;
    if (m->retention_class == NULL || m->expires < 0 || m->lock_until < 0 ||
        (!json_is_string(lock) && !json_is_null(lock)))
        return -1;
    return 0;
}

static int
physical_from_json(json_t *j, struct cf_manifest *m)
{
    const char *start, *stop, *ws, *we, *pgm;
    json_int_t stl, etl, segsize;
    int standby;
    json_t *tbs = NULL, *t;
    struct cf_manifest_physical *p;
    size_t i;

    if (json_unpack(j, "{s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:b, s:s, s:o}", "start_lsn", &start,
                    "stop_lsn", &stop, "start_timeline", &stl, "stop_timeline", &etl,
                    "wal_start", &ws, "wal_stop", &we, "wal_segment_size", &segsize,
                    "from_standby", &standby, "pg_manifest", &pgm, "tablespaces", &tbs) != 0 ||
        !json_is_array(tbs) || stl < 1 || stl > UINT32_MAX || etl < 1 || etl > UINT32_MAX ||
        segsize < 1)
        return -1;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return -1;
    m->physical = p;
    p->start_lsn = strdup(start);
    p->stop_lsn = strdup(stop);
    p->start_timeline = (uint32_t)stl;
    p->stop_timeline = (uint32_t)etl;
    p->wal_start = strdup(ws);
    p->wal_stop = strdup(we);
    p->wal_segment_size = (uint64_t)segsize;
    p->from_standby = standby != 0;
    if ((t = json_object_get(j, "system_identifier")) != NULL) {
        const char *v = json_string_value(t);
        char *end = NULL;

        errno = 0;
        if (v == NULL || v[0] < '1' || v[0] > '9' ||
            (p->system_identifier = strtoull(v, &end, 10)) == 0 || errno != 0 || *end != '\0')
            return -1;
    }
    p->pg_manifest = strdup(pgm);
    p->tablespaces = calloc(json_array_size(tbs) + 1, sizeof(*p->tablespaces));
    if (p->start_lsn == NULL || p->stop_lsn == NULL || p->wal_start == NULL ||
        p->wal_stop == NULL || p->pg_manifest == NULL || p->tablespaces == NULL)
        return -1;
    json_array_foreach(tbs, i, t) {
        const char *obj;
        json_int_t oid;
        json_t *loc = NULL;

        if (json_unpack(t, "{s:I, s:o, s:s}", "oid", &oid, "location", &loc, "object", &obj) != 0 ||
            oid < 0 || oid > UINT32_MAX || (!json_is_null(loc) && !json_is_string(loc)))
            return -1;
        p->n_tablespaces = i + 1;
        p->tablespaces[i].oid = (uint32_t)oid;
        p->tablespaces[i].location = dup_opt(loc);
        p->tablespaces[i].object = strdup(obj);
        if (p->tablespaces[i].object == NULL)
            return -1;
    }
    return 0;
}

static int
manifest_from_root(json_t *root, struct cf_manifest *m, struct cf_error *err)
{
    const char *id, *inst, *kind, *formula, *pgv, *host, *cv, *start, *stop;
    json_t *schema = NULL, *note = NULL, *objs = NULL, *o;
    int format, pgnum;
    size_t i;

    if (json_unpack(root, "{s:i, s:s, s:s, s:s, s:s, s:o, s:i, s:s, s:s, s:s, s:s, s:s, s:o, s:o}",
                    "format", &format, "id", &id, "instance", &inst, "kind", &kind, "formula",
                    &formula, "schema", &schema, "pg_version_num", &pgnum, "pg_version", &pgv,
                    "hostname", &host, "coffre_version", &cv, "start_time", &start, "stop_time",
                    &stop, "globals_note", &note, "objects", &objs) != 0 ||
        format != CF_MANIFEST_FORMAT || !json_is_array(objs))
        return -1;
    m->id = strdup(id);
    m->instance = strdup(inst);
    m->kind = strdup(kind);
    m->formula = strdup(formula);
    m->schema = dup_opt(schema);
    m->pg_version_num = pgnum;
    m->pg_version = strdup(pgv);
    m->hostname = strdup(host);
    m->coffre_version = strdup(cv);
    m->globals_note = dup_opt(note);
    m->start_time = cf_parse_time(start);
    m->stop_time = cf_parse_time(stop);
    if (m->start_time < 0 || m->stop_time < 0)
        return -1;
    /* manifests written before classes existed have no "retention": unknown class */
    if (json_object_get(root, "retention") != NULL &&
        retention_from_json(json_object_get(root, "retention"), m) != 0)
        return -1;
    if (json_object_get(root, "physical") != NULL &&
        physical_from_json(json_object_get(root, "physical"), m) != 0)
        return -1;
    if (json_object_get(root, "previous") != NULL &&
        previous_from_json(json_object_get(root, "previous"), m) != 0)
        return -1;
    m->objects = calloc(json_array_size(objs) + 1, sizeof(*m->objects));
    if (m->objects == NULL)
        return -1;
    json_array_foreach(objs, i, o) {
        m->n_objects = i + 1;
        if (object_from_json(o, &m->objects[i], err) != 0)
            return -1;
    }
    return 0;
}

cf_err
cf_manifest_from_json(const char *json, size_t len, const char *what, struct cf_manifest **out,
                      struct cf_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    struct cf_manifest *m;

    if (root == NULL) {
        cf_error_setf(err, CF_ERR_CORRUPT, "manifest \"%s\" is not valid JSON", what);
        cf_error_detail(err, "Line %d, column %d: %s.", jerr.line, jerr.column, jerr.text);
        return CF_ERR_CORRUPT;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL || manifest_from_root(root, m, err) != 0) {
        json_decref(root);
        cf_manifest_free(m);
        if (err->code != CF_OK) /* a specific error (an unknown kind): say where */
            cf_error_context(err, "in manifest \"%s\"", what);
        return cf_error_set(err, CF_ERR_CORRUPT, "manifest \"%s\" has missing or invalid fields",
                            what);
    }
    json_decref(root);
    *out = m;
    return CF_OK;
}

void
cf_manifest_object_clear(struct cf_manifest_object *o)
{
    free(o->name);
    free(o->database);
    for (size_t i = 0; i < o->n_tables; i++)
        free(o->tables[i].name);
    free(o->tables);
    for (size_t i = 0; i < o->n_sequences; i++)
        free(o->sequences[i]);
    free(o->sequences);
    memset(o, 0, sizeof(*o));
}

void
cf_manifest_clear(struct cf_manifest *m)
{
    free(m->id);
    free(m->instance);
    free(m->kind);
    free(m->formula);
    free(m->schema);
    free(m->pg_version);
    free(m->hostname);
    free(m->coffre_version);
    free(m->globals_note);
    free(m->retention_class);
    free(m->previous_id);
    for (size_t i = 0; i < m->n_objects; i++)
        cf_manifest_object_clear(&m->objects[i]);
    free(m->objects);
    if (m->physical != NULL) {
        struct cf_manifest_physical *p = m->physical;

        free(p->start_lsn);
        free(p->stop_lsn);
        free(p->wal_start);
        free(p->wal_stop);
        free(p->pg_manifest);
        for (size_t i = 0; i < p->n_tablespaces; i++) {
            free(p->tablespaces[i].location);
            free(p->tablespaces[i].object);
        }
        free(p->tablespaces);
        free(p);
    }
    memset(m, 0, sizeof(*m));
}

void
cf_manifest_free(struct cf_manifest *m)
{
    if (m == NULL)
        return;
    cf_manifest_clear(m);
    free(m);
}

cf_err
cf_manifest_add(struct cf_manifest *m, struct cf_manifest_object *o, struct cf_error *err)
{
    struct cf_manifest_object *n = realloc(m->objects, (m->n_objects + 1) * sizeof(*n));

    if (n == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    m->objects = n;
    m->objects[m->n_objects++] = *o;
    memset(o, 0, sizeof(*o));
    return CF_OK;
}

uint64_t
cf_manifest_plain_bytes(const struct cf_manifest *m)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < m->n_objects; i++)
        sum += m->objects[i].plain;
    return sum;
}
