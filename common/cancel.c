/*
 * cancel.c - orderly stop on signals (see cancel.h).
 */
#include "common/cancel.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t received;
static unsigned held;          /* cf_cancel_hold depth */
static unsigned alarm_seconds; /* the time limit set by cf_cancel_alarm, for its message */

static void
on_signal(int sig)
{
    received = sig;
}

void
cf_cancel_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    (void)sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking I/O returns EINTR */
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGHUP, &sa, NULL);
}

void
cf_cancel_alarm(unsigned seconds)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    (void)sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    (void)sigaction(SIGALRM, &sa, NULL);
    alarm_seconds = seconds;
    (void)alarm(seconds);
}

bool
cf_cancel_timed_out(void)
{
    return received == SIGALRM;
}

bool
cf_cancel_requested(void)
{
    return received != 0 && held == 0;
}

void
cf_cancel_hold(void)
{
    held++;
}

void
cf_cancel_release(void)
{
    if (held > 0)
        held--;
}

void
cf_cancel_reset(void)
{
    received = 0;
}

cf_err
cf_cancel_check(struct cf_error *err)
{
    int sig = received;

    if (sig == 0 || held > 0)
        return CF_OK;
    if (sig == SIGALRM)
        cf_error_setf(err, CF_ERR_CANCELLED, "interrupted: the time limit of %u s was reached",
                      alarm_seconds);
    else
        cf_error_setf(err, CF_ERR_CANCELLED, "interrupted by signal %s",
                      sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP");
    cf_error_detail(err, "The operation was stopped before it completed; nothing was recorded "
                         "as done.");
    return CF_ERR_CANCELLED;
}
