/*
 * backup.c - the logical backup engine (see backup.h).
 *
 * Order: every database dump, then the globals, then the manifest, written
 * last.
 */
#include "agent/backup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/dump.h"
#include "common/inject.h"
#include "common/log.h"
#include "common/pg.h"
#include "policies/policy.h"
#include "stream/child.h"
#include "stream/hash.h"

struct run {
    const struct cf_backup_opts *o;
    const struct cf_pg_conf *pg;
    const struct cf_repo *repo;   /* &repo_copy: carries this backup's lock date */
    struct cf_repo repo_copy;
    struct cf_manifest m;
    char id[CF_OBJECT_ID_MAX + 1];
    int server_version;
    int is_superuser;
};

/*
 * Decide the GFS class from the complete backups already in the repository
 * (their ids are their start times), and the Object Lock date of every
 * object this backup writes.
 */
static void
classify(const struct cf_retention_conf *retention, struct cf_repo *repo, struct cf_manifest *m,
         const struct cf_backup_entry *v, size_t n)
{
    struct cf_retention_policy policy;
    int64_t *prev = calloc(n + 1, sizeof(*prev)), t = m->start_time;
    size_t k = 0;
    enum cf_retention_class cls;

    for (size_t i = 0; prev != NULL && i < n; i++)
        if (v[i].has_manifest && cf_backup_id_time(v[i].id) >= 0)
            prev[k++] = cf_backup_id_time(v[i].id);
    cf_policy_from_conf(retention, &policy);
    cls = cf_retention_classify(t, prev, k);
    free(prev);
    m->retention_class = strdup(cf_retention_class_name(cls));
    m->expires = cf_retention_expiry(&policy, cls, t);
    if (repo->st->features & CF_STORAGE_FEAT_OBJECT_LOCK) {
        m->lock_until = cf_retention_lock_until(&policy, cls, t);
        repo->retain_until = m->lock_until;
    }
}

cf_err
cf_backup_choose_id(const struct cf_retention_conf *retention, struct cf_repo *repo,
                    struct cf_manifest *m, char *id, struct cf_error *err)
{
    struct cf_backup_entry *v = NULL;
    size_t n = 0;
    time_t now = (time_t)m->start_time;
    struct tm tm;
    char base[32];

    (void)gmtime_r(&now, &tm);
    (void)strftime(base, sizeof(base), "%Y%m%dT%H%M%SZ", &tm);
    if (cf_repo_list_backups(repo, &v, &n, err) != CF_OK)
        return err->code;
    classify(retention, repo, m, v, n);
    (void)snprintf(id, CF_OBJECT_ID_MAX + 1, "%s", base);
    for (int k = 2;; k++) {
        int taken = 0;

        for (size_t i = 0; i < n && !taken; i++)
            taken = strcmp(v[i].id, id) == 0;
        if (!taken)
            break;
        (void)snprintf(id, CF_OBJECT_ID_MAX + 1, "%s-%d", base, k);
    }
    free(v);
    cf_log_set_field("COFFRE_BACKUP_ID", id); /* every journal entry of this run */
    return CF_OK;
}

/* Server facts and the list of databases to dump (malloc'd names). */
static cf_err
inspect_server(struct run *r, char ***dbs, size_t *n, struct cf_error *err)
{
    PGconn *conn = NULL;
    PGresult *res = NULL;
    cf_err rc;

    *dbs = NULL;
    *n = 0;
    if ((rc = cf_pg_connect(r->pg->conninfo, NULL, &conn, err)) != CF_OK)
        return rc;
    r->server_version = PQserverVersion(conn);
    r->m.pg_version_num = r->server_version;
    r->m.pg_version = strdup(PQparameterStatus(conn, "server_version"));
    r->is_superuser = strcmp(PQparameterStatus(conn, "is_superuser"), "on") == 0;
    if (r->o->db != NULL || r->pg->n_databases > 0 || r->o->formula == CF_FORMULA_MANAGED) {
        size_t k = r->o->db ? 1 : r->pg->n_databases;

        *dbs = calloc(k + 1, sizeof(**dbs));
        if (r->o->db != NULL)
            (*dbs)[(*n)++] = strdup(r->o->db);
        else if (r->pg->n_databases > 0)
            for (size_t i = 0; i < k; i++)
                (*dbs)[(*n)++] = strdup(r->pg->databases[i]);
        else
            (*dbs)[(*n)++] = strdup(PQdb(conn));
    } else {
        rc = cf_pg_exec(conn, "SELECT datname FROM pg_database WHERE datallowconn "
                              "AND NOT datistemplate ORDER BY datname", 0, NULL, &res, err);
        if (rc == CF_OK) {
            *dbs = calloc((size_t)PQntuples(res) + 1, sizeof(**dbs));
            for (int i = 0; *dbs != NULL && i < PQntuples(res); i++)
                (*dbs)[(*n)++] = strdup(PQgetvalue(res, i, 0));
        }
    }
    PQclear(res);
    PQfinish(conn);
    if (rc == CF_OK && *dbs == NULL)
        rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    return rc;
}

static cf_err
dump_one(struct run *r, const char *db, struct cf_error *err)
{
    struct cf_manifest_object o;
    char name[CF_OBJECT_NAME_MAX + 1];
    struct cf_dump_job job;
    char *safe = strdup(db);
    cf_err rc;

    if (safe == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    /* object names are repository keys: hex-escape anything unusual in db names */
    (void)snprintf(name, sizeof(name), "db/");
    for (const unsigned char *p = (const unsigned char *)db; *p; p++) {
        size_t l = strlen(name);
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';

        if (l + 4 < sizeof(name))
            (void)snprintf(name + l, sizeof(name) - l, plain ? "%c" : "=%02x", *p);
    }
    strncat(name, ".dump", sizeof(name) - strlen(name) - 1);
    memset(&o, 0, sizeof(o));
    job = (struct cf_dump_job){r->repo, r->id, name, r->pg->conninfo, db, r->pg->schema,
                               r->pg->bindir, r->o->backup->row_counts};
    if (r->o->formula != CF_FORMULA_MANAGED)
        job.schema = NULL;
    rc = cf_dump_database(&job, &o, err);
    if (rc == CF_OK) {
        o.name = strdup(name);
        o.kind = CF_OBJ_DUMP;
        o.database = safe;
        safe = NULL; /* transferred */
        cf_log_info("database \"%s\": %llu bytes dumped, %llu stored, %zu tables counted", db,
                    (unsigned long long)o.plain, (unsigned long long)o.stored, o.n_tables);
        rc = cf_manifest_add(&r->m, &o, err);
    }
    cf_manifest_object_clear(&o);
    free(safe);
    return rc;
}

static cf_err
dump_globals(struct run *r, struct cf_error *err)
{
    struct cf_manifest_object o;
    struct cf_backup_sizes sizes;
    struct cf_source *src = NULL;
    char tool[512], *conn = NULL;
    cf_err rc;

    /* The managed formula shares roles with other tenants: never dump them. */
    if (r->o->formula == CF_FORMULA_MANAGED) {
        r->m.globals_note = strdup("not dumped: managed formula (tenant role only)");
        return CF_OK;
    }
    /* Without superuser, pg_authid (password hashes) is unreadable: pg_roles is. */
    if (!r->is_superuser)
        r->m.globals_note = strdup("role passwords not dumped: the backup role is not a superuser");
    if (cf_pg_conninfo_with_db(r->pg->conninfo, NULL, &conn, err) != CF_OK)
        return err->code;
    cf_pg_tool_path(r->pg->bindir, r->server_version, "pg_dumpall", tool, sizeof(tool));
    {
        const char *argv[] = {tool, "--globals-only", "--no-password", "--dbname", conn,
                              r->is_superuser ? NULL : "--no-role-passwords", NULL};

        rc = cf_child_source_new(argv, NULL, &src, err);
    }
    free(conn);
    if (rc == CF_OK)
        rc = cf_repo_put(r->repo, r->id, "globals.sql", CF_OBJ_GLOBALS, src, &sizes, err);
    cf_source_free(src);
    if (rc != CF_OK)
        return rc;
    memset(&o, 0, sizeof(o));
    o.name = strdup("globals.sql");
    o.kind = CF_OBJ_GLOBALS;
    o.plain = sizes.plain;
    o.compressed = sizes.compressed;
    o.stored = sizes.stored;
    o.tables = calloc(1, sizeof(*o.tables));
    cf_hex_encode(sizes.sha256, CF_SHA256_BYTES, o.sha256);
    return cf_manifest_add(&r->m, &o, err);
}

void
cf_backup_remove_partial(const struct cf_repo *repo, const struct cf_manifest *m, const char *id)
{
    struct cf_error ignored = CF_ERROR_INIT;

    for (size_t i = 0; i < m->n_objects; i++) {
        char key[CF_STORAGE_KEY_MAX + 1];

        cf_error_clear(&ignored);
        if (cf_repo_key(repo, id, m->objects[i].name, key, sizeof(key), &ignored) == CF_OK)
            (void)cf_storage_remove(repo->st, key, NULL, &ignored);
    }
}

void
cf_backup_result_fill(const struct cf_manifest *m, struct cf_backup_result *res)
{
    (void)snprintf(res->id, sizeof(res->id), "%s", m->id ? m->id : "");
    (void)snprintf(res->kind, sizeof(res->kind), "%s", m->kind ? m->kind : "");
    (void)snprintf(res->retention_class, sizeof(res->retention_class), "%s",
                   m->retention_class ? m->retention_class : "");
    res->start_time = m->start_time;
    res->stop_time = m->stop_time;
    res->lock_until = m->lock_until;
    res->n_objects = m->n_objects;
    for (size_t i = 0; i < m->n_objects; i++) {
        res->plain_bytes += m->objects[i].plain;
        res->compressed_bytes += m->objects[i].compressed;
        res->stored_bytes += m->objects[i].stored;
    }
    if (m->physical != NULL) {
        (void)snprintf(res->start_lsn, sizeof(res->start_lsn), "%s",
                       m->physical->start_lsn ? m->physical->start_lsn : "");
        (void)snprintf(res->stop_lsn, sizeof(res->stop_lsn), "%s",
                       m->physical->stop_lsn ? m->physical->stop_lsn : "");
        res->timeline = m->physical->stop_timeline;
    }
}

cf_err
cf_backup_run(const struct cf_backup_opts *opts, struct cf_backup_result *res,
              struct cf_error *err)
{
    struct run r;
    char **dbs = NULL, host[256] = "";
    size_t n = 0;
    cf_err rc;

    memset(res, 0, sizeof(*res));
    memset(&r, 0, sizeof(r));
    r.o = opts;
    r.pg = opts->pg;
    r.repo_copy = *opts->repo;
    r.repo = &r.repo_copy;
    r.m.start_time = (int64_t)time(NULL);
    (void)gethostname(host, sizeof(host) - 1);
    if ((rc = cf_backup_choose_id(opts->retention, &r.repo_copy, &r.m, r.id, err)) != CF_OK)
        goto out;
    CF_INJECT("backup-start");
    if ((rc = inspect_server(&r, &dbs, &n, err)) != CF_OK)
        goto out;
    r.m.id = strdup(r.id);
    r.m.instance = strdup(opts->instance);
    r.m.kind = strdup("logical");
    r.m.formula = strdup(opts->formula == CF_FORMULA_MANAGED ? "managed" : "onprem");
    r.m.schema = opts->formula == CF_FORMULA_MANAGED ? strdup(r.pg->schema) : NULL;
    r.m.hostname = strdup(host);
    r.m.coffre_version = strdup(opts->version);
    if (r.m.lock_until > 0) {
        char lock[32];

        cf_format_time(r.m.lock_until, lock, sizeof(lock));
        cf_log_info("backup %s (%s): %zu database(s) of instance \"%s\", locked until %s", r.id,
                    r.m.retention_class, n, opts->instance, lock);
    } else {
        cf_log_info("backup %s (%s): %zu database(s) of instance \"%s\"", r.id,
                    r.m.retention_class, n, opts->instance);
    }
    for (size_t i = 0; i < n && rc == CF_OK; i++)
        rc = dump_one(&r, dbs[i], err);
    if (rc == CF_OK)
        rc = dump_globals(&r, err);
    r.m.stop_time = (int64_t)time(NULL);
    if (rc == CF_OK)
        rc = cf_repo_write_manifest(r.repo, &r.m, err);
    if (rc == CF_OK)
        cf_backup_result_fill(&r.m, res);
    else {
        cf_error_context(err, "backup %s was not completed and is not restorable", r.id);
        cf_backup_remove_partial(r.repo, &r.m, r.id);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(dbs[i]);
    free(dbs);
    cf_manifest_clear(&r.m);
    return rc;
}
