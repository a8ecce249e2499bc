/*
 * backoff.h - the one retry schedule: capped exponential backoff.
 *
 * The ceiling for attempt n (n >= 1; 0 counts as 1) is min(cap, base *
 * 2^(n-1)), computed without overflow.  Many clients retrying against one
 * server (S3 parts in flight, several hosts) wait a full-jitter draw,
 * uniform in [0, ceiling] (randombytes_uniform: no modulo bias); a single
 * client whose schedule is documented and shown to operators (wal-stream's
 * "retrying in 4 s") waits the ceiling itself.
 */
#ifndef CF_BACKOFF_H
#define CF_BACKOFF_H

#include <stdint.h>

uint32_t cf_backoff_ceiling_ms(uint32_t base_ms, uint32_t cap_ms, unsigned attempt);
/* Full jitter: uniform in [0, cf_backoff_ceiling_ms(base_ms, cap_ms, attempt)]. */
uint32_t cf_backoff_ms(uint32_t base_ms, uint32_t cap_ms, unsigned attempt);

#endif
