/* fuzz_s3_xml.c - libFuzzer: the S3 driver's XML response parsers and date
 * parser on arbitrary bytes.  The first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/s3/s3_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cf_err
count(void *ctx, const struct s3_entry *e, struct cf_error *err)
{
    (void)err;
    /* what a parser hands out is always a terminated, non-empty key */
    if (e->key[0] == '\0' || strlen(e->key) > S3_KEY_MAX)
        abort();
    (*(size_t *)ctx)++;
    return CF_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_error err = CF_ERROR_INIT;
    struct s3_list_page page;
    const char *xml = (const char *)data + 1;
    char a[S3_ETAG_MAX + 1], b[64], c[256];
    size_t n = 0, len;
    int64_t t = 0;
    bool on = false;

    if (size < 1)
        return 0;
    len = size - 1;
    switch (data[0] % 10) {
    case 0:
        (void)cf_s3_xml_parse_list(S3_LIST_OBJECTS, xml, len, count, &n, &page, &err);
        break;
    case 1:
        (void)cf_s3_xml_parse_list(S3_LIST_VERSIONS, xml, len, count, &n, &page, &err);
        break;
    case 2:
        (void)cf_s3_xml_parse_list(S3_LIST_UPLOADS, xml, len, count, &n, &page, &err);
        break;
    case 3:
        (void)cf_s3_xml_parse_error(xml, len, b, sizeof(b), c, sizeof(c));
        break;
    case 4:
        (void)cf_s3_xml_parse_upload_id(xml, len, a, sizeof(a), &err);
        break;
    case 5:
        (void)cf_s3_xml_parse_complete(xml, len, a, sizeof(a), b, sizeof(b), c, sizeof(c), &err);
        break;
    case 6:
        (void)cf_s3_xml_parse_retention(xml, len, b, sizeof(b), &t, &err);
        break;
    case 7:
        (void)cf_s3_xml_parse_lock_config(xml, len, &on, &err);
        break;
    case 8:
        (void)cf_s3_xml_parse_versioning(xml, len, &on, &err);
        break;
    default: {
        char *s = malloc(len + 1);

        if (s != NULL) {
            memcpy(s, xml, len);
            s[len] = '\0';
            (void)cf_s3_date_parse(s, &t);
            free(s);
        }
        break;
    }
    }
    return 0;
}
