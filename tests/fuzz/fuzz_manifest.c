/* fuzz_manifest.c - libFuzzer: the manifest JSON parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_manifest *m = NULL;

    if (cf_manifest_from_json((const char *)data, size, "fuzz", &m, &err) == CF_OK) {
        char *json = NULL;
        size_t len = 0;

        /* what parses must serialize again */
        if (cf_manifest_to_json(m, &json, &len, &err) == CF_OK)
            free(json);
    }
    cf_manifest_free(m);
    return 0;
}
