/*
 * progress.c - one-line progress display (see progress.h).
 */
#include "common/progress.h"

#include <stdio.h>
#include <time.h>

#include "common/log.h"

static double
now(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
cf_progress_start(struct cf_progress *p, const char *label)
{
    p->bytes = 0;
    p->is_active = cf_log_is_interactive();
    p->start = p->last = now();
    (void)snprintf(p->label, sizeof(p->label), "%s", label);
}

static void
draw(const struct cf_progress *p, double t)
{
    double mib = (double)p->bytes / (1024.0 * 1024.0), secs = t - p->start;

    (void)fprintf(stderr, "\r\033[K%s: %.1f MiB, %.1f MiB/s", p->label, mib,
                  secs > 0 ? mib / secs : 0.0);
}

void
cf_progress_add(struct cf_progress *p, uint64_t n)
{
    double t;

    p->bytes += n;
    if (!p->is_active)
        return;
    t = now();
    if (t - p->last < 0.2)
        return;
    p->last = t;
    draw(p, t);
}

void
cf_progress_end(struct cf_progress *p)
{
    if (p->is_active)
        (void)fprintf(stderr, "\r\033[K");
    p->is_active = false;
}
