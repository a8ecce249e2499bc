/*
 * creds.c - the S3 access key and secret key.
 *
 * Search order (s3.h): access_key_file / secret_key_file; else
 * $CREDENTIALS_DIRECTORY/coffre-s3-access-key and coffre-s3-secret-key
 * (systemd LoadCredential=); else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
 * Both keys come from the same place.  They are kept in sodium_malloc
 * memory and wiped on free; the secret never enters a message.
 */
#include "storage/s3/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/secret.h"

#define KEY_MAX 256

static char *
secure_dup(const char *s, size_t len)
{
    char *p = sodium_malloc(len + 1);

    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* A key file (the rules of common/secret.h); an S3 key never holds a blank or a
 * control character, so one that does is refused rather than stripped. */
static cf_err
read_key_file(const char *path, const char *what, char **out, struct cf_error *err)
{
    char name[32], *key = NULL;
    size_t len = 0;

    (void)snprintf(name, sizeof(name), "S3 %s", what);
    if (cf_secret_read(path, name, KEY_MAX, &key, &len, err) != CF_OK)
        return err->code;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)key[i] <= ' ' || key[i] == 0x7f) {
            cf_secret_free(key);
            cf_error_setf(err, CF_ERR_CONFIG, "S3 %s file \"%s\" does not hold one key", what,
                          path);
            cf_error_hint(err, "Write the key alone on the first line of the file, without "
                               "blanks.");
            return CF_ERR_CONFIG;
        }
    }
    *out = key;
    return CF_OK;
}

static cf_err
from_files(struct s3_storage *st, const char *ak_path, const char *sk_path, struct cf_error *err)
{
    char *ak = NULL, *sk = NULL;

    if (read_key_file(ak_path, "access key", &ak, err) != CF_OK ||
        read_key_file(sk_path, "secret key", &sk, err) != CF_OK) {
        cf_secret_free(ak);
        return err->code;
    }
    st->access_key = ak;
    st->secret_key = sk;
    return CF_OK;
}

static char *
join(const char *dir, const char *name)
{
    size_t size = strlen(dir) + strlen(name) + 2;
    char *p = malloc(size);

    if (p != NULL)
        (void)snprintf(p, size, "%s/%s", dir, name);
    return p;
}

cf_err
cf_s3_creds_load(struct s3_storage *st, const struct cf_s3_options *opts, struct cf_error *err)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    cf_err rc;

    if (opts->access_key_file != NULL || opts->secret_key_file != NULL) {
        if (opts->access_key_file == NULL || opts->secret_key_file == NULL)
            return cf_error_set(err, CF_ERR_CONFIG,
                                "repository.access_key_file and repository.secret_key_file "
                                "must be set together");
        return from_files(st, opts->access_key_file, opts->secret_key_file, err);
    }
    if (dir != NULL && dir[0] != '\0') {
        char *a = join(dir, "coffre-s3-access-key"), *s = join(dir, "coffre-s3-secret-key");

        if (a == NULL || s == NULL)
            rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        else if (access(a, F_OK) == 0 || access(s, F_OK) == 0)
            rc = from_files(st, a, s, err);
        else
            rc = CF_ERR_NOT_FOUND; /* not there: fall through to the environment */
        free(a);
        free(s);
        if (rc != CF_ERR_NOT_FOUND)
            return rc;
    }
    if (ak == NULL || sk == NULL || ak[0] == '\0' || sk[0] == '\0') {
        cf_error_setf(err, CF_ERR_CONFIG, "no S3 credentials");
        cf_error_hint(err, "Set repository.access_key_file and repository.secret_key_file, or "
                           "provide coffre-s3-access-key and coffre-s3-secret-key with systemd "
                           "LoadCredential=, or set AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY.");
        return err->code;
    }
    if (strlen(ak) > KEY_MAX || strlen(sk) > KEY_MAX)
        return cf_error_set(err, CF_ERR_CONFIG, "the S3 credentials in the environment are too "
                                                "long");
    st->access_key = secure_dup(ak, strlen(ak));
    st->secret_key = secure_dup(sk, strlen(sk));
    if (st->access_key == NULL || st->secret_key == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    return CF_OK;
}

void
cf_s3_creds_free(struct s3_storage *st)
{
    sodium_free(st->access_key); /* wipes */
    sodium_free(st->secret_key);
    st->access_key = st->secret_key = NULL;
}
