/*
 * migrate.c - `coffre migrate` (restore/migrate.h): plan, run, finalize,
 * rollback and status of a tenant's move between the hosting formulas.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/backup.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "common/log.h"
#include "common/manifest.h"
#include "common/pg.h"
#include "restore/drill.h"
#include "restore/migrate.h"

const char cf_cli_migrate_usage[] =
    "Usage: coffre migrate plan     --to CONNINFO [OPTIONS]\n"
    "       coffre migrate run      --to CONNINFO [OPTIONS] | --id ID\n"
    "       coffre migrate finalize [--id ID] --dest-config FILE [--skip-drill] [--drop]\n"
    "       coffre migrate rollback [--id ID] [--force]\n"
    "       coffre migrate status   [--json]\n"
    "\n"
    "Move one tenant (a schema and its owner role) between the managed formula (a\n"
    "schema in a shared database) and the on-premise one (a database of its own):\n"
    "plan checks both sides; run freezes the tenant's writes, takes a final backup\n"
    "into this instance's repository, restores it at the destination, proves both\n"
    "sides equal table by table and stops at the cut-over point; finalize backs up\n"
    "the destination and removes the source; rollback returns to the source from\n"
    "any step before finalize (docs/migration.md).  The source is this\n"
    "configuration's [postgres] conninfo; its role must be able to freeze the\n"
    "tenant (managed: CREATEROLE and member of the tenant's role; onprem: owner of\n"
    "the database and member of pg_signal_backend).\n"
    "  --to CONNINFO        the destination, naming its database (onprem: the one\n"
    "                       to create; managed: the shared one); no password\n"
    "  --to-formula F       managed or onprem (default: the other formula)\n"
    "  --from-formula F     the source's formula (default: [coffre] formula)\n"
    "  --schema S           the tenant's schema (default: [postgres] schema)\n"
    "  --database D         the source database (default: the conninfo's)\n"
    "  --schema-map A=B     rename schema A to B at the destination\n"
    "  --hook CMD           run: at the cut-over point, run CMD with /bin/sh, the new\n"
    "                       connection string in COFFRE_MIGRATE_CONNINFO\n"
    "  --until STATE        run: stop after frozen, backed-up, restored or verified\n"
    "  --id ID              the migration (default: the tenant's open one)\n"
    "  --force              rollback at the cut-over point (writes made at the\n"
    "                       destination since are lost)\n"
    "  --dest-config FILE   finalize: the destination's coffre configuration\n"
    "  --skip-drill         finalize without drilling the destination's backup\n"
    "  --drop               finalize: drop the on-premise source database instead of\n"
    "                       renaming it\n"
    "  --json               the result as JSON\n"
    "Exit status: 0 done; 9 the plan has a blocking finding or the destination\n"
    "differs from the source (nothing switched: roll back); others as for any\n"
    "command.\n";

enum {
    OPT_TO = 256,
    OPT_TO_FORMULA,
    OPT_FROM_FORMULA,
    OPT_SCHEMA,
    OPT_DATABASE,
    OPT_MAP,
    OPT_HOOK,
    OPT_UNTIL,
    OPT_ID,
    OPT_FORCE,
    OPT_DEST_CONFIG,
    OPT_SKIP_DRILL,
    OPT_DROP,
    OPT_JSON
};

static const char *
formula_name(enum cf_formula f)
{
    return f == CF_FORMULA_MANAGED ? "managed" : "onprem";
}

static int
parse_formula(const char *s)
{
    return strcmp(s, "managed") == 0  ? CF_FORMULA_MANAGED
           : strcmp(s, "onprem") == 0 ? CF_FORMULA_ONPREM
                                      : -1;
}

/* ---- output ------------------------------------------------------------------------- */

static json_t *
plan_json(const struct cf_migrate_plan *p)
{
    json_t *f = json_array();

    for (size_t i = 0; i < p->n; i++)
        json_array_append_new(f, json_pack("{s:s, s:s, s:s, s:s}", "name", p->findings[i].name,
                                           "level", cf_finding_level_name(p->findings[i].level),
                                           "detail", p->findings[i].detail, "hint",
                                           p->findings[i].hint));
    return json_pack("{s:o, s:I, s:I, s:s, s:I, s:I, s:I, s:o, s:s, s:b}", "findings", f,
                     "blocking", (json_int_t)p->blocking, "warnings", (json_int_t)p->warnings,
                     "role", p->role, "tenant_bytes", (json_int_t)p->tenant_bytes, "tables",
                     (json_int_t)p->tables, "tables_without_pk", (json_int_t)p->tables_without_pk,
                     "predicted_freeze_seconds",
                     p->predicted_freeze_s >= 0 ? json_real(p->predicted_freeze_s) : json_null(),
                     "predicted_from", p->predicted_from, "can_run", p->blocking == 0);
}

static json_t *
result_json(const struct cf_migrate_result *r, bool with_plan)
{
    json_t *steps = json_array(), *checks = json_array();
    json_t *o;

    for (size_t i = 0; i < r->n_steps; i++)
        json_array_append_new(steps, json_pack("{s:s, s:o, s:o, s:s}", "state",
                                               cf_migrate_state_name(r->steps[i].state), "start",
                                               cf_cli_time_json(r->steps[i].start), "end",
                                               cf_cli_time_json(r->steps[i].end), "note",
                                               r->steps[i].note));
    for (size_t i = 0; i < r->n_checks; i++)
        json_array_append_new(checks, json_pack("{s:s, s:b, s:s}", "name", r->checks[i].name, "ok",
                                                r->checks[i].ok, "detail", r->checks[i].detail));
    o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:s, s:o, s:o}", "id", r->id,
                  "state", r->id[0] ? cf_migrate_state_name(r->state) : "", "source", "formula",
                  formula_name(r->source_formula), "database", r->source_db, "schema",
                  r->source_schema, "dest", "formula", formula_name(r->dest_formula), "database",
                  r->dest_db, "schema", r->dest_schema, "role", r->role, "steps", steps, "checks",
                  checks);
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "backup_id", r->backup_id[0] ? json_string(r->backup_id) : json_null());
    json_object_set_new(o, "dest_backup_id",
                        r->dest_backup_id[0] ? json_string(r->dest_backup_id) : json_null());
    json_object_set_new(o, "freeze_start", cf_cli_time_json(r->freeze_start));
    json_object_set_new(o, "freeze_end", cf_cli_time_json(r->freeze_end));
    json_object_set_new(o, "freeze_seconds",
                        r->freeze_start > 0 && r->freeze_end >= r->freeze_start
                            ? json_integer(r->freeze_end - r->freeze_start)
                            : json_null());
    json_object_set_new(o, "bytes_moved", json_integer((json_int_t)r->bytes_moved));
    json_object_set_new(o, "verify_seconds", json_real(r->verify_s));
    json_object_set_new(o, "new_conninfo",
                        r->new_conninfo[0] ? json_string(r->new_conninfo) : json_null());
    json_object_set_new(o, "mismatch", r->mismatch[0] ? json_string(r->mismatch) : json_null());
    json_object_set_new(o, "source_kept_as",
                        r->source_kept_as[0] ? json_string(r->source_kept_as) : json_null());
    if (with_plan)
        json_object_set_new(o, "plan", plan_json(&r->plan));
    return o;
}

static void
print_plan(const struct cf_migrate_result *r)
{
    const struct cf_migrate_plan *p = &r->plan;

    (void)printf("migration plan: schema %s of %s database \"%s\" -> schema %s of %s database "
                 "\"%s\"\n",
                 r->source_schema, formula_name(r->source_formula), r->source_db, r->dest_schema,
                 formula_name(r->dest_formula), r->dest_db);
    for (size_t i = 0; i < p->n; i++) {
        const struct cf_migrate_finding *f = &p->findings[i];

        (void)printf("%-9s %-28s %s\n", cf_finding_level_name(f->level), f->name, f->detail);
        if (f->hint[0] && f->level != CF_FINDING_OK)
            (void)printf("%-9s %-28s hint: %s\n", "", "", f->hint);
    }
    if (p->predicted_freeze_s >= 0)
        (void)printf("predicted freeze: %.0f s (%s)\n", p->predicted_freeze_s, p->predicted_from);
    else
        (void)printf("predicted freeze: unknown (%s)\n", p->predicted_from);
    (void)printf("%s: %zu blocking, %zu warnings\n",
                 p->blocking ? "the migration cannot run" : "the migration can run", p->blocking,
                 p->warnings);
}

static void
print_result(const struct cf_migrate_result *r)
{
    (void)printf("migration %s: %s (schema %s of %s \"%s\" -> schema %s of %s \"%s\", role %s)\n",
                 r->id, cf_migrate_state_name(r->state), r->source_schema,
                 formula_name(r->source_formula), r->source_db, r->dest_schema,
                 formula_name(r->dest_formula), r->dest_db, r->role);
    for (size_t i = 0; i < r->n_steps; i++) {
        char start[32];

        cf_format_time(r->steps[i].start, start, sizeof(start));
        if (r->steps[i].end > 0)
            (void)printf("  %-12s %s %5lld s  %s\n", cf_migrate_state_name(r->steps[i].state),
                         start, (long long)(r->steps[i].end - r->steps[i].start), r->steps[i].note);
        else
            (void)printf("  %-12s %s  (did not end)  %s\n",
                         cf_migrate_state_name(r->steps[i].state), start, r->steps[i].note);
    }
    for (size_t i = 0; i < r->n_checks; i++)
        if (!r->checks[i].ok)
            (void)printf("  check %s FAILED: %s\n", r->checks[i].name, r->checks[i].detail);
    if (r->n_checks > 0)
        (void)printf("  verification: %zu checks in %.1f s%s\n", r->n_checks, r->verify_s,
                     r->mismatch[0] ? ", differences found" : ", all equal");
    if (r->backup_id[0])
        (void)printf("  final backup: %s (%llu bytes)\n", r->backup_id,
                     (unsigned long long)r->bytes_moved);
    if (r->freeze_start > 0 && r->freeze_end >= r->freeze_start)
        (void)printf("  writes frozen from freeze to verified: %lld s\n",
                     (long long)(r->freeze_end - r->freeze_start));
    if (r->state == CF_MIG_READY)
        (void)printf("cut-over: point the application at\n  %s\nthen run coffre migrate "
                     "finalize --id %s --dest-config FILE (or rollback --force if it did not "
                     "switch)\n",
                     r->new_conninfo, r->id);
    if (r->dest_backup_id[0])
        (void)printf("  destination's first backup: %s\n", r->dest_backup_id);
    if (r->source_kept_as[0])
        (void)printf("  the source database is kept as \"%s\"\n", r->source_kept_as);
}

/* The migration's figures into the state file, then the metrics and alerts refreshed. */
static void
record_figures(const struct cf_cli_run *run, const struct cf_migrate_result *r)
{
    struct cf_ops_env env = cf_cli_ops_env(run->ctx->cfg);
    struct cf_ops_migration m;
    struct cf_error e = CF_ERROR_INIT;

    memset(&m, 0, sizeof(m));
    (void)snprintf(m.schema, sizeof(m.schema), "%s", r->source_schema);
    (void)snprintf(m.id, sizeof(m.id), "%s", r->id);
    (void)snprintf(m.state, sizeof(m.state), "%s", cf_migrate_state_name(r->state));
    m.time = (int64_t)time(NULL);
    m.freeze_s = r->freeze_start > 0 && r->freeze_end >= r->freeze_start
                     ? (double)(r->freeze_end - r->freeze_start)
                     : -1;
    m.bytes = r->bytes_moved;
    m.verify_s = r->verify_s;
    if (cf_ops_record_migration(&env, &m, &e) != CF_OK ||
        cf_alert_check_run(&env, &run->ctx->repo, &e) != CF_OK)
        cf_log_warning("could not record the migration's figures for the metrics: %s", e.msg);
}

/* ---- finalize: the destination's backup and drill --------------------------------------- */

struct dest_ctx {
    const char *config;
};

static cf_err
dest_backup(void *arg, bool skip_drill, char *id, size_t size, struct cf_error *err)
{
    const struct dest_ctx *d = arg;
    struct cf_context *ctx = NULL;
    struct cf_backup_result br;
    cf_err rc;

    if ((rc = cf_context_open(d->config, CF_NEED_ALL, &ctx, err)) != CF_OK)
        return rc;
    {
        const struct cf_config *cfg = ctx->cfg;
        struct cf_backup_opts bo = {&ctx->repo,   cfg->instance,   cfg->formula, &cfg->pg,
                                    &cfg->backup, &cfg->retention, NULL,         COFFRE_VERSION};

        rc = cf_backup_run(&bo, &br, err);
        if (rc == CF_OK)
            (void)snprintf(id, size, "%s", br.id);
        if (rc == CF_OK && !skip_drill) {
            struct cf_drill_opts o;
            struct cf_drill_result res;
            char workdir[4096];

            memset(&o, 0, sizeof(o));
            (void)snprintf(workdir, sizeof(workdir), "%s/drill/migrate-%ld", cfg->state_dir,
                           (long)getpid());
            o.repo = &ctx->repo;
            o.instance = cfg->instance;
            o.formula = cfg->formula;
            o.config_path = cfg->path;
            o.pg = &cfg->pg;
            o.drill = &cfg->drill;
            o.workdir = workdir;
            o.scenarios = 1U << CF_DRILL_SIMPLE;
            o.backup_id = br.id;
            o.version = COFFRE_VERSION;
            rc = cf_drill_run(&o, &res, err);
            if (rc == CF_ERR_CHECK)
                cf_error_context(err, "the drill of the destination's backup %s", br.id);
            cf_drill_result_clear(&res);
        }
    }
    cf_context_free(ctx);
    return rc;
}

/* ---- the command ---------------------------------------------------------------------- */

cf_err
cf_cli_migrate(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, OPT_TO},
        {"to-formula", required_argument, NULL, OPT_TO_FORMULA},
        {"from-formula", required_argument, NULL, OPT_FROM_FORMULA},
        {"schema", required_argument, NULL, OPT_SCHEMA},
        {"database", required_argument, NULL, OPT_DATABASE},
        {"schema-map", required_argument, NULL, OPT_MAP},
        {"hook", required_argument, NULL, OPT_HOOK},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"id", required_argument, NULL, OPT_ID},
        {"force", no_argument, NULL, OPT_FORCE},
        {"dest-config", required_argument, NULL, OPT_DEST_CONFIG},
        {"skip-drill", no_argument, NULL, OPT_SKIP_DRILL},
        {"drop", no_argument, NULL, OPT_DROP},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0}};
    const struct cf_config *cfg = run->ctx->cfg;
    struct cf_migrate_opts o;
    struct cf_migrate_result res;
    struct dest_ctx dc = {NULL};
    const char *verb, *database = NULL, *map = NULL;
    char *src_conninfo = NULL, map_from[64] = "", map_to[64] = "";
    bool json = false;
    int ch, to_formula = 0;
    cf_err rc;

    if (argc < 2 || argv[1][0] == '-')
        return cf_cli_usage_error(err, "coffre migrate needs plan, run, finalize, rollback or "
                                       "status");
    verb = argv[1];
    memset(&o, 0, sizeof(o));
    o.repo = &run->ctx->repo;
    o.instance = cfg->instance;
    o.state_dir = cfg->state_dir;
    o.pg = &cfg->pg;
    o.backup = &cfg->backup;
    o.retention = &cfg->retention;
    o.version = COFFRE_VERSION;
    o.source.formula = cfg->formula;
    o.source.schema = cfg->pg.schema;
    o.until = -1;
    optind = 0; /* the verb is argv[0] of the options' parse */
    while ((ch = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        switch (ch) {
        case OPT_TO: o.dest.conninfo = optarg; break;
        case OPT_TO_FORMULA:
        case OPT_FROM_FORMULA: {
            int f = parse_formula(optarg);

            if (f < 0)
                return cf_cli_usage_error(err, "a formula is managed or onprem, not \"%s\"",
                                          optarg);
            if (ch == OPT_TO_FORMULA)
                to_formula = f;
            else
                o.source.formula = (enum cf_formula)f;
            break;
        }
        case OPT_SCHEMA: o.source.schema = optarg; break;
        case OPT_DATABASE: database = optarg; break;
        case OPT_MAP: map = optarg; break;
        case OPT_HOOK: o.hook = optarg; break;
        case OPT_UNTIL:
            o.until = cf_migrate_state_parse(optarg);
            if (o.until < CF_MIG_FROZEN || o.until > CF_MIG_READY)
                return cf_cli_usage_error(err, "--until takes frozen, backed-up, restored, "
                                               "verified or ready");
            break;
        case OPT_ID: o.id = optarg; break;
        case OPT_FORCE: o.force = true; break;
        case OPT_DEST_CONFIG: dc.config = optarg; break;
        case OPT_SKIP_DRILL: o.skip_drill = true; break;
        case OPT_DROP: o.drop = true; break;
        case OPT_JSON: json = true; break;
        default: return cf_cli_usage_error(err, "invalid option for %s", "migrate");
        }
    }
    if (optind != argc - 1)
        return cf_cli_usage_error(err, "unexpected argument \"%s\"", argv[optind + 1]);
    o.dest.formula = to_formula                               ? (enum cf_formula)to_formula
                     : o.source.formula == CF_FORMULA_MANAGED ? CF_FORMULA_ONPREM
                                                              : CF_FORMULA_MANAGED;
    if (map != NULL) {
        const char *eq = strchr(map, '=');

        if (eq == NULL || eq == map || eq[1] == '\0' || (size_t)(eq - map) >= sizeof(map_from) ||
            strlen(eq + 1) >= sizeof(map_to))
            return cf_cli_usage_error(err, "--schema-map takes OLD=NEW, not \"%s\"", map);
        (void)snprintf(map_from, sizeof(map_from), "%.*s", (int)(eq - map), map);
        (void)snprintf(map_to, sizeof(map_to), "%s", eq + 1);
        if (o.source.schema == NULL)
            o.source.schema = map_from;
        else if (strcmp(map_from, o.source.schema) != 0)
            return cf_cli_usage_error(err,
                                      "--schema-map renames \"%s\", but the tenant's schema "
                                      "is \"%s\"",
                                      map_from, o.source.schema);
        o.dest.schema = map_to;
    }
    if (database != NULL) {
        if (cf_pg_conninfo_with_db(cfg->pg.conninfo, database, &src_conninfo, err) != CF_OK)
            return err->code;
        o.source.conninfo = src_conninfo;
    } else {
        o.source.conninfo = cfg->pg.conninfo;
    }
    if (dc.config != NULL) {
        o.dest_backup = dest_backup;
        o.dest_backup_ctx = &dc;
    }
    memset(&res, 0, sizeof(res));
    if (strcmp(verb, "status") == 0) {
        struct cf_migrate_result *all = NULL;
        size_t n = 0;

        run->record = false;
        if ((rc = cf_migrate_status(cfg->state_dir, &all, &n, err)) == CF_OK) {
            if (json) {
                json_t *a = json_array();

                for (size_t i = 0; i < n; i++)
                    json_array_append_new(a, result_json(&all[i], false));
                rc = cf_cli_print_json(a, err);
            } else if (n == 0) {
                (void)printf("no migration in %s/migrate\n", cfg->state_dir);
            } else {
                for (size_t i = 0; i < n; i++)
                    print_result(&all[i]);
            }
        }
        free(all);
        free(src_conninfo);
        return rc;
    }
    if (strcmp(verb, "plan") == 0) {
        run->record = false;
        if (o.dest.conninfo == NULL) {
            free(src_conninfo);
            return cf_cli_usage_error(err, "migrate plan needs --to CONNINFO");
        }
        rc = cf_migrate_plan_run(&o, &res, err);
        if (rc == CF_OK) {
            if (json)
                rc = cf_cli_print_json(plan_json(&res.plan), err);
            else
                print_plan(&res);
            if (rc == CF_OK && res.plan.blocking > 0) {
                cf_error_setf(err, CF_ERR_CHECK, "the plan has %zu blocking finding%s",
                              res.plan.blocking, res.plan.blocking == 1 ? "" : "s");
                cf_error_hint(err, "Fix what the hints say, then plan again.");
                rc = CF_ERR_CHECK;
            }
        }
        cf_migrate_result_clear(&res);
        free(src_conninfo);
        return rc;
    }
    if (strcmp(verb, "run") == 0) {
        if (o.id == NULL && o.dest.conninfo == NULL) {
            free(src_conninfo);
            return cf_cli_usage_error(err, "migrate run needs --to CONNINFO, or --id ID to "
                                           "resume");
        }
        if (cf_keyring_check(run->ctx->kr, false, err) != CF_OK) {
            free(src_conninfo);
            return err->code;
        }
        rc = cf_migrate_run(&o, &res, err);
    } else if (strcmp(verb, "rollback") == 0) {
        rc = cf_migrate_rollback(&o, &res, err);
    } else if (strcmp(verb, "finalize") == 0) {
        rc = cf_migrate_finalize(&o, &res, err);
    } else {
        free(src_conninfo);
        return cf_cli_usage_error(err, "unknown migrate command \"%s\"", verb);
    }
    if (res.id[0] != '\0' && cfg->metrics.ops_enabled)
        record_figures(run, &res);
    if (res.id[0] != '\0' || res.plan.blocking > 0) {
        if (json) {
            struct cf_error pe = CF_ERROR_INIT;

            if (cf_cli_print_json(result_json(&res, res.plan.blocking > 0), &pe) != CF_OK &&
                rc == CF_OK) {
                *err = pe;
                rc = pe.code;
            }
        } else if (res.id[0] != '\0') {
            print_result(&res);
        } else {
            print_plan(&res);
        }
    }
    cf_migrate_result_clear(&res);
    free(src_conninfo);
    return rc;
}
