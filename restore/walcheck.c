/*
 * walcheck.c - WAL continuity (see walcheck.h, docs/wal.md).
 *
 * "Newest" is decided per backup: the target timeline is the highest
 * timeline whose history passes through the backup's timeline (the
 * backup's own when no later one descends from it), which is what
 * recovery_target_timeline = 'latest' follows; the end is the newest complete
 * segment on that path, and never before the backup's wal_stop.  A gap is
 * CF_ERR_NOT_FOUND (exit status 5): the archive lacks something recovery
 * will ask for.
 */
#include "restore/walcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/walhistory.h"
#include "storage/walrepo.h"

#define HISTORY_MAX ((size_t)1024 * 1024)
#define MAX_GAPS 16

/* ---- what the repository holds ------------------------------------------ */

struct wal_state {
    struct cf_wal_object *objs;
    size_t n_objs;
    struct cf_wal_seg *segs;   /* complete segments, sorted */
    size_t n_segs;
};

static void
state_free(struct wal_state *s)
{
    free(s->objs);
    free(s->segs);
    memset(s, 0, sizeof(*s));
}

static cf_err
state_load(const struct cf_repo *r, uint64_t segment_size, struct wal_state *s,
           struct cf_error *err)
{
    cf_err rc;

    memset(s, 0, sizeof(*s));
    if ((rc = cf_wal_list(r, &s->objs, &s->n_objs, err)) != CF_OK)
        return rc;
    if ((s->segs = calloc(s->n_objs + 1, sizeof(*s->segs))) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    /* only what a trusted host wrote counts: anything else is absent (a gap names it) */
    {
        size_t k = 0;

        for (size_t i = 0; i < s->n_objs; i++) {
            struct cf_error e = CF_ERROR_INIT;

            if (cf_wal_authenticate(r, &s->objs[i], &e) != CF_OK) {
                cf_log_warning("ignoring WAL object: %s", e.msg);
                continue;
            }
            s->objs[k++] = s->objs[i];
        }
        s->n_objs = k;
    }
    for (size_t i = 0; i < s->n_objs; i++) {
        if (s->objs[i].file.type != CF_WAL_SEGMENT)
            continue;
        s->segs[s->n_segs].tli = s->objs[i].file.timeline;
        s->segs[s->n_segs].segno = cf_wal_segno(&s->objs[i].file, segment_size);
        s->n_segs++;
    }
    cf_wal_segs_sort(s->segs, s->n_segs);
    return CF_OK;
}

/* A terminal sink appending to a caller-owned buffer (history files are small). */
struct buf_sink {
    struct cf_sink base;
    char *buf;
    size_t len, cap;
};

static cf_err
buf_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    struct buf_sink *b = (struct buf_sink *)s;

    if (len > b->cap - b->len)
        return cf_error_set(err, CF_ERR_CORRUPT, "timeline history file is larger than %zu bytes",
                            b->cap);
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    return CF_OK;
}

static cf_err
buf_close(struct cf_sink *s, struct cf_error *err)
{
    (void)s, (void)err;
    return CF_OK;
}

static void
buf_free(struct cf_sink *s)
{
    free(s);
}

static const struct cf_sink_ops buf_ops = {"buffer", CF_STAGE_TERMINAL, buf_write, buf_close,
                                           NULL, buf_free};

/* The path to timeline tli, from its history object (tli 1 and timelines
 * without a history file: the timeline alone). */
static cf_err
load_path(const struct cf_repo *r, const struct wal_state *s, uint32_t tli,
          struct cf_wal_path *path, struct cf_error *err)
{
    const struct cf_wal_object *o = NULL;
    struct buf_sink *b;
    char *text;
    cf_err rc;

    for (size_t i = 0; i < s->n_objs; i++)
        if (s->objs[i].file.type == CF_WAL_HISTORY && s->objs[i].file.timeline == tli)
            o = &s->objs[i];
    if (o == NULL) {
        cf_wal_path_single(tli, path);
        return CF_OK;
    }
    if ((text = calloc(1, HISTORY_MAX + 1)) == NULL || (b = calloc(1, sizeof(*b))) == NULL) {
        free(text);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    b->base.ops = &buf_ops;
    b->buf = text;
    b->cap = HISTORY_MAX;
    rc = cf_wal_fetch(r, o, &b->base, err); /* b: transferred */
    if (rc == CF_OK) {
        /* b is freed by now; the zeroed buffer ends the text (a history
         * file holds no NUL: one would only cut it short, and parsing checks it) */
        size_t len = strnlen(text, HISTORY_MAX);

        rc = cf_wal_history_parse(tli, text, len, o->name, path, err);
    }
    free(text);
    return rc;
}

/* ---- one backup ----------------------------------------------------------- */

struct check {
    char id[CF_OBJECT_ID_MAX + 1];
    uint32_t start_tli, target_tli;
    uint64_t start_segno, end_segno, segment_size, missing;
    struct cf_wal_gap gaps[MAX_GAPS];
    size_t n_gaps;
};

static cf_err
bad_manifest(const struct cf_manifest *m, struct cf_error *err)
{
    cf_error_setf(err, CF_ERR_CORRUPT, "manifest of physical backup %s has no valid WAL range",
                  m->id);
    cf_error_detail(err, "wal_start, wal_stop or wal_segment_size is missing or invalid.");
    return CF_ERR_CORRUPT;
}

static cf_err
check_backup(const struct cf_repo *repo, const struct cf_manifest *m, uint64_t target_lsn,
             struct check *c, struct cf_error *err)
{
    const struct cf_manifest_physical *p = m->physical;
    struct cf_repo sys = *repo, *r = &sys;
    struct cf_wal_file start, stop;
    struct cf_wal_path path, best;
    struct wal_state s;
    uint64_t newest = 0, stop_lsn = 0;
    int mine;
    cf_err rc;

    memset(c, 0, sizeof(*c));
    (void)snprintf(c->id, sizeof(c->id), "%s", m->id);
    if (p == NULL || p->wal_start == NULL || p->wal_stop == NULL || p->stop_lsn == NULL ||
        !cf_lsn_parse(p->stop_lsn, &stop_lsn) || !cf_wal_segment_size_valid(p->wal_segment_size) ||
        !cf_wal_parse_name(p->wal_start, &start) || start.type != CF_WAL_SEGMENT ||
        !cf_wal_parse_name(p->wal_stop, &stop) || stop.type != CF_WAL_SEGMENT)
        return bad_manifest(m, err);
    /* WAL bound to another database system is not this backup's (another cluster
     * archived under the same instance name): it fills no gap */
    sys.wal_system = p->system_identifier;
    c->segment_size = p->wal_segment_size;
    c->start_tli = start.timeline;
    c->start_segno = cf_wal_segno(&start, c->segment_size);
    if ((rc = state_load(r, c->segment_size, &s, err)) != CF_OK)
        goto out;
    /* the target: the highest timeline whose history passes through ours */
    cf_wal_path_single(start.timeline, &best);
    for (size_t i = 0; i < s.n_objs; i++) {
        const struct cf_wal_object *o = &s.objs[i];

        if (o->file.type != CF_WAL_HISTORY || o->file.timeline <= best.tli[best.n - 1])
            continue;
        if ((rc = load_path(r, &s, o->file.timeline, &path, err)) != CF_OK)
            goto out;
        /* recovery can follow it only if it leaves our timeline after the backup
         * ended; an earlier branch is another history (PostgreSQL refuses it) */
        mine = cf_wal_path_find(&path, start.timeline);
        if (mine >= 0 && path.end[mine] >= stop_lsn)
            best = path;
    }
    c->target_tli = best.tli[best.n - 1];
    /* the end: the newest complete segment on that path (at least wal_stop); the
     * segments of an earlier timeline after the one holding its switch point are
     * not on the path (an old primary may archive some after a failover) */
    for (size_t i = 0; i < s.n_segs; i++) {
        int k = cf_wal_path_find(&best, s.segs[i].tli);

        if (k < 0 || k < cf_wal_path_find(&best, start.timeline) || s.segs[i].segno <= newest)
            continue;
        if ((size_t)k + 1 < best.n && s.segs[i].segno >= best.end[k] / c->segment_size + 1)
            continue;
        newest = s.segs[i].segno;
    }
    c->end_segno = cf_wal_segno(&stop, c->segment_size);
    if (target_lsn > 0) {
        if (target_lsn / c->segment_size > c->end_segno)
            c->end_segno = target_lsn / c->segment_size;
    } else if (newest > c->end_segno)
        c->end_segno = newest;
    c->missing = cf_wal_find_gaps(&best, start.timeline, c->start_segno, c->end_segno,
                                  c->segment_size, s.segs, s.n_segs, c->gaps, MAX_GAPS,
                                  &c->n_gaps);
out:
    state_free(&s);
    return rc;
}

/* The timeline holding segment segno on the check's path, for names. */
static void
seg_name(const struct check *c, uint32_t tli, uint64_t segno, char *buf, size_t size)
{
    cf_wal_segno_name(tli, segno, c->segment_size, buf, size);
}

static cf_err
gap_error(const struct check *c, struct cf_error *err)
{
    char first[32], last[32], detail[512] = "";
    size_t used = 0;

    seg_name(c, c->gaps[0].tli, c->gaps[0].first, first, sizeof(first));
    seg_name(c, c->target_tli, c->end_segno, last, sizeof(last));
    cf_error_setf(err, CF_ERR_NOT_FOUND,
                  "missing WAL segment %s between backup %s and the newest segment %s", first,
                  c->id, last);
    for (size_t i = 0; i < c->n_gaps && used < sizeof(detail) - 80; i++) {
        char a[32], b[32];
        int n;

        seg_name(c, c->gaps[i].tli, c->gaps[i].first, a, sizeof(a));
        seg_name(c, c->gaps[i].tli, c->gaps[i].last, b, sizeof(b));
        n = c->gaps[i].first == c->gaps[i].last
                ? snprintf(detail + used, sizeof(detail) - used, "%s%s", i ? ", " : "", a)
                : snprintf(detail + used, sizeof(detail) - used, "%s%s..%s", i ? ", " : "", a, b);
        if (n > 0)
            used += (size_t)n;
    }
    cf_error_detail(err, "%llu segment(s) missing on the way to timeline %u: %s%s.",
                    (unsigned long long)c->missing, c->target_tli, detail,
                    c->n_gaps == MAX_GAPS ? ", ..." : "");
    cf_error_hint(err, "Recovery from this backup stops at the first gap.  Check archive_command "
                       "and pg_stat_archiver; take a new base backup to get a restorable chain.");
    return CF_ERR_NOT_FOUND;
}

cf_err
cf_walcheck_for_restore(const struct cf_repo *r, const struct cf_manifest *m, uint64_t target_lsn,
                        struct cf_error *err)
{
    struct check c;
    cf_err rc;

    if ((rc = check_backup(r, m, target_lsn, &c, err)) != CF_OK)
        return rc;
    if (c.missing == UINT64_MAX)
        return cf_error_set(err, CF_ERR_INTERNAL, "timeline %u is not on its own path",
                            c.start_tli);
    return c.missing > 0 ? gap_error(&c, err) : CF_OK;
}

/* ---- verify --wal ---------------------------------------------------------- */

static cf_err
add_item(struct cf_verify_wal_result *res, const struct check *c, const struct cf_error *e,
         struct cf_error *err)
{
    struct cf_verify_wal_item *it, *grown = realloc(res->items, (res->n + 1) * sizeof(*it));

    if (grown == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    res->items = grown;
    it = &res->items[res->n++];
    memset(it, 0, sizeof(*it));
    (void)snprintf(it->id, sizeof(it->id), "%s", c->id);
    it->ok = e->code == CF_OK;
    /* a manifest without a valid WAL range has no segment size to name segments with */
    if (c->segment_size > 0) {
        seg_name(c, c->start_tli, c->start_segno, it->wal_start, sizeof(it->wal_start));
        seg_name(c, c->target_tli, c->end_segno, it->newest, sizeof(it->newest));
    } else {
        (void)snprintf(it->wal_start, sizeof(it->wal_start), "-");
        (void)snprintf(it->newest, sizeof(it->newest), "-");
    }
    it->timeline = c->target_tli;
    it->missing_segments = it->ok ? 0 : c->missing;
    it->error = *e;
    res->n_failed += !it->ok;
    return CF_OK;
}

cf_err
cf_verify_wal_run(const struct cf_repo *repo, struct cf_verify_wal_result *res,
                  struct cf_error *err)
{
    struct cf_backup_entry *v = NULL;
    size_t n = 0;
    cf_err rc, first = CF_OK;

    memset(res, 0, sizeof(*res));
    if ((rc = cf_repo_list_backups(repo, &v, &n, err)) != CF_OK)
        return rc;
    for (size_t i = 0; i < n && rc == CF_OK; i++) {
        struct cf_manifest *m = NULL;
        struct cf_error e = CF_ERROR_INIT;
        struct check c;

        if (!v[i].has_manifest)
            continue;
        if ((rc = cf_repo_read_manifest(repo, v[i].id, &m, err)) != CF_OK)
            break;
        if (m->kind == NULL || strcmp(m->kind, "physical") != 0) {
            cf_manifest_free(m);
            continue;
        }
        memset(&c, 0, sizeof(c));
        if (check_backup(repo, m, 0, &c, &e) == CF_OK && c.missing > 0)
            (void)gap_error(&c, &e);
        if (e.code != CF_OK && first == CF_OK) {
            first = e.code;
            *err = e;
        }
        rc = add_item(res, &c, &e, err);
        cf_manifest_free(m);
    }
    free(v);
    if (rc != CF_OK)
        return rc;
    if (res->n == 0)
        return cf_error_set(err, CF_ERR_NOT_FOUND,
                            "no complete physical backup of instance "
                            "\"%s\" to check WAL from",
                            repo->instance);
    return first;
}

void
cf_verify_wal_result_clear(struct cf_verify_wal_result *res)
{
    free(res->items);
    memset(res, 0, sizeof(*res));
}
