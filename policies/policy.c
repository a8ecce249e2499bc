/*
 * policy.c - configured policy and backup-id times (see policy.h).
 */
#include "policies/policy.h"

#include <string.h>

void
cf_policy_from_conf(const struct cf_retention_conf *conf, struct cf_retention_policy *out)
{
    out->daily = conf->daily;
    out->weekly = conf->weekly;
    out->monthly = conf->monthly;
    out->min_keep = conf->min_keep;
    out->margin = conf->lock_margin;
}

static int
digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int64_t
cf_backup_id_time(const char *id)
{
    int y, mo, d, h, mi, s;

    if (strlen(id) < 16 || id[8] != 'T' || id[15] != 'Z' || (id[16] != '\0' && id[16] != '-'))
        return -1;
    if (digits(id, 4, &y) || digits(id + 4, 2, &mo) || digits(id + 6, 2, &d) ||
        digits(id + 9, 2, &h) || digits(id + 11, 2, &mi) || digits(id + 13, 2, &s))
        return -1;
    if (y < 1970)
        return -1;
    return cf_retention_utc_time(y, mo, d, h, mi, s);
}
