/*
 * signed.h - signed envelopes: who wrote a manifest or a record.
 *
 * Encryption says who can read an object, not who wrote it: anyone holding
 * an escrow RSA public key can write objects every escrow holder decrypts.
 * So the plaintext of a manifest (and of a record) is an envelope:
 *
 *   {"coffre_signed": 1,
 *    "payload": "<the signed text, e.g. the manifest JSON>",
 *    "signature": {"alg": "ecdsa-p256-sha256", "signer": "<64 hex>",
 *                  "label": "<signer key label>", "value": "<hex>"}}
 *
 * The digest signed is SHA-256 over
 *   "coffre-signed-v1" NUL domain NUL instance NUL backup-id NUL name NUL payload
 * so a signature binds the text to the object it was written as: a signed
 * manifest copied under another backup id, another instance or as a record
 * no longer verifies.  The signature is made and checked by the key provider
 * (struct cf_keyops: the HSM), never here.
 */
#ifndef CF_SIGNED_H
#define CF_SIGNED_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "stream/keyops.h"

#define CF_SIGNED_FORMAT 1

struct cf_signed_context {
    const char *domain; /* "manifest", "record" */
    const char *instance;
    const char *backup_id;
    const char *name; /* the object's name within its backup */
};

/* Sign payload and build the envelope (*out malloc'd, NUL-terminated). */
cf_err cf_signed_seal(const struct cf_keyops *keys, const struct cf_signed_context *ctx,
                      const char *payload, size_t len, char **out, size_t *out_len,
                      struct cf_error *err);

/*
 * Open an envelope: verify it for ctx and return its payload (*payload
 * malloc'd, NUL-terminated).  Text that is not an envelope (written before
 * signatures) comes back as its own payload with *is_signed false: the
 * caller decides whether to accept it.  A malformed envelope or a signature
 * that does not verify is CF_ERR_CORRUPT, an untrusted signer CF_ERR_KEY;
 * what names the object.  signer (may be NULL) receives the signature.
 */
cf_err cf_signed_open(const struct cf_keyops *keys, const struct cf_signed_context *ctx,
                      const char *what, const char *text, size_t len, char **payload,
                      size_t *payload_len, bool *is_signed, struct cf_signature *signer,
                      struct cf_error *err);

/*
 * The digest a signature covers, for signatures kept outside an envelope
 * (WAL objects carry theirs in their repository key): SHA-256 over the same
 * fields as an envelope's.
 */
void cf_signed_digest(const struct cf_signed_context *ctx, const char *payload, size_t len,
                      uint8_t out[32]);

/* "ecdsa-p256-sha256"; NULL for an unknown alg. */
const char *cf_signature_alg_name(unsigned alg);
/* The first 16 hex digits of a signer id, as messages and `keys list` show it. */
void cf_signer_short(const uint8_t id[CF_SIGNER_ID_BYTES], char out[17]);

#endif
