/*
 * sdnotify.h - the systemd notification protocol for long-running services
 * (Type=notify, WatchdogSec=).
 *
 * Every call is a no-op unless NOTIFY_SOCKET is set, so the same binary runs
 * quietly from a shell.  Notifications are best effort: a failure to notify
 * never fails the service (systemd's own timeouts catch a silent service).
 */
#ifndef CF_SDNOTIFY_H
#define CF_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* READY=1 (idempotent: sent once per process). */
void cf_notify_ready(void);
/* STOPPING=1. */
void cf_notify_stopping(void);
/* STATUS=<text> (one line; newlines are replaced). */
void cf_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * WATCHDOG=1 if the watchdog is enabled (WATCHDOG_USEC, and WATCHDOG_PID
 * naming us when set) and half its period has passed since the last ping.
 * now_us is a CLOCK_MONOTONIC time.  Cheap to call often.
 */
void cf_notify_watchdog(uint64_t now_us);
/* Microseconds until the next watchdog ping is due (UINT64_MAX if disabled). */
uint64_t cf_notify_watchdog_due_in(uint64_t now_us);

/* CLOCK_MONOTONIC in microseconds. */
uint64_t cf_monotonic_us(void);

#endif
