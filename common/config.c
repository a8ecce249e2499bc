/*
 * config.c - the coffre configuration file (see config.h).
 *
 * libinih splits lines into sections and name = value pairs; everything else
 * is done here, because Debian's libinih 55 is built with the upstream
 * defaults, which do not match our contract:
 *   - the handler gets no line number (INI_HANDLER_LINENO 0), so we feed inih
 *     through our own line reader (ini_parse_stream) and count lines there;
 *   - only " ;" starts an inline comment, and an indented line continues the
 *     previous value (INI_ALLOW_MULTILINE 1); the reader therefore strips
 *     " ;" and " #" comments and leading blanks itself, so inih sees neither;
 *   - a section header reaches no handler (INI_CALL_HANDLER_ON_NEW_SECTION 0),
 *     so the reader checks section names, which also catches empty ones;
 *   - lines are cut at INI_MAX_LINE - 2 = 198 bytes; the reader refuses longer
 *     lines instead of letting inih read the rest as a new line.
 * We never change inih's global run-time options: they are Debian-specific.
 */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <libpq-fe.h>

#define CONFIG_MAX_BYTES ((size_t)1024 * 1024)
#define PG_NAME_MAX 63 /* NAMEDATALEN - 1 */
#define INSTANCE_MAX 64
#define PKCS11_PREFIX "pkcs11:"

struct parse_ctx;
struct key_def;

typedef cf_err (*key_setter)(struct parse_ctx *ctx, const struct key_def *def, const char *value);

struct key_def {
    const char *section;
    const char *name;
    key_setter set;
    size_t offset;     /* field in struct cf_config, for the generic setters */
    unsigned long min; /* numeric range, inclusive */
    unsigned long max;
};

struct parse_ctx {
    const char *name; /* file name used in messages */
    const char *pos;  /* next unread byte */
    const char *end;
    int lineno; /* line handed to inih last */
    struct cf_config *cfg;
    struct cf_error *err;
    unsigned char seen[96];
    char *wal_spool; /* [wal] spool, the deprecated name of [coffre] state_dir */
};

static cf_err set_instance(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_formula(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_conninfo(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_databases(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_schema(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_repo_type(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_abs_path(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_unsigned(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_level(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_workers(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_chunk_size(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_keks(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_bool(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_sign(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_read(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_trust(struct parse_ctx *, const struct key_def *, const char *);
static bool parse_decimal(const char *s, size_t len, unsigned long limit, unsigned long *out);
static cf_err set_string(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_endpoint(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_size(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_duration(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_uri_style(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_lock_mode(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_url(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_mail_to(struct parse_ctx *, const struct key_def *, const char *);
static cf_err set_wal_spool(struct parse_ctx *, const struct key_def *, const char *);

#define FIELD(f) offsetof(struct cf_config, f)

/* Every accepted key; a section is known when at least one key names it. */
static const struct key_def keys[] = {
    {"coffre", "instance", set_instance, 0, 0, 0},
    {"coffre", "formula", set_formula, 0, 0, 0},
    {"coffre", "state_dir", set_abs_path, FIELD(state_dir), 0, 0},
    {"postgres", "conninfo", set_conninfo, 0, 0, 0},
    {"postgres", "databases", set_databases, 0, 0, 0},
    {"postgres", "schema", set_schema, 0, 0, 0},
    {"postgres", "bindir", set_abs_path, FIELD(pg.bindir), 0, 0},
    {"repository", "type", set_repo_type, 0, 0, 0},
    {"repository", "path", set_abs_path, FIELD(repo.path), 0, 0},
    {"repository", "endpoint", set_endpoint, FIELD(repo.s3.endpoint), 0, 0},
    {"repository", "bucket", set_string, FIELD(repo.s3.bucket), 3, 63},
    {"repository", "region", set_string, FIELD(repo.s3.region), 1, 64},
    {"repository", "prefix", set_string, FIELD(repo.s3.prefix), 1, 256},
    {"repository", "uri_style", set_uri_style, 0, 0, 0},
    {"repository", "ca_file", set_abs_path, FIELD(repo.s3.ca_file), 0, 0},
    {"repository", "access_key_file", set_abs_path, FIELD(repo.s3.access_key_file), 0, 0},
    {"repository", "secret_key_file", set_abs_path, FIELD(repo.s3.secret_key_file), 0, 0},
    {"repository", "lock_mode", set_lock_mode, 0, 0, 0},
    {"repository", "allow_unlocked_bucket", set_bool, FIELD(repo.s3.allow_unlocked), 0, 0},
    {"repository", "part_size", set_size, FIELD(repo.s3.part_size), 5242880, 1073741824},
    {"repository", "parts_in_flight", set_unsigned, FIELD(repo.s3.parts_in_flight), 1, 16},
    {"retention", "daily", set_unsigned, FIELD(retention.daily), 0, 10000},
    {"retention", "weekly", set_unsigned, FIELD(retention.weekly), 0, 10000},
    {"retention", "monthly", set_unsigned, FIELD(retention.monthly), 0, 10000},
    {"retention", "min_keep", set_unsigned, FIELD(retention.min_keep), 0, 10000},
    {"retention", "lock_margin", set_duration, FIELD(retention.lock_margin), 0, 31622400},
    {"retention", "stale_after", set_duration, FIELD(retention.stale_after), 1, 31622400},
    {"compression", "level", set_level, 0, 1, 19},
    {"compression", "workers", set_workers, 0, 0, 64},
    {"encryption", "chunk_size", set_chunk_size, 0, 4096, 4194304},
    {"backup", "row_counts", set_bool, FIELD(backup.row_counts), 0, 0},
    {"wal", "spool", set_wal_spool, 0, 0, 0},
    {"wal", "upload_interval", set_duration, FIELD(wal.upload_interval), 1, 86400},
    {"wal", "slot", set_string, FIELD(wal.slot), 1, 63},
    {"wal", "synchronous", set_bool, FIELD(wal.synchronous), 0, 0},
    {"wal", "async", set_bool, FIELD(wal.async), 0, 0},
    {"wal", "push_jobs", set_unsigned, FIELD(wal.push_jobs), 1, 32},
    {"wal", "spool_max", set_size, FIELD(wal.spool_max), 16777216, 1099511627776},
    {"wal", "readahead", set_unsigned, FIELD(wal.readahead), 0, 64},
    {"wal", "archive_timeout", set_duration, FIELD(wal.archive_timeout), 1, 86400},
    {"metrics", "textfile", set_abs_path, FIELD(metrics.textfile), 0, 0},
    {"metrics", "state_dir", set_abs_path, FIELD(metrics.state_dir), 0, 0},
    {"alerts", "backup_age_warning", set_duration, FIELD(alerts.age_warning), 1, 31622400},
    {"alerts", "backup_age_critical", set_duration, FIELD(alerts.age_critical), 1, 31622400},
    {"alerts", "free_space_warning", set_size, FIELD(alerts.free_warning), 0, 1125899906842624},
    {"alerts", "free_space_critical", set_size, FIELD(alerts.free_critical), 0, 1125899906842624},
    {"alerts", "wal_lag_warning", set_duration, FIELD(alerts.wal_lag_warning), 1, 31622400},
    {"alerts", "wal_lag_critical", set_duration, FIELD(alerts.wal_lag_critical), 1, 31622400},
    {"alerts", "reminder", set_duration, FIELD(alerts.reminder), 0, 31622400},
    {"alerts", "drill_age_warning", set_duration, FIELD(alerts.drill_age_warning), 1, 31622400},
    {"alerts", "drill_age_critical", set_duration, FIELD(alerts.drill_age_critical), 1, 31622400},
    {"alerts", "webhook_url", set_url, FIELD(alerts.webhook_url), 0, 0},
    {"alerts", "smtp_url", set_url, FIELD(alerts.smtp_url), 0, 0},
    {"alerts", "smtp_from", set_string, FIELD(alerts.smtp_from), 3, 254},
    {"alerts", "smtp_to", set_mail_to, 0, 0, 0},
    {"alerts", "smtp_user", set_string, FIELD(alerts.smtp_user), 1, 254},
    {"alerts", "smtp_password_file", set_abs_path, FIELD(alerts.smtp_password_file), 0, 0},
    {"alerts", "smtp_starttls", set_bool, FIELD(alerts.smtp_starttls), 0, 0},
    {"alerts", "telegram_api", set_url, FIELD(alerts.telegram_api), 0, 0},
    {"alerts", "telegram_chat_id", set_string, FIELD(alerts.telegram_chat_id), 1, 64},
    {"alerts", "telegram_token_file", set_abs_path, FIELD(alerts.telegram_token_file), 0, 0},
    {"alerts", "ca_file", set_abs_path, FIELD(alerts.ca_file), 0, 0},
    {"drill", "target", set_conninfo, FIELD(drill.target), 0, 0},
    {"drill", "check_sql", set_abs_path, FIELD(drill.check_sql), 0, 0},
    {"drill", "rto_simple", set_duration, FIELD(drill.rto_simple), 1, 31622400},
    {"drill", "rto_partial", set_duration, FIELD(drill.rto_partial), 1, 31622400},
    {"drill", "rto_total", set_duration, FIELD(drill.rto_total), 1, 31622400},
    {"drill", "rto_pitr", set_duration, FIELD(drill.rto_pitr), 1, 31622400},
    {"drill", "rpo", set_duration, FIELD(drill.rpo), 1, 31622400},
    {"drill", "timeout", set_duration, FIELD(drill.timeout), 1, 31622400},
    {"drill", "jobs", set_unsigned, FIELD(drill.jobs), 1, 64},
    {"keys", "module", set_abs_path, FIELD(keys.module), 0, 0},
    {"keys", "kek", set_keks, 0, 0, 0},
    {"keys", "pin_file", set_abs_path, FIELD(keys.pin_file), 0, 0},
    {"keys", "sign", set_sign, FIELD(keys.sign), 0, 0},
    {"keys", "read", set_read, 0, 0, 0},
    {"keys", "require", set_sign, FIELD(keys.require), 0, 0},
    {"keys", "trust", set_trust, 0, 0, 0},
    {"keys", "allow_unsigned", set_bool, FIELD(keys.allow_unsigned), 0, 0},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

_Static_assert(N_KEYS <= sizeof(((struct parse_ctx *)0)->seen), "parse_ctx.seen is too small");

/* ---- messages ---------------------------------------------------------- */

static cf_err
nomem(struct parse_ctx *ctx)
{
    return cf_error_set(ctx->err, CF_ERR_NOMEM,
                        "out of memory while reading configuration file \"%s\"", ctx->name);
}

static cf_err
syntax_error(struct parse_ctx *ctx, int lineno, const char *detail)
{
    cf_err rc = cf_error_set(ctx->err, CF_ERR_CONFIG, "%s:%d: syntax error", ctx->name, lineno);

    if (detail != NULL)
        cf_error_detail(ctx->err, "%s", detail);
    return rc;
}

/*
 * The text of a value as messages may show it (issue 12, finding 6): a
 * pin-value inside a key URI becomes "***"; a URL keeps only its scheme and
 * host (its user, password, path and query may be credentials: a webhook's
 * path often is one).  Other values are shown as written.
 */
static void
redact(const struct key_def *def, const char *value, size_t len, char *out, size_t size)
{
    size_t o = 0;

    if (strcmp(def->section, "alerts") == 0 &&
        (strstr(def->name, "_url") != NULL || strcmp(def->name, "telegram_api") == 0)) {
        const char *sep = strstr(value, "://");
        size_t scheme = sep != NULL ? (size_t)(sep + 3 - value) : 0;
        const char *host = value + scheme, *stop = host + strcspn(host, "/?#");
        const char *at = memchr(host, '@', (size_t)(stop - host));

        if (at != NULL)
            host = at + 1; /* user:password@ */
        (void)snprintf(out, size, "%.*s%.*s%s", (int)scheme, value, (int)(stop - host), host,
                       *stop != '\0' ? "/…" : "");
        return;
    }
    for (size_t i = 0; i < len && o + 4 < size;) {
        if (strcmp(def->section, "keys") == 0 && strncmp(value + i, "pin-value=", 10) == 0 &&
            o + 14 < size) {
            memcpy(out + o, "pin-value=***", 13);
            o += 13;
            for (i += 10; i < len && strchr(";&?, ", value[i]) == NULL; i++)
                ;
            continue;
        }
        out[o++] = value[i++];
    }
    out[o] = '\0';
}

/* value NULL: the value is not repeated (it may hold a secret); else shown redacted. */
__attribute__((format(printf, 4, 5))) static cf_err
invalid(struct parse_ctx *ctx, const struct key_def *def, const char *value, const char *fmt, ...)
{
    char detail[sizeof(ctx->err->detail)], shown[512];
    va_list ap;
    cf_err rc;

    if (value != NULL) {
        redact(def, value, strlen(value), shown, sizeof(shown));
        rc = cf_error_set(ctx->err, CF_ERR_CONFIG, "%s:%d: invalid value for \"%s.%s\": \"%s\"",
                          ctx->name, ctx->lineno, def->section, def->name, shown);
    } else {
        rc = cf_error_set(ctx->err, CF_ERR_CONFIG, "%s:%d: invalid value for \"%s.%s\"", ctx->name,
                          ctx->lineno, def->section, def->name);
    }
    va_start(ap, fmt);
    if (vsnprintf(detail, sizeof(detail), fmt, ap) >= 0)
        cf_error_detail(ctx->err, "%s", detail);
    va_end(ap);
    return rc;
}

/* ---- value checks ------------------------------------------------------ */

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static cf_err
dup_into(struct parse_ctx *ctx, char **field, const char *value, size_t len)
{
    char *copy = strndup(value, len);

    if (copy == NULL)
        return nomem(ctx);
    *field = copy;
    return CF_OK;
}

static cf_err
set_instance(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    size_t len = strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");

    if (value[len] != '\0' || len > INSTANCE_MAX)
        return invalid(ctx, def, value,
                       "An instance name is 1 to %d letters, digits, \"_\", \".\" or \"-\".",
                       INSTANCE_MAX);
    return dup_into(ctx, &ctx->cfg->instance, value, len);
}

static cf_err
set_formula(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    if (strcmp(value, "onprem") == 0)
        ctx->cfg->formula = CF_FORMULA_ONPREM;
    else if (strcmp(value, "managed") == 0)
        ctx->cfg->formula = CF_FORMULA_MANAGED;
    else
        return invalid(ctx, def, value, "Accepted values are \"onprem\" and \"managed\".");
    return CF_OK;
}

/* A libpq connection string without a password, into the field def names
 * (NULL offset: postgres.conninfo). */
static cf_err
set_conninfo(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    PQconninfoOption *opts;
    char *errmsg = NULL;
    bool has_password = false;

    opts = PQconninfoParse(value, &errmsg);
    if (opts == NULL) {
        size_t len;

        if (errmsg == NULL)
            return nomem(ctx);
        len = strcspn(errmsg, "\n");
        /* libpq's message names the offending word, never the whole string */
        (void)invalid(ctx, def, NULL, "libpq could not parse it: %.*s.", (int)len, errmsg);
        PQfreemem(errmsg);
        return ctx->err->code;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if ((strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0) &&
            o->val != NULL)
            has_password = true; /* either would reach pg_dump's argv */
    PQconninfoFree(opts);
    if (has_password) {
        cf_err rc =
            cf_error_set(ctx->err, CF_ERR_CONFIG, "%s:%d: \"%s.%s\" must not contain a password",
                         ctx->name, ctx->lineno, def->section, def->name);

        cf_error_hint(ctx->err, "Put the password in ~/.pgpass of the user running coffre, "
                                "or in the file named by PGPASSFILE (password= and "
                                "sslpassword= would reach the argv of pg_dump).");
        return rc;
    }
    return dup_into(ctx, def->offset ? (char **)((char *)ctx->cfg + def->offset)
                                     : &ctx->cfg->pg.conninfo,
                    value, strlen(value));
}

/*
 * Split a comma-separated list into out[], each element trimmed of blanks.
 * check returns NULL or a detail sentence for a bad element.
 */
static cf_err
split_list(struct parse_ctx *ctx, const struct key_def *def, const char *value, char **out,
           size_t *n_out, const char *(*check)(const char *elem, size_t len))
{
    const char *p = value;

    for (;;) {
        const char *stop = p + strcspn(p, ",");
        const char *s = p, *e = stop, *why;

        while (s < e && is_blank(*s))
            s++;
        while (e > s && is_blank(e[-1]))
            e--;
        if (s == e)
            return invalid(ctx, def, value, "The list has an empty element.");
        why = check(s, (size_t)(e - s));
        if (why != NULL) {
            char shown[512];

            redact(def, s, (size_t)(e - s), shown, sizeof(shown));
            return invalid(ctx, def, value, "Element \"%s\": %s", shown, why);
        }
        for (size_t i = 0; i < *n_out; i++)
            if (strlen(out[i]) == (size_t)(e - s) && memcmp(out[i], s, (size_t)(e - s)) == 0)
                return invalid(ctx, def, value, "\"%.*s\" is listed twice.", (int)(e - s), s);
        if (*n_out == CF_CONFIG_MAX_LIST)
            return invalid(ctx, def, value, "The list has more than %d elements.",
                           CF_CONFIG_MAX_LIST);
        if (dup_into(ctx, &out[*n_out], s, (size_t)(e - s)) != CF_OK)
            return ctx->err->code;
        (*n_out)++;
        if (*stop == '\0')
            return CF_OK;
        p = stop + 1;
    }
}

static const char *
check_pg_name(const char *s, size_t len)
{
    (void)s;
    return len > PG_NAME_MAX ? "a PostgreSQL name has at most 63 bytes." : NULL;
}

static const char *
check_kek(const char *s, size_t len)
{
    if (len <= strlen(PKCS11_PREFIX) || strncmp(s, PKCS11_PREFIX, strlen(PKCS11_PREFIX)) != 0)
        return "a key is named by a PKCS#11 URI starting with \"pkcs11:\" (RFC 7512).";
    for (size_t i = 0; i < len; i++)
        if (isspace((unsigned char)s[i]))
            return "a PKCS#11 URI contains no whitespace; percent-encode it as %20.";
    return NULL;
}

static cf_err
set_databases(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    return split_list(ctx, def, value, ctx->cfg->pg.databases, &ctx->cfg->pg.n_databases,
                      check_pg_name);
}

static cf_err
set_keks(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    return split_list(ctx, def, value, ctx->cfg->keys.keks, &ctx->cfg->keys.n_keks, check_kek);
}

static cf_err
set_sign(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    const char *why = check_kek(value, strlen(value));

    if (why != NULL)
        return invalid(ctx, def, value, "%s", why);
    return dup_into(ctx, (char **)((char *)ctx->cfg + def->offset), value, strlen(value));
}

static cf_err
set_read(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    return split_list(ctx, def, value, ctx->cfg->keys.read, &ctx->cfg->keys.n_read, check_kek);
}

static const char *
check_abs_path(const char *s, size_t len)
{
    (void)len;
    return s[0] != '/' ? "a trusted signer is named by the absolute path of its file." : NULL;
}

static cf_err
set_trust(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    return split_list(ctx, def, value, ctx->cfg->keys.trust, &ctx->cfg->keys.n_trust,
                      check_abs_path);
}

static cf_err
set_schema(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    size_t len = strlen(value);

    if (len > PG_NAME_MAX)
        return invalid(ctx, def, value, "A PostgreSQL name has at most %d bytes.", PG_NAME_MAX);
    return dup_into(ctx, &ctx->cfg->pg.schema, value, len);
}

static cf_err
set_repo_type(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    if (strcmp(value, "posix") == 0) {
        ctx->cfg->repo.type = CF_REPO_POSIX;
        return CF_OK;
    }
    if (strcmp(value, "s3") == 0) {
        ctx->cfg->repo.type = CF_REPO_S3;
        return CF_OK;
    }
    return invalid(ctx, def, value, "Accepted values are \"posix\" and \"s3\".");
}

/* A non-empty string of def->min..def->max bytes, without blanks. */
static cf_err
set_string(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    size_t len = strlen(value);
    char **field = (char **)((char *)ctx->cfg + def->offset);

    if (len < def->min || len > def->max || strpbrk(value, " \t") != NULL)
        return invalid(ctx, def, value, "A value of %lu to %lu characters without blanks is "
                                        "required.", def->min, def->max);
    return dup_into(ctx, field, value, len);
}

static cf_err
set_endpoint(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    char **field = (char **)((char *)ctx->cfg + def->offset);

    if ((strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0) ||
        strpbrk(value, " \t@") != NULL || strchr(value + 8, '/') != NULL)
        return invalid(ctx, def, value, "An http:// or https:// URL with a host and an optional "
                                        "port and nothing else is required, e.g. "
                                        "https://s3.fr-par.scw.cloud.");
    return dup_into(ctx, field, value, strlen(value));
}

/* Bytes, or a number with a k, M or G suffix (powers of 1024). */
static cf_err
set_size(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    size_t len = strlen(value), *field = (size_t *)((char *)ctx->cfg + def->offset);
    unsigned long mult = 1, v;

    if (len > 0 && (value[len - 1] == 'k' || value[len - 1] == 'K'))
        mult = 1024;
    else if (len > 0 && value[len - 1] == 'M')
        mult = 1024UL * 1024;
    else if (len > 0 && value[len - 1] == 'G')
        mult = 1024UL * 1024 * 1024;
    if (mult != 1)
        len--;
    if (!parse_decimal(value, len, def->max / mult, &v) || v * mult < def->min)
        return invalid(ctx, def, value, "A size from %lu to %lu bytes is required, in bytes or "
                                        "with a k, M or G suffix.", def->min, def->max);
    *field = (size_t)(v * mult);
    return CF_OK;
}

/* Seconds, or a number with an s, m, h or d suffix. */
static cf_err
set_duration(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    size_t len = strlen(value);
    int64_t *field = (int64_t *)((char *)ctx->cfg + def->offset);
    unsigned long mult = 1, v;

    if (len > 0 && strchr("smhd", value[len - 1]) != NULL) {
        mult = value[len - 1] == 's' ? 1 : value[len - 1] == 'm' ? 60
               : value[len - 1] == 'h' ? 3600 : 86400;
        len--;
    }
    if (!parse_decimal(value, len, def->max / mult, &v) || v * mult < def->min)
        return invalid(ctx, def, value, "A duration from %lu to %lu seconds is required, in "
                                        "seconds or with an s, m, h or d suffix.",
                       def->min, def->max);
    *field = (int64_t)(v * mult);
    return CF_OK;
}

static cf_err
set_uri_style(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    if (strcmp(value, "path") == 0 || strcmp(value, "host") == 0) {
        ctx->cfg->repo.s3.host_style = strcmp(value, "host") == 0;
        return CF_OK;
    }
    return invalid(ctx, def, value, "Accepted values are \"path\" and \"host\".");
}

static cf_err
set_lock_mode(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    if (strcmp(value, "compliance") == 0 || strcmp(value, "governance") == 0) {
        ctx->cfg->repo.s3.governance = strcmp(value, "governance") == 0;
        return CF_OK;
    }
    return invalid(ctx, def, value, "Accepted values are \"compliance\" and \"governance\".");
}

/* A receiver URL: smtp_url takes smtp:// or smtps://, the others http:// or https://. */
static cf_err
set_url(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    bool smtp = strcmp(def->name, "smtp_url") == 0;
    const char *a = smtp ? "smtp://" : "http://", *b = smtp ? "smtps://" : "https://";

    if ((strncmp(value, a, strlen(a)) != 0 && strncmp(value, b, strlen(b)) != 0) ||
        strlen(value) <= strlen(b) || strpbrk(value, " \t\r\n") != NULL)
        return invalid(ctx, def, value, "A %s or %s URL without blanks is required.", a, b);
    if (strchr(value, '@') != NULL)
        return invalid(ctx, def, value, "Credentials do not belong in a URL: use smtp_user and "
                                        "smtp_password_file.");
    return dup_into(ctx, (char **)((char *)ctx->cfg + def->offset), value, strlen(value));
}

static const char *
check_mail(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);

    if (at == NULL || at == s || at == s + len - 1 || len > 254)
        return "an e-mail address is local-part@domain.";
    for (size_t i = 0; i < len; i++)
        if (isspace((unsigned char)s[i]) || s[i] == '<' || s[i] == '>')
            return "an e-mail address has no blanks or angle brackets.";
    return NULL;
}

static cf_err
set_mail_to(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    return split_list(ctx, def, value, ctx->cfg->alerts.smtp_to, &ctx->cfg->alerts.n_smtp_to,
                      check_mail);
}

/* true/false, on/off, yes/no, 1/0 */
static cf_err
set_bool(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    static const char *const yes[] = {"true", "on", "yes", "1"};
    static const char *const no[] = {"false", "off", "no", "0"};
    bool *field = (bool *)((char *)ctx->cfg + def->offset);

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
            *field = strcasecmp(value, yes[i]) == 0;
            return CF_OK;
        }
    }
    return invalid(ctx, def, value, "Accepted values are true/false, on/off, yes/no, 1/0.");
}

static cf_err
set_abs_path(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    if (value[0] != '/')
        return invalid(ctx, def, value, "An absolute path, starting with \"/\", is required.");
    return dup_into(ctx, (char **)((char *)ctx->cfg + def->offset), value, strlen(value));
}

static cf_err
set_wal_spool(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    if (value[0] != '/')
        return invalid(ctx, def, value, "An absolute path, starting with \"/\", is required.");
    return dup_into(ctx, &ctx->wal_spool, value, strlen(value));
}

/* Plain decimal digits only: no sign, no blanks, no hex.  false if out of [0, limit]. */
static bool
parse_decimal(const char *s, size_t len, unsigned long limit, unsigned long *out)
{
    unsigned long v = 0;

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
        if (v > limit)
            return false;
    }
    *out = v;
    return true;
}

static cf_err
set_unsigned(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    unsigned long v;

    if (!parse_decimal(value, strlen(value), def->max, &v) || v < def->min)
        return invalid(ctx, def, value, "An integer from %lu to %lu is required.", def->min,
                       def->max);
    *(unsigned *)((char *)ctx->cfg + def->offset) = (unsigned)v;
    return CF_OK;
}

static cf_err
set_level(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    unsigned long v;

    if (strcmp(value, "auto") == 0) {
        ctx->cfg->object.zstd_level = 0; /* CF_ZSTD_AUTO */
        return CF_OK;
    }
    if (!parse_decimal(value, strlen(value), def->max, &v) || v < def->min)
        return invalid(ctx, def, value, "A zstd level from %lu to %lu, or auto, is required.",
                       def->min, def->max);
    ctx->cfg->object.zstd_level = (int)v;
    return CF_OK;
}

static cf_err
set_workers(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    unsigned long v;

    if (strcmp(value, "auto") == 0) {
        ctx->cfg->object.zstd_workers = 0;
        ctx->cfg->object.zstd_workers_auto = true;
        return CF_OK;
    }
    if (!parse_decimal(value, strlen(value), def->max, &v) || v < def->min)
        return invalid(ctx, def, value, "An integer from %lu to %lu, or auto, is required.",
                       def->min, def->max);
    ctx->cfg->object.zstd_workers = (unsigned)v;
    ctx->cfg->object.zstd_workers_auto = false;
    return CF_OK;
}

static cf_err
set_chunk_size(struct parse_ctx *ctx, const struct key_def *def, const char *value)
{
    size_t len = strlen(value);
    unsigned long mult = 1, v;

    if (len > 0 && (value[len - 1] == 'k' || value[len - 1] == 'K'))
        mult = 1024;
    else if (len > 0 && value[len - 1] == 'M')
        mult = 1024UL * 1024;
    if (mult != 1)
        len--;
    if (!parse_decimal(value, len, def->max / mult, &v) || v * mult < def->min)
        return invalid(ctx, def, value,
                       "A size from %lu (4k) to %lu (4M) bytes is required, in bytes or with a "
                       "k or M suffix.",
                       def->min, def->max);
    ctx->cfg->object.chunk_size = v * mult;
    return CF_OK;
}

/* ---- the line reader and the inih handler ------------------------------ */

/* Where the comment starts: a ';' or '#' first on the line or after a blank. */
static const char *
find_comment(const char *s, const char *end)
{
    for (const char *p = s; p < end; p++)
        if ((*p == ';' || *p == '#') && (p == s || is_blank(p[-1])))
            return p;
    return end;
}

static cf_err
check_section(struct parse_ctx *ctx, const char *s, size_t len)
{
    if (s[len - 1] != ']')
        return syntax_error(ctx, ctx->lineno, "A section header is \"[name]\" alone on its line.");
    for (size_t i = 0; i < N_KEYS; i++)
        if (strlen(keys[i].section) == len - 2 && memcmp(keys[i].section, s + 1, len - 2) == 0)
            return CF_OK;
    return cf_error_set(ctx->err, CF_ERR_CONFIG, "%s:%d: unknown section \"%.*s\"", ctx->name,
                        ctx->lineno, (int)len, s);
}

/*
 * An ini_reader: hands inih one physical line at a time, without its comment
 * or surrounding blanks, so inih's line count is ours.  Returns NULL (end of
 * input for inih) as soon as an error is recorded: the first error wins.
 */
static char *
read_line(char *buf, int num, void *stream)
{
    struct parse_ctx *ctx = stream;
    const char *s = ctx->pos, *eol, *e;
    size_t len;

    if (ctx->err->code != CF_OK || ctx->pos >= ctx->end || num < 3)
        return NULL;
    eol = memchr(s, '\n', (size_t)(ctx->end - s));
    if (eol == NULL)
        eol = ctx->end;
    ctx->pos = eol < ctx->end ? eol + 1 : eol;
    ctx->lineno++;
    if (ctx->lineno == 1 && eol - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3; /* UTF-8 byte order mark */
    while (s < eol && isspace((unsigned char)*s))
        s++;
    e = find_comment(s, eol);
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    len = (size_t)(e - s);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t') {
            (void)syntax_error(ctx, ctx->lineno, "The line contains a control character.");
            return NULL;
        }
    if (len > (size_t)num - 2) {
        (void)cf_error_set(ctx->err, CF_ERR_CONFIG, "%s:%d: line is too long", ctx->name,
                           ctx->lineno);
        cf_error_detail(ctx->err, "A line holds at most %d characters, not counting its comment.",
                        num - 2);
        return NULL;
    }
    if (len > 0 && s[0] == '[' && check_section(ctx, s, len) != CF_OK)
        return NULL;
    memcpy(buf, s, len);
    buf[len] = '\n';
    buf[len + 1] = '\0';
    return buf;
}

static const struct key_def *
find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static int
handle_pair(void *user, const char *section, const char *name, const char *value)
{
    struct parse_ctx *ctx = user;
    const struct key_def *def;

    if (ctx->err->code != CF_OK)
        return 0;
    if (section[0] == '\0') {
        (void)cf_error_set(ctx->err, CF_ERR_CONFIG, "%s:%d: key \"%s\" appears before any section",
                           ctx->name, ctx->lineno, name);
        return 0;
    }
    def = find_key(section, name);
    if (def == NULL) {
        (void)cf_error_set(ctx->err, CF_ERR_CONFIG, "%s:%d: unknown key \"%s.%s\"", ctx->name,
                           ctx->lineno, section, name);
        return 0;
    }
    if (ctx->seen[def - keys]) {
        (void)cf_error_set(ctx->err, CF_ERR_CONFIG, "%s:%d: duplicate key \"%s.%s\"", ctx->name,
                           ctx->lineno, section, name);
        return 0;
    }
    ctx->seen[def - keys] = 1;
    if (value[0] == '\0') {
        (void)invalid(ctx, def, value, "The value is empty; to use the default, remove the line.");
        return 0;
    }
    return def->set(ctx, def, value) == CF_OK;
}

/* ---- whole-file checks ------------------------------------------------- */

static bool
was_seen(const struct parse_ctx *ctx, const char *section, const char *name)
{
    const struct key_def *def = find_key(section, name);

    return def != NULL && ctx->seen[def - keys];
}

static cf_err
check_required(struct parse_ctx *ctx)
{
    static const char *const required[][2] = {
        {"coffre", "instance"}, {"coffre", "formula"}, {"postgres", "conninfo"},
        {"repository", "type"}, {"keys", "module"},    {"keys", "kek"},
    };
    static const char *const by_type[][2] = {
        {"posix", "path"}, {"s3", "endpoint"}, {"s3", "bucket"},
    };

    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!was_seen(ctx, required[i][0], required[i][1]))
            return cf_error_set(ctx->err, CF_ERR_CONFIG, "%s: missing required key \"%s.%s\"",
                                ctx->name, required[i][0], required[i][1]);
        if (strcmp(required[i][1], "conninfo") == 0 && ctx->cfg->formula == CF_FORMULA_MANAGED &&
            ctx->cfg->pg.schema == NULL)
            return cf_error_set(ctx->err, CF_ERR_CONFIG,
                                "%s: missing required key \"postgres.schema\" "
                                "(required when coffre.formula = managed)",
                                ctx->name);
    }
    for (size_t i = 0; i < sizeof(by_type) / sizeof(by_type[0]); i++) {
        int is_type = (ctx->cfg->repo.type == CF_REPO_S3) == (strcmp(by_type[i][0], "s3") == 0);

        if (is_type && !was_seen(ctx, "repository", by_type[i][1]))
            return cf_error_set(ctx->err, CF_ERR_CONFIG,
                                "%s: missing required key \"repository.%s\" "
                                "(required when repository.type = %s)",
                                ctx->name, by_type[i][1], by_type[i][0]);
    }
    return CF_OK;
}

/* A deprecated key that still works: the caller logs the warning. */
static cf_err
warn_deprecated(struct parse_ctx *ctx, const char *old_key, const char *new_key)
{
    char *w;

    if (ctx->cfg->n_warnings == CF_CONFIG_MAX_WARNINGS)
        return CF_OK;
    if (asprintf(&w, "%s: \"%s\" is deprecated: use \"%s\" (same meaning)", ctx->name, old_key,
                 new_key) < 0)
        return nomem(ctx);
    ctx->cfg->warnings[ctx->cfg->n_warnings++] = w;
    return CF_OK;
}

/* [coffre] state_dir, or its deprecated alias [wal] spool: one of them. */
static cf_err
state_dir_default(struct parse_ctx *ctx)
{
    struct cf_config *c = ctx->cfg;

    if (ctx->wal_spool != NULL) {
        if (c->state_dir != NULL)
            return cf_error_set(ctx->err, CF_ERR_CONFIG, "%s: \"wal.spool\" and "
                                "\"coffre.state_dir\" are both set", ctx->name);
        c->state_dir = ctx->wal_spool;
        ctx->wal_spool = NULL; /* transferred */
        if (warn_deprecated(ctx, "wal.spool", "coffre.state_dir") != CF_OK)
            return ctx->err->code;
    }
    if (c->state_dir == NULL && asprintf(&c->state_dir, "/var/lib/coffre/%s", c->instance) < 0) {
        c->state_dir = NULL;
        return nomem(ctx);
    }
    if (c->metrics.state_dir == NULL &&
        asprintf(&c->metrics.state_dir, "%s/state", c->state_dir) < 0) {
        c->metrics.state_dir = NULL;
        return nomem(ctx);
    }
    return CF_OK;
}

/* Defaults that depend on the instance name. */
static cf_err
wal_defaults(struct parse_ctx *ctx)
{
    struct cf_wal_conf *w = &ctx->cfg->wal;

    if (w->slot == NULL) {
        if (asprintf(&w->slot, "coffre_%s", ctx->cfg->instance) < 0) {
            w->slot = NULL;
            return nomem(ctx);
        }
        for (char *p = w->slot; *p != '\0'; p++) {
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
            else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
                *p = '_';
        }
        if (strlen(w->slot) > 63)
            w->slot[63] = '\0'; /* PostgreSQL's limit (NAMEDATALEN - 1) */
    }
    for (const char *p = w->slot; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            cf_error_setf(ctx->err, CF_ERR_CONFIG, "%s: invalid value for \"wal.slot\": \"%s\"",
                          ctx->name, w->slot);
            cf_error_detail(ctx->err, "A replication slot name has only lower-case letters, "
                                      "digits and underscores.");
            return CF_ERR_CONFIG;
        }
    }
    return CF_OK;
}

static cf_err
alert_defaults(struct parse_ctx *ctx)
{
    struct cf_alerts_conf *a = &ctx->cfg->alerts;

    if (a->telegram_api == NULL && (a->telegram_api = strdup("https://api.telegram.org")) == NULL)
        return nomem(ctx);
    if (a->smtp_url != NULL && (a->smtp_from == NULL || a->n_smtp_to == 0)) {
        cf_error_setf(ctx->err, CF_ERR_CONFIG, "%s: \"alerts.smtp_url\" needs \"alerts.smtp_from\" "
                      "and \"alerts.smtp_to\"", ctx->name);
        return CF_ERR_CONFIG;
    }
    return CF_OK;
}

static cf_err
parse_buffer(const char *name, const char *text, size_t len, struct cf_config **out,
             struct cf_error *err)
{
    struct parse_ctx ctx = {0};
    int rc;

    ctx.name = name != NULL ? name : "(configuration)";
    ctx.pos = text;
    ctx.end = text + len;
    ctx.err = err;
    ctx.cfg = calloc(1, sizeof(*ctx.cfg));
    if (ctx.cfg == NULL || (ctx.cfg->path = strdup(ctx.name)) == NULL) {
        cf_config_free(ctx.cfg);
        return nomem(&ctx);
    }
    ctx.cfg->retention.daily = 7;
    ctx.cfg->retention.weekly = 4;
    ctx.cfg->retention.monthly = 12;
    ctx.cfg->retention.min_keep = 3;
    ctx.cfg->object.zstd_level = 0; /* auto (issue 13) */
    ctx.cfg->object.zstd_workers = 0;
    ctx.cfg->object.zstd_workers_auto = true; /* issue 13 */
    ctx.cfg->object.chunk_size = 65536;
    ctx.cfg->backup.row_counts = true;
    ctx.cfg->retention.lock_margin = 86400;
    ctx.cfg->retention.stale_after = 86400;
    ctx.cfg->repo.s3.part_size = (size_t)16 * 1024 * 1024;
    ctx.cfg->repo.s3.parts_in_flight = 2;
    ctx.cfg->wal.upload_interval = 60;
    ctx.cfg->wal.push_jobs = 4;
    ctx.cfg->wal.spool_max = (size_t)1024 * 1024 * 1024;
    ctx.cfg->wal.readahead = 4;
    ctx.cfg->wal.archive_timeout = 300;
    ctx.cfg->alerts.age_warning = (int64_t)6 * 3600;
    ctx.cfg->alerts.age_critical = (int64_t)25 * 3600;
    ctx.cfg->alerts.free_warning = (size_t)5 * 1024 * 1024 * 1024;
    ctx.cfg->alerts.free_critical = (size_t)1024 * 1024 * 1024;
    ctx.cfg->alerts.wal_lag_warning = (int64_t)30 * 60;
    ctx.cfg->alerts.wal_lag_critical = (int64_t)2 * 3600;
    ctx.cfg->alerts.reminder = (int64_t)4 * 3600;
    ctx.cfg->alerts.smtp_starttls = true;
    ctx.cfg->alerts.drill_age_warning = (int64_t)8 * 86400;
    ctx.cfg->alerts.drill_age_critical = (int64_t)95 * 86400;
    ctx.cfg->drill.rto_simple = (int64_t)30 * 60;
    ctx.cfg->drill.rto_partial = (int64_t)2 * 3600;
    ctx.cfg->drill.rto_total = (int64_t)4 * 3600;
    ctx.cfg->drill.rto_pitr = (int64_t)4 * 3600;
    ctx.cfg->drill.rpo = (int64_t)3600;
    ctx.cfg->drill.timeout = (int64_t)4 * 3600;
    ctx.cfg->drill.jobs = 2;

    rc = ini_parse_stream(read_line, &ctx, handle_pair, &ctx);
    if (err->code == CF_OK && rc > 0)
        (void)syntax_error(&ctx, rc, NULL);
    else if (err->code == CF_OK && rc < 0)
        (void)nomem(&ctx);
    if (err->code == CF_OK)
        (void)check_required(&ctx);
    if (err->code == CF_OK)
        (void)state_dir_default(&ctx);
    if (err->code == CF_OK)
        (void)wal_defaults(&ctx);
    if (err->code == CF_OK)
        (void)alert_defaults(&ctx);
    free(ctx.wal_spool);
    for (size_t i = 0; i < N_KEYS; i++)
        if (ctx.seen[i] && (strcmp(keys[i].section, "metrics") == 0 ||
                            strcmp(keys[i].section, "alerts") == 0))
            ctx.cfg->metrics.ops_enabled = true;
    if (err->code != CF_OK) {
        cf_config_free(ctx.cfg);
        return err->code;
    }
    *out = ctx.cfg;
    return CF_OK;
}

/* ---- public functions -------------------------------------------------- */

cf_err
cf_config_parse(const char *name, const char *text, struct cf_config **out, struct cf_error *err)
{
    return parse_buffer(name, text, strlen(text), out, err);
}

/* Read all of fd into a NUL-terminated buffer; errno-style result. */
static int
read_all(int fd, char **text, size_t *len)
{
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);

    if (buf == NULL)
        return ENOMEM;
    for (;;) {
        ssize_t n;

        if (used == cap - 1) {
            char *bigger;

            if (cap > CONFIG_MAX_BYTES) {
                free(buf);
                return EFBIG;
            }
            cap *= 2;
            bigger = realloc(buf, cap);
            if (bigger == NULL) {
                free(buf);
                return ENOMEM;
            }
            buf = bigger;
        }
        n = read(fd, buf + used, cap - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;

            free(buf);
            return saved;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    if (used > CONFIG_MAX_BYTES) {
        free(buf);
        return EFBIG;
    }
    buf[used] = '\0';
    *text = buf;
    *len = used;
    return 0;
}

cf_err
cf_config_load(const char *path, struct cf_config **out, struct cf_error *err)
{
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    int fd, rc;
    cf_err result;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cf_error_set_errno(err, CF_ERR_CONFIG, errno,
                                  "could not read configuration file \"%s\"", path);
    if (fstat(fd, &st) != 0)
        rc = errno;
    else if (S_ISREG(st.st_mode) && (size_t)st.st_size > CONFIG_MAX_BYTES)
        rc = EFBIG;
    else
        rc = read_all(fd, &text, &len);
    (void)close(fd);
    if (rc != 0) {
        (void)cf_error_set_errno(err, CF_ERR_CONFIG, rc, "could not read configuration file \"%s\"",
                                 path);
        if (rc == EFBIG)
            cf_error_detail(err, "A configuration file is at most %zu bytes.", CONFIG_MAX_BYTES);
        return err->code;
    }
    result = parse_buffer(path, text, len, out, err);
    free(text);
    return result;
}

void
cf_config_free(struct cf_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->instance);
    free(cfg->pg.conninfo);
    for (size_t i = 0; i < cfg->pg.n_databases; i++)
        free(cfg->pg.databases[i]);
    free(cfg->pg.schema);
    free(cfg->pg.bindir);
    free(cfg->repo.path);
    free(cfg->repo.s3.endpoint);
    free(cfg->repo.s3.bucket);
    free(cfg->repo.s3.region);
    free(cfg->repo.s3.prefix);
    free(cfg->repo.s3.ca_file);
    free(cfg->repo.s3.access_key_file);
    free(cfg->repo.s3.secret_key_file);
    free(cfg->keys.module);
    for (size_t i = 0; i < cfg->keys.n_keks; i++)
        free(cfg->keys.keks[i]);
    free(cfg->keys.pin_file);
    free(cfg->keys.sign);
    free(cfg->keys.require);
    for (size_t i = 0; i < cfg->keys.n_read; i++)
        free(cfg->keys.read[i]);
    for (size_t i = 0; i < cfg->keys.n_trust; i++)
        free(cfg->keys.trust[i]);
    free(cfg->state_dir);
    free(cfg->wal.slot);
    free(cfg->metrics.textfile);
    free(cfg->metrics.state_dir);
    free(cfg->alerts.webhook_url);
    free(cfg->alerts.smtp_url);
    free(cfg->alerts.smtp_from);
    for (size_t i = 0; i < cfg->alerts.n_smtp_to; i++)
        free(cfg->alerts.smtp_to[i]);
    free(cfg->alerts.smtp_user);
    free(cfg->alerts.smtp_password_file);
    free(cfg->alerts.telegram_api);
    free(cfg->alerts.telegram_chat_id);
    free(cfg->alerts.telegram_token_file);
    free(cfg->alerts.ca_file);
    free(cfg->drill.target);
    free(cfg->drill.check_sql);
    for (size_t i = 0; i < cfg->n_warnings; i++)
        free(cfg->warnings[i]);
    free(cfg);
}

void
cf_repo_conf_identity(const struct cf_repo_conf *rc, const char *instance, char *buf, size_t size)
{
    if (rc->type == CF_REPO_S3)
        (void)snprintf(buf, size, "s3 %s %s %s %s", rc->s3.endpoint, rc->s3.bucket,
                       rc->s3.prefix ? rc->s3.prefix : "", instance);
    else
        (void)snprintf(buf, size, "posix %s %s", rc->path, instance);
}
