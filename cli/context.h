/*
 * context.h - what a command runs against: the configuration, the
 * repository's storage driver, the keyring and the struct cf_repo that joins
 * them.
 *
 * Opening is a library call with no global state, so one process can hold
 * two contexts (two instances, or two repositories).  The engines never open
 * a context: they take borrowed pointers to its parts (struct cf_repo, the
 * configuration sections they use).
 */
#ifndef CF_CLI_CONTEXT_H
#define CF_CLI_CONTEXT_H

#include "common/config.h"
#include "pkcs11/keyring.h"
#include "storage/repo.h"

/* What a command needs opened before it runs. */
enum cf_need {
    CF_NEED_CONFIG = 1,      /* the configuration file */
    CF_NEED_STORAGE = 2,     /* the repository driver (posix directory, S3 bucket check) */
    CF_NEED_KEYS = 4,        /* the PKCS#11 module (no login until a key is used) */
    CF_NEED_ALL = 7
};

struct cf_context {
    struct cf_config *cfg;   /* owned */
    struct cf_storage *st;   /* owned; NULL without CF_NEED_STORAGE */
    struct cf_keyring *kr;   /* owned; NULL without CF_NEED_KEYS */
    struct cf_repo repo;     /* borrows st, kr's keyops and cfg's instance */
    char hsm_lock[4096];     /* <state_dir>/hsm.lock: serialises HSM logins (pkcs11/p11.h) */
    char head_file[4096];    /* <state_dir>/newest-backup.json (storage/repohead.c) */
    char repo_identity[2048]; /* cf_repo_conf_identity of the configured repository */
};

/*
 * Load the configuration at config_path, log its warnings, and open what
 * needs asks for.  *out is set only on success; on failure everything opened
 * so far is released.
 */
cf_err cf_context_open(const char *config_path, unsigned needs, struct cf_context **out,
                       struct cf_error *err);
/*
 * Open what a context opened with CF_NEED_CONFIG alone still lacks: the
 * storage, or the keyring (coffre check opens each itself to report each
 * failure as a check).  The struct cf_repo is updated.
 */
cf_err cf_context_open_storage(struct cf_context *c, struct cf_error *err);
cf_err cf_context_open_keys(struct cf_context *c, struct cf_error *err);
/* Close the keyring and the storage, free the configuration.  NULL-safe. */
void cf_context_free(struct cf_context *c);

#endif
