/*
 * keyring.h - key-encryption keys held in PKCS#11 tokens.
 *
 * A keyring loads one PKCS#11 module (p11-kit), resolves the configured KEK
 * URIs (RFC 7512) to keys on the module's tokens, logs in where a private
 * object must be used, and implements struct cf_keyops:
 *   - AES-256 secret key: C_Encrypt/C_Decrypt with CKM_AES_GCM, a random
 *     96-bit IV, 128-bit tag, AAD = the object's header core;
 *   - RSA key pair: C_Encrypt with the public key (CKM_RSA_PKCS_OAEP,
 *     SHA-256, MGF1-SHA-256): no login is needed to wrap, so a host holding
 *     only the public key can write backups it cannot read; C_Decrypt with
 *     the private key to unwrap.
 * The DEK never leaves sodium_malloc'd memory on our side; the KEKs never
 * leave the token.
 *
 * PINs: from the URI's pin-source attribute (file:PATH), else from
 * options.pin_file, else from $CREDENTIALS_DIRECTORY/coffre-hsm-pin.  A PIN
 * is read into locked memory, used for C_Login and wiped.  It is never
 * logged, never placed in a cf_error, never passed to a child.
 *
 * Unwrapping tries only the recipients whose URI (without PIN attributes) is
 * one of keys.kek or keys.read, with the configured URI's PIN source: a
 * header cannot make coffre log in to a token the configuration does not
 * name.
 *
 * Errors (all CF_ERR_KEY unless noted; exact wording is asserted by tests):
 *   module missing     could not load PKCS#11 module "PATH": REASON
 *   token missing      no PKCS#11 token matches "URI"
 *   wrong PIN          could not log in to token "LABEL":
 *                      C_Login returned CKR_PIN_INCORRECT (0x000000A0)
 *   key missing        no key matches "URI" on token "LABEL"
 *   PIN file           could not read PIN file "PATH": REASON   (CF_ERR_CONFIG)
 */
#ifndef CF_KEYRING_H
#define CF_KEYRING_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "stream/keyops.h"

struct cf_keyring;

struct cf_keyring_options {
    const char *module;        /* path of the PKCS#11 module (.so) */
    const char *const *keks;   /* KEK URIs used to wrap new objects */
    size_t n_keks;
    const char *pin_file;      /* may be NULL */
    const char *lock_path;     /* may be NULL: see cf_p11_hsm_lock in p11.h */
    const char *sign;          /* signing key URI; NULL: object "coffre-sign" on the first
                                  KEK's token, with its PIN source */
    const char *const *trust;  /* files of trusted signers' public keys (keys.trust) */
    size_t n_trust;
    const char *const *read; /* KEKs that only unwrap (keys.read: retired keys older
                                objects still need) */
    size_t n_read;
    const char *require; /* keys.require: an object must unwrap with this one (one of
                            keks or read); NULL: any configured recipient */
};

/*
 * Load the module and initialise it.  Does not resolve keys or log in yet:
 * that happens on first use, so commands that only read clear metadata do
 * not need the HSM.  *out is set only on success.
 */
cf_err cf_keyring_open(const struct cf_keyring_options *opts, struct cf_keyring **out,
                       struct cf_error *err);
/* Finalize the module, close sessions, wipe PINs.  NULL-safe. */
void cf_keyring_free(struct cf_keyring *kr);

/* The struct cf_keyops view of this keyring (borrowed; valid until free). */
const struct cf_keyops *cf_keyring_keyops(struct cf_keyring *kr);

/*
 * Resolve every configured KEK now and check it can wrap (and, if
 * need_unwrap, unwrap) a test key.  Used by commands before they start
 * long work, so a bad PIN fails in the first second, not after a 2-hour dump.
 */
cf_err cf_keyring_check(struct cf_keyring *kr, bool need_unwrap, struct cf_error *err);

enum cf_kek_type { CF_KEK_AES = 1, CF_KEK_RSA = 2 };

struct cf_keyring_init {
    const char *uri;          /* token + object label (+ id) of the key to create */
    enum cf_kek_type type;
    unsigned rsa_bits;        /* 3072 by default when 0 */
};
/*
 * Create a KEK on the token named by init->uri: non-extractable, sensitive,
 * CKA_TOKEN.  AES: CKA_ENCRYPT/CKA_DECRYPT.  RSA: public key (public object,
 * CKA_ENCRYPT) + private key (CKA_DECRYPT).  Fails with CF_ERR_EXISTS if a key
 * with the same label already exists on the token.
 */
cf_err cf_keyring_create(struct cf_keyring *kr, const struct cf_keyring_init *init,
                         struct cf_error *err);

struct cf_kek_status {
    const char *uri;           /* the configured URI (borrowed) */
    bool is_reachable;         /* token present and key found */
    bool can_wrap;
    bool can_unwrap;           /* private/secret part present and usable */
    enum cf_kek_type type;     /* valid if is_reachable */
    unsigned bits;             /* AES: 256; RSA: modulus bits */
    char token_label[33];
    char problem[256];         /* why not reachable/usable, empty otherwise */
};
/* Describe each configured KEK (for `coffre keys list`).  out has n_keks entries. */
cf_err cf_keyring_status(struct cf_keyring *kr, struct cf_kek_status *out, size_t n,
                         struct cf_error *err);

/*
 * The write-only backup host (docs/security.md): export the public half of
 * the RSA KEK named by uri to a file (JSON: label, id, modulus, exponent in
 * hex; nothing secret), and import such a file as a public-key object on the
 * token named by to_uri.  A host whose token holds only that public key can
 * wrap new DEKs but can never unwrap one.
 */
cf_err cf_keyring_export_public(struct cf_keyring *kr, const char *uri, const char *path,
                                struct cf_error *err);
cf_err cf_keyring_import_public(struct cf_keyring *kr, const char *path, const char *to_uri,
                                struct cf_error *err);

/*
 * Signing (pkcs11/sign.c; docs/security.md).  The keyops of a keyring sign
 * with keys.sign (ECDSA P-256, in the HSM) and verify against this host's
 * own signing key and the keys.trust files.
 */
/* Create the ECDSA P-256 signing key pair named by keys.sign (CF_ERR_EXISTS if present). */
cf_err cf_keyring_create_signer(struct cf_keyring *kr, struct cf_error *err);
/* Write the signing key's public half as a trust file for other hosts. */
cf_err cf_keyring_export_signer(struct cf_keyring *kr, const char *path, struct cf_error *err);
/* Sign and verify a test digest, and check that a changed digest is refused. */
cf_err cf_keyring_check_signer(struct cf_keyring *kr, struct cf_error *err);

#define CF_KEYRING_TRUST_MAX 16

struct cf_signer_status {
    const char *uri; /* keys.sign without PIN attributes; NULL if none */
    bool is_present; /* its public half was found */
    char id[2 * CF_SIGNER_ID_BYTES + 1];
    char token_label[33];
    char problem[256];
    size_t n_trusted;
    struct {
        char id[2 * CF_SIGNER_ID_BYTES + 1];
        const char *source, *label; /* borrowed from the keyring */
    } trusted[CF_KEYRING_TRUST_MAX];
};
/* Describe the signing key and the trusted signers (for `coffre keys list`). */
cf_err cf_keyring_signer_status(struct cf_keyring *kr, struct cf_signer_status *st);

#endif
