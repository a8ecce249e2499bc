/*
 * walhistory.h - timeline history files and WAL continuity, as pure logic.
 *
 * A history file "0000000N.history" lists, one line per ancestor, the parent
 * timeline and the LSN where it was left:  "1\t0/3000000\treason".  Lines
 * that do not start with a digit (comments, blank lines) are ignored, as
 * PostgreSQL does.
 *
 * Recovery reads segment s of the timeline that, in the target timeline's
 * history, covers s: timeline T_i is used for segments from
 * switch(T_{i-1}) / segment_size up to switch(T_i) / segment_size - 1
 * (PostgreSQL's XLogFileReadAnyTLI: the segment holding a switch point is
 * read from the newer timeline, which holds a copy of the older one up to
 * the switch).
 */
#ifndef CF_WALHISTORY_H
#define CF_WALHISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define CF_WAL_PATH_MAX 256   /* timelines in one history; more is refused as corrupt */

/* The timelines recovery walks to reach a target timeline, oldest first:
 * tli[i] is left at end[i]; the last one (the target) has end UINT64_MAX. */
struct cf_wal_path {
    uint32_t tli[CF_WAL_PATH_MAX];
    uint64_t end[CF_WAL_PATH_MAX];
    size_t n;
};

/*
 * Parse the text of target's history file into the path to target.
 * what names the file in messages.  CF_ERR_CORRUPT on a malformed line, a
 * parent not below target, timelines not increasing or switch points
 * decreasing.
 */
cf_err cf_wal_history_parse(uint32_t target, const char *text, size_t len, const char *what,
                            struct cf_wal_path *out, struct cf_error *err);
/* The path of a timeline without a history file (timeline 1, or no switch). */
void cf_wal_path_single(uint32_t tli, struct cf_wal_path *out);
/* Index of tli in path, or -1 when path does not pass through it. */
int cf_wal_path_find(const struct cf_wal_path *path, uint32_t tli);

struct cf_wal_seg {
    uint32_t tli;
    uint64_t segno;
};
/* Missing segments first..last of timeline tli. */
struct cf_wal_gap {
    uint32_t tli;
    uint64_t first, last;
};

/* Sort segments by (tli, segno), as cf_wal_find_gaps expects. */
void cf_wal_segs_sort(struct cf_wal_seg *v, size_t n);

/*
 * The segments recovery needs from (start_tli, start_segno) through segment
 * end_segno along path, checked against have (sorted).  Up to max_gaps
 * ranges of missing segments go to gaps; returns the number of missing
 * segments (0: continuous).  A start_tli not on path counts as nothing
 * reachable: returns UINT64_MAX.
 */
uint64_t cf_wal_find_gaps(const struct cf_wal_path *path, uint32_t start_tli,
                          uint64_t start_segno, uint64_t end_segno, uint64_t segment_size,
                          const struct cf_wal_seg *have, size_t n_have, struct cf_wal_gap *gaps,
                          size_t max_gaps, size_t *n_gaps);

#endif
