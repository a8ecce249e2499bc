/*
 * walstream_proto.c - the streaming replication protocol for wal-stream
 * (see walstream_int.h).  Replication commands go through the simple query
 * protocol (cf_pg_replication_command): a walsender accepts no other.
 *
 * CopyBoth messages (PostgreSQL 15, "Streaming Replication Protocol"):
 *   server 'w'  int64 start, int64 server end, int64 send time, data
 *   server 'k'  int64 server end, int64 send time, byte reply-requested
 *   client 'r'  int64 write, int64 flush, int64 apply, int64 time, byte reply
 * Times are microseconds since 2000-01-01 00:00:00 UTC.
 */
#include "agent/walstream_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pg.h"

#define PG_EPOCH_OFFSET_S 946684800LL /* 2000-01-01 in Unix time */

uint64_t
cf_ws_get_u64(const char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | (uint8_t)p[i];
    return v;
}

void
cf_ws_put_u64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (char)(v & 0xff);
        v >>= 8;
    }
}

cf_err
cf_ws_parse_message(const char *buf, int len, struct cf_ws_msg *out, struct cf_error *err)
{
    memset(out, 0, sizeof(*out));
    if (len >= 25 && buf[0] == 'w') {
        out->type = 'w';
        out->start = cf_ws_get_u64(buf + 1);
        out->data = buf + 25;
        out->len = (size_t)len - 25;
        return CF_OK;
    }
    if (len >= 18 && buf[0] == 'k') {
        out->type = 'k';
        out->reply_requested = buf[17] != 0;
        return CF_OK;
    }
    cf_error_setf(err, CF_ERR_PG, "unexpected replication message");
    cf_error_detail(err, "Message type \"%c\", %d bytes.", len > 0 ? buf[0] : '?', len);
    return CF_ERR_PG;
}

cf_err
cf_ws_connect(const struct cf_wal_env *env, PGconn **out, struct cf_error *err)
{
    /* synchronous_standby_names names this stream by the slot's name */
    return cf_pg_connect_replication(env->pg->conninfo,
                                     env->wal->synchronous ? env->wal->slot : "coffre wal-stream",
                                     out, err);
}

/* "16MB" -> 16777216 (SHOW prints wal_segment_size with a unit). */
static bool
parse_size(const char *text, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 10);

    if (end == text)
        return false;
    if (strcmp(end, "kB") == 0)
        v <<= 10;
    else if (strcmp(end, "MB") == 0)
        v <<= 20;
    else if (strcmp(end, "GB") == 0)
        v <<= 30;
    else if (strcmp(end, "") != 0 && strcmp(end, "B") != 0)
        return false;
    *out = v;
    return true;
}

static cf_err
read_slot(PGconn *conn, const char *slot, bool *exists, struct cf_ws_server *srv,
          struct cf_error *err)
{
    char cmd[128];
    PGresult *res = NULL;
    cf_err rc;

    (void)snprintf(cmd, sizeof(cmd), "READ_REPLICATION_SLOT %s", slot);
    if ((rc = cf_pg_replication_command(conn, cmd, PGRES_TUPLES_OK, &res, err)) != CF_OK) {
        cf_error_hint(err, "wal-stream needs PostgreSQL 15 or later.");
        return rc;
    }
    *exists = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);
    if (*exists && strcmp(PQgetvalue(res, 0, 0), "physical") != 0) {
        PQclear(res);
        cf_error_setf(err, CF_ERR_CONFIG, "replication slot \"%s\" is not a physical slot", slot);
        cf_error_hint(err, "Name another slot with wal.slot.");
        return CF_ERR_CONFIG;
    }
    srv->restart_lsn = 0;
    srv->restart_tli = 0;
    if (*exists && !PQgetisnull(res, 0, 1)) {
        (void)cf_lsn_parse(PQgetvalue(res, 0, 1), &srv->restart_lsn);
        srv->restart_tli = (uint32_t)strtoul(PQgetvalue(res, 0, 2), NULL, 10);
    }
    PQclear(res);
    return CF_OK;
}

cf_err
cf_ws_prepare(PGconn *conn, const char *slot, struct cf_ws_server *srv, struct cf_error *err)
{
    PGresult *res = NULL;
    bool exists = false;
    char cmd[160];
    cf_err rc;

    memset(srv, 0, sizeof(*srv));
    if ((rc = cf_pg_replication_command(conn, "IDENTIFY_SYSTEM", PGRES_TUPLES_OK, &res,
                                        err)) != CF_OK)
        return rc;
    if (PQntuples(res) != 1 || PQnfields(res) < 3 ||
        !cf_lsn_parse(PQgetvalue(res, 0, 2), &srv->xlogpos)) {
        PQclear(res);
        return cf_error_set(err, CF_ERR_PG, "unexpected IDENTIFY_SYSTEM result");
    }
    srv->sysid = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    srv->tli = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    if ((rc = cf_pg_replication_command(conn, "SHOW wal_segment_size", PGRES_TUPLES_OK, &res,
                                        err)) != CF_OK)
        return rc;
    if (PQntuples(res) != 1 || !parse_size(PQgetvalue(res, 0, 0), &srv->segsz) ||
        !cf_wal_segment_size_valid(srv->segsz)) {
        cf_error_setf(err, CF_ERR_PG, "unexpected wal_segment_size \"%s\"",
                      PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
        PQclear(res);
        return CF_ERR_PG;
    }
    PQclear(res);
    if ((rc = read_slot(conn, slot, &exists, srv, err)) != CF_OK || exists)
        return rc;
    (void)snprintf(cmd, sizeof(cmd), "CREATE_REPLICATION_SLOT %s PHYSICAL RESERVE_WAL", slot);
    if ((rc = cf_pg_replication_command(conn, cmd, PGRES_TUPLES_OK, NULL, err)) != CF_OK) {
        cf_error_hint(err, "Raise max_replication_slots, or create the slot yourself.");
        return rc;
    }
    return read_slot(conn, slot, &exists, srv, err);
}

cf_err
cf_ws_start(PGconn *conn, const char *slot, uint32_t tli, uint64_t lsn, struct cf_error *err)
{
    char cmd[192];

    (void)snprintf(cmd, sizeof(cmd), "START_REPLICATION SLOT %s PHYSICAL %X/%X TIMELINE %u",
                   slot, (unsigned)(lsn >> 32), (unsigned)lsn, tli);
    return cf_pg_replication_command(conn, cmd, PGRES_COPY_BOTH, NULL, err);
}

cf_err
cf_ws_send_status(PGconn *conn, uint64_t write_lsn, uint64_t flush_lsn, bool want_reply,
               struct cf_error *err)
{
    char msg[1 + 8 * 4 + 1];
    struct timespec ts;
    int64_t now;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    now = ((int64_t)ts.tv_sec - PG_EPOCH_OFFSET_S) * 1000000 + ts.tv_nsec / 1000;
    msg[0] = 'r';
    cf_ws_put_u64(msg + 1, write_lsn);
    cf_ws_put_u64(msg + 9, flush_lsn);
    cf_ws_put_u64(msg + 17, 0); /* apply: nothing is replayed here */
    cf_ws_put_u64(msg + 25, (uint64_t)now);
    msg[33] = want_reply ? 1 : 0;
    if (PQputCopyData(conn, msg, (int)sizeof(msg)) <= 0 || PQflush(conn) != 0) {
        cf_error_setf(err, CF_ERR_PG, "could not send a standby status update");
        cf_pg_error_detail(conn, NULL, err);
        return CF_ERR_PG;
    }
    return CF_OK;
}

cf_err
cf_ws_end_copy(PGconn *conn, uint32_t *next_tli, uint64_t *next_lsn, struct cf_error *err)
{
    PGresult *res;
    cf_err rc = CF_OK;

    *next_tli = 0;
    *next_lsn = 0;
    while ((res = PQgetResult(conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);

        if (st == PGRES_COPY_IN || st == PGRES_COPY_BOTH) {
            /* the server's CopyDone arrived; answer with ours */
            if (PQputCopyEnd(conn, NULL) <= 0 || PQflush(conn) != 0) {
                cf_error_setf(err, CF_ERR_PG, "could not end the replication stream");
                cf_pg_error_detail(conn, res, err);
                rc = CF_ERR_PG;
            }
        } else if (st == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) >= 2) {
            if (!cf_ws_parse_timeline_end(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), next_tli,
                                          next_lsn)) {
                cf_error_setf(err, CF_ERR_PG, "unexpected end-of-timeline result");
                rc = CF_ERR_PG;
            }
        } else if (st != PGRES_COMMAND_OK && rc == CF_OK) {
            cf_error_setf(err, CF_ERR_PG, "the replication stream ended with an error");
            cf_pg_error_detail(conn, res, err);
            rc = CF_ERR_PG;
        }
        PQclear(res);
        if (rc != CF_OK)
            break;
    }
    return rc;
}

bool
cf_ws_parse_timeline_end(const char *tli_text, const char *lsn_text, uint32_t *tli, uint64_t *lsn)
{
    unsigned long long v;
    char *end = NULL;

    if (tli_text[0] < '1' || tli_text[0] > '9')
        return false;
    errno = 0;
    v = strtoull(tli_text, &end, 10);
    if (errno != 0 || *end != '\0' || v > UINT32_MAX || !cf_lsn_parse(lsn_text, lsn))
        return false;
    *tli = (uint32_t)v;
    return true;
}

cf_err
cf_ws_check_history_name(uint32_t tli, const char *name, struct cf_error *err)
{
    char want[CF_WAL_NAME_MAX];

    (void)snprintf(want, sizeof(want), "%08X.history", tli);
    if (tli != 0 && strcmp(name, want) == 0)
        return CF_OK;
    cf_error_setf(err, CF_ERR_PG, "unexpected TIMELINE_HISTORY result");
    if (tli == 0) {
        cf_error_detail(err, "There is no timeline 0.");
        return CF_ERR_PG;
    }
    cf_error_detail(err, "Timeline %u's history file is \"%s\"; the server sent another name.", tli,
                    want);
    return CF_ERR_PG;
}

cf_err
cf_ws_timeline_history(PGconn *conn, uint32_t tli, char **name, char **content, size_t *len,
                    struct cf_error *err)
{
    PGresult *res = NULL;
    char cmd[64];
    cf_err rc;

    (void)snprintf(cmd, sizeof(cmd), "TIMELINE_HISTORY %u", tli);
    if ((rc = cf_pg_replication_command(conn, cmd, PGRES_TUPLES_OK, &res, err)) != CF_OK)
        return rc;
    if (PQntuples(res) != 1 || PQnfields(res) != 2) {
        PQclear(res);
        return cf_error_set(err, CF_ERR_PG, "unexpected TIMELINE_HISTORY result");
    }
    if ((rc = cf_ws_check_history_name(tli, PQgetvalue(res, 0, 0), err)) != CF_OK) {
        PQclear(res);
        return rc;
    }
    *len = (size_t)PQgetlength(res, 0, 1);
    *name = strdup(PQgetvalue(res, 0, 0));
    *content = malloc(*len + 1);
    if (*name == NULL || *content == NULL) {
        free(*name);
        free(*content);
        PQclear(res);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    memcpy(*content, PQgetvalue(res, 0, 1), *len);
    (*content)[*len] = '\0';
    PQclear(res);
    return CF_OK;
}
