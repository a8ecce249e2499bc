/*
 * keyring.c - PKCS#11 keyring: module lifetime, tokens, sessions, errors.
 */
#include "pkcs11/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <p11-kit/p11-kit.h>
#include <sodium.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "pkcs11/p11.h"

#define CKR(x) {x, #x}
static const struct {
    CK_RV rv;
    const char *name;
} ckr_names[] = {
    CKR(CKR_OK), CKR(CKR_CANCEL), CKR(CKR_HOST_MEMORY), CKR(CKR_SLOT_ID_INVALID),
    CKR(CKR_GENERAL_ERROR), CKR(CKR_FUNCTION_FAILED), CKR(CKR_ARGUMENTS_BAD),
    CKR(CKR_CANT_LOCK), CKR(CKR_ACTION_PROHIBITED), CKR(CKR_ATTRIBUTE_READ_ONLY),
    CKR(CKR_ATTRIBUTE_SENSITIVE), CKR(CKR_ATTRIBUTE_TYPE_INVALID),
    CKR(CKR_ATTRIBUTE_VALUE_INVALID), CKR(CKR_DATA_INVALID), CKR(CKR_DATA_LEN_RANGE),
    CKR(CKR_DEVICE_ERROR), CKR(CKR_DEVICE_MEMORY), CKR(CKR_DEVICE_REMOVED),
    CKR(CKR_ENCRYPTED_DATA_INVALID), CKR(CKR_ENCRYPTED_DATA_LEN_RANGE),
    CKR(CKR_FUNCTION_CANCELED), CKR(CKR_FUNCTION_NOT_SUPPORTED), CKR(CKR_KEY_HANDLE_INVALID),
    CKR(CKR_KEY_SIZE_RANGE), CKR(CKR_KEY_TYPE_INCONSISTENT),
    CKR(CKR_KEY_FUNCTION_NOT_PERMITTED), CKR(CKR_MECHANISM_INVALID),
    CKR(CKR_MECHANISM_PARAM_INVALID), CKR(CKR_OBJECT_HANDLE_INVALID),
    CKR(CKR_OPERATION_ACTIVE), CKR(CKR_OPERATION_NOT_INITIALIZED), CKR(CKR_PIN_INCORRECT),
    CKR(CKR_PIN_INVALID), CKR(CKR_PIN_LEN_RANGE), CKR(CKR_PIN_EXPIRED), CKR(CKR_PIN_LOCKED),
    CKR(CKR_SESSION_CLOSED), CKR(CKR_SESSION_COUNT), CKR(CKR_SESSION_HANDLE_INVALID),
    CKR(CKR_SESSION_READ_ONLY), CKR(CKR_SESSION_EXISTS), CKR(CKR_TEMPLATE_INCOMPLETE),
    CKR(CKR_TEMPLATE_INCONSISTENT), CKR(CKR_TOKEN_NOT_PRESENT), CKR(CKR_TOKEN_NOT_RECOGNIZED),
    CKR(CKR_TOKEN_WRITE_PROTECTED), CKR(CKR_USER_ALREADY_LOGGED_IN),
    CKR(CKR_USER_NOT_LOGGED_IN), CKR(CKR_USER_PIN_NOT_INITIALIZED),
    CKR(CKR_USER_TYPE_INVALID), CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    CKR(CKR_USER_TOO_MANY_TYPES), CKR(CKR_WRAPPED_KEY_INVALID), CKR(CKR_BUFFER_TOO_SMALL),
    CKR(CKR_RANDOM_NO_RNG), CKR(CKR_DOMAIN_PARAMS_INVALID),
    CKR(CKR_CRYPTOKI_NOT_INITIALIZED), CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    CKR(CKR_FUNCTION_REJECTED),
};
#undef CKR

const char *
cf_p11_ckr_name(CK_RV rv)
{
    for (size_t i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++)
        if (ckr_names[i].rv == rv)
            return ckr_names[i].name;
    return rv >= CKR_VENDOR_DEFINED ? "CKR_VENDOR_DEFINED" : "an unknown CK_RV";
}

void
cf_p11_rv_text(char *buf, size_t size, const char *fn, CK_RV rv)
{
    (void)snprintf(buf, size, "%s returned %s (0x%08lX)", fn, cf_p11_ckr_name(rv), rv);
}

cf_err
cf_p11_fail(struct cf_error *err, const char *fn, CK_RV rv, const char *fmt, ...)
{
    char prefix[256], rvtext[96];
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(prefix, sizeof(prefix), fmt, ap) < 0)
        prefix[0] = '\0';
    va_end(ap);
    cf_p11_rv_text(rvtext, sizeof(rvtext), fn, rv);
    return cf_error_set(err, CF_ERR_KEY, "%s: %s", prefix, rvtext);
}

static cf_err
copy_options(struct cf_keyring *kr, const struct cf_keyring_options *opts, struct cf_error *err)
{
    kr->module_path = strdup(opts->module);
    kr->pin_file = opts->pin_file != NULL ? strdup(opts->pin_file) : NULL;
    kr->lock_path = opts->lock_path != NULL ? strdup(opts->lock_path) : NULL;
    if (opts->lock_path != NULL && kr->lock_path == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    /* keys.kek first (they wrap and unwrap), then keys.read (unwrap only) */
    kr->keks = calloc(opts->n_keks + opts->n_read + 1, sizeof(char *));
    kr->kek_clean = calloc(opts->n_keks + opts->n_read + 1, sizeof(char *));
    if (kr->module_path == NULL || (opts->pin_file != NULL && kr->pin_file == NULL) ||
        kr->keks == NULL || kr->kek_clean == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < opts->n_keks + opts->n_read; i++) {
        const char *text = i < opts->n_keks ? opts->keks[i] : opts->read[i - opts->n_keks];
        struct cf_p11_uri u;
        cf_err rc;

        /* Syntax errors are configuration errors: report them before any HSM work. */
        rc = cf_p11_uri_parse(text, &u, err);
        if (rc == CF_OK)
            rc = cf_p11_uri_require_key(&u, err);
        if (rc == CF_OK)
            kr->kek_clean[i] = strdup(u.clean);
        cf_p11_uri_free(&u);
        if (rc != CF_OK)
            return rc;
        kr->keks[i] = strdup(text);
        kr->n_uris++; /* counted now so that free() releases both copies */
        if (i < opts->n_keks)
            kr->n_keks++;
        if (kr->keks[i] == NULL || kr->kek_clean[i] == NULL)
            return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    if (opts->require != NULL) {
        char clean[CF_RECIPIENT_URI_MAX + 1];
        cf_err rc = cf_p11_uri_strip_pin(opts->require, clean, sizeof(clean), err);

        if (rc != CF_OK)
            return rc;
        for (size_t i = 0; i < kr->n_uris && kr->require < 0; i++)
            if (kr->kek_clean[i] != NULL && strcmp(kr->kek_clean[i], clean) == 0)
                kr->require = (int)i;
        if (kr->require < 0) {
            cf_error_setf(err, CF_ERR_CONFIG,
                          "keys.require \"%s\" is not one of keys.kek or "
                          "keys.read",
                          clean);
            return CF_ERR_CONFIG;
        }
    }
    return CF_OK;
}

int
cf_p11_hsm_lock(const struct cf_keyring *kr)
{
    int fd;

    if (kr->lock_path == NULL)
        return -1;
    fd = open(kr->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    /* bounded: a process stuck inside the module must not stall every other one */
    for (int i = 0; i < 600; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return fd;
        if (errno != EWOULDBLOCK && errno != EINTR)
            break;
        (void)usleep(50000);
    }
    cf_log_warning("could not lock \"%s\" within 30 s; using the HSM without it", kr->lock_path);
    (void)close(fd);
    return -1;
}

void
cf_p11_hsm_unlock(int fd)
{
    if (fd >= 0)
        (void)close(fd); /* releases the flock */
}

/*
 * The hint for a module that fails C_Initialize.  SoftHSM2 answers
 * CKR_GENERAL_ERROR when it cannot read its configuration or its token
 * directory, which a new operator met as an unexplained error (issue 14):
 * name the file or directory, the OS user and the missing right.
 */
static void
init_hint(const char *module, struct cf_error *err)
{
    const struct passwd *pw = getpwuid(geteuid());
    const char *user = pw != NULL ? pw->pw_name : "?";
    const char *conf = getenv("SOFTHSM2_CONF");
    char line[1024], dir[1024] = "";
    FILE *f;

    if (strstr(module, "softhsm") == NULL) {
        cf_error_hint(err,
                      "The module could not start: its own log (often syslog) says why. "
                      "Check that user %s may read its configuration and token storage.",
                      user);
        return;
    }
    if (conf == NULL || conf[0] == '\0')
        conf = "/etc/softhsm/softhsm2.conf";
    f = fopen(conf, "re");
    if (f == NULL) {
        int e = errno;

        if (!cf_access_hint(err, conf))
            cf_error_hint(err,
                          "SoftHSM2 cannot read its configuration \"%s\" as user %s (%s): "
                          "give that user read access, or set SOFTHSM2_CONF.",
                          conf, user, strerror(e));
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = line + strspn(line, " \t");

        if (strncmp(p, "directories.tokendir", 20) != 0 || (p = strchr(p, '=')) == NULL)
            continue;
        p += 1 + strspn(p + 1, " \t");
        p[strcspn(p, " \t\r\n")] = '\0';
        (void)snprintf(dir, sizeof(dir), "%s", p);
    }
    (void)fclose(f);
    /* SoftHSM2 reads, locks and writes the token files: user needs rwx on the directory */
    if (dir[0] == '/' && cf_access_hint(err, dir))
        return;
    cf_error_hint(err,
                  "SoftHSM2 could not start: check that user %s may read \"%s\" and read and "
                  "write its token directory%s%s%s (SoftHSM2 logs why to syslog).",
                  user, conf, dir[0] ? " \"" : "", dir, dir[0] ? "\"" : "");
}

static cf_err
load_module(struct cf_keyring *kr, struct cf_error *err)
{
    const char *why;
    int lock;
    CK_RV rv;

    kr->mod = p11_kit_module_load(kr->module_path, 0);
    if (kr->mod == NULL) {
        why = p11_kit_message();
        cf_error_setf(err, CF_ERR_KEY, "could not load PKCS#11 module \"%s\": %s",
                     kr->module_path, why != NULL ? why : "unknown error");
        cf_error_hint(err, "Check that keys.module names the vendor's PKCS#11 library.");
        return CF_ERR_KEY;
    }
    lock = cf_p11_hsm_lock(kr);
    rv = p11_kit_module_initialize(kr->mod);
    cf_p11_hsm_unlock(lock);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
        return CF_OK; /* someone else's reference: not ours to finalize */
    if (rv != CKR_OK) {
        (void)cf_p11_fail(err, "C_Initialize", rv, "could not initialize PKCS#11 module \"%s\"",
                          kr->module_path);
        init_hint(kr->module_path, err);
        return err->code;
    }
    kr->is_initialized = true;
    return CF_OK;
}

cf_err
cf_keyring_open(const struct cf_keyring_options *opts, struct cf_keyring **out,
                struct cf_error *err)
{
    struct cf_keyring *kr = NULL;
    cf_err rc;

    if (opts == NULL || opts->module == NULL || opts->module[0] == '\0')
        return cf_error_set(err, CF_ERR_CONFIG, "keys.module is not set");
    if (opts->n_read > CF_RECIPIENTS_MAX)
        return cf_error_set(err, CF_ERR_CONFIG, "too many read-only keys: %zu (at most %d)",
                            opts->n_read, CF_RECIPIENTS_MAX);
    if (opts->n_keks > CF_RECIPIENTS_MAX)
        return cf_error_set(err, CF_ERR_CONFIG, "too many key-encryption keys: %zu (at most %d)",
                            opts->n_keks, CF_RECIPIENTS_MAX);
    /* This process is about to hold data keys and PINs: keep them out of core files. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return cf_error_set_errno(err, CF_ERR_INTERNAL, errno, "could not disable core dumps");
    /* sodium_malloc() aborts before sodium_init(); it is idempotent and thread-safe. */
    if (sodium_init() < 0)
        return cf_error_set(err, CF_ERR_INTERNAL, "could not initialize libsodium");
    kr = calloc(1, sizeof(*kr));
    if (kr == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&kr->lock, NULL);
    kr->require = -1;
    kr->ops.wrap = cf_p11_keyops_wrap;
    kr->ops.unwrap = cf_p11_keyops_unwrap;
    kr->ops.sign = cf_p11_keyops_sign;
    kr->ops.verify = cf_p11_keyops_verify;
    kr->ops.ctx = kr;
    rc = copy_options(kr, opts, err);
    if (rc == CF_OK)
        rc = cf_p11_sign_setup(kr, opts, err);
    if (rc == CF_OK)
        rc = load_module(kr, err);
    if (rc != CF_OK)
        goto out;
    *out = kr;
    kr = NULL; /* transferred */
out:
    cf_keyring_free(kr);
    return rc;
}

void
cf_keyring_free(struct cf_keyring *kr)
{
    if (kr == NULL)
        return;
    /* Closing the last session logs the token out; no explicit C_Logout, which would
     * also log out any other keyring of this process using the same token. */
    for (size_t i = 0; i < kr->n_tokens; i++)
        if (kr->tokens[i].session != CK_INVALID_HANDLE)
            (void)kr->mod->C_CloseSession(kr->tokens[i].session);
    if (kr->is_initialized)
        (void)p11_kit_module_finalize(kr->mod);
    if (kr->mod != NULL)
        p11_kit_module_release(kr->mod);
    for (size_t i = 0; i < kr->n_uris; i++) {
        free(kr->keks[i]);
        free(kr->kek_clean[i]);
    }
    free(kr->keks);
    free(kr->kek_clean);
    free(kr->module_path);
    free(kr->pin_file);
    free(kr->lock_path);
    free(kr->sign_uri);
    pthread_mutex_destroy(&kr->lock);
    free(kr);
}

const struct cf_keyops *
cf_keyring_keyops(struct cf_keyring *kr)
{
    return &kr->ops;
}

static void
trim_label(const CK_UTF8CHAR *padded, char out[CF_P11_LABEL_MAX + 1])
{
    size_t len = CF_P11_LABEL_MAX;

    memcpy(out, padded, CF_P11_LABEL_MAX);
    while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '\0'))
        len--;
    out[len] = '\0';
}

/* The cached entry for slot, opening its session on first use. */
static cf_err
token_get(struct cf_keyring *kr, CK_SLOT_ID slot, const CK_TOKEN_INFO *ti,
          struct cf_p11_token **out, struct cf_error *err)
{
    struct cf_p11_token *tok;
    CK_FLAGS flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    CK_RV rv;

    for (size_t i = 0; i < kr->n_tokens; i++) {
        if (kr->tokens[i].slot == slot) {
            *out = &kr->tokens[i];
            return CF_OK;
        }
    }
    if (kr->n_tokens == CF_P11_TOKENS_MAX)
        return cf_error_set(err, CF_ERR_KEY, "too many PKCS#11 tokens in use (at most %d)",
                            CF_P11_TOKENS_MAX);
    tok = &kr->tokens[kr->n_tokens];
    trim_label(ti->label, tok->label);
    /* R/W so that create and import can add token objects; fall back for read-only tokens. */
    rv = kr->mod->C_OpenSession(slot, flags, NULL, NULL, &tok->session);
    if (rv == CKR_TOKEN_WRITE_PROTECTED)
        rv = kr->mod->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &tok->session);
    if (rv != CKR_OK)
        return cf_p11_fail(err, "C_OpenSession", rv, "could not open a session on token \"%s\"",
                           tok->label);
    tok->slot = slot;
    kr->n_tokens++;
    *out = tok;
    return CF_OK;
}

static cf_err
slot_list(struct cf_keyring *kr, CK_SLOT_ID **slots, CK_ULONG *n, struct cf_error *err)
{
    CK_SLOT_ID *list = NULL;
    CK_ULONG count = 0;
    CK_RV rv;

    rv = kr->mod->C_GetSlotList(CK_TRUE, NULL, &count);
    if (rv == CKR_OK && count > 0) {
        list = calloc(count, sizeof(*list));
        if (list == NULL)
            return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        rv = kr->mod->C_GetSlotList(CK_TRUE, list, &count);
    }
    if (rv != CKR_OK) {
        free(list);
        return cf_p11_fail(err, "C_GetSlotList", rv, "could not list PKCS#11 slots of \"%s\"",
                           kr->module_path);
    }
    *slots = list;
    *n = count;
    return CF_OK;
}

cf_err
cf_p11_tokens_match(struct cf_keyring *kr, const struct cf_p11_uri *u, struct cf_p11_token **out,
                    size_t max, size_t *n, struct cf_error *err)
{
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n_slots = 0;
    CK_TOKEN_INFO ti;
    size_t found = 0;
    int lock = cf_p11_hsm_lock(kr);
    cf_err rc;

    rc = slot_list(kr, &slots, &n_slots, err);
    for (CK_ULONG i = 0; rc == CF_OK && i < n_slots && found < max; i++) {
        /* A token that vanished since C_GetSlotList is simply not a match. */
        if (kr->mod->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        if (!(ti.flags & CKF_TOKEN_INITIALIZED) || !p11_kit_uri_match_token_info(u->parsed, &ti))
            continue;
        rc = token_get(kr, slots[i], &ti, &out[found], err);
        if (rc == CF_OK)
            found++;
    }
    free(slots);
    cf_p11_hsm_unlock(lock);
    if (rc == CF_OK)
        *n = found;
    return rc;
}

cf_err
cf_p11_token_one(struct cf_keyring *kr, const struct cf_p11_uri *u, struct cf_p11_token **out,
                 struct cf_error *err)
{
    struct cf_p11_token *toks[2] = {NULL, NULL};
    size_t n = 0;
    cf_err rc;

    rc = cf_p11_tokens_match(kr, u, toks, 2, &n, err);
    if (rc != CF_OK)
        return rc;
    if (n == 0)
        return cf_error_set(err, CF_ERR_KEY, "no PKCS#11 token matches \"%s\"", u->clean);
    if (n > 1) {
        cf_error_setf(err, CF_ERR_USAGE, "more than one PKCS#11 token matches \"%s\"", u->clean);
        cf_error_hint(err, "Name the token in the URI with token=LABEL.");
        return CF_ERR_USAGE;
    }
    *out = toks[0];
    return CF_OK;
}
