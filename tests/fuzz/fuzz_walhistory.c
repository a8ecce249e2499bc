/*
 * fuzz_walhistory.c - libFuzzer: the timeline history file parser, which
 * reads files from the server and from the repository.  The first 4 bytes
 * (big-endian) are the target timeline, the rest the file.  An accepted
 * history must be a path recovery can walk, and the gap finder must count
 * every segment of a range along it exactly once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/walhistory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEG ((uint64_t)16 << 20)

static void
check_path(const struct cf_wal_path *p, uint32_t target)
{
    if (p->n < 1 || p->n > CF_WAL_PATH_MAX || p->tli[p->n - 1] != target ||
        p->end[p->n - 1] != UINT64_MAX)
        abort();
    for (size_t i = 0; i + 1 < p->n; i++)
        if (p->tli[i] >= p->tli[i + 1] || (i > 0 && p->end[i - 1] > p->end[i]) ||
            cf_wal_path_find(p, p->tli[i]) != (int)i)
            abort();
}

/* Nothing archived: every segment from the first switch on is missing once. */
static void
check_gaps(const struct cf_wal_path *p)
{
    struct cf_wal_gap gaps[4];
    uint64_t first = p->n > 1 ? p->end[0] / SEG : 0, last = first + 63, missing;
    size_t n_gaps = 0;

    missing = cf_wal_find_gaps(p, p->tli[0], first, last, SEG, NULL, 0, gaps, 4, &n_gaps);
    if (missing != last - first + 1 || n_gaps < 1 || n_gaps > 4)
        abort();
    for (size_t i = 0; i < n_gaps; i++)
        if (gaps[i].first < first || gaps[i].last > last || gaps[i].first > gaps[i].last ||
            cf_wal_path_find(p, gaps[i].tli) < 0)
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_error err = CF_ERROR_INIT;
    static struct cf_wal_path p; /* 4 KiB: off the stack */
    uint32_t target;

    if (size < 4)
        return 0;
    target = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
    if (cf_wal_history_parse(target, (const char *)data + 4, size - 4, "fuzz.history", &p, &err) ==
        CF_OK) {
        check_path(&p, target);
        check_gaps(&p);
    } else if (err.code != CF_ERR_CORRUPT) {
        abort();
    }
    return 0;
}
