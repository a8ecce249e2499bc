/*
 * test_s3_xml.c - the S3 driver's offline parts: XML parsers (canned AWS
 * and Ceph RGW 16.2 responses, with and without xmlns), URL building and
 * percent-encoding, RFC 3339 dates (RGW's 9-digit fractions), digests,
 * query building, backoff bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/s3/s3_int.h"

#define S(x) x, strlen(x)

/* --- percent-encoding and URLs --- */

static void
test_uri_encode(void **state)
{
    char out[64];

    (void)state;
    assert_true(
        cf_s3_uri_encode("acme/backup/20261122T020000Z/db=app.dump", true, out, sizeof(out)));
    assert_string_equal(out, "acme/backup/20261122T020000Z/db%3Dapp.dump");
    assert_true(cf_s3_uri_encode("a b+c~d%e/f", false, out, sizeof(out)));
    assert_string_equal(out, "a%20b%2Bc~d%25e%2Ff");
    assert_true(cf_s3_uri_encode("\xc3\xbc-_.", true, out, sizeof(out)));
    assert_string_equal(out, "%C3%BC-_.");
    assert_true(cf_s3_uri_encode("", true, out, sizeof(out)));
    assert_string_equal(out, "");
    /* exact fit and one byte short */
    assert_true(cf_s3_uri_encode("abc", true, out, 4));
    assert_false(cf_s3_uri_encode("abcd", true, out, 4));
    assert_false(cf_s3_uri_encode("a=", true, out, 4));
    assert_true(cf_s3_uri_encode("a=", true, out, 5));
    assert_string_equal(out, "a%3D");
}

static void
test_query(void **state)
{
    char q[128] = "";

    (void)state;
    assert_true(cf_s3_query_add(q, sizeof(q), "key-marker", "p/k 2"));
    assert_true(cf_s3_query_add(q, sizeof(q), "max-keys", "1000"));
    assert_true(cf_s3_query_add(q, sizeof(q), "versions", ""));
    assert_string_equal(q, "key-marker=p%2Fk%202&max-keys=1000&versions=");
    q[0] = '\0';
    assert_true(cf_s3_query_add(q, sizeof(q), "uploadId", "2~abc.DEF_-"));
    assert_string_equal(q, "uploadId=2~abc.DEF_-");
    q[0] = '\0';
    assert_false(cf_s3_query_add(q, 8, "prefix", "abc"));
}

static void
test_url(void **state)
{
    struct s3_storage st;
    char *url, *key;

    (void)state;
    memset(&st, 0, sizeof(st));
    st.endpoint = "https://127.0.0.1:7443";
    st.bucket = "coffre";
    url = cf_s3_url(&st, "a b/c=d", "retention=&versionId=x%2By");
    assert_string_equal(url,
                        "https://127.0.0.1:7443/coffre/a%20b/c%3Dd?retention=&versionId=x%2By");
    free(url);
    url = cf_s3_url(&st, NULL, "object-lock=");
    assert_string_equal(url, "https://127.0.0.1:7443/coffre/?object-lock=");
    free(url);
    st.host_style = true;
    st.endpoint = "https://s3.fr-par.scw.cloud";
    url = cf_s3_url(&st, "k", NULL);
    assert_string_equal(url, "https://coffre.s3.fr-par.scw.cloud/k");
    free(url);
    key = cf_s3_full_key(&st, "acme/wal/1");
    assert_string_equal(key, "acme/wal/1");
    free(key);
    st.prefix = "team/db";
    key = cf_s3_full_key(&st, "acme/wal/1");
    assert_string_equal(key, "team/db/acme/wal/1");
    free(key);
}

/* --- dates, digests, backoff --- */

static void
test_dates(void **state)
{
    char buf[32];
    int64_t t = -1;

    (void)state;
    cf_s3_date_format(1795306126, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-22T00:08:46Z");
    cf_s3_date_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00Z");

    assert_true(cf_s3_date_parse("2026-11-22T00:08:46Z", &t));
    assert_int_equal(t, 1795306126);
    assert_true(cf_s3_date_parse("2026-11-22T00:08:46.000000000Z", &t)); /* RGW */
    assert_int_equal(t, 1795306126);
    assert_true(cf_s3_date_parse("2026-11-22T00:08:46.123Z", &t)); /* AWS */
    assert_int_equal(t, 1795306126);
    assert_true(cf_s3_date_parse("2026-11-22T02:08:46+02:00", &t));
    assert_int_equal(t, 1795306126);
    assert_true(cf_s3_date_parse("2026-11-21T23:08:46.5-01:00", &t));
    assert_int_equal(t, 1795306126);
    assert_true(cf_s3_date_parse("1970-01-01T00:00:00Z", &t));
    assert_int_equal(t, 0);

    t = 42;
    assert_false(cf_s3_date_parse("2026-11-22T00:08:46.0000000000Z", &t)); /* 10 digits */
    assert_false(cf_s3_date_parse("2026-11-22T00:08:46.Z", &t));
    assert_false(cf_s3_date_parse("2026-11-22T00:08:46", &t));
    assert_false(cf_s3_date_parse("2026-11-22 00:08:46Z", &t));
    assert_false(cf_s3_date_parse("2026-13-22T00:08:46Z", &t));
    assert_false(cf_s3_date_parse("2026-11-22T24:08:46Z", &t));
    assert_false(cf_s3_date_parse("2026-11-22T00:08:46Zjunk", &t));
    assert_false(cf_s3_date_parse("Sun, 22 Nov 2026 00:08:46 GMT", &t));
    assert_false(cf_s3_date_parse("", &t));
    assert_int_equal(t, 42); /* untouched on failure */
}

static void
test_digests(void **state)
{
    char md5[25], sha[65];

    (void)state;
    cf_s3_md5_base64("", 0, md5);
    assert_string_equal(md5, "1B2M2Y8AsgTpgAmY7PhCfg==");
    cf_s3_md5_base64(S("hello"), md5);
    assert_string_equal(md5, "XUFAKrxLKna5cZ2REBfFkg==");
    cf_s3_sha256_hex("", 0, sha);
    assert_string_equal(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cf_s3_sha256_hex(S("hello"), sha);
    assert_string_equal(sha, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
}

static void
test_backoff(void **state)
{
    struct s3_storage st;

    (void)state;
    memset(&st, 0, sizeof(st));
    st.backoff_base_ms = 100;
    st.backoff_cap_ms = 5000;
    for (int i = 0; i < 200; i++) {
        assert_true(cf_s3_backoff_ms(&st, 1) <= 100);
        assert_true(cf_s3_backoff_ms(&st, 3) <= 400);
        assert_true(cf_s3_backoff_ms(&st, 7) <= 5000);
        assert_true(cf_s3_backoff_ms(&st, 1000) <= 5000);
    }
}

/* --- listings --- */

struct collected {
    int n;
    struct s3_entry e[8];
    int stop_after;   /* 0: never */
};

static cf_err
collect(void *ctx, const struct s3_entry *e, struct cf_error *err)
{
    struct collected *c = ctx;

    if (c->n < 8)
        c->e[c->n] = *e;
    c->n++;
    if (c->stop_after != 0 && c->n == c->stop_after)
        return cf_error_set(err, CF_ERR_CANCELLED, "stop");
    return CF_OK;
}

static const char list_aws[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>coffre</Name><Prefix>team/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
    "<IsTruncated>true</IsTruncated>"
    "<Contents><Key>team/acme/backup/1/db.dump</Key>"
    "<LastModified>2026-11-22T00:08:46.000Z</LastModified>"
    "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>"
    "<Size>1048576</Size><StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>team/acme/backup/1/manifest &amp; more</Key>"
    "<LastModified>2026-11-22T00:08:47Z</LastModified><ETag>\"x-2\"</ETag>"
    "<Size>0</Size></Contents>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "</ListBucketResult>";

static void
test_list_objects(void **state)
{
    struct collected c = {0};
    struct s3_list_page page;
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    assert_int_equal(cf_s3_xml_parse_list(S3_LIST_OBJECTS, S(list_aws), collect, &c, &page, &err),
                     CF_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.e[0].key, "team/acme/backup/1/db.dump");
    assert_int_equal(c.e[0].size, 1048576);
    assert_int_equal(c.e[0].mtime, 1795306126);
    assert_string_equal(c.e[0].etag, "\"9b2cf535f27731c974343645a3985328\"");
    assert_string_equal(c.e[1].key, "team/acme/backup/1/manifest & more");
    assert_int_equal(c.e[1].size, 0);
    assert_true(page.is_truncated);
    assert_string_equal(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");

    /* RGW: no xmlns, last page */
    static const char rgw[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>"
        "<Name>coffre-lock</Name><Prefix>p/</Prefix><MaxKeys>1000</MaxKeys>"
        "<IsTruncated>false</IsTruncated><Contents><Key>p/k1</Key>"
        "<LastModified>2026-11-22T02:21:40.123456789Z</LastModified><ETag>&quot;a&quot;</ETag>"
        "<Size>1000</Size><StorageClass>STANDARD</StorageClass><Owner><ID>test</ID>"
        "<DisplayName>test</DisplayName></Owner><Type>Normal</Type></Contents>"
        "<KeyCount>1</KeyCount></ListBucketResult>";
    memset(&c, 0, sizeof(c));
    assert_int_equal(cf_s3_xml_parse_list(S3_LIST_OBJECTS, S(rgw), collect, &c, &page, &err),
                     CF_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.e[0].mtime, 1795314100);
    assert_false(page.is_truncated);

    /* an empty listing */
    static const char empty[] = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                                "</ListBucketResult>";
    memset(&c, 0, sizeof(c));
    assert_int_equal(cf_s3_xml_parse_list(S3_LIST_OBJECTS, S(empty), collect, &c, &page, &err),
                     CF_OK);
    assert_int_equal(c.n, 0);

    /* the callback stops the walk with its own error */
    memset(&c, 0, sizeof(c));
    c.stop_after = 1;
    assert_int_equal(cf_s3_xml_parse_list(S3_LIST_OBJECTS, S(list_aws), collect, &c, &page, &err),
                     CF_ERR_CANCELLED);
    assert_int_equal(c.n, 1);
}

static void
test_list_versions(void **state)
{
    static const char xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>coffre-lock</Name><Prefix>p/</Prefix><KeyMarker></KeyMarker>"
        "<VersionIdMarker></VersionIdMarker><MaxKeys>3</MaxKeys>"
        "<IsTruncated>true</IsTruncated>"
        "<Version><Key>p/k1</Key><VersionId>mFrJftDyLBa2NUrdZZlxb4y8BSdIBqf</VersionId>"
        "<IsLatest>true</IsLatest><LastModified>2026-11-22T00:08:46.000000000Z</LastModified>"
        "<ETag>\"e\"</ETag><Size>1000</Size></Version>"
        "<DeleteMarker><Key>p/k2</Key><VersionId>Wuj9GAt.eWm-BuNsFBDcuQP-HPGxX5g</VersionId>"
        "<IsLatest>true</IsLatest><LastModified>2026-11-22T00:08:47.000000000Z</LastModified>"
        "</DeleteMarker>"
        "<Version><Key>p/k2</Key><VersionId>null</VersionId>"
        "<IsLatest>false</IsLatest><LastModified>2026-11-22T00:08:45.000000000Z</LastModified>"
        "<ETag>\"e\"</ETag><Size>12</Size></Version>"
        "<NextKeyMarker>p/k2</NextKeyMarker><NextVersionIdMarker>null</NextVersionIdMarker>"
        "</ListVersionsResult>";
    struct collected c = {0};
    struct s3_list_page page;
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    assert_int_equal(cf_s3_xml_parse_list(S3_LIST_VERSIONS, S(xml), collect, &c, &page, &err),
                     CF_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.e[0].version_id, "mFrJftDyLBa2NUrdZZlxb4y8BSdIBqf");
    assert_true(c.e[0].is_latest);
    assert_false(c.e[0].is_delete_marker);
    assert_int_equal(c.e[0].size, 1000);
    assert_true(c.e[1].is_delete_marker);
    assert_true(c.e[1].is_latest);
    assert_int_equal(c.e[1].mtime, 1795306127);
    assert_string_equal(c.e[2].version_id, ""); /* "null": written before versioning */
    assert_false(c.e[2].is_latest);
    assert_true(page.is_truncated);
    assert_string_equal(page.next_key_marker, "p/k2");
    assert_string_equal(page.next_id_marker, "null");
}

static void
test_list_uploads(void **state)
{
    static const char xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListMultipartUploadsResult>"
        "<Bucket>coffre-lock</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
        "<NextKeyMarker>u/killed</NextKeyMarker>"
        "<NextUploadIdMarker>2~-e43fUB2Pw-x_4L1Uz0ALfrx8yJHo3B</NextUploadIdMarker>"
        "<MaxUploads>1</MaxUploads><IsTruncated>true</IsTruncated>"
        "<Upload><Key>u/killed</Key><UploadId>2~-e43fUB2Pw-x_4L1Uz0ALfrx8yJHo3B</UploadId>"
        "<Initiator><ID>test</ID></Initiator><Owner><ID>test</ID></Owner>"
        "<StorageClass>STANDARD</StorageClass>"
        "<Initiated>2026-11-22T00:08:46.000000000Z</Initiated></Upload>"
        "</ListMultipartUploadsResult>";
    struct collected c = {0};
    struct s3_list_page page;
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    assert_int_equal(cf_s3_xml_parse_list(S3_LIST_UPLOADS, S(xml), collect, &c, &page, &err),
                     CF_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.e[0].key, "u/killed");
    assert_string_equal(c.e[0].upload_id, "2~-e43fUB2Pw-x_4L1Uz0ALfrx8yJHo3B");
    assert_int_equal(c.e[0].mtime, 1795306126);
    assert_string_equal(page.next_key_marker, "u/killed");
    assert_string_equal(page.next_id_marker, "2~-e43fUB2Pw-x_4L1Uz0ALfrx8yJHo3B");
}

static void
expect_bad_list(enum s3_list_kind kind, const char *xml)
{
    struct collected c = {0};
    struct s3_list_page page;
    struct cf_error err = CF_ERROR_INIT;

    assert_int_equal(cf_s3_xml_parse_list(kind, xml, strlen(xml), collect, &c, &page, &err),
                     CF_ERR_REMOTE);
    assert_non_null(strstr(err.msg, "could not parse S3 response: "));
    if (getenv("TEST_VERBOSE") != NULL)
        print_message("%s\n", err.msg);
}

static void
test_list_malformed(void **state)
{
    char *big;
    size_t n;

    (void)state;
    expect_bad_list(S3_LIST_OBJECTS, "");
    expect_bad_list(S3_LIST_OBJECTS, "not xml");
    expect_bad_list(S3_LIST_OBJECTS, "<ListBucketResult><Contents>");
    expect_bad_list(S3_LIST_OBJECTS, "<ListVersionsResult/>");
    expect_bad_list(S3_LIST_OBJECTS, "<Error><Code>AccessDenied</Code></Error>");
    /* truncated without a way to continue would loop forever */
    expect_bad_list(S3_LIST_OBJECTS, "<ListBucketResult><IsTruncated>true</IsTruncated>"
                                     "</ListBucketResult>");
    expect_bad_list(S3_LIST_VERSIONS, "<ListVersionsResult><IsTruncated>true</IsTruncated>"
                                      "</ListVersionsResult>");
    expect_bad_list(S3_LIST_OBJECTS, "<ListBucketResult><Contents><Size>1</Size></Contents>"
                                     "</ListBucketResult>");
    expect_bad_list(S3_LIST_OBJECTS, "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
                                     "</Contents></ListBucketResult>");
    expect_bad_list(S3_LIST_OBJECTS, "<ListBucketResult><Contents><Key>k</Key><Size>1x</Size>"
                                     "</Contents></ListBucketResult>");
    expect_bad_list(S3_LIST_OBJECTS,
                    "<ListBucketResult><Contents><Key>k</Key><Size>1</Size>"
                    "<LastModified>yesterday</LastModified></Contents></ListBucketResult>");
    expect_bad_list(S3_LIST_VERSIONS, "<ListVersionsResult><Version><Key>k</Key><Size>1</Size>"
                                      "</Version></ListVersionsResult>");
    expect_bad_list(S3_LIST_UPLOADS, "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload>"
                                     "</ListMultipartUploadsResult>");
    /* an external entity is not fetched nor expanded into a key */
    expect_bad_list(S3_LIST_OBJECTS,
                    "<!DOCTYPE r [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
                    "<ListBucketResult><Contents><Key>&e;</Key><Size>1</Size></Contents>"
                    "</ListBucketResult>");
    /* a key longer than S3 allows is refused, not truncated */
    static const char open_tags[] = "<ListBucketResult><Contents><Key>";
    static const char close_tags[] = "</Key><Size>1</Size></Contents></ListBucketResult>";
    n = strlen(open_tags) + S3_KEY_MAX + 1 + strlen(close_tags);
    big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'k', n);
    memcpy(big, open_tags, strlen(open_tags));
    memcpy(big + n - strlen(close_tags), close_tags, strlen(close_tags) + 1);
    expect_bad_list(S3_LIST_OBJECTS, big);
    /* the longest valid key is accepted */
    memmove(big + strlen(open_tags) + S3_KEY_MAX, close_tags, strlen(close_tags) + 1);
    {
        struct collected c = {0};
        struct s3_list_page page;
        struct cf_error err = CF_ERROR_INIT;

        assert_int_equal(
            cf_s3_xml_parse_list(S3_LIST_OBJECTS, big, strlen(big), collect, &c, &page, &err),
            CF_OK);
        assert_int_equal(strlen(c.e[0].key), S3_KEY_MAX);
    }
    free(big);
}

/* --- single-document responses --- */

static void
test_error(void **state)
{
    static const char rgw[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
        "<Message>forbidden by object lock</Message><BucketName>coffre-lock</BucketName>"
        "<RequestId>tx0000</RequestId><HostId>1-default</HostId></Error>";
    static const char aws[] =
        "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
        "<Key>a/b</Key></Error>";
    char code[64], msg[256];

    (void)state;
    assert_true(cf_s3_xml_parse_error(S(rgw), code, sizeof(code), msg, sizeof(msg)));
    assert_string_equal(code, "AccessDenied");
    assert_string_equal(msg, "forbidden by object lock");
    assert_true(cf_s3_xml_parse_error(S(aws), code, sizeof(code), msg, sizeof(msg)));
    assert_string_equal(code, "NoSuchKey");
    assert_false(cf_s3_xml_parse_error(S("<Error><Message>m</Message></Error>"), code, sizeof(code),
                                       msg, sizeof(msg)));
    assert_string_equal(code, "");
    assert_false(cf_s3_xml_parse_error(S("<html>502 Bad Gateway</html>"), code, sizeof(code), msg,
                                       sizeof(msg)));
    assert_false(cf_s3_xml_parse_error("", 0, code, sizeof(code), msg, sizeof(msg)));
    assert_false(cf_s3_xml_parse_error(NULL, 0, code, sizeof(code), msg, sizeof(msg)));
}

static void
test_upload_id_and_complete(void **state)
{
    static const char init[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>coffre-lock</Bucket>"
        "<Key>b/mid</Key><UploadId>2~rIFgaBefE9YbxvNJga1-i7eaNu4P7RU</UploadId>"
        "</InitiateMultipartUploadResult>";
    static const char done_rgw[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult>"
        "<Location>coffre-lock.127.0.0.1/b/mid</Location><Bucket>coffre-lock</Bucket>"
        "<Key>b/mid</Key><ETag></ETag></CompleteMultipartUploadResult>";
    static const char done_aws[] =
        "<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Key>b/mid</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>"
        "</CompleteMultipartUploadResult>";
    static const char done_err[] =
        "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message>"
        "</Error>";
    char id[S3_UPLOAD_ID_MAX + 1], etag[S3_ETAG_MAX + 1], code[64], msg[256];
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    assert_int_equal(cf_s3_xml_parse_upload_id(S(init), id, sizeof(id), &err), CF_OK);
    assert_string_equal(id, "2~rIFgaBefE9YbxvNJga1-i7eaNu4P7RU");
    assert_int_equal(cf_s3_xml_parse_upload_id(S("<InitiateMultipartUploadResult><UploadId/>"
                                                 "</InitiateMultipartUploadResult>"),
                                               id, sizeof(id), &err),
                     CF_ERR_REMOTE);

    cf_error_clear(&err);
    assert_int_equal(cf_s3_xml_parse_complete(S(done_rgw), etag, sizeof(etag), code, sizeof(code),
                                              msg, sizeof(msg), &err),
                     CF_OK);
    assert_string_equal(etag, ""); /* Ceph Pacific */
    assert_string_equal(code, "");
    assert_int_equal(cf_s3_xml_parse_complete(S(done_aws), etag, sizeof(etag), code, sizeof(code),
                                              msg, sizeof(msg), &err),
                     CF_OK);
    assert_string_equal(etag, "\"3858f62230ac3c915f300c664312c11f-9\"");
    /* 200 OK with an error in the body */
    assert_int_equal(cf_s3_xml_parse_complete(S(done_err), etag, sizeof(etag), code, sizeof(code),
                                              msg, sizeof(msg), &err),
                     CF_OK);
    assert_string_equal(code, "InternalError");
    assert_string_equal(msg, "We encountered an internal error.");
    assert_int_equal(cf_s3_xml_parse_complete(S("<Other/>"), etag, sizeof(etag), code, sizeof(code),
                                              msg, sizeof(msg), &err),
                     CF_ERR_REMOTE);
}

static void
test_retention(void **state)
{
    static const char rgw[] = "<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>"
                              "2026-11-22T00:08:46.000000000Z</RetainUntilDate></Retention>";
    static const char aws[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Retention "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>GOVERNANCE</Mode>"
        "<RetainUntilDate>2026-11-22T00:08:46.000Z</RetainUntilDate></Retention>";
    char mode[32];
    int64_t t = 0;
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    assert_int_equal(cf_s3_xml_parse_retention(S(rgw), mode, sizeof(mode), &t, &err), CF_OK);
    assert_string_equal(mode, "COMPLIANCE");
    assert_int_equal(t, 1795306126);
    t = 0;
    assert_int_equal(cf_s3_xml_parse_retention(S(aws), mode, sizeof(mode), &t, &err), CF_OK);
    assert_string_equal(mode, "GOVERNANCE");
    assert_int_equal(t, 1795306126);
    t = 7;
    assert_int_equal(cf_s3_xml_parse_retention(S("<Retention><Mode>COMPLIANCE</Mode></Retention>"),
                                               mode, sizeof(mode), &t, &err),
                     CF_ERR_REMOTE);
    assert_int_equal(t, 7);
    cf_error_clear(&err);
    assert_int_equal(
        cf_s3_xml_parse_retention(S("<Retention><RetainUntilDate>tomorrow</RetainUntilDate>"
                                    "</Retention>"),
                                  mode, sizeof(mode), &t, &err),
        CF_ERR_REMOTE);
}

static void
test_lock_config_and_versioning(void **state)
{
    static const char on[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ObjectLockConfiguration "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ObjectLockEnabled>Enabled"
        "</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>1</Days>"
        "</DefaultRetention></Rule></ObjectLockConfiguration>";
    bool is_on = false;
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    assert_int_equal(cf_s3_xml_parse_lock_config(S(on), &is_on, &err), CF_OK);
    assert_true(is_on);
    assert_int_equal(cf_s3_xml_parse_lock_config(S("<ObjectLockConfiguration/>"), &is_on, &err),
                     CF_OK);
    assert_false(is_on);
    assert_int_equal(cf_s3_xml_parse_lock_config(S("<Error/>"), &is_on, &err), CF_ERR_REMOTE);
    assert_int_equal(
        cf_s3_xml_parse_versioning(S("<VersioningConfiguration xmlns=\"x\"><Status>Enabled</Status>"
                                     "</VersioningConfiguration>"),
                                   &is_on, &err),
        CF_OK);
    assert_true(is_on);
    assert_int_equal(
        cf_s3_xml_parse_versioning(S("<VersioningConfiguration><Status>Suspended</Status>"
                                     "</VersioningConfiguration>"),
                                   &is_on, &err),
        CF_OK);
    assert_false(is_on);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_list_objects),
        cmocka_unit_test(test_list_versions),
        cmocka_unit_test(test_list_uploads),
        cmocka_unit_test(test_list_malformed),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_upload_id_and_complete),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_lock_config_and_versioning),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
