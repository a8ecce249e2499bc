/*
 * ops.c - `coffre prune` (agent/prune.h), `coffre status` and `coffre alert`
 * (ops/ops.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/prune.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "common/log.h"
#include "ops/ops.h"
#include "pkcs11/keyring.h"

const char cf_cli_status_usage[] =
    "Usage: coffre status [--json]\n"
    "\n"
    "Summarise the instance's backups for an operator: how many, how big, the\n"
    "newest and its age, free space, what prune would delete, the last backup,\n"
    "prune and verify runs, the WAL archive, and the health with every issue\n"
    "(the conditions that alerts notify; see docs/operations.md).  Exit status 0\n"
    "whatever the health; read health_status.\n";

const char cf_cli_alert_usage[] =
    "Usage: coffre alert check\n"
    "       coffre alert test\n"
    "\n"
    "check: evaluate the alert conditions (backup age, free space, failed runs,\n"
    "WAL archive lag, keys) and notify the configured receivers of every change;\n"
    "also refreshes the metrics textfile.  Run by coffre-alert@.timer; backup,\n"
    "prune and verify do the same when they end.\n"
    "test: send a test notification to every configured receiver.\n";

const char cf_cli_prune_usage[] =
    "Usage: coffre prune [--dry-run] [--json]\n"
    "\n"
    "Apply the retention policy ([retention] daily/weekly/monthly/min_keep):\n"
    "delete the backups whose class's period has ended, never one whose Object\n"
    "Lock date has not passed (skipped with a reason), never leaving fewer than\n"
    "min_keep verified backups; delete leftovers of incomplete backups (aged\n"
    "from the later of their id and their newest object), and abort unfinished\n"
    "uploads and remove killed writes' temporary files, older than\n"
    "retention.stale_after.  --dry-run says what it would do and changes nothing.\n";

static json_t *
prune_entry_json(const struct cf_prune_entry *e)
{
    switch (e->subject) {
    case CF_PRUNE_SUBJECT_BACKUP:
        return json_pack("{s:s, s:s, s:s}", "id", e->name, "action", e->verb, "reason",
                         e->reason);
    case CF_PRUNE_SUBJECT_WAL:
        return json_pack("{s:s, s:s, s:I, s:I, s:s}", "wal", e->name, "action", e->verb,
                         "objects", (json_int_t)e->objects, "locked", (json_int_t)e->locked,
                         "reason", e->reason);
    case CF_PRUNE_SUBJECT_UPLOAD:
        return json_pack("{s:s, s:s}", "upload", e->name, "action", e->verb);
    }
    return NULL;
}

static void
prune_entry_print(const struct cf_prune_entry *e)
{
    switch (e->subject) {
    case CF_PRUNE_SUBJECT_BACKUP:
        (void)printf("%-14s %-22s %s\n", e->verb, e->name, e->reason);
        break;
    case CF_PRUNE_SUBJECT_WAL:
        (void)printf("%-14s %-22s %s\n", e->verb, "WAL", e->reason);
        break;
    case CF_PRUNE_SUBJECT_UPLOAD:
        (void)printf("%s unfinished upload of %s\n", e->verb, e->name);
        break;
    }
}

/* prune's keys_check: can this host's keys be used at all (the HSM, the token)? */
static cf_err
keys_work(void *arg, struct cf_error *err)
{
    return arg != NULL ? cf_keyring_check(arg, false, err) : CF_OK;
}

cf_err
cf_cli_prune(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"dry-run", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0}};
    struct cf_prune_opts po = {&run->ctx->repo, &run->ctx->cfg->retention, false, keys_work,
                               run->ctx->kr};
    struct cf_prune_result res;
    bool json = false;
    int ch;
    cf_err rc;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': json = true; break;
        case 'n': po.dry_run = true; break;
        default: return cf_cli_usage_error(err, "invalid option for %s", "prune");
        }
    }
    if (optind != argc)
        return cf_cli_usage_error(err, "unexpected argument \"%s\"", argv[optind]);
    run->record = !po.dry_run; /* a dry run changes nothing: not a prune run */
    rc = cf_prune_run(&po, &res, err);
    /* what was decided is printed also when the run failed half-way */
    if (json) {
        json_t *arr = json_array();

        for (size_t i = 0; i < res.n; i++)
            json_array_append_new(arr, prune_entry_json(&res.entries[i]));
        if (cf_cli_print_json(arr, err) != CF_OK && rc == CF_OK)
            rc = err->code;
    } else {
        for (size_t i = 0; i < res.n; i++)
            prune_entry_print(&res.entries[i]);
    }
    cf_prune_result_clear(&res);
    return rc;
}

/* ---- status ----------------------------------------------------------- */

/*
 * Without a [metrics] or [alerts] section no run is recorded (cli/main.c), so
 * the health comes from the repository alone: a failing backup that leaves the
 * previous one in place still reads healthy.  Both outputs say so.
 */
#define STATUS_NOT_RECORDED                                                              \
    "runs are not recorded: add a [metrics] or [alerts] section so that the outcome of " \
    "backup, prune and verify counts in the health"

static cf_err
status_json(const char *instance, const struct cf_alert_facts *f, bool recorded,
            struct cf_error *err)
{
    json_t *root = json_object(), *issues = json_array(), *runs = json_object();
    double age_h = f->latest_backup[0] ? (double)(f->now - f->latest_time) / 3600.0 : -1;

    for (size_t i = 0; i < f->n_issues; i++)
        json_array_append_new(issues, json_pack("{s:s, s:s, s:s, s:s}", "name",
                                                f->issues[i].name, "severity",
                                                cf_severity_name(f->issues[i].severity),
                                                "summary", f->issues[i].summary, "hint",
                                                f->issues[i].hint));
    for (size_t k = 0; k < CF_ALERT_KINDS; k++) {
        const struct cf_alert_run *r = &f->runs[k];

        if (!r->present) {
            json_object_set_new(runs, cf_alert_kinds[k], json_null());
            continue;
        }
        json_object_set_new(runs, cf_alert_kinds[k],
                            json_pack("{s:b, s:o, s:o, s:f, s:s*}", "ok", r->ok, "end",
                                      cf_cli_time_json(r->end), "last_success",
                                      cf_cli_time_json(r->last_success), "duration_seconds",
                                      r->duration, "error", r->ok ? NULL : r->error));
    }
    json_object_set_new(root, "instance", json_string(instance));
    json_object_set_new(root, "time", cf_cli_time_json(f->now));
    json_object_set_new(
        root, "basic",
        json_pack("{s:I, s:I, s:o, s:I, s:I}", "total_backups", (json_int_t)f->total_backups,
                  "total_size_bytes", (json_int_t)f->total_size_bytes, "available_space_bytes",
                  f->have_space ? json_integer((json_int_t)f->available_space_bytes)
                                : json_null(),
                  "incomplete_backups", (json_int_t)f->incomplete, "unreadable_backups",
                  (json_int_t)f->unreadable + (json_int_t)f->key_missing));
    json_object_set_new(
        root, "backup",
        json_pack("{s:o, s:o, s:o, s:I, s:o}", "latest_backup",
                  f->latest_backup[0] ? json_string(f->latest_backup) : json_null(),
                  "backup_age_hours", age_h >= 0 ? json_real(age_h) : json_null(),
                  "latest_kind", f->latest_backup[0] ? json_string(f->latest_kind) : json_null(),
                  "backup_size_bytes", (json_int_t)f->latest_stored, "backup_time",
                  cf_cli_time_json(f->latest_time)));
    json_object_set_new(
        root, "retention",
        json_pack("{s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}}", "daily_backups_last_24h",
                  (json_int_t)f->last_24h, "weekly_backups_last_7d", (json_int_t)f->last_7d,
                  "monthly_backups_last_30d", (json_int_t)f->last_30d, "old_backups_to_clean",
                  (json_int_t)f->old_to_clean, "by_class", "daily", (json_int_t)f->by_class[0],
                  "weekly", (json_int_t)f->by_class[1], "monthly", (json_int_t)f->by_class[2]));
    json_object_set_new(root, "wal",
                        json_pack("{s:I, s:I, s:o, s:o}", "objects", (json_int_t)f->wal_objects,
                                  "stored_bytes", (json_int_t)f->wal_bytes, "newest",
                                  cf_cli_time_json(f->wal_newest), "lag_seconds",
                                  f->wal_newest > 0 ? json_integer(f->now - f->wal_newest)
                                                    : json_null()));
    json_object_set_new(root, "runs", runs);
    json_object_set_new(root, "health",
                        json_pack("{s:s, s:I, s:o, s:b, s:s*}", "health_status",
                                  cf_alerts_health(f), "health_issues_count",
                                  (json_int_t)f->n_issues, "issues", issues, "runs_recorded",
                                  recorded, "note", recorded ? NULL : STATUS_NOT_RECORDED));
    return cf_cli_print_json(root, err);
}

static void
status_print(const char *instance, const struct cf_alert_facts *f, bool recorded)
{
    char when[32], age[32];

    (void)printf("instance:        %s\n", instance);
    (void)printf("health:          %s (%zu issue(s))%s\n", cf_alerts_health(f), f->n_issues,
                 recorded ? "" : ", from the repository only");
    for (size_t i = 0; i < f->n_issues; i++)
        (void)printf("  %-8s %s\n           %s\n", cf_severity_name(f->issues[i].severity),
                     f->issues[i].summary, f->issues[i].hint);
    (void)printf("backups:         %zu complete, %zu incomplete, %zu unreadable; %.1f MiB "
                 "stored\n",
                 f->total_backups, f->incomplete, f->unreadable + f->key_missing,
                 (double)f->total_size_bytes / (1024.0 * 1024));
    if (f->latest_backup[0] != '\0') {
        cf_alerts_format_age(f->now - f->latest_time, age, sizeof(age));
        (void)printf("newest:          %s (%s, %s old, %.1f MiB stored)\n", f->latest_backup,
                     f->latest_kind, age, (double)f->latest_stored / (1024.0 * 1024));
    }
    (void)printf("by class:        %zu daily, %zu weekly, %zu monthly; prune would delete %zu\n",
                 f->by_class[0], f->by_class[1], f->by_class[2], f->old_to_clean);
    if (f->have_space)
        (void)printf("free space:      %.2f GiB on %s\n",
                     (double)f->available_space_bytes / (1024.0 * 1024 * 1024), f->space_path);
    if (f->wal_newest > 0) {
        cf_alerts_format_age(f->now - f->wal_newest, age, sizeof(age));
        (void)printf("WAL archive:     %zu object(s), newest %s old\n", f->wal_objects, age);
    }
    if (!recorded) {
        (void)printf("last runs:       %s\n", STATUS_NOT_RECORDED);
        return;
    }
    for (size_t k = 0; k < CF_ALERT_KINDS; k++) {
        const struct cf_alert_run *r = &f->runs[k];

        if (!r->present) {
            (void)printf("last %-10s never recorded\n", cf_alert_kinds[k]);
            continue;
        }
        cf_format_time(r->end, when, sizeof(when));
        (void)printf("last %-10s %s at %s (%.0f s)%s%s\n", cf_alert_kinds[k],
                     r->ok ? "succeeded" : "FAILED", when, r->duration, r->ok ? "" : ": ",
                     r->ok ? "" : r->error);
    }
}

cf_err
cf_cli_status(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    const char *instance = run->ctx->cfg->instance;
    struct cf_ops_env env;
    struct cf_alert_facts *f;
    bool json = false;
    int ch;
    cf_err rc;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch != 'j')
            return cf_cli_usage_error(err, "invalid option for %s", "status");
        json = true;
    }
    if (optind != argc)
        return cf_cli_usage_error(err, "unexpected argument \"%s\"", argv[optind]);
    if ((f = malloc(sizeof(*f))) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    env = cf_cli_ops_env(run->ctx->cfg);
    rc = cf_status_run(&env, &run->ctx->repo, f, err);
    if (rc == CF_OK && json)
        rc = status_json(instance, f, run->ctx->cfg->metrics.ops_enabled, err);
    else if (rc == CF_OK)
        status_print(instance, f, run->ctx->cfg->metrics.ops_enabled);
    free(f);
    return rc;
}

/* ---- alert ------------------------------------------------------------ */

cf_err
cf_cli_alert(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    struct cf_ops_env env = cf_cli_ops_env(run->ctx->cfg);
    size_t tried = 0, sent = 0;
    cf_err rc;

    if (sub == NULL || argc > 2)
        return cf_error_set(err, CF_ERR_USAGE, "alert needs one subcommand: check or test");
    if (strcmp(sub, "check") == 0)
        return cf_alert_check_run(&env, &run->ctx->repo, err);
    if (strcmp(sub, "test") != 0)
        return cf_error_set(err, CF_ERR_USAGE, "unknown alert subcommand \"%s\"", sub);
    rc = cf_alert_test_run(&env, &tried, &sent, err);
    if (tried > 0)
        (void)printf("test notification sent to %zu of %zu receiver(s)\n", sent, tried);
    return rc;
}
