/*
 * migrate.c - the migration's steps, its journal and its lock (migrate.h).
 *
 * The journal (<state_dir>/migrate/<id>.json) is written before a step
 * changes anything ("created" flags are set before the CREATE they name) and
 * after it ends, so that rollback removes everything a crash may have left,
 * and run resumes at the first step that did not end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include "agent/backup.h"
#include "common/cancel.h"
#include "common/fsutil.h"
#include "common/inject.h"
#include "common/log.h"
#include "common/manifest.h"
#include "common/pg.h"
#include "restore/migrate_int.h"
#include "restore/restore.h"
#include "stream/child.h"

static const char *const state_names[CF_MIG_STATES] = {
    "planned", "frozen", "backed-up", "restored", "verified", "ready", "finalized", "rolled-back"};

const char *
cf_migrate_state_name(enum cf_migrate_state s)
{
    return (unsigned)s < CF_MIG_STATES ? state_names[s] : "unknown";
}

int
cf_migrate_state_parse(const char *name)
{
    for (int s = 0; s < CF_MIG_STATES; s++)
        if (strcmp(name, state_names[s]) == 0)
            return s;
    return -1;
}

const char *
cf_finding_level_name(enum cf_finding_level l)
{
    return l == CF_FINDING_BLOCKING ? "blocking" : l == CF_FINDING_WARNING ? "warning" : "ok";
}

static const char *
formula_name(enum cf_formula f)
{
    return f == CF_FORMULA_MANAGED ? "managed" : "onprem";
}

struct mig {
    const struct cf_migrate_opts *o;
    struct cf_migrate_result *res;
    json_t *j; /* the journal */
    char dir[4096];
    char path[4200];
    int lock_fd;
    struct cf_mig_tenant t;
};

/* ---- journal ---------------------------------------------------------------------- */

static const char *
jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}

static bool
jflag(json_t *j, const char *key)
{
    return json_is_true(json_object_get(json_object_get(j, "created"), key));
}

static cf_err
journal_save(struct mig *m, struct cf_error *err)
{
    char *text = json_dumps(m->j, JSON_INDENT(2) | JSON_SORT_KEYS);
    cf_err rc;

    if (text == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = cf_write_atomic(m->path, text, strlen(text), 0600, err);
    free(text);
    if (rc != CF_OK)
        cf_error_context(err, "the journal of migration %s", jstr(m->j, "id"));
    return rc;
}

/* The journal's copy in the repository, with the final backup (best effort). */
static void
journal_record(struct mig *m)
{
    const char *id = jstr(m->j, "backup_id");
    char *text, name[128];
    struct cf_error e = CF_ERROR_INIT;

    if (id[0] == '\0' || m->o->repo == NULL)
        return;
    text = json_dumps(m->j, JSON_SORT_KEYS);
    if (text == NULL || cf_repo_put_record(m->o->repo, id, CF_MIGRATE_PREFIX,
                                           json_integer_value(json_object_get(m->j, "lock_until")),
                                           text, name, sizeof(name), &e) != CF_OK)
        cf_log(CF_LOG_WARNING, "migrate %s: the journal's copy was not stored with backup %s: %s",
               jstr(m->j, "id"), id, text == NULL ? "out of memory" : e.msg);
    free(text);
}

static void
set_created(struct mig *m, const char *what, bool v)
{
    json_t *c = json_object_get(m->j, "created");

    if (c == NULL) {
        c = json_object();
        json_object_set_new(m->j, "created", c);
    }
    json_object_set_new(c, what, json_boolean(v));
}

static enum cf_migrate_state
journal_state(json_t *j)
{
    int s = cf_migrate_state_parse(jstr(j, "state"));

    return s < 0 ? CF_MIG_PLANNED : (enum cf_migrate_state)s;
}

static cf_err
step_begin(struct mig *m, enum cf_migrate_state to, struct cf_error *err)
{
    json_t *steps = json_object_get(m->j, "steps");
    json_t *s = json_pack("{s:s, s:I, s:I, s:s}", "state", cf_migrate_state_name(to), "start",
                          (json_int_t)time(NULL), "end", (json_int_t)0, "note", "");

    if (s == NULL || json_array_append_new(steps, s) != 0)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    cf_log_set_field("COFFRE_MIGRATE_STEP", cf_migrate_state_name(to));
    return journal_save(m, err);
}

static cf_err
step_end(struct mig *m, enum cf_migrate_state to, const char *note, struct cf_error *err)
{
    json_t *steps = json_object_get(m->j, "steps");
    json_t *s = json_array_get(steps, json_array_size(steps) - 1);

    json_object_set_new(s, "end", json_integer((json_int_t)time(NULL)));
    json_object_set_new(s, "note", json_string(note ? note : ""));
    json_object_set_new(m->j, "state", json_string(cf_migrate_state_name(to)));
    cf_log(CF_LOG_INFO, "migrate %s: %s%s%s", jstr(m->j, "id"), cf_migrate_state_name(to),
           note && note[0] ? ": " : "", note ? note : "");
    return journal_save(m, err);
}

/* A failed step: its note says why; the state stays where it was.  Unless the
 * error says what to do, it says how to go on from here. */
static void
step_failed(struct mig *m, struct cf_error *why)
{
    json_t *steps = json_object_get(m->j, "steps");
    json_t *s = json_array_get(steps, json_array_size(steps) - 1);
    struct cf_error e = CF_ERROR_INIT;
    char note[300];

    (void)snprintf(note, sizeof(note), "failed: %s", why->msg);
    json_object_set_new(s, "note", json_string(note));
    (void)journal_save(m, &e);
    if (why->hint[0] == '\0')
        cf_error_hint(why,
                      "Nothing is switched yet. Fix the cause, then resume with coffre migrate "
                      "run --id %s, or return to the source with coffre migrate rollback --id %s.",
                      jstr(m->j, "id"), jstr(m->j, "id"));
}

static void
tenant_from_journal(struct mig *m)
{
    json_t *s = json_object_get(m->j, "source"), *d = json_object_get(m->j, "dest");
    struct cf_mig_tenant *t = &m->t;

    t->src_formula =
        strcmp(jstr(s, "formula"), "managed") == 0 ? CF_FORMULA_MANAGED : CF_FORMULA_ONPREM;
    t->dst_formula =
        strcmp(jstr(d, "formula"), "managed") == 0 ? CF_FORMULA_MANAGED : CF_FORMULA_ONPREM;
    t->src_conninfo = jstr(s, "conninfo");
    t->dst_conninfo = jstr(d, "conninfo");
    (void)snprintf(t->src_db, sizeof(t->src_db), "%s", jstr(s, "database"));
    (void)snprintf(t->dst_db, sizeof(t->dst_db), "%s", jstr(d, "database"));
    (void)snprintf(t->src_schema, sizeof(t->src_schema), "%s", jstr(s, "schema"));
    (void)snprintf(t->dst_schema, sizeof(t->dst_schema), "%s", jstr(d, "schema"));
    (void)snprintf(t->role, sizeof(t->role), "%s", jstr(m->j, "role"));
}

/* The result as the journal tells it. */
static void
result_from_journal(json_t *j, struct cf_migrate_result *r)
{
    json_t *s = json_object_get(j, "source"), *d = json_object_get(j, "dest");
    json_t *steps = json_object_get(j, "steps"), *st;
    size_t i;

    (void)snprintf(r->id, sizeof(r->id), "%s", jstr(j, "id"));
    r->state = journal_state(j);
    (void)snprintf(r->source_schema, sizeof(r->source_schema), "%s", jstr(s, "schema"));
    (void)snprintf(r->dest_schema, sizeof(r->dest_schema), "%s", jstr(d, "schema"));
    (void)snprintf(r->source_db, sizeof(r->source_db), "%s", jstr(s, "database"));
    (void)snprintf(r->dest_db, sizeof(r->dest_db), "%s", jstr(d, "database"));
    (void)snprintf(r->role, sizeof(r->role), "%s", jstr(j, "role"));
    r->source_formula =
        strcmp(jstr(s, "formula"), "managed") == 0 ? CF_FORMULA_MANAGED : CF_FORMULA_ONPREM;
    r->dest_formula =
        strcmp(jstr(d, "formula"), "managed") == 0 ? CF_FORMULA_MANAGED : CF_FORMULA_ONPREM;
    (void)snprintf(r->backup_id, sizeof(r->backup_id), "%s", jstr(j, "backup_id"));
    (void)snprintf(r->dest_backup_id, sizeof(r->dest_backup_id), "%s", jstr(j, "dest_backup_id"));
    (void)snprintf(r->new_conninfo, sizeof(r->new_conninfo), "%s", jstr(j, "new_conninfo"));
    (void)snprintf(r->mismatch, sizeof(r->mismatch), "%s", jstr(j, "mismatch"));
    (void)snprintf(r->source_kept_as, sizeof(r->source_kept_as), "%s", jstr(j, "source_kept_as"));
    r->freeze_start = json_integer_value(json_object_get(j, "freeze_start"));
    r->freeze_end = json_integer_value(json_object_get(j, "freeze_end"));
    r->bytes_moved = (uint64_t)json_integer_value(json_object_get(j, "bytes_moved"));
    r->verify_s = json_number_value(json_object_get(j, "verify_seconds"));
    r->n_steps = 0;
    json_array_foreach(steps, i, st)
    {
        struct cf_migrate_step *x;
        int state = cf_migrate_state_parse(jstr(st, "state"));

        if (r->n_steps == CF_MIG_STATES) {
            /* resumed steps: keep the newest of each */
            memmove(r->steps, r->steps + 1, sizeof(r->steps[0]) * (CF_MIG_STATES - 1));
            r->n_steps--;
        }
        x = &r->steps[r->n_steps++];
        x->state = state < 0 ? CF_MIG_PLANNED : (enum cf_migrate_state)state;
        x->start = json_integer_value(json_object_get(st, "start"));
        x->end = json_integer_value(json_object_get(st, "end"));
        (void)snprintf(x->note, sizeof(x->note), "%s", jstr(st, "note"));
    }
}

static cf_err
open_dir(struct mig *m, struct cf_error *err)
{
    if (m->o->state_dir == NULL)
        return cf_error_set(err, CF_ERR_CONFIG, "migrate needs [coffre] state_dir");
    (void)snprintf(m->dir, sizeof(m->dir), "%s/migrate", m->o->state_dir);
    return cf_mkdir_p(m->dir, 0700, err);
}

static cf_err
load_journal(struct mig *m, const char *id, struct cf_error *err)
{
    json_error_t je;

    if (strchr(id, '/') != NULL || id[0] == '.')
        return cf_error_set(err, CF_ERR_USAGE, "invalid migration id \"%s\"", id);
    (void)snprintf(m->path, sizeof(m->path), "%s/%s.json", m->dir, id);
    m->j = json_load_file(m->path, 0, &je);
    if (m->j == NULL) {
        if (access(m->path, F_OK) != 0) {
            cf_error_setf(err, CF_ERR_NOT_FOUND, "no migration \"%s\" in %s", id, m->dir);
            cf_error_hint(err, "coffre migrate status lists the migrations of this instance.");
            return CF_ERR_NOT_FOUND;
        }
        cf_error_setf(err, CF_ERR_CORRUPT, "the journal %s is not valid JSON (line %d: %s)",
                      m->path, je.line, je.text);
        cf_error_hint(err, "Restore it from the repository's copy (a migrate- record of the "
                           "final backup, coffre cat), or move it aside.");
        return CF_ERR_CORRUPT;
    }
    tenant_from_journal(m);
    return CF_OK;
}

/* The newest migration of schema that neither finalized nor rolled back; "" if none. */
static cf_err
find_open(struct mig *m, const char *schema, char *id, size_t size, struct cf_error *err)
{
    DIR *d = opendir(m->dir);
    struct dirent *e;

    id[0] = '\0';
    if (d == NULL)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not list %s", m->dir);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char path[4400];
        json_t *j;
        enum cf_migrate_state s;

        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        (void)snprintf(path, sizeof(path), "%s/%s", m->dir, e->d_name);
        if ((j = json_load_file(path, 0, NULL)) == NULL)
            continue;
        s = journal_state(j);
        if (strcmp(jstr(json_object_get(j, "source"), "schema"), schema) == 0 &&
            s != CF_MIG_FINALIZED && s != CF_MIG_ROLLED_BACK && strcmp(jstr(j, "id"), id) > 0)
            (void)snprintf(id, size, "%s", jstr(j, "id"));
        json_decref(j);
    }
    (void)closedir(d);
    return CF_OK;
}

static cf_err
lock_tenant(struct mig *m, struct cf_error *err)
{
    char path[4200];

    (void)snprintf(path, sizeof(path), "%s/%s.lock", m->dir, m->t.src_schema);
    m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (m->lock_fd < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not open %s", path);
    if (flock(m->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        cf_error_setf(err, CF_ERR_LOCKED, "another coffre migrate is working on tenant \"%s\"",
                      m->t.src_schema);
        cf_error_detail(err, "The lock %s is held.", path);
        cf_error_hint(err, "Wait for it to end (coffre migrate status shows its step).");
        return CF_ERR_LOCKED;
    }
    return CF_OK;
}

static void
mig_init(struct mig *m, const struct cf_migrate_opts *o, struct cf_migrate_result *res)
{
    memset(res, 0, sizeof(*res));
    memset(m, 0, sizeof(*m));
    m->o = o;
    m->res = res;
    m->lock_fd = -1;
}

/* The result from the journal, then the lock released. */
static void
mig_end(struct mig *m)
{
    if (m->j != NULL)
        result_from_journal(m->j, m->res);
    if (m->lock_fd >= 0)
        (void)close(m->lock_fd);
    json_decref(m->j);
    cf_log_set_field("COFFRE_MIGRATE_STEP", NULL);
}

/* Load the migration o->id, or the open one of the source schema; lock it. */
static cf_err
open_existing(struct mig *m, struct cf_error *err)
{
    char id[96];
    cf_err rc;

    if ((rc = open_dir(m, err)) != CF_OK)
        return rc;
    if (m->o->id != NULL) {
        (void)snprintf(id, sizeof(id), "%s", m->o->id);
    } else {
        if (m->o->source.schema == NULL)
            return cf_error_set(err, CF_ERR_USAGE,
                                "name the migration with --id, or the tenant "
                                "with --schema");
        if ((rc = find_open(m, m->o->source.schema, id, sizeof(id), err)) != CF_OK)
            return rc;
        if (id[0] == '\0') {
            cf_error_setf(err, CF_ERR_NOT_FOUND, "no open migration of schema \"%s\"",
                          m->o->source.schema);
            cf_error_hint(err, "coffre migrate status lists the migrations of this instance.");
            return CF_ERR_NOT_FOUND;
        }
    }
    if ((rc = load_journal(m, id, err)) != CF_OK)
        return rc;
    cf_log_set_field("COFFRE_MIGRATE_ID", id);
    return lock_tenant(m, err);
}

/* ---- the sides -------------------------------------------------------------------- */

static cf_err
tenant_new(struct mig *m, struct cf_error *err)
{
    const struct cf_migrate_opts *o = m->o;
    struct cf_mig_tenant *t = &m->t;
    char *db;

    if (o->source.conninfo == NULL || o->dest.conninfo == NULL || o->source.schema == NULL)
        return cf_error_set(err, CF_ERR_USAGE,
                            "a migration needs a source, a destination and "
                            "the tenant's schema");
    if (cf_pg_check_conninfo(o->dest.conninfo, "--to", err) != CF_OK)
        return err->code;
    t->src_formula = o->source.formula;
    t->dst_formula = o->dest.formula;
    t->src_conninfo = o->source.conninfo;
    t->dst_conninfo = o->dest.conninfo;
    (void)snprintf(t->src_schema, sizeof(t->src_schema), "%s", o->source.schema);
    (void)snprintf(t->dst_schema, sizeof(t->dst_schema), "%s",
                   o->dest.schema ? o->dest.schema : o->source.schema);
    db = cf_pg_conninfo_dbname(o->source.conninfo);
    if (db == NULL) {
        PGconn *c = NULL;

        if (cf_pg_connect(o->source.conninfo, NULL, &c, err) != CF_OK)
            return err->code;
        db = strdup(PQdb(c));
        PQfinish(c);
    }
    (void)snprintf(t->src_db, sizeof(t->src_db), "%s", db ? db : "");
    free(db);
    db = cf_pg_conninfo_dbname(o->dest.conninfo);
    if (db == NULL) {
        cf_error_setf(err, CF_ERR_USAGE, "the destination conninfo must name a database");
        cf_error_hint(err, "%s",
                      t->dst_formula == CF_FORMULA_ONPREM
                          ? "dbname=NAME: the database to create for the tenant."
                          : "dbname=NAME: the shared database of the managed server.");
        return CF_ERR_USAGE;
    }
    (void)snprintf(t->dst_db, sizeof(t->dst_db), "%s", db);
    free(db);
    return CF_OK;
}

/* The application's new connection string: the destination as the tenant's role. */
static void
new_conninfo(const struct cf_mig_tenant *t, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%s user=%s", t->dst_conninfo, t->role);
}

/* ---- freeze ------------------------------------------------------------------------ */

static cf_err
terminate_sessions(PGconn *c, const struct cf_mig_tenant *t, struct cf_error *err)
{
    const char *by = t->src_formula == CF_FORMULA_MANAGED ? "usename" : "datname";
    const char *who = t->src_formula == CF_FORMULA_MANAGED ? t->role : t->src_db;
    char *left = NULL;
    cf_err rc = CF_OK;

    for (int tries = 0; tries < 100 && rc == CF_OK; tries++) {
        free(left);
        left = NULL;
        if ((rc = cf_mig_execf(c, NULL, err,
                               "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE %I = %L AND pid <> pg_backend_pid() "
                               "AND backend_type = 'client backend'",
                               by, who)) != CF_OK ||
            (rc = cf_mig_value(c, &left, err,
                               "SELECT count(*) FROM pg_stat_activity WHERE %I = %L "
                               "AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                               by, who)) != CF_OK)
            break;
        if (left != NULL && strcmp(left, "0") == 0)
            break;
        (void)usleep(100000);
    }
    if (rc == CF_OK && (left == NULL || strcmp(left, "0") != 0))
        rc = cf_error_set(err, CF_ERR_PG, "%s sessions of the tenant did not end within 10 s",
                          left ? left : "some");
    free(left);
    return rc;
}

static cf_err
step_freeze(struct mig *m, struct cf_error *err)
{
    struct cf_mig_tenant *t = &m->t;
    json_t *fz = json_object_get(m->j, "freeze");
    PGconn *c = NULL;
    char *v = NULL;
    cf_err rc;

    if ((rc = cf_mig_connect(t->src_conninfo, NULL, &c, err)) != CF_OK)
        return rc;
    if (fz == NULL) {
        /* what to give back at rollback, recorded once, before anything changes */
        fz = json_object();
        if (t->src_formula == CF_FORMULA_MANAGED) {
            rc = cf_mig_value(c, &v, err, "SELECT rolcanlogin FROM pg_roles WHERE rolname = %L",
                              t->role);
            json_object_set_new(fz, "kind", json_string("nologin"));
            json_object_set_new(fz, "role_could_login", json_boolean(v && v[0] == 't'));
        } else {
            rc = cf_mig_value(c, &v, err,
                              "SELECT substr(s, 31) FROM pg_db_role_setting, unnest(setconfig) s "
                              "WHERE setrole = 0 AND setdatabase = (SELECT oid FROM pg_database "
                              "WHERE datname = %L) "
                              "AND s LIKE 'default\\_transaction\\_read\\_only=%%'",
                              t->src_db);
            json_object_set_new(fz, "kind", json_string("read-only"));
            json_object_set_new(fz, "previous", v ? json_string(v) : json_null());
        }
        free(v);
        json_object_set_new(m->j, "freeze", fz);
        if (rc == CF_OK)
            rc = journal_save(m, err);
    }
    if (rc == CF_OK)
        rc = t->src_formula == CF_FORMULA_MANAGED
                 ? cf_mig_execf(c, NULL, err, "ALTER ROLE %I NOLOGIN", t->role)
                 : cf_mig_execf(c, NULL, err,
                                "ALTER DATABASE %I SET default_transaction_read_only = on",
                                t->src_db);
    if (rc == CF_OK)
        rc = terminate_sessions(c, t, err);
    PQfinish(c);
    if (rc == CF_OK && json_object_get(m->j, "freeze_start") == NULL)
        json_object_set_new(m->j, "freeze_start", json_integer((json_int_t)time(NULL)));
    return rc;
}

static cf_err
unfreeze(struct mig *m, struct cf_error *err)
{
    struct cf_mig_tenant *t = &m->t;
    json_t *fz = json_object_get(m->j, "freeze");
    PGconn *c = NULL;
    cf_err rc;

    if (fz == NULL)
        return CF_OK;
    if ((rc = cf_mig_connect(t->src_conninfo, NULL, &c, err)) != CF_OK) {
        cf_error_context(err, "unfreezing the source");
        return rc;
    }
    if (t->src_formula == CF_FORMULA_MANAGED)
        rc = json_is_true(json_object_get(fz, "role_could_login"))
                 ? cf_mig_execf(c, NULL, err, "ALTER ROLE %I LOGIN", t->role)
                 : CF_OK;
    else if (json_is_string(json_object_get(fz, "previous")))
        rc = cf_mig_execf(c, NULL, err, "ALTER DATABASE %I SET default_transaction_read_only = %L",
                          t->src_db, jstr(fz, "previous"));
    else
        rc = cf_mig_execf(c, NULL, err, "ALTER DATABASE %I RESET default_transaction_read_only",
                          t->src_db);
    PQfinish(c);
    return rc;
}

/* ---- final backup ------------------------------------------------------------------ */

static cf_err
step_backup(struct mig *m, struct cf_error *err)
{
    const struct cf_migrate_opts *o = m->o;
    struct cf_pg_conf pg = *o->pg;
    struct cf_backup_opts bo;
    struct cf_backup_result br;
    cf_err rc;

    /* the tenant's schema of its database, whatever the instance's own formula */
    pg.conninfo = (char *)m->t.src_conninfo;
    pg.schema = m->t.src_schema;
    pg.n_databases = 0;
    memset(&bo, 0, sizeof(bo));
    bo.repo = o->repo;
    bo.instance = o->instance;
    bo.formula = CF_FORMULA_MANAGED;
    bo.pg = &pg;
    bo.backup = o->backup;
    bo.retention = o->retention;
    bo.version = o->version;
    if ((rc = cf_backup_run(&bo, &br, err)) != CF_OK) {
        cf_error_context(err, "the final backup of the tenant");
        return rc;
    }
    json_object_set_new(m->j, "backup_id", json_string(br.id));
    json_object_set_new(m->j, "lock_until", json_integer(br.lock_until));
    json_object_set_new(m->j, "bytes_moved", json_integer((json_int_t)br.plain_bytes));
    return CF_OK;
}

/* ---- restore ----------------------------------------------------------------------- */

/* A connection where the destination's databases and roles are managed. */
static cf_err
dest_admin(const struct cf_mig_tenant *t, PGconn **c, struct cf_error *err)
{
    cf_err rc = cf_mig_connect(t->dst_conninfo,
                               t->dst_formula == CF_FORMULA_ONPREM ? "postgres" : NULL, c, err);

    if (rc != CF_OK)
        cf_error_context(err, "the migration's destination");
    return rc;
}

/* Remove what the journal says the migration created at the destination. */
static cf_err
cleanup_dest(struct mig *m, struct cf_error *err)
{
    struct cf_mig_tenant *t = &m->t;
    PGconn *c = NULL;
    cf_err rc;

    if (!jflag(m->j, "database") && !jflag(m->j, "schema") && !jflag(m->j, "role"))
        return CF_OK;
    if ((rc = dest_admin(t, &c, err)) != CF_OK)
        return rc;
    if (jflag(m->j, "database"))
        rc = cf_mig_execf(c, NULL, err, "DROP DATABASE IF EXISTS %I WITH (FORCE)", t->dst_db);
    if (rc == CF_OK && jflag(m->j, "schema"))
        rc = cf_mig_execf(c, NULL, err, "DROP SCHEMA IF EXISTS %I, %I CASCADE", t->src_schema,
                          t->dst_schema);
    if (rc == CF_OK && jflag(m->j, "role")) {
        struct cf_error e = CF_ERROR_INIT;

        if (cf_mig_execf(c, NULL, &e, "DROP ROLE IF EXISTS %I", t->role) != CF_OK)
            cf_log(CF_LOG_WARNING,
                   "migrate %s: role \"%s\" was created at the destination and "
                   "could not be dropped: %s; drop it by hand",
                   jstr(m->j, "id"), t->role, e.msg);
    }
    PQfinish(c);
    if (rc != CF_OK) {
        cf_error_context(err, "removing what the migration created at the destination");
        return rc;
    }
    set_created(m, "database", false);
    set_created(m, "schema", false);
    set_created(m, "role", false);
    return journal_save(m, err);
}

/* "name=value" of a setting, with value rewritten by the schema map for search_path. */
static cf_err
copy_setting(PGconn *dst, const struct cf_mig_tenant *t, const char *item, const char *in_db,
             struct cf_error *err)
{
    const char *eq = strchr(item, '=');
    char name[64], value[1024];

    if (eq == NULL || (size_t)(eq - item) >= sizeof(name))
        return CF_OK;
    (void)snprintf(name, sizeof(name), "%.*s", (int)(eq - item), item);
    if (strcmp(name, "default_transaction_read_only") == 0)
        return CF_OK; /* the freeze, never carried */
    (void)snprintf(value, sizeof(value), "%s", eq + 1);
    if (strcmp(name, "search_path") == 0) {
        /* a list of names, kept as written: only the tenant's schema is renamed */
        char mapped[1024] = "", *save = NULL, *tok;
        size_t len = 0;

        for (tok = strtok_r(value, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            if (strcmp(tok, t->src_schema) == 0)
                tok = (char *)t->dst_schema;
            len +=
                (size_t)snprintf(mapped + len, sizeof(mapped) - len, "%s%s", len ? ", " : "", tok);
            if (len >= sizeof(mapped))
                break;
        }
        return in_db ? cf_mig_execf(dst, NULL, err,
                                    "ALTER ROLE %I IN DATABASE %I SET "
                                    "search_path TO %s",
                                    t->role, in_db, mapped)
                     : cf_mig_execf(dst, NULL, err, "ALTER ROLE %I SET search_path TO %s", t->role,
                                    mapped);
    }
    return in_db ? cf_mig_execf(dst, NULL, err, "ALTER ROLE %I IN DATABASE %I SET %I TO %L",
                                t->role, in_db, name, value)
                 : cf_mig_execf(dst, NULL, err, "ALTER ROLE %I SET %I TO %L", t->role, name, value);
}

/* The tenant's role settings (and, onprem to onprem, the database's) at the destination. */
static cf_err
copy_settings(PGconn *src, PGconn *dst, const struct cf_mig_tenant *t, struct cf_error *err)
{
    PGresult *res = NULL;
    cf_err rc;

    rc = cf_mig_execf(src, &res, err,
                      "SELECT s.setdatabase <> 0, unnest(s.setconfig) FROM pg_db_role_setting s "
                      "WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = %L) "
                      "AND (s.setdatabase = 0 OR s.setdatabase = (SELECT oid FROM pg_database "
                      "WHERE datname = current_database()))",
                      t->role);
    for (int i = 0; rc == CF_OK && i < PQntuples(res); i++)
        rc = copy_setting(dst, t, PQgetvalue(res, i, 1),
                          PQgetvalue(res, i, 0)[0] == 't' ? t->dst_db : NULL, err);
    PQclear(res);
    res = NULL;
    if (rc != CF_OK || t->src_formula != CF_FORMULA_ONPREM || t->dst_formula != CF_FORMULA_ONPREM)
        return rc;
    rc = cf_mig_execf(src, &res, err,
                      "SELECT unnest(setconfig) FROM pg_db_role_setting WHERE setrole = 0 "
                      "AND setdatabase = (SELECT oid FROM pg_database WHERE datname = "
                      "current_database())");
    for (int i = 0; rc == CF_OK && i < PQntuples(res); i++) {
        const char *item = PQgetvalue(res, i, 0), *eq = strchr(item, '=');
        char name[64];

        if (eq == NULL || (size_t)(eq - item) >= sizeof(name))
            continue;
        (void)snprintf(name, sizeof(name), "%.*s", (int)(eq - item), item);
        if (strcmp(name, "default_transaction_read_only") != 0)
            rc = cf_mig_execf(dst, NULL, err, "ALTER DATABASE %I SET %I TO %L", t->dst_db, name,
                              eq + 1);
    }
    PQclear(res);
    return rc;
}

/* Create the role, the database (onprem) and the extensions the tenant uses. */
static cf_err
prepare_dest(struct mig *m, PGconn *src, PGconn *dst, struct cf_error *err)
{
    struct cf_mig_tenant *t = &m->t;
    PGresult *res = NULL;
    char *v = NULL;
    cf_err rc;

    if ((rc = cf_mig_value(dst, &v, err, "SELECT 1 FROM pg_roles WHERE rolname = %L", t->role)) !=
        CF_OK)
        return rc;
    if (v == NULL) {
        set_created(m, "role", true);
        if ((rc = journal_save(m, err)) != CF_OK ||
            (rc = cf_mig_execf(dst, NULL, err, "CREATE ROLE %I LOGIN", t->role)) != CF_OK)
            return rc;
    }
    free(v);
    v = NULL;
    /* owning objects through a restore needs membership of their owner */
    if ((rc = cf_mig_value(dst, &v, err, "SELECT pg_has_role(current_user, %L, 'MEMBER')",
                           t->role)) != CF_OK)
        return rc;
    if (v != NULL && v[0] != 't')
        rc = cf_mig_execf(dst, NULL, err, "GRANT %I TO current_user", t->role);
    free(v);
    if (rc != CF_OK)
        return rc;
    if (t->dst_formula == CF_FORMULA_ONPREM) {
        if ((rc = cf_mig_execf(src, &res, err,
                               "SELECT pg_encoding_to_char(encoding), datcollate, datctype "
                               "FROM pg_database WHERE datname = current_database()")) != CF_OK)
            return rc;
        set_created(m, "database", true);
        if ((rc = journal_save(m, err)) == CF_OK)
            rc = cf_mig_execf(dst, NULL, err,
                              "CREATE DATABASE %I OWNER %I TEMPLATE template0 ENCODING %L "
                              "LC_COLLATE %L LC_CTYPE %L",
                              t->dst_db, t->role, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                              PQgetvalue(res, 0, 2));
        PQclear(res);
        res = NULL;
    } else {
        set_created(m, "schema", true);
        rc = journal_save(m, err);
    }
    return rc;
}

static cf_err
create_extensions(PGconn *src, PGconn *db, const struct cf_mig_tenant *t, struct cf_error *err)
{
    PGresult *res = NULL;
    cf_err rc;

    if ((rc = cf_mig_extensions(src, t->src_schema, &res, err)) != CF_OK)
        return rc;
    for (int i = 0; rc == CF_OK && i < PQntuples(res); i++) {
        if (strcmp(PQgetvalue(res, i, 2), t->src_schema) == 0)
            continue; /* the plan blocks it */
        rc = cf_mig_execf(db, NULL, err,
                          "CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA %I VERSION %L",
                          PQgetvalue(res, i, 0), PQgetvalue(res, i, 2), PQgetvalue(res, i, 1));
        if (rc != CF_OK)
            cf_error_context(err, "extension %s at the destination", PQgetvalue(res, i, 0));
    }
    PQclear(res);
    return rc;
}

static cf_err
step_restore(struct mig *m, struct cf_error *err)
{
    struct cf_mig_tenant *t = &m->t;
    struct cf_restore_opts ro;
    struct cf_restore_result rr;
    PGconn *src = NULL, *adm = NULL, *db = NULL;
    cf_err rc;

    /* a step that did not end may have left a database, a schema or a role */
    if ((rc = cleanup_dest(m, err)) != CF_OK)
        return rc;
    if ((rc = cf_mig_connect(t->src_conninfo, NULL, &src, err)) != CF_OK ||
        (rc = dest_admin(t, &adm, err)) != CF_OK || (rc = prepare_dest(m, src, adm, err)) != CF_OK)
        goto out;
    if ((rc = cf_mig_connect(t->dst_conninfo, NULL, &db, err)) != CF_OK ||
        (rc = create_extensions(src, db, t, err)) != CF_OK)
        goto out;
    memset(&ro, 0, sizeof(ro));
    ro.repo = m->o->repo;
    ro.id = jstr(m->j, "backup_id");
    ro.target = t->dst_conninfo;
    ro.alongside = t->src_schema;
    ro.bindir = m->o->pg->bindir;
    if ((rc = cf_restore_run(&ro, &rr, err)) != CF_OK) {
        cf_error_context(err, "restoring backup %s into the destination", ro.id);
        goto out;
    }
    if (strcmp(t->src_schema, t->dst_schema) != 0) {
        rc = strcmp(t->dst_schema, "public") == 0 && t->dst_formula == CF_FORMULA_ONPREM
                 /* the new database's public holds only the extensions created above:
                  * they move into the tenant's schema, which then becomes public */
                 ? cf_mig_execf(db, NULL, err,
                                "BEGIN; DO $$DECLARE e record; BEGIN FOR e IN SELECT extname "
                                "FROM pg_extension WHERE extnamespace = 'public'::regnamespace "
                                "LOOP EXECUTE format('ALTER EXTENSION %%I SET SCHEMA %%I', "
                                "e.extname, %L); END LOOP; END$$; DROP SCHEMA public; "
                                "ALTER SCHEMA %I RENAME TO public; COMMIT",
                                t->src_schema, t->src_schema)
                 : cf_mig_execf(db, NULL, err, "ALTER SCHEMA %I RENAME TO %I", t->src_schema,
                                t->dst_schema);
        if (rc != CF_OK)
            goto out;
    }
    rc = copy_settings(src, db, t, err);
    if (rc == CF_OK)
        rc = cf_mig_execf(db, NULL, err, "ANALYZE");
out:
    PQfinish(src);
    PQfinish(adm);
    PQfinish(db);
    return rc;
}

/* ---- the cut-over point ------------------------------------------------------------- */

static cf_err
run_hook(struct mig *m, struct cf_error *err)
{
    char env_conn[1100], env_id[128], env_schema[128];
    const char *argv[] = {"/bin/sh", "-c", jstr(m->j, "hook"), NULL};
    const char *envp[4];

    (void)snprintf(env_conn, sizeof(env_conn), "COFFRE_MIGRATE_CONNINFO=%s",
                   jstr(m->j, "new_conninfo"));
    (void)snprintf(env_id, sizeof(env_id), "COFFRE_MIGRATE_ID=%s", jstr(m->j, "id"));
    (void)snprintf(env_schema, sizeof(env_schema), "COFFRE_MIGRATE_SCHEMA=%s", m->t.dst_schema);
    envp[0] = env_conn;
    envp[1] = env_id;
    envp[2] = env_schema;
    envp[3] = NULL;
    if (cf_child_run_group(argv, envp, err) != CF_OK) {
        cf_error_context(err, "the cut-over hook");
        cf_error_hint(err, "The destination is verified and the source still frozen: fix the "
                           "hook and run coffre migrate run again (it resumes here), or roll "
                           "back.");
        return err->code;
    }
    return CF_OK;
}

/* ---- run ---------------------------------------------------------------------------- */

static cf_err
journal_new(struct mig *m, const char *role, struct cf_error *err)
{
    const struct cf_mig_tenant *t = &m->t;
    char stamp[32], id[96];
    time_t now = time(NULL);
    struct tm tm;

    (void)gmtime_r(&now, &tm);
    (void)strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    (void)snprintf(id, sizeof(id), "%s-%s", t->src_schema, stamp);
    (void)snprintf(m->path, sizeof(m->path), "%s/%s.json", m->dir, id);
    if (access(m->path, F_OK) == 0)
        return cf_error_set(err, CF_ERR_EXISTS, "migration %s already exists: wait a second", id);
    m->j = json_pack(
        "{s:i, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s},"
        " s:[], s:{s:b, s:b, s:b}}",
        "version", 1, "id", id, "instance", m->o->instance ? m->o->instance : "", "state",
        "planned", "role", role, "source", "formula", formula_name(t->src_formula), "conninfo",
        t->src_conninfo, "database", t->src_db, "schema", t->src_schema, "dest", "formula",
        formula_name(t->dst_formula), "conninfo", t->dst_conninfo, "database", t->dst_db, "schema",
        t->dst_schema, "steps", "created", "database", 0, "schema", 0, "role", 0);
    if (m->j == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if (m->o->hook != NULL)
        json_object_set_new(m->j, "hook", json_string(m->o->hook));
    tenant_from_journal(m);
    cf_log_set_field("COFFRE_MIGRATE_ID", id);
    return journal_save(m, err);
}

static void
result_names(struct cf_migrate_result *res, const struct cf_mig_tenant *t)
{
    (void)snprintf(res->source_schema, sizeof(res->source_schema), "%s", t->src_schema);
    (void)snprintf(res->dest_schema, sizeof(res->dest_schema), "%s", t->dst_schema);
    (void)snprintf(res->source_db, sizeof(res->source_db), "%s", t->src_db);
    (void)snprintf(res->dest_db, sizeof(res->dest_db), "%s", t->dst_db);
    res->source_formula = t->src_formula;
    res->dest_formula = t->dst_formula;
}

cf_err
cf_migrate_plan_run(const struct cf_migrate_opts *o, struct cf_migrate_result *res,
                    struct cf_error *err)
{
    struct mig m;
    cf_err rc;

    memset(res, 0, sizeof(*res));
    memset(&m, 0, sizeof(m));
    m.o = o;
    m.res = res;
    if ((rc = tenant_new(&m, err)) != CF_OK)
        return rc;
    result_names(res, &m.t);
    rc = cf_mig_plan(o, &m.t, &res->plan, err);
    (void)snprintf(res->role, sizeof(res->role), "%s", res->plan.role);
    return rc;
}

static cf_err
refuse_blocking(const struct cf_migrate_plan *p, struct cf_error *err)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->findings[i].level == CF_FINDING_BLOCKING) {
            cf_error_setf(err, CF_ERR_CHECK,
                          "the plan has %zu blocking finding%s; nothing was "
                          "changed",
                          p->blocking, p->blocking == 1 ? "" : "s");
            cf_error_detail(err, "%s: %s", p->findings[i].name, p->findings[i].detail);
            cf_error_hint(err, "%s",
                          p->findings[i].hint[0] ? p->findings[i].hint
                                                 : "Run coffre migrate plan.");
            return CF_ERR_CHECK;
        }
    return CF_OK;
}

static cf_err
run_steps(struct mig *m, struct cf_error *err)
{
    const struct cf_migrate_opts *o = m->o;
    enum cf_migrate_state s = journal_state(m->j);
    int until = o->until >= 0 ? o->until : CF_MIG_READY;
    char note[300];
    cf_err rc = CF_OK;

    while (rc == CF_OK && (int)s < until && s < CF_MIG_READY) {
        enum cf_migrate_state next = (enum cf_migrate_state)(s + 1);

        if ((rc = cf_cancel_check(err)) != CF_OK || (rc = step_begin(m, next, err)) != CF_OK)
            break;
        CF_INJECT("migrate-step"); /* journalled as begun, nothing of it done */
        note[0] = '\0';
        switch (next) {
        case CF_MIG_FROZEN:
            rc = step_freeze(m, err);
            (void)snprintf(note, sizeof(note), "%s",
                           m->t.src_formula == CF_FORMULA_MANAGED
                               ? "role set NOLOGIN, sessions ended"
                               : "database read-only, sessions ended");
            break;
        case CF_MIG_BACKED_UP:
            rc = step_backup(m, err);
            (void)snprintf(note, sizeof(note), "backup %s", jstr(m->j, "backup_id"));
            break;
        case CF_MIG_RESTORED:
            rc = step_restore(m, err);
            (void)snprintf(note, sizeof(note), "into %s \"%s\"",
                           m->t.dst_formula == CF_FORMULA_ONPREM ? "database" : "schema",
                           m->t.dst_formula == CF_FORMULA_ONPREM ? m->t.dst_db : m->t.dst_schema);
            break;
        case CF_MIG_VERIFIED:
            rc = cf_mig_verify(&m->t, m->res, err);
            json_object_set_new(m->j, "verify_seconds", json_real(m->res->verify_s));
            json_object_set_new(m->j, "mismatch", json_string(m->res->mismatch));
            (void)snprintf(note, sizeof(note), "%zu checks in %.1f s", m->res->n_checks,
                           m->res->verify_s);
            if (rc == CF_OK)
                json_object_set_new(m->j, "freeze_end", json_integer((json_int_t)time(NULL)));
            break;
        case CF_MIG_READY: {
            char ci[1024];

            new_conninfo(&m->t, ci, sizeof(ci));
            json_object_set_new(m->j, "new_conninfo", json_string(ci));
            /* the hook given now, else the one the run started with */
            if (o->hook != NULL)
                json_object_set_new(m->j, "hook", json_string(o->hook));
            rc = jstr(m->j, "hook")[0] != '\0' ? run_hook(m, err) : CF_OK;
            (void)snprintf(note, sizeof(note), "%s",
                           jstr(m->j, "hook")[0] != '\0' ? "the cut-over hook ran"
                                                          : "switch the application");
            break;
        }
        default:
            rc = cf_error_set(err, CF_ERR_INTERNAL, "no step to %s", cf_migrate_state_name(next));
        }
        if (rc != CF_OK) {
            step_failed(m, err);
            break;
        }
        if ((rc = step_end(m, next, note, err)) != CF_OK)
            break;
        CF_INJECT("migrate-step-done"); /* journalled as ended */
        if (next == CF_MIG_BACKED_UP || next == CF_MIG_READY)
            journal_record(m);
        s = next;
    }
    return rc;
}

cf_err
cf_migrate_run(const struct cf_migrate_opts *o, struct cf_migrate_result *res, struct cf_error *err)
{
    struct mig m;
    enum cf_migrate_state s;
    cf_err rc;

    mig_init(&m, o, res);
    if ((rc = open_dir(&m, err)) != CF_OK)
        return rc;
    if (o->id == NULL && o->source.schema != NULL) {
        char open_id[96];

        if ((rc = find_open(&m, o->source.schema, open_id, sizeof(open_id), err)) != CF_OK)
            return rc;
        if (open_id[0] != '\0') {
            cf_error_setf(err, CF_ERR_EXISTS, "migration %s of schema \"%s\" is still open",
                          open_id, o->source.schema);
            cf_error_hint(err,
                          "Resume it with coffre migrate run --id %s, or roll it back with "
                          "coffre migrate rollback --id %s.",
                          open_id, open_id);
            return CF_ERR_EXISTS;
        }
    }
    if (o->id != NULL) {
        rc = open_existing(&m, err);
    } else if ((rc = tenant_new(&m, err)) == CF_OK && (result_names(res, &m.t), true) &&
               (rc = lock_tenant(&m, err)) == CF_OK &&
               (rc = cf_mig_plan(o, &m.t, &res->plan, err)) == CF_OK &&
               (rc = refuse_blocking(&res->plan, err)) == CF_OK) {
        rc = journal_new(&m, res->plan.role, err);
    }
    if (rc == CF_OK) {
        s = journal_state(m.j);
        if (s == CF_MIG_FINALIZED || s == CF_MIG_ROLLED_BACK) {
            rc = cf_error_set(err, CF_ERR_USAGE, "migration %s is %s: there is nothing to run",
                              jstr(m.j, "id"), cf_migrate_state_name(s));
        } else {
            rc = run_steps(&m, err);
        }
    }
    mig_end(&m);
    return rc;
}

/* ---- rollback and finalize ------------------------------------------------------------ */

cf_err
cf_migrate_rollback(const struct cf_migrate_opts *o, struct cf_migrate_result *res,
                    struct cf_error *err)
{
    struct mig m;
    enum cf_migrate_state s;
    cf_err rc;

    mig_init(&m, o, res);
    if ((rc = open_existing(&m, err)) != CF_OK)
        goto out;
    s = journal_state(m.j);
    if (s == CF_MIG_FINALIZED) {
        cf_error_setf(err, CF_ERR_USAGE, "migration %s is finalized: the source is gone",
                      jstr(m.j, "id"));
        cf_error_hint(err, "Migrate the tenant back with a new coffre migrate run in the other "
                           "direction.");
        rc = CF_ERR_USAGE;
        goto out;
    }
    if (s == CF_MIG_ROLLED_BACK)
        goto out;
    if (s == CF_MIG_READY && !o->force) {
        cf_error_setf(err, CF_ERR_USAGE, "migration %s is at the cut-over point", jstr(m.j, "id"));
        cf_error_detail(err, "The application may already write to the destination; a rollback "
                             "drops the destination and loses those writes.");
        cf_error_hint(err, "If nothing switched yet, add --force. Otherwise move the writes "
                           "back with a new coffre migrate run from the destination to the "
                           "source.");
        rc = CF_ERR_USAGE;
        goto out;
    }
    if ((rc = step_begin(&m, CF_MIG_ROLLED_BACK, err)) != CF_OK)
        goto out;
    rc = cleanup_dest(&m, err);
    if (rc == CF_OK)
        rc = unfreeze(&m, err);
    if (rc != CF_OK) {
        step_failed(&m, err);
        cf_error_hint(err, "Fix the cause and run coffre migrate rollback again: it resumes.");
        goto out;
    }
    if ((rc = step_end(&m, CF_MIG_ROLLED_BACK, "source writable, destination removed", err)) ==
        CF_OK)
        journal_record(&m);
out:
    mig_end(&m);
    return rc;
}

cf_err
cf_migrate_finalize(const struct cf_migrate_opts *o, struct cf_migrate_result *res,
                    struct cf_error *err)
{
    struct mig m;
    struct cf_mig_tenant *t = &m.t;
    char id[CF_OBJECT_ID_MAX + 1] = "", kept[64] = "", stamp[16];
    PGconn *c = NULL;
    time_t now = time(NULL);
    struct tm tm;
    cf_err rc;

    mig_init(&m, o, res);
    if ((rc = open_existing(&m, err)) != CF_OK)
        goto out;
    if (journal_state(m.j) != CF_MIG_READY) {
        cf_error_setf(err, CF_ERR_USAGE,
                      "migration %s is %s, not ready: finalize comes after "
                      "the cut-over",
                      jstr(m.j, "id"), jstr(m.j, "state"));
        rc = CF_ERR_USAGE;
        goto out;
    }
    if (o->dest_backup == NULL) {
        cf_error_setf(err, CF_ERR_USAGE, "finalize needs the destination's configuration");
        cf_error_hint(err, "Give --dest-config FILE: the destination is backed up with it before "
                           "the source is removed.");
        rc = CF_ERR_USAGE;
        goto out;
    }
    if ((rc = step_begin(&m, CF_MIG_FINALIZED, err)) != CF_OK)
        goto out;
    if (o->skip_drill)
        cf_log(CF_LOG_WARNING, "migrate %s: the destination's first backup is not drilled "
               "(--skip-drill): run coffre drill on the destination soon", jstr(m.j, "id"));
    if (json_string_value(json_object_get(m.j, "dest_backup_id")) == NULL) {
        if ((rc = o->dest_backup(o->dest_backup_ctx, o->skip_drill, id, sizeof(id), err)) !=
            CF_OK) {
            cf_error_context(err, "the destination's first backup");
            step_failed(&m, err);
            goto out;
        }
        json_object_set_new(m.j, "dest_backup_id", json_string(id));
        json_object_set_new(m.j, "dest_drilled", json_boolean(!o->skip_drill));
        if ((rc = journal_save(&m, err)) != CF_OK)
            goto out;
    }
    if ((rc = cf_mig_connect(t->src_conninfo,
                             t->src_formula == CF_FORMULA_ONPREM ? "postgres" : NULL, &c, err)) !=
        CF_OK)
        goto failed;
    if (t->src_formula == CF_FORMULA_MANAGED) {
        struct cf_error e = CF_ERROR_INIT;

        rc = cf_mig_execf(c, NULL, err, "DROP SCHEMA IF EXISTS %I CASCADE", t->src_schema);
        if (rc == CF_OK && cf_mig_execf(c, NULL, &e, "DROP ROLE IF EXISTS %I", t->role) != CF_OK)
            cf_log(CF_LOG_WARNING, "migrate %s: role \"%s\" stays at the source (NOLOGIN): %s",
                   jstr(m.j, "id"), t->role, e.msg);
    } else if (o->drop) {
        rc = cf_mig_execf(c, NULL, err, "DROP DATABASE IF EXISTS %I WITH (FORCE)", t->src_db);
    } else {
        (void)gmtime_r(&now, &tm);
        (void)strftime(stamp, sizeof(stamp), "%Y%m%d", &tm);
        (void)snprintf(kept, sizeof(kept), "%.40s_migrated_%.8s", t->src_db, stamp);
        rc = cf_mig_execf(c, NULL, err,
                          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %L AND pid <> pg_backend_pid()",
                          t->src_db);
        if (rc == CF_OK)
            rc = cf_mig_execf(c, NULL, err, "ALTER DATABASE %I RENAME TO %I", t->src_db, kept);
        if (rc == CF_OK)
            json_object_set_new(m.j, "source_kept_as", json_string(kept));
    }
failed:
    PQfinish(c);
    if (rc != CF_OK) {
        cf_error_context(err, "removing the source");
        step_failed(&m, err);
        goto out;
    }
    if ((rc = step_end(&m, CF_MIG_FINALIZED,
                       t->src_formula == CF_FORMULA_MANAGED ? "source schema and role dropped"
                       : o->drop                            ? "source database dropped"
                                                            : "source database renamed",
                       err)) == CF_OK)
        journal_record(&m);
out:
    mig_end(&m);
    return rc;
}

/* ---- status ------------------------------------------------------------------------- */

static int
by_id(const void *a, const void *b)
{
    return strcmp(((const struct cf_migrate_result *)a)->id,
                  ((const struct cf_migrate_result *)b)->id);
}

cf_err
cf_migrate_status(const char *state_dir, struct cf_migrate_result **out, size_t *n,
                  struct cf_error *err)
{
    char dir[4200];
    DIR *d;
    struct dirent *e;
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    (void)snprintf(dir, sizeof(dir), "%s/migrate", state_dir);
    if ((d = opendir(dir)) == NULL)
        return errno == ENOENT
                   ? CF_OK
                   : cf_error_set_errno(err, CF_ERR_IO, errno, "could not list %s", dir);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[4500];
        json_t *j;

        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        (void)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if ((j = json_load_file(path, 0, NULL)) == NULL) {
            cf_log(CF_LOG_WARNING, "migrate: %s is not a readable journal", path);
            continue;
        }
        if (*n == cap) {
            struct cf_migrate_result *bigger;

            cap = cap ? cap * 2 : 8;
            bigger = realloc(*out, cap * sizeof(*bigger));
            if (bigger == NULL) {
                json_decref(j);
                (void)closedir(d);
                return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
            }
            *out = bigger;
        }
        memset(&(*out)[*n], 0, sizeof(**out));
        result_from_journal(j, &(*out)[(*n)++]);
        json_decref(j);
    }
    (void)closedir(d);
    if (*n > 1)
        qsort(*out, *n, sizeof(**out), by_id);
    return CF_OK;
}

void
cf_migrate_result_clear(struct cf_migrate_result *res)
{
    free(res->plan.findings);
    free(res->checks);
    res->plan.findings = NULL;
    res->checks = NULL;
}
