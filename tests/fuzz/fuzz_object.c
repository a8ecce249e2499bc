/*
 * fuzz_object.c - libFuzzer: the object header parser, then the whole
 * decrypt -> decompress -> verify chain, on arbitrary bytes.  Uses a fixed
 * test key, so inputs built from a real object (the seed corpus) reach the
 * payload code.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <sodium.h>

#include "stream/pipeline.h"
#include "tests/unit/support/testkeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cf_object_header h;
    static struct testkeys tk;
    static int ready;
    struct cf_error err = CF_ERROR_INIT;
    struct cf_keyops ops;
    struct cf_restore_chain chain;
    struct cf_sink *null = NULL;
    size_t core = 0, total = 0, half = size / 2;

    if (!ready) {
        if (sodium_init() < 0)
            abort();
        testkeys_init(&tk, 1, "pkcs11:token=fuzz;object=k");
        ready = 1;
    }
    (void)cf_object_parse(data, size, "fuzz", &h, &core, &total, &err);
    cf_error_clear(&err);
    ops = testkeys_ops(&tk);
    if (cf_null_sink_new(&null, &err) != CF_OK ||
        cf_restore_chain_new(&ops, NULL, "fuzz", NULL, null, &chain, &err) != CF_OK)
        abort();
    /* two writes, so split headers and chunks are exercised */
    if (cf_sink_write(chain.head, data, half, &err) == CF_OK &&
        cf_sink_write(chain.head, data + half, size - half, &err) == CF_OK)
        (void)cf_sink_close(chain.head, &err);
    cf_sink_free(chain.head);
    return 0;
}
