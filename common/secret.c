/*
 * secret.c - a secret from a file (rules in secret.h).
 */
#include "common/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* Check what the file is before reading a byte of it. */
static cf_err
check_file(int fd, const char *path, const char *what, struct cf_error *err)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return cf_error_set_errno(err, CF_ERR_CONFIG, errno, "could not read %s file \"%s\"",
                                  what, path);
    if (!S_ISREG(st.st_mode)) {
        cf_error_setf(err, CF_ERR_CONFIG, "%s file \"%s\" is not a regular file", what, path);
        cf_error_hint(err, "Write the secret into a file of its own, mode 0600 or 0400.");
        return CF_ERR_CONFIG;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        cf_error_setf(err, CF_ERR_CONFIG, "%s file \"%s\" is writable by other users", what,
                      path);
        cf_error_detail(err, "Its mode is %04o; whoever can write it chooses the secret.",
                        (unsigned)(st.st_mode & 07777));
        cf_error_hint(err, "Run chmod go-w on it; 0600 or 0400, owned by the user running "
                           "coffre, is best.");
        return CF_ERR_CONFIG;
    }
    return CF_OK;
}

/* Read up to cap bytes of fd into buf; the count in *total. */
static cf_err
read_all(int fd, char *buf, size_t cap, size_t *total, const char *path, const char *what,
         struct cf_error *err)
{
    *total = 0;
    while (*total < cap) {
        ssize_t n = read(fd, buf + *total, cap - *total);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cf_error_set_errno(err, CF_ERR_CONFIG, errno, "could not read %s file \"%s\"",
                                      what, path);
        if (n == 0)
            break;
        *total += (size_t)n;
    }
    return CF_OK;
}

/* The newline rule, then the content checks; the secret's length in *len. */
static cf_err
check_content(char *buf, size_t total, size_t max, size_t *len, const char *path,
              const char *what, struct cf_error *err)
{
    if (total > 0 && buf[total - 1] == '\n') {
        total--;
        if (total > 0 && buf[total - 1] == '\r')
            total--;
    }
    if (total > max) {
        cf_error_setf(err, CF_ERR_CONFIG, "%s file \"%s\" is longer than %zu bytes", what, path,
                      max);
        cf_error_hint(err, "The file must hold the secret alone, followed by at most one "
                           "newline.");
        return CF_ERR_CONFIG;
    }
    if (total == 0)
        return cf_error_set(err, CF_ERR_CONFIG, "%s file \"%s\" is empty", what, path);
    if (memchr(buf, '\n', total) != NULL || memchr(buf, '\r', total) != NULL ||
        memchr(buf, '\0', total) != NULL) {
        cf_error_setf(err, CF_ERR_CONFIG, "%s file \"%s\" holds more than one line", what, path);
        cf_error_hint(err, "The file must hold the secret alone, followed by at most one "
                           "newline.");
        return CF_ERR_CONFIG;
    }
    buf[total] = '\0';
    *len = total;
    return CF_OK;
}

cf_err
cf_secret_read(const char *path, const char *what, size_t max, char **out, size_t *len,
               struct cf_error *err)
{
    /* room for the secret, a "\r\n" and one byte more: a longer file is detected, not cut */
    size_t cap = max + 3, total = 0, n = 0;
    char *buf = NULL;
    int fd;
    cf_err rc;

    /* O_NONBLOCK: a FIFO is refused by check_file, not waited on */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return cf_error_set_errno(err, CF_ERR_CONFIG, errno, "could not read %s file \"%s\"",
                                  what, path);
    if ((rc = check_file(fd, path, what, err)) != CF_OK)
        goto out;
    if ((buf = sodium_malloc(cap + 1)) == NULL) {
        rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = read_all(fd, buf, cap, &total, path, what, err)) != CF_OK ||
        (rc = check_content(buf, total, max, &n, path, what, err)) != CF_OK)
        goto out;
    *out = buf;
    buf = NULL; /* transferred */
    if (len != NULL)
        *len = n;
out:
    cf_secret_free(buf);
    (void)close(fd);
    return rc;
}

void
cf_secret_free(char *secret)
{
    sodium_free(secret); /* wipes; NULL-safe */
}
