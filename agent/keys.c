/*
 * keys.c - the operator's view of the key-encryption keys (see keys.h).
 */
#include "agent/keys.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"

const char cf_keys_usage[] =
    "Usage: coffre keys init [--type aes|rsa] [--bits N] [URI...]\n"
    "       coffre keys list [--json]\n"
    "       coffre keys check\n"
    "       coffre keys export-public URI FILE\n"
    "       coffre keys import-public FILE URI\n"
    "\n"
    "init creates each URI (default: every keys.kek) as a non-extractable,\n"
    "sensitive key on its token: an AES-256 key (default) or an RSA key pair.\n"
    "list shows each configured KEK and whether it is reachable; check wraps\n"
    "and unwraps a test key with each, then lists every KEK that the backups in\n"
    "the repository need (read from the objects' clear headers), so that no key a\n"
    "retained backup depends on is retired.  export-public/import-public move an RSA\n"
    "KEK's public half to a write-only backup host.\n";

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

static cf_err
keys_init(const struct cf_config *cfg, struct cf_keyring *kr, int argc, char **argv,
          struct cf_error *err)
{
    static const struct option opts[] = {{"type", required_argument, NULL, 't'},
                                         {"bits", required_argument, NULL, 'b'},
                                         {NULL, 0, NULL, 0}};
    struct cf_keyring_init init = {NULL, CF_KEK_AES, 0};
    int ch;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "t:b:", opts, NULL)) != -1) {
        if (ch == 't' && strcmp(optarg, "aes") == 0)
            init.type = CF_KEK_AES;
        else if (ch == 't' && strcmp(optarg, "rsa") == 0)
            init.type = CF_KEK_RSA;
        else if (ch == 'b' && parse_bits(optarg, &init.rsa_bits) == 0)
            continue;
        else
            return cf_error_set(err, CF_ERR_USAGE, "invalid option for keys init");
    }
    if (optind == argc) {
        for (size_t i = 0; i < cfg->keys.n_keks; i++) {
            init.uri = cfg->keys.keks[i];
            if (cf_keyring_create(kr, &init, err) != CF_OK)
                return err->code;
            (void)printf("created %s\n", init.uri);
        }
        return CF_OK;
    }
    for (int i = optind; i < argc; i++) {
        init.uri = argv[i];
        if (cf_keyring_create(kr, &init, err) != CF_OK)
            return err->code;
        (void)printf("created %s\n", init.uri);
    }
    return CF_OK;
}

static cf_err
keys_list(const struct cf_config *cfg, struct cf_keyring *kr, bool json, struct cf_error *err)
{
    struct cf_kek_status *st = calloc(cfg->keys.n_keks, sizeof(*st));
    json_t *arr = json_array();
    size_t unreachable = 0;

    if (st == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if (cf_keyring_status(kr, st, cfg->keys.n_keks, err) != CF_OK) {
        free(st);
        json_decref(arr);
        return err->code;
    }
    if (!json)
        (void)printf("%-6s %-5s %-9s %-6s %-8s %s\n", "TYPE", "BITS", "REACHABLE", "WRAP", "UNWRAP",
               "URI");
    for (size_t i = 0; i < cfg->keys.n_keks; i++) {
        const char *type = !st[i].is_reachable ? "-" : st[i].type == CF_KEK_AES ? "aes" : "rsa";

        unreachable += !st[i].is_reachable;
        if (json) {
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:i, s:b, s:b, s:b, s:s, s:s}", "uri", st[i].uri,
                               "type", type, "bits", (int)st[i].bits, "reachable",
                               st[i].is_reachable, "can_wrap", st[i].can_wrap, "can_unwrap",
                               st[i].can_unwrap, "token", st[i].token_label, "problem",
                               st[i].problem));
            continue;
        }
        (void)printf("%-6s %-5u %-9s %-6s %-8s %s%s%s\n", type, st[i].bits,
               st[i].is_reachable ? "yes" : "NO", st[i].can_wrap ? "yes" : "no",
               st[i].can_unwrap ? "yes" : "no", st[i].uri, st[i].problem[0] ? "  -- " : "",
               st[i].problem);
    }
    if (json) {
        char *s = json_dumps(arr, JSON_INDENT(2));

        if (s != NULL)
            (void)printf("%s\n", s);
        free(s);
    }
    json_decref(arr);
    free(st);
    if (unreachable > 0)
        return cf_error_set(err, CF_ERR_KEY, "%zu of %zu configured keys are not reachable",
                            unreachable, cfg->keys.n_keks);
    return CF_OK;
}

/* Every recipient URI the objects of the repository name, with how many
 * backups need it; and the backups none of whose objects' recipients is
 * configured here. */
struct need {
    char uri[CF_RECIPIENT_URI_MAX + 1];
    size_t backups;
    char last_id[CF_OBJECT_ID_MAX + 1];
};

struct inventory {
    const struct cf_repo *repo;
    struct cf_object_header *hdr;
    struct need *needs;
    size_t n_needs, cap;
    size_t objects, unreadable;
};

static cf_err
note_uri(struct inventory *inv, const char *uri, const char *id, struct cf_error *err)
{
    struct need *nd = NULL;

    for (size_t i = 0; i < inv->n_needs && nd == NULL; i++)
        if (strcmp(inv->needs[i].uri, uri) == 0)
            nd = &inv->needs[i];
    if (nd == NULL) {
        if (inv->n_needs == inv->cap) {
            size_t cap = inv->cap ? inv->cap * 2 : 8;
            struct need *nn = realloc(inv->needs, cap * sizeof(*nn));

            if (nn == NULL)
                return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
            inv->needs = nn;
            inv->cap = cap;
        }
        nd = &inv->needs[inv->n_needs++];
        memset(nd, 0, sizeof(*nd));
        (void)snprintf(nd->uri, sizeof(nd->uri), "%s", uri);
    }
    if (strcmp(nd->last_id, id) != 0) {
        nd->backups++;
        (void)snprintf(nd->last_id, sizeof(nd->last_id), "%s", id);
    }
    return CF_OK;
}

static cf_err
inventory_cb(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct inventory *inv = ctx;
    struct cf_error e = CF_ERROR_INIT;

    inv->objects++;
    if (cf_repo_read_header(inv->repo, info->key, inv->hdr, &e) != CF_OK) {
        inv->unreadable++;
        cf_log_warning("%s", e.msg);
        return CF_OK;
    }
    for (size_t i = 0; i < inv->hdr->n_recipients; i++)
        if (note_uri(inv, inv->hdr->recipients[i].uri, inv->hdr->backup_id, err) != CF_OK)
            return err->code;
    return CF_OK;
}

static bool
is_configured(const struct cf_config *cfg, const char *uri)
{
    for (size_t i = 0; i < cfg->keys.n_keks; i++)
        if (strncmp(cfg->keys.keks[i], uri, strlen(uri)) == 0 &&
            (cfg->keys.keks[i][strlen(uri)] == '\0' || cfg->keys.keks[i][strlen(uri)] == '?'))
            return true;
    return false;
}

static cf_err
keys_needed(const struct cf_config *cfg, const struct cf_repo *repo, struct cf_error *err)
{
    struct inventory inv;
    char prefix[CF_STORAGE_KEY_MAX + 1];
    cf_err rc;

    memset(&inv, 0, sizeof(inv));
    inv.repo = repo;
    inv.hdr = malloc(sizeof(*inv.hdr));
    if (inv.hdr == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = cf_repo_backup_prefix(repo, NULL, prefix, sizeof(prefix), err);
    if (rc == CF_OK)
        rc = cf_storage_list(repo->st, prefix, inventory_cb, &inv, err);
    if (rc == CF_OK) {
        (void)printf("keys that the %zu stored objects need:\n", inv.objects);
        for (size_t i = 0; i < inv.n_needs; i++)
            (void)printf("  %-50s %4zu backup(s)  %s\n", inv.needs[i].uri, inv.needs[i].backups,
                         is_configured(cfg, inv.needs[i].uri) ? "configured here"
                                                              : "not configured here");
        if (inv.n_needs == 0)
            (void)printf("  (none: the repository holds no object)\n");
        if (inv.unreadable > 0)
            rc = cf_error_set(err, CF_ERR_CORRUPT, "%zu object(s) have no readable header",
                              inv.unreadable);
    }
    free(inv.needs);
    free(inv.hdr);
    return rc;
}

cf_err
cf_cmd_keys(const struct cf_config *cfg, struct cf_keyring *kr, const struct cf_repo *repo,
            int argc, char **argv, struct cf_error *err)
{
    const char *sub = argc > 1 ? argv[1] : NULL;

    if (sub == NULL || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        (void)fputs(cf_keys_usage, sub ? stdout : stderr);
        return sub ? CF_OK : cf_error_set(err, CF_ERR_USAGE, "keys needs a subcommand");
    }
    if (strcmp(sub, "init") == 0)
        return keys_init(cfg, kr, argc - 1, argv + 1, err);
    if (strcmp(sub, "list") == 0)
        return keys_list(cfg, kr, argc > 2 && strcmp(argv[2], "--json") == 0, err);
    if (strcmp(sub, "check") == 0) {
        if (cf_keyring_check(kr, true, err) != CF_OK)
            return err->code;
        (void)printf("all %zu keys wrap and unwrap\n", cfg->keys.n_keks);
        return keys_needed(cfg, repo, err);
    }
    if (strcmp(sub, "export-public") == 0) {
        if (argc != 4)
            return cf_error_set(err, CF_ERR_USAGE, "keys export-public needs URI FILE");
        return cf_keyring_export_public(kr, argv[2], argv[3], err);
    }
    if (strcmp(sub, "import-public") == 0) {
        if (argc != 4)
            return cf_error_set(err, CF_ERR_USAGE, "keys import-public needs FILE URI");
        return cf_keyring_import_public(kr, argv[2], argv[3], err);
    }
    return cf_error_set(err, CF_ERR_USAGE, "unknown keys subcommand \"%s\"", sub);
}
