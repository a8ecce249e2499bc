/*
 * cancel.h - orderly stop on SIGINT, SIGTERM and SIGHUP.
 *
 * The handler only records the signal (installed without SA_RESTART, so a
 * blocking read or write returns EINTR).  Loops that move data check
 * cf_cancel_check() and fail with CF_ERR_CANCELLED, so the normal error path
 * runs: temporary objects are removed, children killed, a temporary
 * database dropped, and the exit status is 8.
 */
#ifndef CF_CANCEL_H
#define CF_CANCEL_H

#include <stdbool.h>

#include "common/error.h"

void cf_cancel_install(void);
/*
 * A time limit: SIGALRM after seconds (0: none, and cancels an earlier one)
 * stops the operation like SIGTERM, reported as "interrupted: the time limit
 * of N s was reached".
 */
void cf_cancel_alarm(unsigned seconds);
/* The stop came from the time limit. */
bool cf_cancel_timed_out(void);
bool cf_cancel_requested(void);
/* CF_OK, or CF_ERR_CANCELLED "interrupted by signal SIGTERM" once a signal arrived. */
cf_err cf_cancel_check(struct cf_error *err);
/* Forget a received signal: a service that has begun its orderly stop
 * (wal-stream: flush and upload what it holds) lets that last work run; a
 * second signal interrupts it again. */
void cf_cancel_reset(void);
/*
 * A step that must end once begun (the check after a backup's manifest is
 * stored: cut short, the backup would be reported as failed while the
 * repository lists it complete): between cf_cancel_hold() and
 * cf_cancel_release() (nested), a signal is recorded but neither
 * cf_cancel_requested() nor cf_cancel_check() report it; after the last
 * release they do.
 */
void cf_cancel_hold(void);
void cf_cancel_release(void);

#endif
