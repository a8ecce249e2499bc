/*
 * handoff.c - the rest of a chain in a worker thread (see handoff.h).
 *
 * SLOTS buffers form a ring.  The calling thread fills the slot at
 * `published` and publishes it by advancing the counter; the worker writes
 * the slot at `written` to next and frees it by advancing its own counter.
 * A slot is touched without the lock only by the side that owns it:
 * published - written < SLOTS means the slot being filled is free.
 */
#include "stream/handoff.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cancel.h"

#define SLOTS 4
#define SLOT_BYTES (CF_HANDOFF_BYTES / SLOTS)

struct handoff {
    struct cf_sink base;
    pthread_mutex_t mu;
    pthread_cond_t changed; /* a counter or a flag below moved */
    pthread_t worker;
    bool running; /* worker started and not joined yet */
    unsigned char *buf[SLOTS];
    size_t len[SLOTS];
    size_t fill; /* bytes in the slot being filled */
    unsigned long published, written;
    bool eof;    /* close(): nothing more comes */
    bool stop;   /* abort(): drop what is queued */
    bool failed; /* next failed: werr says why */
    struct cf_error werr;
};

static void *
work(void *arg)
{
    struct handoff *h = arg;

    (void)pthread_mutex_lock(&h->mu);
    for (;;) {
        unsigned i;
        cf_err rc;

        while (h->written == h->published && !h->eof && !h->stop)
            (void)pthread_cond_wait(&h->changed, &h->mu);
        if (h->stop || h->written == h->published)
            break;
        i = (unsigned)(h->written % SLOTS);
        (void)pthread_mutex_unlock(&h->mu);
        rc = cf_sink_write(h->base.next, h->buf[i], h->len[i], &h->werr);
        (void)pthread_mutex_lock(&h->mu);
        if (rc != CF_OK) {
            h->failed = true;
            (void)pthread_cond_broadcast(&h->changed);
            break;
        }
        h->written++;
        (void)pthread_cond_broadcast(&h->changed);
    }
    (void)pthread_mutex_unlock(&h->mu);
    return NULL;
}

static void
join(struct handoff *h)
{
    if (h->running) {
        (void)pthread_join(h->worker, NULL);
        h->running = false;
    }
}

/* The worker's failure, under the lock: its message becomes the caller's. */
static cf_err
worker_error(struct handoff *h, struct cf_error *err)
{
    if (err->code == CF_OK)
        *err = h->werr;
    return err->code;
}

/* Wait until the slot to fill is free; called with the lock held. */
static cf_err
wait_free_slot(struct handoff *h, struct cf_error *err)
{
    while (h->published - h->written == SLOTS && !h->failed) {
        struct timespec until;

        /* the worker never sees a signal: look for one every 100 ms */
        if (cf_cancel_requested())
            return cf_cancel_check(err);
        (void)clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&h->changed, &h->mu, &until);
    }
    return h->failed ? worker_error(h, err) : CF_OK;
}

static void
publish(struct handoff *h)
{
    h->len[h->published % SLOTS] = h->fill;
    h->fill = 0;
    h->published++;
    (void)pthread_cond_broadcast(&h->changed);
}

static cf_err
handoff_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    struct handoff *h = (struct handoff *)s;
    const unsigned char *p = data;

    while (len > 0) {
        unsigned i;
        size_t n;

        (void)pthread_mutex_lock(&h->mu);
        if (wait_free_slot(h, err) != CF_OK) {
            (void)pthread_mutex_unlock(&h->mu);
            return err->code;
        }
        i = (unsigned)(h->published % SLOTS);
        (void)pthread_mutex_unlock(&h->mu);
        /* the slot is ours until it is published */
        n = SLOT_BYTES - h->fill < len ? SLOT_BYTES - h->fill : len;
        memcpy(h->buf[i] + h->fill, p, n);
        h->fill += n;
        p += n;
        len -= n;
        if (h->fill == SLOT_BYTES) {
            (void)pthread_mutex_lock(&h->mu);
            publish(h);
            (void)pthread_mutex_unlock(&h->mu);
        }
    }
    return CF_OK;
}

static cf_err
handoff_close(struct cf_sink *s, struct cf_error *err)
{
    struct handoff *h = (struct handoff *)s;

    (void)pthread_mutex_lock(&h->mu);
    if (h->fill > 0)
        publish(h);
    h->eof = true;
    (void)pthread_cond_broadcast(&h->changed);
    (void)pthread_mutex_unlock(&h->mu);
    join(h);
    if (h->failed)
        return worker_error(h, err);
    return cf_sink_close(s->next, err);
}

static void
handoff_abort(struct cf_sink *s)
{
    struct handoff *h = (struct handoff *)s;

    (void)pthread_mutex_lock(&h->mu);
    h->stop = true;
    (void)pthread_cond_broadcast(&h->changed);
    (void)pthread_mutex_unlock(&h->mu);
    join(h);
}

static void
handoff_free(struct cf_sink *s)
{
    struct handoff *h = (struct handoff *)s;

    handoff_abort(s);
    for (unsigned i = 0; i < SLOTS; i++)
        free(h->buf[i]);
    (void)pthread_cond_destroy(&h->changed);
    (void)pthread_mutex_destroy(&h->mu);
    free(h);
}

static const struct cf_sink_ops handoff_ops = {
    "handoff", CF_STAGE_HANDOFF, handoff_write, handoff_close, handoff_abort, handoff_free,
};

void
cf_handoff_drain_chain(struct cf_sink *head)
{
    for (struct cf_sink *s = head; s != NULL; s = s->next) {
        struct handoff *h = (struct handoff *)s;

        if (s->ops != &handoff_ops || s->state != CF_SINK_OPEN)
            continue;
        (void)pthread_mutex_lock(&h->mu);
        if (h->fill > 0 && h->published - h->written < SLOTS)
            publish(h);
        while (h->written != h->published && !h->failed && !cf_cancel_requested()) {
            struct timespec until;

            (void)clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec++;
            (void)pthread_cond_timedwait(&h->changed, &h->mu, &until);
        }
        (void)pthread_mutex_unlock(&h->mu);
    }
}

cf_err
cf_handoff_new(struct cf_sink *next, struct cf_sink **out, struct cf_error *err)
{
    struct handoff *h = calloc(1, sizeof(*h));
    sigset_t all, old;
    int rc;

    if (h == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    h->base.ops = &handoff_ops;
    cf_error_clear(&h->werr);
    for (unsigned i = 0; i < SLOTS; i++)
        if ((h->buf[i] = malloc(SLOT_BYTES)) == NULL) {
            while (i > 0)
                free(h->buf[--i]);
            free(h);
            return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        }
    if (cf_sink_link(&h->base, next, err) != CF_OK) {
        for (unsigned i = 0; i < SLOTS; i++)
            free(h->buf[i]);
        free(h);
        return err->code;
    }
    (void)pthread_mutex_init(&h->mu, NULL);
    (void)pthread_cond_init(&h->changed, NULL);
    /* the worker inherits a mask that blocks everything */
    (void)sigfillset(&all);
    (void)pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&h->worker, NULL, work, h);
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        (void)pthread_cond_destroy(&h->changed);
        (void)pthread_mutex_destroy(&h->mu);
        for (unsigned i = 0; i < SLOTS; i++)
            free(h->buf[i]);
        free(h);
        return cf_error_set_errno(err, CF_ERR_NOMEM, rc, "could not start a thread");
    }
    h->running = true;
    *out = &h->base;
    return CF_OK;
}
