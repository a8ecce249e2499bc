/*
 * read.c - the read side: `coffre list`, `coffre verify`, `coffre cat`
 * (restore/list.h, restore/verify.h, restore/cat.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/log.h"
#include "restore/cat.h"
#include "restore/list.h"
#include "restore/verify.h"
#include "restore/walcheck.h"

const char cf_cli_list_usage[] =
    "Usage: coffre list [--json]\n"
    "\n"
    "List every backup of the instance with its state: complete (restorable),\n"
    "incomplete (no manifest) or unreadable (no key here can decrypt it).\n";

const char cf_cli_verify_usage[] =
    "Usage: coffre verify ID [--json]\n"
    "       coffre verify --all [--json]\n"
    "\n"
    "Read every object of backup ID (or of every complete backup), check its\n"
    "authentication tags and its sha256 against the manifest, and check that\n"
    "the backup holds exactly the objects its manifest lists.  Restores nothing.\n";

const char cf_cli_cat_usage[] =
    "Usage: coffre cat ID/NAME\n"
    "       coffre cat /path/to/object\n"
    "\n"
    "Write one object's plaintext to stdout, e.g.\n"
    "  coffre cat 20261122T020000Z/db/app.dump | pg_restore -l\n"
    "An absolute path names an object file copied out of any repository: only\n"
    "the object and a key are needed, no manifest.\n";

/* --json only, no argument: list. */
static cf_err
parse_json_only(const char *cmd, int argc, char **argv, bool *json, struct cf_error *err)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    int ch;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch != 'j')
            return cf_cli_usage_error(err, "invalid option for %s", cmd);
        *json = true;
    }
    if (optind != argc)
        return cf_cli_usage_error(err, "unexpected argument \"%s\"", argv[optind]);
    return CF_OK;
}

/* ---- list --------------------------------------------------------------- */

void
cf_cli_backup_what(const struct cf_manifest *m, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    if (m->physical != NULL) {
        size_t extra = 0;

        for (size_t i = 0; i < m->physical->n_tablespaces; i++)
            extra += m->physical->tablespaces[i].oid != 0;
        (void)snprintf(buf, size, extra ? "cluster + %zu tblspc" : "cluster", extra);
        return;
    }
    if (m->schema != NULL) {
        (void)snprintf(buf, size, "schema %s", m->schema);
        return;
    }
    for (size_t i = 0; i < m->n_objects && len + 2 < size; i++) {
        if (m->objects[i].database == NULL)
            continue;
        len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "",
                                m->objects[i].database);
    }
}

static void
print_list_table(const struct cf_list_result *res)
{
    (void)printf("%-22s %-8s %-10s %-8s %-20s %-20s %8s %10s %10s %-20s  %s\n", "ID", "KIND",
                 "STATE", "CLASS", "WHAT", "START", "SECONDS", "PLAIN", "STORED", "LOCKED UNTIL",
                 "NOTE");
    for (size_t i = 0; i < res->n; i++) {
        const struct cf_list_item *r = &res->items[i];
        char start[32] = "-", what[256] = "-", plain[32] = "-", stored[32], secs[32] = "-";
        char lock[32] = "-";

        cf_cli_human_bytes(r->entry.stored_bytes, stored, sizeof(stored));
        if (r->m != NULL) {
            cf_cli_human_bytes(cf_manifest_plain_bytes(r->m), plain, sizeof(plain));
            cf_format_time(r->m->start_time, start, sizeof(start));
            cf_cli_backup_what(r->m, what, sizeof(what));
            (void)snprintf(secs, sizeof(secs), "%lld",
                           (long long)(r->m->stop_time - r->m->start_time));
            if (r->m->lock_until > 0)
                cf_format_time(r->m->lock_until, lock, sizeof(lock));
        }
        (void)printf("%-22s %-8s %-10s %-8s %-20s %-20s %8s %10s %10s %-20s  %s\n", r->entry.id,
                     r->m ? r->m->kind : "-", cf_list_state_name(r->state),
                     r->m && r->m->retention_class ? r->m->retention_class : "-", what, start,
                     secs, plain, stored, lock, r->problem);
    }
}

static json_t *
manifest_json(const struct cf_manifest *m, json_t *o)
{
    json_t *dbs = json_array();
    uint64_t p = 0, c = 0;

    for (size_t k = 0; k < m->n_objects; k++) {
        p += m->objects[k].plain;
        c += m->objects[k].compressed;
        if (m->objects[k].database != NULL)
            json_array_append_new(dbs, json_string(m->objects[k].database));
    }
    json_object_set_new(o, "kind", json_string(m->kind));
    json_object_set_new(o, "formula", json_string(m->formula));
    json_object_set_new(o, "databases", dbs);
    json_object_set_new(o, "schema", m->schema ? json_string(m->schema) : json_null());
    json_object_set_new(o, "start_time", cf_cli_time_json(m->start_time));
    json_object_set_new(o, "stop_time", cf_cli_time_json(m->stop_time));
    json_object_set_new(o, "duration_seconds", json_integer(m->stop_time - m->start_time));
    json_object_set_new(o, "plain_bytes", json_integer((json_int_t)p));
    json_object_set_new(o, "compressed_bytes", json_integer((json_int_t)c));
    json_object_set_new(o, "pg_version", json_string(m->pg_version));
    if (m->physical != NULL) {
        json_object_set_new(o, "start_lsn", json_string(m->physical->start_lsn));
        json_object_set_new(o, "stop_lsn", json_string(m->physical->stop_lsn));
        json_object_set_new(o, "timeline", json_integer(m->physical->stop_timeline));
        json_object_set_new(o, "from_standby", json_boolean(m->physical->from_standby));
    }
    json_object_set_new(o, "retention_class", json_string(m->retention_class));
    json_object_set_new(o, "expires", cf_cli_time_json(m->expires));
    json_object_set_new(o, "lock_until", cf_cli_time_json(m->lock_until));
    return o;
}

static json_t *
list_json(const struct cf_list_result *res)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < res->n; i++) {
        const struct cf_list_item *r = &res->items[i];
        json_t *o = json_pack("{s:s, s:s, s:I}", "id", r->entry.id, "state",
                              cf_list_state_name(r->state), "stored_bytes",
                              (json_int_t)r->entry.stored_bytes);

        if (r->m != NULL)
            (void)manifest_json(r->m, o);
        if (r->problem[0] != '\0')
            json_object_set_new(o, "problem", json_string(r->problem));
        json_array_append_new(arr, o);
    }
    return arr;
}

cf_err
cf_cli_list(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    struct cf_list_opts lo = {&run->ctx->repo};
    struct cf_list_result res;
    bool json = false;
    cf_err rc;

    if (parse_json_only("list", argc, argv, &json, err) != CF_OK ||
        cf_list_run(&lo, &res, err) != CF_OK)
        return err->code;
    rc = CF_OK;
    if (json)
        rc = cf_cli_print_json(list_json(&res), err);
    else
        print_list_table(&res);
    cf_list_result_clear(&res);
    return rc;
}

/* ---- verify -------------------------------------------------------------- */

static void
verify_progress(void *arg, const struct cf_verify_item *it)
{
    const bool *json = arg;

    if (*json)
        return;
    (void)printf(it->ok ? "backup %s: ok\n" : "backup %s: FAILED\n", it->id);
    (void)fflush(stdout);
    if (!it->ok)
        cf_log_cf_error(&it->error);
}

cf_err
cf_cli_verify(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    struct cf_verify_opts vo = {&run->ctx->repo, NULL, verify_progress, NULL};
    struct cf_verify_result res;
    bool json = false, all = false;
    json_t *arr;
    int ch;
    cf_err rc;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': json = true; break;
        case 'a': all = true; break;
        default: return cf_cli_usage_error(err, "invalid option for %s", "verify");
        }
    }
    if (all == (optind < argc) || argc - optind > 1)
        return cf_cli_usage_error(err, "%s needs one backup ID or --all", "verify");
    if (!all) {
        vo.id = argv[optind];
        vo.on_item = NULL; /* one backup: its error is the command's */
        cf_log_set_field("COFFRE_BACKUP_ID", vo.id);
    }
    vo.arg = &json;
    rc = cf_verify_run(&vo, &res, err);
    if (!all && rc == CF_OK && !json)
        (void)printf("backup %s: ok\n", vo.id);
    if (json && (rc == CF_OK || all)) {
        arr = json_array();
        for (size_t i = 0; i < res.n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s}", "id", res.items[i].id, "status",
                                                 res.items[i].ok ? "ok" : "failed"));
        if (!all) {
            json_t *one = json_incref(json_array_get(arr, 0));

            json_decref(arr);
            arr = one;
        }
        if (cf_cli_print_json(arr, err) != CF_OK && rc == CF_OK)
            rc = err->code;
    }
    cf_verify_result_clear(&res);
    return rc;
}

/* ---- cat ------------------------------------------------------------------ */

cf_err
cf_cli_cat(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {{NULL, 0, NULL, 0}};
    struct cf_cat_opts co = {&run->ctx->repo, NULL, STDOUT_FILENO, "standard output"};

    if (getopt_long(argc, argv, "", opts, NULL) != -1)
        return cf_cli_usage_error(err, "invalid option for %s", "cat");
    if (optind + 1 != argc)
        return cf_cli_usage_error(err, "%s needs exactly one OBJECT", "cat");
    co.object = argv[optind];
    return cf_cat_run(&co, err);
}

/* ---- verify --wal ------------------------------------------------------------ */

const char cf_cli_verify_wal_usage[] =
    "Usage: coffre verify --wal [--json]\n"
    "\n"
    "Check that the repository holds every WAL segment from each complete physical\n"
    "backup's start through the newest archived segment, following timeline switches\n"
    "through the history files.  Exit status 5 names the first missing segment.\n";

cf_err
cf_cli_verify_wal(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {{"wal", no_argument, NULL, 'w'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    struct cf_verify_wal_result res;
    bool json = false;
    int ch;
    cf_err rc;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'j')
            json = true;
        else if (ch != 'w')
            return cf_cli_usage_error(err, "invalid option for %s", "verify --wal");
    }
    if (optind != argc)
        return cf_cli_usage_error(err, "unexpected argument \"%s\"", argv[optind]);
    rc = cf_verify_wal_run(&run->ctx->repo, &res, err);
    if (res.n_failed > 0)
        cf_log_error("%zu of %zu physical backups lack WAL", res.n_failed, res.n);
    if (json && res.n > 0) {
        json_t *arr = json_array();

        for (size_t i = 0; i < res.n; i++) {
            const struct cf_verify_wal_item *it = &res.items[i];
            json_t *o = json_pack("{s:s, s:b, s:s, s:s, s:i, s:I}", "id", it->id, "ok", it->ok,
                                  "wal_start", it->wal_start, "newest", it->newest, "timeline",
                                  (int)it->timeline, "missing_segments",
                                  (json_int_t)it->missing_segments);

            if (o != NULL && !it->ok)
                json_object_set_new(o, "error", json_string(it->error.msg));
            json_array_append_new(arr, o);
        }
        if (cf_cli_print_json(arr, err) != CF_OK && rc == CF_OK)
            rc = err->code;
    } else {
        for (size_t i = 0; i < res.n; i++) {
            const struct cf_verify_wal_item *it = &res.items[i];

            if (it->ok)
                (void)printf("backup %s: WAL continuous from %s to %s (timeline %u)\n", it->id,
                             it->wal_start, it->newest, it->timeline);
            else
                (void)printf("backup %s: %s\n", it->id, it->error.msg);
        }
    }
    cf_verify_wal_result_clear(&res);
    return rc;
}
