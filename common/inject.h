/*
 * inject.h - injection points for the fault tests.
 *
 * In the spirit of PostgreSQL's injection points: a build made with
 * -DCF_INJECTION_POINTS (the sanitizer build that the integration tests run)
 * reads COFFRE_INJECT once, a comma-separated list of
 *
 *     point[@n]=action        action: kill | term | stop
 *
 * and, the n-th time (default: the first) the named point is reached, says so
 * on stderr and then kills itself with SIGKILL ("kill": the same as kill -9
 * at that moment), sends itself SIGTERM ("term": what systemd sends, which
 * the command notices at its next cancellation check) or stops itself with
 * SIGSTOP ("stop": the test does something meanwhile, then sends SIGCONT).  Any other build
 * compiles every point to nothing: a production binary has no hidden switch.
 *
 * The points, and the stage of each command they stand for, are listed in
 * docs/reliability.md.
 */
#ifndef CF_INJECT_H
#define CF_INJECT_H

#ifdef CF_INJECTION_POINTS
void cf_inject_point(const char *name);
#define CF_INJECT(name) cf_inject_point(name)
#else
#define CF_INJECT(name) ((void)0)
#endif

#endif
