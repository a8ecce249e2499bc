/*
 * sdnotify.c - systemd notifications (see sdnotify.h).
 */
#include "common/sdnotify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

static bool is_ready;
static int watchdog_state = -1; /* -1 unknown, 0 disabled, 1 enabled */
static uint64_t watchdog_period_us;
static uint64_t watchdog_last_us;

static bool
has_socket(void)
{
    const char *s = getenv("NOTIFY_SOCKET");

    return s != NULL && s[0] != '\0';
}

static void
send_state(const char *state)
{
    if (has_socket())
        (void)sd_notify(0, state);
}

uint64_t
cf_monotonic_us(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void
cf_notify_ready(void)
{
    if (is_ready)
        return;
    is_ready = true;
    send_state("READY=1");
}

void
cf_notify_stopping(void)
{
    send_state("STOPPING=1");
}

void
cf_notify_status(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    if (!has_socket())
        return;
    n = snprintf(buf, sizeof(buf), "STATUS=");
    va_start(ap, fmt);
    (void)vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '\n')
            *p = ' ';
    send_state(buf);
}

static bool
watchdog_enabled(void)
{
    if (watchdog_state < 0) {
        uint64_t usec = 0;

        /* half the period, as sd_watchdog_enabled(3) recommends */
        watchdog_state = has_socket() && sd_watchdog_enabled(0, &usec) > 0 && usec > 0;
        watchdog_period_us = usec / 2;
    }
    return watchdog_state == 1;
}

uint64_t
cf_notify_watchdog_due_in(uint64_t now_us)
{
    uint64_t next;

    if (!watchdog_enabled())
        return UINT64_MAX;
    next = watchdog_last_us + watchdog_period_us;
    return next > now_us ? next - now_us : 0;
}

void
cf_notify_watchdog(uint64_t now_us)
{
    if (cf_notify_watchdog_due_in(now_us) != 0)
        return;
    watchdog_last_us = now_us;
    send_state("WATCHDOG=1");
}
