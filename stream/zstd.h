/*
 * zstd.h - streaming zstd compression and decompression sinks.
 *
 * Memory is bounded by the zstd window (level-dependent, a few MiB at the
 * default level 3) plus one ZSTD_CStreamOutSize() buffer, whatever the
 * input size.  The decompressor refuses frames whose window exceeds
 * CF_ZSTD_WINDOW_LOG_MAX, and a frame that does not end is CF_ERR_CORRUPT.
 */
#ifndef CF_ZSTD_H
#define CF_ZSTD_H

#include <stdint.h>

#include "stream/sink.h"

#define CF_ZSTD_WINDOW_LOG_MAX 27

/* level = auto (see zstd.c), the default: frames of 32 MiB, the first at
 * level 1, each next one at a level from 1 to CF_ZSTD_AUTO_MAX chosen from
 * whether the last one waited on its input or made its input wait. */
#define CF_ZSTD_AUTO 0
#define CF_ZSTD_AUTO_MAX 3

/* What level = auto measures, in ns: wall (monotonic), this thread's CPU
 * time, and its time runnable but waiting for a core. */
struct cf_zstd_clock {
    int64_t wall, cpu, queued;
};
void cf_zstd_clock_now(struct cf_zstd_clock *c);
/* The level of the frame after one at level that ran from..to (for tests). */
int cf_zstd_auto_next_level(int level, const struct cf_zstd_clock *from,
                            const struct cf_zstd_clock *to);

/* level 1..19, or CF_ZSTD_AUTO; workers 0 = compress in the calling thread. */
cf_err cf_zstd_compress_new(int level, unsigned workers, struct cf_sink *next,
                            struct cf_sink **out, struct cf_error *err);
/* name: the object, for messages. */
cf_err cf_zstd_decompress_new(const char *name, struct cf_sink *next, struct cf_sink **out,
                              struct cf_error *err);

#endif
