/*
 * physical.c - `coffre backup --physical` (see physical.h).
 *
 * One replication connection runs BASE_BACKUP (PostgreSQL 15 syntax, TARGET
 * 'client').  The server answers with the start position, the tablespace
 * list, then a single COPY OUT whose CopyData messages carry a type byte:
 *   'n' name\0 path\0   a new archive begins (base.tar, <oid>.tar)
 *   'd' bytes           data of the current archive (or of the manifest)
 *   'p' int64           progress (ignored: the pump shows bytes)
 *   'm'                 the backup_manifest follows
 * and finally the stop position.  basebackup_proto.c reads that framing;
 * each archive flows through the standard backup chain into the repository
 * without touching local disk.
 *
 * WAIT false: the server does not wait for archiving (it would wait
 * forever); we wait, bounded by [wal] archive_timeout, for every segment
 * from wal_start to wal_stop to reach the repository, and only then write
 * the manifest.
 */
#include "agent/physical.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "agent/backup.h"
#include "agent/basebackup_proto.h"
#include "common/cancel.h"
#include "common/inject.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/walname.h"
#include "storage/walrepo.h"

struct run {
    const struct cf_backup_physical_opts *o;
    struct cf_repo repo;          /* a copy: carries this backup's lock date */
    struct cf_manifest m;
    struct cf_manifest_physical ph; /* hangs off m.physical while the manifest is written */
    char id[CF_OBJECT_ID_MAX + 1];
    uint64_t start_lsn, stop_lsn;
};

/* Store an archive (or the manifest) as object name. */
static cf_err
store_one(struct run *r, struct cf_source *src, const char *name, enum cf_object_kind kind,
          struct cf_error *err)
{
    struct cf_manifest_object o;
    struct cf_backup_sizes sizes;

    if (cf_repo_put(&r->repo, r->id, name, kind, src, &sizes, err) != CF_OK)
        return err->code;
    memset(&o, 0, sizeof(o));
    o.name = strdup(name);
    o.kind = kind;
    o.plain = sizes.plain;
    o.compressed = sizes.compressed;
    o.stored = sizes.stored;
    cf_hex_encode(sizes.sha256, CF_SHA256_BYTES, o.sha256);
    if (o.name == NULL) {
        cf_manifest_object_clear(&o);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    cf_log_info("%s: %llu bytes, %llu stored", name, (unsigned long long)o.plain,
                (unsigned long long)o.stored);
    return cf_manifest_add(&r->m, &o, err);
}

static cf_err
add_tablespace(struct run *r, uint32_t oid, const char *location, const char *object,
               struct cf_error *err)
{
    struct cf_manifest_tablespace *v;
    char *loc = oid != 0 ? strdup(location) : NULL, *obj = strdup(object);

    v = realloc(r->ph.tablespaces, (r->ph.n_tablespaces + 1) * sizeof(*v));
    if (v != NULL)
        r->ph.tablespaces = v;
    if (v == NULL || obj == NULL || (oid != 0 && loc == NULL)) {
        free(loc);
        free(obj);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    v[r->ph.n_tablespaces].oid = oid;
    v[r->ph.n_tablespaces].location = loc;
    v[r->ph.n_tablespaces].object = obj;
    r->ph.n_tablespaces++;
    return CF_OK;
}

/* BASE_BACKUP's messages from the replication connection. */
struct pq_msgs {
    struct cf_bb_msgs base;
    PGconn *conn;
    char *buf; /* the last message (PQfreemem), freed by the next call */
};

static cf_err
pq_next(struct cf_bb_msgs *m, const char **msg, int *len, struct cf_error *err)
{
    struct pq_msgs *q = (struct pq_msgs *)m;
    int n;

    if (q->buf != NULL)
        PQfreemem(q->buf);
    q->buf = NULL;
    *msg = NULL;
    *len = 0;
    n = PQgetCopyData(q->conn, &q->buf, 0);
    if (n == -1)
        return CF_OK;
    if (n < 1) {
        cf_error_setf(err, CF_ERR_PG, "base backup stream failed");
        cf_pg_error_detail(q->conn, NULL, err);
        return CF_ERR_PG;
    }
    *msg = q->buf;
    *len = n;
    return CF_OK;
}

static cf_err
on_archive(void *ctx, const char *name, uint32_t oid, const char *location, struct cf_source *data,
           struct cf_error *err)
{
    struct run *r = ctx;

    if (add_tablespace(r, oid, location, name, err) != CF_OK)
        return err->code;
    return store_one(r, data, name, CF_OBJ_BASE_TAR, err);
}

static cf_err
on_manifest(void *ctx, struct cf_source *data, struct cf_error *err)
{
    struct run *r = ctx;

    if (store_one(r, data, "backup_manifest", CF_OBJ_PG_MANIFEST, err) != CF_OK)
        return err->code;
    if ((r->ph.pg_manifest = strdup("backup_manifest")) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    return CF_OK;
}

/* Every archive and the manifest, until the server ends the COPY. */
static cf_err
receive_stream(struct run *r, PGconn *conn, struct cf_error *err)
{
    struct pq_msgs msgs = {{pq_next}, conn, NULL};
    const struct cf_bb_handler h = {on_archive, on_manifest, r};
    cf_err rc = cf_bb_receive(&msgs.base, &h, err);

    if (msgs.buf != NULL)
        PQfreemem(msgs.buf);
    return rc;
}

/* A one-row (recptr, tli) result: start or stop position. */
static cf_err
read_position(PGresult *res, const char *what, uint64_t *lsn, uint32_t *tli, char **text,
              struct cf_error *err)
{
    long long t = 0;
    char *end = NULL;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) >= 2)
        t = strtoll(PQgetvalue(res, 0, 1), &end, 10);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 2 ||
        !cf_lsn_parse(PQgetvalue(res, 0, 0), lsn) || end == NULL || *end != '\0' || t < 1 ||
        t > 0xFFFFFFFFll) {
        cf_error_setf(err, CF_ERR_PG, "base backup failed: could not read its %s position", what);
        cf_error_detail(err, "%.400s", PQresultErrorMessage(res));
        return CF_ERR_PG;
    }
    *tli = (uint32_t)t;
    if ((*text = strdup(PQgetvalue(res, 0, 0))) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    return CF_OK;
}

/* Facts from a normal connection: version, standby or not, segment size. */
static cf_err
inspect_server(struct run *r, struct cf_error *err)
{
    PGconn *conn = NULL;
    PGresult *res = NULL;
    cf_err rc;

    if ((rc = cf_pg_connect(r->o->pg->conninfo, NULL, &conn, err)) != CF_OK)
        return rc;
    rc = cf_pg_exec(conn, "SELECT pg_is_in_recovery(), setting::bigint, "
                          "current_setting('archive_mode') FROM pg_settings "
                          "WHERE name = 'wal_segment_size'", 0, NULL, &res, err);
    if (rc == CF_OK && PQntuples(res) == 1) {
        r->m.pg_version_num = PQserverVersion(conn);
        r->m.pg_version = strdup(PQparameterStatus(conn, "server_version"));
        r->ph.from_standby = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        r->ph.wal_segment_size = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
        /* wal-stream may be what brings the WAL: only a warning */
        if (!r->ph.from_standby && strcmp(PQgetvalue(res, 0, 2), "off") == 0)
            cf_log_warning("archive_mode is off: unless coffre wal-stream runs, the WAL this "
                           "backup needs never reaches the repository");
        if (!cf_wal_segment_size_valid(r->ph.wal_segment_size))
            rc = cf_error_set(err, CF_ERR_PG, "unexpected wal_segment_size %s",
                              PQgetvalue(res, 0, 1));
        else if (r->m.pg_version_num < 150000)
            rc = cf_error_set(err, CF_ERR_PG, "backup --physical needs PostgreSQL 15 or later "
                              "(the server runs %s)", r->m.pg_version);
    } else if (rc == CF_OK) {
        rc = cf_error_set(err, CF_ERR_PG, "could not read wal_segment_size");
    }
    PQclear(res);
    PQfinish(conn);
    return rc;
}

static cf_err
run_base_backup(struct run *r, struct cf_error *err)
{
    PGconn *conn = NULL;
    PGresult *res = NULL;
    char sql[256];
    cf_err rc;
    int step = 0;

    if ((rc = cf_pg_connect_replication(r->o->pg->conninfo, NULL, &conn, err)) != CF_OK)
        return rc;
    if ((rc = cf_pg_replication_command(conn, "IDENTIFY_SYSTEM", PGRES_TUPLES_OK, &res,
                                        err)) != CF_OK)
        goto out;
    if (PQntuples(res) != 1 || PQnfields(res) < 2) {
        rc = cf_error_set(err, CF_ERR_PG, "replication command IDENTIFY_SYSTEM failed");
        cf_error_detail(err, "The server answered %d rows of %d columns.", PQntuples(res),
                        PQnfields(res));
        goto out;
    }
    r->ph.system_identifier = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    cf_log_info("base backup %s of system %s (timeline %s)%s", r->id, PQgetvalue(res, 0, 0),
                PQgetvalue(res, 0, 1), r->ph.from_standby ? " from a standby" : "");
    PQclear(res);
    res = NULL;
    (void)snprintf(sql, sizeof(sql),
                   "BASE_BACKUP (LABEL 'coffre %s', PROGRESS, CHECKPOINT 'fast', WAIT false, "
                   "MANIFEST 'yes', MANIFEST_CHECKSUMS 'CRC32C', TARGET 'client')", r->id);
    if (!PQsendQuery(conn, sql)) {
        rc = cf_error_set(err, CF_ERR_PG, "could not send BASE_BACKUP");
        cf_pg_error_detail(conn, NULL, err);
        goto out;
    }
    /* start position, tablespaces, then the COPY */
    for (step = 0; rc == CF_OK && step < 3; step++) {
        uint32_t tli;

        res = PQgetResult(conn);
        if (step == 0)
            rc = read_position(res, "start", &r->start_lsn, &tli, &r->ph.start_lsn, err);
        if (step == 0 && rc == CF_OK)
            r->ph.start_timeline = tli;
        if ((step == 1 && PQresultStatus(res) != PGRES_TUPLES_OK) ||
            (step == 2 && PQresultStatus(res) != PGRES_COPY_OUT)) {
            cf_error_setf(err, CF_ERR_PG, "base backup failed");
            cf_pg_error_detail(conn, NULL, err);
            rc = CF_ERR_PG;
        }
        PQclear(res);
        res = NULL;
    }
    if (rc == CF_OK) {
        CF_INJECT("backup-start"); /* BASE_BACKUP started, nothing stored */
        rc = receive_stream(r, conn, err);
    }
    /* then the stop position and the end of the command */
    while (rc == CF_OK && (res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) == PGRES_TUPLES_OK && r->ph.stop_lsn == NULL)
            rc = read_position(res, "stop", &r->stop_lsn, &r->ph.stop_timeline,
                               &r->ph.stop_lsn, err);
        else if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            cf_error_setf(err, CF_ERR_PG, "base backup failed");
            cf_pg_error_detail(conn, NULL, err);
            rc = CF_ERR_PG;
        }
        PQclear(res);
        res = NULL;
    }
    if (rc == CF_OK && r->ph.stop_lsn == NULL)
        rc = cf_error_set(err, CF_ERR_PG, "base backup failed: the server sent no stop position");
out:
    PQclear(res);
    PQfinish(conn);
    return rc;
}

/* Wait until every segment wal_start..wal_stop is in the repository. */
static cf_err
wait_for_wal(struct run *r, struct cf_error *err)
{
    uint64_t seg = r->ph.wal_segment_size;
    uint64_t first = r->start_lsn / seg, last = (r->stop_lsn - 1) / seg, k = first;
    time_t deadline = time(NULL) + (time_t)r->o->archive_timeout;
    char name[32];

    if (r->ph.start_timeline != r->ph.stop_timeline)
        return cf_error_set(err, CF_ERR_PG, "the timeline changed during base backup %s "
                            "(%u to %u)", r->id, r->ph.start_timeline, r->ph.stop_timeline);
    cf_wal_segno_name(r->ph.start_timeline, first, seg, name, sizeof(name));
    r->ph.wal_start = strdup(name);
    cf_wal_segno_name(r->ph.stop_timeline, last, seg, name, sizeof(name));
    r->ph.wal_stop = strdup(name);
    if (r->ph.wal_start == NULL || r->ph.wal_stop == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    cf_log_info("waiting for WAL %s to %s to reach the repository", r->ph.wal_start,
                r->ph.wal_stop);
    while (k <= last) {
        struct cf_wal_object *v = NULL;
        size_t n = 0;

        cf_wal_segno_name(r->ph.start_timeline, k, seg, name, sizeof(name));
        if (cf_wal_find(&r->repo, name, false, &v, &n, err) != CF_OK)
            return err->code;
        free(v);
        if (n > 0) {
            k++;
            continue;
        }
        if (time(NULL) >= deadline) {
            cf_error_setf(err, CF_ERR_NOT_FOUND, "WAL segment %s needed by base backup %s did "
                          "not reach the repository within %lld s", name, r->id,
                          (long long)r->o->archive_timeout);
            cf_error_detail(err, "The backup needs WAL %s to %s to be consistent.",
                            r->ph.wal_start, r->ph.wal_stop);
            cf_error_hint(err, "WAL archiving is not working: check archive_command (coffre "
                               "wal-push) or the coffre wal-stream service, and the server log.");
            return CF_ERR_NOT_FOUND;
        }
        if (cf_cancel_check(err) != CF_OK)
            return err->code;
        (void)usleep(500 * 1000);
    }
    return CF_OK;
}

cf_err
cf_backup_physical_run(const struct cf_backup_physical_opts *opts, struct cf_backup_result *res,
                       struct cf_error *err)
{
    struct run r;
    char host[256] = "";
    cf_err rc;

    memset(res, 0, sizeof(*res));
    if (opts->formula == CF_FORMULA_MANAGED) {
        cf_error_setf(err, CF_ERR_USAGE, "physical backups need the onprem formula");
        cf_error_hint(err, "The managed formula has no replication rights: use \"coffre "
                           "backup\" (logical).");
        return CF_ERR_USAGE;
    }
    memset(&r, 0, sizeof(r));
    r.o = opts;
    r.repo = *opts->repo;
    /* [compression] workers = auto: the server's side of a base backup only reads
     * files (pg_basebackup alone: 1.7 s for 1 GiB), so compression sets the pace;
     * one zstd thread overlaps it with hashing, encryption and writing (issue 13:
     * 6.8 s -> 5.1 s for 1 GiB, bench/README.md) */
    if (r.repo.comp.workers_auto && sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        r.repo.comp.workers = 1;
        cf_log_debug("compressing with one zstd worker thread ([compression] workers = auto)");
    }
    r.m.start_time = (int64_t)time(NULL);
    (void)gethostname(host, sizeof(host) - 1);
    if ((rc = cf_backup_choose_id(opts->retention, &r.repo, &r.m, r.id, err)) != CF_OK ||
        (rc = inspect_server(&r, err)) != CF_OK)
        goto out;
    r.m.id = strdup(r.id);
    r.m.instance = strdup(opts->instance);
    r.m.kind = strdup("physical");
    r.m.formula = strdup("onprem");
    r.m.hostname = strdup(host);
    r.m.coffre_version = strdup(opts->version);
    rc = run_base_backup(&r, err);
    if (rc == CF_OK) {
        cf_log_info("base backup %s: start %s, stop %s on timeline %u", r.id, r.ph.start_lsn,
                    r.ph.stop_lsn, r.ph.stop_timeline);
        rc = wait_for_wal(&r, err);
    }
    r.m.stop_time = (int64_t)time(NULL);
    if (rc == CF_OK) {
        r.m.physical = &r.ph;
        rc = cf_repo_write_manifest(&r.repo, &r.m, err);
        if (rc == CF_OK) {
            cf_backup_result_fill(&r.m, res);
            (void)snprintf(res->wal_start, sizeof(res->wal_start), "%s", r.ph.wal_start);
            (void)snprintf(res->wal_stop, sizeof(res->wal_stop), "%s", r.ph.wal_stop);
            res->from_standby = r.ph.from_standby;
        }
        r.m.physical = NULL;
    }
    if (rc != CF_OK) {
        cf_error_context(err, "backup %s was not completed and is not restorable", r.id);
        cf_backup_remove_partial(&r.repo, &r.m, r.id);
    }
out:
    free(r.ph.start_lsn);
    free(r.ph.stop_lsn);
    free(r.ph.wal_start);
    free(r.ph.wal_stop);
    free(r.ph.pg_manifest);
    for (size_t i = 0; i < r.ph.n_tablespaces; i++) {
        free(r.ph.tablespaces[i].location);
        free(r.ph.tablespaces[i].object);
    }
    free(r.ph.tablespaces);
    cf_manifest_clear(&r.m);
    return rc;
}
