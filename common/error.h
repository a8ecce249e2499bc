/*
 * error.h - coffre's error values.
 *
 * Every function that can fail returns a cf_err and fills a caller-owned
 * struct cf_error.  The first failure wins: once err->code is set, later
 * cf_error_set() calls keep the original message and only return the code,
 * so cleanup paths can never overwrite the cause.  Context is added going up
 * with cf_error_context() ("while writing object ...").
 *
 * Messages follow the PostgreSQL style guide: primary message lowercase, no
 * final period; detail and hint are full sentences.  Secrets (PINs, keys,
 * passwords) never enter a cf_error.
 */
#ifndef CF_ERROR_H
#define CF_ERROR_H

#include <stddef.h>

typedef enum cf_err {
    CF_OK = 0,
    CF_ERR_INTERNAL = 1,
    CF_ERR_NOMEM = 2,
    CF_ERR_USAGE = 3,
    CF_ERR_CONFIG = 4,
    CF_ERR_IO = 10,
    CF_ERR_DISK_FULL = 11,
    CF_ERR_NOT_FOUND = 12,
    CF_ERR_EXISTS = 13,
    CF_ERR_PG = 20,
    CF_ERR_CHILD = 21,
    CF_ERR_REMOTE = 30,
    CF_ERR_REMOTE_RETRY = 31,
    CF_ERR_LOCKED = 32,
    CF_ERR_KEY = 40,
    CF_ERR_CORRUPT = 50,
    CF_ERR_CANCELLED = 60,
    CF_ERR_CHECK = 70          /* a drill check failed: the backup is bad or a target was missed */
} cf_err;

struct cf_error {
    cf_err code;
    int sys_errno;
    char msg[256];
    char detail[512];
    char hint[256];
};

#define CF_ERROR_INIT {CF_OK, 0, "", "", ""}

/*
 * Record code and the primary message if no error is recorded yet (the
 * first failure wins).  The macros evaluate to code, so that
 * "return cf_error_set(err, CF_ERR_IO, ...)" visibly returns a failure.
 */
void cf_error_setf(struct cf_error *err, cf_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, and remember errno (the message gets ": strerror" appended). */
void cf_error_setf_errno(struct cf_error *err, cf_err code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Same, and append ": CAUSE" (up to about 157 bytes), kept whole: the message is shortened. */
void cf_error_setf_cause(struct cf_error *err, cf_err code, const char *cause, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));
#define cf_error_set(err, code, ...) (cf_error_setf((err), (code), __VA_ARGS__), (code))
#define cf_error_set_errno(err, code, errnum, ...)                                             \
    (cf_error_setf_errno((err), (code), (errnum), __VA_ARGS__), (code))
/* Detail and hint: only filled if still empty (first writer wins). */
void cf_error_detail(struct cf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cf_error_hint(struct cf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append context to the detail: "... CONTEXT" sentences, outermost last. */
void cf_error_context(struct cf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cf_error_clear(struct cf_error *err);

/* Map an error class to the documented exit status (docs/exit-status.md). */
int cf_error_exit_status(cf_err code);
const char *cf_err_name(cf_err code);

#endif
