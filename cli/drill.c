/*
 * drill.c - `coffre drill` (restore/drill.h): arguments in; a report for
 * people, JSON (schema version 1, docs/drill.md) and JUnit XML for machines;
 * the drill's figures for the metrics and alerts.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <libxml/xmlwriter.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/log.h"
#include "restore/drill.h"

const char cf_cli_drill_usage[] =
    "Usage: coffre drill [OPTIONS]\n"
    "       coffre drill --history [--json]\n"
    "\n"
    "Restore backups into a scratch PostgreSQL that coffre starts and removes itself,\n"
    "check the result against what the backup recorded at backup time, measure RTO\n"
    "and RPO against [drill]'s targets, and keep the evidence (docs/drill.md).\n"
    "  --scenario LIST   all (default: every one the repository has a backup for),\n"
    "                    or a comma-separated list of simple, partial, total, pitr\n"
    "  --backup ID       drill this backup (its kind decides the scenarios)\n"
    "  --table T         partial: the table to restore (schema.table); default: the\n"
    "                    table with the most rows\n"
    "  --time T          pitr: the recovery target (the zone is required); default:\n"
    "                    halfway between the backup's end and the last archived commit\n"
    "  --targets MODE    fail (default): a missed RTO/RPO target fails the drill;\n"
    "                    warn: it is reported as a warning\n"
    "  --timeout D       end the drill after D (seconds, or with s, m, h; default\n"
    "                    [drill] timeout, 4 h), clean up, report it interrupted\n"
    "  --keep            leave the scratch servers running and print how to connect\n"
    "  --json            the report as JSON\n"
    "  --junit FILE      also write a JUnit XML report (one testcase per check)\n"
    "  --history         list the drills recorded in the repository\n"
    "Exit status: 0 every check passed; 9 a check failed (the backup is bad or a\n"
    "target was missed); 8 interrupted (signal or --timeout); others as for any\n"
    "command (repository, keys, PostgreSQL).\n";

static void
duration(double s, char *buf, size_t size)
{
    if (s < 0)
        (void)snprintf(buf, size, "-");
    else if (s >= 3600)
        (void)snprintf(buf, size, "%.1f h", s / 3600);
    else if (s >= 60)
        (void)snprintf(buf, size, "%.1f min", s / 60);
    else
        (void)snprintf(buf, size, "%.1f s", s);
}

/* ---- text ------------------------------------------------------------------------- */

static void
print_report(const char *instance, const struct cf_drill_result *res)
{
    char when[32], a[32], b[32], rto[80], rpo[80];

    cf_format_time(res->start, when, sizeof(when));
    (void)printf("drill of instance %s at %s, %lld s: %s (%zu checks, %zu failed, %zu "
                 "warnings)\n",
                 instance, when, (long long)(res->end - res->start),
                 res->interrupted ? "INTERRUPTED" : res->n_failed > 0 ? "FAILED" : "passed",
                 res->n_checks, res->n_failed, res->n_warned);
    (void)printf("%-8s %-22s %-7s %-22s %-20s %s\n", "SCENARIO", "BACKUP", "RESULT",
                 "RTO (target)", "RPO (target)", "CHECKS");
    for (size_t s = 0; s < CF_DRILL_SCENARIOS; s++) {
        const struct cf_drill_scenario_result *sr = &res->scenarios[s];
        size_t failed = 0;

        if (!sr->ran) {
            if (sr->skipped[0] != '\0')
                (void)printf("%-8s skipped: %s\n", cf_drill_scenario_name(sr->scenario),
                             sr->skipped);
            continue;
        }
        for (size_t i = 0; i < sr->n_checks; i++)
            failed += sr->checks[i].status == CF_CHECK_FAIL;
        duration(sr->rto_s, a, sizeof(a));
        duration((double)sr->rto_target, b, sizeof(b));
        (void)snprintf(rto, sizeof(rto), "%s (%s)", a, b);
        duration(sr->rpo_s, a, sizeof(a));
        duration((double)sr->rpo_target, b, sizeof(b));
        (void)snprintf(rpo, sizeof(rpo), sr->rpo_s < 0 ? "-" : "%s (%s)", a, b);
        (void)printf("%-8s %-22s %-7s %-22s %-20s %zu passed, %zu failed\n",
                     cf_drill_scenario_name(sr->scenario), sr->backup_id,
                     sr->ok ? "passed" : "FAILED", rto, rpo, sr->n_checks - failed, failed);
    }
    for (size_t s = 0; s < CF_DRILL_SCENARIOS; s++) {
        const struct cf_drill_scenario_result *sr = &res->scenarios[s];

        for (size_t i = 0; i < sr->n_checks; i++)
            if (sr->checks[i].status == CF_CHECK_FAIL || sr->checks[i].status == CF_CHECK_WARN)
                (void)printf("  %-8s %s %s: %s\n", cf_drill_scenario_name(sr->scenario),
                             sr->checks[i].status == CF_CHECK_FAIL ? "FAILED " : "warning",
                             sr->checks[i].name, sr->checks[i].detail);
    }
    if (res->kept[0] != '\0')
        (void)printf("kept running (stop them with pg_ctl, then remove the drill directory): "
                     "%s\n", res->kept);
}

/* ---- JSON ------------------------------------------------------------------------- */

static json_t *
seconds_or_null(double s)
{
    return s < 0 ? json_null() : json_real(s);
}

static json_t *
scenario_json(const struct cf_drill_scenario_result *sr)
{
    json_t *checks = json_array(), *o;

    for (size_t i = 0; i < sr->n_checks; i++)
        json_array_append_new(checks, json_pack("{s:s, s:s, s:s, s:f}", "name",
                                                sr->checks[i].name, "status",
                                                cf_check_status_name(sr->checks[i].status),
                                                "detail", sr->checks[i].detail, "seconds",
                                                sr->checks[i].seconds));
    o = json_pack("{s:s, s:b, s:o, s:b, s:o, s:o}", "scenario",
                  cf_drill_scenario_name(sr->scenario), "ran", sr->ran, "skipped",
                  sr->skipped[0] ? json_string(sr->skipped) : json_null(), "ok", sr->ran && sr->ok,
                  "backup", sr->backup_id[0] ? json_string(sr->backup_id) : json_null(), "checks",
                  checks);
    if (o == NULL || !sr->ran)
        return o;
    json_object_set_new(o, "kind", json_string(sr->kind));
    json_object_set_new(
        o, "rto",
        json_pack("{s:f, s:I, s:f, s:{s:f, s:f, s:f, s:f, s:f}}", "seconds", sr->rto_s,
                  "target_seconds", (json_int_t)sr->rto_target, "extrapolated_seconds",
                  sr->rto_extrapolated_s, "phases", "fetch", sr->fetch_s, "restore", sr->restore_s,
                  "index", sr->index_s, "recovery", sr->recovery_s, "checks", sr->checks_s));
    json_object_set_new(o, "rpo", json_pack("{s:o, s:I}", "seconds", seconds_or_null(sr->rpo_s),
                                            "target_seconds", (json_int_t)sr->rpo_target));
    json_object_set_new(o, "bytes", json_integer((json_int_t)sr->bytes));
    json_object_set_new(o, "mb_per_second", json_real(sr->mb_per_s));
    json_object_set_new(o, "target_time",
                        sr->target_time[0] ? json_string(sr->target_time) : json_null());
    json_object_set_new(o, "reached", sr->reached[0] ? json_string(sr->reached) : json_null());
    json_object_set_new(o, "record", sr->record[0] ? json_string(sr->record) : json_null());
    return o;
}

static json_t *
report_json(const char *instance, const struct cf_drill_result *res, const struct cf_error *err)
{
    json_t *scenarios = json_array(), *o;

    for (size_t s = 0; s < CF_DRILL_SCENARIOS; s++)
        json_array_append_new(scenarios, scenario_json(&res->scenarios[s]));
    o = json_pack("{s:i, s:s, s:o, s:o, s:I, s:b, s:b, s:b, s:I, s:I, s:I, s:o}",
                  "schema_version", 1, "instance", instance, "start", cf_cli_time_json(res->start),
                  "end", cf_cli_time_json(res->end), "seconds",
                  (json_int_t)(res->end - res->start), "ok",
                  err->code == CF_OK, "interrupted", res->interrupted, "timed_out",
                  res->timed_out, "checks", (json_int_t)res->n_checks, "failed",
                  (json_int_t)res->n_failed, "warnings", (json_int_t)res->n_warned,
                  "scenarios", scenarios);
    if (o != NULL)
        json_object_set_new(o, "error", err->code != CF_OK ? json_string(err->msg) : json_null());
    return o;
}

/* ---- JUnit XML --------------------------------------------------------------------- */

static int
junit_case(xmlTextWriterPtr w, const struct cf_drill_scenario_result *sr,
           const struct cf_drill_check *c)
{
    char classname[64], secs[32];
    int rc = 0;

    (void)snprintf(classname, sizeof(classname), "coffre.drill.%s",
                   cf_drill_scenario_name(sr->scenario));
    (void)snprintf(secs, sizeof(secs), "%.3f", c->seconds);
    rc |= xmlTextWriterStartElement(w, BAD_CAST "testcase") < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "classname", BAD_CAST classname) < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST c->name) < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "time", BAD_CAST secs) < 0;
    if (c->status == CF_CHECK_FAIL) {
        rc |= xmlTextWriterStartElement(w, BAD_CAST "failure") < 0;
        rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "message", BAD_CAST c->detail) < 0;
        rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "check") < 0;
        rc |= xmlTextWriterWriteString(w, BAD_CAST c->detail) < 0;
        rc |= xmlTextWriterEndElement(w) < 0;
    } else if (c->status == CF_CHECK_SKIP) {
        rc |= xmlTextWriterStartElement(w, BAD_CAST "skipped") < 0;
        rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "message", BAD_CAST c->detail) < 0;
        rc |= xmlTextWriterEndElement(w) < 0;
    } else {
        char out[600];

        (void)snprintf(out, sizeof(out), "%s%s", c->status == CF_CHECK_WARN ? "warning: " : "",
                       c->detail);
        rc |= xmlTextWriterWriteElement(w, BAD_CAST "system-out", BAD_CAST out) < 0;
    }
    rc |= xmlTextWriterEndElement(w) < 0;
    return rc;
}

static int
junit_suite(xmlTextWriterPtr w, const struct cf_drill_result *res,
            const struct cf_drill_scenario_result *sr, const char *host)
{
    size_t failed = 0, skipped = 0;
    char n[32], f[32], sk[32], secs[32], when[32];
    int rc = 0;

    for (size_t i = 0; i < sr->n_checks; i++) {
        failed += sr->checks[i].status == CF_CHECK_FAIL;
        skipped += sr->checks[i].status == CF_CHECK_SKIP;
    }
    (void)snprintf(n, sizeof(n), "%zu", sr->n_checks);
    (void)snprintf(f, sizeof(f), "%zu", failed);
    (void)snprintf(sk, sizeof(sk), "%zu", skipped);
    (void)snprintf(secs, sizeof(secs), "%.3f", sr->rto_s + sr->checks_s);
    cf_format_time(res->start, when, sizeof(when));
    rc |= xmlTextWriterStartElement(w, BAD_CAST "testsuite") < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "name",
                                      BAD_CAST cf_drill_scenario_name(sr->scenario)) < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "tests", BAD_CAST n) < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "failures", BAD_CAST f) < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "errors", BAD_CAST "0") < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "skipped", BAD_CAST sk) < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "time", BAD_CAST secs) < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "timestamp", BAD_CAST when) < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "hostname", BAD_CAST host) < 0;
    rc |= xmlTextWriterStartElement(w, BAD_CAST "properties") < 0;
    rc |= xmlTextWriterStartElement(w, BAD_CAST "property") < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "backup") < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "value", BAD_CAST sr->backup_id) < 0;
    rc |= xmlTextWriterEndElement(w) < 0;
    rc |= xmlTextWriterEndElement(w) < 0;
    for (size_t i = 0; i < sr->n_checks; i++)
        rc |= junit_case(w, sr, &sr->checks[i]);
    rc |= xmlTextWriterEndElement(w) < 0;
    return rc;
}

static cf_err
write_junit(const char *path, const struct cf_drill_result *res, struct cf_error *err)
{
    xmlTextWriterPtr w = xmlNewTextWriterFilename(path, 0);
    char host[256] = "", n[32], f[32];
    int rc = 0;

    if (w == NULL)
        return cf_error_set(err, CF_ERR_IO, "could not create JUnit report \"%s\"", path);
    (void)gethostname(host, sizeof(host) - 1);
    (void)snprintf(n, sizeof(n), "%zu", res->n_checks);
    (void)snprintf(f, sizeof(f), "%zu", res->n_failed);
    rc |= xmlTextWriterSetIndent(w, 1) < 0;
    rc |= xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0;
    rc |= xmlTextWriterStartElement(w, BAD_CAST "testsuites") < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "coffre drill") < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "tests", BAD_CAST n) < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "failures", BAD_CAST f) < 0;
    for (size_t s = 0; s < CF_DRILL_SCENARIOS; s++)
        if (res->scenarios[s].ran)
            rc |= junit_suite(w, res, &res->scenarios[s], host);
    rc |= xmlTextWriterEndElement(w) < 0;
    rc |= xmlTextWriterEndDocument(w) < 0;
    xmlFreeTextWriter(w);
    if (rc != 0)
        return cf_error_set(err, CF_ERR_IO, "could not write JUnit report \"%s\"", path);
    return CF_OK;
}

/* ---- history ------------------------------------------------------------------------ */

static cf_err
print_history(const struct cf_repo *repo, bool json, struct cf_error *err)
{
    struct cf_drill_record *v = NULL;
    size_t n = 0;
    json_t *arr;
    cf_err rc;

    if ((rc = cf_drill_history(repo, &v, &n, err)) != CF_OK)
        return rc;
    if (json) {
        arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:o, s:b, s:f, s:o, s:I, s:I, s:o, s:s}", "backup",
                               v[i].backup_id, "scenario", v[i].scenario, "time",
                               cf_cli_time_json(v[i].time), "ok", v[i].ok, "rto_seconds",
                               v[i].rto_s, "rpo_seconds", seconds_or_null(v[i].rpo_s), "checks",
                               (json_int_t)v[i].n_checks, "failed", (json_int_t)v[i].n_failed,
                               "problem", v[i].problem[0] ? json_string(v[i].problem) : json_null(),
                               "record", v[i].key));
        rc = cf_cli_print_json(arr, err);
    } else {
        (void)printf("%-22s %-8s %-21s %-7s %-10s %-10s %s\n", "BACKUP", "SCENARIO", "TIME",
                     "RESULT", "RTO", "RPO", "CHECKS");
        for (size_t i = 0; i < n; i++) {
            char when[32] = "-", rto[32], rpo[32];

            if (v[i].time > 0)
                cf_format_time(v[i].time, when, sizeof(when));
            duration(v[i].rto_s, rto, sizeof(rto));
            duration(v[i].rpo_s, rpo, sizeof(rpo));
            (void)printf("%-22s %-8s %-21s %-7s %-10s %-10s %zu, %zu failed%s%s\n",
                         v[i].backup_id, v[i].scenario[0] ? v[i].scenario : "?", when,
                         v[i].ok ? "passed" : "FAILED", rto, rpo, v[i].n_checks, v[i].n_failed,
                         v[i].problem[0] ? "  -- " : "", v[i].problem);
        }
    }
    free(v);
    return rc;
}

/* ---- metrics ---------------------------------------------------------------------------- */

/* The drill's figures into the state file, for the metrics and alerts written after the run. */
static void
record_figures(const struct cf_cli_run *run, const struct cf_drill_result *res)
{
    struct cf_ops_env env = cf_cli_ops_env(run->ctx->cfg);
    struct cf_ops_drill f;
    struct cf_error e = CF_ERROR_INIT;

    memset(&f, 0, sizeof(f));
    f.time = res->start;
    for (size_t s = 0; s < CF_DRILL_SCENARIOS && f.n < CF_OPS_DRILL_SCENARIOS; s++) {
        const struct cf_drill_scenario_result *sr = &res->scenarios[s];
        struct cf_ops_drill_scenario *o = &f.scenarios[f.n];

        if (!sr->ran)
            continue;
        (void)snprintf(o->name, sizeof(o->name), "%s", cf_drill_scenario_name(sr->scenario));
        o->ok = sr->ok;
        o->rto_s = sr->rto_s;
        o->rpo_s = sr->rpo_s;
        for (size_t i = 0; i < sr->n_checks; i++)
            o->checks_failed += sr->checks[i].status == CF_CHECK_FAIL;
        f.n++;
    }
    if (cf_ops_record_drill(&env, &f, &e) != CF_OK)
        cf_log_warning("could not record the drill's figures for the metrics: %s", e.msg);
}

/* ---- the command -------------------------------------------------------------------- */

static cf_err
parse_scenarios(const char *list, unsigned *out, struct cf_error *err)
{
    char copy[128], *save = NULL;

    *out = 0;
    if (strcmp(list, "all") == 0) {
        *out = CF_DRILL_ALL;
        return CF_OK;
    }
    (void)snprintf(copy, sizeof(copy), "%s", list);
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        int s = cf_drill_scenario_parse(t);

        if (s < 0)
            return cf_cli_usage_error(err, "unknown drill scenario \"%s\" (simple, partial, "
                                           "total, pitr or all)", t);
        *out |= 1u << s;
    }
    if (*out == 0)
        return cf_cli_usage_error(err, "--scenario needs at least one scenario");
    return CF_OK;
}

/* Seconds, or a number with an s, m or h suffix. */
static int
parse_duration(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    int64_t mult = *end == 'h' ? 3600 : *end == 'm' ? 60 : 1;

    if (end == s || v <= 0 || (*end != '\0' && end[1] != '\0') ||
        (*end != '\0' && strchr("smh", *end) == NULL))
        return -1;
    *out = (int64_t)v * mult;
    return 0;
}

enum { OPT_SCENARIO = 256, OPT_BACKUP, OPT_TABLE, OPT_TIME, OPT_TARGETS, OPT_TIMEOUT, OPT_KEEP,
       OPT_JSON, OPT_JUNIT, OPT_HISTORY };

cf_err
cf_cli_drill(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {
        {"scenario", required_argument, NULL, OPT_SCENARIO},
        {"backup", required_argument, NULL, OPT_BACKUP},
        {"table", required_argument, NULL, OPT_TABLE}, {"time", required_argument, NULL, OPT_TIME},
        {"targets", required_argument, NULL, OPT_TARGETS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT}, {"keep", no_argument, NULL, OPT_KEEP},
        {"json", no_argument, NULL, OPT_JSON}, {"junit", required_argument, NULL, OPT_JUNIT},
        {"history", no_argument, NULL, OPT_HISTORY}, {NULL, 0, NULL, 0}};
    const struct cf_config *cfg = run->ctx->cfg;
    struct cf_drill_opts o;
    struct cf_drill_result res;
    char workdir[4096];
    const char *junit = NULL;
    bool json = false, history = false;
    int ch;
    cf_err rc;

    memset(&o, 0, sizeof(o));
    o.repo = &run->ctx->repo;
    o.instance = cfg->instance;
    o.formula = cfg->formula;
    o.config_path = cfg->path;
    o.pg = &cfg->pg;
    o.drill = &cfg->drill;
    o.scenarios = CF_DRILL_ALL;
    o.version = COFFRE_VERSION;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case OPT_SCENARIO:
            if (parse_scenarios(optarg, &o.scenarios, err) != CF_OK)
                return err->code;
            break;
        case OPT_BACKUP: o.backup_id = optarg; break;
        case OPT_TABLE: o.table = optarg; break;
        case OPT_TIME: o.pitr_time = optarg; break;
        case OPT_TARGETS:
            if (strcmp(optarg, "warn") != 0 && strcmp(optarg, "fail") != 0)
                return cf_cli_usage_error(err, "--targets takes fail or warn");
            o.targets_warn = strcmp(optarg, "warn") == 0;
            break;
        case OPT_TIMEOUT:
            if (parse_duration(optarg, &o.timeout) != 0)
                return cf_cli_usage_error(err, "invalid --timeout \"%s\"", optarg);
            break;
        case OPT_KEEP: o.keep = true; break;
        case OPT_JSON: json = true; break;
        case OPT_JUNIT: junit = optarg; break;
        case OPT_HISTORY: history = true; break;
        default: return cf_cli_usage_error(err, "invalid option for %s", "drill");
        }
    }
    if (optind != argc)
        return cf_cli_usage_error(err, "unexpected argument \"%s\"", argv[optind]);
    if (history) {
        run->record = false;
        return print_history(&run->ctx->repo, json, err);
    }
    {
        time_t now = time(NULL);
        struct tm tm;
        char stamp[32];

        (void)gmtime_r(&now, &tm);
        (void)strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
        (void)snprintf(workdir, sizeof(workdir), "%s/drill/%s-%ld", cfg->state_dir, stamp,
                       (long)getpid());
    }
    o.workdir = workdir;
    if (o.backup_id != NULL)
        cf_log_set_field("COFFRE_BACKUP_ID", o.backup_id);
    rc = cf_drill_run(&o, &res, err);
    if (json) {
        if (cf_cli_print_json(report_json(cfg->instance, &res, err), err) != CF_OK && rc == CF_OK)
            rc = err->code;
    } else if (res.start > 0) {
        print_report(cfg->instance, &res);
    }
    if (junit != NULL && res.start > 0 && write_junit(junit, &res, err) != CF_OK && rc == CF_OK)
        rc = err->code;
    if (cfg->metrics.ops_enabled && res.start > 0)
        record_figures(run, &res);
    cf_drill_result_clear(&res);
    return rc;
}
