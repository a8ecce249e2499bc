/*
 * keyops.h - what the object format needs from a key provider.
 *
 * The stream layer never talks to an HSM: it receives a struct cf_keyops
 * whose wrap() turns a fresh data key (DEK) into one recipient entry per
 * key-encryption key (KEK), and whose unwrap() recovers the DEK from any
 * recipient it can reach.  pkcs11/keyring.c implements it for PKCS#11 tokens;
 * tests implement it with a fixed libsodium key.
 */
#ifndef CF_KEYOPS_H
#define CF_KEYOPS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define CF_DEK_BYTES 32
#define CF_RECIPIENT_URI_MAX 512     /* bytes, without the terminating NUL */
#define CF_RECIPIENT_WRAPPED_MAX 1024 /* enough for RSA-8192 OAEP */
#define CF_RECIPIENTS_MAX 8

enum cf_recipient_kind {
    CF_RECIPIENT_AES_GCM = 1,  /* AES-256 secret key, CKM_AES_GCM,
                                  wrapped = iv(12)||ct(32)||tag(16) */
    CF_RECIPIENT_RSA_OAEP = 2, /* RSA key pair, CKM_RSA_PKCS_OAEP with SHA-256/MGF1-SHA-256 */
    CF_RECIPIENT_RSA_OAEP_SHA1 = 3, /* the same with SHA-1/MGF1-SHA-1, for modules (SoftHSM
                                       2.6) that refuse SHA-256 in OAEP; still sound: OAEP's
                                       security does not rest on collision resistance */
    CF_RECIPIENT_TEST = 250    /* unit tests only */
};

struct cf_recipient {
    uint8_t kind;                         /* enum cf_recipient_kind */
    char uri[CF_RECIPIENT_URI_MAX + 1];   /* PKCS#11 URI of the KEK (no PIN in it) */
    uint16_t wrapped_len;
    uint8_t wrapped[CF_RECIPIENT_WRAPPED_MAX];
};

/*
 * Signatures (docs/security.md, "Who may write a backup").  The key provider
 * signs a 32-byte digest that the caller computed (SHA-256 over a domain
 * string and the signed bytes, stream/signed.h) with this host's signing
 * key, and verifies a signature against the signers this host trusts.
 */
#define CF_SIGNER_ID_BYTES 32 /* SHA-256 of the signer's public key */
#define CF_SIGNATURE_MAX 132  /* ECDSA P-521 r||s; P-256 uses 64 */
#define CF_SIGNER_LABEL_MAX 128

enum cf_signature_alg {
    CF_SIG_ECDSA_P256 = 1, /* CKM_ECDSA over SHA-256, value = r||s (64 bytes) */
    CF_SIG_TEST = 250      /* unit tests only */
};

struct cf_signature {
    uint8_t alg;                         /* enum cf_signature_alg */
    uint8_t signer[CF_SIGNER_ID_BYTES];  /* which key signed */
    uint8_t signer_len; /* bytes of signer known: 0 (all 32), or 8 (WAL keys carry 8) */
    char label[CF_SIGNER_LABEL_MAX + 1]; /* its label, for messages only (untrusted) */
    uint16_t len;
    uint8_t value[CF_SIGNATURE_MAX];
};

struct cf_keyops {
    /*
     * Wrap dek for every configured KEK.  aad binds the object's header core
     * (used by AES-GCM; RSA-OAEP ignores it).  Fills out[0..*n) on success.
     * Fails (CF_ERR_KEY) if any configured KEK cannot be used: an object must
     * never be written with fewer recipients than configured.
     */
    cf_err (*wrap)(void *ctx, const uint8_t dek[CF_DEK_BYTES], const uint8_t *aad, size_t aad_len,
                struct cf_recipient *out, size_t max, size_t *n, struct cf_error *err);
    /*
     * Recover the DEK from any of the n recipients.  CF_ERR_KEY when none can
     * be unwrapped; the error names the recipients that were tried.
     */
    cf_err (*unwrap)(void *ctx, const struct cf_recipient *rs, size_t n, const uint8_t *aad,
                  size_t aad_len, uint8_t dek[CF_DEK_BYTES], struct cf_error *err);
    /*
     * Sign digest with this host's signing key.  CF_ERR_KEY when there is no
     * usable signing key.  NULL in a provider that cannot sign.
     */
    cf_err (*sign)(void *ctx, const uint8_t digest[32], struct cf_signature *out,
                   struct cf_error *err);
    /*
     * Check sig over digest.  CF_ERR_KEY when its signer is not trusted here
     * (the message names the signer's id), CF_ERR_CORRUPT when the signature
     * does not verify.  NULL in a provider that cannot verify.
     */
    cf_err (*verify)(void *ctx, const uint8_t digest[32], const struct cf_signature *sig,
                     struct cf_error *err);
    void *ctx;
};

#endif
