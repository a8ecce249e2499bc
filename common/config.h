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

/*
 * The configuration is a set of sections; each module receives only the
 * sections it uses (docs/architecture.md).  Strings are owned by the
 * struct cf_config they belong to and freed by cf_config_free().
 */

/* [postgres] */
struct cf_pg_conf {
    char *conninfo;                   /* required; must not contain a password */
    char *databases[CF_CONFIG_MAX_LIST]; /* empty: every connectable non-template database */
    size_t n_databases;
    char *schema;                     /* required when formula = managed */
    char *bindir;                     /* where pg_dump/pg_restore live; default:
                                         /usr/lib/postgresql/<server major>/bin, then PATH */
};

/*
 * [repository] type = s3: the S3 driver's options (storage/s3/s3.h), filled
 * by the configuration, or by a caller that builds them itself.
 */
struct cf_s3_options {
    char *endpoint;                   /* required, "https://host[:port]" or "http://..." */
    char *bucket;                     /* required */
    char *region;                     /* NULL: "us-east-1" */
    char *prefix;                     /* key prefix, NULL or "": none */
    bool host_style;                  /* uri_style = host: virtual-hosted-style URLs */
    char *ca_file;                    /* NULL: system CAs; verification is always on */
    char *access_key_file;            /* else $CREDENTIALS_DIRECTORY/coffre-s3-access-key, */
    char *secret_key_file;            /*     else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY */
    bool governance;                  /* lock_mode = governance (default compliance) */
    bool allow_unlocked;              /* allow_unlocked_bucket: write to a bucket without Object
                                         Lock, with a warning on every run (default false) */
    size_t part_size;                 /* multipart part size, default 16 MiB, 5 MiB..1 GiB */
    unsigned parts_in_flight;         /* parallel part uploads, default 2, 1..16 */
    unsigned max_attempts;            /* not configurable: 0 = driver default (6) */
    long connect_timeout_ms;          /* not configurable: 0 = 10 s */
    long low_speed_seconds;           /* not configurable: 0 = 30 s below 1 KiB/s */
};

struct cf_repo_conf {
    enum cf_repo_type type;           /* required */
    char *path;                       /* posix: required, absolute */
    struct cf_s3_options s3;          /* s3 */
};

/* "posix <path> <instance>" or "s3 <endpoint> <bucket> <prefix> <instance>": which
 * repository and instance a local record (a spool marker, the newest-backup record)
 * is about, so that none survives a change of repository in the configuration. */
void cf_repo_conf_identity(const struct cf_repo_conf *rc, const char *instance, char *buf,
                           size_t size);

/* [retention] */
struct cf_retention_conf {
    unsigned daily, weekly, monthly, min_keep;   /* 7, 4, 12, 3 */
    int64_t lock_margin;              /* seconds added to Object Lock dates, default 1 day */
    int64_t stale_after;              /* incomplete backups and unfinished uploads older than
                                         this are leftovers for prune, default 1 day */
};

/* [compression] and [encryption]: how new objects are written */
struct cf_object_conf {
    int zstd_level;                   /* 1..19, or 0: auto (the default) */
    unsigned zstd_workers;            /* 0 = single-threaded, up to 64 */
    bool zstd_workers_auto;           /* workers = auto (the default): the command picks */
    size_t chunk_size;                /* bytes; default 65536; 4 KiB..4 MiB; "64k", "1M" */
};

/* [backup] */
struct cf_backup_conf {
    bool row_counts;                  /* count rows per table in the dump's snapshot;
                                         default true */
};

/* [wal] (physical backups, archiving, streaming) */
struct cf_wal_conf {
    int64_t upload_interval;          /* wal-stream: upload the current partial segment this
                                         often (seconds), default 60 */
    char *slot;                       /* wal-stream: physical slot, default coffre_<instance>
                                         (lower case, [a-z0-9_]) */
    bool synchronous;                 /* wal-stream: report flush at once, for use in
                                         synchronous_standby_names (default false) */
    bool async;                       /* wal-push: push ready segments in parallel through the
                                         spool and acknowledge from it (default false) */
    unsigned push_jobs;               /* wal-push async: parallel uploads, default 4, 1..32 */
    size_t spool_max;                 /* wal-push async / wal-get read-ahead: bytes the spool may
                                         hold, default 1 GiB */
    unsigned readahead;               /* wal-get: segments fetched ahead, default 4, 0..64 */
    int64_t archive_timeout;          /* backup --physical: how long to wait for the WAL it needs
                                         to reach the repository (seconds), default 300 */
};

/* [metrics] (docs/operations.md) */
struct cf_metrics_conf {
    bool ops_enabled;                 /* a [metrics] or [alerts] key is set: backup, prune and
                                         verify record their result, write the metrics and
                                         evaluate the alerts */
    char *textfile;                   /* Prometheus textfile written after every run; absent:
                                         no metrics */
    char *state_dir;                  /* last run of each kind and alert states, default
                                         <coffre.state_dir>/state */
};

/* [alerts] thresholds (seed defaults) and receivers; no receiver: alerts only logged */
struct cf_alerts_conf {
    int64_t age_warning;              /* newest complete backup older than this: 6 h */
    int64_t age_critical;             /* 25 h */
    size_t free_warning;              /* free space in the repository (posix) or state dir
                                         below this: 5 GiB */
    size_t free_critical;             /* 1 GiB */
    int64_t wal_lag_warning;          /* newest archived WAL older than this: 30 min */
    int64_t wal_lag_critical;         /* 2 h */
    int64_t reminder;                 /* repeat a firing alert this often, 0 never; 4 h */
    int64_t drill_age_warning;        /* no successful drill for longer than this: 8 days */
    int64_t drill_age_critical;       /* 95 days (a quarter and a few days) */
    char *webhook_url;                /* Alertmanager-style JSON POST */
    char *smtp_url;                   /* smtp://host:port or smtps://host:port */
    char *smtp_from;
    char *smtp_to[CF_CONFIG_MAX_LIST];
    size_t n_smtp_to;
    char *smtp_user;
    char *smtp_password_file;         /* else $CREDENTIALS_DIRECTORY/coffre-smtp-password */
    bool smtp_starttls;               /* smtp://: require STARTTLS (default true) */
    char *telegram_api;               /* default https://api.telegram.org */
    char *telegram_chat_id;
    char *telegram_token_file;        /* else $CREDENTIALS_DIRECTORY/coffre-telegram-token */
    char *ca_file;                    /* CA bundle for https/smtps receivers */
};

/* [drill] (docs/drill.md): targets from seed 003 */
struct cf_drill_conf {
    char *target;                     /* a staging server (conninfo) for the logical scenarios;
                                         NULL: a scratch instance coffre starts itself */
    char *check_sql;                  /* operator checks: a file of SQL queries, each must
                                         return true */
    int64_t rto_simple;               /* 30 min */
    int64_t rto_partial;              /* 2 h */
    int64_t rto_total;                /* 4 h */
    int64_t rto_pitr;                 /* 4 h */
    int64_t rpo;                      /* 1 h */
    int64_t timeout;                  /* the whole drill, default 4 h (--timeout) */
    unsigned jobs;                    /* pg_restore --jobs of the logical scenarios, default 2 */
};

/* [keys] */
struct cf_keys_conf {
    char *module;                     /* required */
    char *keks[CF_CONFIG_MAX_LIST];
    size_t n_keks;                    /* required, >= 1 */
    char *pin_file;                   /* optional: else $CREDENTIALS_DIRECTORY/coffre-hsm-pin */
    char *sign;                       /* signing key URI; NULL: "coffre-sign" on the first
                                         KEK's token (pkcs11/keyring.h) */
    char *trust[CF_CONFIG_MAX_LIST];  /* files of trusted signers' public keys */
    size_t n_trust;
    bool allow_unsigned; /* accept manifests written before signatures */
    char *read[CF_CONFIG_MAX_LIST]; /* KEKs that only unwrap (retired keys) */
    size_t n_read;
    char *require; /* an object must unwrap with this KEK; NULL: any */
};

#define CF_CONFIG_MAX_WARNINGS 4

struct cf_config {
    char *path;                       /* the file that was read */

    /* [coffre] */
    char *instance;                   /* required; [A-Za-z0-9_.-]{1,64} */
    enum cf_formula formula;          /* required */
    char *state_dir;                  /* the instance's local state: HSM lock, run records, WAL
                                         spools; default /var/lib/coffre/<instance> (alias, with
                                         a warning: [wal] spool) */

    struct cf_pg_conf pg;
    struct cf_repo_conf repo;
    struct cf_retention_conf retention;
    struct cf_object_conf object;
    struct cf_backup_conf backup;
    struct cf_wal_conf wal;
    struct cf_metrics_conf metrics;
    struct cf_alerts_conf alerts;
    struct cf_drill_conf drill;
    struct cf_keys_conf keys;

    /* what the file says that still works but should change (deprecated keys);
     * the caller logs them */
    char *warnings[CF_CONFIG_MAX_WARNINGS];
    size_t n_warnings;
};

/* Read and validate path.  *out is set only on success. */
cf_err cf_config_load(const char *path, struct cf_config **out, struct cf_error *err);
/* Parse from memory (tests, fuzzing).  name is used in messages as the file name. */
cf_err cf_config_parse(const char *name, const char *text, struct cf_config **out,
                       struct cf_error *err);
void cf_config_free(struct cf_config *cfg);   /* NULL-safe */

#endif
