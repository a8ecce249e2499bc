/*
 * walhistory.c - timeline history files and WAL continuity (see walhistory.h).
 */
#include "common/walhistory.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/walname.h"

void
cf_wal_path_single(uint32_t tli, struct cf_wal_path *out)
{
    memset(out, 0, sizeof(*out));
    out->tli[0] = tli;
    out->end[0] = UINT64_MAX;
    out->n = 1;
}

/* One "TLI<ws>X/X" line into *tli and *lsn; false if malformed. */
static bool
parse_line(const char *line, size_t len, uint32_t *tli, uint64_t *lsn)
{
    char buf[128], *end, *lsn_start, *lsn_end;
    unsigned long v;

    if (len >= sizeof(buf))
        len = sizeof(buf) - 1;
    memcpy(buf, line, len);
    buf[len] = '\0';
    v = strtoul(buf, &end, 10);
    if (end == buf || v == 0 || v > UINT32_MAX || !isspace((unsigned char)*end))
        return false;
    lsn_start = end;
    while (isspace((unsigned char)*lsn_start))
        lsn_start++;
    lsn_end = lsn_start;
    while (*lsn_end != '\0' && !isspace((unsigned char)*lsn_end))
        lsn_end++;
    *lsn_end = '\0';
    *tli = (uint32_t)v;
    return cf_lsn_parse(lsn_start, lsn);
}

cf_err
cf_wal_history_parse(uint32_t target, const char *text, size_t len, const char *what,
                     struct cf_wal_path *out, struct cf_error *err)
{
    struct cf_wal_path p;
    size_t pos = 0, lineno = 0;

    memset(&p, 0, sizeof(p));
    while (pos < len) {
        const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        uint32_t tli;
        uint64_t lsn;

        pos += llen + (nl ? 1 : 0);
        lineno++;
        while (llen > 0 && (*line == ' ' || *line == '\t')) {
            line++;
            llen--;
        }
        if (llen == 0 || !isdigit((unsigned char)*line))
            continue; /* comments and blank lines, as PostgreSQL reads them */
        if (!parse_line(line, llen, &tli, &lsn) || tli >= target ||
            (p.n > 0 && (tli <= p.tli[p.n - 1] || lsn < p.end[p.n - 1])) ||
            p.n + 1 >= CF_WAL_PATH_MAX) {
            cf_error_setf(err, CF_ERR_CORRUPT, "invalid timeline history file \"%s\" at line %zu",
                          what, lineno);
            cf_error_detail(err, "Each line must be a parent timeline below %u and its switch "
                            "LSN, timelines increasing and LSNs not decreasing.", target);
            return CF_ERR_CORRUPT;
        }
        p.tli[p.n] = tli;
        p.end[p.n] = lsn;
        p.n++;
    }
    p.tli[p.n] = target;
    p.end[p.n] = UINT64_MAX;
    p.n++;
    *out = p;
    return CF_OK;
}

int
cf_wal_path_find(const struct cf_wal_path *path, uint32_t tli)
{
    for (size_t i = 0; i < path->n; i++)
        if (path->tli[i] == tli)
            return (int)i;
    return -1;
}

static int
cmp_seg(const void *a, const void *b)
{
    const struct cf_wal_seg *x = a, *y = b;

    if (x->tli != y->tli)
        return x->tli < y->tli ? -1 : 1;
    if (x->segno != y->segno)
        return x->segno < y->segno ? -1 : 1;
    return 0;
}

void
cf_wal_segs_sort(struct cf_wal_seg *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_seg);
}

static bool
has_seg(const struct cf_wal_seg *have, size_t n, uint32_t tli, uint64_t segno)
{
    struct cf_wal_seg key = {tli, segno};

    return n > 0 && bsearch(&key, have, n, sizeof(*have), cmp_seg) != NULL;
}

static void
add_missing(struct cf_wal_gap *gaps, size_t max, size_t *n, uint32_t tli, uint64_t segno)
{
    if (*n > 0 && gaps[*n - 1].tli == tli && gaps[*n - 1].last + 1 == segno) {
        gaps[*n - 1].last = segno;
        return;
    }
    if (*n < max) {
        gaps[*n].tli = tli;
        gaps[*n].first = gaps[*n].last = segno;
        (*n)++;
    }
}

uint64_t
cf_wal_find_gaps(const struct cf_wal_path *path, uint32_t start_tli, uint64_t start_segno,
                 uint64_t end_segno, uint64_t segment_size, const struct cf_wal_seg *have,
                 size_t n_have, struct cf_wal_gap *gaps, size_t max_gaps, size_t *n_gaps)
{
    int start = cf_wal_path_find(path, start_tli);
    uint64_t missing = 0, cur = start_segno;

    *n_gaps = 0;
    if (start < 0)
        return UINT64_MAX;
    for (size_t i = (size_t)start; i < path->n && cur <= end_segno; i++) {
        uint64_t hi = end_segno;

        if (i + 1 < path->n) {
            uint64_t next_begin = path->end[i] / segment_size;

            if (next_begin == 0)
                continue;
            if (next_begin - 1 < hi)
                hi = next_begin - 1;
        }
        for (uint64_t s = cur; s <= hi; s++) {
            if (!has_seg(have, n_have, path->tli[i], s)) {
                missing++;
                add_missing(gaps, max_gaps, n_gaps, path->tli[i], s);
            }
        }
        if (hi + 1 > cur)
            cur = hi + 1;
    }
    return missing;
}
