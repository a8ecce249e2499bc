/*
 * keys.h - `coffre keys init|list|check|export-public|import-public`.
 */
#ifndef CF_KEYS_H
#define CF_KEYS_H

#include "common/config.h"
#include "pkcs11/keyring.h"
#include "storage/repo.h"

extern const char cf_keys_usage[];

/* argv[0] is "keys". */
cf_err cf_cmd_keys(const struct cf_config *cfg, struct cf_keyring *kr, const struct cf_repo *repo,
                   int argc, char **argv, struct cf_error *err);

#endif
