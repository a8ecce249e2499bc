/*
 * error.c - coffre's error values (see error.h).
 */
#include "common/error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void vformat(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, size, fmt, ap);

    if (n < 0)
        buf[0] = '\0';
}

/* The first failure wins: false (and nothing changed) when err already holds one. */
static bool vset(struct cf_error *err, cf_err code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static bool
vset(struct cf_error *err, cf_err code, const char *fmt, va_list ap)
{
    if (err == NULL || err->code != CF_OK)
        return false;
    err->code = code;
    vformat(err->msg, sizeof(err->msg), fmt, ap);
    return true;
}

/*
 * Append ": CAUSE" to the message, the cause cut to CAUSE_MAX bytes so that the
 * message keeps about 100.  The cause is what the reader needs most, and it
 * comes last: a message naming a WAL object (its key carries a signature, about
 * 250 bytes) was cut before it, so wal-stream said "could not create object
 * \"…\": Re" for a read-only repository (test_47, REFUSE and FULL), and an S3
 * upload lost its "Operation too slow" (test_72).  Shorten the message, marked
 * with "…", instead of the cause.
 */
#define CAUSE_MAX 160

static void
append_cause(struct cf_error *err, const char *what)
{
    static const char mark[] = "\u2026";
    char cause[CAUSE_MAX];
    size_t len, room;

    (void)snprintf(cause, sizeof(cause), ": %s", what);
    len = strlen(err->msg);
    room = sizeof(err->msg) - 1 - strlen(cause);
    if (len > room) {
        len = room - (sizeof(mark) - 1);
        while (len > 0 && ((unsigned char)err->msg[len] & 0xC0) == 0x80)
            len--; /* not inside a UTF-8 sequence */
        memcpy(err->msg + len, mark, sizeof(mark) - 1);
        len += sizeof(mark) - 1;
    }
    (void)snprintf(err->msg + len, sizeof(err->msg) - len, "%s", cause);
}

void
cf_error_setf(struct cf_error *err, cf_err code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vset(err, code, fmt, ap);
    va_end(ap);
}

void
cf_error_setf_errno(struct cf_error *err, cf_err code, int errnum, const char *fmt, ...)
{
    va_list ap;
    bool is_set;

    va_start(ap, fmt);
    is_set = vset(err, code, fmt, ap);
    va_end(ap);
    if (is_set) {
        err->sys_errno = errnum;
        append_cause(err, strerror(errnum));
    }
}

void
cf_error_setf_cause(struct cf_error *err, cf_err code, const char *cause, const char *fmt, ...)
{
    va_list ap;
    bool is_set;

    va_start(ap, fmt);
    is_set = vset(err, code, fmt, ap);
    va_end(ap);
    if (is_set)
        append_cause(err, cause);
}

void
cf_error_detail(struct cf_error *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err->detail[0] != '\0')
        return;
    va_start(ap, fmt);
    vformat(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
}

void
cf_error_hint(struct cf_error *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err->hint[0] != '\0')
        return;
    va_start(ap, fmt);
    vformat(err->hint, sizeof(err->hint), fmt, ap);
    va_end(ap);
}

/*
 * Make room for need more bytes at the end of detail by shortening its first
 * part (what the failing component said, before any " Context: "), in its
 * middle, marked with "…": the contexts say which backup and object failed
 * and what that means, so they are never the part that is cut.
 */
static void
make_room(char *detail, size_t size, size_t need)
{
    static const char mark[] = "\u2026";
    size_t len = strlen(detail), cut, start, head;
    const char *first = strstr(detail, " Context: ");

    if (len + need < size)
        return;
    head = first != NULL ? (size_t)(first - detail) : len;
    cut = len + need - size + 1 + (sizeof(mark) - 1);
    if (cut + 16 > head)
        return; /* nothing worth keeping to shorten */
    start = head - cut;
    while (start > 0 && ((unsigned char)detail[start] & 0xC0) == 0x80)
        start--; /* not inside a UTF-8 sequence */
    memmove(detail + start + sizeof(mark) - 1, detail + head, len - head + 1);
    memcpy(detail + start, mark, sizeof(mark) - 1);
}

void
cf_error_context(struct cf_error *err, const char *fmt, ...)
{
    char ctx[256];
    va_list ap;
    size_t len;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vformat(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    if (err->detail[0] == '\0') {
        (void)snprintf(err->detail, sizeof(err->detail), "Context: %s.", ctx);
        return;
    }
    make_room(err->detail, sizeof(err->detail), strlen(" Context: .") + strlen(ctx));
    len = strlen(err->detail);
    if (len < sizeof(err->detail) - 1)
        (void)snprintf(err->detail + len, sizeof(err->detail) - len, " Context: %s.", ctx);
}

void
cf_error_clear(struct cf_error *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
}

/* Documented in docs/exit-status.md; keep the two in step. */
int
cf_error_exit_status(cf_err code)
{
    switch (code) {
    case CF_OK:
        return 0;
    case CF_ERR_USAGE:
        return 2;
    case CF_ERR_CONFIG:
        return 3;
    case CF_ERR_KEY:
        return 4;
    case CF_ERR_IO:
    case CF_ERR_DISK_FULL:
    case CF_ERR_NOT_FOUND:
    case CF_ERR_EXISTS:
    case CF_ERR_REMOTE:
    case CF_ERR_REMOTE_RETRY:
    case CF_ERR_LOCKED:
        return 5;
    case CF_ERR_CORRUPT:
        return 6;
    case CF_ERR_PG:
    case CF_ERR_CHILD:
        return 7;
    case CF_ERR_CANCELLED:
        return 8;
    case CF_ERR_CHECK:
        return 9;
    case CF_ERR_INTERNAL:
    case CF_ERR_NOMEM:
        break;
    }
    return 1;
}

const char *
cf_err_name(cf_err code)
{
    switch (code) {
    case CF_OK: return "ok";
    case CF_ERR_INTERNAL: return "internal";
    case CF_ERR_NOMEM: return "out-of-memory";
    case CF_ERR_USAGE: return "usage";
    case CF_ERR_CONFIG: return "config";
    case CF_ERR_IO: return "io";
    case CF_ERR_DISK_FULL: return "disk-full";
    case CF_ERR_NOT_FOUND: return "not-found";
    case CF_ERR_EXISTS: return "exists";
    case CF_ERR_PG: return "postgres";
    case CF_ERR_CHILD: return "child";
    case CF_ERR_REMOTE: return "remote";
    case CF_ERR_REMOTE_RETRY: return "remote-retry";
    case CF_ERR_LOCKED: return "locked";
    case CF_ERR_KEY: return "key";
    case CF_ERR_CORRUPT: return "corrupt";
    case CF_ERR_CANCELLED: return "cancelled";
    case CF_ERR_CHECK: return "check-failed";
    }
    return "unknown";
}
