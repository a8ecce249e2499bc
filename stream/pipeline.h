/*
 * pipeline.h - the two standard chains, built in one place.
 *
 *   backup:  sha256 tap -> zstd -> encrypt -> terminal
 *   restore: decrypt -> zstd -d -> sha256 verify -> terminal
 *
 * The struct keeps borrowed pointers to the inner stages so that digests
 * and sizes can be read after a successful close.  The head owns the chain.
 */
#ifndef CF_PIPELINE_H
#define CF_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "stream/crypt.h"
#include "stream/hash.h"
#include "stream/sink.h"

struct cf_backup_chain {
    struct cf_sink *head;      /* owned: write here, then close or free */
    struct cf_sink *hash;      /* borrowed */
    struct cf_sink *crypt;     /* borrowed */
};

struct cf_backup_sizes {
    uint8_t sha256[CF_SHA256_BYTES];
    uint64_t plain, compressed, stored;
};

struct cf_compress_options {
    int level;
    unsigned workers;  /* zstd worker threads; 0: compress in the calling thread */
    bool workers_auto; /* [compression] workers = auto: a command may set workers */
};

/* terminal: ownership transfers on success (and is freed on failure). */
cf_err cf_backup_chain_new(const struct cf_keyops *keys, const struct cf_encrypt_options *enc,
                           const struct cf_compress_options *comp, struct cf_sink *terminal,
                           struct cf_backup_chain *out, struct cf_error *err);
/* After a successful close. */
void cf_backup_chain_sizes(const struct cf_backup_chain *c, struct cf_backup_sizes *sizes);

struct cf_restore_chain {
    struct cf_sink *head;      /* owned */
    struct cf_sink *crypt;     /* borrowed */
    struct cf_sink *verify;    /* borrowed; NULL without an expected digest */
};

/* sha256 may be NULL (no manifest: AEAD only).  terminal: as above. */
cf_err cf_restore_chain_new(const struct cf_keyops *keys, const struct cf_decrypt_expect *expect,
                            const char *what, const uint8_t *sha256, struct cf_sink *terminal,
                            struct cf_restore_chain *out, struct cf_error *err);

#endif
