/*
 * hash.h - sha256 of the plaintext, on both sides of the pipeline.
 *
 * The tap (backup side) passes bytes through and records their sha256 and
 * count; read them after a successful close.  The verifier (restore side)
 * does the same and, in close(), compares with the digest the manifest
 * recorded before it lets the terminal commit: a mismatch is CF_ERR_CORRUPT
 * and the terminal is aborted.
 */
#ifndef CF_HASH_H
#define CF_HASH_H

#include <stdint.h>

#include "stream/sink.h"

#define CF_SHA256_BYTES 32
#define CF_SHA256_HEX (2 * CF_SHA256_BYTES + 1)

/* Wraps next (ownership of next transfers on success). */
cf_err cf_hash_tap_new(struct cf_sink *next, struct cf_sink **out, struct cf_error *err);
/* expected: the digest to compare with in close(); name: the object, for messages. */
cf_err cf_hash_verify_new(const uint8_t expected[CF_SHA256_BYTES], const char *name,
                          struct cf_sink *next, struct cf_sink **out, struct cf_error *err);

/* After a successful close (borrowed sink pointer). */
void cf_hash_result(const struct cf_sink *s, uint8_t digest[CF_SHA256_BYTES], uint64_t *bytes);

void cf_hex_encode(const uint8_t *in, size_t len, char *out);      /* out: 2*len+1 */
int cf_hex_decode(const char *in, uint8_t *out, size_t len);        /* 0 on success */

#endif
