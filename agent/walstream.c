/*
 * walstream.c - `coffre wal-stream` (see walstream.h): the service loop.
 *
 * One session = one replication connection: IDENTIFY_SYSTEM, the slot
 * (created when missing), START_REPLICATION from the resume point, then
 * CopyBoth until the connection breaks, the timeline ends, or a signal asks
 * us to stop.  Between sessions: upload what the spool holds, then wait
 * with capped exponential backoff.
 *
 * Acknowledgement rule: the flush position sent to the server (and so the
 * slot's restart_lsn) never passes what was fsynced in the spool.
 */
#include "agent/walstream.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "agent/walstream_int.h"
#include "common/backoff.h"
#include "common/cancel.h"
#include "common/inject.h"
#include "common/log.h"
#include "common/sdnotify.h"
#include "storage/walrepo.h"

#define SYNC_INTERVAL_US 1000000u    /* asynchronous mode: fsync and report at most this late */
#define STATUS_INTERVAL_US 10000000u /* standby status update even when idle */
#define NOTIFY_INTERVAL_US 1000000u  /* STATUS= at most this often */
#define BACKOFF_MAX_S 60u
/* Like wal_receiver_timeout: silence this long ends the session; at half of
 * it we ask the server for a reply, so an idle but live server is not dropped. */
#define RECEIVE_TIMEOUT_US 60000000u

struct ws {
    const struct cf_wal_env *env;
    struct cf_ws_spool spool;
    PGconn *conn;
    uint32_t tli;
    bool reply_requested;
    bool is_stopping;
    bool has_streamed;           /* this session received WAL */
    uint64_t reported_write, reported_flush;
    uint64_t last_sync_us, last_status_us, last_upload_us, last_notify_us;
    uint64_t last_receive_us;    /* last message from the server, or the end of our
                                    own long work (an upload): silence is measured
                                    only while we listen */
    bool has_pinged;             /* asked for a reply since then */
};

/* ---- timers ------------------------------------------------------------ */

static void
notify_status(struct ws *w, uint64_t now, bool force)
{
    char flush[CF_LSN_MAX_TEXT];

    if (!force && now - w->last_notify_us < NOTIFY_INTERVAL_US)
        return;
    w->last_notify_us = now;
    cf_lsn_format(w->reported_flush, flush, sizeof(flush));
    cf_notify_status("streaming timeline %u, flushed %s, last upload %s", w->tli, flush,
                     w->spool.last_upload[0] ? w->spool.last_upload : "none");
}

/* Report write/flush to the server; flush only ever moves forward. */
static cf_err
send_status(struct ws *w, uint64_t now, bool want_reply, struct cf_error *err)
{
    uint64_t wr = cf_ws_spool_write_lsn(&w->spool), fl = cf_ws_spool_flush_lsn(&w->spool);

    if (fl > w->reported_flush)
        w->reported_flush = fl;
    if (wr > w->reported_write)
        w->reported_write = wr;
    if (w->reported_write < w->reported_flush)
        w->reported_write = w->reported_flush;
    w->last_status_us = now;
    w->reply_requested = false;
    return cf_ws_send_status(w->conn, w->reported_write, w->reported_flush, want_reply, err);
}

static void
upload_partial(struct ws *w, uint64_t now)
{
    struct cf_error e = CF_ERROR_INIT;
    uint64_t after;

    w->last_upload_us = now;
    if (cf_ws_spool_upload_partial(&w->spool, &e) != CF_OK) {
        /* the bytes are safe in the spool; the next interval retries */
        cf_log_warning("wal-stream: could not upload the current partial segment");
        cf_log_cf_error(&e);
    }
    /* we were not listening meanwhile: give the server half the timeout again */
    after = cf_monotonic_us();
    if (w->last_receive_us + RECEIVE_TIMEOUT_US / 2 < after)
        w->last_receive_us = after - RECEIVE_TIMEOUT_US / 2;
}

/*
 * Everything time-driven: fsync + flush report (at once when synchronous and
 * the socket is drained, else at most SYNC_INTERVAL_US late), the periodic
 * status update, the partial upload, the watchdog and STATUS=.
 */
static cf_err
tick(struct ws *w, bool is_drained, struct cf_error *err)
{
    uint64_t now = cf_monotonic_us();
    bool has_unsynced = cf_ws_spool_write_lsn(&w->spool) > cf_ws_spool_flush_lsn(&w->spool);
    bool do_sync = has_unsynced && ((w->env->wal->synchronous && is_drained) ||
                                    now - w->last_sync_us >= SYNC_INTERVAL_US);
    cf_err rc;

    if (do_sync) {
        if ((rc = cf_ws_spool_sync(&w->spool, err)) != CF_OK)
            return rc;
        w->last_sync_us = now;
    }
    if (w->reply_requested || cf_ws_spool_flush_lsn(&w->spool) > w->reported_flush ||
        now - w->last_status_us >= STATUS_INTERVAL_US) {
        if ((rc = send_status(w, now, false, err)) != CF_OK)
            return rc;
    }
    if (now >= w->last_receive_us + RECEIVE_TIMEOUT_US) {
        cf_error_setf(err, CF_ERR_PG, "no message from the server for %u s",
                      RECEIVE_TIMEOUT_US / 1000000u);
        cf_error_detail(err, "The server did not answer a status update that asked for a reply.");
        return CF_ERR_PG;
    }
    if (!w->has_pinged && now >= w->last_receive_us + RECEIVE_TIMEOUT_US / 2) {
        w->has_pinged = true;
        if ((rc = send_status(w, now, true, err)) != CF_OK)
            return rc;
    }
    if (now - w->last_upload_us >= (uint64_t)w->env->wal->upload_interval * 1000000u)
        upload_partial(w, now); /* may take long: now is stale after it */
    cf_notify_watchdog(cf_monotonic_us());
    notify_status(w, now, false);
    return CF_OK;
}

/* Milliseconds until tick() has something to do. */
static int
wait_ms(const struct ws *w)
{
    uint64_t now = cf_monotonic_us(), next = w->last_status_us + STATUS_INTERVAL_US;
    uint64_t up = w->last_upload_us + (uint64_t)w->env->wal->upload_interval * 1000000u;
    uint64_t dog = cf_notify_watchdog_due_in(now);
    uint64_t silent = w->last_receive_us + RECEIVE_TIMEOUT_US / (w->has_pinged ? 1 : 2);

    if (cf_ws_spool_write_lsn(&w->spool) > cf_ws_spool_flush_lsn(&w->spool) &&
        w->last_sync_us + SYNC_INTERVAL_US < next)
        next = w->last_sync_us + SYNC_INTERVAL_US;
    if (up < next)
        next = up;
    if (silent < next)
        next = silent;
    if (dog != UINT64_MAX && now + dog < next)
        next = now + dog;
    if (next <= now)
        return 0;
    /* at most 500 ms: a signal that lands just before poll() is seen soon */
    return next - now > 500000u ? 500 : (int)((next - now) / 1000u) + 1;
}

/* ---- the CopyBoth stream ----------------------------------------------- */

static cf_err
handle_message(struct ws *w, const char *buf, int len, struct cf_error *err)
{
    struct cf_ws_msg m;

    if (cf_ws_parse_message(buf, len, &m, err) != CF_OK)
        return err->code;
    if (m.type == 'k') {
        if (m.reply_requested)
            w->reply_requested = true;
        return CF_OK;
    }
    w->has_streamed = true;
    return cf_ws_spool_write(&w->spool, w->tli, m.start, m.data, m.len, err);
}

static cf_err
pg_failed(struct ws *w, const char *what, struct cf_error *err)
{
    const char *m = PQerrorMessage(w->conn);

    cf_error_setf(err, CF_ERR_PG, "%s", what);
    cf_error_detail(err, "%.*s", (int)strcspn(m, "\n"), m);
    return CF_ERR_PG;
}

/* Receive until the server ends the copy (*is_ended), a signal, or an error. */
static cf_err
stream(struct ws *w, bool *is_ended, struct cf_error *err)
{
    cf_err rc;

    *is_ended = false;
    for (;;) {
        char *buf = NULL;
        int r;

        if (cf_cancel_requested()) {
            w->is_stopping = true;
            return CF_OK;
        }
        r = PQgetCopyData(w->conn, &buf, 1);
        if (r > 0) {
            rc = handle_message(w, buf, r, err);
            PQfreemem(buf);
            w->last_receive_us = cf_monotonic_us(); /* after: it may have uploaded */
            w->has_pinged = false;
            if (rc == CF_OK)
                rc = tick(w, false, err);
            if (rc != CF_OK)
                return rc;
            continue;
        }
        if (r == -1) {
            /* the server ended the copy: end of timeline, or shutting down */
            *is_ended = true;
            /* no status update here: a server that is shutting down has left
             * COPY mode, and libpq would turn the refused message into an
             * error result; the next session reports the flush position */
            return cf_ws_spool_sync(&w->spool, err);
        }
        if (r == -2)
            return pg_failed(w, "replication stream failed", err);
        if ((rc = tick(w, true, err)) != CF_OK)
            return rc;
        struct pollfd p = {PQsocket(w->conn), POLLIN, 0};
        if (poll(&p, 1, wait_ms(w)) < 0 && errno != EINTR)
            return cf_error_set_errno(err, CF_ERR_IO, errno, "poll failed");
        if (PQconsumeInput(w->conn) == 0)
            return pg_failed(w, "replication connection lost", err);
    }
}

/* ---- where to start ---------------------------------------------------- */

/* The repository's view: after the newest complete segment, or at the start
 * of the newest partial (lsn 0 when the repository holds no WAL). */
static cf_err
repo_resume_point(struct ws *w, struct cf_ws_pos *pos, struct cf_error *err)
{
    struct cf_wal_object *objs = NULL;
    uint64_t best = 0;
    size_t n = 0;
    cf_err rc;

    pos->tli = 0;
    pos->lsn = 0;
    if ((rc = cf_wal_list(w->spool.repo, &objs, &n, err)) != CF_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const struct cf_wal_file *f = &objs[i].file;
        uint64_t segno;

        if (f->type != CF_WAL_SEGMENT && f->type != CF_WAL_PARTIAL)
            continue;
        segno = cf_wal_segno(f, w->spool.segsz) + (f->type == CF_WAL_SEGMENT ? 1 : 0);
        if (segno > best || (segno == best && f->timeline > pos->tli)) {
            best = segno;
            pos->tli = f->timeline;
        }
    }
    free(objs);
    pos->lsn = best * w->spool.segsz;
    return CF_OK;
}

static cf_err
resume_point(struct ws *w, const struct cf_ws_server *srv, struct cf_ws_pos *pos,
             struct cf_error *err)
{
    uint64_t slot_start = srv->restart_lsn - srv->restart_lsn % srv->segsz;
    char a[CF_LSN_MAX_TEXT], b[CF_LSN_MAX_TEXT];
    const char *from = "the spool";
    cf_err rc;

    if ((rc = cf_ws_spool_resume_point(&w->spool, pos, err)) != CF_OK)
        return rc;
    if (pos->lsn == 0) {
        from = "the repository";
        if ((rc = repo_resume_point(w, pos, err)) != CF_OK)
            return rc;
        if (pos->lsn > srv->xlogpos || pos->tli > srv->tli) {
            cf_log_warning("wal-stream: the repository holds WAL beyond the server's position; "
                           "starting from the slot");
            pos->lsn = 0;
        }
    }
    if (pos->lsn != 0 && pos->lsn < slot_start && srv->restart_lsn != 0) {
        cf_lsn_format(pos->lsn, a, sizeof(a));
        cf_lsn_format(slot_start, b, sizeof(b));
        cf_log_warning("wal-stream: WAL from %s to %s is neither in %s nor retained by slot "
                       "\"%s\"; the archive has a gap there", a, b, from, w->env->wal->slot);
        pos->lsn = 0;
    }
    if (pos->lsn == 0) {
        from = "the slot";
        pos->lsn = slot_start != 0 ? slot_start : srv->xlogpos - srv->xlogpos % srv->segsz;
        pos->tli = srv->restart_tli != 0 ? srv->restart_tli : srv->tli;
    }
    cf_lsn_format(pos->lsn, a, sizeof(a));
    cf_log_info("wal-stream: streaming from %s on timeline %u (resume point from %s)", a,
                pos->tli, from);
    return CF_OK;
}

/* ---- one session ------------------------------------------------------- */

static cf_err
switch_timeline(struct ws *w, uint32_t next_tli, struct cf_error *err)
{
    char *name = NULL, *content = NULL;
    size_t len = 0;
    cf_err rc;

    if ((rc = cf_ws_spool_end_timeline(&w->spool, err)) != CF_OK)
        return rc;
    if ((rc = cf_ws_timeline_history(w->conn, next_tli, &name, &content, &len, err)) != CF_OK)
        return rc;
    rc = cf_ws_spool_store_file(&w->spool, name, content, len, err);
    free(name);
    free(content);
    if (rc == CF_OK)
        cf_log_info("wal-stream: timeline %u ends; following timeline %u", w->tli, next_tli);
    return rc;
}

/* SIGTERM: make everything durable here and off-host, then say goodbye. */
static cf_err
stop(struct ws *w, struct cf_error *err)
{
    cf_err rc;

    cf_notify_stopping();
    cf_cancel_reset(); /* let the last upload run; a second signal interrupts it */
    if ((rc = cf_ws_spool_sync(&w->spool, err)) != CF_OK)
        return rc;
    if (w->conn != NULL)
        (void)send_status(w, cf_monotonic_us(), false, &(struct cf_error)CF_ERROR_INIT);
    if ((rc = cf_ws_spool_upload_partial(&w->spool, err)) != CF_OK)
        return rc;
    cf_log_info("wal-stream: stopped; flushed to %X/%X", (unsigned)(w->reported_flush >> 32),
                (unsigned)w->reported_flush);
    return CF_OK;
}

static cf_err
run_session(struct ws *w, struct cf_error *err)
{
    struct cf_ws_server srv;
    struct cf_ws_pos pos;
    cf_err rc;

    if ((rc = cf_ws_connect(w->env, &w->conn, err)) != CF_OK ||
        (rc = cf_ws_prepare(w->conn, w->env->wal->slot, &srv, err)) != CF_OK)
        return rc;
    if (w->spool.segsz != 0 && w->spool.segsz != srv.segsz)
        return cf_error_set(err, CF_ERR_CONFIG, "the server's WAL segment size changed");
    w->spool.segsz = srv.segsz;
    w->spool.sysid = srv.sysid;
    if ((rc = resume_point(w, &srv, &pos, err)) != CF_OK)
        return rc;
    for (;;) {
        bool is_ended = false;
        uint32_t next_tli;
        uint64_t next_lsn;

        w->tli = pos.tli;
        if ((rc = cf_ws_start(w->conn, w->env->wal->slot, pos.tli, pos.lsn, err)) != CF_OK)
            return rc;
        w->last_status_us = w->last_sync_us = w->last_upload_us = cf_monotonic_us();
        w->last_receive_us = w->last_status_us;
        w->has_pinged = false;
        cf_notify_ready();
        CF_INJECT("walstream-ready"); /* K1: streaming, nothing stored by this session */
        notify_status(w, cf_monotonic_us(), true);
        if ((rc = stream(w, &is_ended, err)) != CF_OK)
            return rc;
        if (w->is_stopping)
            return stop(w, err);
        if ((rc = cf_ws_end_copy(w->conn, &next_tli, &next_lsn, err)) != CF_OK)
            return rc;
        if (next_tli == 0)
            return cf_error_set(err, CF_ERR_PG, "the server ended the replication stream");
        if ((rc = switch_timeline(w, next_tli, err)) != CF_OK)
            return rc;
        pos.tli = next_tli;
        pos.lsn = next_lsn - next_lsn % w->spool.segsz; /* a new timeline starts a segment */
    }
}

static void
end_session(struct ws *w)
{
    if (w->spool.fd >= 0 && !w->is_stopping) {
        /* best effort: what was received is in the spool either way */
        struct cf_error e = CF_ERROR_INIT;

        if (cf_ws_spool_upload_partial(&w->spool, &e) != CF_OK)
            cf_log_cf_error(&e);
    }
    cf_ws_spool_close(&w->spool);
    PQfinish(w->conn);
    w->conn = NULL;
}

/* ---- the service ------------------------------------------------------- */

/*
 * A signal interrupted a session before stream() saw it (in an upload, a
 * connect, a replication command): stop as stop() would, so that a segment
 * whose upload was cut short and the partial still reach the repository.
 * The error that the signal caused is replaced by the outcome of this work.
 */
static cf_err
finish_interrupted(struct ws *w, struct cf_error *err)
{
    cf_err rc;

    w->is_stopping = true;
    cf_notify_stopping();
    cf_cancel_reset();
    cf_error_clear(err);
    if ((rc = cf_ws_spool_sync(&w->spool, err)) != CF_OK ||
        (rc = cf_ws_spool_upload_complete(&w->spool, err)) != CF_OK)
        return rc;
    return cf_ws_spool_upload_partial(&w->spool, err);
}

static bool
is_fatal(cf_err code)
{
    return code == CF_ERR_CONFIG || code == CF_ERR_USAGE || code == CF_ERR_KEY ||
           code == CF_ERR_CORRUPT || code == CF_ERR_NOMEM || code == CF_ERR_INTERNAL ||
           code == CF_ERR_LOCKED;
}

/* Sleep up to seconds, pinging the watchdog; false if a signal came. */
static bool
backoff_sleep(unsigned seconds)
{
    uint64_t end = cf_monotonic_us() + (uint64_t)seconds * 1000000u;

    while (!cf_cancel_requested() && cf_monotonic_us() < end) {
        struct timespec ts = {0, 200000000L};

        (void)nanosleep(&ts, NULL);
        cf_notify_watchdog(cf_monotonic_us());
    }
    return !cf_cancel_requested();
}

static cf_err
lock_spool(const struct cf_ws_spool *s, int *fd, struct cf_error *err)
{
    char path[WS_PATH_MAX + 8];

    (void)snprintf(path, sizeof(path), "%s/.lock", s->dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not open \"%s\"", path);
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        (void)close(*fd);
        *fd = -1;
        cf_error_setf(err, CF_ERR_LOCKED, "another wal-stream is using spool \"%s\"", s->dir);
        cf_error_hint(err, "Run one wal-stream per instance.");
        return CF_ERR_LOCKED;
    }
    return CF_OK;
}

static cf_err
serve(struct ws *w, struct cf_error *err)
{
    unsigned attempt = 0;

    for (;;) {
        struct cf_error e = CF_ERROR_INIT;
        cf_err rc = cf_ws_spool_upload_complete(&w->spool, &e);
        unsigned backoff;

        w->has_streamed = false;
        if (rc == CF_OK && !cf_cancel_requested())
            rc = run_session(w, &e);
        if (!w->is_stopping && cf_cancel_requested())
            rc = finish_interrupted(w, &e);
        end_session(w);
        if (w->is_stopping || is_fatal(rc)) {
            if (rc != CF_OK)
                *err = e;
            return rc;
        }
        if (w->has_streamed)
            attempt = 0;
        /* the ceiling, no jitter: one client, and the documented 1 s, 2 s, ... 60 s */
        backoff = cf_backoff_ceiling_ms(1000, BACKOFF_MAX_S * 1000, ++attempt) / 1000;
        cf_log_cf_error(&e);
        cf_log_warning("wal-stream: retrying in %u s", backoff);
        cf_notify_status("retrying in %u s: %s", backoff, e.msg);
        if (!backoff_sleep(backoff))
            return CF_OK;
    }
}

cf_err
cf_wal_stream_run(const struct cf_wal_env *env, struct cf_error *err)
{
    struct ws w;
    int lock_fd = -1;
    cf_err rc;

    memset(&w, 0, sizeof(w));
    w.env = env;
    if ((rc = cf_ws_spool_init(&w.spool, env, env->repo, err)) != CF_OK ||
        (rc = lock_spool(&w.spool, &lock_fd, err)) != CF_OK)
        return rc;
    rc = serve(&w, err);
    if (!w.is_stopping)
        cf_notify_stopping();
    (void)close(lock_fd);
    return rc;
}
