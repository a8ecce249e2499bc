/*
 * zstd.c - streaming zstd sinks (see zstd.h).
 */
#include "stream/zstd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <zstd.h>

#include "common/log.h"

struct zstd_sink {
    struct cf_sink base;
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    void *out;
    size_t out_size;
    size_t last_ret;   /* decompressor: 0 once a frame is complete */
    int has_input;
    char name[256];
    /* level = auto (compressor only): the current level, and this frame's clock */
    int level;
    int auto_level;           /* 1: adapt the level between frames */
    uint64_t frame_in;        /* input bytes in the current frame */
    struct cf_zstd_clock frame; /* when this frame's first byte came */
};

/*
 * level = auto, in the spirit of zstd --adapt: the object is compressed as a
 * sequence of frames of CF_ZSTD_AUTO_FRAME input bytes (a reader decompresses
 * them as one stream), the first at level 1, and each next frame's level is
 * chosen from how the last one went.  This thread reads its input, hashes,
 * compresses, encrypts and writes in turn, so the wall time of a frame splits
 * into: running (its CPU time), waiting for a core (runnable, on the run
 * queue: the host is busy), and blocked, waiting for its input (pg_dump, the
 * server, a tar stream) or its output (the disk, S3).  Blocked a good part of
 * the frame: the CPU a higher level costs is free, and smaller output helps a
 * slow repository: one level up.  Almost never blocked: the compressor sets
 * the pace, or competes for the cores with the database: one level down.
 * Bounded to 1..CF_ZSTD_AUTO_MAX.
 */
#define CF_ZSTD_AUTO_FRAME ((uint64_t)32 << 20)
#define CF_ZSTD_AUTO_START 1
#define AUTO_DOWN_BLOCKED 0.05 /* below: lower the level */
#define AUTO_UP_BLOCKED 0.25   /* above: raise it */

/* Now, this thread's CPU time and its time on the run queue (ns). */
void
cf_zstd_clock_now(struct cf_zstd_clock *c)
{
    struct timespec ts;
    char line[128];
    FILE *f;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    c->wall = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    (void)clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    c->cpu = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    c->queued = 0;
    /* schedstat: run time, run-queue delay, time slices; absent without
     * CONFIG_SCHED_INFO, then waiting for a core counts as blocked */
    if ((f = fopen("/proc/thread-self/schedstat", "re")) != NULL) {
        if (fgets(line, sizeof(line), f) != NULL) {
            char *end = NULL;
            unsigned long long delay;

            (void)strtoull(line, &end, 10); /* run time: clock_gettime's, above */
            if (end != line && *end == ' ') {
                char *p = end + 1;

                delay = strtoull(p, &end, 10);
                if (end != p)
                    c->queued = (int64_t)delay;
            }
        }
        (void)fclose(f);
    }
}

int
cf_zstd_auto_next_level(int level, const struct cf_zstd_clock *from, const struct cf_zstd_clock *to)
{
    int64_t wall = to->wall - from->wall;
    double blocked;

    if (wall <= 0)
        return level;
    blocked = (double)(wall - (to->cpu - from->cpu) - (to->queued - from->queued)) / (double)wall;
    if (blocked > AUTO_UP_BLOCKED && level < CF_ZSTD_AUTO_MAX)
        return level + 1;
    if (blocked < AUTO_DOWN_BLOCKED && level > 1)
        return level - 1;
    return level;
}

static cf_err
zstd_fail(struct cf_error *err, cf_err code, const char *what, const struct zstd_sink *z,
          size_t zret)
{
    if (z->name[0] != '\0')
        return cf_error_set(err, code, "%s failed for object \"%s\": %s", what, z->name,
                            ZSTD_getErrorName(zret));
    return cf_error_set(err, code, "%s failed: %s", what, ZSTD_getErrorName(zret));
}

static cf_err
compress_run(struct zstd_sink *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode, struct cf_error *err)
{
    for (;;) {
        ZSTD_outBuffer ob = {z->out, z->out_size, 0};
        size_t ret = ZSTD_compressStream2(z->cctx, &ob, in, mode);

        if (ZSTD_isError(ret))
            return zstd_fail(err, CF_ERR_INTERNAL, "zstd compression", z, ret);
        if (ob.pos > 0 && cf_sink_write(z->base.next, z->out, ob.pos, err) != CF_OK)
            return err->code;
        /* continue: until input consumed; end: until the frame is flushed */
        if (mode == ZSTD_e_end ? ret == 0 : in->pos == in->size)
            return CF_OK;
    }
}

/* level = auto: end the frame, and start the next one at the level it earned. */
static cf_err
next_frame(struct zstd_sink *z, struct cf_error *err)
{
    ZSTD_inBuffer none = {NULL, 0, 0};
    struct cf_zstd_clock now;
    int64_t wall;
    double pct;
    int level;

    if (compress_run(z, &none, ZSTD_e_end, err) != CF_OK)
        return err->code;
    cf_zstd_clock_now(&now);
    level = cf_zstd_auto_next_level(z->level, &z->frame, &now);
    wall = now.wall - z->frame.wall;
    pct = wall > 0 ? 100.0 / (double)wall : 0;
    cf_log_debug("zstd auto: frame at level %d took %.2f s: %.0f%% running, %.0f%% waiting for "
                 "a core, %.0f%% blocked on input or output; next frame at level %d",
                 z->level, (double)wall / 1e9, pct * (double)(now.cpu - z->frame.cpu),
                 pct * (double)(now.queued - z->frame.queued),
                 pct * (double)(wall - (now.cpu - z->frame.cpu) - (now.queued - z->frame.queued)),
                 level);
    if (level != z->level) {
        size_t ret = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);

        if (ZSTD_isError(ret))
            return zstd_fail(err, CF_ERR_INTERNAL, "zstd level change", z, ret);
        z->level = level;
    }
    z->frame_in = 0;
    return CF_OK;
}

static cf_err
compress_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    struct zstd_sink *z = (struct zstd_sink *)s;
    const char *p = data;

    if (!z->auto_level) {
        ZSTD_inBuffer in = {data, len, 0};

        return compress_run(z, &in, ZSTD_e_continue, err);
    }
    while (len > 0) {
        uint64_t room = CF_ZSTD_AUTO_FRAME - z->frame_in;
        size_t n = len < room ? len : (size_t)room;
        ZSTD_inBuffer in = {p, n, 0};

        if (z->frame_in == 0)
            cf_zstd_clock_now(&z->frame);
        if (compress_run(z, &in, ZSTD_e_continue, err) != CF_OK)
            return err->code;
        z->frame_in += n;
        p += n;
        len -= n;
        if (z->frame_in == CF_ZSTD_AUTO_FRAME && next_frame(z, err) != CF_OK)
            return err->code;
    }
    return CF_OK;
}

static cf_err
compress_close(struct cf_sink *s, struct cf_error *err)
{
    ZSTD_inBuffer in = {NULL, 0, 0};

    if (compress_run((struct zstd_sink *)s, &in, ZSTD_e_end, err) != CF_OK)
        return err->code;
    return cf_sink_close(s->next, err);
}

static cf_err
decompress_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    struct zstd_sink *z = (struct zstd_sink *)s;
    ZSTD_inBuffer in = {data, len, 0};

    z->has_input = 1;
    for (;;) {
        ZSTD_outBuffer ob = {z->out, z->out_size, 0};
        size_t before = in.pos;
        size_t ret = ZSTD_decompressStream(z->dctx, &ob, &in);

        if (ZSTD_isError(ret))
            return zstd_fail(err, CF_ERR_CORRUPT, "zstd decompression", z, ret);
        /* A call that neither read nor wrote says nothing about the frame: after a
         * frame that ended exactly on a full output buffer, zstd answers the extra
         * call with the size of the next frame's header, which is not truncation. */
        if (ob.pos > 0 || in.pos > before)
            z->last_ret = ret;
        if (ob.pos > 0 && cf_sink_write(s->next, z->out, ob.pos, err) != CF_OK)
            return err->code;
        /* a full output buffer means zstd may hold more output for this input,
         * unless the frame is complete and flushed (ret 0) */
        if (in.pos == in.size && (ob.pos < ob.size || ret == 0))
            break;
    }
    return CF_OK;
}

static cf_err
decompress_close(struct cf_sink *s, struct cf_error *err)
{
    struct zstd_sink *z = (struct zstd_sink *)s;

    if (!z->has_input || z->last_ret != 0)
        return cf_error_set(err, CF_ERR_CORRUPT, "compressed data in object \"%s\" is truncated",
                            z->name);
    return cf_sink_close(s->next, err);
}

static void
zstd_free(struct cf_sink *s)
{
    struct zstd_sink *z = (struct zstd_sink *)s;

    ZSTD_freeCCtx(z->cctx);
    ZSTD_freeDCtx(z->dctx);
    free(z->out);
    free(z);
}

static const struct cf_sink_ops compress_ops = {
    "zstd", CF_STAGE_COMPRESS, compress_write, compress_close, NULL, zstd_free,
};
static const struct cf_sink_ops decompress_ops = {
    "zstd-decompress", CF_STAGE_DECOMPRESS, decompress_write, decompress_close, NULL, zstd_free,
};

static cf_err
set_param(ZSTD_CCtx *cctx, ZSTD_cParameter p, int v, struct cf_error *err)
{
    size_t ret = ZSTD_CCtx_setParameter(cctx, p, v);

    if (ZSTD_isError(ret))
        return cf_error_set(err, CF_ERR_CONFIG, "invalid zstd setting: %s",
                            ZSTD_getErrorName(ret));
    return CF_OK;
}

/* A sink with its zstd context and one output buffer, or NULL (out of memory). */
static struct zstd_sink *
zstd_alloc(int is_compress)
{
    struct zstd_sink *z = calloc(1, sizeof(*z));

    if (z == NULL)
        return NULL;
    z->base.ops = is_compress ? &compress_ops : &decompress_ops;
    z->out_size = is_compress ? ZSTD_CStreamOutSize() : ZSTD_DStreamOutSize();
    z->out = malloc(z->out_size);
    if (is_compress)
        z->cctx = ZSTD_createCCtx();
    else
        z->dctx = ZSTD_createDCtx();
    if (z->out == NULL || (is_compress ? z->cctx == NULL : z->dctx == NULL)) {
        zstd_free(&z->base);
        return NULL;
    }
    return z;
}

cf_err
cf_zstd_compress_new(int level, unsigned workers, struct cf_sink *next, struct cf_sink **out,
                     struct cf_error *err)
{
    struct zstd_sink *z = zstd_alloc(1);
    cf_err rc;

    if (z == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    z->auto_level = level == CF_ZSTD_AUTO;
    z->level = z->auto_level ? CF_ZSTD_AUTO_START : level;
    if ((rc = set_param(z->cctx, ZSTD_c_compressionLevel, z->level, err)) != CF_OK ||
        (rc = set_param(z->cctx, ZSTD_c_checksumFlag, 1, err)) != CF_OK)
        goto fail;
    if (workers > 0 && (rc = set_param(z->cctx, ZSTD_c_nbWorkers, (int)workers, err)) != CF_OK)
        goto fail;
    if ((rc = cf_sink_link(&z->base, next, err)) != CF_OK)
        goto fail;
    *out = &z->base;
    return CF_OK;
fail:
    zstd_free(&z->base);
    return rc;
}

cf_err
cf_zstd_decompress_new(const char *name, struct cf_sink *next, struct cf_sink **out,
                       struct cf_error *err)
{
    struct zstd_sink *z = zstd_alloc(0);
    cf_err rc;

    if (z == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    z->last_ret = 1;
    (void)snprintf(z->name, sizeof(z->name), "%s", name);
    if (ZSTD_isError(ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax,
                                            CF_ZSTD_WINDOW_LOG_MAX))) {
        rc = cf_error_set(err, CF_ERR_INTERNAL, "could not configure zstd decompression");
        goto fail;
    }
    if ((rc = cf_sink_link(&z->base, next, err)) != CF_OK)
        goto fail;
    *out = &z->base;
    return CF_OK;
fail:
    zstd_free(&z->base);
    return rc;
}
