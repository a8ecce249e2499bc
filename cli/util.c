/*
 * util.c - small helpers shared by the cli/ files (see cli.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/context.h"
#include "common/log.h"
#include "common/manifest.h"
#include "ops/ops.h"

cf_err
cf_cli_usage_error(struct cf_error *err, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cf_error_setf(err, CF_ERR_USAGE, "%s", msg);
    cf_error_hint(err, "Run \"coffre --help\" for usage.");
    return CF_ERR_USAGE;
}

cf_err
cf_cli_print_json(json_t *v, struct cf_error *err)
{
    char *s = v != NULL ? json_dumps(v, JSON_INDENT(2)) : NULL;

    json_decref(v);
    if (s == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory while printing JSON");
    (void)printf("%s\n", s);
    free(s);
    return CF_OK;
}

void
cf_cli_human_bytes(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    (void)snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

json_t *
cf_cli_time_json(int64_t t)
{
    char buf[32];

    if (t <= 0)
        return json_null();
    cf_format_time(t, buf, sizeof(buf));
    return json_string(buf);
}

struct cf_ops_env
cf_cli_ops_env(const struct cf_config *cfg)
{
    struct cf_ops_env env = {cfg->path,      cfg->instance, &cfg->repo,
                             &cfg->retention, &cfg->metrics, &cfg->alerts};

    return env;
}

void
cf_cli_warn_unsigned(const struct cf_cli_run *run)
{
    if (run->ctx->repo.allow_unsigned)
        cf_log_warning("unsigned manifests are accepted (%s): a backup written by anyone "
                       "holding a KEK's public key would pass as genuine",
                       run->allow_unsigned ? "--allow-unsigned" : "keys.allow_unsigned");
}

cf_err
cf_cli_open_repo(struct cf_cli_run *run, struct cf_error *err)
{
    if (run->ctx->kr != NULL)
        return CF_OK;
    if (cf_context_open_storage(run->ctx, err) != CF_OK ||
        cf_context_open_keys(run->ctx, err) != CF_OK)
        return err->code;
    cf_cli_warn_unsigned(run);
    return CF_OK;
}
