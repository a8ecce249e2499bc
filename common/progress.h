/*
 * progress.h - a one-line progress display for long transfers.
 *
 * Active only when stderr is a terminal and the log level is info or more
 * verbose: under systemd, in CI and in pipes nothing is printed.  Redraws
 * at most five times a second.
 */
#ifndef CF_PROGRESS_H
#define CF_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct cf_progress {
    char label[128];
    uint64_t bytes;
    double start, last;
    bool is_active;
};

void cf_progress_start(struct cf_progress *p, const char *label);
void cf_progress_add(struct cf_progress *p, uint64_t n);
void cf_progress_end(struct cf_progress *p);

#endif
