/*
 * walstream_int.h - the parts of `coffre wal-stream` (internal to agent/).
 *
 *   walstream.c        the command: service loop, reconnects, timers, systemd
 *   walstream_proto.c  the replication protocol (libpq, CopyBoth messages)
 *   walstream_spool.c  the spool: <spool>/stream/<segment>.partial, completion,
 *                      uploads, and the scan that resumes after a restart
 */
#ifndef CF_WALSTREAM_INT_H
#define CF_WALSTREAM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "agent/wal.h"
#include "common/walname.h"
#include "storage/repo.h"

#define WS_PATH_MAX 4096

/* The spool: one segment file open at a time. */
struct cf_ws_spool {
    const struct cf_wal_env *env;    /* the Object Lock period of new objects */
    const struct cf_repo *repo;
    char dir[WS_PATH_MAX];          /* <spool>/stream */
    uint64_t segsz;                 /* 0 until the server told us */
    uint64_t sysid;                 /* IDENTIFY_SYSTEM's (history files carry none) */
    int fd;                         /* the open .partial, or -1 */
    uint32_t tli;                   /* its timeline */
    uint64_t seg_start;             /* LSN of its first byte */
    char seg[25];                   /* its segment name */
    uint64_t written;               /* bytes written from seg_start (received) */
    uint64_t synced;                /* bytes fsynced from seg_start (durable) */
    uint64_t uploaded;              /* bytes of the last partial upload of this segment */
    bool is_new_file;               /* created: the directory needs an fsync */
    char last_upload[CF_WAL_NAME_MAX + 32]; /* for STATUS= and logs */
};

/* Where a restart resumes: a segment start on a timeline (lsn 0: nothing known). */
struct cf_ws_pos {
    uint32_t tli;
    uint64_t lsn;
};

/* ---- spool (walstream_spool.c) ---- */
/* Create <env->state_dir>/stream (0700) and fill s; no file is opened. */
cf_err cf_ws_spool_init(struct cf_ws_spool *s, const struct cf_wal_env *env,
                        const struct cf_repo *repo, struct cf_error *err);
/* Upload and remove every complete segment and history file left in the spool
 * (oldest first).  Needs no server. */
cf_err cf_ws_spool_upload_complete(struct cf_ws_spool *s, struct cf_error *err);
/* After cf_ws_spool_upload_complete, with segsz known: upload and remove stale
 * partials, and return the segment start of the newest partial (pos->lsn 0 if none). */
cf_err cf_ws_spool_resume_point(struct cf_ws_spool *s, struct cf_ws_pos *pos, struct cf_error *err);
/* Write WAL received at lsn on tli; completes (renames, uploads, removes) every
 * segment the data fills.  lsn must be where the previous write ended, or a
 * segment start when no file is open. */
cf_err cf_ws_spool_write(struct cf_ws_spool *s, uint32_t tli, uint64_t lsn, const char *data,
                      size_t len, struct cf_error *err);
/* fsync what was written; afterwards cf_ws_spool_flush_lsn() is durable. */
cf_err cf_ws_spool_sync(struct cf_ws_spool *s, struct cf_error *err);
uint64_t cf_ws_spool_write_lsn(const struct cf_ws_spool *s);
uint64_t cf_ws_spool_flush_lsn(const struct cf_ws_spool *s);
/* fsync, then store the open segment's durable bytes as
 * "<segment>.partial.<OFFSET>" if they grew since the last upload. */
cf_err cf_ws_spool_upload_partial(struct cf_ws_spool *s, struct cf_error *err);
/* End of a timeline: upload the open partial as its final version, remove it
 * from the spool and close it. */
cf_err cf_ws_spool_end_timeline(struct cf_ws_spool *s, struct cf_error *err);
/* Store a file's content (a timeline history) through the spool: written,
 * fsynced, stored, removed. */
cf_err cf_ws_spool_store_file(struct cf_ws_spool *s, const char *name, const char *data, size_t len,
                           struct cf_error *err);
void cf_ws_spool_close(struct cf_ws_spool *s);

/* ---- protocol (walstream_proto.c) ---- */
struct cf_ws_server {
    uint64_t sysid;        /* IDENTIFY_SYSTEM system identifier */
    uint32_t tli;          /* IDENTIFY_SYSTEM timeline */
    uint64_t xlogpos;      /* IDENTIFY_SYSTEM current flush position */
    uint64_t segsz;        /* wal_segment_size */
    uint64_t restart_lsn;  /* the slot's restart_lsn (0 if none) */
    uint32_t restart_tli;
};

/* Replication connection to env->pg (application_name = slot when synchronous). */
cf_err cf_ws_connect(const struct cf_wal_env *env, PGconn **out, struct cf_error *err);
/* IDENTIFY_SYSTEM, wal_segment_size, and the slot (created when missing). */
cf_err cf_ws_prepare(PGconn *conn, const char *slot, struct cf_ws_server *srv,
                     struct cf_error *err);
cf_err cf_ws_start(PGconn *conn, const char *slot, uint32_t tli, uint64_t lsn,
                struct cf_error *err);
/* Standby status update: write/flush positions, apply not reported. */
cf_err cf_ws_send_status(PGconn *conn, uint64_t write_lsn, uint64_t flush_lsn, bool want_reply,
                      struct cf_error *err);
/* After the server ended the copy: finish it, and read the next timeline
 * (*next_tli 0 when the server ended streaming without one). */
cf_err cf_ws_end_copy(PGconn *conn, uint32_t *next_tli, uint64_t *next_lsn, struct cf_error *err);
/* TIMELINE_HISTORY tli: the file's name (checked) and content (both malloc'd). */
cf_err cf_ws_timeline_history(PGconn *conn, uint32_t tli, char **name, char **content, size_t *len,
                           struct cf_error *err);

/* A CopyBoth message from the server (layouts in walstream_proto.c). */
struct cf_ws_msg {
    char type;            /* 'w' XLogData or 'k' keepalive */
    uint64_t start;       /* 'w': the LSN of data[0] */
    bool reply_requested; /* 'k': the server asks for a status update now */
    const char *data;     /* 'w': the WAL bytes, borrowed from the message */
    size_t len;
};

/* Parse a message received in CopyBoth mode into *out; CF_ERR_PG (the type
 * and size in the detail) for any other type or a message too short. */
cf_err cf_ws_parse_message(const char *buf, int len, struct cf_ws_msg *out, struct cf_error *err);

/* The end-of-timeline result (next timeline, where it starts) from its text;
 * false unless the timeline is a decimal from 1 to 2^32-1 and the LSN X/X. */
bool cf_ws_parse_timeline_end(const char *tli_text, const char *lsn_text, uint32_t *tli,
                              uint64_t *lsn);
/* TIMELINE_HISTORY tli must name tli's history file ("%08X.history", tli
 * from 1): the name becomes a file in the spool and an object.  CF_ERR_PG
 * otherwise. */
cf_err cf_ws_check_history_name(uint32_t tli, const char *name, struct cf_error *err);

/* Big-endian helpers for the CopyBoth messages. */
uint64_t cf_ws_get_u64(const char *p);
void cf_ws_put_u64(char *p, uint64_t v);

#endif
