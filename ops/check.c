/*
 * check.c - `coffre check` (see check.h): every check reuses the code the
 * commands run (common/pg.c, the storage driver, storage/walrepo.c, the
 * keyring's own KEK and signing tests, cf_mkdir_p).
 */
#include "ops/check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "common/fsutil.h"
#include "common/pg.h"
#include "ops/ops.h"
#include "storage/walrepo.h"

#define ARCHIVE_WAIT_MAX 60 /* seconds: the longest a WAL switch is awaited */

const char *
cf_check_verdict_name(enum cf_check_verdict v)
{
    return v == CF_CHECK_OK ? "ok" : v == CF_CHECK_WARNING ? "warning" : "failed";
}

static struct cf_check_item *add(struct cf_check_result *res, const char *name,
                                 enum cf_check_verdict v, cf_err code, const char *hint,
                                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static struct cf_check_item *
add(struct cf_check_result *res, const char *name, enum cf_check_verdict v, cf_err code,
    const char *hint, const char *fmt, ...)
{
    struct cf_check_item *it;
    va_list ap;

    if (res->n >= CF_CHECK_MAX)
        return NULL;
    it = &res->items[res->n++];
    (void)snprintf(it->name, sizeof(it->name), "%s", name);
    it->verdict = v;
    it->code = v == CF_CHECK_FAILED ? (code != CF_OK ? code : CF_ERR_INTERNAL) : CF_OK;
    va_start(ap, fmt);
    (void)vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
    va_end(ap);
    (void)snprintf(it->hint, sizeof(it->hint), "%s", hint != NULL ? hint : "");
    if (v == CF_CHECK_FAILED) {
        if (res->first_failed == CF_OK)
            res->first_failed = it->code;
        res->n_failed++;
    } else if (v == CF_CHECK_WARNING) {
        res->n_warning++;
    }
    return it;
}

/* A failed check from an error: its message and detail, its hint or the default one. */
static void
add_error(struct cf_check_result *res, const char *name, const struct cf_error *e, const char *hint)
{
    add(res, name, CF_CHECK_FAILED, e->code, e->hint[0] ? e->hint : hint, "%s%s%s", e->msg,
        e->detail[0] ? ": " : "", e->detail);
}

/* ---- postgres ------------------------------------------------------------ */

struct pg_facts {
    PGconn *conn;
    bool superuser;
};

/* One-value query; the value is copied into out. */
static cf_err
query1(PGconn *conn, const char *sql, const char *param, char *out, size_t size,
       struct cf_error *err)
{
    const char *params[1] = {param};
    PGresult *r = NULL;

    if (cf_pg_exec(conn, sql, param != NULL ? 1 : 0, params, &r, err) != CF_OK)
        return err->code;
    (void)snprintf(out, size, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return CF_OK;
}

/* The databases pg_dump will read: the configured ones, else every connectable one
 * (as backup chooses them), into a malloc'd, comma-separated list. */
static cf_err
database_rights(const struct cf_check_opts *o, PGconn *conn, char *list, size_t size, size_t *n,
                struct cf_error *err)
{
    PGresult *r = NULL;

    *n = 0;
    list[0] = '\0';
    if (o->pg->n_databases == 0) {
        if (cf_pg_exec(conn,
                       "SELECT datname FROM pg_database WHERE datallowconn "
                       "AND NOT datistemplate AND has_database_privilege(datname, 'CONNECT') "
                       "ORDER BY datname",
                       0, NULL, &r, err) != CF_OK)
            return err->code;
        for (int i = 0; i < PQntuples(r); i++) {
            size_t len = strlen(list);

            (void)snprintf(list + len, size - len, "%s%s", len ? ", " : "", PQgetvalue(r, i, 0));
            (*n)++;
        }
        PQclear(r);
        return CF_OK;
    }
    for (size_t i = 0; i < o->pg->n_databases; i++) {
        const char *db = o->pg->databases[i];
        char v[8] = "";
        size_t len = strlen(list);

        if (query1(conn,
                   "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) "
                   "THEN 'x' WHEN has_database_privilege($1, 'CONNECT') THEN 't' ELSE 'f' END",
                   db, v, sizeof(v), err) != CF_OK)
            return err->code;
        if (v[0] == 'x')
            return cf_error_set(err, CF_ERR_PG, "database \"%s\" does not exist", db);
        if (v[0] != 't')
            return cf_error_set(err, CF_ERR_PG, "role \"%s\" may not connect to database \"%s\"",
                                PQuser(conn), db);
        (void)snprintf(list + len, size - len, "%s%s", len ? ", " : "", db);
        (*n)++;
    }
    return CF_OK;
}

/* managed formula: USAGE on the tenant schema in each configured database. */
static cf_err
schema_rights(const struct cf_check_opts *o, struct cf_error *err)
{
    for (size_t i = 0; i < o->pg->n_databases; i++) {
        PGconn *c = NULL;
        char v[8] = "";
        cf_err rc;

        if (cf_pg_connect(o->pg->conninfo, o->pg->databases[i], &c, err) != CF_OK)
            return err->code;
        rc = query1(c,
                    "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM pg_namespace "
                    "WHERE nspname = $1) THEN 'x' WHEN has_schema_privilege($1, 'USAGE') "
                    "THEN 't' ELSE 'f' END",
                    o->pg->schema, v, sizeof(v), err);
        if (rc == CF_OK && v[0] == 'x')
            rc = cf_error_set(err, CF_ERR_PG, "schema \"%s\" does not exist in database \"%s\"",
                              o->pg->schema, o->pg->databases[i]);
        else if (rc == CF_OK && v[0] != 't')
            rc = cf_error_set(err, CF_ERR_PG, "role \"%s\" has no USAGE on schema \"%s\"",
                              PQuser(c), o->pg->schema);
        PQfinish(c);
        if (rc != CF_OK)
            return rc;
    }
    return CF_OK;
}

static void
check_postgres(const struct cf_check_opts *o, struct cf_check_result *res, struct pg_facts *pf)
{
    struct cf_error e = CF_ERROR_INIT;
    const char *su;
    char dbs[512];
    size_t n = 0;

    if (cf_pg_connect(o->pg->conninfo, NULL, &pf->conn, &e) != CF_OK) {
        add_error(res, "postgres", &e,
                  "Check postgres.conninfo, that the server is up, pg_hba.conf and .pgpass.");
        return;
    }
    su = PQparameterStatus(pf->conn, "is_superuser");
    pf->superuser = su != NULL && strcmp(su, "on") == 0;
    if (database_rights(o, pf->conn, dbs, sizeof(dbs), &n, &e) != CF_OK ||
        (o->formula == CF_FORMULA_MANAGED && schema_rights(o, &e) != CF_OK)) {
        add_error(res, "postgres", &e,
                  "GRANT CONNECT on each database of postgres.databases (and, for the "
                  "managed formula, USAGE on postgres.schema) to the backup role.");
        return;
    }
    if (n == 0) {
        add(res, "postgres", CF_CHECK_FAILED, CF_ERR_PG,
            "GRANT CONNECT on the databases to back up, or list them in postgres.databases.",
            "role \"%s\" may connect to no database to dump", PQuser(pf->conn));
        return;
    }
    add(res, "postgres", CF_CHECK_OK, CF_OK, NULL,
        "PostgreSQL %s, role \"%s\"%s; pg_dump may connect to %s%s%s",
        PQparameterStatus(pf->conn, "server_version"), PQuser(pf->conn),
        pf->superuser ? " (superuser)" : "", dbs,
        o->formula == CF_FORMULA_MANAGED ? "; USAGE on schema " : "",
        o->formula == CF_FORMULA_MANAGED ? o->pg->schema : "");
}

/* What backup does with the globals (agent/backup.c: dump_globals). */
static void
check_globals(const struct cf_check_opts *o, struct cf_check_result *res, const struct pg_facts *pf)
{
    if (o->formula == CF_FORMULA_MANAGED)
        add(res, "globals", CF_CHECK_OK, CF_OK, NULL,
            "not dumped: managed formula (tenant role only)");
    else if (pf->superuser)
        add(res, "globals", CF_CHECK_OK, CF_OK, NULL,
            "pg_dumpall --globals-only, role passwords included");
    else
        add(res, "globals", CF_CHECK_WARNING, CF_OK,
            "Run backups as a superuser to dump role passwords, or restore them by hand.",
            "the role is not a superuser: role passwords are not dumped "
            "(pg_dumpall --no-role-passwords)");
}

/* ---- archiving ------------------------------------------------------------ */

/* Wait until WAL segment name is in the repository; true if it arrived. */
static bool
wait_segment(const struct cf_check_opts *o, const char *name, int64_t timeout, int64_t *took,
             struct cf_error *err)
{
    struct timespec t0, now;

    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct cf_wal_object *objs = NULL;
        size_t n = 0;

        if (cf_wal_find(o->repo, name, false, &objs, &n, err) != CF_OK)
            return false;
        free(objs);
        (void)clock_gettime(CLOCK_MONOTONIC, &now);
        *took = (int64_t)(now.tv_sec - t0.tv_sec);
        if (n > 0)
            return true;
        if (*took >= timeout)
            return false;
        (void)nanosleep(&(struct timespec){0, 250000000}, NULL);
    }
}

static void
check_archiving(const struct cf_check_opts *o, struct cf_check_result *res,
                const struct pg_facts *pf)
{
    struct cf_error e = CF_ERROR_INIT;
    PGresult *r = NULL;
    char mode[16], cmd[512];
    bool standby, replication, runs_coffre;
    char seg[64] = "";
    int64_t timeout, took = 0;

    if (pf->conn == NULL) {
        add(res, "archiving", CF_CHECK_FAILED, CF_ERR_PG, "Fix the postgres check first.",
            "not checked: no connection to PostgreSQL");
        return;
    }
    if (cf_pg_exec(pf->conn,
                   "SELECT current_setting('archive_mode'), current_setting('archive_command'), "
                   "pg_is_in_recovery(), rolreplication OR rolsuper "
                   "FROM pg_roles WHERE rolname = current_user",
                   0, NULL, &r, &e) != CF_OK ||
        PQntuples(r) != 1) {
        PQclear(r);
        add_error(res, "archiving", &e,
                  "GRANT pg_read_all_settings TO the backup role, so that coffre can read "
                  "archive_mode and archive_command.");
        return;
    }
    (void)snprintf(mode, sizeof(mode), "%s", PQgetvalue(r, 0, 0));
    (void)snprintf(cmd, sizeof(cmd), "%s", PQgetvalue(r, 0, 1));
    standby = PQgetvalue(r, 0, 2)[0] == 't';
    replication = PQgetvalue(r, 0, 3)[0] == 't';
    PQclear(r);
    if (strcmp(mode, "off") == 0) {
        /* with archive_mode off the server shows archive_command as "(disabled)": read
         * what the files say (pg_file_settings: superuser, or granted; else unknown) */
        struct cf_error ignore = CF_ERROR_INIT;

        if (query1(pf->conn,
                   "SELECT setting FROM pg_file_settings WHERE name = 'archive_command' "
                   "ORDER BY seqno DESC LIMIT 1",
                   NULL, cmd, sizeof(cmd), &ignore) != CF_OK)
            cmd[0] = '\0';
    }
    runs_coffre = strstr(cmd, "coffre") != NULL && strstr(cmd, "wal-push") != NULL;
    /* the configuration does not say whether WAL archiving is wanted: the server does */
    if (strcmp(mode, "off") == 0 && !runs_coffre) {
        add(res, "archiving", CF_CHECK_OK, CF_OK, NULL,
            "not configured (archive_mode = off): logical backups only");
        return;
    }
    if (strcmp(mode, "off") == 0)
        add(res, "archiving", CF_CHECK_FAILED, CF_ERR_PG,
            "Set archive_mode = on in postgresql.conf and restart the server.",
            "archive_mode is off but archive_command runs coffre wal-push: no WAL is archived");
    else if (!runs_coffre)
        add(res, "archiving", CF_CHECK_FAILED, CF_ERR_PG,
            "Set archive_command = 'coffre --config FILE wal-push %p' and reload the server.",
            "archive_mode = %s but archive_command \"%s\" does not run coffre wal-push", mode, cmd);
    else if (!replication)
        add(res, "archiving", CF_CHECK_FAILED, CF_ERR_PG,
            "ALTER ROLE ... REPLICATION, and add a pg_hba.conf \"replication\" line for it.",
            "role \"%s\" has no REPLICATION: backup --physical and wal-stream need it",
            PQuser(pf->conn));
    if (strcmp(mode, "off") == 0 || !runs_coffre || !replication)
        return;
    if (standby || !o->archive_check) {
        add(res, "archiving", CF_CHECK_OK, CF_OK, NULL,
            "archive_mode = %s, archive_command runs coffre wal-push; WAL switch not checked "
            "(%s)",
            mode, standby ? "the server is a standby" : "--no-archive-check");
        return;
    }
    if (o->repo->st == NULL) {
        add(res, "archiving", CF_CHECK_FAILED, CF_ERR_IO, "Fix the repository check first.",
            "archive_mode = %s, archive_command runs coffre wal-push; the WAL switch was not "
            "checked: the repository did not open",
            mode);
        return;
    }
    /* a transaction id's commit record: WAL to switch away from, so that the segment
     * switched is a new one even on an idle server (else pg_switch_wal() does nothing
     * and names a segment archived long ago) */
    if (query1(pf->conn, "SELECT pg_current_xact_id()", NULL, seg, sizeof(seg), &e) != CF_OK ||
        query1(pf->conn, "SELECT pg_walfile_name(pg_switch_wal())", NULL, seg, sizeof(seg), &e) !=
            CF_OK) {
        add_error(res, "archiving", &e,
                  "GRANT EXECUTE ON FUNCTION pg_switch_wal() TO the backup role, or run coffre "
                  "check --no-archive-check.");
        return;
    }
    timeout = o->wal->archive_timeout > 0 && o->wal->archive_timeout < ARCHIVE_WAIT_MAX
                  ? o->wal->archive_timeout
                  : ARCHIVE_WAIT_MAX;
    if (!wait_segment(o, seg, timeout, &took, &e)) {
        if (e.code != CF_OK)
            add_error(res, "archiving", &e, "Fix the repository check first.");
        else
            add(res, "archiving", CF_CHECK_FAILED, CF_ERR_PG,
                "Look at pg_stat_archiver (last_failed_wal) and the server log for the errors "
                "of archive_command.",
                "WAL segment %s (pg_switch_wal) did not reach the repository within %lld s", seg,
                (long long)timeout);
        return;
    }
    add(res, "archiving", CF_CHECK_OK, CF_OK, NULL,
        "archive_mode = %s, archive_command runs coffre wal-push; WAL segment %s reached the "
        "repository in %lld s",
        mode, seg, (long long)took);
}

/* ---- repository ------------------------------------------------------------ */

/* Write a small probe object and remove it; never leave it behind. */
static cf_err
probe(const struct cf_repo *repo, char *key, size_t size, struct cf_error *err)
{
    static const char body[] = "coffre check probe: safe to delete\n";
    struct cf_storage_info info;
    struct cf_sink *s = NULL;
    char tag[48];
    cf_err rc;

    (void)snprintf(tag, sizeof(tag), "%ld.%08x", (long)getpid(), randombytes_random());
    if (cf_repo_probe_key(repo, tag, key, size, err) != CF_OK)
        return err->code;
    if (cf_storage_open_write(repo->st, key, NULL, &s, err) != CF_OK)
        return err->code;
    rc = cf_sink_write(s, body, sizeof(body) - 1, err);
    if (rc == CF_OK)
        rc = cf_sink_close(s, err);
    cf_sink_free(s); /* aborts (removes the temporary file) if not closed */
    if (rc != CF_OK)
        return rc;
    memset(&info, 0, sizeof(info));
    if (cf_storage_info(repo->st, key, &info, err) != CF_OK) {
        struct cf_error ignore = CF_ERROR_INIT;

        (void)cf_storage_remove(repo->st, key, NULL, &ignore);
        return err->code;
    }
    return cf_storage_remove(repo->st, key, info.version_id[0] ? info.version_id : NULL, err);
}

/*
 * This host's clock against the S3 server's (the Date of its last answer):
 * lock dates, backup ids and prune's ages all come from this host's clock, and
 * a host a day off sees a running backup as a dead one (storage/repo.c).  S3
 * itself refuses requests dated more than 15 minutes off.
 */
#define CLOCK_SKEW_MAX 60

static void
check_clock(const struct cf_check_opts *o, struct cf_check_result *res, const char *where)
{
    const struct cf_storage *st = o->repo->st;
    int64_t skew;

    if (st->server_date <= 0) {
        add(res, "clock", CF_CHECK_WARNING, CF_OK,
            "The S3 server sent no Date header; compare the clocks by hand (timedatectl).",
            "the clock of %s could not be read", where);
        return;
    }
    /* the Date header has a resolution of one second: one second is no skew */
    skew = st->server_date_at - st->server_date;
    if (skew > CLOCK_SKEW_MAX || skew < -CLOCK_SKEW_MAX) {
        add(res, "clock", CF_CHECK_FAILED, CF_ERR_CONFIG,
            "Synchronise this host's clock with NTP (timedatectl set-ntp true; "
            "systemd-timesyncd or chrony), and the server's if it is the one off.",
            "this host's clock is %lld s %s that of %s (at most %d s allowed)",
            (long long)(skew < 0 ? -skew : skew), skew < 0 ? "behind" : "ahead of", where,
            CLOCK_SKEW_MAX);
        return;
    }
    add(res, "clock", CF_CHECK_OK, CF_OK, NULL, "this host's clock is within %lld s of that of %s",
        (long long)(skew < 0 ? -skew : skew), where);
}

static void
check_repository(const struct cf_check_opts *o, struct cf_check_result *res)
{
    const struct cf_repo_conf *rc = o->repo_conf;
    struct cf_error e = CF_ERROR_INIT;
    char key[CF_STORAGE_KEY_MAX + 1], where[512];

    if (rc->type == CF_REPO_S3)
        (void)snprintf(where, sizeof(where), "bucket \"%s\" at %s", rc->s3.bucket, rc->s3.endpoint);
    else
        (void)snprintf(where, sizeof(where), "directory \"%s\"", rc->path);
    if (o->repo->st == NULL) {
        add_error(res, "repository", o->storage_err,
                  "Check repository.path (or the S3 endpoint, bucket and credentials) and "
                  "its permissions for the user running coffre.");
        return;
    }
    key[0] = '\0';
    if (probe(o->repo, key, sizeof(key), &e) != CF_OK) {
        add(res, "repository", CF_CHECK_FAILED, e.code,
            e.hint[0] ? e.hint
                      : "Give the user running coffre write access to the repository "
                        "(and, on S3, PutObject and DeleteObject on the bucket).",
            "%s is not writable: probe object \"%s\": %s%s%s", where, key, e.msg,
            e.detail[0] ? ": " : "", e.detail);
        return;
    }
    if (rc->type == CF_REPO_S3 && !(o->repo->st->features & CF_STORAGE_FEAT_OBJECT_LOCK)) {
        add(res, "repository", CF_CHECK_WARNING, CF_OK,
            "Use a bucket created with Object Lock enabled; backups in this one are not "
            "protected from deletion.",
            "%s is writable but has no Object Lock (repository.allow_unlocked_bucket)", where);
        return;
    }
    add(res, "repository", CF_CHECK_OK, CF_OK, NULL,
        "%s is writable (a probe object was written and removed)%s%s", where,
        rc->type == CF_REPO_S3 ? "; Object Lock enabled, lock_mode = " : "",
        rc->type != CF_REPO_S3 ? ""
        : rc->s3.governance    ? "governance"
                               : "compliance");
    if (rc->type == CF_REPO_S3)
        check_clock(o, res, where);
}

/* ---- keys ------------------------------------------------------------------ */

static void
check_keys(const struct cf_check_opts *o, struct cf_check_result *res)
{
    struct cf_error e = CF_ERROR_INIT;
    struct cf_signer_status ss;

    if (o->kr == NULL) {
        add_error(res, "keys", o->keys_err, "Check keys.module and that the token is present.");
        add(res, "signing", CF_CHECK_FAILED, o->keys_err->code, "Fix the keys check first.",
            "not checked: the PKCS#11 module did not load");
        return;
    }
    /* the test keys check runs (agent/keys.c: cf_keys_check_run) */
    if (cf_keyring_check(o->kr, true, &e) != CF_OK)
        add_error(res, "keys", &e,
                  "Check keys.kek, keys.pin_file and the token; coffre keys list shows each "
                  "KEK.");
    else
        add(res, "keys", CF_CHECK_OK, CF_OK, NULL,
            "every configured KEK wraps and unwraps a test key");
    cf_error_clear(&e);
    (void)cf_keyring_signer_status(o->kr, &ss);
    if (cf_keyring_check_signer(o->kr, &e) != CF_OK)
        add_error(res, "signing", &e, "Create the signing key with coffre keys init --sign.");
    else
        add(res, "signing", CF_CHECK_OK, CF_OK, NULL, "%s signs and verifies a test digest",
            ss.uri != NULL ? ss.uri : "the signing key");
}

/* ---- local directories ------------------------------------------------------ */

/* Create dir if needed (as the commands do) and create and remove a file in it. */
static cf_err
dir_writable(const char *dir, struct cf_error *err)
{
    char path[4096];
    int fd;

    if (cf_mkdir_p(dir, 0750, err) != CF_OK)
        return err->code;
    if (snprintf(path, sizeof(path), "%s/.coffre-check.XXXXXX", dir) >= (int)sizeof(path))
        return cf_error_set(err, CF_ERR_CONFIG, "path \"%s\" is too long", dir);
    if ((fd = mkstemp(path)) < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not create a file in \"%s\"", dir);
    (void)close(fd);
    if (unlink(path) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not remove \"%s\"", path);
    return CF_OK;
}

static void
check_dirs(const struct cf_check_opts *o, struct cf_check_result *res)
{
    struct cf_error e = CF_ERROR_INIT;
    const char *dirs[3], *what[3];
    char textdir[4096], list[1024] = "";
    size_t n = 0;

    dirs[n] = o->state_dir;
    what[n++] = "coffre.state_dir";
    if (o->metrics->ops_enabled && o->metrics->state_dir != NULL) {
        dirs[n] = o->metrics->state_dir;
        what[n++] = "metrics.state_dir";
    }
    if (o->metrics->textfile != NULL) {
        const char *slash = strrchr(o->metrics->textfile, '/');

        (void)snprintf(textdir, sizeof(textdir), "%.*s",
                       slash == NULL                   ? 1
                       : slash == o->metrics->textfile ? 1
                                                       : (int)(slash - o->metrics->textfile),
                       slash == NULL ? "." : o->metrics->textfile);
        dirs[n] = textdir;
        what[n++] = "metrics.textfile";
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(list);

        if (dir_writable(dirs[i], &e) != CF_OK) {
            add(res, "state", CF_CHECK_FAILED, e.code,
                "Create the directory and give the user running coffre write access to it "
                "(chown, chmod), or change the setting.",
                "%s \"%s\" is not writable: %s%s%s", what[i], dirs[i], e.msg,
                e.detail[0] ? ": " : "", e.detail);
            return;
        }
        (void)snprintf(list + len, sizeof(list) - len, "%s%s \"%s\"", len ? ", " : "", what[i],
                       dirs[i]);
    }
    add(res, "state", CF_CHECK_OK, CF_OK, NULL, "writable: %s", list);
}

/* ---- alerts ------------------------------------------------------------------ */

/* Every receiver answers, and none is notified (ops/alert.c, cf_alert_probe_run). */
static void
check_alerts(const struct cf_check_opts *o, struct cf_check_result *res)
{
    struct cf_ops_env env = {o->config_path, o->repo->instance, o->repo_conf,
                             NULL,           o->metrics,        o->alerts};
    struct cf_error e = CF_ERROR_INIT;
    char reached[128];
    size_t tried = 0;

    if (cf_alert_probe_run(&env, &tried, reached, sizeof(reached), &e) != CF_OK) {
        add_error(res, "alerts", &e,
                  "Check the receiver; coffre alert test sends a test "
                  "notification once it answers.");
        return;
    }
    if (tried == 0)
        add(res, "alerts", CF_CHECK_OK, CF_OK, NULL, "no receiver configured");
    else
        add(res, "alerts", CF_CHECK_OK, CF_OK, NULL,
            "%s answered, nobody notified (coffre alert test sends a test notification)", reached);
}

void
cf_check_run(const struct cf_check_opts *o, struct cf_check_result *res)
{
    struct pg_facts pf = {NULL, false};

    memset(res, 0, sizeof(*res));
    if (o->n_config_warnings > 0)
        add(res, "config", CF_CHECK_WARNING, CF_OK, "Edit the configuration as the warning says.",
            "%s parses, with %zu warning(s): %s", o->config_path, o->n_config_warnings,
            o->config_warnings[0]);
    else
        add(res, "config", CF_CHECK_OK, CF_OK, NULL, "%s parses (instance %s)", o->config_path,
            o->repo->instance);
    check_postgres(o, res, &pf);
    if (pf.conn != NULL)
        check_globals(o, res, &pf);
    check_repository(o, res);
    check_archiving(o, res, &pf);
    check_keys(o, res);
    check_dirs(o, res);
    check_alerts(o, res);
    PQfinish(pf.conn);
}
