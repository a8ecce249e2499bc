/*
 * basic.c - terminal sinks and simple sources: fd, null, memory.
 */
#include "stream/sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cancel.h"

struct fd_sink {
    struct cf_sink base;
    int fd;
    int close_fd;
    char name[256];
};

static cf_err
fd_sink_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    struct fd_sink *f = (struct fd_sink *)s;
    const unsigned char *p = data;

    while (len > 0) {
        ssize_t w = write(f->fd, p, len);

        if (w < 0 && errno == EINTR && !cf_cancel_requested())
            continue;
        if (w < 0 && errno == EINTR)
            return cf_cancel_check(err);
        if (w < 0)
            return cf_error_set_errno(err, errno == ENOSPC ? CF_ERR_DISK_FULL : CF_ERR_IO, errno,
                                      "could not write to %s", f->name);
        p += w;
        len -= (size_t)w;
    }
    return CF_OK;
}

static cf_err
fd_sink_close(struct cf_sink *s, struct cf_error *err)
{
    struct fd_sink *f = (struct fd_sink *)s;
    int fd = f->fd;

    if (!f->close_fd)
        return CF_OK;
    f->fd = -1;
    if (close(fd) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not close %s", f->name);
    return CF_OK;
}

static void
fd_sink_abort(struct cf_sink *s)
{
    struct fd_sink *f = (struct fd_sink *)s;

    if (f->close_fd && f->fd >= 0) {
        (void)close(f->fd);
        f->fd = -1;
    }
}

static void
fd_sink_free(struct cf_sink *s)
{
    free(s);
}

static const struct cf_sink_ops fd_sink_ops = {
    "fd", CF_STAGE_TERMINAL, fd_sink_write, fd_sink_close, fd_sink_abort, fd_sink_free,
};

cf_err
cf_fd_sink_new(int fd, int close_fd, const char *name, struct cf_sink **out, struct cf_error *err)
{
    struct fd_sink *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    f->base.ops = &fd_sink_ops;
    f->fd = fd;
    f->close_fd = close_fd;
    (void)snprintf(f->name, sizeof(f->name), "%s", name);
    *out = &f->base;
    return CF_OK;
}

static cf_err
null_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    (void)s, (void)data, (void)len, (void)err;
    return CF_OK;
}

static cf_err
null_close(struct cf_sink *s, struct cf_error *err)
{
    (void)s, (void)err;
    return CF_OK;
}

static const struct cf_sink_ops null_sink_ops = {
    "null", CF_STAGE_TERMINAL, null_write, null_close, NULL, fd_sink_free,
};

cf_err
cf_null_sink_new(struct cf_sink **out, struct cf_error *err)
{
    struct cf_sink *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    s->ops = &null_sink_ops;
    *out = s;
    return CF_OK;
}

struct mem_sink {
    struct cf_sink base;
    unsigned char *buf;
    size_t len, cap, max;
};

static cf_err
mem_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    struct mem_sink *m = (struct mem_sink *)s;

    if (len > m->max - m->len)
        return cf_error_set(err, CF_ERR_CORRUPT, "object is larger than the %zu bytes expected",
                            m->max);
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        unsigned char *nb;

        while (cap < m->len + len)
            cap *= 2;
        if (cap > m->max)
            cap = m->max;
        nb = realloc(m->buf, cap);
        if (nb == NULL)
            return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        m->buf = nb;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, data, len);
    m->len += len;
    return CF_OK;
}

static void
mem_free(struct cf_sink *s)
{
    struct mem_sink *m = (struct mem_sink *)s;

    free(m->buf);
    free(m);
}

static const struct cf_sink_ops mem_sink_ops = {
    "memory", CF_STAGE_TERMINAL, mem_write, null_close, NULL, mem_free,
};

cf_err
cf_mem_sink_new(size_t max, struct cf_sink **out, struct cf_error *err)
{
    struct mem_sink *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    m->base.ops = &mem_sink_ops;
    m->max = max;
    *out = &m->base;
    return CF_OK;
}

const uint8_t *
cf_mem_sink_data(const struct cf_sink *s, size_t *len)
{
    const struct mem_sink *m = (const struct mem_sink *)s;

    *len = m->len;
    return m->buf;
}

struct fd_source {
    struct cf_source base;
    int fd;
    int close_fd;
    char name[256];
};

static cf_err
fd_source_read(struct cf_source *src, void *buf, size_t cap, size_t *n, struct cf_error *err)
{
    struct fd_source *f = (struct fd_source *)src;

    for (;;) {
        ssize_t r = read(f->fd, buf, cap);

        if (r < 0 && errno == EINTR && !cf_cancel_requested())
            continue;
        if (r < 0 && errno == EINTR)
            return cf_cancel_check(err);
        if (r < 0)
            return cf_error_set_errno(err, CF_ERR_IO, errno, "could not read %s", f->name);
        *n = (size_t)r;
        return CF_OK;
    }
}

static void
fd_source_free(struct cf_source *src)
{
    struct fd_source *f = (struct fd_source *)src;

    if (f->close_fd && f->fd >= 0)
        (void)close(f->fd);
    free(f);
}

static const struct cf_source_ops fd_source_ops = {"fd", fd_source_read, fd_source_free};

cf_err
cf_fd_source_new(int fd, int close_fd, const char *name, struct cf_source **out,
                 struct cf_error *err)
{
    struct fd_source *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    f->base.ops = &fd_source_ops;
    f->fd = fd;
    f->close_fd = close_fd;
    (void)snprintf(f->name, sizeof(f->name), "%s", name);
    *out = &f->base;
    return CF_OK;
}

struct mem_source {
    struct cf_source base;
    const unsigned char *data;
    size_t len, pos;
};

static cf_err
mem_source_read(struct cf_source *src, void *buf, size_t cap, size_t *n, struct cf_error *err)
{
    struct mem_source *m = (struct mem_source *)src;
    size_t k = m->len - m->pos;

    (void)err;
    if (k > cap)
        k = cap;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    *n = k;
    return CF_OK;
}

static void
mem_source_free(struct cf_source *src)
{
    free(src);
}

static const struct cf_source_ops mem_source_ops = {"memory", mem_source_read, mem_source_free};

cf_err
cf_mem_source_new(const void *data, size_t len, struct cf_source **out, struct cf_error *err)
{
    struct mem_source *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    m->base.ops = &mem_source_ops;
    m->data = data;
    m->len = len;
    *out = &m->base;
    return CF_OK;
}
