/*
 * make_seed.c - write a valid object (fixed test key, small chunks, several
 * chunks) to the file named by argv[1]: the seed that lets fuzz_object reach
 * the payload code instead of stopping at the header.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "stream/pipeline.h"
#include "tests/unit/support/testkeys.h"

int
main(int argc, char **argv)
{
    struct cf_encrypt_options enc = {CF_OBJ_DUMP, "20261122T000000Z", "db/seed.dump", 4096};
    struct cf_compress_options comp = {3, 0, false};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_backup_chain chain;
    struct cf_sink *out = NULL;
    struct testkeys tk;
    struct cf_keyops ops;
    unsigned char text[12000];
    FILE *f;

    if (argc != 2 || sodium_init() < 0 || (f = fopen(argv[1], "wb")) == NULL)
        return 2;
    testkeys_init(&tk, 1, "pkcs11:token=fuzz;object=k");
    ops = testkeys_ops(&tk);
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (unsigned char)(i % 7 ? 'a' + (i * 13) % 26 : ' ');
    randombytes_buf(text + 8000, 4000); /* incompressible: several chunks */
    if (cf_fd_sink_new(fileno(f), 0, argv[1], &out, &err) != CF_OK ||
        cf_backup_chain_new(&ops, &enc, &comp, out, &chain, &err) != CF_OK ||
        cf_sink_write(chain.head, text, sizeof(text), &err) != CF_OK ||
        cf_sink_close(chain.head, &err) != CF_OK) {
        (void)fprintf(stderr, "make_seed: %s\n", err.msg);
        return 1;
    }
    cf_sink_free(chain.head);
    return fclose(f) == 0 ? 0 : 1;
}
