/*
 * sink.c - chain plumbing shared by every filter (see sink.h).
 */
#include "stream/sink.h"

#include <stdlib.h>

#include "common/cancel.h"
#include "common/inject.h"
#include "common/progress.h"
#include "stream/handoff.h"

cf_err
cf_sink_link(struct cf_sink *s, struct cf_sink *next, struct cf_error *err)
{
    if (next != NULL && s->ops->stage >= next->ops->stage)
        return cf_error_set(err, CF_ERR_INTERNAL, "cannot chain sink \"%s\" before sink \"%s\"",
                            s->ops->name, next->ops->name);
    s->next = next;
    return CF_OK;
}

cf_err
cf_sink_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    if (s->state != CF_SINK_OPEN)
        return cf_error_set(err, CF_ERR_INTERNAL, "write to a finished sink \"%s\"", s->ops->name);
    if (len == 0)
        return CF_OK;
    return s->ops->write(s, data, len, err);
}

cf_err
cf_sink_close(struct cf_sink *s, struct cf_error *err)
{
    cf_err rc;

    if (s->state != CF_SINK_OPEN)
        return cf_error_set(err, CF_ERR_INTERNAL, "close of a finished sink \"%s\"", s->ops->name);
    rc = s->ops->close(s, err);
    if (rc != CF_OK) {
        /* the failed stage may have closed part of the chain already; abort is idempotent */
        cf_sink_abort(s);
        return rc;
    }
    s->state = CF_SINK_CLOSED;
    return CF_OK;
}

void
cf_sink_abort(struct cf_sink *s)
{
    for (; s != NULL; s = s->next) {
        if (s->state == CF_SINK_OPEN && s->ops->abort != NULL)
            s->ops->abort(s);
        if (s->state == CF_SINK_OPEN)
            s->state = CF_SINK_ABORTED;
    }
}

void
cf_sink_free(struct cf_sink *s)
{
    if (s == NULL)
        return;
    cf_sink_abort(s);
    while (s != NULL) {
        struct cf_sink *next = s->next;

        s->ops->free(s);
        s = next;
    }
}

cf_err
cf_source_read(struct cf_source *src, void *buf, size_t cap, size_t *n, struct cf_error *err)
{
    return src->ops->read(src, buf, cap, n, err);
}

void
cf_source_free(struct cf_source *src)
{
    if (src != NULL)
        src->ops->free(src);
}

cf_err
cf_pump(struct cf_source *src, struct cf_sink *sink, size_t bufsize, struct cf_error *err)
{
    return cf_pump_progress(src, sink, bufsize, NULL, err);
}

cf_err
cf_pump_progress(struct cf_source *src, struct cf_sink *sink, size_t bufsize, const char *label,
                 struct cf_error *err)
{
    unsigned char *buf = malloc(bufsize);
    struct cf_progress progress;
    cf_err rc = CF_OK;
    size_t n;

    cf_progress_start(&progress, label != NULL ? label : "");
    if (label == NULL)
        progress.is_active = false;

    if (buf == NULL) {
        rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        if ((rc = cf_cancel_check(err)) != CF_OK)
            break;
        rc = cf_source_read(src, buf, bufsize, &n, err);
        if (rc != CF_OK || n == 0)
            break;
        rc = cf_sink_write(sink, buf, n, err);
        if (rc != CF_OK)
            break;
        if (label != NULL && progress.bytes == 0) {
#ifdef CF_INJECTION_POINTS
            /* the point means: the first buffer went through the chain, to
             * pg_restore or tar; a handoff thread may still hold it */
            cf_handoff_drain_chain(sink);
#endif
            CF_INJECT("pump-mid"); /* an object's first buffer is in the chain */
        }
        cf_progress_add(&progress, n);
    }
    cf_progress_end(&progress);
    if (rc == CF_OK)
        rc = cf_sink_close(sink, err);
out:
    if (rc != CF_OK)
        cf_sink_abort(sink);
    free(buf);
    return rc;
}
