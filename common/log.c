/*
 * log.c - messages for operators (see log.h).
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>

/* CODE_FILE/LINE would always name this file: leave them out */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

static enum cf_log_level current_level = CF_LOG_INFO;
static int use_journal = -1;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

/* Journal fields added to every entry ("COFFRE_INSTANCE=acme"); see cf_log_set_field. */
#define MAX_FIELDS 8
static char *fields[MAX_FIELDS];
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
cf_log_set_field(const char *name, const char *value)
{
    size_t nlen = strlen(name), free_slot = MAX_FIELDS;

    for (size_t i = 0; i < MAX_FIELDS; i++) {
        if (fields[i] != NULL && strncmp(fields[i], name, nlen) == 0 && fields[i][nlen] == '=') {
            free(fields[i]);
            fields[i] = NULL;
        }
        if (fields[i] == NULL && free_slot == MAX_FIELDS)
            free_slot = i;
    }
    if (value == NULL || free_slot == MAX_FIELDS)
        return;
    if (asprintf(&fields[free_slot], "%s=%s", name, value) < 0)
        fields[free_slot] = NULL;   /* a missing field is not worth failing for */
}

static bool
journal_wanted(void)
{
    if (use_journal < 0)
        use_journal = stderr_is_journal();
    return use_journal;
}

/*
 * Messages quote text from outside coffre (object names and key URIs from
 * headers an attacker may have written, server messages): a control byte
 * could forge a log line or move the terminal's cursor, so every byte below
 * 0x20 and 0x7f is written as \xHH.  UTF-8 passes unchanged.
 */
static void
escape_controls(const char *in, char *out, size_t size)
{
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)in; *p != '\0' && o + 5 < size; p++) {
        if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", *p);
        else
            out[o++] = (char)*p;
    }
    out[o] = '\0';
}

/* One journal entry: MESSAGE, PRIORITY, the context fields, then extra (NULL-terminated). */
static void
journal_entry(enum cf_log_level level, const char *msg, const char *const *extra)
{
    char message[2600], priority[16];
    struct iovec iov[4 + MAX_FIELDS + 4];
    int n = 0;

    (void)snprintf(message, sizeof(message), "MESSAGE=%s", msg);
    (void)snprintf(priority, sizeof(priority), "PRIORITY=%d", journal_priority[level]);
    iov[n++] = (struct iovec){message, strlen(message)};
    iov[n++] = (struct iovec){priority, strlen(priority)};
    iov[n++] = (struct iovec){(char *)"SYSLOG_IDENTIFIER=coffre", 24};
    for (size_t i = 0; i < MAX_FIELDS; i++)
        if (fields[i] != NULL)
            iov[n++] = (struct iovec){fields[i], strlen(fields[i])};
    for (size_t i = 0; extra != NULL && extra[i] != NULL && i < 4; i++)
        iov[n++] = (struct iovec){(char *)extra[i], strlen(extra[i])};
    (void)sd_journal_sendv(iov, n);
}

void
cf_log(enum cf_log_level level, const char *fmt, ...)
{
    char raw[2048], buf[2048];
    va_list ap;

    if (level > current_level)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    escape_controls(raw, buf, sizeof(buf));
    if (journal_wanted()) {
        journal_entry(level, buf, NULL);
        return;
    }
    (void)fprintf(stderr, "coffre: %s: %s\n", level_names[level], buf);
}

void
cf_log_cf_error(const struct cf_error *err)
{
    if (err->code == CF_OK)
        return;
    if (journal_wanted()) {
        /* one entry carrying the error class, detail and hint as fields too */
        char msg[1100], cls[64], detail[540], hint[280];
        const char *extra[4] = {cls, detail, hint, NULL};

        (void)snprintf(msg, sizeof(msg), "%s%s%s%s%s",
                       err->msg[0] ? err->msg : cf_err_name(err->code),
                       err->detail[0] ? " DETAIL: " : "", err->detail,
                       err->hint[0] ? " HINT: " : "", err->hint);
        (void)snprintf(cls, sizeof(cls), "COFFRE_ERROR_CLASS=%s", cf_err_name(err->code));
        (void)snprintf(detail, sizeof(detail), "COFFRE_DETAIL=%s", err->detail);
        (void)snprintf(hint, sizeof(hint), "COFFRE_HINT=%s", err->hint);
        journal_entry(CF_LOG_ERROR, msg, extra);
        return;
    }
    cf_log_error("%s", err->msg[0] ? err->msg : cf_err_name(err->code));
    if (err->detail[0] != '\0' || err->hint[0] != '\0') {
        char text[sizeof(err->detail) * 4];

        escape_controls(err->detail, text, sizeof(text));
        if (text[0] != '\0')
            (void)fprintf(stderr, "DETAIL: %s\n", text);
        escape_controls(err->hint, text, sizeof(text));
        if (text[0] != '\0')
            (void)fprintf(stderr, "HINT: %s\n", text);
    }
}

bool
cf_log_is_interactive(void)
{
    return current_level >= CF_LOG_INFO && isatty(STDERR_FILENO);
}
