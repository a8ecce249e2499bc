/*
 * keys.h - the key engines: create key-encryption keys in the HSM, describe
 * the configured ones, and check them against what the repository's objects
 * need.  (export-public and import-public are keyring calls:
 * pkcs11/keyring.h.)
 */
#ifndef CF_KEYS_H
#define CF_KEYS_H

#include <stdbool.h>

#include "common/config.h"
#include "pkcs11/keyring.h"
#include "storage/repo.h"

/* keys init: create each URI as a non-extractable, sensitive key on its token. */
struct cf_keys_init_opts {
    struct cf_keyring *kr;
    const char *const *uris;
    size_t n_uris;
    enum cf_kek_type type;      /* AES-256 (default) or an RSA key pair */
    unsigned rsa_bits;          /* 0: the keyring's default */
    bool with_signer;           /* then create the signing key (keys.sign) */
};
/* *n_created: how many of uris (in order) were created, also on failure; the signing
 * key is created after them. */
cf_err cf_keys_init_run(const struct cf_keys_init_opts *opts, size_t *n_created,
                        struct cf_error *err);

/* keys list: each configured KEK and whether it is reachable. */
struct cf_keys_list_result {
    struct cf_kek_status *keks;  /* one per configured KEK */
    size_t n, unreachable;
};
/* CF_ERR_KEY when a configured key is unreachable (res filled all the same). */
cf_err cf_keys_list_run(struct cf_keyring *kr, const struct cf_keys_conf *keys,
                        struct cf_keys_list_result *res, struct cf_error *err);
void cf_keys_list_result_clear(struct cf_keys_list_result *res);

/* keys check: every KEK wraps and unwraps, and which KEKs the stored objects need. */
struct cf_key_need {
    char uri[CF_RECIPIENT_URI_MAX + 1];
    size_t backups;             /* how many backups have an object wrapped for it */
    bool is_configured;         /* among keys.kek here */
    char last_id[CF_OBJECT_ID_MAX + 1];
};
struct cf_keys_check_result {
    size_t n_keks;              /* configured keys, all of which wrap and unwrap */
    bool signer_ok;             /* the signing key signs, and verifies what it signed */
    struct cf_key_need *needs;
    size_t n_needs, cap;
    size_t objects, unreadable; /* objects read; those without a readable header */
};
/* CF_ERR_CORRUPT when some object has no readable header (res filled all the same). */
cf_err cf_keys_check_run(struct cf_keyring *kr, const struct cf_keys_conf *keys,
                         const struct cf_repo *repo, struct cf_keys_check_result *res,
                         struct cf_error *err);
void cf_keys_check_result_clear(struct cf_keys_check_result *res);

#endif
