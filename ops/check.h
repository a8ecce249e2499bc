/*
 * check.h - `coffre check`: after editing the configuration, check in one
 * run what every command will need (PostgreSQL and the role's rights, WAL
 * archiving, the repository, the keys, the local directories, the alert
 * receivers).  Each check gives a verdict, a detail and, unless ok, a hint;
 * the engine never stops at the first failure.
 */
#ifndef CF_OPS_CHECK_H
#define CF_OPS_CHECK_H

#include <stdbool.h>

#include "common/config.h"
#include "common/error.h"
#include "pkcs11/keyring.h"
#include "storage/repo.h"

enum cf_check_verdict { CF_CHECK_OK = 0, CF_CHECK_WARNING, CF_CHECK_FAILED };

#define CF_CHECK_MAX 16

struct cf_check_item {
    char name[16]; /* config, postgres, globals, archiving, repository, ... */
    enum cf_check_verdict verdict;
    cf_err code; /* the error class of a failed check (its exit status) */
    char detail[768];
    char hint[512]; /* what to do; empty when ok */
};

struct cf_check_result {
    struct cf_check_item items[CF_CHECK_MAX];
    size_t n;
    size_t n_failed, n_warning;
    cf_err first_failed; /* the class of the first failed check; CF_OK if none */
};

struct cf_check_opts {
    const char *config_path;
    const char *const *config_warnings; /* what the loader warned about */
    size_t n_config_warnings;
    enum cf_formula formula;
    const struct cf_pg_conf *pg;
    const struct cf_wal_conf *wal;
    const char *state_dir;                 /* [coffre] state_dir */
    const struct cf_metrics_conf *metrics; /* textfile, state_dir */
    const struct cf_alerts_conf *alerts;   /* receivers */
    const struct cf_repo_conf *repo_conf;  /* type, for the repository line */
    const struct cf_repo *repo;            /* repo->st NULL: the storage did not open */
    const struct cf_error *storage_err;    /* why, when repo->st is NULL */
    struct cf_keyring *kr;                 /* NULL: the PKCS#11 module did not load */
    const struct cf_error *keys_err;       /* why, when kr is NULL */
    bool archive_check;                    /* force a WAL switch and wait for it */
};

/* Run every check into res; returns CF_OK (the verdicts are in res). */
void cf_check_run(const struct cf_check_opts *o, struct cf_check_result *res);

/* "ok", "warning", "failed" */
const char *cf_check_verdict_name(enum cf_check_verdict v);

#endif
