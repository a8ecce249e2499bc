/* testkeys.h - a struct cf_keyops backed by a fixed libsodium key (unit tests only). */
#ifndef CF_TESTKEYS_H
#define CF_TESTKEYS_H

#include "stream/keyops.h"

struct testkeys {
    unsigned char key[32];
    const char *uri;
    int fail_wrap;      /* make wrap fail */
    int fail_sign;      /* make sign fail */
    unsigned char sign_pk[32], sign_sk[64]; /* Ed25519, from the seed */
};

/* A keyops whose ctx is tk (borrowed). */
struct cf_keyops testkeys_ops(struct testkeys *tk);
void testkeys_init(struct testkeys *tk, unsigned char seed, const char *uri);

#endif
