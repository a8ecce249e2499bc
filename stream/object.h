/*
 * object.h - the coffre object format, version 1.
 *
 * Every stored object is self-describing: with the object and one of its
 * key-encryption keys, it can be decrypted even if every manifest is lost.
 *
 *   header core (bound as AAD to every AES-GCM-wrapped DEK):
 *     magic      8 bytes  89 'C' 'F' 'O' 0D 0A 1A 0A
 *     version    u16      1
 *     kind       u8       enum cf_object_kind (common/kind.h)
 *     compress   u8       1 = zstd (the only value in v1)
 *     chunk      u32      plaintext bytes per secretstream chunk
 *     backup id  u16 length + bytes (1..64, [A-Za-z0-9._-])
 *     name       u16 length + bytes (1..256, the object's path in its backup)
 *     ss header  24 bytes  crypto_secretstream_xchacha20poly1305 header
 *   recipients:
 *     count      u8       1..8
 *     each:      u8 kind, u16 uri length + uri, u16 wrapped length + wrapped
 *   payload:
 *     secretstream chunks of (chunk + 17) bytes, the last one shorter or
 *     equal and tagged TAG_FINAL.  The first chunk carries the whole header
 *     as additional data, so a header cannot be swapped or edited.
 *
 * Integers are big-endian.  The parser never reads past its input and
 * rejects every out-of-range field.
 */
#ifndef CF_OBJECT_H
#define CF_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/kind.h" /* enum cf_object_kind: the kind byte */
#include "stream/keyops.h"

#define CF_OBJECT_VERSION 1
#define CF_OBJECT_MAGIC "\x89" "CFO\r\n\x1a\n"
#define CF_OBJECT_MAGIC_LEN 8
#define CF_OBJECT_ID_MAX 64
#define CF_OBJECT_NAME_MAX 256
#define CF_OBJECT_SS_HEADER 24
#define CF_OBJECT_HEADER_MAX                                                                   \
    (CF_OBJECT_MAGIC_LEN + 8 + 2 + CF_OBJECT_ID_MAX + 2 + CF_OBJECT_NAME_MAX +                 \
     CF_OBJECT_SS_HEADER + 1 + CF_RECIPIENTS_MAX * (5 + CF_RECIPIENT_URI_MAX +                 \
                                                    CF_RECIPIENT_WRAPPED_MAX))
#define CF_CHUNK_MIN 4096
#define CF_CHUNK_MAX (4u * 1024 * 1024)
#define CF_COMPRESS_ZSTD 1

struct cf_object_header {
    uint8_t kind;
    uint8_t compression;
    uint32_t chunk_size;
    char backup_id[CF_OBJECT_ID_MAX + 1];
    char name[CF_OBJECT_NAME_MAX + 1];
    uint8_t ss_header[CF_OBJECT_SS_HEADER];
    size_t n_recipients;
    struct cf_recipient recipients[CF_RECIPIENTS_MAX];
};

/* Encode the core only (for wrapping): buf must hold CF_OBJECT_HEADER_MAX. */
cf_err cf_object_encode_core(const struct cf_object_header *h, uint8_t *buf, size_t *len,
                             struct cf_error *err);
/* Encode core + recipients. */
cf_err cf_object_encode(const struct cf_object_header *h, uint8_t *buf, size_t *core_len,
                        size_t *total_len, struct cf_error *err);
/*
 * Parse a header from the first len bytes of an object.  If the bytes end
 * before the header does, returns CF_OK with *total_len = 0 (read more).
 * what names the object in messages.  Errors are CF_ERR_CORRUPT.
 */
cf_err cf_object_parse(const uint8_t *buf, size_t len, const char *what,
                       struct cf_object_header *h, size_t *core_len, size_t *total_len,
                       struct cf_error *err);

#endif
