/*
 * kind.h - what a stored object is, defined once for the object header (a
 * number, stream/object.h) and the manifest (a name, common/manifest.h).
 *
 * The numbers are part of the object format (docs/object-format.md) and
 * never change; the names are what manifests store and messages print.
 * Manifests have only ever held "dump", "globals", "base_tar" and
 * "pg_manifest" (the older "base-tar" and "pg-manifest" spellings appeared
 * in messages only, never in a manifest), so each kind has exactly one name.
 */
#ifndef CF_KIND_H
#define CF_KIND_H

#include "common/error.h"

enum cf_object_kind {
    CF_OBJ_DUMP = 1,       /* pg_dump -Fc archive */
    CF_OBJ_GLOBALS = 2,    /* pg_dumpall --globals-only SQL */
    CF_OBJ_MANIFEST = 3,   /* the backup's manifest (JSON) */
    CF_OBJ_BASE_TAR = 4,   /* a tablespace's tar from BASE_BACKUP */
    CF_OBJ_WAL = 5,        /* a WAL file: segment, partial segment, history file */
    CF_OBJ_RECORD = 6,     /* a verification record (JSON) stored with its backup */
    CF_OBJ_PG_MANIFEST = 7 /* the server's backup_manifest of a physical backup */
};

/* The name of kind ("base_tar"); "unknown" for a number that is none. */
const char *cf_object_kind_name(unsigned kind);
/* The kind called name.  Anything else is CF_ERR_CORRUPT: "object \"OBJECT\"
 * has unknown kind \"NAME\"" (object names the object in the message). */
cf_err cf_object_kind_parse(const char *name, const char *object, enum cf_object_kind *out,
                            struct cf_error *err);

#endif
