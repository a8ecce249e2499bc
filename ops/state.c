/*
 * state.c - <metrics.state_dir>/state.json: the last run of each kind and
 * the alerts already notified, so that one run does not erase what another
 * kind of run recorded and an alert is sent once per state change.
 * Read-modify-write under an exclusive flock on state.lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "ops/ops_int.h"

cf_err
cf_ops_state_open(const struct cf_ops_env *env, struct cf_ops_state *s, struct cf_error *err)
{
    char lock[640];
    json_error_t je;

    memset(s, 0, sizeof(*s));
    s->lock_fd = -1;
    if (cf_mkdir_p(env->metrics->state_dir, 0750, err) != CF_OK) {
        cf_error_hint(err, "Set metrics.state_dir to a directory the coffre user may write.");
        cf_error_context(err, "while creating the state directory (metrics.state_dir)");
        return err->code;
    }
    (void)snprintf(s->path, sizeof(s->path), "%s/state.json", env->metrics->state_dir);
    (void)snprintf(lock, sizeof(lock), "%s/state.lock", env->metrics->state_dir);
    s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->lock_fd < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not open \"%s\"", lock);
    while (flock(s->lock_fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            (void)cf_error_set_errno(err, CF_ERR_IO, errno, "could not lock \"%s\"", lock);
            cf_ops_state_close(s);
            return CF_ERR_IO;
        }
    }
    s->root = json_load_file(s->path, 0, &je);
    if (s->root == NULL && access(s->path, F_OK) == 0)
        cf_log_warning("state file \"%s\" is unreadable (%s): starting afresh; alerts may be "
                       "notified again", s->path, je.text);
    if (s->root == NULL || !json_is_object(s->root)) {
        json_decref(s->root);
        s->root = json_object();
    }
    if (!json_is_object(json_object_get(s->root, "runs")))
        json_object_set_new(s->root, "runs", json_object());
    if (!json_is_object(json_object_get(s->root, "alerts")))
        json_object_set_new(s->root, "alerts", json_object());
    return CF_OK;
}

cf_err
cf_ops_state_save(struct cf_ops_state *s, struct cf_error *err)
{
    char *text = json_dumps(s->root, JSON_INDENT(2) | JSON_SORT_KEYS);
    cf_err rc;

    if (text == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = cf_write_atomic(s->path, text, strlen(text), 0600, err);
    free(text);
    return rc;
}

void
cf_ops_state_close(struct cf_ops_state *s)
{
    json_decref(s->root);
    s->root = NULL;
    if (s->lock_fd >= 0)
        (void)close(s->lock_fd);   /* releases the flock */
    s->lock_fd = -1;
}

cf_err
cf_ops_record_drill(const struct cf_ops_env *env, const struct cf_ops_drill *d,
                    struct cf_error *err)
{
    struct cf_ops_state st;
    json_t *scenarios = json_object();
    cf_err rc;

    for (size_t i = 0; i < d->n; i++) {
        const struct cf_ops_drill_scenario *s = &d->scenarios[i];

        json_object_set_new(scenarios, s->name,
                            json_pack("{s:b, s:f, s:o, s:I}", "ok", s->ok, "rto_seconds",
                                      s->rto_s, "rpo_seconds",
                                      s->rpo_s >= 0 ? json_real(s->rpo_s) : json_null(),
                                      "checks_failed", (json_int_t)s->checks_failed));
    }
    if (cf_ops_state_open(env, &st, err) != CF_OK) {
        json_decref(scenarios);
        return err->code;
    }
    json_object_set_new(st.root, "drill", json_pack("{s:I, s:o}", "time", (json_int_t)d->time,
                                                    "scenarios", scenarios));
    rc = cf_ops_state_save(&st, err);
    cf_ops_state_close(&st);
    return rc;
}

cf_err
cf_ops_record_migration(const struct cf_ops_env *env, const struct cf_ops_migration *m,
                        struct cf_error *err)
{
    struct cf_ops_state st;
    json_t *all;
    cf_err rc;

    if (cf_ops_state_open(env, &st, err) != CF_OK)
        return err->code;
    all = json_object_get(st.root, "migrations");
    if (!json_is_object(all)) {
        all = json_object();
        json_object_set_new(st.root, "migrations", all);
    }
    json_object_set_new(all, m->schema,
                        json_pack("{s:s, s:s, s:I, s:o, s:I, s:f}", "id", m->id, "state",
                                  m->state, "time", (json_int_t)m->time, "freeze_seconds",
                                  m->freeze_s >= 0 ? json_real(m->freeze_s) : json_null(),
                                  "bytes", (json_int_t)m->bytes, "verify_seconds", m->verify_s));
    rc = cf_ops_state_save(&st, err);
    cf_ops_state_close(&st);
    return rc;
}
