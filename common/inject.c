/*
 * inject.c - injection points for the fault tests (see inject.h).
 */
#include "common/inject.h"

#ifdef CF_INJECTION_POINTS

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_POINTS 8
#define MAX_NAME 48

struct point {
    char name[MAX_NAME];
    long at; /* fire on this hit (1: the first) */
    int sig; /* SIGKILL, SIGTERM or SIGSTOP */
    atomic_long hits;
};

static struct point points[MAX_POINTS];
static size_t n_points;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
say(const char *text)
{
    /* write(2): this may run just before SIGKILL, nothing buffered may be lost */
    (void)!write(STDERR_FILENO, text, strlen(text));
}

/* "point[@n]=action": a bad entry is reported and ignored (the test then fails). */
static void
parse_one(char *item)
{
    char *eq = strchr(item, '='), *at = strchr(item, '@'), *end = NULL;
    struct point *p = &points[n_points];

    if (n_points == MAX_POINTS || eq == NULL || (at != NULL && at > eq)) {
        say("coffre: COFFRE_INJECT: ignored an entry that is not point[@n]=kill|term|stop\n");
        return;
    }
    *eq = '\0';
    p->at = 1;
    if (at != NULL) {
        *at = '\0';
        p->at = strtol(at + 1, &end, 10);
        if (*end != '\0' || p->at < 1)
            p->at = 0;
    }
    p->sig = strcmp(eq + 1, "kill") == 0   ? SIGKILL
             : strcmp(eq + 1, "term") == 0 ? SIGTERM
             : strcmp(eq + 1, "stop") == 0 ? SIGSTOP
                                           : 0;
    if (p->at == 0 || p->sig == 0 || strlen(item) == 0 || strlen(item) >= MAX_NAME) {
        say("coffre: COFFRE_INJECT: ignored an entry that is not point[@n]=kill|term|stop\n");
        return;
    }
    (void)snprintf(p->name, sizeof(p->name), "%s", item);
    atomic_init(&p->hits, 0);
    n_points++;
}

static void
parse(void)
{
    const char *env = getenv("COFFRE_INJECT");
    char *copy, *save = NULL;

    if (env == NULL || (copy = strdup(env)) == NULL)
        return;
    for (char *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save))
        parse_one(item);
    free(copy);
}

void
cf_inject_point(const char *name)
{
    char line[160];

    (void)pthread_once(&once, parse);
    for (size_t i = 0; i < n_points; i++) {
        struct point *p = &points[i];

        if (strcmp(p->name, name) != 0 || atomic_fetch_add(&p->hits, 1) + 1 != p->at)
            continue;
        (void)snprintf(line, sizeof(line), "coffre: injection point \"%s\" (hit %ld): %s\n", name,
                       p->at,
                       p->sig == SIGKILL   ? "kill -9"
                       : p->sig == SIGTERM ? "SIGTERM"
                                           : "SIGSTOP");
        say(line);
        (void)raise(p->sig);
    }
}

#endif
