/*
 * drill_physical.c - the total and pitr scenarios (see drill.h): a physical
 * backup restored by the physical restore engine into the drill's work
 * directory (archive_mode off), started as a server coffre runs itself,
 * recovered through `coffre wal-get`, then checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fsutil.h"
#include "common/inject.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/walname.h"
#include "restore/drill_int.h"
#include "restore/physical_int.h"
#include "storage/walrepo.h"

/* The newest time at which the repository received WAL after the backup: 0 if none. */
static int64_t
newest_wal_time(const struct cf_drill *d)
{
    struct cf_wal_object *w = NULL;
    struct cf_error e = CF_ERROR_INIT;
    int64_t newest = 0;
    size_t n = 0;

    if (cf_wal_list(d->o->repo, &w, &n, &e) != CF_OK) {
        cf_log_warning("drill: could not list the WAL archive: %s", e.msg);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (w[i].file.type != CF_WAL_HISTORY && w[i].mtime > newest)
            newest = w[i].mtime;
    free(w);
    return newest;
}

/* "2026-11-22 04:50:00+00" */
static void
pg_time(int64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    (void)gmtime_r(&tt, &tm);
    (void)strftime(buf, size, "%Y-%m-%d %H:%M:%S+00", &tm);
}

struct phys_run {
    const struct cf_manifest *m;
    struct cf_drill_scenario_result *sr;
    struct cf_cluster *cluster;
    char dir[PATH_MAX];          /* <workdir>/<scenario> */
    char pgdata[PATH_MAX + 8];
    struct cf_recovery_state state;
    char default_db[64];         /* for the operator checks without a database */
};

/* Restore into <dir>/data, start, follow recovery: checks "restore" and "recovery". */
static cf_err
restore_and_start(struct cf_drill *d, struct phys_run *p, const char *target_time,
                  struct cf_error *err)
{
    struct cf_restore_physical_opts ro;
    struct cf_restore_physical_result rr;
    struct cf_cluster_opts co;
    struct cf_error e = CF_ERROR_INIT;
    char workdir[PATH_MAX + 8], (*maps)[2 * PATH_MAX + 32] = NULL;
    const char **map_ptrs = NULL;
    size_t n_maps = 0;
    double t0 = cf_drill_now();
    cf_err rc;

    (void)snprintf(p->pgdata, sizeof(p->pgdata), "%s/data", p->dir);
    (void)snprintf(workdir, sizeof(workdir), "%s/run", p->dir);
    if (cf_mkdir_p(p->dir, 0700, err) != CF_OK)
        return err->code;
    memset(&ro, 0, sizeof(ro));
    ro.repo = d->o->repo;
    ro.pg = d->o->pg;
    ro.config_path = d->o->config_path;
    ro.id = p->m->id;
    ro.pgdata = p->pgdata;
    ro.time = target_time;
    ro.no_archive = true; /* a drill's server must never archive into the repository */
    ro.runs_here = true;  /* started below, stopped before the drill ends */
    /* every tablespace into the drill's directory: never into the source's locations */
    if (p->m->physical != NULL && p->m->physical->n_tablespaces > 0) {
        maps = calloc(p->m->physical->n_tablespaces, sizeof(*maps));
        map_ptrs = calloc(p->m->physical->n_tablespaces, sizeof(*map_ptrs));
        if (maps == NULL || map_ptrs == NULL) {
            free(maps);
            free(map_ptrs);
            return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < p->m->physical->n_tablespaces; i++) {
            const struct cf_manifest_tablespace *t = &p->m->physical->tablespaces[i];

            if (t->oid == 0 || t->location == NULL)
                continue;
            (void)snprintf(maps[n_maps], sizeof(maps[n_maps]), "%s=%s/tablespace-%u",
                           t->location, p->dir, t->oid);
            map_ptrs[n_maps] = maps[n_maps];
            n_maps++;
        }
        ro.maps = map_ptrs;
        ro.n_maps = n_maps;
    }
    cf_drill_phase(d, "%s: restore backup %s%s%s", cf_drill_scenario_name(p->sr->scenario),
                   p->m->id, target_time ? " to " : "", target_time ? target_time : "");
    rc = cf_restore_physical_run(&ro, &rr, &e);
    free(maps);
    free(map_ptrs);
    if (rc != CF_OK) {
        cf_drill_check(p->sr, "restore", CF_CHECK_FAIL, "%s%s%s", e.msg,
                       e.detail[0] ? " -- " : "", e.detail);
        *err = e;
        /* as in drill_logical.c: a signal or a key problem stops the drill, no verdict */
        return e.code == CF_ERR_CANCELLED || e.code == CF_ERR_KEY ? e.code : CF_ERR_CHECK;
    }
    p->sr->restore_s = cf_drill_now() - t0;
    p->sr->bytes = 0;
    for (size_t i = 0; i < p->m->n_objects; i++)
        p->sr->bytes += p->m->objects[i].plain;
    cf_drill_check(p->sr, "restore", CF_CHECK_PASS, "%llu bytes restored and matched to the "
                   "server's backup_manifest (pg_verifybackup) in %.1f s",
                   (unsigned long long)p->sr->bytes, p->sr->restore_s);
    memset(&co, 0, sizeof(co));
    co.bindir = d->o->pg->bindir;
    co.pg_version_num = p->m->pg_version_num;
    co.workdir = workdir;
    co.pgdata = p->pgdata;
    co.label = "drill server";
    co.keep = d->o->keep;
    t0 = cf_drill_now();
    cf_drill_phase(d, "%s: start the restored server and follow recovery",
                   cf_drill_scenario_name(p->sr->scenario));
    rc = cf_cluster_new(&co, &p->cluster, &e);
    if (rc == CF_OK && (rc = cf_cluster_start(p->cluster, &e)) == CF_OK) {
        CF_INJECT("drill-server-started"); /* the restored server running, in recovery */
        rc = cf_cluster_wait_recovery(p->cluster, 0, &p->state, &e);
    }
    if (rc != CF_OK) {
        p->sr->recovery_s = cf_drill_now() - t0;
        cf_drill_check(p->sr, "recovery", CF_CHECK_FAIL, "%s%s%s", e.msg,
                       e.detail[0] ? " -- " : "", e.detail);
        *err = e;
        return e.code == CF_ERR_CANCELLED ? CF_ERR_CANCELLED : CF_ERR_CHECK;
    }
    p->sr->recovery_s = cf_drill_now() - t0;
    (void)snprintf(p->sr->reached, sizeof(p->sr->reached), "%s", p->state.last_commit_text);
    cf_drill_check(p->sr, "recovery", CF_CHECK_PASS, "replayed up to LSN %s in %.1f s; last "
                   "transaction committed at %s; timeline %u",
                   p->state.replay_lsn[0] ? p->state.replay_lsn : "-", p->sr->recovery_s,
                   p->state.last_commit_text[0] ? p->state.last_commit_text : "-",
                   p->state.timeline);
    return CF_OK;
}

struct db_map {
    const struct cf_drill *d;
    const struct phys_run *p;
};

static char *
db_conninfo(void *arg, const char *database)
{
    const struct db_map *map = arg;
    char *out = NULL;
    struct cf_error e = CF_ERROR_INIT;

    (void)map->d;
    (void)cf_pg_conninfo_with_db(cf_cluster_conninfo(map->p->cluster),
                                 database[0] ? database : map->p->default_db, &out, &e);
    return out;
}

/* amcheck and valid indexes of every database, then the operator's checks. */
static void
check_server(struct cf_drill *d, struct phys_run *p)
{
    PGconn *conn = NULL;
    PGresult *res = NULL;
    struct cf_error e = CF_ERROR_INIT;
    struct db_map map = {d, p};
    double t0 = cf_drill_now();

    cf_drill_phase(d, "%s: check the restored databases", cf_drill_scenario_name(p->sr->scenario));
    cf_drill_check(p->sr, "timeline",
                   p->state.timeline >= (p->m->physical ? p->m->physical->stop_timeline : 0)
                       ? CF_CHECK_PASS
                       : CF_CHECK_FAIL,
                   "timeline %u after recovery (the backup ended on timeline %u)",
                   p->state.timeline, p->m->physical ? p->m->physical->stop_timeline : 0);
    (void)snprintf(p->default_db, sizeof(p->default_db), "postgres");
    if (cf_cluster_connect(p->cluster, "postgres", &conn, &e) != CF_OK ||
        cf_pg_exec(conn, "SELECT datname FROM pg_database WHERE datallowconn "
                         "AND NOT datistemplate ORDER BY datname = 'postgres', datname",
                   0, NULL, &res, &e) != CF_OK) {
        cf_drill_check(p->sr, "connect", CF_CHECK_FAIL, "%s", e.msg);
    } else {
        if (PQntuples(res) > 0)
            (void)snprintf(p->default_db, sizeof(p->default_db), "%s", PQgetvalue(res, 0, 0));
        for (int i = 0; i < PQntuples(res); i++) {
            const char *db = PQgetvalue(res, i, 0);
            char *conninfo = db_conninfo(&map, db);
            PGconn *dbconn = NULL;

            cf_error_clear(&e);
            if (conninfo != NULL && cf_pg_connect(conninfo, NULL, &dbconn, &e) == CF_OK)
                cf_drill_check_indexes(p->sr, dbconn, db);
            PQfinish(dbconn);
            if (conninfo != NULL)
                cf_drill_check_amcheck(d, p->sr, conninfo, db, p->m->pg_version_num);
            free(conninfo);
        }
    }
    PQclear(res);
    PQfinish(conn);
    cf_drill_check_sql(d, p->sr, db_conninfo, &map);
    p->sr->checks_s += cf_drill_now() - t0;
}

/* The server's own word that recovery stopped at the target, from its log. */
static void
check_stopped_at_target(struct phys_run *p, int64_t target)
{
    char *log = NULL, line[512] = "";
    size_t len = 0;
    struct cf_error e = CF_ERROR_INIT;
    const char *at = NULL, *s;

    if (cf_read_file(cf_cluster_log(p->cluster), "server log", (size_t)256 * 1024 * 1024, &log,
                     &len, &e) == CF_OK)
        for (s = log; (s = strstr(s, "recovery stopping before")) != NULL; s++)
            at = s;
    if (at != NULL)
        (void)snprintf(line, sizeof(line), "%.*s", (int)strcspn(at, "\n"), at);
    free(log);
    if (at == NULL)
        cf_drill_check(p->sr, "target", CF_CHECK_FAIL, "the server log does not say that "
                       "recovery stopped at the target%s%s", e.code ? ": " : "", e.msg);
    else if (p->state.last_commit_time > target)
        cf_drill_check(p->sr, "target", CF_CHECK_FAIL, "the last replayed commit (%s) is after "
                       "the target", p->state.last_commit_text);
    else
        cf_drill_check(p->sr, "target", CF_CHECK_PASS, "%s; last replayed commit %s",
                       line, p->state.last_commit_text[0] ? p->state.last_commit_text : "-");
}

static void
finish(struct cf_drill *d, struct phys_run *p, int64_t rto_target, bool check_rpo)
{
    struct cf_drill_scenario_result *sr = p->sr;

    sr->rto_s = sr->restore_s + sr->recovery_s;
    sr->rto_target = rto_target;
    sr->rpo_target = d->o->drill->rpo;
    if (check_rpo && p->state.last_commit_time > 0)
        sr->rpo_s = (double)(d->start - p->state.last_commit_time);
    if (sr->rto_s > 0 && sr->bytes > 0) {
        sr->mb_per_s = (double)sr->bytes / 1e6 / sr->rto_s;
        sr->rto_extrapolated_s = sr->rto_s; /* a physical backup is the whole instance */
    }
    cf_drill_check_targets(d, sr, check_rpo);
}

/* Stop what a scenario started and free its disk, unless keep. */
static void
release(struct cf_drill *d, struct phys_run *p, int slot)
{
    if (d->o->keep) {
        d->physical[slot] = p->cluster;
        return;
    }
    cf_cluster_free(p->cluster);
    p->cluster = NULL;
    cf_remove_tree(p->dir, false);
}

static cf_err
scenario(struct cf_drill *d, const struct cf_manifest *m, enum cf_drill_scenario s,
         int64_t target, struct cf_recovery_state *state, struct cf_error *err)
{
    struct phys_run p;
    char when[48] = "";
    cf_err rc;

    memset(&p, 0, sizeof(p));
    p.m = m;
    p.sr = &d->res->scenarios[s];
    p.sr->ran = p.sr->ok = true;
    (void)snprintf(p.sr->backup_id, sizeof(p.sr->backup_id), "%s", m->id);
    (void)snprintf(p.sr->kind, sizeof(p.sr->kind), "physical");
    if (snprintf(p.dir, sizeof(p.dir), "%s/%s", d->workdir, cf_drill_scenario_name(s)) >=
        (int)sizeof(p.dir))
        return cf_error_set(err, CF_ERR_USAGE, "drill directory \"%s\" is too long", d->workdir);
    CF_INJECT("drill-scenario-start"); /* the scenario started, nothing fetched */
    if (target > 0) {
        pg_time(target, when, sizeof(when));
        (void)snprintf(p.sr->target_time, sizeof(p.sr->target_time), "%s", when);
    }
    rc = restore_and_start(d, &p, target > 0 ? when : NULL, err);
    if (rc == CF_OK) {
        if (target > 0)
            check_stopped_at_target(&p, target);
        check_server(d, &p);
        if (state != NULL)
            *state = p.state;
    }
    if (rc != CF_ERR_CANCELLED && rc != CF_ERR_KEY)
        finish(d, &p, s == CF_DRILL_TOTAL ? d->o->drill->rto_total : d->o->drill->rto_pitr,
               s == CF_DRILL_TOTAL);
    release(d, &p, s == CF_DRILL_TOTAL ? 0 : 1);
    if (rc == CF_ERR_CHECK)
        cf_error_clear(err); /* a failed check, reported as such */
    return rc == CF_ERR_CHECK ? CF_OK : rc;
}

cf_err
cf_drill_physical(struct cf_drill *d, const struct cf_manifest *m, unsigned scenarios,
                  struct cf_error *err)
{
    struct cf_recovery_state total;
    int64_t target = 0, newest = 0;
    cf_err rc;

    memset(&total, 0, sizeof(total));
    if ((scenarios & (1u << CF_DRILL_TOTAL)) &&
        (rc = scenario(d, m, CF_DRILL_TOTAL, 0, &total, err)) != CF_OK)
        return rc;
    if (!(scenarios & (1u << CF_DRILL_PITR)))
        return CF_OK;
    if (d->o->pitr_time != NULL) {
        if (cf_phys_parse_time(d->o->pitr_time, &target) != 0) {
            cf_error_setf(err, CF_ERR_USAGE, "invalid --time \"%s\"", d->o->pitr_time);
            cf_error_hint(err, "Use \"YYYY-MM-DD HH:MM:SS+HH[:MM]\" (or Z): the time zone is "
                               "required.");
            return CF_ERR_USAGE;
        }
    } else {
        /* the midpoint between the backup's end and the last commit the archive holds (what
         * total replayed), so that a commit after the target proves where recovery stopped */
        newest = total.last_commit_time > 0 ? total.last_commit_time : newest_wal_time(d);
        if (newest <= m->stop_time) {
            (void)snprintf(d->res->scenarios[CF_DRILL_PITR].skipped,
                           sizeof(d->res->scenarios[CF_DRILL_PITR].skipped),
                           "no transaction committed after backup %s ended: no point in time "
                           "to recover to", m->id);
            return CF_OK;
        }
        target = m->stop_time + (newest - m->stop_time) / 2;
    }
    return scenario(d, m, CF_DRILL_PITR, target, NULL, err);
}
