/*
 * backoff.c - capped exponential backoff with full jitter (see backoff.h).
 */
#include "common/backoff.h"

#include <sodium.h>

uint32_t
cf_backoff_ceiling_ms(uint32_t base_ms, uint32_t cap_ms, unsigned attempt)
{
    uint64_t ceiling = base_ms;

    /* doubling stops at the cap, so 64 bits never overflow */
    for (unsigned i = 1; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    return ceiling > cap_ms ? cap_ms : (uint32_t)ceiling;
}

uint32_t
cf_backoff_ms(uint32_t base_ms, uint32_t cap_ms, unsigned attempt)
{
    uint32_t ceiling = cf_backoff_ceiling_ms(base_ms, cap_ms, attempt);

    /* randombytes_uniform(n) draws in [0, n): n = ceiling + 1, unless that wraps */
    return ceiling == UINT32_MAX ? randombytes_random() : randombytes_uniform(ceiling + 1);
}
