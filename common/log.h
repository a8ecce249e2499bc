/*
 * log.h - messages for operators.
 *
 * Under systemd (JOURNAL_STREAM set and matching stderr) messages go to
 * journald with structured fields; otherwise to stderr as
 * "coffre: LEVEL: message".  Nothing secret is ever passed here.
 */
#ifndef CF_LOG_H
#define CF_LOG_H

#include <stdbool.h>

#include "common/error.h"

enum cf_log_level { CF_LOG_ERROR = 0, CF_LOG_WARNING = 1, CF_LOG_INFO = 2, CF_LOG_DEBUG = 3 };

void cf_log_set_level(enum cf_log_level level);
enum cf_log_level cf_log_get_level(void);
void cf_log(enum cf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define cf_log_error(...) cf_log(CF_LOG_ERROR, __VA_ARGS__)
#define cf_log_warning(...) cf_log(CF_LOG_WARNING, __VA_ARGS__)
#define cf_log_info(...) cf_log(CF_LOG_INFO, __VA_ARGS__)
#define cf_log_debug(...) cf_log(CF_LOG_DEBUG, __VA_ARGS__)

/* Add NAME=value to every journal entry from now on (value NULL: remove), e.g.
 * COFFRE_INSTANCE, COFFRE_COMMAND, COFFRE_BACKUP_ID, COFFRE_ALERT.  NAME is an
 * upper-case journal field name.  Ignored on stderr. */
void cf_log_set_field(const char *name, const char *value);

/* Print an error with its DETAIL and HINT lines (under journald: one entry
 * with COFFRE_ERROR_CLASS, COFFRE_DETAIL, COFFRE_HINT fields). */
void cf_log_cf_error(const struct cf_error *err);

/* True when progress output makes sense (stderr is a terminal, not quiet). */
bool cf_log_is_interactive(void);

#endif
