/*
 * test_alerts.c - the [metrics]/[alerts] configuration and the alert conditions
 * (policies/alerts.c, pure): thresholds, boundaries, health.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"
#include "policies/alerts.h"

static const char base[] = "[coffre]\ninstance = acme\nformula = onprem\n"
                           "[postgres]\nconninfo = host=/run/postgresql dbname=postgres\n"
                           "[repository]\ntype = posix\npath = /var/lib/coffre/repo\n"
                           "[keys]\nmodule = /usr/lib/softhsm/libsofthsm2.so\n"
                           "kek = pkcs11:token=coffre;object=k\n";

static struct cf_config *
parse(const char *extra, struct cf_error *err)
{
    char text[4096];
    struct cf_config *cfg = NULL;

    (void)snprintf(text, sizeof(text), "%s%s", base, extra);
    if (cf_config_parse("t.conf", text, &cfg, err) != CF_OK)
        return NULL;
    return cfg;
}

static void
test_defaults(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_config *cfg = parse("", &err);

    (void)state;
    assert_non_null(cfg);
    assert_null(cfg->metrics.textfile);
    assert_false(cfg->metrics.ops_enabled);
    assert_string_equal(cfg->metrics.state_dir, "/var/lib/coffre/acme/state");
    assert_int_equal(cfg->alerts.age_warning, 6 * 3600);
    assert_int_equal(cfg->alerts.age_critical, 25 * 3600);
    assert_true(cfg->alerts.free_warning == (size_t)5 << 30);
    assert_true(cfg->alerts.free_critical == (size_t)1 << 30);
    assert_int_equal(cfg->alerts.reminder, 4 * 3600);
    assert_true(cfg->alerts.smtp_starttls);
    assert_string_equal(cfg->alerts.telegram_api, "https://api.telegram.org");
    cf_config_free(cfg);
}

static void
test_keys(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_config *cfg =
        parse("[metrics]\ntextfile = /var/lib/prometheus/node-exporter/coffre_acme.prom\n"
              "[alerts]\nbackup_age_warning = 2h\nfree_space_critical = 512M\nreminder = 0\n"
              "smtp_url = smtps://mail.example:465\nsmtp_from = c@x.example\n"
              "smtp_to = a@x.example, b@x.example\nsmtp_starttls = false\n"
              "webhook_url = https://hooks.example/coffre\ntelegram_chat_id = -100\n",
              &err);

    (void)state;
    assert_non_null(cfg);
    assert_true(cfg->metrics.ops_enabled);
    assert_int_equal(cfg->alerts.age_warning, 7200);
    assert_true(cfg->alerts.free_critical == (size_t)512 << 20);
    assert_int_equal(cfg->alerts.reminder, 0);
    assert_int_equal(cfg->alerts.n_smtp_to, 2);
    assert_string_equal(cfg->alerts.smtp_to[1], "b@x.example");
    assert_false(cfg->alerts.smtp_starttls);
    cf_config_free(cfg);
}

static void
test_bad(void **state)
{
    static const struct {
        const char *extra, *msg;
    } cases[] = {
        {"[alerts]\nwebhook_url = ftp://x\n",
         "t.conf:13: invalid value for \"alerts.webhook_url\": \"ftp://x\""},
        {"[alerts]\nsmtp_url = https://mail.example\n",
         "t.conf:13: invalid value for \"alerts.smtp_url\": \"https://mail.example\""},
        {"[alerts]\nwebhook_url = https://user:pw@hooks.example/\n",
         "t.conf:13: invalid value for \"alerts.webhook_url\": \"https://hooks.example/…\""},
        {"[alerts]\nsmtp_to = nobody\n",
         "t.conf:13: invalid value for \"alerts.smtp_to\": \"nobody\""},
        {"[alerts]\nsmtp_url = smtp://mail.example\n",
         "t.conf: \"alerts.smtp_url\" needs \"alerts.smtp_from\" and \"alerts.smtp_to\""},
        {"[metrics]\ntextfile = coffre.prom\n",
         "t.conf:13: invalid value for \"metrics.textfile\": \"coffre.prom\""},
        {"[alerts]\nbackup_age_warning = 0\n",
         "t.conf:13: invalid value for \"alerts.backup_age_warning\": \"0\""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cf_error err = CF_ERROR_INIT;

        assert_null(parse(cases[i].extra, &err));
        assert_int_equal(err.code, CF_ERR_CONFIG);
        assert_string_equal(err.msg, cases[i].msg);
    }
}

/* ---- cf_alerts_evaluate --------------------------------------------------- */

static const struct cf_alert_issue *
find(const struct cf_alert_facts *f, const char *name)
{
    for (size_t i = 0; i < f->n_issues; i++)
        if (strcmp(f->issues[i].name, name) == 0)
            return &f->issues[i];
    return NULL;
}

static void
healthy_facts(struct cf_alert_facts *f)
{
    memset(f, 0, sizeof(*f));
    f->now = 1800000000;
    f->total_backups = 3;
    (void)snprintf(f->latest_backup, sizeof(f->latest_backup), "20270115T080000Z");
    f->latest_time = f->now - 3600;
    f->have_space = true;
    f->available_space_bytes = (uint64_t)100 << 30;
}

static void
test_evaluate(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_config *cfg = parse("", &err);
    struct cf_alert_facts f;

    (void)state;
    assert_non_null(cfg);
    healthy_facts(&f);
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_int_equal(f.n_issues, 0);
    assert_string_equal(cf_alerts_health(&f), "healthy");

    /* age: > 6 h warning (6 h itself is not), > 25 h critical */
    f.latest_time = f.now - 6 * 3600;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_null(find(&f, "CoffreBackupTooOld"));
    f.latest_time = f.now - 6 * 3600 - 1;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_int_equal(find(&f, "CoffreBackupTooOld")->severity, CF_SEV_WARNING);
    assert_string_equal(cf_alerts_health(&f), "degraded");
    f.latest_time = f.now - 25 * 3600 - 1;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_int_equal(find(&f, "CoffreBackupTooOld")->severity, CF_SEV_CRITICAL);
    assert_string_equal(cf_alerts_health(&f), "unhealthy");

    /* space: < 5 GiB warning, < 1 GiB critical */
    healthy_facts(&f);
    f.available_space_bytes = ((uint64_t)5 << 30) - 1;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_int_equal(find(&f, "CoffreLowDiskSpace")->severity, CF_SEV_WARNING);
    f.available_space_bytes = ((uint64_t)1 << 30) - 1;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_int_equal(find(&f, "CoffreLowDiskSpace")->severity, CF_SEV_CRITICAL);

    /* WAL lag only once WAL exists */
    healthy_facts(&f);
    f.wal_newest = f.now - 31 * 60;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_int_equal(find(&f, "CoffreWalArchiveLag")->severity, CF_SEV_WARNING);
    f.wal_newest = f.now - 2 * 3600 - 1;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_int_equal(find(&f, "CoffreWalArchiveLag")->severity, CF_SEV_CRITICAL);

    /* failed runs, missing keys, no backup */
    healthy_facts(&f);
    f.runs[0] = (struct cf_alert_run){.present = true, .ok = false, .end = f.now};
    (void)snprintf(f.runs[0].error, sizeof(f.runs[0].error), "could not connect");
    f.runs[1] = (struct cf_alert_run){.present = true, .ok = false, .end = f.now};
    f.runs[2] = (struct cf_alert_run){.present = true, .ok = true, .end = f.now};
    f.key_missing = 2;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_int_equal(find(&f, "CoffreBackupFailed")->severity, CF_SEV_CRITICAL);
    assert_non_null(strstr(find(&f, "CoffreBackupFailed")->summary, "could not connect"));
    assert_int_equal(find(&f, "CoffrePruneFailed")->severity, CF_SEV_WARNING);
    assert_null(find(&f, "CoffreVerifyFailed"));
    assert_int_equal(find(&f, "CoffreKeyMissing")->severity, CF_SEV_CRITICAL);
    f.total_backups = 0;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_int_equal(find(&f, "CoffreNoBackup")->severity, CF_SEV_CRITICAL);
    assert_null(find(&f, "CoffreBackupTooOld"));
    cf_config_free(cfg);
}

/* Drills: a failed one is critical; none successful for 8 days warns, 95 days is
 * critical; a new instance has 8 days from its oldest backup to run its first. */
static void
test_drill(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_config *cfg = parse("[alerts]\ndrill_age_warning = 2d\n", &err);
    struct cf_alert_facts f;
    struct cf_alert_run *d;

    (void)state;
    assert_non_null(cfg);
    healthy_facts(&f);
    f.oldest_backup_time = f.now - 2 * 86400;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_null(find(&f, "CoffreDrillTooOld")); /* 2 days exactly: not yet */
    f.oldest_backup_time = f.now - 2 * 86400 - 1;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_int_equal(find(&f, "CoffreDrillTooOld")->severity, CF_SEV_WARNING);
    assert_non_null(strstr(find(&f, "CoffreDrillTooOld")->summary, "yet"));

    d = &f.runs[CF_RUN_DRILL];
    *d = (struct cf_alert_run){.present = true, .ok = true, .end = f.now - 3600,
                               .last_success = f.now - 3600};
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_null(find(&f, "CoffreDrillTooOld"));
    assert_null(find(&f, "CoffreDrillFailed"));
    d->last_success = f.now - 95 * 86400 - 1;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_int_equal(find(&f, "CoffreDrillTooOld")->severity, CF_SEV_CRITICAL);
    d->ok = false;
    (void)snprintf(d->error, sizeof(d->error), "2 of 40 drill checks failed");
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_int_equal(find(&f, "CoffreDrillFailed")->severity, CF_SEV_CRITICAL);
    assert_non_null(strstr(find(&f, "CoffreDrillFailed")->summary, "2 of 40 drill checks failed"));
    assert_string_equal(cf_alerts_health(&f), "unhealthy");

    /* no backup yet: nothing to drill, no drill alert */
    healthy_facts(&f);
    f.total_backups = 0;
    f.oldest_backup_time = 0;
    cf_alerts_evaluate(&cfg->alerts, cfg->instance, &f);
    assert_null(find(&f, "CoffreDrillTooOld"));
    cf_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_evaluate),
        cmocka_unit_test(test_drill),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
