/* testrepo.h - a posix repository in a fresh /tmp directory with test keys (unit tests only). */
#ifndef CF_TESTREPO_H
#define CF_TESTREPO_H

#include "storage/repo.h"
#include "tests/unit/support/testkeys.h"

/*
 * Make root (char[64]) a new directory /tmp/coffre-test-<name>-XXXXXX, open a
 * posix storage on it, and fill repo for instance "unit" (64 KiB chunks, zstd
 * level 1) with ops built from tk (test keys of seed).  0, or -1 on failure.
 */
int testrepo_open(const char *name, unsigned char seed, char root[64], struct cf_storage **st,
                  struct testkeys *tk, struct cf_keyops *ops, struct cf_repo *repo);
/* Free *st (set to NULL) and remove root with everything in it.  0, or -1 on failure. */
int testrepo_close(const char *root, struct cf_storage **st);

#endif
