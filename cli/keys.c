/*
 * keys.c - `coffre keys init|list|check|export-public|import-public`
 * (agent/keys.h, pkcs11/keyring.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/keys.h"
#include "cli/cli.h"
#include "cli/commands.h"

const char cf_cli_keys_usage[] =
    "Usage: coffre keys init [--type aes|rsa] [--bits N] [URI...]\n"
    "       coffre keys init --sign\n"
    "       coffre keys list [--json]\n"
    "       coffre keys check\n"
    "       coffre keys export-public URI FILE\n"
    "       coffre keys import-public FILE URI\n"
    "       coffre keys export-signer FILE\n"
    "\n"
    "init creates each URI (default: every keys.kek, then the signing key) as a\n"
    "non-extractable, sensitive key on its token: an AES-256 key (default) or an\n"
    "RSA key pair.  init --sign creates only the signing key (keys.sign, by default\n"
    "object \"coffre-sign\" on the first KEK's token): an ECDSA P-256 key pair whose\n"
    "private half can only sign.  Every manifest this host writes is signed with it.\n"
    "list shows each configured KEK and whether it is reachable; check wraps\n"
    "and unwraps a test key with each, then lists every KEK that the backups in\n"
    "the repository need (read from the objects' clear headers), so that no key a\n"
    "retained backup depends on is retired.  export-public/import-public move an RSA\n"
    "KEK's public half to a write-only backup host.  export-signer writes the\n"
    "signing key's public half to FILE: list FILE in keys.trust on the hosts that\n"
    "must accept this host's backups (list, verify, restore, drill).\n";

/* --bits: 2048..8192, a whole number */
static int
parse_bits(const char *s, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (end == s || *end != '\0' || v < 2048 || v > 8192)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static void
print_signer(struct cf_keyring *kr, const char *what)
{
    struct cf_signer_status st;

    (void)cf_keyring_signer_status(kr, &st);
    if (st.is_present)
        (void)printf("%s %s (id %.16s)\n", what, st.uri, st.id);
}

static cf_err
keys_init(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {{"type", required_argument, NULL, 't'},
                                         {"bits", required_argument, NULL, 'b'},
                                         {"sign", no_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    const struct cf_keys_conf *keys = &run->ctx->cfg->keys;
    struct cf_keys_init_opts ko = {run->ctx->kr, NULL, 0, CF_KEK_AES, 0, false};
    bool sign_only = false;
    size_t created = 0;
    int ch;
    cf_err rc;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "t:b:", opts, NULL)) != -1) {
        if (ch == 's')
            sign_only = true;
        else if (ch == 't' && strcmp(optarg, "aes") == 0)
            ko.type = CF_KEK_AES;
        else if (ch == 't' && strcmp(optarg, "rsa") == 0)
            ko.type = CF_KEK_RSA;
        else if (ch == 'b' && parse_bits(optarg, &ko.rsa_bits) == 0)
            continue;
        else
            return cf_error_set(err, CF_ERR_USAGE, "invalid option for keys init");
    }
    if (sign_only && optind != argc)
        return cf_error_set(err, CF_ERR_USAGE,
                            "keys init --sign takes no URI: it creates "
                            "keys.sign");
    if (sign_only) {
        ko.with_signer = true;
    } else if (optind == argc) {
        ko.uris = (const char *const *)keys->keks;
        ko.n_uris = keys->n_keks;
        ko.with_signer = true;
    } else {
        ko.uris = (const char *const *)(argv + optind);
        ko.n_uris = (size_t)(argc - optind);
    }
    rc = cf_keys_init_run(&ko, &created, err);
    for (size_t i = 0; i < created; i++)
        (void)printf("created %s\n", ko.uris[i]);
    if (rc == CF_OK && ko.with_signer)
        print_signer(run->ctx->kr, "created signing key");
    return rc;
}

static cf_err
keys_list(struct cf_cli_run *run, bool json, struct cf_error *err)
{
    struct cf_keys_list_result res;
    json_t *arr = json_array();
    cf_err rc = cf_keys_list_run(run->ctx->kr, &run->ctx->cfg->keys, &res, err);

    if (res.keks == NULL) {
        json_decref(arr);
        return rc;
    }
    if (!json)
        (void)printf("%-6s %-5s %-9s %-6s %-8s %s\n", "TYPE", "BITS", "REACHABLE", "WRAP",
                     "UNWRAP", "URI");
    for (size_t i = 0; i < res.n; i++) {
        const struct cf_kek_status *st = &res.keks[i];
        const char *type = !st->is_reachable ? "-" : st->type == CF_KEK_AES ? "aes" : "rsa";

        if (json) {
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:i, s:b, s:b, s:b, s:s, s:s}", "uri", st->uri,
                               "type", type, "bits", (int)st->bits, "reachable",
                               st->is_reachable, "can_wrap", st->can_wrap, "can_unwrap",
                               st->can_unwrap, "token", st->token_label, "problem",
                               st->problem));
            continue;
        }
        (void)printf("%-6s %-5u %-9s %-6s %-8s %s%s%s\n", type, st->bits,
                     st->is_reachable ? "yes" : "NO", st->can_wrap ? "yes" : "no",
                     st->can_unwrap ? "yes" : "no", st->uri, st->problem[0] ? "  -- " : "",
                     st->problem);
    }
    if (!json) {
        struct cf_signer_status ss;

        (void)cf_keyring_signer_status(run->ctx->kr, &ss);
        if (ss.uri == NULL)
            (void)printf("signing key: none configured\n");
        else if (ss.is_present)
            (void)printf("signing key: %s (id %.16s, token %s)\n", ss.uri, ss.id, ss.token_label);
        else
            (void)printf("signing key: %s -- %s\n", ss.uri, ss.problem);
        for (size_t i = 0; i < ss.n_trusted; i++)
            (void)printf("trusted signer: id %.16s, label \"%s\", from %s\n", ss.trusted[i].id,
                         ss.trusted[i].label, ss.trusted[i].source);
    }
    if (json) {
        if (cf_cli_print_json(arr, err) != CF_OK && rc == CF_OK)
            rc = err->code;
    } else {
        json_decref(arr);
    }
    cf_keys_list_result_clear(&res);
    return rc;
}

static cf_err
keys_check(struct cf_cli_run *run, struct cf_error *err)
{
    struct cf_keys_check_result res = {0};
    cf_err rc = cf_keys_check_run(run->ctx->kr, &run->ctx->cfg->keys, &run->ctx->repo, &res,
                                  err);

    if (res.n_keks > 0)
        (void)printf("all %zu keys wrap and unwrap\n", res.n_keks);
    if (res.signer_ok)
        print_signer(run->ctx->kr, "signing key signs and verifies:");
    if (rc == CF_OK || rc == CF_ERR_CORRUPT) {
        (void)printf("keys that the %zu stored objects need:\n", res.objects);
        for (size_t i = 0; i < res.n_needs; i++)
            (void)printf("  %-50s %4zu backup(s)  %s\n", res.needs[i].uri, res.needs[i].backups,
                         res.needs[i].is_configured ? "configured here" : "not configured here");
        if (res.n_needs == 0)
            (void)printf("  (none: the repository holds no object)\n");
    }
    cf_keys_check_result_clear(&res);
    return rc;
}

cf_err
cf_cli_keys(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    struct cf_keyring *kr = run->ctx->kr;

    if (sub == NULL) {
        (void)fputs(cf_cli_keys_usage, stderr);
        return cf_error_set(err, CF_ERR_USAGE, "keys needs a subcommand");
    }
    if (strcmp(sub, "init") == 0)
        return keys_init(run, argc - 1, argv + 1, err);
    if (strcmp(sub, "list") == 0)
        return keys_list(run, argc > 2 && strcmp(argv[2], "--json") == 0, err);
    if (strcmp(sub, "check") == 0)
        return keys_check(run, err);
    if (strcmp(sub, "export-public") == 0) {
        if (argc != 4)
            return cf_error_set(err, CF_ERR_USAGE, "keys export-public needs URI FILE");
        return cf_keyring_export_public(kr, argv[2], argv[3], err);
    }
    if (strcmp(sub, "export-signer") == 0) {
        if (argc != 3)
            return cf_error_set(err, CF_ERR_USAGE, "keys export-signer needs FILE");
        return cf_keyring_export_signer(kr, argv[2], err);
    }
    if (strcmp(sub, "import-public") == 0) {
        if (argc != 4)
            return cf_error_set(err, CF_ERR_USAGE, "keys import-public needs FILE URI");
        return cf_keyring_import_public(kr, argv[2], argv[3], err);
    }
    return cf_error_set(err, CF_ERR_USAGE, "unknown keys subcommand \"%s\"", sub);
}
