/* testrepo.c - a posix repository for unit tests (see testrepo.h). */
#include "tests/unit/support/testrepo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "stream/child.h"

int
testrepo_open(const char *name, unsigned char seed, char root[64], struct cf_storage **st,
              struct testkeys *tk, struct cf_keyops *ops, struct cf_repo *repo)
{
    struct cf_error err = CF_ERROR_INIT;

    if (sodium_init() < 0)
        return -1;
    (void)snprintf(root, 64, "/tmp/coffre-test-%s-XXXXXX", name);
    if (mkdtemp(root) == NULL || cf_storage_posix_new(root, st, &err) != CF_OK)
        return -1;
    testkeys_init(tk, seed, "pkcs11:token=unit;object=kek");
    *ops = testkeys_ops(tk);
    memset(repo, 0, sizeof(*repo));
    repo->st = *st;
    repo->keys = ops;
    repo->instance = "unit";
    repo->chunk_size = 65536;
    repo->comp.level = 1;
    return 0;
}

int
testrepo_close(const char *root, struct cf_storage **st)
{
    const char *const argv[] = {"rm", "-rf", root, NULL};
    struct cf_error err = CF_ERROR_INIT;

    cf_storage_free(*st);
    *st = NULL;
    return cf_child_run(argv, NULL, NULL, 0, &err) == CF_OK ? 0 : -1;
}
