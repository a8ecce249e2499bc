/*
 * prune.h - the prune engine: apply the retention policy.
 *
 * The plan is policies/retention.c's (pure); the engine gathers the facts
 * (backups, their classes and lock dates from their manifests), carries the
 * plan out, removes WAL that no retained physical backup needs, and aborts
 * unfinished uploads older than [retention] stale_after.  A backup is deleted
 * manifest first, so that an interrupted prune leaves an incomplete backup,
 * never a complete-looking one with objects missing.  An object the storage
 * refuses to delete because of its lock is skipped with a reason: WORM wins.
 */
#ifndef CF_PRUNE_H
#define CF_PRUNE_H

#include <stdbool.h>

#include "common/config.h"
#include "storage/repo.h"

struct cf_prune_opts {
    const struct cf_repo *repo;
    const struct cf_retention_conf *retention;
    bool dry_run;                 /* decide and report, change nothing */
    /*
     * NULL, or a check that this host's keys work (cf_keyring_check): called
     * when a manifest could not be read.  Such a backup is kept either way; if
     * the keys themselves fail (the HSM gone, the token absent), the run fails
     * with that error once it has done the rest, instead of passing as a prune
     * that found nothing to do.  A host that simply cannot read those manifests
     * (write-only, a retired KEK) passes the check and the run succeeds.
     * A manifest the repository failed to give (timeout, refusal, I/O) fails
     * the run with that error whatever the keys say.
     */
    cf_err (*keys_check)(void *arg, struct cf_error *err);
    void *keys_check_arg;
};

enum cf_prune_subject { CF_PRUNE_SUBJECT_BACKUP, CF_PRUNE_SUBJECT_WAL, CF_PRUNE_SUBJECT_UPLOAD };

/* One decision: what, the verb ("keep", "deleted", "would delete", "skipped", "aborted",
 * "would abort"), why. */
struct cf_prune_entry {
    enum cf_prune_subject subject;
    char name[CF_STORAGE_KEY_MAX + 1];   /* backup id, the WAL cut-off LSN, or an upload's key */
    char verb[16];
    char reason[512];
    size_t objects, locked;              /* WAL: objects deleted (or that would be), locked */
};

struct cf_prune_result {
    struct cf_prune_entry *entries;      /* backups oldest first, then WAL, then uploads */
    size_t n, cap;
    size_t examined, deleted;            /* backups */
};

/* res holds every decision made, also when the run fails half-way. */
cf_err cf_prune_run(const struct cf_prune_opts *opts, struct cf_prune_result *res,
                    struct cf_error *err);
void cf_prune_result_clear(struct cf_prune_result *res);
/* A new entry at the end of res (NULL when out of memory). */
struct cf_prune_entry *cf_prune_result_add(struct cf_prune_result *res,
                                           enum cf_prune_subject subject, const char *name,
                                           const char *verb);

#endif
