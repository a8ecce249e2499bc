/*
 * manifest.h - what a backup contains, written last as its own object.
 *
 * A backup whose manifest object is missing is incomplete and is never
 * listed as restorable.  The manifest is JSON (jansson), stored encrypted
 * like every other object; its format is documented in docs/object-format.md.
 * Parsing is strict: a missing or mistyped field is CF_ERR_CORRUPT.
 */
#ifndef CF_MANIFEST_H
#define CF_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/kind.h"

#define CF_MANIFEST_FORMAT 1

struct cf_table_count {
    char *name;          /* "schema"."table", quoted as by quote_ident */
    int64_t rows;
};

struct cf_manifest_object {
    char *name;          /* path within the backup, e.g. "db/app.dump" */
    enum cf_object_kind kind; /* dump, globals, base_tar, pg_manifest (by name in the JSON) */
    char *database;      /* dumps: the database; NULL for globals */
    char sha256[65];     /* of the plaintext, hex */
    uint64_t plain, compressed, stored;
    struct cf_table_count *tables;
    size_t n_tables;
    double count_seconds; /* time spent counting rows */
    /* dumps, from the dump's snapshot, for drills (absent from older manifests): */
    bool has_content;     /* sequences and large_objects were recorded */
    char **sequences;     /* "schema"."sequence", quoted as by quote_ident */
    size_t n_sequences;
    int64_t large_objects; /* large objects the dump carries */
};

struct cf_manifest_tablespace {
    uint32_t oid;        /* 0 for the main data directory (pg_default, pg_global) */
    char *location;      /* the tablespace's directory on the server; NULL for oid 0 */
    char *object;        /* the object holding its tar, e.g. "base.tar", "16385.tar" */
};

/* Physical backups (kind "physical") only: what PostgreSQL reported. */
struct cf_manifest_physical {
    char *start_lsn, *stop_lsn;      /* "X/X" as PostgreSQL prints them */
    uint32_t start_timeline, stop_timeline;
    char *wal_start, *wal_stop;      /* first and last WAL segment needed for consistency */
    uint64_t wal_segment_size;       /* bytes */
    bool from_standby;
    uint64_t system_identifier;      /* IDENTIFY_SYSTEM's; 0: not recorded (older backups) */
    char *pg_manifest;               /* object name of the server's backup_manifest */
    struct cf_manifest_tablespace *tablespaces;
    size_t n_tablespaces;
};

struct cf_manifest {
    char *id;
    char *instance;
    char *kind;          /* "logical" | "physical" */
    char *formula;       /* "onprem" | "managed" */
    char *schema;        /* managed: the tenant's schema, else NULL */
    int pg_version_num;  /* server_version_num */
    char *pg_version;    /* server_version */
    char *hostname;
    char *coffre_version;
    int64_t start_time, stop_time;   /* seconds since the epoch, UTC */
    char *globals_note;  /* why globals were not dumped, or NULL */
    char *retention_class; /* "daily" | "weekly" | "monthly", decided when taken */
    int64_t expires;     /* when the class's period ends (seconds) */
    int64_t lock_until;  /* Object Lock retain-until date of its objects; 0: none */
    struct cf_manifest_object *objects;
    size_t n_objects;
    struct cf_manifest_physical *physical;  /* NULL for logical backups */
    /*
     * The instance's newest complete backup when this one was written, so a
     * replaced or deleted manifest is detectable (absent in the first backup
     * and in manifests written before signatures): its id, the SHA-256 of its
     * manifest object's plaintext, and its retention end.
     */
    char *previous_id;
    char previous_sha256[65];
    int64_t previous_expires;
    /* Not stored: filled by the reader (storage/repo.c). */
    bool is_signed;
    char signer[65]; /* hex id of the key that signed it, when signed */
};

/* Serialize (indented JSON).  *out is malloc'd, NUL-terminated. */
cf_err cf_manifest_to_json(const struct cf_manifest *m, char **out, size_t *len,
                           struct cf_error *err);
/* what names the manifest in messages. */
cf_err cf_manifest_from_json(const char *json, size_t len, const char *what,
                             struct cf_manifest **out, struct cf_error *err);
void cf_manifest_free(struct cf_manifest *m);       /* NULL-safe, frees m itself */
void cf_manifest_clear(struct cf_manifest *m);      /* frees the contents only */

/* Append an object (contents moved in; o is zeroed).  CF_ERR_NOMEM only. */
cf_err cf_manifest_add(struct cf_manifest *m, struct cf_manifest_object *o, struct cf_error *err);
void cf_manifest_object_clear(struct cf_manifest_object *o);

/* "2026-11-22T02:00:00Z" */
void cf_format_time(int64_t t, char *buf, size_t size);
/* The reverse of cf_format_time; -1 if s is not of that form. */
int64_t cf_parse_time(const char *s);
/* The plaintext bytes of every object of m: what the backup holds before compression. */
uint64_t cf_manifest_plain_bytes(const struct cf_manifest *m);

#endif
