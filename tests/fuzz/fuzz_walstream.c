/*
 * fuzz_walstream.c - libFuzzer: what wal-stream parses from the server.  The
 * first byte picks the parser (modulo 3), the rest is its input:
 *   0  a CopyBoth message, 'w' XLogData or 'k' keepalive (cf_ws_parse_message)
 *   1  an end-of-timeline result "TLI\0LSN" (cf_ws_parse_timeline_end)
 *   2  a 4-byte big-endian timeline, then TIMELINE_HISTORY's file name
 *      (cf_ws_check_history_name)
 * What is accepted must be exactly what the protocol allows.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/walstream_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
message(const char *buf, size_t size)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_ws_msg m;
    int len = (int)size;
    bool is_w = len >= 25 && buf[0] == 'w', is_k = len >= 18 && buf[0] == 'k';

    if (cf_ws_parse_message(buf, len, &m, &err) != CF_OK) {
        if (is_w || is_k || strcmp(err.msg, "unexpected replication message") != 0)
            abort();
        return;
    }
    if (is_w && (m.type != 'w' || m.start != cf_ws_get_u64(buf + 1) || m.data != buf + 25 ||
                 m.len != size - 25))
        abort();
    if (is_k && (m.type != 'k' || m.reply_requested != (buf[17] != 0)))
        abort();
    if (!is_w && !is_k)
        abort();
}

static void
timeline_end(const char *buf, size_t size)
{
    char *tli_text = malloc(size + 1), *lsn_text, again[CF_LSN_MAX_TEXT], canon[16];
    uint32_t tli = 0;
    uint64_t lsn = 0, lsn2 = 0;

    if (tli_text == NULL)
        return;
    memcpy(tli_text, buf, size);
    tli_text[size] = '\0';
    lsn_text = tli_text + strlen(tli_text) + (strlen(tli_text) < size ? 1 : 0);
    if (cf_ws_parse_timeline_end(tli_text, lsn_text, &tli, &lsn)) {
        /* the timeline as PostgreSQL prints it; the LSN survives a round trip */
        (void)snprintf(canon, sizeof(canon), "%u", tli);
        cf_lsn_format(lsn, again, sizeof(again));
        if (tli == 0 || strcmp(canon, tli_text) != 0 || !cf_lsn_parse(again, &lsn2) || lsn2 != lsn)
            abort();
    }
    free(tli_text);
}

static void
history_name(const char *buf, size_t size)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_wal_file f;
    char *name;
    uint32_t tli;

    if (size < 4 || (name = malloc(size - 3)) == NULL)
        return;
    tli = (uint32_t)(uint8_t)buf[0] << 24 | (uint32_t)(uint8_t)buf[1] << 16 |
          (uint32_t)(uint8_t)buf[2] << 8 | (uint8_t)buf[3];
    memcpy(name, buf + 4, size - 4);
    name[size - 4] = '\0';
    /* accepted: a history file name (no path), of that very timeline */
    if (cf_ws_check_history_name(tli, name, &err) == CF_OK &&
        (!cf_wal_parse_name(name, &f) || f.type != CF_WAL_HISTORY || f.timeline != tli ||
         strchr(name, '/') != NULL))
        abort();
    free(name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data + 1;

    if (size == 0 || size > 1 << 20)
        return 0;
    switch (data[0] % 3) {
    case 0: message(buf, size - 1); break;
    case 1: timeline_end(buf, size - 1); break;
    default: history_name(buf, size - 1); break;
    }
    return 0;
}
