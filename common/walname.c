/*
 * walname.c - LSNs and WAL file names (see walname.h).
 */
#include "common/walname.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool
hex_field(const char *s, size_t n, uint32_t *out)
{
    uint32_t v = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        unsigned d;

        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return false; /* PostgreSQL writes upper case only */
        v = (v << 4) | d;
    }
    *out = v;
    return true;
}

bool
cf_lsn_parse(const char *text, uint64_t *lsn)
{
    uint32_t part[2] = {0, 0};
    int p = 0;
    size_t digits = 0;

    for (const char *s = text; *s != '\0'; s++) {
        unsigned d;

        if (*s == '/') {
            if (p == 1 || digits == 0)
                return false;
            p = 1;
            digits = 0;
            continue;
        }
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (*s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else if (*s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else
            return false;
        if (++digits > 8)
            return false;
        part[p] = (part[p] << 4) | d;
    }
    if (p != 1 || digits == 0)
        return false;
    *lsn = ((uint64_t)part[0] << 32) | part[1];
    return true;
}

void
cf_lsn_format(uint64_t lsn, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}

bool
cf_wal_segment_size_valid(uint64_t size)
{
    return size >= ((uint64_t)1 << 20) && size <= ((uint64_t)1 << 30) && (size & (size - 1)) == 0;
}

bool
cf_wal_parse_name(const char *name, struct cf_wal_file *out)
{
    size_t len = strlen(name);
    struct cf_wal_file f;
    uint32_t offset;

    memset(&f, 0, sizeof(f));
    if (len == 16 && strcmp(name + 8, ".history") == 0) {
        if (!hex_field(name, 8, &f.timeline) || f.timeline == 0)
            return false;
        f.type = CF_WAL_HISTORY;
        *out = f;
        return true;
    }
    if (len < 24 || !hex_field(name, 8, &f.timeline) || !hex_field(name + 8, 8, &f.log) ||
        !hex_field(name + 16, 8, &f.seg) || f.timeline == 0)
        return false;
    if (len == 24)
        f.type = CF_WAL_SEGMENT;
    else if (strcmp(name + 24, ".partial") == 0)
        f.type = CF_WAL_PARTIAL;
    else if (len == 40 && name[24] == '.' && hex_field(name + 25, 8, &offset) &&
             strcmp(name + 33, ".backup") == 0)
        f.type = CF_WAL_BACKUP_HISTORY;
    else
        return false;
    *out = f;
    return true;
}

static uint64_t
segs_per_log(uint64_t segment_size)
{
    return ((uint64_t)1 << 32) / segment_size;
}

void
cf_wal_segno_name(uint32_t timeline, uint64_t segno, uint64_t segment_size, char *buf,
                  size_t size)
{
    uint64_t per = segs_per_log(segment_size);

    (void)snprintf(buf, size, "%08" PRIX32 "%08" PRIX32 "%08" PRIX32, timeline,
                   (uint32_t)(segno / per), (uint32_t)(segno % per));
}

void
cf_wal_segment_name(uint32_t timeline, uint64_t lsn, uint64_t segment_size, char *buf,
                    size_t size)
{
    cf_wal_segno_name(timeline, lsn / segment_size, segment_size, buf, size);
}

uint64_t
cf_wal_segno(const struct cf_wal_file *f, uint64_t segment_size)
{
    return (uint64_t)f->log * segs_per_log(segment_size) + f->seg;
}
