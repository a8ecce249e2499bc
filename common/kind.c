/*
 * kind.c - object kinds: numbers and names (see kind.h).
 */
#include "common/kind.h"

#include <string.h>

static const char *const names[] = {
    [CF_OBJ_DUMP] = "dump",         [CF_OBJ_GLOBALS] = "globals",
    [CF_OBJ_MANIFEST] = "manifest", [CF_OBJ_BASE_TAR] = "base_tar",
    [CF_OBJ_WAL] = "wal",           [CF_OBJ_RECORD] = "record",
    [CF_OBJ_PG_MANIFEST] = "pg_manifest",
};

#define N_NAMES (sizeof(names) / sizeof(names[0]))

const char *
cf_object_kind_name(unsigned kind)
{
    return kind < N_NAMES && names[kind] != NULL ? names[kind] : "unknown";
}

cf_err
cf_object_kind_parse(const char *name, const char *object, enum cf_object_kind *out,
                     struct cf_error *err)
{
    for (unsigned k = 1; k < N_NAMES; k++) {
        if (names[k] != NULL && strcmp(names[k], name) == 0) {
            *out = (enum cf_object_kind)k;
            return CF_OK;
        }
    }
    cf_error_setf(err, CF_ERR_CORRUPT, "object \"%s\" has unknown kind \"%.64s\"", object, name);
    cf_error_detail(err, "Known kinds are dump, globals, manifest, base_tar, wal, record and "
                         "pg_manifest.");
    cf_error_hint(err, "The manifest was altered, or written by a newer coffre: do not trust "
                       "this backup until you know which.");
    return CF_ERR_CORRUPT;
}
