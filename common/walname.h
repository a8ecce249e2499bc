/*
 * walname.h - LSNs and WAL file names, as PostgreSQL spells them (pure).
 *
 *   segment         000000010000000A000000FF          TLI, log, seg (24 hex digits)
 *   partial         000000010000000A000000FF.partial  a segment still being written
 *   history         00000002.history                  a timeline's history
 *   backup history  000000010000000A000000FF.00000028.backup
 *
 * A segment number (segno) counts segments from LSN 0:
 *   segno = lsn / segment_size,  log = segno / (4 GiB / size),  seg = segno % (4 GiB / size).
 */
#ifndef CF_WALNAME_H
#define CF_WALNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define CF_WAL_NAME_MAX 64 /* longest WAL file name we accept, with its suffix */
#define CF_LSN_MAX_TEXT 18 /* "FFFFFFFF/FFFFFFFF" + NUL */

enum cf_wal_file_type {
    CF_WAL_SEGMENT = 1,
    CF_WAL_PARTIAL = 2,
    CF_WAL_HISTORY = 3,
    CF_WAL_BACKUP_HISTORY = 4
};

struct cf_wal_file {
    enum cf_wal_file_type type;
    uint32_t timeline;
    uint32_t log, seg;       /* segments, partials and backup history files */
};

/* "16/B374D848" -> 0x16B374D848.  false on any malformed text. */
bool cf_lsn_parse(const char *text, uint64_t *lsn);
/* buf must hold CF_LSN_MAX_TEXT. */
void cf_lsn_format(uint64_t lsn, char *buf, size_t size);

/* Valid segment sizes: powers of two from 1 MiB to 1 GiB. */
bool cf_wal_segment_size_valid(uint64_t size);

/* Classify a WAL file name (the %f of archive_command); false if it is none. */
bool cf_wal_parse_name(const char *name, struct cf_wal_file *out);

/* The name of the segment holding lsn on timeline (buf >= 25 bytes). */
void cf_wal_segment_name(uint32_t timeline, uint64_t lsn, uint64_t segment_size, char *buf,
                         size_t size);
/* Segment number of a parsed segment name, and its inverse. */
uint64_t cf_wal_segno(const struct cf_wal_file *f, uint64_t segment_size);
void cf_wal_segno_name(uint32_t timeline, uint64_t segno, uint64_t segment_size, char *buf,
                       size_t size);

#endif
