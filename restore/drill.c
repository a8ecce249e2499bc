/*
 * drill.c - the drill engine (see drill.h): which backups, the time limit,
 * the work directory, the records, the clean-up.
 */
#include "restore/drill.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/cancel.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/pg.h"
#include "restore/drill_int.h"

static const char *const scenario_names[CF_DRILL_SCENARIOS] = {"simple", "partial", "total",
                                                                "pitr"};

const char *
cf_drill_scenario_name(enum cf_drill_scenario s)
{
    return (unsigned)s < CF_DRILL_SCENARIOS ? scenario_names[s] : "?";
}

int
cf_drill_scenario_parse(const char *name)
{
    for (int i = 0; i < CF_DRILL_SCENARIOS; i++)
        if (strcmp(name, scenario_names[i]) == 0)
            return i;
    return -1;
}

const char *
cf_check_status_name(enum cf_check_status s)
{
    switch (s) {
    case CF_CHECK_PASS: return "passed";
    case CF_CHECK_FAIL: return "failed";
    case CF_CHECK_WARN: return "warning";
    case CF_CHECK_SKIP: return "skipped";
    }
    return "?";
}

double
cf_drill_now(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
cf_drill_check(struct cf_drill_scenario_result *sr, const char *name,
               enum cf_check_status status, const char *fmt, ...)
{
    struct cf_drill_check *c;
    va_list ap;

    if (sr->n_checks == sr->cap_checks) {
        size_t cap = sr->cap_checks ? sr->cap_checks * 2 : 16;
        struct cf_drill_check *grown = realloc(sr->checks, cap * sizeof(*grown));

        if (grown == NULL) {
            cf_log_error("out of memory: drill check \"%s\" (%s) is not recorded", name,
                         cf_check_status_name(status));
            sr->ok = sr->ok && status != CF_CHECK_FAIL;
            return;
        }
        sr->checks = grown;
        sr->cap_checks = cap;
    }
    c = &sr->checks[sr->n_checks++];
    memset(c, 0, sizeof(*c));
    (void)snprintf(c->name, sizeof(c->name), "%s", name);
    c->status = status;
    va_start(ap, fmt);
    (void)vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
    va_end(ap);
    if (status == CF_CHECK_FAIL)
        sr->ok = false;
    cf_log_debug("drill %s: %s %s: %s", cf_drill_scenario_name(sr->scenario), name,
                 cf_check_status_name(status), c->detail);
}

void
cf_drill_phase(const struct cf_drill *d, const char *fmt, ...)
{
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    cf_log_info("drill: %s", what);
    if (d->o->on_phase != NULL)
        d->o->on_phase(d->o->arg, what);
}

static void
format_duration(double s, char *buf, size_t size)
{
    if (s >= 3600)
        (void)snprintf(buf, size, "%.1f h", s / 3600);
    else if (s >= 60)
        (void)snprintf(buf, size, "%.1f min", s / 60);
    else
        (void)snprintf(buf, size, "%.1f s", s);
}

void
cf_drill_check_targets(const struct cf_drill *d, struct cf_drill_scenario_result *sr,
                       bool check_rpo)
{
    enum cf_check_status missed = d->o->targets_warn ? CF_CHECK_WARN : CF_CHECK_FAIL;
    char got[32], want[32];

    format_duration(sr->rto_s, got, sizeof(got));
    format_duration((double)sr->rto_target, want, sizeof(want));
    cf_drill_check(sr, "rto", sr->rto_s <= (double)sr->rto_target ? CF_CHECK_PASS : missed,
                   "%s to restore (target %s); the whole instance at this rate: %.0f s", got,
                   want, sr->rto_extrapolated_s);
    if (!check_rpo)
        return;
    if (sr->rpo_s < 0) {
        cf_drill_check(sr, "rpo", CF_CHECK_SKIP, "no commit time to measure the data loss from");
        return;
    }
    format_duration(sr->rpo_s, got, sizeof(got));
    format_duration((double)sr->rpo_target, want, sizeof(want));
    cf_drill_check(sr, "rpo", sr->rpo_s <= (double)sr->rpo_target ? CF_CHECK_PASS : missed,
                   "%s of data would be lost (target %s)", got, want);
}

/* ---- choosing the backups ------------------------------------------------ */

/*
 * The newest complete logical and physical backups (or the one asked for).
 * A manifest this host cannot read is skipped with a warning: a drill says
 * what it could not drill, it does not stop there.
 */
static cf_err
choose_backups(struct cf_drill *d, struct cf_manifest **logical, struct cf_manifest **physical,
               struct cf_error *err)
{
    struct cf_backup_entry *v = NULL;
    struct cf_manifest *m = NULL;
    size_t n = 0;
    cf_err rc;

    *logical = *physical = NULL;
    if (d->o->backup_id != NULL) {
        if ((rc = cf_repo_read_manifest(d->o->repo, d->o->backup_id, &m, err)) != CF_OK)
            return rc;
        if (m->physical != NULL)
            *physical = m;
        else
            *logical = m;
        return CF_OK;
    }
    if ((rc = cf_repo_list_backups(d->o->repo, &v, &n, err)) != CF_OK)
        return rc;
    for (size_t i = n; i-- > 0 && (*logical == NULL || *physical == NULL);) {
        struct cf_error e = CF_ERROR_INIT;

        if (!v[i].has_manifest)
            continue;
        if (cf_repo_read_manifest(d->o->repo, v[i].id, &m, &e) != CF_OK) {
            cf_log_warning("drill: backup %s is not drilled: %s", v[i].id, e.msg);
            continue;
        }
        if (m->physical != NULL && *physical == NULL)
            *physical = m;
        else if (m->physical == NULL && *logical == NULL)
            *logical = m;
        else
            cf_manifest_free(m);
    }
    free(v);
    return CF_OK;
}

static void
skip(struct cf_drill *d, enum cf_drill_scenario s, const char *why)
{
    struct cf_drill_scenario_result *sr = &d->res->scenarios[s];

    if (!(d->o->scenarios & (1u << s)) || sr->ran)
        return;
    (void)snprintf(sr->skipped, sizeof(sr->skipped), "%s", why);
}

/* ---- records --------------------------------------------------------------- */

static json_t *
scenario_json(const struct cf_drill_scenario_result *sr)
{
    json_t *checks = json_array();

    for (size_t i = 0; i < sr->n_checks; i++)
        json_array_append_new(checks, json_pack("{s:s, s:s, s:s}", "name", sr->checks[i].name,
                                                "status",
                                                cf_check_status_name(sr->checks[i].status),
                                                "detail", sr->checks[i].detail));
    return json_pack("{s:s, s:s, s:b, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:f, s:I, s:I, s:f, "
                     "s:s, s:s, s:o}",
                     "scenario", cf_drill_scenario_name(sr->scenario), "backup", sr->backup_id,
                     "ok", sr->ok, "fetch_seconds", sr->fetch_s, "restore_seconds", sr->restore_s,
                     "index_seconds", sr->index_s, "recovery_seconds", sr->recovery_s,
                     "checks_seconds", sr->checks_s, "rto_seconds", sr->rto_s,
                     "rto_target_seconds", (json_int_t)sr->rto_target, "rpo_seconds",
                     sr->rpo_s, "rpo_target_seconds", (json_int_t)sr->rpo_target, "bytes",
                     (json_int_t)sr->bytes, "mb_per_second", sr->mb_per_s, "target_time",
                     sr->target_time, "reached", sr->reached, "checks", checks);
}

/* The scenario's evidence, stored with the backup it drilled and locked like it. */
static void
record(struct cf_drill *d, struct cf_drill_scenario_result *sr, const struct cf_manifest *m)
{
    struct cf_error e = CF_ERROR_INIT;
    char when[32], name[96];
    json_t *j = scenario_json(sr);
    char *text;

    cf_format_time(d->start, when, sizeof(when));
    if (j != NULL) {
        json_object_set_new(j, "version", json_integer(1));
        json_object_set_new(j, "time", json_string(when));
        json_object_set_new(j, "instance", json_string(d->o->instance));
        json_object_set_new(j, "coffre_version", json_string(d->o->version));
    }
    text = j != NULL ? json_dumps(j, JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (text == NULL ||
        cf_repo_put_record(d->o->repo, m->id, CF_DRILL_PREFIX, m->lock_until, text, name,
                           sizeof(name), &e) != CF_OK) {
        cf_drill_check(sr, "record", CF_CHECK_WARN, "the drill record could not be stored with "
                       "backup %s: %s", m->id, text == NULL ? "out of memory" : e.msg);
    } else {
        (void)cf_repo_key(d->o->repo, m->id, name, sr->record, sizeof(sr->record), &e);
    }
    free(text);
}

/* ---- set-up and clean-up ------------------------------------------------- */

static cf_err
load_sql(struct cf_drill *d, struct cf_error *err)
{
    const char *path = d->o->drill->check_sql;
    char *text = NULL;
    size_t len = 0;
    cf_err rc;

    if (path == NULL)
        return CF_OK;
    if ((rc = cf_read_file(path, "drill check file", (size_t)1024 * 1024, &text, &len, err)) !=
        CF_OK)
        return rc;
    rc = cf_drill_sql_parse(path, text, &d->sql, &d->n_sql, err);
    free(text);
    return rc;
}

static cf_err
make_workdir(struct cf_drill *d, struct cf_error *err)
{
    int state = cf_dir_state(d->o->workdir);

    if (state < 0 && errno == ENOTEMPTY) {
        cf_error_setf(err, CF_ERR_EXISTS, "drill directory \"%s\" is not empty", d->o->workdir);
        cf_error_hint(err, "It is left by a drill run with --keep, or by one killed: remove it "
                           "once nothing runs from it.");
        return CF_ERR_EXISTS;
    }
    if (state < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not use drill directory \"%s\"",
                                  d->o->workdir);
    if (cf_mkdir_p(d->o->workdir, 0700, err) != CF_OK)
        return err->code;
    d->made_workdir = state == 1;
    (void)snprintf(d->workdir, sizeof(d->workdir), "%s", d->o->workdir);
    return CF_OK;
}

/* Drop what the drill made on a staging server (best effort: it names them on failure). */
static void
drop_staging(struct cf_drill_server *s)
{
    PGconn *conn = NULL;
    struct cf_error e = CF_ERROR_INIT;

    if (s->n_created > 0 && cf_pg_connect(s->conninfo, "postgres", &conn, &e) == CF_OK) {
        for (size_t i = 0; i < s->n_created; i++) {
            char *q = PQescapeIdentifier(conn, s->created[i], strlen(s->created[i]));
            char sql[256];

            cf_error_clear(&e);
            (void)snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
                           q ? q : "\"\"");
            if (q == NULL || cf_pg_command(conn, sql, &e) != CF_OK)
                cf_log_warning("drill: could not drop database \"%s\" on the staging server: %s",
                               s->created[i], e.msg);
            PQfreemem(q);
        }
    } else if (s->n_created > 0) {
        cf_log_warning("drill: could not drop the drill's databases on the staging server: %s",
                       e.msg);
    }
    PQfinish(conn);
    for (size_t i = 0; i < s->n_created; i++)
        free(s->created[i]);
    free(s->created);
    s->created = NULL;
    s->n_created = 0;
}

static void
describe_kept(struct cf_drill *d)
{
    size_t len = 0;
    struct cf_cluster *all[3] = {d->logical.cluster, d->physical[0], d->physical[1]};

    for (size_t i = 0; i < 3; i++) {
        if (all[i] == NULL || !cf_cluster_is_running(all[i]))
            continue;
        len += (size_t)snprintf(d->res->kept + len, sizeof(d->res->kept) - len,
                                "%spsql \"%s\"", len ? "; " : "", cf_cluster_conninfo(all[i]));
        if (len >= sizeof(d->res->kept))
            break;
    }
}

static void
clean_up(struct cf_drill *d)
{
    if (d->o->keep)
        describe_kept(d);
    if (!d->o->keep && d->logical.cluster == NULL)
        drop_staging(&d->logical);
    cf_cluster_free(d->logical.cluster);
    cf_cluster_free(d->physical[0]);
    cf_cluster_free(d->physical[1]);
    d->logical.cluster = d->physical[0] = d->physical[1] = NULL;
    if (!d->o->keep && d->workdir[0] != '\0')
        cf_remove_tree(d->workdir, !d->made_workdir);
    cf_drill_sql_free(d->sql, d->n_sql);
}

/* ---- the drill -------------------------------------------------------------- */

static void
tally(struct cf_drill_result *res)
{
    res->n_checks = res->n_failed = res->n_warned = 0;
    for (size_t s = 0; s < CF_DRILL_SCENARIOS; s++) {
        const struct cf_drill_scenario_result *sr = &res->scenarios[s];

        for (size_t i = 0; i < sr->n_checks; i++) {
            res->n_checks++;
            res->n_failed += sr->checks[i].status == CF_CHECK_FAIL;
            res->n_warned += sr->checks[i].status == CF_CHECK_WARN;
        }
    }
}

static cf_err
run_scenarios(struct cf_drill *d, struct cf_error *err)
{
    struct cf_manifest *logical = NULL, *physical = NULL;
    unsigned want = d->o->scenarios;
    cf_err rc;

    if ((rc = choose_backups(d, &logical, &physical, err)) != CF_OK)
        return rc;
    if (logical == NULL) {
        const char *why = d->o->backup_id != NULL ? "the backup drilled is physical"
                                                  : "no complete logical backup";

        skip(d, CF_DRILL_SIMPLE, why);
        skip(d, CF_DRILL_PARTIAL, why);
    }
    if (physical == NULL) {
        const char *why = d->o->backup_id != NULL ? "the backup drilled is logical"
                                                  : "no complete physical backup";

        skip(d, CF_DRILL_TOTAL, why);
        skip(d, CF_DRILL_PITR, why);
    }
    if (logical != NULL && (want & ((1u << CF_DRILL_SIMPLE) | (1u << CF_DRILL_PARTIAL))))
        rc = cf_drill_logical(d, logical, want, err);
    if (rc == CF_OK && physical != NULL &&
        (want & ((1u << CF_DRILL_TOTAL) | (1u << CF_DRILL_PITR))))
        rc = cf_drill_physical(d, physical, want, err);
    for (size_t s = 0; s < CF_DRILL_SCENARIOS; s++) {
        struct cf_drill_scenario_result *sr = &d->res->scenarios[s];
        const struct cf_manifest *m = s <= CF_DRILL_PARTIAL ? logical : physical;

        if (sr->ran && m != NULL && !cf_cancel_requested())
            record(d, sr, m);
    }
    cf_manifest_free(logical);
    cf_manifest_free(physical);
    return rc;
}

cf_err
cf_drill_run(const struct cf_drill_opts *opts, struct cf_drill_result *res, struct cf_error *err)
{
    struct cf_drill d;
    int64_t timeout = opts->timeout > 0 ? opts->timeout : opts->drill->timeout;
    cf_err rc;

    memset(res, 0, sizeof(*res));
    if (geteuid() == 0) {
        cf_error_setf(err, CF_ERR_USAGE, "coffre drill must not run as root");
        cf_error_hint(err, "PostgreSQL refuses to run as root: run the drill as the user of the "
                           "coffre service or the PostgreSQL OS user (runuser -u postgres --).");
        return CF_ERR_USAGE;
    }
    memset(&d, 0, sizeof(d));
    d.o = opts;
    d.res = res;
    d.start = res->start = (int64_t)time(NULL);
    for (size_t s = 0; s < CF_DRILL_SCENARIOS; s++) {
        res->scenarios[s].scenario = (enum cf_drill_scenario)s;
        res->scenarios[s].rpo_s = -1;
    }
    if (timeout > 0)
        cf_cancel_alarm(timeout > INT64_C(86400) * 30 ? 86400U * 30 : (unsigned)timeout);
    if ((rc = load_sql(&d, err)) == CF_OK && (rc = make_workdir(&d, err)) == CF_OK)
        rc = run_scenarios(&d, err);
    cf_cancel_alarm(0);
    if (cf_cancel_requested()) {
        res->interrupted = true;
        res->timed_out = cf_cancel_timed_out();
        if (rc == CF_OK)
            rc = cf_cancel_check(err);
    }
    clean_up(&d);
    res->end = (int64_t)time(NULL);
    tally(res);
    if (rc != CF_OK)
        return rc;
    for (size_t s = 0; s < CF_DRILL_SCENARIOS; s++)
        if (res->scenarios[s].ran)
            goto ran;
    cf_error_setf(err, CF_ERR_NOT_FOUND, "nothing to drill in the repository of instance \"%s\"",
                  opts->instance);
    cf_error_hint(err, "Take a backup first (\"coffre backup\"); \"coffre list\" shows what the "
                       "repository holds.");
    return CF_ERR_NOT_FOUND;
ran:
    if (res->n_failed > 0) {
        cf_error_setf(err, CF_ERR_CHECK, "%zu of %zu drill checks failed", res->n_failed,
                      res->n_checks);
        cf_error_hint(err, "The report names each failed check; docs/drill.md says what to do "
                           "for each.");
        return CF_ERR_CHECK;
    }
    return CF_OK;
}

void
cf_drill_result_clear(struct cf_drill_result *res)
{
    for (size_t s = 0; s < CF_DRILL_SCENARIOS; s++)
        free(res->scenarios[s].checks);
    memset(res, 0, sizeof(*res));
}
