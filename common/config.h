/*
 * config.h - the coffre configuration file (INI, parsed with libinih).
 *
 * One file per protected instance.  Every key is documented in
 * docs/configuration.md.  Parsing is strict: an unknown section or key, a
 * bad value, a duplicate key or a missing required key is a CF_ERR_CONFIG
 * whose message names FILE:LINE and the key, e.g.
 *   /etc/coffre/acme.conf:7: unknown key "retention.dayly"
 *   /etc/coffre/acme.conf:3: invalid value for "coffre.formula": "cloud"
 *   /etc/coffre/acme.conf: missing required key "keys.kek"
 * Inline comments start with " ;" or " #".
 */
#ifndef CF_CONFIG_H
#define CF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define CF_CONFIG_DEFAULT_PATH "/etc/coffre/coffre.conf"
#define CF_CONFIG_MAX_LIST 16

enum cf_formula { CF_FORMULA_ONPREM = 1, CF_FORMULA_MANAGED = 2 };
enum cf_repo_type { CF_REPO_POSIX = 1, CF_REPO_S3 = 2 };

struct cf_config {
    char *path;                       /* the file that was read */

    /* [coffre] */
    char *instance;                   /* required; [A-Za-z0-9_.-]{1,64} */
    enum cf_formula formula;          /* required */

    /* [postgres] */
    char *conninfo;                   /* required; must not contain a password */
    char *databases[CF_CONFIG_MAX_LIST]; /* empty: every connectable non-template database */
    size_t n_databases;
    char *schema;                     /* required when formula = managed */
    char *bindir;                     /* where pg_dump/pg_restore live; default:
                                         /usr/lib/postgresql/<server major>/bin, then PATH */

    /* [repository] */
    enum cf_repo_type repo_type;      /* required */
    char *repo_path;                  /* posix: required, absolute */
    char *s3_endpoint;                /* s3: required, http:// or https:// URL */
    char *s3_bucket;                  /* s3: required */
    char *s3_region;                  /* s3: default "us-east-1" */
    char *s3_prefix;                  /* s3: key prefix, default none */
    bool s3_host_style;               /* uri_style = host (default path) */
    char *s3_ca_file;                 /* s3: CA bundle for https */
    char *s3_access_key_file;         /* s3: else $CREDENTIALS_DIRECTORY/coffre-s3-access-key, */
    char *s3_secret_key_file;         /*     else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY */
    bool s3_governance;               /* lock_mode = governance (default compliance) */
    bool s3_allow_unlocked;           /* allow_unlocked_bucket: write to a bucket without Object
                                         Lock, with a warning on every run (default false) */
    size_t s3_part_size;              /* multipart part size, default 16 MiB, 5 MiB..1 GiB */
    unsigned s3_parts_in_flight;      /* parallel part uploads, default 2, 1..16 */

    /* [retention] (used by prune; parsed now so files are future-proof) */
    unsigned daily, weekly, monthly, min_keep;   /* 7, 4, 12, 3 */
    int64_t lock_margin;              /* seconds added to Object Lock dates, default 1 day */
    int64_t stale_after;              /* incomplete backups and unfinished uploads older than
                                         this are leftovers for prune, default 1 day */

    /* [compression] */
    int zstd_level;                   /* 1..19, default 3 */
    unsigned zstd_workers;            /* 0 = single-threaded (default), up to 64 */

    /* [encryption] */
    size_t chunk_size;                /* bytes; default 65536; 4 KiB..4 MiB; "64k", "1M" accepted */

    /* [backup] */
    bool row_counts;                  /* count rows per table in the dump's snapshot;
                                         default true */

    /* [wal] (physical backups, archiving, streaming) */
    char *wal_spool;                  /* local spool directory;
                                         default /var/lib/coffre/<instance> */
    int64_t wal_upload_interval;      /* wal-stream: upload the current partial segment this
                                         often (seconds), default 60 */
    char *wal_slot;                   /* wal-stream: physical slot, default coffre_<instance>
                                         (lower case, [a-z0-9_]) */
    bool wal_synchronous;             /* wal-stream: report flush at once, for use in
                                         synchronous_standby_names (default false) */
    bool wal_async;                   /* wal-push: push ready segments in parallel through the
                                         spool and acknowledge from it (default false) */
    unsigned wal_push_jobs;           /* wal-push async: parallel uploads, default 4, 1..32 */
    size_t wal_spool_max;             /* wal-push async / wal-get read-ahead: bytes the spool may
                                         hold, default 1 GiB */
    unsigned wal_readahead;           /* wal-get: segments fetched ahead, default 4, 0..64 */
    int64_t wal_archive_timeout;      /* backup --physical: how long to wait for the WAL it needs
                                         to reach the repository (seconds), default 300 */

    /* [metrics] (docs/operations.md) */
    bool ops_enabled;                 /* a [metrics] or [alerts] key is set: backup, prune and
                                         verify record their result, write the metrics and
                                         evaluate the alerts */
    char *metrics_textfile;           /* Prometheus textfile written after every run; absent:
                                         no metrics */
    char *state_dir;                  /* last run of each kind and alert states, default
                                         <wal.spool>/state */

    /* [alerts] thresholds (seed defaults) and receivers; no receiver: alerts only logged */
    int64_t alert_age_warning;        /* newest complete backup older than this: 6 h */
    int64_t alert_age_critical;       /* 25 h */
    size_t alert_free_warning;        /* free space in the repository (posix) or state dir
                                         below this: 5 GiB */
    size_t alert_free_critical;       /* 1 GiB */
    int64_t alert_wal_lag_warning;    /* newest archived WAL older than this: 30 min */
    int64_t alert_wal_lag_critical;   /* 2 h */
    int64_t alert_reminder;           /* repeat a firing alert this often, 0 never; 4 h */
    char *alert_webhook_url;          /* Alertmanager-style JSON POST */
    char *alert_smtp_url;             /* smtp://host:port or smtps://host:port */
    char *alert_smtp_from;
    char *alert_smtp_to[CF_CONFIG_MAX_LIST];
    size_t n_alert_smtp_to;
    char *alert_smtp_user;
    char *alert_smtp_password_file;   /* else $CREDENTIALS_DIRECTORY/coffre-smtp-password */
    bool alert_smtp_starttls;         /* smtp://: require STARTTLS (default true) */
    char *alert_telegram_api;         /* default https://api.telegram.org */
    char *alert_telegram_chat_id;
    char *alert_telegram_token_file;  /* else $CREDENTIALS_DIRECTORY/coffre-telegram-token */
    char *alert_ca_file;              /* CA bundle for https/smtps receivers */

    /* [keys] */
    char *module;                     /* required */
    char *keks[CF_CONFIG_MAX_LIST];
    size_t n_keks;                    /* required, >= 1 */
    char *pin_file;                   /* optional: else $CREDENTIALS_DIRECTORY/coffre-hsm-pin */
};

/* Read and validate path.  *out is set only on success. */
cf_err cf_config_load(const char *path, struct cf_config **out, struct cf_error *err);
/* Parse from memory (tests, fuzzing).  name is used in messages as the file name. */
cf_err cf_config_parse(const char *name, const char *text, struct cf_config **out,
                       struct cf_error *err);
void cf_config_free(struct cf_config *cfg);   /* NULL-safe */

#endif
