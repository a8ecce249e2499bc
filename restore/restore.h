/*
 * restore.h - the logical restore engine: one database dump of a backup
 * (or one schema or table of it) into a database, through pg_restore.
 *
 * Nothing half-restored may look like a good database:
 *   create     restore into a temporary database "<target>_coffre_<pid>",
 *              renamed to the target only after pg_restore succeeded and
 *              every byte passed its AEAD and sha256 checks; dropped on any
 *              failure.  The target must not exist.
 *   replace    the same, but the target may exist: on success it is renamed
 *              "<target>_old_<time>" (kept, never dropped by coffre) and the
 *              new database takes its name.
 *   otherwise  the target must exist and be empty (with alongside: must not
 *              hold that schema); the object is verified
 *              first, then streamed into pg_restore --single-transaction, so
 *              a failure rolls everything back.
 *   jobs > 1, schema, table
 *              the object is first decrypted and verified into a private
 *              temporary file ($TMPDIR), which pg_restore reads: -j N needs a
 *              seekable archive, and a selective restore needs the archive's
 *              table of contents to include the schema itself (pg_restore -n
 *              restores the objects in a schema, not the schema).
 */
#ifndef CF_RESTORE_RESTORE_H
#define CF_RESTORE_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/repo.h"

struct cf_restore_opts {
    const struct cf_repo *repo;
    const char *id;
    const char *target;     /* conninfo naming the target database (no password) */
    const char *db;         /* which dump of the backup; NULL: its only one */
    const char *schema;     /* restore only this schema */
    const char *table;      /* restore only this table (with schema to qualify it) */
    unsigned jobs;          /* parallel pg_restore; 0 or 1: stream */
    const char *alongside;  /* neither create nor replace: the target may hold other schemas
                               (a shared database); only this one, which the archive creates,
                               must not exist there (migrations into the managed formula) */
    bool create;            /* the target database must not exist */
    bool replace;           /* swap in a new database for an existing one */
    bool no_owner;          /* pg_restore --no-owner */
    bool no_acl;            /* pg_restore --no-privileges (the roles do not exist there) */
    bool no_tablespaces;    /* pg_restore --no-tablespaces (a scratch server has none) */
    bool definitions;       /* with table: restore every definition of the archive first (its
                               pre-data: types, functions, tables), then only the table's
                               data, so a table whose types live in its schema loads */
    bool timed;             /* measure the phases (drills): decrypt and verify into a file,
                               then pg_restore the schema and data, then the indexes,
                               constraints and triggers (post-data); needs create or replace */
    const char *bindir;     /* [postgres] bindir, or NULL */
    const char *tmpdir;     /* where a file restore decrypts the archive: NULL, $TMPDIR, /tmp */
};

struct cf_restore_result {
    char database[64];      /* the database the dump was taken from */
    char target_db[64];     /* the database restored into */
    char old_db[64];        /* replace: where the previous database was kept; "" otherwise */
    uint64_t plain_bytes;   /* the dump's size */
    double seconds;
    /* with timed: */
    double fetch_seconds;   /* read, decrypt, decompress and verify into the file */
    double data_seconds;    /* pg_restore --section=pre-data --section=data */
    double index_seconds;   /* pg_restore --section=post-data */
};

/* On failure nothing is left that looks restored (see above); res is filled on success. */
cf_err cf_restore_run(const struct cf_restore_opts *opts, struct cf_restore_result *res,
                      struct cf_error *err);

/*
 * Selective restores: the -L list for pg_restore, from the archive's whole
 * table of contents (`pg_restore --list`) and the entries pg_restore selects
 * for -n/-t (`--list` with them), plus the schema's own entries (SCHEMA, its
 * COMMENT and ACL), in archive order.  Returns the number of lines written
 * to out (malloc'd, newline-terminated lines).
 */
size_t cf_restore_filter_toc(const char *all, const char *selected, const char *schema,
                             char **out);

#endif
