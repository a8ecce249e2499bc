/*
 * test_keyring.c - the PKCS#11 keyring against a real SoftHSM2.
 *
 * The group setup creates a throwaway SoftHSM2 store with three tokens:
 * "coffre" (site HSM, AES KEK), "escrow" (RSA KEK) and "writer" (a
 * write-only host that will hold only escrow's public key).  Each test opens
 * and frees its own keyrings, so every test starts logged out.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "pkcs11/keyring.h"
#include "pkcs11/p11.h"
#include "stream/signed.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define AES_URI "pkcs11:token=coffre;object=kek-aes"
#define RSA_URI "pkcs11:token=escrow;object=kek-rsa"
#define WRITER_URI "pkcs11:token=writer;object=kek-rsa"

extern char **environ;

/* Short buffers: the temporary directory name has a fixed, short length. */
static char dir[64], pin[128], badpin[128];
static char coffre_store[512], hidden_store[128];
static const uint8_t aad[] = "header core v1";

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* The one entry of DIR/tokens not in known[0..n). */
static void
new_store(char known[][NAME_MAX + 1], size_t n, char *out)
{
    char path[128];
    struct dirent *de;
    DIR *d;

    (void)snprintf(path, sizeof(path), "%s/tokens", dir);
    d = opendir(path);
    assert_non_null(d);
    out[0] = '\0';
    while ((de = readdir(d)) != NULL) {
        bool is_known = de->d_name[0] == '.';

        for (size_t i = 0; i < n; i++)
            is_known = is_known || strcmp(known[i], de->d_name) == 0;
        if (!is_known)
            (void)snprintf(out, NAME_MAX + 1, "%s", de->d_name);
    }
    closedir(d);
    assert_true(out[0] != '\0');
}

static void
init_token(const char *label)
{
    char *argv[] = {"softhsm2-util", "--init-token", "--free", "--label", (char *)label,
                    "--so-pin", "1234", "--pin", "4321", NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = 0;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    assert_int_equal(posix_spawnp(&pid, "softhsm2-util", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static struct cf_keyring *
open_kr(const char *const *keks, size_t n, const char *pin_file)
{
    struct cf_keyring_options o = {
        .module = MODULE, .keks = keks, .n_keks = n, .pin_file = pin_file};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_keyring *kr = NULL;

    if (cf_keyring_open(&o, &kr, &err) != CF_OK)
        fail_msg("cf_keyring_open: %s", err.msg);
    return kr;
}

/* A restore host: the KEKs it may unwrap with as keys.read, and a PIN. */
static struct cf_keyring *
open_reader(const char *const *uris, size_t n, const char *pin_file)
{
    struct cf_keyring_options o = {
        .module = MODULE, .read = uris, .n_read = n, .pin_file = pin_file};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_keyring *kr = NULL;

    if (cf_keyring_open(&o, &kr, &err) != CF_OK)
        fail_msg("cf_keyring_open: %s", err.msg);
    return kr;
}

static void
create_key(struct cf_keyring *kr, const char *uri, enum cf_kek_type type, unsigned bits)
{
    struct cf_keyring_init init = {uri, type, bits};
    struct cf_error err = CF_ERROR_INIT;

    if (cf_keyring_create(kr, &init, &err) != CF_OK)
        fail_msg("cf_keyring_create(%s): %s", uri, err.msg);
}

static int
group_setup(void **state)
{
    char conf[128], path[512], known[3][NAME_MAX + 1];
    const char *labels[] = {"coffre", "escrow", "writer"};
    struct cf_keyring *kr;

    (void)state;
    assert_int_equal(sodium_init() < 0, 0);
    (void)snprintf(dir, sizeof(dir), "/tmp/coffre-keyring-XXXXXX");
    assert_non_null(mkdtemp(dir));
    (void)snprintf(path, sizeof(path), "%s/tokens", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    (void)snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
    (void)snprintf(path, sizeof(path),
                   "directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
                   "log.level = ERROR\n", dir);
    write_file(conf, path);
    assert_int_equal(setenv("SOFTHSM2_CONF", conf, 1), 0);
    unsetenv("CREDENTIALS_DIRECTORY");
    /* Remember which store directory is "coffre", so a test can take that token away. */
    for (size_t i = 0; i < 3; i++) {
        init_token(labels[i]);
        new_store(known, i, known[i]);
    }
    (void)snprintf(coffre_store, sizeof(coffre_store), "%s/tokens/%s", dir, known[0]);
    (void)snprintf(hidden_store, sizeof(hidden_store), "%s/hidden", dir);
    (void)snprintf(pin, sizeof(pin), "%s/pin", dir);
    (void)snprintf(badpin, sizeof(badpin), "%s/badpin", dir);
    write_file(pin, "4321\n");
    write_file(badpin, "0000\n");

    kr = open_kr(NULL, 0, pin);
    create_key(kr, AES_URI, CF_KEK_AES, 0);
    create_key(kr, RSA_URI, CF_KEK_RSA, 0); /* default size: 3072 */
    cf_keyring_free(kr);
    return 0;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
group_teardown(void **state)
{
    (void)state;
    if (dir[0] != '\0')
        (void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* SoftHSM 2.6 only does SHA-1 OAEP, so it yields the SHA-1 kind; real HSMs SHA-256. */
static bool
is_rsa_kind(uint8_t kind)
{
    return kind == CF_RECIPIENT_RSA_OAEP || kind == CF_RECIPIENT_RSA_OAEP_SHA1;
}

static void
random_dek(uint8_t dek[CF_DEK_BYTES])
{
    randombytes_buf(dek, CF_DEK_BYTES);
}

/* Wrap with kr's configured KEKs; asserts success. */
static size_t
wrap(struct cf_keyring *kr, const uint8_t dek[CF_DEK_BYTES], struct cf_recipient *rs)
{
    const struct cf_keyops *ops = cf_keyring_keyops(kr);
    struct cf_error err = CF_ERROR_INIT;
    size_t n = 0;

    if (ops->wrap(ops->ctx, dek, aad, sizeof(aad), rs, CF_RECIPIENTS_MAX, &n, &err) != CF_OK)
        fail_msg("wrap: %s", err.msg);
    return n;
}

static cf_err
unwrap(struct cf_keyring *kr, const struct cf_recipient *rs, size_t n, uint8_t *dek,
       struct cf_error *err)
{
    const struct cf_keyops *ops = cf_keyring_keyops(kr);

    return ops->unwrap(ops->ctx, rs, n, aad, sizeof(aad), dek, err);
}

static void
test_aes_round_trip(void **state)
{
    /* The PIN comes from the URI here, and must not be stored in the object. */
    char uri[256];
    const char *keks[] = {uri}, *aes_only[] = {AES_URI};
    struct cf_recipient rs[CF_RECIPIENTS_MAX];
    struct cf_error err = CF_ERROR_INIT;
    uint8_t dek[CF_DEK_BYTES], back[CF_DEK_BYTES];
    struct cf_keyring *kr;

    (void)state;
    (void)snprintf(uri, sizeof(uri), AES_URI "?pin-source=file:%s", pin);
    kr = open_kr(keks, 1, NULL);
    random_dek(dek);
    assert_int_equal(wrap(kr, dek, rs), 1);
    assert_int_equal(rs[0].kind, CF_RECIPIENT_AES_GCM);
    assert_int_equal(rs[0].wrapped_len, 60);
    assert_string_equal(rs[0].uri, AES_URI);
    cf_keyring_free(kr);

    /* A restore host: the KEK as keys.read, and a PIN. */
    kr = open_reader(aes_only, 1, pin);
    assert_int_equal(unwrap(kr, rs, 1, back, &err), CF_OK);
    assert_memory_equal(dek, back, CF_DEK_BYTES);

    cf_keyring_free(kr);

    /* A pin-source in a header is ignored: the wrong PIN it names is never tried. */
    kr = open_reader(aes_only, 1, pin);
    (void)snprintf(rs[0].uri, sizeof(rs[0].uri), AES_URI "?pin-source=%s", badpin);
    assert_int_equal(unwrap(kr, rs, 1, back, &err), CF_OK);
    cf_keyring_free(kr);
}

static void
test_rsa_round_trip(void **state)
{
    const char *keks[] = {RSA_URI};
    struct cf_recipient rs[CF_RECIPIENTS_MAX];
    struct cf_error err = CF_ERROR_INIT;
    uint8_t dek[CF_DEK_BYTES], back[CF_DEK_BYTES];
    struct cf_keyring *kr = open_kr(keks, 1, pin);

    (void)state;
    random_dek(dek);
    assert_int_equal(wrap(kr, dek, rs), 1);
    assert_true(is_rsa_kind(rs[0].kind));
    assert_int_equal(rs[0].wrapped_len, 384);
    assert_string_equal(rs[0].uri, RSA_URI);
    assert_int_equal(unwrap(kr, rs, 1, back, &err), CF_OK);
    assert_memory_equal(dek, back, CF_DEK_BYTES);
    assert_int_equal(cf_keyring_check(kr, true, &err), CF_OK);
    cf_keyring_free(kr);
}

static void
test_aad_tampering(void **state)
{
    const char *keks[] = {AES_URI};
    const struct cf_keyops *ops;
    struct cf_recipient rs[CF_RECIPIENTS_MAX];
    struct cf_error err = CF_ERROR_INIT;
    uint8_t dek[CF_DEK_BYTES], back[CF_DEK_BYTES], other[sizeof(aad)];
    struct cf_keyring *kr = open_kr(keks, 1, pin);

    (void)state;
    random_dek(dek);
    assert_int_equal(wrap(kr, dek, rs), 1);
    memcpy(other, aad, sizeof(aad));
    other[0] ^= 1;
    ops = cf_keyring_keyops(kr);
    assert_int_equal(ops->unwrap(ops->ctx, rs, 1, other, sizeof(other), back, &err), CF_ERR_KEY);
    assert_string_equal(err.msg, "no key can decrypt this object");
    assert_non_null(strstr(err.detail, "Recipient \"" AES_URI "\": C_Decrypt returned CKR_"));
    assert_non_null(strstr(err.hint, "keys check"));
    cf_keyring_free(kr);
}

static void
test_multiple_recipients(void **state)
{
    const char *keks[] = {AES_URI, RSA_URI};
    struct cf_recipient rs[CF_RECIPIENTS_MAX];
    struct cf_error err = CF_ERROR_INIT;
    uint8_t dek[CF_DEK_BYTES], back[CF_DEK_BYTES];
    struct cf_keyring *kr = open_kr(keks, 2, pin);

    (void)state;
    random_dek(dek);
    assert_int_equal(wrap(kr, dek, rs), 2);
    assert_int_equal(rs[0].kind, CF_RECIPIENT_AES_GCM);
    assert_true(is_rsa_kind(rs[1].kind));
    cf_keyring_free(kr);

    /* The site HSM is lost: the escrow key alone must still open the object. */
    assert_int_equal(rename(coffre_store, hidden_store), 0);
    kr = open_reader(keks, 2, pin);
    assert_int_equal(unwrap(kr, rs, 2, back, &err), CF_OK);
    assert_memory_equal(dek, back, CF_DEK_BYTES);
    assert_int_equal(unwrap(kr, rs, 1, back, &err), CF_ERR_KEY);
    assert_string_equal(err.msg, "no key can decrypt this object");
    assert_string_equal(err.detail, "Recipient \"" AES_URI "\": token not present.");
    cf_keyring_free(kr);
    assert_int_equal(rename(hidden_store, coffre_store), 0);
}

static void
test_write_only_host(void **state)
{
    char path[128];
    const char *keks[] = {WRITER_URI};
    struct cf_recipient rs[CF_RECIPIENTS_MAX];
    struct cf_error err = CF_ERROR_INIT;
    uint8_t dek[CF_DEK_BYTES], back[CF_DEK_BYTES];
    struct cf_keyring *kr = open_kr(NULL, 0, pin);
    json_t *js;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/escrow.json", dir);
    assert_int_equal(cf_keyring_export_public(kr, RSA_URI, path, &err), CF_OK);
    js = json_load_file(path, 0, NULL);
    assert_non_null(js);
    assert_string_equal(json_string_value(json_object_get(js, "label")), "kek-rsa");
    assert_string_equal(json_string_value(json_object_get(js, "public_exponent")), "010001");
    assert_int_equal(strlen(json_string_value(json_object_get(js, "modulus"))), 768);
    assert_int_equal(strlen(json_string_value(json_object_get(js, "id"))), 16);
    json_decref(js);
    assert_int_equal(cf_keyring_import_public(kr, path, "pkcs11:token=writer", &err), CF_OK);
    assert_int_equal(cf_keyring_import_public(kr, path, "pkcs11:token=writer", &err),
                     CF_ERR_EXISTS);
    assert_string_equal(err.msg, "a key labelled \"kek-rsa\" already exists on token \"writer\"");
    cf_keyring_free(kr);

    /* The write-only host: no PIN at all. */
    kr = open_kr(keks, 1, NULL);
    err = (struct cf_error)CF_ERROR_INIT;
    assert_int_equal(cf_keyring_check(kr, false, &err), CF_OK);
    random_dek(dek);
    assert_int_equal(wrap(kr, dek, rs), 1);
    assert_true(is_rsa_kind(rs[0].kind));
    assert_int_equal(unwrap(kr, rs, 1, back, &err), CF_ERR_KEY);
    assert_string_equal(err.msg, "no key can decrypt this object");
    assert_non_null(strstr(err.detail, "no PIN for token \"writer\""));
    cf_keyring_free(kr);

    /* Only the escrow token, which holds the private half, can open it. */
    kr = open_reader((const char *const[]){RSA_URI}, 1, pin);
    (void)snprintf(rs[0].uri, sizeof(rs[0].uri), "%s", RSA_URI);
    err = (struct cf_error)CF_ERROR_INIT;
    assert_int_equal(unwrap(kr, rs, 1, back, &err), CF_OK);
    assert_memory_equal(dek, back, CF_DEK_BYTES);
    cf_keyring_free(kr);
}

static void
expect_wrap_error(const char *uri, const char *pin_file, cf_err code, const char *msg)
{
    const char *keks[] = {uri};
    struct cf_recipient rs[CF_RECIPIENTS_MAX];
    struct cf_error err = CF_ERROR_INIT;
    uint8_t dek[CF_DEK_BYTES];
    const struct cf_keyops *ops;
    struct cf_keyring *kr = open_kr(keks, 1, pin_file);
    size_t n = 0;

    random_dek(dek);
    ops = cf_keyring_keyops(kr);
    assert_int_equal(ops->wrap(ops->ctx, dek, aad, sizeof(aad), rs, CF_RECIPIENTS_MAX, &n, &err),
                     code);
    assert_string_equal(err.msg, msg);
    assert_int_equal(n, 0);
    /* keys check must fail the same way, in the first second of a command. */
    err = (struct cf_error)CF_ERROR_INIT;
    assert_int_equal(cf_keyring_check(kr, true, &err), code);
    assert_string_equal(err.msg, msg);
    cf_keyring_free(kr);
}

static void
test_wrong_pin(void **state)
{
    const char *keks[] = {AES_URI};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_keyring *kr = open_kr(keks, 1, badpin);

    (void)state;
    expect_wrap_error(AES_URI, badpin, CF_ERR_KEY,
                      "could not log in to token \"coffre\": C_Login returned "
                      "CKR_PIN_INCORRECT (0x000000A0)");
    assert_int_equal(cf_keyring_check(kr, false, &err), CF_ERR_KEY);
    assert_string_equal(err.hint, "check the PIN file named by keys.pin_file");
    cf_keyring_free(kr);
}

static void
test_missing_token_key_pin(void **state)
{
    char nofile[128], msg[256];

    (void)state;
    expect_wrap_error("pkcs11:token=nope;object=kek-aes", pin, CF_ERR_KEY,
                      "no PKCS#11 token matches \"pkcs11:token=nope;object=kek-aes\"");
    expect_wrap_error("pkcs11:token=coffre;object=nope", pin, CF_ERR_KEY,
                      "no key matches \"pkcs11:token=coffre;object=nope\" on token \"coffre\"");
    expect_wrap_error(AES_URI, NULL, CF_ERR_KEY, "no PIN for token \"coffre\"");
    (void)snprintf(nofile, sizeof(nofile), "%s/nope", dir);
    (void)snprintf(msg, sizeof(msg),
                   "could not read PIN file \"%s\": No such file or directory", nofile);
    expect_wrap_error(AES_URI, nofile, CF_ERR_CONFIG, msg);
}

static void
test_missing_module(void **state)
{
    struct cf_keyring_options o = {.module = "/nonexistent/libnope.so"};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_keyring *kr = NULL;
    const char *prefix = "could not load PKCS#11 module \"/nonexistent/libnope.so\": ";

    (void)state;
    assert_int_equal(cf_keyring_open(&o, &kr, &err), CF_ERR_KEY);
    assert_null(kr);
    assert_memory_equal(err.msg, prefix, strlen(prefix));
    assert_true(strlen(err.msg) > strlen(prefix));
}

static void
test_credentials_directory(void **state)
{
    char creds[128], path[256];
    const char *keks[] = {AES_URI};
    struct cf_recipient rs[CF_RECIPIENTS_MAX];
    uint8_t dek[CF_DEK_BYTES];
    struct cf_keyring *kr;

    (void)state;
    (void)snprintf(creds, sizeof(creds), "%s/creds", dir);
    assert_int_equal(mkdir(creds, 0700), 0);
    (void)snprintf(path, sizeof(path), "%s/coffre-hsm-pin", creds);
    write_file(path, "4321");
    assert_int_equal(setenv("CREDENTIALS_DIRECTORY", creds, 1), 0);
    kr = open_kr(keks, 1, NULL);
    random_dek(dek);
    assert_int_equal(wrap(kr, dek, rs), 1);
    cf_keyring_free(kr);
    unsetenv("CREDENTIALS_DIRECTORY");
}

static void
test_create_and_status(void **state)
{
    const char *keks[] = {"pkcs11:token=coffre;object=extra-aes", RSA_URI ";type=public",
                          "pkcs11:token=coffre;object=absent"};
    struct cf_keyring_init dup = {AES_URI, CF_KEK_AES, 0};
    struct cf_kek_status st[3];
    struct cf_error err = CF_ERROR_INIT;
    struct cf_keyring *kr = open_kr(keks, 3, pin);

    (void)state;
    assert_int_equal(cf_keyring_create(kr, &dup, &err), CF_ERR_EXISTS);
    assert_string_equal(err.msg, "a key labelled \"kek-aes\" already exists on token \"coffre\"");
    create_key(kr, keks[0], CF_KEK_AES, 0);
    err = (struct cf_error)CF_ERROR_INIT;
    assert_int_equal(cf_keyring_status(kr, st, 3, &err), CF_OK);
    assert_string_equal(st[0].uri, keks[0]);
    assert_true(st[0].is_reachable && st[0].can_wrap && st[0].can_unwrap);
    assert_int_equal(st[0].type, CF_KEK_AES);
    assert_int_equal(st[0].bits, 256);
    assert_string_equal(st[0].token_label, "coffre");
    assert_string_equal(st[0].problem, "");
    assert_true(st[1].is_reachable && st[1].can_wrap && st[1].can_unwrap);
    assert_int_equal(st[1].type, CF_KEK_RSA);
    assert_int_equal(st[1].bits, 3072);
    assert_string_equal(st[1].token_label, "escrow");
    assert_false(st[2].is_reachable || st[2].can_wrap || st[2].can_unwrap);
    assert_string_equal(st[2].problem,
                        "no key matches \"pkcs11:token=coffre;object=absent\" on token \"coffre\"");
    cf_keyring_free(kr);
}

static void
test_uri_hygiene(void **state)
{
    char out[CF_RECIPIENT_URI_MAX + 1];
    struct cf_error err = CF_ERROR_INIT;
    const char *keks[] = {"pkcs11:token=coffre"};
    struct cf_keyring_options o = {.module = MODULE, .keks = keks, .n_keks = 1};
    struct cf_keyring *kr = NULL;

    (void)state;
    assert_int_equal(cf_p11_uri_strip_pin("pkcs11:token=a;object=b?pin-source=file:/x&"
                                          "module-name=m&pin-value=1234",
                                          out, sizeof(out), &err),
                     CF_OK);
    assert_string_equal(out, "pkcs11:token=a;object=b?module-name=m");
    assert_int_equal(cf_p11_uri_strip_pin("pkcs11:object=b?pin-value=1", out, sizeof(out), &err),
                     CF_OK);
    assert_string_equal(out, "pkcs11:object=b");
    /* A KEK URI that names no key is a configuration error, found at open. */
    assert_int_equal(cf_keyring_open(&o, &kr, &err), CF_ERR_CONFIG);
    assert_string_equal(err.msg, "PKCS#11 URI \"pkcs11:token=coffre\" names no key");
    assert_null(kr);
}

/*
 * Finding 3: a header naming a token the configuration does not list makes no
 * login there (a crafted URI burned the retry counter of any token with the
 * configured PIN); keys.require makes one KEK mandatory.
 */
static void
test_unwrap_configured_only(void **state)
{
    const char *both[] = {AES_URI, RSA_URI}, *aes_only[] = {AES_URI}, *rsa_only[] = {RSA_URI};
    struct cf_recipient rs[CF_RECIPIENTS_MAX];
    struct cf_error err = CF_ERROR_INIT;
    uint8_t dek[CF_DEK_BYTES], back[CF_DEK_BYTES];
    struct cf_keyring *kr = open_kr(both, 2, pin);
    struct cf_keyring_options o = {.module = MODULE,
                                   .keks = aes_only,
                                   .n_keks = 1,
                                   .pin_file = badpin,
                                   .read = rsa_only,
                                   .n_read = 1,
                                   .require = RSA_URI};

    (void)state;
    random_dek(dek);
    assert_int_equal(wrap(kr, dek, rs), 2);
    cf_keyring_free(kr);

    /* configured for the AES key only, with a wrong PIN: the escrow token named by the
     * second recipient is never logged in to (a login with the wrong PIN would say so) */
    kr = open_kr(aes_only, 1, badpin);
    assert_int_equal(unwrap(kr, rs + 1, 1, back, &err), CF_ERR_KEY);
    assert_string_equal(err.detail, "Recipient \"" RSA_URI "\": not configured here (keys.kek, "
                                    "keys.read).");
    cf_keyring_free(kr);

    /* keys.require: the AES recipient is not enough, even when it could open the object */
    cf_error_clear(&err);
    assert_int_equal(cf_keyring_open(&o, &kr, &err), CF_OK);
    assert_int_equal(unwrap(kr, rs, 1, back, &err), CF_ERR_KEY);
    assert_string_equal(err.msg, "this object is not wrapped for the required key \"" RSA_URI "\"");
    cf_keyring_free(kr);
    kr = NULL;
    o.require = "pkcs11:token=nope;object=x";
    cf_error_clear(&err);
    assert_int_equal(cf_keyring_open(&o, &kr, &err), CF_ERR_CONFIG);
    assert_null(kr);
}

/* keys.sign: create, sign, verify; another host trusts it only through keys.trust. */
static void
test_signing(void **state)
{
    const char *keks[] = {AES_URI}, *escrow[] = {RSA_URI};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_signature sig;
    struct cf_signed_context sc = {"manifest", "acme", "20261203T000000Z", "manifest"};
    char trust[128], *sealed = NULL, *payload = NULL;
    const char *trusts[1] = {trust};
    size_t sealed_len = 0, payload_len = 0;
    bool is_signed = false;
    uint8_t digest[32];
    struct cf_keyring *kr = open_kr(keks, 1, pin), *reader = NULL;
    const struct cf_keyops *ops = cf_keyring_keyops(kr), *rops;
    struct cf_keyring_options ro = {.module = MODULE,
                                    .keks = escrow,
                                    .n_keks = 1,
                                    .pin_file = pin,
                                    .trust = trusts,
                                    .n_trust = 1};

    (void)state;
    randombytes_buf(digest, sizeof(digest));
    /* no key yet: a clear error, nothing signed */
    assert_int_equal(ops->sign(ops->ctx, digest, &sig, &err), CF_ERR_KEY);
    assert_string_equal(err.msg, "no signing key matches \"pkcs11:token=coffre;"
                                 "object=coffre-sign\"");
    cf_keyring_free(kr);
    kr = open_kr(keks, 1, pin); /* a failed lookup is not cached: a new keyring */
    ops = cf_keyring_keyops(kr);
    cf_error_clear(&err);
    if (cf_keyring_create_signer(kr, &err) != CF_OK)
        fail_msg("create_signer: %s", err.msg);
    assert_int_equal(cf_keyring_create_signer(kr, &err), CF_ERR_EXISTS);
    cf_error_clear(&err);
    if (cf_keyring_check_signer(kr, &err) != CF_OK)
        fail_msg("check_signer: %s", err.msg);
    assert_int_equal(ops->sign(ops->ctx, digest, &sig, &err), CF_OK);
    assert_int_equal(sig.alg, CF_SIG_ECDSA_P256);
    assert_int_equal(sig.len, 64);
    assert_int_equal(ops->verify(ops->ctx, digest, &sig, &err), CF_OK);
    digest[5] ^= 0x10;
    assert_int_equal(ops->verify(ops->ctx, digest, &sig, &err), CF_ERR_CORRUPT);
    digest[5] ^= 0x10;

    /* a host without this key refuses it until keys.trust lists its export */
    (void)snprintf(trust, sizeof(trust), "%s/signer.json", dir);
    cf_error_clear(&err);
    if (cf_keyring_export_signer(kr, trust, &err) != CF_OK)
        fail_msg("export_signer: %s", err.msg);
    ro.n_trust = 0;
    assert_int_equal(cf_keyring_open(&ro, &reader, &err), CF_OK);
    rops = cf_keyring_keyops(reader);
    assert_int_equal(rops->verify(rops->ctx, digest, &sig, &err), CF_ERR_KEY);
    assert_non_null(strstr(err.msg, "which this host does not trust"));
    cf_keyring_free(reader);
    ro.n_trust = 1;
    cf_error_clear(&err);
    assert_int_equal(cf_keyring_open(&ro, &reader, &err), CF_OK);
    rops = cf_keyring_keyops(reader);
    if (rops->verify(rops->ctx, digest, &sig, &err) != CF_OK)
        fail_msg("verify with keys.trust: %s", err.msg);

    /* the envelope: opens for its own object only */
    assert_int_equal(cf_signed_seal(ops, &sc, "{\"a\": 1}", 8, &sealed, &sealed_len, &err), CF_OK);
    assert_int_equal(cf_signed_open(rops, &sc, "m", sealed, sealed_len, &payload, &payload_len,
                                    &is_signed, NULL, &err),
                     CF_OK);
    assert_true(is_signed);
    assert_string_equal(payload, "{\"a\": 1}");
    free(payload);
    sc.backup_id = "20261204T000000Z";
    assert_int_equal(cf_signed_open(rops, &sc, "m", sealed, sealed_len, &payload, &payload_len,
                                    &is_signed, NULL, &err),
                     CF_ERR_CORRUPT);
    assert_null(payload);
    free(sealed);

    /* a trust file that was edited is a configuration error at open */
    write_file(trust, "{\"coffre_signer\": 1, \"label\": \"x\", \"curve\": \"P-256\"}");
    cf_keyring_free(reader);
    reader = NULL;
    cf_error_clear(&err);
    assert_int_equal(cf_keyring_open(&ro, &reader, &err), CF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "field \"point\" is missing or invalid"));
    cf_keyring_free(kr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes_round_trip),
        cmocka_unit_test(test_rsa_round_trip),
        cmocka_unit_test(test_aad_tampering),
        cmocka_unit_test(test_multiple_recipients),
        cmocka_unit_test(test_write_only_host),
        cmocka_unit_test(test_wrong_pin),
        cmocka_unit_test(test_missing_token_key_pin),
        cmocka_unit_test(test_missing_module),
        cmocka_unit_test(test_credentials_directory),
        cmocka_unit_test(test_create_and_status),
        cmocka_unit_test(test_uri_hygiene),
        cmocka_unit_test(test_signing),
        cmocka_unit_test(test_unwrap_configured_only),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
