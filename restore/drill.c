/*
 * drill.c - the drill engine (see drill.h): which backups, the time limit,
 * the work directory, the records, the clean-up.
 */
#include "restore/drill.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
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
#include "common/inject.h"
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

/*
 * A drill run with --keep marks its directory: the next drills leave it to
 * the operator.  A directory without the mark, whose drill process is gone,
 * is the leftover of a drill that was killed (kill -9, OOM, power).
 */
#define KEPT_MARK "coffre-drill-kept"

/* The pid in a drill directory's name, "<time>-<pid>"; 0 if it has none. */
static pid_t
dir_pid(const char *name)
{
    const char *dash = strrchr(name, '-');
    char *end;
    long v;

    if (dash == NULL || dash[1] == '\0')
        return 0;
    errno = 0;
    v = strtol(dash + 1, &end, 10);
    return *end == '\0' && errno == 0 && v > 0 && v <= INT_MAX ? (pid_t)v : 0;
}

/* Whether pid is a live process whose working directory is real (a postmaster's is
 * its data directory; a zombie has none). */
static bool
runs_in(long pid, const char *real)
{
    char link[64], cwd[PATH_MAX];
    ssize_t n;

    (void)snprintf(link, sizeof(link), "/proc/%ld/cwd", pid);
    if ((n = readlink(link, cwd, sizeof(cwd) - 1)) < 0)
        return false;
    cwd[n] = '\0';
    return strcmp(cwd, real) == 0;
}

/* Stop the postmaster running from data, if one does; its pid, else 0. */
static long
stop_leftover_server(const char *data)
{
    char path[PATH_MAX + 600], real[PATH_MAX], line[32] = "";
    FILE *f;
    char *end;
    long pid;

    (void)snprintf(path, sizeof(path), "%s/postmaster.pid", data);
    if ((f = fopen(path, "re")) == NULL)
        return 0;
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    (void)fclose(f);
    pid = strtol(line, &end, 10); /* its first line: the postmaster's pid */
    if (end == line || (*end != '\n' && *end != '\0'))
        return 0;
    /* a stale pid may be anyone's now: only the postmaster of this directory */
    if (pid <= 0 || pid > INT_MAX || realpath(data, real) == NULL || !runs_in(pid, real))
        return 0;
    (void)kill((pid_t)pid, SIGQUIT); /* immediate shutdown: scratch data, nothing to keep */
    for (int i = 0; i < 100 && runs_in(pid, real); i++)
        (void)usleep(100000);
    if (runs_in(pid, real))
        (void)kill((pid_t)pid, SIGKILL);
    return pid;
}

/*
 * A drill killed before its clean-up leaves its directory and its scratch
 * servers running, which nothing else would ever stop (test_48 found them
 * piling up, one per killed drill).  Stop and remove each such leftover in
 * the parent of this drill's directory, and say so.
 */
static void
clean_leftovers(const struct cf_drill *d)
{
    const char *slash = strrchr(d->o->workdir, '/');
    char parent[PATH_MAX];
    DIR *dir;
    struct dirent *de;

    if (slash == NULL || (size_t)(slash - d->o->workdir) >= sizeof(parent))
        return;
    (void)snprintf(parent, sizeof(parent), "%.*s", (int)(slash - d->o->workdir), d->o->workdir);
    /* only coffre's own <state_dir>/drill: never a directory shared with anything else */
    if (strlen(parent) < 6 || strcmp(parent + strlen(parent) - 6, "/drill") != 0)
        return;
    if ((dir = opendir(parent)) == NULL)
        return;
    while ((de = readdir(dir)) != NULL) {
        char path[PATH_MAX + 260], sub[PATH_MAX + 540], stopped[160] = "";
        pid_t owner = dir_pid(de->d_name);
        size_t len = 0;
        DIR *inner;
        struct dirent *se;

        if (de->d_name[0] == '.' || owner == 0 || owner == getpid())
            continue;
        /* a drill still running, or a process this user may not even signal: not ours */
        if (kill(owner, 0) == 0 || errno != ESRCH)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", parent, de->d_name) >= (int)sizeof(path))
            continue;
        (void)snprintf(sub, sizeof(sub), "%s/%s", path, KEPT_MARK);
        if (access(sub, F_OK) == 0 || (inner = opendir(path)) == NULL)
            continue;
        while ((se = readdir(inner)) != NULL) {
            long pm;

            if (se->d_name[0] == '.')
                continue;
            (void)snprintf(sub, sizeof(sub), "%s/%s/data", path, se->d_name);
            if ((pm = stop_leftover_server(sub)) > 0 && len < sizeof(stopped))
                len += (size_t)snprintf(stopped + len, sizeof(stopped) - len, "%s%ld",
                                        len ? ", " : "", pm);
        }
        (void)closedir(inner);
        cf_remove_tree(path, false);
        cf_log_warning("drill: removed \"%s\", left by drill process %ld that did not end%s%s",
                       path, (long)owner, stopped[0] ? "; stopped its scratch server, pid " : "",
                       stopped);
    }
    (void)closedir(dir);
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
    if (d->o->keep) {
        char mark[PATH_MAX + 32];
        FILE *f;

        (void)snprintf(mark, sizeof(mark), "%s/%s", d->workdir, KEPT_MARK);
        if ((f = fopen(mark, "we")) != NULL)
            (void)fclose(f);
    }
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
    size_t cut = CF_DRILL_SCENARIOS;
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
    if (rc == CF_OK)
        CF_INJECT("drill-before-records"); /* every check done, no record stored */
    /* scenarios run in order: after an error, the last that ran is the one it cut short,
     * which did not run to the end and gets no record */
    for (size_t s = 0; rc != CF_OK && s < CF_DRILL_SCENARIOS; s++)
        if (d->res->scenarios[s].ran)
            cut = s;
    for (size_t s = 0; s < CF_DRILL_SCENARIOS; s++) {
        struct cf_drill_scenario_result *sr = &d->res->scenarios[s];
        const struct cf_manifest *m = s <= CF_DRILL_PARTIAL ? logical : physical;

        if (sr->ran && m != NULL && s != cut && !cf_cancel_requested())
            record(d, sr, m);
    }
    if (rc == CF_OK)
        CF_INJECT("drill-after-records"); /* records stored, scratch servers still running */
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
    clean_leftovers(&d);
    if ((rc = load_sql(&d, err)) == CF_OK && (rc = make_workdir(&d, err)) == CF_OK)
        rc = run_scenarios(&d, err);
    cf_cancel_alarm(0);
    if (cf_cancel_requested()) {
        res->interrupted = true;
        res->timed_out = cf_cancel_timed_out();
        if (rc == CF_OK)
            rc = cf_cancel_check(err);
        /*
         * A scenario stopped before its record was stored did not run to the
         * end: it must not read as passed in the report, the JSON, the JUnit
         * file or the metrics.  test_48 found a drill stopped after its last
         * check writing a JUnit file with every check passed and no failure.
         */
        for (size_t s = 0; s < CF_DRILL_SCENARIOS; s++)
            if (res->scenarios[s].ran && res->scenarios[s].record[0] == '\0')
                cf_drill_check(&res->scenarios[s], "interrupted", CF_CHECK_FAIL,
                               "the drill was %s before this scenario's record was stored: "
                               "it proves nothing",
                               res->timed_out ? "stopped by its time limit"
                                              : "interrupted by a signal");
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
