/*
 * test_config.c - the configuration parser (common/config.c).
 *
 * Wording is part of the interface: every error message is asserted exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"

/* The minimal file of DESIGN.md, "Configuration and CLI", verbatim. */
static const char design_minimal[] =
    "[coffre]\n"
    "instance = acme              ; names the instance in the repository and in metrics\n"
    "formula = onprem             ; onprem | managed\n"
    "\n"
    "[postgres]\n"
    "conninfo = host=/run/postgresql dbname=postgres user=coffre   ; libpq; passwords via .pgpass\n"
    "; databases = app, billing   ; default: every connectable non-template database\n"
    "; schema = tenant_acme       ; managed formula: the tenant's schema\n"
    "\n"
    "[repository]\n"
    "type = posix                 ; posix | s3\n"
    "path = /var/lib/coffre/repo\n"
    "; type = s3 uses instead:\n"
    "; endpoint = https://s3.fr-par.scw.cloud\n"
    "; bucket = acme-backups\n"
    "; region = fr-par\n"
    "; prefix = coffre\n"
    "; uri_style = path           ; path | host\n"
    "; ca_file = /etc/coffre/ca.pem\n"
    "; access_key_file = /etc/coffre/s3.access   ; or $CREDENTIALS_DIRECTORY, or AWS_* variables\n"
    "; secret_key_file = /etc/coffre/s3.secret\n"
    "; lock_mode = compliance     ; compliance | governance\n"
    "\n"
    "; [retention]\n"
    "; daily = 7\n"
    "; weekly = 4\n"
    "; monthly = 12\n"
    "; min_keep = 3\n"
    "\n"
    "[keys]\n"
    "module = /usr/lib/softhsm/libsofthsm2.so\n"
    "kek = pkcs11:token=coffre;object=coffre-kek      ; one or more URIs, comma-separated\n"
    "pin_file = /etc/coffre/hsm.pin\n";

/* A compact valid file; extra lines appended by tests start at line 13. */
static const char base[] = "[coffre]\n"                                                    /* 1 */
                           "instance = acme\n"                                             /* 2 */
                           "formula = onprem\n"                                            /* 3 */
                           "[postgres]\n"                                                  /* 4 */
                           "conninfo = host=/run/postgresql dbname=postgres user=coffre\n" /* 5 */
                           "[repository]\n"                                                /* 6 */
                           "type = posix\n"                                                /* 7 */
                           "path = /var/lib/coffre/repo\n"                                 /* 8 */
                           "[keys]\n"                                                      /* 9 */
                           "module = /usr/lib/softhsm/libsofthsm2.so\n"                    /* 10 */
                           "kek = pkcs11:token=coffre;object=coffre-kek\n"                 /* 11 */
                           "pin_file = /etc/coffre/hsm.pin\n";                             /* 12 */

static struct cf_error last_err;

/* base with its first occurrence of from replaced by to (to may be ""). */
static char *
edit(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    size_t head, len;
    char *out;

    assert_non_null(at);
    head = (size_t)(at - text);
    len = strlen(text) - strlen(from) + strlen(to);
    out = malloc(len + 1);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, to, strlen(to));
    memcpy(out + head + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
    return out;
}

static char *
append(const char *text, const char *extra)
{
    size_t a = strlen(text), b = strlen(extra);
    char *out = malloc(a + b + 1);

    assert_non_null(out);
    memcpy(out, text, a);
    memcpy(out + a, extra, b + 1);
    return out;
}

static struct cf_config *
parse_ok(const char *text)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_config *cfg = NULL;
    cf_err rc = cf_config_parse("acme.conf", text, &cfg, &err);

    if (rc != CF_OK)
        fail_msg("unexpected error: %s (%s)", err.msg, err.detail);
    assert_non_null(cfg);
    return cfg;
}

/* Parse text (freed here), expect msg; the error stays in last_err. */
static void
parse_fails(char *text, const char *msg)
{
    struct cf_config *cfg = (struct cf_config *)(uintptr_t)1; /* must stay untouched */

    cf_error_clear(&last_err);
    assert_int_equal(cf_config_parse("acme.conf", text, &cfg, &last_err), CF_ERR_CONFIG);
    assert_int_equal(last_err.code, CF_ERR_CONFIG);
    assert_ptr_equal(cfg, (struct cf_config *)(uintptr_t)1);
    assert_string_equal(last_err.msg, msg);
    free(text);
}

static void
test_design_minimal(void **state)
{
    struct cf_config *cfg = parse_ok(design_minimal);

    (void)state;
    assert_string_equal(cfg->path, "acme.conf");
    assert_string_equal(cfg->instance, "acme");
    assert_int_equal(cfg->formula, CF_FORMULA_ONPREM);
    assert_string_equal(cfg->pg.conninfo, "host=/run/postgresql dbname=postgres user=coffre");
    assert_int_equal(cfg->pg.n_databases, 0);
    assert_null(cfg->pg.schema);
    assert_null(cfg->pg.bindir);
    assert_int_equal(cfg->repo.type, CF_REPO_POSIX);
    assert_string_equal(cfg->repo.path, "/var/lib/coffre/repo");
    assert_string_equal(cfg->keys.module, "/usr/lib/softhsm/libsofthsm2.so");
    assert_int_equal(cfg->keys.n_keks, 1);
    assert_string_equal(cfg->keys.keks[0], "pkcs11:token=coffre;object=coffre-kek");
    assert_string_equal(cfg->keys.pin_file, "/etc/coffre/hsm.pin");
    cf_config_free(cfg);
}

/* [compression] level = auto: the adaptive level of stream/zstd.c */
static void
test_level_auto(void **state)
{
    char *text = append(base, "[compression]\nlevel = auto\nworkers = 0\n");
    struct cf_config *cfg = parse_ok(text);

    (void)state;
    assert_int_equal(cfg->object.zstd_level, 0);
    assert_int_equal(cfg->object.zstd_workers, 0);
    assert_false(cfg->object.zstd_workers_auto); /* 0 said: no thread, even for wal-push */
    cf_config_free(cfg);
    free(text);
    text = append(base, "[compression]\nworkers = auto\n");
    cfg = parse_ok(text);
    assert_int_equal(cfg->object.zstd_workers, 0);
    assert_true(cfg->object.zstd_workers_auto);
    cf_config_free(cfg);
    free(text);
}

static void
test_defaults(void **state)
{
    struct cf_config *cfg = parse_ok(base);

    (void)state;
    assert_int_equal(cfg->retention.daily, 7);
    assert_int_equal(cfg->retention.weekly, 4);
    assert_int_equal(cfg->retention.monthly, 12);
    assert_int_equal(cfg->retention.min_keep, 3);
    assert_int_equal(cfg->object.zstd_level, 0); /* auto */
    assert_int_equal(cfg->object.zstd_workers, 0);
    assert_true(cfg->object.zstd_workers_auto); /* the default (issue 13) */
    assert_int_equal(cfg->object.chunk_size, 65536);
    cf_config_free(cfg);

    /* pin_file is optional */
    cfg =
        parse_ok("[coffre]\ninstance=a\nformula=onprem\n[postgres]\nconninfo=dbname=x\n"
                 "[repository]\ntype=posix\npath=/r\n[keys]\nmodule=/m.so\nkek=pkcs11:object=k\n");
    assert_null(cfg->keys.pin_file);
    cf_config_free(cfg);
}

static void
test_all_keys(void **state)
{
    static const char text[] =
        "\xEF\xBB\xBF# every key, CRLF line ends, '#' and tab-';' comments\r\n"
        "[coffre]\r\n"
        "instance = Acme_prod.eu-1\r\n"
        "formula = managed # a comment\r\n"
        "[postgres]\r\n"
        "conninfo = postgresql://coffre@db.example/postgres?sslmode=verify-full\r\n"
        "databases =  app , billing,x\t;comment\r\n"
        "schema = tenant_a#b;c\r\n"
        "bindir = /usr/lib/postgresql/15/bin\r\n"
        "[repository]\r\n"
        "type=posix\r\n"
        "path=/srv/coffre repo\r\n"
        "[retention]\r\n"
        "daily = 0\r\n"
        "weekly = 10000\r\n"
        "monthly = 1\r\n"
        "min_keep = 010\r\n"
        "[compression]\r\n"
        "level = 19\r\n"
        "workers = 64\r\n"
        "[encryption]\r\n"
        "chunk_size = 1M\r\n"
        "[keys]\r\n"
        "  module = /usr/lib/softhsm/libsofthsm2.so\r\n"
        "  kek = pkcs11:token=coffre;object=kek-2025 ,pkcs11:token=dr;object=kek%20b\r\n"
        "[coffre]\r\n";
    struct cf_config *cfg = parse_ok(text);

    (void)state;
    assert_string_equal(cfg->instance, "Acme_prod.eu-1");
    assert_int_equal(cfg->formula, CF_FORMULA_MANAGED);
    assert_string_equal(cfg->pg.conninfo,
                        "postgresql://coffre@db.example/postgres?sslmode=verify-full");
    assert_int_equal(cfg->pg.n_databases, 3);
    assert_string_equal(cfg->pg.databases[0], "app");
    assert_string_equal(cfg->pg.databases[1], "billing");
    assert_string_equal(cfg->pg.databases[2], "x");
    assert_string_equal(cfg->pg.schema, "tenant_a#b;c");
    assert_string_equal(cfg->pg.bindir, "/usr/lib/postgresql/15/bin");
    assert_string_equal(cfg->repo.path, "/srv/coffre repo");
    assert_int_equal(cfg->retention.daily, 0);
    assert_int_equal(cfg->retention.weekly, 10000);
    assert_int_equal(cfg->retention.monthly, 1);
    assert_int_equal(cfg->retention.min_keep, 10);
    assert_int_equal(cfg->object.zstd_level, 19);
    assert_int_equal(cfg->object.zstd_workers, 64);
    assert_false(cfg->object.zstd_workers_auto);
    assert_int_equal(cfg->object.chunk_size, 1048576);
    assert_string_equal(cfg->keys.module, "/usr/lib/softhsm/libsofthsm2.so");
    assert_int_equal(cfg->keys.n_keks, 2);
    assert_string_equal(cfg->keys.keks[0], "pkcs11:token=coffre;object=kek-2025");
    assert_string_equal(cfg->keys.keks[1], "pkcs11:token=dr;object=kek%20b");
    assert_null(cfg->keys.pin_file);
    cf_config_free(cfg);
}

static void
test_chunk_size(void **state)
{
    static const struct {
        const char *text;
        size_t bytes;
    } good[] = {
        {"4096", 4096},       {"4k", 4096},    {"4K", 4096},    {"64k", 65536},
        {"65536", 65536},     {"1M", 1048576}, {"4M", 4194304}, {"4096k", 4194304},
        {"4194304", 4194304}, {"0004k", 4096},
    };
    static const char *const bad[] = {
        "4095",
        "3k",
        "5M",
        "4097k",
        "4194305",
        "0",
        "k",
        "M",
        "1m",
        "1G",
        "1KB",
        "-4k",
        "+4096",
        "4 k",
        "0x1000",
        "4k4",
        "99999999999999999999999999k",
        "18446744073709551616",
    };
    char line[128];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct cf_config *cfg;
        char *text;

        (void)snprintf(line, sizeof(line), "[encryption]\nchunk_size = %s\n", good[i].text);
        text = append(base, line);
        cfg = parse_ok(text);
        free(text);
        assert_int_equal(cfg->object.chunk_size, good[i].bytes);
        cf_config_free(cfg);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[200];

        (void)snprintf(line, sizeof(line), "[encryption]\nchunk_size = %s\n", bad[i]);
        (void)snprintf(msg, sizeof(msg),
                       "acme.conf:14: invalid value for \"encryption.chunk_size\": \"%s\"", bad[i]);
        parse_fails(append(base, line), msg);
        assert_string_equal(last_err.detail, "A size from 4096 (4k) to 4194304 (4M) bytes is "
                                             "required, in bytes or with a k or M suffix.");
    }
}

static void
test_numbers(void **state)
{
    static const struct {
        const char *extra;
        const char *msg;
        const char *detail;
    } cases[] = {
        {"[retention]\ndaily = 10001\n",
         "acme.conf:14: invalid value for \"retention.daily\": \"10001\"",
         "An integer from 0 to 10000 is required."},
        {"[retention]\nweekly = -1\n",
         "acme.conf:14: invalid value for \"retention.weekly\": \"-1\"",
         "An integer from 0 to 10000 is required."},
        {"[retention]\nmonthly = 1.5\n",
         "acme.conf:14: invalid value for \"retention.monthly\": \"1.5\"",
         "An integer from 0 to 10000 is required."},
        {"[retention]\nmin_keep = three\n",
         "acme.conf:14: invalid value for \"retention.min_keep\": \"three\"",
         "An integer from 0 to 10000 is required."},
        {"[compression]\nlevel = 0\n",
         "acme.conf:14: invalid value for \"compression.level\": \"0\"",
         "A zstd level from 1 to 19, or auto, is required."},
        {"[compression]\nlevel = 20\n",
         "acme.conf:14: invalid value for \"compression.level\": \"20\"",
         "A zstd level from 1 to 19, or auto, is required."},
        {"[compression]\nworkers = 65\n",
         "acme.conf:14: invalid value for \"compression.workers\": \"65\"",
         "An integer from 0 to 64, or auto, is required."},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parse_fails(append(base, cases[i].extra), cases[i].msg);
        assert_string_equal(last_err.detail, cases[i].detail);
    }
}

static void
test_row_counts(void **state)
{
    static const char *const off[] = {"false", "off", "No", "0"};
    struct cf_config *cfg;
    char *text;

    (void)state;
    cfg = parse_ok(base);
    assert_true(cfg->backup.row_counts);
    cf_config_free(cfg);
    for (size_t i = 0; i < 4; i++) {
        char extra[64];

        (void)snprintf(extra, sizeof(extra), "[backup]\nrow_counts = %s\n", off[i]);
        text = append(base, extra);
        cfg = parse_ok(text);
        assert_false(cfg->backup.row_counts);
        cf_config_free(cfg);
        free(text);
    }
    parse_fails(append(base, "[backup]\nrow_counts = maybe\n"),
                "acme.conf:14: invalid value for \"backup.row_counts\": \"maybe\"");
    assert_string_equal(last_err.detail, "Accepted values are true/false, on/off, yes/no, 1/0.");
}

static void
test_lists(void **state)
{
    struct cf_config *cfg;
    char *text;

    (void)state;
    text = append(base, "[postgres]\ndatabases = a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p\n");
    cfg = parse_ok(text);
    free(text);
    assert_int_equal(cfg->pg.n_databases, CF_CONFIG_MAX_LIST);
    assert_string_equal(cfg->pg.databases[15], "p");
    cf_config_free(cfg);

    parse_fails(append(base, "[postgres]\ndatabases = a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n"),
                "acme.conf:14: invalid value for \"postgres.databases\": "
                "\"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\"");
    assert_string_equal(last_err.detail, "The list has more than 16 elements.");
    parse_fails(append(base, "[postgres]\ndatabases = app,,billing\n"),
                "acme.conf:14: invalid value for \"postgres.databases\": \"app,,billing\"");
    assert_string_equal(last_err.detail, "The list has an empty element.");
    parse_fails(append(base, "[postgres]\ndatabases = app,\n"),
                "acme.conf:14: invalid value for \"postgres.databases\": \"app,\"");
    parse_fails(append(base, "[postgres]\ndatabases = app, billing, app\n"),
                "acme.conf:14: invalid value for \"postgres.databases\": \"app, billing, app\"");
    assert_string_equal(last_err.detail, "\"app\" is listed twice.");
    parse_fails(append(base, "[postgres]\ndatabases = "
                             "a234567890123456789012345678901234567890123456789012345678901234\n"),
                "acme.conf:14: invalid value for \"postgres.databases\": "
                "\"a234567890123456789012345678901234567890123456789012345678901234\"");

    parse_fails(edit(base, "kek = pkcs11:token=coffre;object=coffre-kek",
                     "kek = pkcs11:token=coffre;object=coffre-kek, /etc/kek.bin"),
                "acme.conf:11: invalid value for \"keys.kek\": "
                "\"pkcs11:token=coffre;object=coffre-kek, /etc/kek.bin\"");
    assert_string_equal(last_err.detail,
                        "Element \"/etc/kek.bin\": a key is named by a PKCS#11 URI starting with "
                        "\"pkcs11:\" (RFC 7512).");
    parse_fails(edit(base, "kek = pkcs11:token=coffre;object=coffre-kek", "kek = pkcs11:"),
                "acme.conf:11: invalid value for \"keys.kek\": \"pkcs11:\"");
    parse_fails(
        edit(base, "kek = pkcs11:token=coffre;object=coffre-kek", "kek = pkcs11:token=my token"),
        "acme.conf:11: invalid value for \"keys.kek\": \"pkcs11:token=my token\"");
    assert_string_equal(last_err.detail, "Element \"pkcs11:token=my token\": a PKCS#11 URI "
                                         "contains no whitespace; percent-encode it as %20.");
    /* issue 12, finding 6: a PIN inside a key URI and credentials inside a URL are never
     * echoed, even when the line is wrong */
    parse_fails(edit(base, "kek = pkcs11:token=coffre;object=coffre-kek",
                     "kek = pkcs11:token=coffre;object=k?pin-value=4321 x"),
                "acme.conf:11: invalid value for \"keys.kek\": "
                "\"pkcs11:token=coffre;object=k?pin-value=*** x\"");
    assert_null(strstr(last_err.detail, "4321"));
    parse_fails(append(base, "[alerts]\nsmtp_url = smtp://ops:s3cret@mail.example:587\n"),
                "acme.conf:14: invalid value for \"alerts.smtp_url\": "
                "\"smtp://mail.example:587\"");
    parse_fails(append(base, "[alerts]\nwebhook_url = https://hooks.example/T0/B1/s3cret x\n"),
                "acme.conf:14: invalid value for \"alerts.webhook_url\": "
                "\"https://hooks.example/…\"");
}

static void
test_inline_comments(void **state)
{
    struct cf_config *cfg;
    char *text;

    (void)state;
    /* ';' and '#' without a blank before them are part of the value */
    text = edit(base, "conninfo = host=/run/postgresql dbname=postgres user=coffre",
                "conninfo = host=/run/postgresql dbname=db#1;x user=coffre\t# comment ; more");
    cfg = parse_ok(text);
    free(text);
    assert_string_equal(cfg->pg.conninfo, "host=/run/postgresql dbname=db#1;x user=coffre");
    cf_config_free(cfg);

    /* a comment on a section line, and whole-line comments of both kinds */
    text = edit(base, "[keys]\n", "[keys]   ; the HSM\n# comment\n   ; indented comment\n");
    cfg = parse_ok(text);
    free(text);
    assert_string_equal(cfg->keys.module, "/usr/lib/softhsm/libsofthsm2.so");
    cf_config_free(cfg);
}

static void
test_error_messages(void **state)
{
    (void)state;
    parse_fails(append(base, "[x]\n"), "acme.conf:13: unknown section \"[x]\"");
    parse_fails(append(base, "[s3]\n; nothing\n"), "acme.conf:13: unknown section \"[s3]\"");
    parse_fails(append(base, "[retention]\ndayly = 7\n"),
                "acme.conf:14: unknown key \"retention.dayly\"");
    parse_fails(append(base, "[repository]\nendpont = https://s3.example\n"),
                "acme.conf:14: unknown key \"repository.endpont\"");
    parse_fails(edit(base, "formula = onprem", "formula = cloud"),
                "acme.conf:3: invalid value for \"coffre.formula\": \"cloud\"");
    assert_string_equal(last_err.detail, "Accepted values are \"onprem\" and \"managed\".");
    parse_fails(edit(base, "formula = onprem", "formula = OnPrem"),
                "acme.conf:3: invalid value for \"coffre.formula\": \"OnPrem\"");
    parse_fails(append(base, "module = /usr/lib/other.so\n"),
                "acme.conf:13: duplicate key \"keys.module\"");
    parse_fails(append(base, "[coffre]\n  instance = acme\n"),
                "acme.conf:14: duplicate key \"coffre.instance\"");
    parse_fails(edit(base, "kek = pkcs11:token=coffre;object=coffre-kek\n", ""),
                "acme.conf: missing required key \"keys.kek\"");
    parse_fails(append(base, "garbage\n"), "acme.conf:13: syntax error");
    parse_fails(append(base, "[retention\n"), "acme.conf:13: syntax error");
    assert_string_equal(last_err.detail, "A section header is \"[name]\" alone on its line.");
    parse_fails(append(base, "[retention] daily = 3\n"), "acme.conf:13: syntax error");
    parse_fails(append(base, "daily\x1b[2J = 3\n"), "acme.conf:13: syntax error");
    assert_string_equal(last_err.detail, "The line contains a control character.");
    parse_fails(append("instance = acme\n", base),
                "acme.conf:1: key \"instance\" appears before any section");
    parse_fails(edit(base, "type = posix", "type = s3"),
                "acme.conf: missing required key \"repository.endpoint\" (required when "
                "repository.type = s3)");
    parse_fails(edit(base, "type = posix", "type = nfs"),
                "acme.conf:7: invalid value for \"repository.type\": \"nfs\"");
    assert_string_equal(last_err.detail, "Accepted values are \"posix\" and \"s3\".");
    parse_fails(edit(base, "path = /var/lib/coffre/repo", "path = var/lib/coffre"),
                "acme.conf:8: invalid value for \"repository.path\": \"var/lib/coffre\"");
    assert_string_equal(last_err.detail, "An absolute path, starting with \"/\", is required.");
    parse_fails(edit(base, "module = /usr/lib/softhsm/libsofthsm2.so", "module = libsofthsm2.so"),
                "acme.conf:10: invalid value for \"keys.module\": \"libsofthsm2.so\"");
    parse_fails(edit(base, "pin_file = /etc/coffre/hsm.pin", "pin_file = ~/hsm.pin"),
                "acme.conf:12: invalid value for \"keys.pin_file\": \"~/hsm.pin\"");
    parse_fails(append(base, "[postgres]\nbindir = bin\n"),
                "acme.conf:14: invalid value for \"postgres.bindir\": \"bin\"");
    parse_fails(edit(base, "pin_file = /etc/coffre/hsm.pin", "pin_file =    ; later"),
                "acme.conf:12: invalid value for \"keys.pin_file\": \"\"");
    assert_string_equal(last_err.detail,
                        "The value is empty; to use the default, remove the line.");
    parse_fails(edit(base, "instance = acme", "instance = acme prod"),
                "acme.conf:2: invalid value for \"coffre.instance\": \"acme prod\"");
    assert_string_equal(last_err.detail,
                        "An instance name is 1 to 64 letters, digits, \"_\", \".\" or \"-\".");
    parse_fails(
        edit(base, "instance = acme",
             "instance = a2345678901234567890123456789012345678901234567890123456789012345"),
        "acme.conf:2: invalid value for \"coffre.instance\": "
        "\"a2345678901234567890123456789012345678901234567890123456789012345\"");
    parse_fails(append(base, "[postgres]\nschema = "
                             "s234567890123456789012345678901234567890123456789012345678901234\n"),
                "acme.conf:14: invalid value for \"postgres.schema\": "
                "\"s234567890123456789012345678901234567890123456789012345678901234\"");
}

static void
test_instance_64(void **state)
{
    char *text =
        edit(base, "instance = acme",
             "instance = a234567890123456789012345678901234567890123456789012345678901234");
    struct cf_config *cfg = parse_ok(text);

    (void)state;
    free(text);
    assert_int_equal(strlen(cfg->instance), 64);
    cf_config_free(cfg);
}

static void
test_missing_required(void **state)
{
    static const struct {
        const char *line;
        const char *key;
    } req[] = {
        {"instance = acme\n", "coffre.instance"},
        {"formula = onprem\n", "coffre.formula"},
        {"conninfo = host=/run/postgresql dbname=postgres user=coffre\n", "postgres.conninfo"},
        {"type = posix\n", "repository.type"},
        {"module = /usr/lib/softhsm/libsofthsm2.so\n", "keys.module"},
        {"kek = pkcs11:token=coffre;object=coffre-kek\n", "keys.kek"},
    };
    char msg[128];

    (void)state;
    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        (void)snprintf(msg, sizeof(msg), "acme.conf: missing required key \"%s\"", req[i].key);
        parse_fails(edit(base, req[i].line, ""), msg);
    }
    parse_fails(strdup(""), "acme.conf: missing required key \"coffre.instance\"");
    parse_fails(edit(base, "path = /var/lib/coffre/repo\n", ""),
                "acme.conf: missing required key \"repository.path\" (required when "
                "repository.type = posix)");
}

static void
test_s3(void **state)
{
    struct cf_config *cfg;
    char *text;

    (void)state;
    text = edit(base, "type = posix\npath = /var/lib/coffre/repo\n",
                "type = s3\nendpoint = https://s3.fr-par.scw.cloud\nbucket = acme-backups\n"
                "region = fr-par\nprefix = coffre\nuri_style = host\nca_file = /etc/coffre/ca.pem\n"
                "access_key_file = /etc/coffre/s3.access\nsecret_key_file = /etc/coffre/s3.secret\n"
                "lock_mode = governance\npart_size = 64M\nparts_in_flight = 4\n");
    cfg = parse_ok(text);
    assert_int_equal(cfg->repo.type, CF_REPO_S3);
    assert_string_equal(cfg->repo.s3.endpoint, "https://s3.fr-par.scw.cloud");
    assert_string_equal(cfg->repo.s3.bucket, "acme-backups");
    assert_string_equal(cfg->repo.s3.region, "fr-par");
    assert_string_equal(cfg->repo.s3.prefix, "coffre");
    assert_true(cfg->repo.s3.host_style);
    assert_true(cfg->repo.s3.governance);
    assert_false(cfg->repo.s3.allow_unlocked);
    assert_int_equal(cfg->repo.s3.part_size, 64 * 1024 * 1024);
    assert_int_equal(cfg->repo.s3.parts_in_flight, 4);
    assert_null(cfg->repo.path);
    cf_config_free(cfg);
    free(text);
    text = edit(base, "type = posix\npath = /var/lib/coffre/repo\n",
                "type = s3\nendpoint = http://127.0.0.1:7480\nbucket = b01\n");
    cfg = parse_ok(text);
    assert_int_equal(cfg->repo.s3.part_size, 16 * 1024 * 1024);
    assert_int_equal(cfg->repo.s3.parts_in_flight, 2);
    assert_int_equal(cfg->retention.lock_margin, 86400);
    cf_config_free(cfg);
    free(text);
    parse_fails(append(base, "[repository]\npart_size = 1M\n"),
                "acme.conf:14: invalid value for \"repository.part_size\": \"1M\"");
    parse_fails(append(base, "[repository]\nendpoint = ftp://x\n"),
                "acme.conf:14: invalid value for \"repository.endpoint\": \"ftp://x\"");
    parse_fails(append(base, "[repository]\nlock_mode = legal\n"),
                "acme.conf:14: invalid value for \"repository.lock_mode\": \"legal\"");
    parse_fails(append(base, "[retention]\nlock_margin = 2w\n"),
                "acme.conf:14: invalid value for \"retention.lock_margin\": \"2w\"");
    text = append(base, "[retention]\nlock_margin = 12h\nstale_after = 30m\n");
    cfg = parse_ok(text);
    assert_int_equal(cfg->retention.lock_margin, 12 * 3600);
    assert_int_equal(cfg->retention.stale_after, 1800);
    cf_config_free(cfg);
    free(text);
}

static void
test_managed_schema(void **state)
{
    struct cf_config *cfg;
    char *managed, *text;

    (void)state;
    parse_fails(edit(base, "formula = onprem", "formula = managed"),
                "acme.conf: missing required key \"postgres.schema\" "
                "(required when coffre.formula = managed)");
    managed = edit(base, "formula = onprem", "formula = managed");
    text = append(managed, "[postgres]\nschema = tenant_acme\n");
    cfg = parse_ok(text);
    free(managed);
    free(text);
    assert_int_equal(cfg->formula, CF_FORMULA_MANAGED);
    assert_string_equal(cfg->pg.schema, "tenant_acme");
    cf_config_free(cfg);
}

static void
test_conninfo(void **state)
{
    static const char *const with_password[] = {
        "conninfo = host=/run/postgresql user=coffre password=s3cret",
        "conninfo = host=/run/postgresql password='' user=coffre",
        "conninfo = postgresql://coffre:s3cret@db.example/postgres",
        "conninfo = postgresql://db.example/postgres?password=s3cret",
        "conninfo = host=/run/postgresql user=coffre sslpassword=s3cret",
    };
    static const char *const original =
        "conninfo = host=/run/postgresql dbname=postgres user=coffre";

    (void)state;
    for (size_t i = 0; i < sizeof(with_password) / sizeof(with_password[0]); i++) {
        parse_fails(edit(base, original, with_password[i]),
                    "acme.conf:5: \"postgres.conninfo\" must not contain a password");
        assert_string_equal(last_err.hint, "Put the password in ~/.pgpass of the user running "
                                           "coffre, or in the file named by PGPASSFILE "
                                           "(password= and sslpassword= would reach the argv "
                                           "of pg_dump).");
        assert_null(strstr(last_err.detail, "s3cret"));
    }
    parse_fails(edit(base, original, "conninfo = host=/run/postgresql nosuchoption=1"),
                "acme.conf:5: invalid value for \"postgres.conninfo\"");
    assert_string_equal(last_err.detail,
                        "libpq could not parse it: invalid connection option \"nosuchoption\".");
    parse_fails(edit(base, original, "conninfo = host=/run/postgresql dbname"),
                "acme.conf:5: invalid value for \"postgres.conninfo\"");
    assert_non_null(strstr(last_err.detail, "missing \"=\" after \"dbname\""));
    parse_fails(edit(base, original, "conninfo = host='/run/postgresql"),
                "acme.conf:5: invalid value for \"postgres.conninfo\"");
}

static void
test_first_error_wins(void **state)
{
    char *no_kek = edit(base, "kek = pkcs11:token=coffre;object=coffre-kek\n", "");

    (void)state;
    parse_fails(append(base, "[retention]\ndaily = x\ndayly = 1\n[nope]\ngarbage\n"),
                "acme.conf:14: invalid value for \"retention.daily\": \"x\"");
    parse_fails(append(no_kek, "junk\n"), "acme.conf:12: syntax error");
    free(no_kek);
}

static void
test_long_line(void **state)
{
    char line[400];
    struct cf_config *cfg;
    char *text;

    (void)state;
    /* a long comment does not count */
    memset(line, 'x', sizeof(line));
    memcpy(line, "[keys] ; ", 9);
    line[sizeof(line) - 2] = '\n';
    line[sizeof(line) - 1] = '\0';
    text = edit(base, "[keys]\n", line);
    cfg = parse_ok(text);
    free(text);
    cf_config_free(cfg);

    (void)snprintf(line, sizeof(line), "[postgres]\ndatabases = %0300d\n", 7);
    parse_fails(append(base, line), "acme.conf:14: line is too long");
    assert_string_equal(last_err.detail,
                        "A line holds at most 198 characters, not counting its comment.");
}

/* ---- cf_config_load ---------------------------------------------------- */

static char tmpdir[] = "/tmp/test_config.XXXXXX";

static char *
write_file(const char *name, const void *data, size_t len)
{
    char *path;
    FILE *f;

    assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static void
load_fails(const char *path, const char *msg)
{
    struct cf_config *cfg = NULL;

    cf_error_clear(&last_err);
    assert_int_equal(cf_config_load(path, &cfg, &last_err), CF_ERR_CONFIG);
    assert_null(cfg);
    assert_string_equal(last_err.msg, msg);
}

static void
test_load(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_config *cfg = NULL;
    char msg[512], missing[256], *path, *big;
    size_t big_len = 1024 * 1024 + 1;

    (void)state;
    assert_non_null(mkdtemp(tmpdir));

    path = write_file("acme.conf", design_minimal, strlen(design_minimal));
    assert_int_equal(cf_config_load(path, &cfg, &err), CF_OK);
    assert_string_equal(cfg->path, path);
    assert_string_equal(cfg->keys.keks[0], "pkcs11:token=coffre;object=coffre-kek");
    cf_config_free(cfg);
    free(path);

    /* exactly 1 MiB is accepted (comments), one byte more is not */
    big = malloc(big_len);
    assert_non_null(big);
    memset(big, '#', big_len);
    memcpy(big, base, strlen(base));
    big[big_len - 2] = '\n';
    path = write_file("big.conf", big, big_len - 1);
    cfg = NULL;
    assert_int_equal(cf_config_load(path, &cfg, &err), CF_OK);
    cf_config_free(cfg);
    free(path);
    path = write_file("huge.conf", big, big_len);
    (void)snprintf(msg, sizeof(msg), "could not read configuration file \"%s\": File too large",
                   path);
    load_fails(path, msg);
    free(path);
    free(big);

    path = write_file("nul.conf", "[coffre]\ninstance = a\0b\n", 24);
    (void)snprintf(msg, sizeof(msg), "%s:2: syntax error", path);
    load_fails(path, msg);
    free(path);

    (void)snprintf(missing, sizeof(missing), "%s/none.conf", tmpdir);
    (void)snprintf(msg, sizeof(msg),
                   "could not read configuration file \"%s\": No such file or directory", missing);
    load_fails(missing, msg);
    (void)snprintf(msg, sizeof(msg), "could not read configuration file \"%s\": Is a directory",
                   tmpdir);
    load_fails(tmpdir, msg);
}

static void
test_load_cleanup(void **state)
{
    char cmd[128];

    (void)state;
    (void)snprintf(cmd, sizeof(cmd), "%s/acme.conf", tmpdir);
    (void)unlink(cmd);
    (void)snprintf(cmd, sizeof(cmd), "%s/big.conf", tmpdir);
    (void)unlink(cmd);
    (void)snprintf(cmd, sizeof(cmd), "%s/huge.conf", tmpdir);
    (void)unlink(cmd);
    (void)snprintf(cmd, sizeof(cmd), "%s/nul.conf", tmpdir);
    (void)unlink(cmd);
    assert_int_equal(rmdir(tmpdir), 0);
}

/* The shipped example parses, uncommented keys only (run from the source tree). */
static void
test_example_file(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_config *cfg = NULL;

    (void)state;
    if (access("coffre.conf.example", R_OK) != 0)
        skip();
    if (cf_config_load("coffre.conf.example", &cfg, &err) != CF_OK)
        fail_msg("%s (%s)", err.msg, err.detail);
    assert_string_equal(cfg->instance, "acme");
    assert_string_equal(cfg->pg.conninfo, "host=/run/postgresql dbname=postgres user=coffre");
    assert_string_equal(cfg->keys.keks[0], "pkcs11:token=coffre;object=coffre-kek");
    assert_string_equal(cfg->keys.pin_file, "/etc/coffre/hsm.pin");
    cf_config_free(cfg);
}

/* ---- robustness -------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t
rng(void)
{
    /* xorshift64: deterministic, so a failure reproduces */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void
check_any(const char *text)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_config *cfg = NULL;
    cf_err rc = cf_config_parse("fuzz.conf", text, &cfg, &err);

    if (rc == CF_OK) {
        assert_non_null(cfg);
        assert_non_null(cfg->instance);
        assert_non_null(cfg->pg.conninfo);
        assert_true(cfg->keys.n_keks >= 1);
        cf_config_free(cfg);
    } else {
        assert_int_equal(rc, CF_ERR_CONFIG);
        assert_null(cfg);
        assert_true(strncmp(err.msg, "fuzz.conf", 9) == 0);
    }
}

static void
test_fuzz(void **state)
{
    static const char alphabet[] = "[]=;# \t\n\r,:kpsM0129/abcdefgprtyo\x01\xff";
    char buf[2048];

    (void)state;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (size_t)(rng() % 1024);

        for (size_t i = 0; i < len; i++) {
            uint64_t r = rng();

            buf[i] =
                (r & 1) ? (char)(1 + (r >> 8) % 255) : alphabet[(r >> 8) % (sizeof(alphabet) - 1)];
        }
        buf[len] = '\0';
        check_any(buf);
    }
    /* mutations of a valid file reach deeper */
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = strlen(design_minimal);
        int flips = 1 + (int)(rng() % 4);

        memcpy(buf, design_minimal, len + 1);
        for (int f = 0; f < flips; f++) {
            uint64_t r = rng();

            buf[r % len] = (r >> 32) & 1 ? alphabet[(r >> 40) % (sizeof(alphabet) - 1)]
                                         : (char)(1 + (r >> 40) % 255);
        }
        check_any(buf);
    }
}

/* [coffre] state_dir, its default, and the deprecated [wal] spool alias. */
static void
test_state_dir(void **state)
{
    struct cf_config *cfg = parse_ok(design_minimal);
    char *text;

    (void)state;
    assert_string_equal(cfg->state_dir, "/var/lib/coffre/acme");
    assert_string_equal(cfg->metrics.state_dir, "/var/lib/coffre/acme/state");
    assert_int_equal(cfg->n_warnings, 0);
    cf_config_free(cfg);

    text = append(design_minimal, "[wal]\nspool = /srv/coffre/acme\n");
    cfg = parse_ok(text);
    free(text);
    assert_string_equal(cfg->state_dir, "/srv/coffre/acme");
    assert_string_equal(cfg->metrics.state_dir, "/srv/coffre/acme/state");
    assert_int_equal(cfg->n_warnings, 1);
    assert_string_equal(cfg->warnings[0], "acme.conf: \"wal.spool\" is deprecated: use "
                                          "\"coffre.state_dir\" (same meaning)");
    cf_config_free(cfg);

    text = append(design_minimal, "[metrics]\nstate_dir = /run/coffre\n");
    cfg = parse_ok(text);
    free(text);
    assert_string_equal(cfg->metrics.state_dir, "/run/coffre");
    cf_config_free(cfg);

    parse_fails(append(design_minimal, "[wal]\nspool = relative\n"),
                "acme.conf:35: invalid value for \"wal.spool\": \"relative\"");
}

/* [drill]: seed 003's targets by default, a staging target without a password. */
static void
test_drill(void **state)
{
    struct cf_config *cfg = parse_ok(design_minimal);
    char *text;

    (void)state;
    assert_null(cfg->drill.target);
    assert_null(cfg->drill.check_sql);
    assert_int_equal(cfg->drill.rto_simple, 30 * 60);
    assert_int_equal(cfg->drill.rto_partial, 2 * 3600);
    assert_int_equal(cfg->drill.rto_total, 4 * 3600);
    assert_int_equal(cfg->drill.rto_pitr, 4 * 3600);
    assert_int_equal(cfg->drill.rpo, 3600);
    assert_int_equal(cfg->drill.timeout, 4 * 3600);
    assert_int_equal(cfg->drill.jobs, 2);
    assert_int_equal(cfg->alerts.drill_age_warning, 8 * 86400);
    assert_int_equal(cfg->alerts.drill_age_critical, 95 * 86400);
    cf_config_free(cfg);

    text = append(design_minimal, "[drill]\ntarget = host=staging dbname=postgres\n"
                                  "check_sql = /etc/coffre/drill.sql\nrto_simple = 10m\n"
                                  "rpo = 2h\njobs = 4\n");
    cfg = parse_ok(text);
    free(text);
    assert_string_equal(cfg->drill.target, "host=staging dbname=postgres");
    assert_string_equal(cfg->drill.check_sql, "/etc/coffre/drill.sql");
    assert_int_equal(cfg->drill.rto_simple, 600);
    assert_int_equal(cfg->drill.rpo, 7200);
    assert_int_equal(cfg->drill.jobs, 4);
    assert_string_equal(cfg->pg.conninfo, "host=/run/postgresql dbname=postgres user=coffre");
    cf_config_free(cfg);

    parse_fails(append(design_minimal, "[drill]\ntarget = host=staging password=secret\n"),
                "acme.conf:35: \"drill.target\" must not contain a password");
    assert_null(strstr(last_err.detail, "secret"));
    parse_fails(append(design_minimal, "[drill]\njobs = 0\n"),
                "acme.conf:35: invalid value for \"drill.jobs\": \"0\"");
}

static void
test_free_null(void **state)
{
    (void)state;
    cf_config_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_minimal),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_level_auto),
        cmocka_unit_test(test_all_keys),
        cmocka_unit_test(test_chunk_size),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_row_counts),
        cmocka_unit_test(test_s3),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_inline_comments),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_instance_64),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_managed_schema),
        cmocka_unit_test(test_conninfo),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_load_cleanup),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_state_dir),
        cmocka_unit_test(test_drill),
        cmocka_unit_test(test_free_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
