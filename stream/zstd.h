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

#include "stream/sink.h"

#define CF_ZSTD_WINDOW_LOG_MAX 27

/* level 1..19; workers 0 = compress in the calling thread. */
cf_err cf_zstd_compress_new(int level, unsigned workers, struct cf_sink *next,
                            struct cf_sink **out, struct cf_error *err);
/* name: the object, for messages. */
cf_err cf_zstd_decompress_new(const char *name, struct cf_sink *next, struct cf_sink **out,
                              struct cf_error *err);

#endif
