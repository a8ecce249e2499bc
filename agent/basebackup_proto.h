/*
 * basebackup_proto.h - the CopyData framing of BASE_BACKUP's COPY OUT
 * (PostgreSQL 15 and later), apart from libpq and the repository, so that
 * it can be tested and fuzzed on messages from a buffer.
 *
 * Each CopyData message starts with a type byte:
 *   'n' name\0 path\0   a new archive begins: "base.tar", or "<oid>.tar"
 *                       with the tablespace's absolute location
 *   'd' bytes           data of the current archive (or of the manifest)
 *   'p' int64           progress (ignored: the pump shows bytes)
 *   'm'                 the backup_manifest follows
 * A good stream holds a base.tar and exactly one manifest, and every 'd'
 * belongs to an archive or to the manifest.
 */
#ifndef CF_BASEBACKUP_PROTO_H
#define CF_BASEBACKUP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "stream/sink.h"

/* Where the messages come from: PQgetCopyData in production, a buffer in tests. */
struct cf_bb_msgs {
    /*
     * The next message in *msg, *len >= 1 bytes, msg[0] its type; borrowed
     * until the next call.  *msg NULL: the COPY ended.  err set on failure.
     */
    cf_err (*next)(struct cf_bb_msgs *m, const char **msg, int *len, struct cf_error *err);
};

/* What the stream carries: one call per archive, one for the manifest. */
struct cf_bb_handler {
    /*
     * An archive: name "base.tar" with oid 0, or "<oid>.tar" with location
     * the tablespace's absolute path.  The callee reads its bytes from data
     * until it gives 0 bytes; name, location and data live during the call.
     */
    cf_err (*archive)(void *ctx, const char *name, uint32_t oid, const char *location,
                      struct cf_source *data, struct cf_error *err);
    /* The server's backup_manifest, read from data likewise. */
    cf_err (*manifest)(void *ctx, struct cf_source *data, struct cf_error *err);
    void *ctx;
};

/*
 * Read messages until the COPY ends, handing each archive and the manifest
 * to h.  CF_ERR_PG for a malformed stream (an unknown message type, a bad
 * archive header, data outside an archive, no base.tar, no or two
 * manifests); the errors of msgs and h pass through; CF_ERR_CANCELLED on a
 * signal.
 */
cf_err cf_bb_receive(struct cf_bb_msgs *msgs, const struct cf_bb_handler *h, struct cf_error *err);

/* Messages from a buffer (borrowed), each preceded by its length in 2 bytes,
 * big-endian: tests and fuzzing.  An empty or truncated message is a
 * CF_ERR_PG failure, as a broken connection would be. */
struct cf_bb_mem_msgs {
    struct cf_bb_msgs base;
    const uint8_t *p;
    size_t len, pos;
};

void cf_bb_mem_msgs_init(struct cf_bb_mem_msgs *m, const void *buf, size_t len);

#endif
