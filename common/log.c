/*
 * log.c - messages for operators (see log.h).
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

static enum cf_log_level current_level = CF_LOG_INFO;
static int use_journal = -1;

static const char *const level_names[] = {"error", "warning", "info", "debug"};
static const int journal_priority[] = {3, 4, 6, 7};

void
cf_log_set_level(enum cf_log_level level)
{
    current_level = level;
}

enum cf_log_level
cf_log_get_level(void)
{
    return current_level;
}

/* JOURNAL_STREAM is "DEV:INO" of the stream systemd connected to stderr. */
static int
stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    char *end;

    if (js == NULL)
        return 0;
    dev = strtoull(js, &end, 10);
    if (end == js || *end != ':')
        return 0;
    ino = strtoull(end + 1, &end, 10);
    if (*end != '\0')
        return 0;
    if (fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
cf_log(enum cf_log_level level, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;

    if (level > current_level)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (use_journal < 0)
        use_journal = stderr_is_journal();
    if (use_journal) {
        (void)sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%d", journal_priority[level],
                              "SYSLOG_IDENTIFIER=coffre", NULL);
        return;
    }
    (void)fprintf(stderr, "coffre: %s: %s\n", level_names[level], buf);
}

void
cf_log_cf_error(const struct cf_error *err)
{
    if (err->code == CF_OK)
        return;
    cf_log_error("%s", err->msg[0] ? err->msg : cf_err_name(err->code));
    if (err->detail[0] != '\0')
        (void)fprintf(stderr, "DETAIL: %s\n", err->detail);
    if (err->hint[0] != '\0')
        (void)fprintf(stderr, "HINT: %s\n", err->hint);
}

bool
cf_log_is_interactive(void)
{
    return current_level >= CF_LOG_INFO && isatty(STDERR_FILENO);
}
