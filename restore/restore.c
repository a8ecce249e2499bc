/*
 * restore.c - the logical restore engine (see restore.h).
 */
#include "restore/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cancel.h"
#include "common/inject.h"
#include "common/log.h"
#include "common/pg.h"
#include "stream/child.h"
#include "stream/hash.h"

struct job {
    const struct cf_repo *repo;
    const struct cf_restore_opts *o;
    struct cf_restore_result *res;
    struct cf_manifest *m;
    const struct cf_manifest_object *obj;
    uint8_t sha[CF_SHA256_BYTES];
    char *target_db;       /* the database the operator asked for */
    char *into_db;         /* where pg_restore writes (temporary with --create) */
    PGconn *admin;         /* maintenance connection to the target server */
    int server_version;
};

static cf_err
pick_object(struct job *j, struct cf_error *err)
{
    size_t dumps = 0;

    for (size_t i = 0; i < j->m->n_objects; i++) {
        const struct cf_manifest_object *o = &j->m->objects[i];

        if (o->kind != CF_OBJ_DUMP)
            continue;
        dumps++;
        if (j->o->db == NULL || (o->database && strcmp(o->database, j->o->db) == 0))
            j->obj = o;
    }
    if (j->o->db != NULL && j->obj == NULL)
        return cf_error_set(err, CF_ERR_USAGE, "backup %s holds no dump of database \"%s\"",
                            j->o->id, j->o->db);
    if (j->o->db == NULL && dumps != 1) {
        cf_error_setf(err, CF_ERR_USAGE, "backup %s holds %zu database dumps; choose one with --db",
                     j->o->id, dumps);
        return CF_ERR_USAGE;
    }
    if (cf_hex_decode(j->obj->sha256, j->sha, sizeof(j->sha)) != 0)
        return cf_error_set(err, CF_ERR_CORRUPT, "manifest of backup %s has an invalid sha256",
                            j->o->id);
    return CF_OK;
}

static cf_err
db_exists(PGconn *conn, const char *name, int *exists, struct cf_error *err)
{
    const char *params[1] = {name};
    PGresult *res = NULL;

    if (cf_pg_exec(conn, "SELECT 1 FROM pg_database WHERE datname = $1", 1, params, &res, err) !=
        CF_OK)
        return err->code;
    *exists = PQntuples(res) > 0;
    PQclear(res);
    return CF_OK;
}

static cf_err
check_empty(struct job *j, struct cf_error *err)
{
    /* relations, functions, types and large objects outside the system schemas, and
     * schemas other than public: anything pg_restore could collide with */
    static const char *sql =
        "WITH n AS (SELECT oid FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', "
        "'information_schema') AND nspname !~ '^pg_') "
        "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace IN (SELECT oid FROM n)) + "
        "(SELECT count(*) FROM pg_proc WHERE pronamespace IN (SELECT oid FROM n)) + "
        "(SELECT count(*) FROM pg_type t WHERE typnamespace IN (SELECT oid FROM n) "
        "AND t.typrelid = 0 AND t.typelem = 0) + "
        "(SELECT count(*) FROM pg_namespace WHERE oid IN (SELECT oid FROM n) "
        "AND nspname <> 'public') + (SELECT count(*) FROM pg_largeobject_metadata)";
    PGconn *conn = NULL;
    PGresult *res = NULL;
    long objects = 0;

    if (cf_pg_connect(j->o->target, NULL, &conn, err) != CF_OK)
        return err->code;
    if (cf_pg_exec(conn, sql, 0, NULL, &res, err) == CF_OK)
        objects = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    PQfinish(conn);
    if (err->code != CF_OK)
        return err->code;
    if (objects > 0) {
        cf_error_setf(err, CF_ERR_USAGE, "target database \"%s\" is not empty", j->target_db);
        cf_error_detail(err, "It holds %ld schemas, relations, functions, types or large "
                             "objects.", objects);
        cf_error_hint(err, "Restore into a new database with --create, or swap in a restored "
                           "copy with --replace.");
        return CF_ERR_USAGE;
    }
    return CF_OK;
}

/* alongside: the schema the archive creates must not exist in the target. */
static cf_err
check_schema_absent(struct job *j, struct cf_error *err)
{
    const char *params[1] = {j->o->alongside};
    PGconn *conn = NULL;
    PGresult *res = NULL;
    bool exists = false;

    if (cf_pg_connect(j->o->target, NULL, &conn, err) != CF_OK)
        return err->code;
    if (cf_pg_exec(conn, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, params, &res,
                   err) == CF_OK)
        exists = PQntuples(res) > 0;
    PQclear(res);
    PQfinish(conn);
    if (err->code != CF_OK)
        return err->code;
    if (exists) {
        cf_error_setf(err, CF_ERR_EXISTS, "schema \"%s\" already exists in database \"%s\"",
                      j->o->alongside, j->target_db);
        cf_error_hint(err, "Restore the tenant into a database where its schema does not exist, "
                           "or drop that schema after checking it holds nothing to keep.");
        return CF_ERR_EXISTS;
    }
    return CF_OK;
}

static double
now_seconds(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum section { ALL_SECTIONS, DATA_SECTIONS, POST_DATA, PRE_DATA, DATA_ONLY };

/* pg_restore's argument vector; file NULL reads stdin; list: a -L file or NULL. */
static void
restore_argv(const struct job *j, const char *conn, const char *file, const char *list,
             enum section sec, char *tool, size_t tsize, char *jobs, size_t jsize,
             const char *argv[24])
{
    int a = 0;

    cf_pg_tool_path(j->o->bindir, j->server_version, "pg_restore", tool, tsize);
    argv[a++] = tool;
    argv[a++] = "--exit-on-error";
    argv[a++] = "--no-password";
    if (!j->o->create && !j->o->replace)
        argv[a++] = "--single-transaction";
    if (j->o->no_owner)
        argv[a++] = "--no-owner";
    if (j->o->no_acl)
        argv[a++] = "--no-privileges";
    if (j->o->no_tablespaces)
        argv[a++] = "--no-tablespaces";
    if (sec == DATA_SECTIONS || sec == PRE_DATA)
        argv[a++] = "--section=pre-data";
    if (sec == DATA_SECTIONS || sec == DATA_ONLY)
        argv[a++] = "--section=data";
    if (sec == POST_DATA)
        argv[a++] = "--section=post-data";
    if (list != NULL) {
        argv[a++] = "--use-list";
        argv[a++] = list;
    }
    if (file != NULL && j->o->jobs > 1) {
        (void)snprintf(jobs, jsize, "--jobs=%u", j->o->jobs);
        argv[a++] = jobs;
    }
    argv[a++] = "--dbname";
    argv[a++] = conn;
    if (file != NULL)
        argv[a++] = file;
    argv[a] = NULL;
}

static cf_err
stream_restore(struct job *j, const char *conn, struct cf_error *err)
{
    char tool[512], jobs[32];
    const char *argv[24];
    struct cf_sink *child = NULL;

    restore_argv(j, conn, NULL, NULL, ALL_SECTIONS, tool, sizeof(tool), jobs, sizeof(jobs), argv);
    if (cf_child_sink_new(argv, NULL, &child, err) != CF_OK)
        return err->code;
    return cf_repo_get(j->repo, j->o->id, j->obj->name, CF_OBJ_DUMP, j->sha, child, err);
}

/* pg_restore --list of file, optionally filtered with -n/-t (malloc'd text). */
static cf_err
toc_list(const struct job *j, const char *file, int filtered, char **out, struct cf_error *err)
{
    char tool[512];
    const char *argv[10];
    int a = 0;

    cf_pg_tool_path(j->o->bindir, j->server_version, "pg_restore", tool, sizeof(tool));
    argv[a++] = tool;
    argv[a++] = "--list";
    if (filtered && j->o->schema != NULL) {
        argv[a++] = "--schema";
        argv[a++] = j->o->schema;
    }
    if (filtered && j->o->table != NULL) {
        argv[a++] = "--table";
        argv[a++] = j->o->table;
    }
    argv[a++] = file;
    argv[a] = NULL;
    return cf_child_run(argv, NULL, out, (size_t)64 * 1024 * 1024, err);
}

/* S as pg_dump writes it in a tag: bare when it is a plain lowercase name, else
 * double-quoted with inner quotes doubled.  Writes into buf. */
static void
quoted_tag(const char *name, char *buf, size_t size)
{
    size_t o = 0;

    buf[o++] = '"';
    for (const char *p = name; *p && o + 3 < size; p++) {
        if (*p == '"')
            buf[o++] = '"';
        buf[o++] = *p;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

/* The schema's own entries: "ID; 2615 OID SCHEMA - S owner", and its COMMENT
 * and ACL, whose tags quote S when it needs quoting. */
static int
is_schema_entry(const char *line, const char *schema)
{
    static const char *const kinds[] = {" SCHEMA - ", " COMMENT - SCHEMA ", " ACL - SCHEMA "};
    char quoted[256];

    quoted_tag(schema, quoted, sizeof(quoted));
    for (size_t k = 0; k < 3; k++) {
        const char *p = strstr(line, kinds[k]);

        for (int q = 0; p != NULL && q < 2; q++) {
            const char *want = q ? quoted : schema;
            const char *at = p + strlen(kinds[k]);

            if (strncmp(at, want, strlen(want)) == 0 && at[strlen(want)] == ' ')
                return 1;
        }
    }
    return 0;
}

/* Does the newline-separated text contain this exact line? */
static int
has_line(const char *text, const char *line)
{
    size_t len = strlen(line);

    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
            return 1;
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return 0;
}

size_t
cf_restore_filter_toc(const char *all, const char *selected, const char *schema, char **out)
{
    size_t cap = strlen(all) + 2, len = 0, kept = 0;
    char *buf = malloc(cap);

    *out = NULL;
    if (buf == NULL)
        return 0;
    buf[0] = '\0';
    for (const char *line = all; *line != '\0';) {
        const char *eol = strchr(line, '\n');
        size_t n = eol != NULL ? (size_t)(eol - line) : strlen(line);
        char *copy = strndup(line, n);

        if (copy == NULL) {
            free(buf);
            return 0;
        }
        if (n > 0 && copy[0] != ';' &&
            ((schema != NULL && is_schema_entry(copy, schema)) || has_line(selected, copy))) {
            memcpy(buf + len, copy, n);
            len += n;
            buf[len++] = '\n';
            buf[len] = '\0';
            kept++;
        }
        free(copy);
        line += n + (eol != NULL);
    }
    *out = buf;
    return kept;
}

/* Keep only the TABLE DATA lines of a -L list (in place). */
static void
keep_data_lines(char *text)
{
    char *out = text;

    for (char *line = text; *line != '\0';) {
        char *eol = strchr(line, '\n');
        size_t n = eol != NULL ? (size_t)(eol - line) + 1 : strlen(line);

        if (memmem(line, n, " TABLE DATA ", 12) != NULL) {
            memmove(out, line, n);
            out += n;
        }
        line += n;
    }
    *out = '\0';
}

/* Write the -L list for a selective restore (cf_restore_filter_toc) into a new 0600 file;
 * data_only: its TABLE DATA entries only. */
static cf_err
write_list(const struct job *j, const char *file, const char *list, bool data_only,
           struct cf_error *err)
{
    char *all = NULL, *sel = NULL, *text = NULL;
    size_t kept = 0, len;
    int fd = -1;
    cf_err rc;

    if ((rc = toc_list(j, file, 0, &all, err)) != CF_OK ||
        (rc = toc_list(j, file, 1, &sel, err)) != CF_OK)
        goto out;
    kept = cf_restore_filter_toc(all, sel, j->o->schema, &text);
    if (text == NULL) {
        rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (data_only) {
        keep_data_lines(text);
        kept = text[0] != '\0';
    }
    if (kept == 0) {
        rc = cf_error_set(err, CF_ERR_USAGE, "nothing in backup %s matches the selection",
                          j->o->id);
        cf_error_detail(err, "Selection: schema \"%s\", table \"%s\".",
                        j->o->schema ? j->o->schema : "*", j->o->table ? j->o->table : "*");
        goto out;
    }
    fd = open(list, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len)
        rc = cf_error_set_errno(err, CF_ERR_IO, errno, "could not write \"%s\"", list);
    if (fd >= 0 && close(fd) != 0 && rc == CF_OK)
        rc = cf_error_set_errno(err, CF_ERR_IO, errno, "could not write \"%s\"", list);
out:
    free(text);
    free(all);
    free(sel);
    return rc;
}

/* One pg_restore of file; *seconds gets how long it took. */
static cf_err
pg_restore_step(struct job *j, const char *conn, const char *file, const char *list,
                enum section sec, double *seconds, struct cf_error *err)
{
    char tool[512], jobs[32];
    const char *argv[24];
    double t0 = now_seconds();
    cf_err rc;

    /* a signal that came between two steps stops the restore before the next */
    if (cf_cancel_check(err) != CF_OK)
        return err->code;
    restore_argv(j, conn, file, list, sec, tool, sizeof(tool), jobs, sizeof(jobs), argv);
    rc = cf_child_run(argv, NULL, NULL, 0, err);
    if (seconds != NULL)
        *seconds += now_seconds() - t0;
    return rc;
}

/*
 * The pg_restore runs of a file restore: one; with timed, schema and data,
 * then indexes and constraints (the phases a drill reports); with
 * definitions, every definition first, then the selected tables' data.
 */
static cf_err
run_steps(struct job *j, const char *conn, const char *file, const char *list,
          struct cf_error *err)
{
    double *data = &j->res->data_seconds, *index = &j->res->index_seconds;

    if (j->o->definitions && list != NULL) {
        if (pg_restore_step(j, conn, file, NULL, PRE_DATA, data, err) != CF_OK)
            return err->code;
        return pg_restore_step(j, conn, file, list, DATA_ONLY, data, err);
    }
    if (!j->o->timed)
        return pg_restore_step(j, conn, file, list, ALL_SECTIONS, NULL, err);
    if (pg_restore_step(j, conn, file, list, DATA_SECTIONS, data, err) != CF_OK)
        return err->code;
    return pg_restore_step(j, conn, file, list, POST_DATA, index, err);
}

/* Decrypt and verify into a private file, then pg_restore [-j N] [-L list] file. */
static cf_err
file_restore(struct job *j, const char *conn, struct cf_error *err)
{
    const char *tmp = j->o->tmpdir != NULL ? j->o->tmpdir : getenv("TMPDIR");
    char dir[4096], file[4200], list[4200];
    int selective = j->o->schema != NULL || j->o->table != NULL;
    struct cf_sink *out = NULL;
    double t0 = now_seconds();
    int fd;
    cf_err rc;

    (void)snprintf(dir, sizeof(dir), "%s/coffre-restore-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not create a directory in %s",
                                  tmp ? tmp : "/tmp");
    (void)snprintf(file, sizeof(file), "%s/archive.dump", dir);
    (void)snprintf(list, sizeof(list), "%s/archive.list", dir);
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = cf_error_set_errno(err, CF_ERR_IO, errno, "could not create \"%s\"", file);
    else if ((rc = cf_fd_sink_new(fd, 1, file, &out, err)) != CF_OK)
        (void)close(fd);
    else
        rc = cf_repo_get(j->repo, j->o->id, j->obj->name, CF_OBJ_DUMP, j->sha, out, err);
    j->res->fetch_seconds = now_seconds() - t0;
    if (rc == CF_OK)
        CF_INJECT("restore-fetched"); /* the archive is in TMPDIR, pg_restore not started */
    if (rc == CF_OK && selective)
        rc = write_list(j, file, list, j->o->definitions, err);
    if (rc == CF_OK)
        rc = run_steps(j, conn, file, selective ? list : NULL, err);
    (void)unlink(list);
    (void)unlink(file);
    (void)rmdir(dir);
    return rc;
}

static cf_err
run_restore(struct job *j, struct cf_error *err)
{
    char *conn = NULL;
    cf_err rc;

    if (cf_pg_conninfo_with_db(j->o->target, j->into_db, &conn, err) != CF_OK)
        return err->code;
    if (j->o->jobs > 1 || j->o->schema != NULL || j->o->table != NULL || j->o->timed)
        rc = file_restore(j, conn, err);
    else
        rc = stream_restore(j, conn, err);
    free(conn);
    return rc;
}

static cf_err
sql_on_ident(PGconn *conn, const char *fmt1, const char *a, const char *fmt2, const char *b,
             struct cf_error *err)
{
    char *qa = PQescapeIdentifier(conn, a, strlen(a));
    char *qb = b ? PQescapeIdentifier(conn, b, strlen(b)) : NULL;
    char sql[512];
    cf_err rc;

    if (qa == NULL || (b != NULL && qb == NULL))
        rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    else {
        (void)snprintf(sql, sizeof(sql), "%s%s%s%s", fmt1, qa, fmt2 ? fmt2 : "", qb ? qb : "");
        rc = cf_pg_command(conn, sql, err);
    }
    PQfreemem(qa);
    PQfreemem(qb);
    return rc;
}

/*
 * Give the restored database its name.  With --replace the existing target
 * moves aside first (kept: coffre never drops data).  Both renames are one
 * transaction, so the target's name never points at nothing, even when
 * coffre dies between them.
 */
static cf_err
swap_in(struct job *j, const char *tmp, bool exists, char *old, size_t size, struct cf_error *err)
{
    struct cf_error ignored = CF_ERROR_INIT;

    if (!exists)
        return sql_on_ident(j->admin, "ALTER DATABASE ", tmp, " RENAME TO ", j->target_db, err);
    (void)snprintf(old, size, "%.40s_old_%lld", j->target_db, (long long)time(NULL));
    if (cf_pg_command(j->admin, "BEGIN", err) != CF_OK)
        return err->code;
    if (sql_on_ident(j->admin, "ALTER DATABASE ", j->target_db, " RENAME TO ", old, err) != CF_OK) {
        cf_error_hint(err, "Close every session on database \"%s\" (it must be idle to be "
                           "renamed), then run the restore again.", j->target_db);
        goto rollback;
    }
    if (sql_on_ident(j->admin, "ALTER DATABASE ", tmp, " RENAME TO ", j->target_db, err) != CF_OK)
        goto rollback;
    CF_INJECT("restore-between-renames");
    if (cf_pg_command(j->admin, "COMMIT", err) == CF_OK)
        return CF_OK;
rollback:
    (void)cf_pg_command(j->admin, "ROLLBACK", &ignored);
    old[0] = '\0';
    return err->code;
}

/*
 * Drop the temporary database of a failed restore.  The maintenance connection
 * may have died with the server (restarted during pg_restore): reconnect while
 * it comes back, for DROP_RETRIES * 250 ms at most.  An SQL error on a live
 * connection is final.
 */
#define DROP_RETRIES 20

static cf_err
drop_temp(struct job *j, const char *tmp, struct cf_error *err)
{
    for (int attempt = 0; attempt < DROP_RETRIES; attempt++) {
        if (attempt > 0)
            (void)nanosleep(&(struct timespec){0, 250000000}, NULL);
        if (PQstatus(j->admin) != CONNECTION_OK) {
            PQreset(j->admin);
            if (PQstatus(j->admin) != CONNECTION_OK) {
                const char *m = PQerrorMessage(j->admin);

                cf_error_setf(err, CF_ERR_PG, "could not reconnect to the target server: %.*s",
                              (int)strcspn(m, "\n"), m);
                continue;
            }
        }
        cf_error_clear(err);
        if (sql_on_ident(j->admin, "DROP DATABASE IF EXISTS ", tmp, " WITH (FORCE)", NULL, err) ==
            CF_OK)
            return CF_OK;
        if (PQstatus(j->admin) == CONNECTION_OK)
            return err->code;
    }
    return err->code;
}

/*
 * A restore killed before its end leaves its temporary database
 * (TARGET_coffre_PID): say so, so that the operator can drop it.  It is never
 * dropped here: another restore may be running into it.
 */
static void
warn_leftovers(struct job *j)
{
    char prefix[64];
    const char *params[1] = {prefix};
    struct cf_error ignored = CF_ERROR_INIT;
    PGresult *res = NULL;

    (void)snprintf(prefix, sizeof(prefix), "%.40s_coffre_", j->target_db);
    if (cf_pg_exec(j->admin,
                   "SELECT datname FROM pg_database WHERE starts_with(datname, $1) "
                   "AND substr(datname, length($1) + 1) ~ '^[0-9]+$' ORDER BY 1",
                   1, params, &res, &ignored) != CF_OK)
        return;
    for (int i = 0; i < PQntuples(res); i++)
        cf_log_warning("database \"%s\" is the temporary database of an earlier restore of "
                       "\"%s\" that did not end; if no restore is running, drop it with "
                       "DROP DATABASE",
                       PQgetvalue(res, i, 0), j->target_db);
    PQclear(res);
}

static cf_err
restore_create(struct job *j, struct cf_restore_result *res, struct cf_error *err)
{
    char tmp[64], old[64] = "";
    int exists = 0;
    cf_err rc;

    if (db_exists(j->admin, j->target_db, &exists, err) != CF_OK)
        return err->code;
    if (exists && !j->o->replace) {
        cf_error_setf(err, CF_ERR_USAGE, "target database \"%s\" already exists", j->target_db);
        cf_error_hint(err, "Choose a new name, drop it first, or restore into it without "
                           "--create if it is empty.");
        return CF_ERR_USAGE;
    }
    warn_leftovers(j);
    (void)snprintf(tmp, sizeof(tmp), "%.40s_coffre_%ld", j->target_db, (long)getpid());
    j->into_db = strdup(tmp);
    CF_INJECT("restore-start");
    if (sql_on_ident(j->admin, "CREATE DATABASE ", tmp, " TEMPLATE template0", NULL, err) !=
        CF_OK)
        return err->code;
    rc = run_restore(j, err);
    if (rc == CF_OK) {
        CF_INJECT("restore-before-rename");
        /* stopped now, the restored copy is dropped and the target untouched */
        if ((rc = cf_cancel_check(err)) == CF_OK)
            rc = swap_in(j, tmp, exists != 0, old, sizeof(old), err);
    }
    if (rc == CF_OK) {
        CF_INJECT("restore-after-rename");
        (void)snprintf(res->old_db, sizeof(res->old_db), "%s", old);
    }
    if (rc != CF_OK) {
        struct cf_error drop_err = CF_ERROR_INIT;

        if (drop_temp(j, tmp, &drop_err) == CF_OK)
            cf_error_context(err,
                             "the temporary database \"%s\" was dropped; \"%s\" was not "
                             "created",
                             tmp, j->target_db);
        else
            cf_error_context(err,
                             "the temporary database \"%s\" could not be dropped (%s): drop "
                             "it with DROP DATABASE; \"%s\" was not created",
                             tmp, drop_err.msg, j->target_db);
    }
    return rc;
}

static cf_err
restore_existing(struct job *j, struct cf_error *err)
{
    struct cf_sink *null = NULL;

    if (j->o->jobs > 1) {
        cf_error_setf(err, CF_ERR_USAGE, "--jobs needs --create or --replace");
        cf_error_detail(err, "A parallel pg_restore cannot run in one transaction, so only a "
                             "new database can be rolled back by dropping it.");
        return CF_ERR_USAGE;
    }
    CF_INJECT("restore-start");
    if ((j->o->alongside != NULL ? check_schema_absent(j, err) : check_empty(j, err)) != CF_OK)
        return err->code;
    /* pg_restore may commit before it has read the last byte: verify first */
    if (cf_null_sink_new(&null, err) != CF_OK ||
        cf_repo_get(j->repo, j->o->id, j->obj->name, CF_OBJ_DUMP, j->sha, null, err) != CF_OK)
        return err->code;
    j->into_db = strdup(j->target_db);
    return run_restore(j, err);
}

cf_err
cf_restore_run(const struct cf_restore_opts *o, struct cf_restore_result *res,
               struct cf_error *err)
{
    const struct cf_repo *repo = o->repo;
    struct job j;
    double t0 = now_seconds();
    cf_err rc;

    memset(res, 0, sizeof(*res));
    memset(&j, 0, sizeof(j));
    j.repo = repo;
    j.o = o;
    j.res = res;
    if (o->timed && !o->create && !o->replace)
        return cf_error_set(err, CF_ERR_USAGE, "a timed restore needs create or replace");
    if ((rc = cf_pg_check_conninfo(o->target, "--target", err)) != CF_OK)
        return rc;
    j.target_db = cf_pg_conninfo_dbname(o->target);
    if (j.target_db == NULL) {
        cf_error_setf(err, CF_ERR_USAGE, "--target must name a database");
        cf_error_hint(err, "Add dbname=NAME to the connection string.");
        return CF_ERR_USAGE;
    }
    if ((rc = cf_repo_read_manifest(repo, o->id, &j.m, err)) != CF_OK ||
        (rc = pick_object(&j, err)) != CF_OK ||
        (rc = cf_pg_connect(o->target, "postgres", &j.admin, err)) != CF_OK)
        goto out;
    j.server_version = PQserverVersion(j.admin);
    rc = o->create || o->replace ? restore_create(&j, res, err) : restore_existing(&j, err);
    if (rc == CF_OK) {
        (void)snprintf(res->database, sizeof(res->database), "%s",
                       j.obj->database ? j.obj->database : "");
        (void)snprintf(res->target_db, sizeof(res->target_db), "%s", j.target_db);
        res->plain_bytes = j.obj->plain;
        res->seconds = now_seconds() - t0;
    }
out:
    PQfinish(j.admin);
    cf_manifest_free(j.m);
    free(j.target_db);
    free(j.into_db);
    return rc;
}
