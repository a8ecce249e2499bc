/*
 * backup.c - `coffre backup` (see backup.h).
 *
 * Order: every database dump, then the globals, then the manifest, written
 * last.  Any failure stops the backup before the manifest, so it is never
 * listed; the objects already written are removed (best effort: a WORM
 * repository keeps them until prune).
 */
#include "agent/backup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/dump.h"
#include "common/log.h"
#include "common/pg.h"
#include "policies/policy.h"
#include "stream/child.h"
#include "stream/hash.h"

struct run {
    const struct cf_config *cfg;
    const struct cf_repo *repo;   /* &repo_copy: carries this backup's lock date */
    struct cf_repo repo_copy;
    const struct cf_backup_options *opts;
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
classify(const struct cf_config *cfg, struct cf_repo *repo, struct cf_manifest *m,
         const struct cf_backup_entry *v, size_t n)
{
    struct cf_retention_policy policy;
    int64_t *prev = calloc(n + 1, sizeof(*prev)), t = m->start_time;
    size_t k = 0;
    enum cf_retention_class cls;

    for (size_t i = 0; prev != NULL && i < n; i++)
        if (v[i].has_manifest && cf_backup_id_time(v[i].id) >= 0)
            prev[k++] = cf_backup_id_time(v[i].id);
    cf_policy_from_config(cfg, &policy);
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
cf_backup_choose_id(const struct cf_config *cfg, struct cf_repo *repo, struct cf_manifest *m,
                    char *id, struct cf_error *err)
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
    classify(cfg, repo, m, v, n);
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
    if ((rc = cf_pg_connect(r->cfg->pg.conninfo, NULL, &conn, err)) != CF_OK)
        return rc;
    r->server_version = PQserverVersion(conn);
    r->m.pg_version_num = r->server_version;
    r->m.pg_version = strdup(PQparameterStatus(conn, "server_version"));
    r->is_superuser = strcmp(PQparameterStatus(conn, "is_superuser"), "on") == 0;
    if (r->opts->db != NULL || r->cfg->pg.n_databases > 0 || r->cfg->formula == CF_FORMULA_MANAGED) {
        size_t k = r->opts->db ? 1 : r->cfg->pg.n_databases;

        *dbs = calloc(k + 1, sizeof(**dbs));
        if (r->opts->db != NULL)
            (*dbs)[(*n)++] = strdup(r->opts->db);
        else if (r->cfg->pg.n_databases > 0)
            for (size_t i = 0; i < k; i++)
                (*dbs)[(*n)++] = strdup(r->cfg->pg.databases[i]);
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
    job = (struct cf_dump_job){r->repo, r->id, name, r->cfg->pg.conninfo, db, r->cfg->pg.schema,
                               r->cfg->pg.bindir, r->cfg->backup.row_counts};
    if (r->cfg->formula != CF_FORMULA_MANAGED)
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
    if (r->cfg->formula == CF_FORMULA_MANAGED) {
        r->m.globals_note = strdup("not dumped: managed formula (tenant role only)");
        return CF_OK;
    }
    /* Without superuser, pg_authid (password hashes) is unreadable: pg_roles is. */
    if (!r->is_superuser)
        r->m.globals_note = strdup("role passwords not dumped: the backup role is not a superuser");
    if (cf_pg_conninfo_with_db(r->cfg->pg.conninfo, NULL, &conn, err) != CF_OK)
        return err->code;
    cf_pg_tool_path(r->cfg->pg.bindir, r->server_version, "pg_dumpall", tool, sizeof(tool));
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

static void
print_result(const struct run *r)
{
    uint64_t plain = 0, stored = 0;

    for (size_t i = 0; i < r->m.n_objects; i++) {
        plain += r->m.objects[i].plain;
        stored += r->m.objects[i].stored;
    }
    if (r->opts->json)
        (void)printf("{\"id\": \"%s\", \"objects\": %zu, \"plain_bytes\": %llu, "
               "\"stored_bytes\": %llu, \"seconds\": %lld}\n",
               r->id, r->m.n_objects, (unsigned long long)plain, (unsigned long long)stored,
               (long long)(r->m.stop_time - r->m.start_time));
    else
        (void)printf("%s\n", r->id);
}

cf_err
cf_cmd_backup(const struct cf_config *cfg, const struct cf_repo *repo,
              const struct cf_backup_options *opts, struct cf_error *err)
{
    struct run r;
    char **dbs = NULL, host[256] = "";
    size_t n = 0;
    cf_err rc;

    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.repo_copy = *repo;
    r.repo = &r.repo_copy;
    r.opts = opts;
    r.m.start_time = (int64_t)time(NULL);
    (void)gethostname(host, sizeof(host) - 1);
    if ((rc = cf_backup_choose_id(cfg, &r.repo_copy, &r.m, r.id, err)) != CF_OK ||
        (rc = inspect_server(&r, &dbs, &n, err)) != CF_OK)
        goto out;
    r.m.id = strdup(r.id);
    r.m.instance = strdup(cfg->instance);
    r.m.kind = strdup("logical");
    r.m.formula = strdup(cfg->formula == CF_FORMULA_MANAGED ? "managed" : "onprem");
    r.m.schema = cfg->formula == CF_FORMULA_MANAGED ? strdup(cfg->pg.schema) : NULL;
    r.m.hostname = strdup(host);
    r.m.coffre_version = strdup(opts->version);
    if (r.m.lock_until > 0) {
        char lock[32];

        cf_format_time(r.m.lock_until, lock, sizeof(lock));
        cf_log_info("backup %s (%s): %zu database(s) of instance \"%s\", locked until %s", r.id,
                    r.m.retention_class, n, cfg->instance, lock);
    } else {
        cf_log_info("backup %s (%s): %zu database(s) of instance \"%s\"", r.id,
                    r.m.retention_class, n, cfg->instance);
    }
    for (size_t i = 0; i < n && rc == CF_OK; i++)
        rc = dump_one(&r, dbs[i], err);
    if (rc == CF_OK)
        rc = dump_globals(&r, err);
    r.m.stop_time = (int64_t)time(NULL);
    if (rc == CF_OK)
        rc = cf_repo_write_manifest(r.repo, &r.m, err);
    if (rc == CF_OK)
        print_result(&r);
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
