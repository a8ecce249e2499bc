/*
 * sink.h - the push chain every byte of a backup or restore goes through.
 *
 *   backup:  hash -> zstd -> encrypt -> storage write
 *   restore: decrypt -> zstd -d -> handoff -> hash verify -> pg_restore / file / stdout
 *
 * A sink receives bytes with write(), passes what it produced to next, and
 * commits in close().  close() is called only after every upstream stage
 * succeeded, and a sink's close() closes next after flushing into it, so
 * the terminal commits last.  On any failure the owner calls abort() on the
 * head instead: it drops everything and never fails.  free() releases the
 * sink and the rest of the chain.
 *
 * Stages order the chain: a sink may only wrap a sink of a higher stage, so
 * that compress-after-encrypt is refused when the chain is built.
 */
#ifndef CF_SINK_H
#define CF_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

enum cf_stage {
    CF_STAGE_SOURCE_TAP = 10, /* backup: plaintext digest/size */
    CF_STAGE_COMPRESS = 20,
    CF_STAGE_ENCRYPT = 30,
    CF_STAGE_STORED_TAP = 40,
    CF_STAGE_DECRYPT = 50, /* restore side */
    CF_STAGE_DECOMPRESS = 60,
    CF_STAGE_HANDOFF = 65, /* the rest of the chain in a worker thread */
    CF_STAGE_VERIFY = 70,
    CF_STAGE_TERMINAL = 100
};

struct cf_sink;

struct cf_sink_ops {
    const char *name;
    enum cf_stage stage;
    cf_err (*write)(struct cf_sink *s, const void *data, size_t len, struct cf_error *err);
    cf_err (*close)(struct cf_sink *s, struct cf_error *err);
    void (*abort)(struct cf_sink *s);
    void (*free)(struct cf_sink *s); /* frees the sink itself, not next */
};

struct cf_sink {
    const struct cf_sink_ops *ops;
    struct cf_sink *next;  /* owned */
    int state;             /* CF_SINK_OPEN, CLOSED, ABORTED: guards double close/abort */
};

enum { CF_SINK_OPEN = 0, CF_SINK_CLOSED = 1, CF_SINK_ABORTED = 2 };

/* Check stage order (CF_ERR_INTERNAL if wrong) and link: s->next = next.  On
 * failure nothing is linked and the caller still owns both. */
cf_err cf_sink_link(struct cf_sink *s, struct cf_sink *next, struct cf_error *err);

cf_err cf_sink_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err);
/* Flush and commit the chain.  If close fails, the rest of the chain is aborted. */
cf_err cf_sink_close(struct cf_sink *s, struct cf_error *err);
/* Drop the chain's output (temporary files removed, children killed). */
void cf_sink_abort(struct cf_sink *s);
/* Free the whole chain; aborts it first if it was neither closed nor aborted. */
void cf_sink_free(struct cf_sink *s);

/* A pull source: storage objects, files, pipes. */
struct cf_source;
struct cf_source_ops {
    const char *name;
    /* Read up to cap bytes; *n = 0 means end of data. */
    cf_err (*read)(struct cf_source *src, void *buf, size_t cap, size_t *n, struct cf_error *err);
    void (*free)(struct cf_source *src);
};
struct cf_source {
    const struct cf_source_ops *ops;
};

cf_err cf_source_read(struct cf_source *src, void *buf, size_t cap, size_t *n,
                      struct cf_error *err);
void cf_source_free(struct cf_source *src);

/*
 * Copy src into sink with a buffer of bufsize bytes, then close the sink.
 * On any failure the sink is aborted.  Either way the caller still owns and
 * frees both.
 */
cf_err cf_pump(struct cf_source *src, struct cf_sink *sink, size_t bufsize, struct cf_error *err);
/* The same, showing progress labelled label on a terminal (label may be NULL). */
cf_err cf_pump_progress(struct cf_source *src, struct cf_sink *sink, size_t bufsize,
                        const char *label, struct cf_error *err);

/* --- simple sinks and sources (stream/basic.c) --- */

/* Writes to fd (not closed by the sink unless close_fd).  name is for messages. */
cf_err cf_fd_sink_new(int fd, int close_fd, const char *name, struct cf_sink **out,
                      struct cf_error *err);
/* Discards everything (verify). */
cf_err cf_null_sink_new(struct cf_sink **out, struct cf_error *err);
/* Collects into memory up to max bytes (tests, manifests); CF_ERR_CORRUPT past max. */
cf_err cf_mem_sink_new(size_t max, struct cf_sink **out, struct cf_error *err);
/* Borrowed view of what a mem sink collected (valid until free). */
const uint8_t *cf_mem_sink_data(const struct cf_sink *s, size_t *len);

/* Reads from fd (closed on free if close_fd). */
cf_err cf_fd_source_new(int fd, int close_fd, const char *name, struct cf_source **out,
                        struct cf_error *err);
/* Reads a memory buffer (borrowed). */
cf_err cf_mem_source_new(const void *data, size_t len, struct cf_source **out,
                         struct cf_error *err);

#endif
