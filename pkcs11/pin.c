/*
 * pin.c - token PINs: where they come from, and C_Login.
 *
 * A PIN lives only in sodium_malloc'd memory (guarded, mlocked), exists only
 * for the duration of one C_Login and is wiped by cf_secret_free.  It never
 * reaches a message: errors name the file, never its content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/secret.h"
#include "pkcs11/p11.h"

#define PIN_MAX 256 /* far above any HSM's ulMaxPinLen */
#define CREDENTIAL_NAME "coffre-hsm-pin"

enum pin_origin { PIN_NONE, PIN_URI, PIN_FILE, PIN_CREDENTIAL };

/* Where the PIN would be read from, in order of precedence (see keyring.h). */
static enum pin_origin
pin_path(const struct cf_keyring *kr, const char *uri_pin_source, char *path, size_t size)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");

    if (uri_pin_source != NULL && uri_pin_source[0] != '\0') {
        const char *p = uri_pin_source;

        if (strncmp(p, "file://", 7) == 0)
            p += 7;
        else if (strncmp(p, "file:", 5) == 0)
            p += 5;
        (void)snprintf(path, size, "%s", p);
        return PIN_URI;
    }
    if (kr->pin_file != NULL && kr->pin_file[0] != '\0') {
        (void)snprintf(path, size, "%s", kr->pin_file);
        return PIN_FILE;
    }
    /* The systemd credential is optional: only used if the unit provides it. */
    if (dir != NULL && dir[0] != '\0') {
        (void)snprintf(path, size, "%s/%s", dir, CREDENTIAL_NAME);
        if (access(path, F_OK) == 0)
            return PIN_CREDENTIAL;
    }
    return PIN_NONE;
}

bool
cf_p11_have_pin(const struct cf_keyring *kr, const char *uri_pin_source)
{
    char path[4096];

    return pin_path(kr, uri_pin_source, path, sizeof(path)) != PIN_NONE;
}

static void
login_hint(struct cf_error *err, enum pin_origin origin, CK_RV rv)
{
    if (rv == CKR_PIN_LOCKED)
        cf_error_hint(err, "The user PIN is locked; unlock it with the security officer PIN.");
    else if (origin == PIN_URI)
        cf_error_hint(err, "check the PIN file named by pin-source in the key URI");
    else if (origin == PIN_CREDENTIAL)
        cf_error_hint(err, "check the systemd credential " CREDENTIAL_NAME);
    else
        cf_error_hint(err, "check the PIN file named by keys.pin_file");
}

cf_err
cf_p11_login(struct cf_keyring *kr, struct cf_p11_token *tok, const char *uri_pin_source,
             struct cf_error *err)
{
    char path[4096];
    char *pin = NULL;
    size_t len = 0;
    enum pin_origin origin;
    cf_err rc;
    CK_RV rv;

    if (tok->is_logged_in)
        return CF_OK;
    origin = pin_path(kr, uri_pin_source, path, sizeof(path));
    if (origin == PIN_NONE) {
        cf_error_setf(err, CF_ERR_KEY, "no PIN for token \"%s\"", tok->label);
        cf_error_hint(err, "Set keys.pin_file to a file holding the token's user PIN, or pass "
                           "it as the systemd credential " CREDENTIAL_NAME ".");
        return CF_ERR_KEY;
    }
    /* the file rules (regular, not writable by others, one newline) are in secret.h */
    rc = cf_secret_read(path, "PIN", PIN_MAX, &pin, &len, err);
    if (rc != CF_OK)
        return rc;
    {
        int lock = cf_p11_hsm_lock(kr);

        rv = kr->mod->C_Login(tok->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, len);
        cf_p11_hsm_unlock(lock);
    }
    cf_secret_free(pin); /* wipes */
    /* Login state is per token and process: another keyring may have logged in already. */
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        cf_p11_fail(err, "C_Login", rv, "could not log in to token \"%s\"", tok->label);
        login_hint(err, origin, rv);
        return CF_ERR_KEY;
    }
    tok->is_logged_in = true;
    return CF_OK;
}
