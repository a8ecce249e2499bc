/*
 * digest.c - Content-MD5 and x-amz-content-sha256.  MD5 comes from
 * OpenSSL's libcrypto (already on every machine that has libcurl's OpenSSL
 * flavour; libsodium has no MD5) and is used for nothing else; SHA-256 comes
 * from libsodium like every other digest in coffre.
 */
#include "storage/s3/s3_int.h"

#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

void
cf_s3_md5_raw(const void *data, size_t len, unsigned char out[16])
{
    unsigned int n = 16;

    if (EVP_Digest(data, len, out, &n, EVP_md5(), NULL) != 1)
        memset(out, 0, 16); /* cannot happen; the server then refuses with BadDigest */
}

void
cf_s3_md5_base64(const void *data, size_t len, char out[25])
{
    unsigned char md[16];

    cf_s3_md5_raw(data, len, md);
    (void)EVP_EncodeBlock((unsigned char *)out, md, 16); /* 24 chars + NUL */
}

void
cf_s3_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[crypto_hash_sha256_BYTES];

    (void)crypto_hash_sha256(md, data, len);
    (void)sodium_bin2hex(out, 65, md, sizeof(md));
}
