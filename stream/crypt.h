/*
 * crypt.h - envelope encryption of one object (format in object.h).
 *
 * The encrypt sink draws a fresh 256-bit DEK from libsodium's CSPRNG, has
 * the key provider wrap it for every configured KEK, writes the header and
 * then the payload as crypto_secretstream_xchacha20poly1305 chunks.  The
 * DEK and the stream state live in sodium_malloc'd memory, wiped on free.
 *
 * The decrypt sink parses the header, checks it is the object the caller
 * expects (backup id, name, kind), unwraps the DEK through the key provider
 * and pushes authenticated plaintext only: a chunk is passed on only after
 * its tag verified.  A truncated object (no TAG_FINAL chunk), bytes after
 * the final chunk, a flipped bit or a header from another object are
 * CF_ERR_CORRUPT, naming the object and the chunk.
 */
#ifndef CF_CRYPT_H
#define CF_CRYPT_H

#include <stdint.h>

#include "stream/keyops.h"
#include "stream/object.h"
#include "stream/sink.h"

struct cf_encrypt_options {
    uint8_t kind;             /* enum cf_object_kind */
    const char *backup_id;
    const char *name;         /* object path within the backup */
    uint32_t chunk_size;      /* CF_CHUNK_MIN..CF_CHUNK_MAX */
};

/* keys is borrowed and must outlive the sink.  Wrapping happens here, so a
 * key problem fails before any byte is written. */
cf_err cf_encrypt_new(const struct cf_keyops *keys, const struct cf_encrypt_options *opts,
                      struct cf_sink *next, struct cf_sink **out, struct cf_error *err);

struct cf_decrypt_expect {
    const char *backup_id;    /* NULL: any */
    const char *name;         /* NULL: any */
    unsigned kind;            /* 0: any */
};

/* what names the object in messages (its repository key). */
cf_err cf_decrypt_new(const struct cf_keyops *keys, const struct cf_decrypt_expect *expect,
                      const char *what, struct cf_sink *next, struct cf_sink **out,
                      struct cf_error *err);

/* The parsed header once the decrypt sink has seen it, else NULL (borrowed). */
const struct cf_object_header *cf_decrypt_header(const struct cf_sink *s);
/* Ciphertext bytes seen by the sink (stored size). */
uint64_t cf_crypt_bytes(const struct cf_sink *s);
/* Encrypt sink: bytes it received (the compressed size). */
uint64_t cf_crypt_plain_bytes(const struct cf_sink *s);

#endif
