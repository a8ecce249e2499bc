/*
 * alert.c - alert notifications: webhook (Alertmanager webhook JSON), e-mail
 * (SMTP, STARTTLS required by default), Telegram; all through libcurl.
 *
 * No storm: state.json remembers every firing alert (severity, since, last
 * notified).  A notification goes out when an alert starts firing or changes
 * severity, again every alerts.reminder while it fires, and once "resolved"
 * when its condition clears.  A change is remembered only if at least one
 * receiver took it (or none is configured), so a receiver that is down gets
 * it at the next evaluation.  Secrets (SMTP password, Telegram token) are
 * read from files, never logged, never put in an error message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/manifest.h"
#include "ops/ops.h"
#include "ops/ops_int.h"

#define SECRET_MAX 512

struct message {
    const char *instance;
    const char *alertname;     /* e.g. CoffreBackupTooOld */
    const char *status;        /* firing | resolved */
    const char *severity;      /* warning | critical | none */
    const char *summary;
    const char *hint;
    int64_t since;
    bool reminder;
};

/* ---- secrets ----------------------------------------------------------- */

/*
 * The secret in file (else $CREDENTIALS_DIRECTORY/cred, if that exists) into
 * out (the rules of common/secret.h: one line, never truncated); *found
 * false if neither is there.  what names it in messages.
 */
static cf_err
read_secret(const char *file, const char *cred, const char *what, char *out, size_t size,
            bool *found, struct cf_error *err)
{
    char path[600];
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    char *secret = NULL;
    size_t len = 0;

    *found = false;
    if (file != NULL)
        (void)snprintf(path, sizeof(path), "%s", file);
    else if (dir != NULL)
        (void)snprintf(path, sizeof(path), "%s/%s", dir, cred);
    else
        return CF_OK;
    if (file == NULL && access(path, F_OK) != 0)
        return CF_OK; /* the credential is optional */
    if (cf_secret_read(path, what, size - 1, &secret, &len, err) != CF_OK)
        return err->code;
    memcpy(out, secret, len + 1);
    cf_secret_free(secret);
    *found = true;
    return CF_OK;
}

/* ---- curl plumbing ----------------------------------------------------- */

struct upload {
    const char *data;
    size_t len, off;
};

static size_t
read_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct upload *u = ud;
    size_t n = size * nmemb;

    if (n > u->len - u->off)
        n = u->len - u->off;
    memcpy(buf, u->data + u->off, n);
    u->off += n;
    return n;
}

static size_t
discard_cb(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p, (void)ud;
    return size * nmemb;
}

static void
common_opts(CURL *c, const struct cf_ops_env *env)
{
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
    if (env->alerts->ca_file != NULL)
        (void)curl_easy_setopt(c, CURLOPT_CAINFO, env->alerts->ca_file);
}

/* POST body as JSON to url; what names the receiver in messages (url may hold a secret). */
static cf_err
post_json(const struct cf_ops_env *env, const char *url, const char *what, const char *body,
          struct cf_error *err)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    long status = 0;
    CURLcode cc;

    if (c == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    h = curl_slist_append(h, "Content-Type: application/json");
    common_opts(c, env);
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        cf_error_setf(err, CF_ERR_REMOTE, "%s: could not send the notification: %s", what,
                      curl_easy_strerror(cc));
        cf_error_hint(err, "Check that the receiver is reachable from this host.");
        return CF_ERR_REMOTE;
    }
    if (status < 200 || status > 299) {
        cf_error_setf(err, CF_ERR_REMOTE, "%s: the receiver answered HTTP %ld", what, status);
        cf_error_hint(err, "Check the receiver's URL, chat id or token.");
        return CF_ERR_REMOTE;
    }
    return CF_OK;
}

/* ---- message bodies ---------------------------------------------------- */

static void
text_of(const struct message *m, char *buf, size_t size)
{
    char since[32];

    cf_format_time(m->since, since, sizeof(since));
    if (strcmp(m->status, "resolved") == 0)
        (void)snprintf(buf, size, "[RESOLVED] coffre %s: %s\n%s\n(since %s)", m->instance,
                       m->alertname, m->summary, since);
    else
        (void)snprintf(buf, size, "[%s%s] coffre %s: %s\n%s\nWhat to do: %s\n(since %s)",
                       m->severity, m->reminder ? ", reminder" : "", m->instance, m->alertname,
                       m->summary, m->hint, since);
}

static cf_err
send_webhook(const struct cf_ops_env *env, const struct message *m, struct cf_error *err)
{
    char starts[32], ends[32];
    json_t *alert, *root;
    char *body;
    cf_err rc;

    cf_format_time(m->since, starts, sizeof(starts));
    if (strcmp(m->status, "resolved") == 0)
        cf_format_time((int64_t)time(NULL), ends, sizeof(ends));
    else
        (void)snprintf(ends, sizeof(ends), "0001-01-01T00:00:00Z");
    alert = json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s}, s:s, s:s}", "status", m->status,
                      "labels", "alertname", m->alertname, "coffre_instance", m->instance,
                      "severity", m->severity, "annotations", "summary", m->summary,
                      "description", m->hint, "startsAt", starts, "endsAt", ends);
    root = json_pack("{s:s, s:s, s:s, s:s, s:[o], s:{s:s, s:s}, s:{}, s:{}, s:s}", "version", "4",
                     "status", m->status, "receiver", "coffre", "groupKey", m->alertname,
                     "alerts", alert, "groupLabels", "alertname", m->alertname,
                     "coffre_instance", m->instance, "commonLabels", "commonAnnotations",
                     "externalURL", "");
    body = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (body == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = post_json(env, env->alerts->webhook_url, "webhook", body, err);
    free(body);
    return rc;
}

/* "<api>/bot<token>/<method>" into url (a secret: the caller wipes it); the token from
 * alerts.telegram_token_file or the credential coffre-telegram-token. */
static cf_err
telegram_url(const struct cf_ops_env *env, const char *method, char *url, size_t size,
             struct cf_error *err)
{
    char token[SECRET_MAX];
    bool found = false;

    if (read_secret(env->alerts->telegram_token_file, "coffre-telegram-token", "Telegram bot token",
                    token, sizeof(token), &found, err) != CF_OK)
        return err->code;
    if (!found) {
        cf_error_setf(err, CF_ERR_CONFIG, "telegram: no bot token");
        cf_error_hint(err, "Set alerts.telegram_token_file, or pass the credential "
                           "coffre-telegram-token (LoadCredential=).");
        return CF_ERR_CONFIG;
    }
    (void)snprintf(url, size, "%s/bot%s/%s", env->alerts->telegram_api, token, method);
    sodium_memzero(token, sizeof(token));
    return CF_OK;
}

static cf_err
send_telegram(const struct cf_ops_env *env, const struct message *m, struct cf_error *err)
{
    char url[SECRET_MAX + 600], text[1400];
    json_t *root;
    char *body;
    cf_err rc;

    if (telegram_url(env, "sendMessage", url, sizeof(url), err) != CF_OK)
        return err->code;
    text_of(m, text, sizeof(text));
    root = json_pack("{s:s, s:s, s:b}", "chat_id", env->alerts->telegram_chat_id, "text", text,
                     "disable_web_page_preview", 1);
    body = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (body == NULL) {
        sodium_memzero(url, sizeof(url));
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    rc = post_json(env, url, "telegram", body, err);
    sodium_memzero(url, sizeof(url));
    free(body);
    return rc;
}

static cf_err
send_mail(const struct cf_ops_env *env, const struct message *m, struct cf_error *err)
{
    char password[SECRET_MAX], text[1400], date[64], from[300], mail[2600];
    struct curl_slist *rcpt = NULL;
    bool found = false, tls = strncmp(env->alerts->smtp_url, "smtps://", 8) == 0;
    struct upload up;
    time_t now = time(NULL);
    struct tm tm;
    CURLcode cc;
    CURL *c;
    int len;

    if (read_secret(env->alerts->smtp_password_file, "coffre-smtp-password", "SMTP password",
                    password, sizeof(password), &found, err) != CF_OK)
        return err->code;
    if (found && env->alerts->smtp_user != NULL && !tls && !env->alerts->smtp_starttls) {
        sodium_memzero(password, sizeof(password));
        cf_error_setf(err, CF_ERR_CONFIG, "e-mail: refusing to send the SMTP password without "
                                          "TLS");
        cf_error_hint(err, "Set alerts.smtp_starttls = true or use an smtps:// URL.");
        return CF_ERR_CONFIG;
    }
    text_of(m, text, sizeof(text));
    (void)gmtime_r(&now, &tm);
    (void)strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    (void)snprintf(from, sizeof(from), "<%s>", env->alerts->smtp_from);
    len = snprintf(mail, sizeof(mail),
                   "Date: %s\r\nFrom: coffre %s\r\nTo: %s\r\nSubject: [coffre %s] %s %s%s\r\n"
                   "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\nX-Coffre-Alert: %s\r\n"
                   "X-Coffre-Status: %s\r\n\r\n",
                   date, from, env->alerts->smtp_to[0], m->instance,
                   strcmp(m->status, "resolved") == 0 ? "RESOLVED" : m->severity, m->alertname,
                   m->reminder ? " (reminder)" : "", m->alertname, m->status);
    /* the body: text with bare LFs turned into CRLF */
    for (const char *p = text; *p != '\0' && len > 0 && (size_t)len + 4 < sizeof(mail); p++) {
        if (*p == '\n')
            mail[len++] = '\r';
        mail[len++] = *p;
    }
    if (len < 0 || (size_t)len + 3 > sizeof(mail))
        len = (int)sizeof(mail) - 3;
    memcpy(mail + len, "\r\n", 3);
    len += 2;
    up.data = mail;
    up.len = (size_t)len;
    up.off = 0;
    if ((c = curl_easy_init()) == NULL) {
        sodium_memzero(password, sizeof(password));
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < env->alerts->n_smtp_to; i++) {
        char to[300];

        (void)snprintf(to, sizeof(to), "<%s>", env->alerts->smtp_to[i]);
        rcpt = curl_slist_append(rcpt, to);
    }
    common_opts(c, env);
    (void)curl_easy_setopt(c, CURLOPT_URL, env->alerts->smtp_url);
    (void)curl_easy_setopt(c, CURLOPT_USE_SSL,
                           tls || env->alerts->smtp_starttls ? (long)CURLUSESSL_ALL
                                                           : (long)CURLUSESSL_NONE);
    (void)curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    (void)curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    if (env->alerts->smtp_user != NULL && found) {
        (void)curl_easy_setopt(c, CURLOPT_USERNAME, env->alerts->smtp_user);
        (void)curl_easy_setopt(c, CURLOPT_PASSWORD, password);
    }
    (void)curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    (void)curl_easy_setopt(c, CURLOPT_READDATA, &up);
    (void)curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    cc = curl_easy_perform(c);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    sodium_memzero(password, sizeof(password));
    if (cc != CURLE_OK) {
        cf_error_setf(err, CF_ERR_REMOTE, "e-mail: could not send through %s: %s",
                      env->alerts->smtp_url, curl_easy_strerror(cc));
        if (cc == CURLE_USE_SSL_FAILED)
            cf_error_hint(err, "The server does not offer STARTTLS; alerts.smtp_starttls = false "
                               "sends in clear (only on a trusted network).");
        else
            cf_error_hint(err, "Check alerts.smtp_url, the sender, the recipients and the "
                               "credentials.");
        return CF_ERR_REMOTE;
    }
    return CF_OK;
}

/* Send m to every receiver; the number that took it in *sent, configured in *tried. */
static void
send_all(const struct cf_ops_env *env, const struct message *m, size_t *tried, size_t *sent,
         cf_err *first_rc, struct cf_error *first_err)
{
    struct {
        bool on;
        cf_err (*send)(const struct cf_ops_env *, const struct message *, struct cf_error *);
    } ch[3] = {{env->alerts->webhook_url != NULL, send_webhook},
               {env->alerts->smtp_url != NULL, send_mail},
               {env->alerts->telegram_chat_id != NULL, send_telegram}};

    *tried = *sent = 0;
    for (size_t i = 0; i < 3; i++) {
        struct cf_error e = CF_ERROR_INIT;

        if (!ch[i].on)
            continue;
        (*tried)++;
        if (ch[i].send(env, m, &e) == CF_OK) {
            (*sent)++;
            continue;
        }
        cf_log_warning("alert %s (%s): %s%s%s", m->alertname, m->status, e.msg,
                       e.hint[0] ? " -- " : "", e.hint);
        if (first_err != NULL && first_err->code == CF_OK) {
            *first_err = e;
            *first_rc = e.code;
        }
    }
}

/* ---- state changes ----------------------------------------------------- */

static void
notify(const struct cf_ops_env *env, json_t *alerts, const char *name, struct message *m,
       int64_t now)
{
    size_t tried, sent;
    cf_err rc = CF_OK;

    m->instance = env->instance;
    m->alertname = name;
    cf_log_set_field("COFFRE_ALERT", name);
    cf_log_set_field("COFFRE_ALERT_STATUS", m->status);
    if (strcmp(m->status, "resolved") == 0)
        cf_log_info("alert %s resolved: %s", name, m->summary);
    else
        cf_log(strcmp(m->severity, "critical") == 0 ? CF_LOG_ERROR : CF_LOG_WARNING,
               "alert %s (%s%s): %s", name, m->severity, m->reminder ? ", reminder" : "",
               m->summary);
    send_all(env, m, &tried, &sent, &rc, NULL);
    cf_log_set_field("COFFRE_ALERT", NULL);
    cf_log_set_field("COFFRE_ALERT_STATUS", NULL);
    if (tried > 0 && sent == 0)
        return;   /* nothing delivered: retry at the next evaluation */
    if (strcmp(m->status, "resolved") == 0)
        (void)json_object_del(alerts, name);
    else
        json_object_set_new(alerts, name,
                            json_pack("{s:s, s:I, s:I, s:s}", "severity", m->severity, "since",
                                      (json_int_t)m->since, "notified", (json_int_t)now,
                                      "summary", m->summary));
}

cf_err
cf_ops_alerts_notify(const struct cf_ops_env *env, const struct cf_alert_facts *f, json_t *state,
                     struct cf_error *err)
{
    json_t *alerts = json_object_get(state, "alerts");
    const char *name;
    json_t *v, *tmp;

    if (!json_is_object(alerts))
        return cf_error_set(err, CF_ERR_INTERNAL, "state has no alerts object");
    /* cleared conditions first: resolved */
    json_object_foreach_safe(alerts, tmp, name, v) {
        bool firing = false;

        for (size_t i = 0; i < f->n_issues && !firing; i++)
            firing = strcmp(f->issues[i].name, name) == 0;
        if (!firing) {
            struct message m = {0};

            m.status = "resolved";
            m.severity = json_string_value(json_object_get(v, "severity")) ?: "none";
            m.summary = json_string_value(json_object_get(v, "summary")) ?: name;
            m.hint = "";
            m.since = (int64_t)json_integer_value(json_object_get(v, "since"));
            notify(env, alerts, name, &m, f->now);
        }
    }
    for (size_t i = 0; i < f->n_issues; i++) {
        const struct cf_alert_issue *is = &f->issues[i];
        json_t *prev = json_object_get(alerts, is->name);
        const char *sev = cf_severity_name(is->severity);
        struct message m = {0};

        m.status = "firing";
        m.severity = sev;
        m.summary = is->summary;
        m.hint = is->hint;
        m.since = f->now;
        if (prev != NULL) {
            const char *psev = json_string_value(json_object_get(prev, "severity"));
            int64_t notified = (int64_t)json_integer_value(json_object_get(prev, "notified"));

            m.since = (int64_t)json_integer_value(json_object_get(prev, "since"));
            if (psev != NULL && strcmp(psev, sev) == 0) {
                if (env->alerts->reminder == 0 || f->now - notified < env->alerts->reminder)
                    continue;   /* already notified: no storm */
                m.reminder = true;
            }
        }
        notify(env, alerts, is->name, &m, f->now);
    }
    return CF_OK;
}

/* ---- after a run, `alert check`, `alert test` -------------------------- */

static cf_err
refresh(const struct cf_ops_env *env, const struct cf_repo *repo, const char *kind, int64_t start,
        const struct cf_error *run_err, struct cf_error *err)
{
    struct cf_ops_state st;
    struct cf_alert_facts *f;
    cf_err rc;

    if (cf_ops_state_open(env, &st, err) != CF_OK)
        return err->code;
    if (kind != NULL) {
        json_t *runs = json_object_get(st.root, "runs");
        json_t *prev = json_object_get(runs, kind);
        int64_t end = (int64_t)time(NULL);
        json_int_t last_ok = json_integer_value(json_object_get(prev, "last_success"));
        bool ok = run_err->code == CF_OK;

        json_object_set_new(runs, kind,
                            json_pack("{s:b, s:I, s:I, s:I, s:f, s:s, s:s}", "ok", ok, "start",
                                      (json_int_t)start, "end", (json_int_t)end, "last_success",
                                      ok ? (json_int_t)end : last_ok, "duration",
                                      (double)(end - start), "error", ok ? "" : run_err->msg,
                                      "error_class", ok ? "" : cf_err_name(run_err->code)));
    }
    if ((f = malloc(sizeof(*f))) == NULL) {
        cf_ops_state_close(&st);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    rc = cf_ops_gather(env, repo, st.root, f, err);
    if (rc == CF_OK) {
        struct cf_error e = CF_ERROR_INIT;

        if (cf_ops_write_metrics(env, f, &e) != CF_OK)
            cf_log_warning("%s%s%s", e.msg, e.detail[0] ? ": " : "", e.detail);
        rc = cf_ops_alerts_notify(env, f, st.root, err);
    } else if (kind != NULL) {
        /* the repository could not be read: keep the run's record anyway */
        cf_log_warning("%s", err->msg);
        cf_error_clear(err);
        rc = CF_OK;
    }
    if (rc == CF_OK)
        rc = cf_ops_state_save(&st, err);
    free(f);
    cf_ops_state_close(&st);
    return rc;
}

void
cf_ops_after_run(const struct cf_ops_env *env, const struct cf_repo *repo, enum cf_run_kind kind,
                 int64_t start, const struct cf_error *run_err)
{
    struct cf_error e = CF_ERROR_INIT;

    if (refresh(env, repo, cf_alert_kinds[kind], start, run_err, &e) != CF_OK)
        cf_log_warning("could not update the metrics and alerts after %s: %s%s%s",
                       cf_alert_kinds[kind], e.msg,
                       e.hint[0] ? " -- " : "", e.hint);
}

/* Connect to url's host, with TLS for https:// and smtps://, and send nothing. */
static cf_err
probe_connect(const struct cf_ops_env *env, const char *url, const char *what, struct cf_error *err)
{
    CURL *c = curl_easy_init();
    CURLcode cc;

    if (c == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    common_opts(c, env);
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    cc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        cf_error_setf(err, CF_ERR_REMOTE, "%s: could not connect: %s", what,
                      curl_easy_strerror(cc));
        cf_error_hint(err, "Check the receiver's address and that it is reachable from this host "
                           "(firewall, proxy, CA file).");
        return CF_ERR_REMOTE;
    }
    return CF_OK;
}

/* Telegram's getMe: the bot token is valid; no message is sent. */
static cf_err
probe_telegram(const struct cf_ops_env *env, struct cf_error *err)
{
    char url[SECRET_MAX + 600];
    long status = 0;
    CURLcode cc;
    CURL *c;

    if (telegram_url(env, "getMe", url, sizeof(url), err) != CF_OK)
        return err->code;
    if ((c = curl_easy_init()) == NULL) {
        sodium_memzero(url, sizeof(url));
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    common_opts(c, env);
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    sodium_memzero(url, sizeof(url));
    if (cc != CURLE_OK) {
        cf_error_setf(err, CF_ERR_REMOTE, "telegram: could not reach the Bot API: %s",
                      curl_easy_strerror(cc));
        cf_error_hint(err, "Check alerts.telegram_api and that it is reachable from this host.");
        return CF_ERR_REMOTE;
    }
    if (status != 200) {
        cf_error_setf(err, CF_ERR_REMOTE, "telegram: getMe answered HTTP %ld", status);
        cf_error_hint(err, "The bot token is not accepted: check alerts.telegram_token_file or "
                           "the credential coffre-telegram-token.");
        return CF_ERR_REMOTE;
    }
    return CF_OK;
}

cf_err
cf_alert_probe_run(const struct cf_ops_env *env, size_t *tried, char *what, size_t size,
                   struct cf_error *err)
{
    const struct cf_alerts_conf *a = env->alerts;
    cf_err rc = CF_OK;

    *tried = 0;
    what[0] = '\0';
#define PROBED(name)                                                                               \
    (void)snprintf(what + strlen(what), size - strlen(what), "%s%s", what[0] ? ", " : "", name)
    if (a->webhook_url != NULL) {
        (*tried)++;
        if ((rc = probe_connect(env, a->webhook_url, "webhook", err)) != CF_OK)
            return rc;
        PROBED("webhook");
    }
    if (a->smtp_url != NULL) {
        (*tried)++;
        if ((rc = probe_connect(env, a->smtp_url, "e-mail", err)) != CF_OK)
            return rc;
        PROBED("smtp");
    }
    if (a->telegram_chat_id != NULL) {
        (*tried)++;
        if ((rc = probe_telegram(env, err)) != CF_OK)
            return rc;
        PROBED("telegram");
    }
#undef PROBED
    return CF_OK;
}

cf_err
cf_alert_test_run(const struct cf_ops_env *env, size_t *tried, size_t *sent, struct cf_error *err)
{
    struct message m = {0};
    cf_err rc = CF_OK;

    m.instance = env->instance;
    m.alertname = "CoffreTest";
    m.status = "firing";
    m.severity = "none";
    m.summary = "test notification from coffre alert test: this receiver works";
    m.hint = "Nothing: this is a test.";
    m.since = (int64_t)time(NULL);
    send_all(env, &m, tried, sent, &rc, err);
    if (*tried == 0) {
        cf_error_setf(err, CF_ERR_CONFIG, "no alert receiver is configured");
        cf_error_hint(err, "Set alerts.webhook_url, alerts.smtp_url or alerts.telegram_chat_id "
                           "in %s.", env->config_path);
        return CF_ERR_CONFIG;
    }
    return *sent == *tried ? CF_OK : rc;
}

cf_err
cf_alert_check_run(const struct cf_ops_env *env, const struct cf_repo *repo, struct cf_error *err)
{
    return refresh(env, repo, NULL, 0, NULL, err);
}
