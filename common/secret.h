/*
 * secret.h - reading a secret from a file: a token PIN (keys.pin_file, a
 * pin-source, the coffre-hsm-pin credential), the S3 keys, the SMTP
 * password, the Telegram bot token.  One set of rules for all of them:
 *
 *   - the file must be a regular file that neither group nor others may
 *     write (whoever can write it chooses the secret: wrong PINs fed to a
 *     token lock it).  Group or others reading it is not refused, only
 *     discouraged (docs/security.md): make it 0400 or 0600;
 *   - one trailing "\n" or "\r\n" is removed, and nothing else: spaces and
 *     tabs are part of the secret; a "\n", "\r" or NUL left inside is an
 *     error (the file must hold the secret alone, on one line);
 *   - an empty secret is an error, and so is one longer than max bytes:
 *     never truncated;
 *   - the secret comes back NUL-terminated in sodium_malloc'd memory
 *     (guarded, locked), which cf_secret_free wipes;
 *   - errors are CF_ERR_CONFIG (CF_ERR_NOMEM) and name the file and what it
 *     holds ("PIN", "S3 secret key"), never its content.
 */
#ifndef CF_SECRET_H
#define CF_SECRET_H

#include <stddef.h>

#include "common/error.h"

/* *out (and *len, if not NULL) on success only; what names the secret in
 * messages: "could not read PIN file \"/etc/coffre/pin\": ...". */
cf_err cf_secret_read(const char *path, const char *what, size_t max, char **out, size_t *len,
                      struct cf_error *err);
/* Wipe and free a secret from cf_secret_read; NULL-safe. */
void cf_secret_free(char *secret);

#endif
