/*
 * p11.h - internals shared by the pkcs11/ files (not part of the contract).
 *
 * One keyring owns one loaded module, one session per token it has touched
 * (kept open so a login lasts for the keyring's life) and copies of its
 * options.  Every entry point in keyring.h takes kr->lock: a token session
 * runs one operation at a time, and the agent may wrap from several threads.
 */
#ifndef CF_P11_H
#define CF_P11_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "common/error.h"
#include "pkcs11/keyring.h"
#include "stream/keyops.h"

#define CF_P11_TOKENS_MAX 16
#define CF_P11_LABEL_MAX 32 /* CK_TOKEN_INFO.label, space padded */

struct cf_p11_token {
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE session;
    bool is_logged_in;
    char label[CF_P11_LABEL_MAX + 1]; /* trailing spaces trimmed */
};

#define CF_P11_EC_POINT_BYTES 65 /* uncompressed P-256 point: 04 || X || Y */
#define CF_P11_TRUST_MAX CF_KEYRING_TRUST_MAX

/* keys.sign on this host (resolved on first use, then cached). */
struct cf_p11_signer {
    bool has_public, has_private;
    bool was_looked_up; /* verify looked for it (found or not) */
    struct cf_p11_token *tok;
    CK_OBJECT_HANDLE pub, priv;
    uint8_t point[CF_P11_EC_POINT_BYTES];
    uint8_t id[CF_SIGNER_ID_BYTES];
    char label[CF_SIGNER_LABEL_MAX + 1];
};

/* A signer from keys.trust; handle is its session object once first used. */
struct cf_p11_trusted {
    uint8_t point[CF_P11_EC_POINT_BYTES];
    uint8_t id[CF_SIGNER_ID_BYTES];
    char label[CF_SIGNER_LABEL_MAX + 1];
    char source[4096]; /* the file it came from */
    struct cf_p11_token *tok;
    CK_OBJECT_HANDLE handle;
};

struct cf_keyring {
    CK_FUNCTION_LIST *mod;
    bool is_initialized; /* we own one C_Initialize reference */
    bool is_oaep_sha1;   /* the module refused SHA-256 OAEP once */
    char *module_path;
    char **keks;      /* as configured (may carry pin-source): keys.kek, then keys.read */
    char **kek_clean; /* the same without PIN attributes: what object headers name */
    size_t n_keks;    /* keys.kek: the first n_keks entries (wrap and unwrap) */
    size_t n_uris;    /* keys.kek and keys.read: the keys that may unwrap */
    int require;      /* keys.require: its index in keks, or -1 */
    char *pin_file;
    char *lock_path;  /* cross-process lock for token reads and logins, or NULL */
    struct cf_p11_token tokens[CF_P11_TOKENS_MAX];
    size_t n_tokens;
    char *sign_uri;                            /* keys.sign, or derived from keks[0] */
    char sign_clean[CF_RECIPIENT_URI_MAX + 1]; /* the same without PIN attributes */
    struct cf_p11_signer signer;
    struct cf_p11_trusted trusted[CF_P11_TRUST_MAX];
    size_t n_trusted;
    struct cf_keyops ops;
    pthread_mutex_t lock;
};

/*
 * Some modules keep a token in files they rewrite on every login (SoftHSM2
 * updates its PIN-count flags), and a process reading the token at that
 * moment finds no token or fails C_Login.  Several coffre processes start
 * together (async wal-push), so module initialisation, token lookup and
 * login are serialised across processes with an flock on lock_path.
 * Returns the descriptor to pass to unlock, or -1 (no lock: no path, or it
 * cannot be created; the operations then run unserialised).
 */
int cf_p11_hsm_lock(const struct cf_keyring *kr);
void cf_p11_hsm_unlock(int fd);

/* A parsed key URI; attribute values point into parsed. */
struct cf_p11_uri {
    P11KitUri *parsed;
    char clean[CF_RECIPIENT_URI_MAX + 1]; /* the text without pin-source/pin-value */
    const char *pin_source;               /* NULL if absent */
    bool has_class;
    CK_OBJECT_CLASS klass;
    CK_ATTRIBUTE label; /* pValue NULL if absent */
    CK_ATTRIBUTE id;
};

/* What a key is looked up for: the public half wraps, the private half unwraps. */
enum cf_p11_role { CF_P11_WRAP, CF_P11_UNWRAP };

/* Why a lookup failed, so unwrap() can say "token not present" briefly. */
enum cf_p11_miss { CF_P11_MISS_NONE, CF_P11_MISS_TOKEN, CF_P11_MISS_KEY };

struct cf_p11_kek {
    struct cf_p11_token *tok; /* borrowed from the keyring */
    CK_OBJECT_HANDLE key;
    CK_OBJECT_CLASS klass;
    enum cf_kek_type type;
};

/* uri.c */
cf_err cf_p11_uri_parse(const char *text, struct cf_p11_uri *out, struct cf_error *err);
void cf_p11_uri_free(struct cf_p11_uri *u);
/* CF_ERR_CONFIG unless the URI has object= or id= (a key URI must name a key). */
cf_err cf_p11_uri_require_key(const struct cf_p11_uri *u, struct cf_error *err);
cf_err cf_p11_uri_strip_pin(const char *text, char *out, size_t size, struct cf_error *err);
/* Copy a CK_ATTRIBUTE's bytes as a C string (truncated to size - 1). */
void cf_p11_attr_string(const CK_ATTRIBUTE *a, char *out, size_t size);

/* keyring.c: errors and tokens */
const char *cf_p11_ckr_name(CK_RV rv);
/* "C_Login returned CKR_PIN_INCORRECT (0x000000A0)" */
void cf_p11_rv_text(char *buf, size_t size, const char *fn, CK_RV rv);
/* CF_ERR_KEY with message "PREFIX: FN returned NAME (0xHEX)". */
cf_err cf_p11_fail(struct cf_error *err, const char *fn, CK_RV rv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Initialised tokens matching u, in slot order, each with an open session. */
cf_err cf_p11_tokens_match(struct cf_keyring *kr, const struct cf_p11_uri *u,
                           struct cf_p11_token **out, size_t max, size_t *n,
                           struct cf_error *err);
/* Exactly one token must match (create, import): which object goes where must be clear. */
cf_err cf_p11_token_one(struct cf_keyring *kr, const struct cf_p11_uri *u,
                        struct cf_p11_token **out, struct cf_error *err);

/* pin.c */
bool cf_p11_have_pin(const struct cf_keyring *kr, const char *uri_pin_source);
cf_err cf_p11_login(struct cf_keyring *kr, struct cf_p11_token *tok, const char *uri_pin_source,
                    struct cf_error *err);

/* find.c */
cf_err cf_p11_find(struct cf_keyring *kr, struct cf_p11_token *tok, CK_ATTRIBUTE *tmpl,
                   CK_ULONG n_tmpl, CK_OBJECT_HANDLE found[2], CK_ULONG *n_found,
                   struct cf_error *err);
/* Read one attribute into a malloc'd buffer (*value NULL and *len 0 if empty). */
cf_err cf_p11_get_attr(struct cf_keyring *kr, struct cf_p11_token *tok, CK_OBJECT_HANDLE obj,
                       CK_ATTRIBUTE_TYPE type, void **value, CK_ULONG *len,
                       struct cf_error *err);
cf_err cf_p11_get_ulong(struct cf_keyring *kr, struct cf_p11_token *tok, CK_OBJECT_HANDLE obj,
                        CK_ATTRIBUTE_TYPE type, CK_ULONG *out, struct cf_error *err);
/* Resolve u to a key usable for role; *miss says what was absent on failure. */
cf_err cf_p11_kek_find(struct cf_keyring *kr, const struct cf_p11_uri *u, enum cf_p11_role role,
                       struct cf_p11_kek *out, enum cf_p11_miss *miss, struct cf_error *err);
/* Fail with CF_ERR_EXISTS if any object on tok carries label. */
cf_err cf_p11_label_free(struct cf_keyring *kr, struct cf_p11_token *tok, const char *label,
                         struct cf_error *err);

/* crypt.c: one recipient at a time */
cf_err cf_p11_wrap_one(struct cf_keyring *kr, const struct cf_p11_kek *kek, const char *uri,
                       const uint8_t dek[CF_DEK_BYTES], const uint8_t *aad, size_t aad_len,
                       struct cf_recipient *out, struct cf_error *err);
cf_err cf_p11_unwrap_one(struct cf_keyring *kr, const struct cf_p11_kek *kek,
                         const struct cf_recipient *r, const uint8_t *aad, size_t aad_len,
                         uint8_t dek[CF_DEK_BYTES], struct cf_error *err);
cf_err cf_p11_keyops_wrap(void *ctx, const uint8_t dek[CF_DEK_BYTES], const uint8_t *aad,
                          size_t aad_len, struct cf_recipient *out, size_t max, size_t *n,
                          struct cf_error *err);
cf_err cf_p11_keyops_unwrap(void *ctx, const struct cf_recipient *rs, size_t n,
                            const uint8_t *aad, size_t aad_len, uint8_t dek[CF_DEK_BYTES],
                            struct cf_error *err);

/* sign.c */
/* keys.sign (or its default) and the keys.trust files, at open. */
cf_err cf_p11_sign_setup(struct cf_keyring *kr, const struct cf_keyring_options *opts,
                         struct cf_error *err);
cf_err cf_p11_keyops_sign(void *ctx, const uint8_t digest[32], struct cf_signature *out,
                          struct cf_error *err);
cf_err cf_p11_keyops_verify(void *ctx, const uint8_t digest[32], const struct cf_signature *sig,
                            struct cf_error *err);

#endif
