/*
 * pipeline.c - build the backup and restore chains (see pipeline.h).
 */
#include "stream/pipeline.h"

#include <string.h>

#include "stream/handoff.h"
#include "stream/zstd.h"

cf_err
cf_backup_chain_new(const struct cf_keyops *keys, const struct cf_encrypt_options *enc,
                    const struct cf_compress_options *comp, struct cf_sink *terminal,
                    struct cf_backup_chain *out, struct cf_error *err)
{
    struct cf_sink *crypt = NULL, *zs = NULL, *hash = NULL;

    if (cf_encrypt_new(keys, enc, terminal, &crypt, err) != CF_OK) {
        cf_sink_free(terminal);
        return err->code;
    }
    if (cf_zstd_compress_new(comp->level, comp->workers, crypt, &zs, err) != CF_OK) {
        cf_sink_free(crypt);
        return err->code;
    }
    if (cf_hash_tap_new(zs, &hash, err) != CF_OK) {
        cf_sink_free(zs);
        return err->code;
    }
    out->head = hash;
    out->hash = hash;
    out->crypt = crypt;
    return CF_OK;
}

void
cf_backup_chain_sizes(const struct cf_backup_chain *c, struct cf_backup_sizes *sizes)
{
    cf_hash_result(c->hash, sizes->sha256, &sizes->plain);
    sizes->compressed = cf_crypt_plain_bytes(c->crypt);
    sizes->stored = cf_crypt_bytes(c->crypt);
}

cf_err
cf_restore_chain_new(const struct cf_keyops *keys, const struct cf_decrypt_expect *expect,
                     const char *what, const uint8_t *sha256, struct cf_sink *terminal,
                     struct cf_restore_chain *out, struct cf_error *err)
{
    struct cf_sink *verify = NULL, *handoff = NULL, *zs = NULL, *crypt = NULL, *next = terminal;

    if (sha256 != NULL) {
        if (cf_hash_verify_new(sha256, what, terminal, &verify, err) != CF_OK) {
            cf_sink_free(terminal);
            return err->code;
        }
        next = verify;
    }
    /* sha256 and the terminal's writes overlap decryption and zstd -d */
    if (cf_handoff_new(next, &handoff, err) != CF_OK) {
        cf_sink_free(next);
        return err->code;
    }
    next = handoff;
    if (cf_zstd_decompress_new(what, next, &zs, err) != CF_OK) {
        cf_sink_free(next);
        return err->code;
    }
    if (cf_decrypt_new(keys, expect, what, zs, &crypt, err) != CF_OK) {
        cf_sink_free(zs);
        return err->code;
    }
    memset(out, 0, sizeof(*out));
    out->head = crypt;
    out->crypt = crypt;
    out->verify = verify;
    return CF_OK;
}
