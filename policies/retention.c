/*
 * retention.c - GFS classes, expiry and lock dates, prune planning.
 *
 * Pure: no I/O, no clock, no globals, no allocation.  Calendar arithmetic
 * works on day numbers (days since 1970-01-01, UTC) with the era-based
 * civil <-> day conversions described by Howard Hinnant ("chrono-compatible
 * low-level date algorithms"): a 400-year era has exactly 146097 days, and
 * counting years from March 1st puts the leap day at the end of the year,
 * so month lengths within a year follow (153 * month + 2) / 5.
 */
#include "policies/retention.h"

#include <string.h>

#define SECS_PER_DAY INT64_C(86400)
#define DAYS_PER_ERA INT64_C(146097)      /* days in 400 Gregorian years */
#define EPOCH_SHIFT INT64_C(719468)       /* days from 0000-03-01 to 1970-01-01 */

struct civil {
    int64_t year;
    int64_t month;  /* 1..12 */
    int64_t day;    /* 1..31 */
};

static int64_t
clamp_time(int64_t t)
{
    if (t > CF_RETENTION_TIME_MAX)
        return CF_RETENTION_TIME_MAX;
    if (t < -CF_RETENTION_TIME_MAX)
        return -CF_RETENTION_TIME_MAX;
    return t;
}

/* a + b for values already clamped: |a + b| <= INT64_MAX - 1, no overflow. */
static int64_t
add_clamped(int64_t a, int64_t b)
{
    return clamp_time(clamp_time(a) + clamp_time(b));
}

/* Division rounding towards minus infinity (C rounds towards zero). */
static int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if (a % b != 0 && (a < 0) != (b < 0))
        q--;
    return q;
}

static int64_t
day_of(int64_t t)
{
    return floor_div(clamp_time(t), SECS_PER_DAY);
}

static bool
is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t
month_length(int64_t y, int64_t m)
{
    static const int64_t len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

static int64_t
days_from_civil(struct civil c)
{
    int64_t y = c.month <= 2 ? c.year - 1 : c.year;  /* years start on March 1st */
    int64_t era = floor_div(y, 400);
    int64_t year_of_era = y - era * 400;                             /* 0..399 */
    int64_t march_month = c.month > 2 ? c.month - 3 : c.month + 9;   /* 0 = March */
    int64_t day_of_year = (153 * march_month + 2) / 5 + c.day - 1;   /* 0..365 */
    int64_t day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;

    return era * DAYS_PER_ERA + day_of_era - EPOCH_SHIFT;
}

static struct civil
civil_from_days(int64_t days)
{
    int64_t z = days + EPOCH_SHIFT;
    int64_t era = floor_div(z, DAYS_PER_ERA);
    int64_t day_of_era = z - era * DAYS_PER_ERA;                     /* 0..146096 */
    /* Undo the leap days: one every 4 years (1460 days), none every 100
     * years (36524), one again every 400 (146096 is the era's last day). */
    int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 -
                           day_of_era / 146096) / 365;               /* 0..399 */
    int64_t day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t march_month = (5 * day_of_year + 2) / 153;               /* 0 = March */
    struct civil c;

    c.day = day_of_year - (153 * march_month + 2) / 5 + 1;
    c.month = march_month < 10 ? march_month + 3 : march_month - 9;
    c.year = year_of_era + era * 400 + (c.month <= 2 ? 1 : 0);
    return c;
}

int64_t
cf_retention_utc_time(int year, int month, int day, int hour, int min, int sec)
{
    struct civil c;

    if (month < 1 || month > 12 || day < 1 || day > month_length(year, month) || hour < 0 ||
        hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
        return -1;
    c.year = year;
    c.month = month;
    c.day = day;
    return days_from_civil(c) * 86400 + (int64_t)hour * 3600 + (int64_t)min * 60 + sec;
}

/* Months since year 0: equal for two times iff same UTC calendar month. */
static int64_t
month_key(int64_t t)
{
    struct civil c = civil_from_days(day_of(t));

    return c.year * 12 + c.month - 1;
}

/*
 * Day number of the Monday starting t's ISO week: equal for two times iff
 * they share (ISO year, week).  1970-01-01 (day 0) was a Thursday.
 */
static int64_t
week_key(int64_t t)
{
    int64_t days = day_of(t);

    return days - (days + 3 - floor_div(days + 3, 7) * 7);
}

void
cf_retention_iso_week(int64_t t, int64_t *iso_year, unsigned *week)
{
    /* The ISO year is the calendar year of the week's Thursday. */
    int64_t thursday = week_key(t) + 3;
    struct civil c = civil_from_days(thursday);
    struct civil jan1 = {c.year, 1, 1};

    *iso_year = c.year;
    *week = (unsigned)((thursday - days_from_civil(jan1)) / 7 + 1);
}

enum cf_retention_class
cf_retention_classify(int64_t t, const int64_t *previous, size_t n)
{
    int64_t month = month_key(t), week = week_key(t);
    bool has_month = false, has_week = false;

    for (size_t i = 0; i < n; i++) {
        if (previous[i] >= t)
            continue;
        has_month = has_month || month_key(previous[i]) == month;
        has_week = has_week || week_key(previous[i]) == week;
    }
    if (!has_month)
        return CF_CLASS_MONTHLY;
    return has_week ? CF_CLASS_DAILY : CF_CLASS_WEEKLY;
}

/* Same time of day, months later, day clamped to the target month's length. */
static int64_t
add_months(int64_t t, unsigned months)
{
    int64_t days = day_of(t);
    int64_t secs = clamp_time(t) - days * SECS_PER_DAY;
    struct civil c = civil_from_days(days);
    /* |t| <= INT64_MAX / 2 keeps the year below 2^38 and months < 2^32:
     * nothing below comes near 2^63. */
    int64_t index = c.year * 12 + (c.month - 1) + (int64_t)months;
    struct civil to;

    to.year = floor_div(index, 12);
    to.month = index - to.year * 12 + 1;
    to.day = c.day < month_length(to.year, to.month) ? c.day
                                                     : month_length(to.year, to.month);
    return clamp_time(days_from_civil(to) * SECS_PER_DAY + secs);
}

int64_t
cf_retention_expiry(const struct cf_retention_policy *p, enum cf_retention_class c, int64_t t)
{
    switch (c) {
    case CF_CLASS_DAILY:
        return add_clamped(t, (int64_t)p->daily * SECS_PER_DAY);
    case CF_CLASS_WEEKLY:
        return add_clamped(t, (int64_t)p->weekly * 7 * SECS_PER_DAY);
    case CF_CLASS_MONTHLY:
        return add_months(t, p->monthly);
    }
    return CF_RETENTION_TIME_MAX;
}

int64_t
cf_retention_lock_until(const struct cf_retention_policy *p, enum cf_retention_class c,
                        int64_t t)
{
    return add_clamped(cf_retention_expiry(p, c, t), p->margin > 0 ? p->margin : 0);
}

static enum cf_prune_action
plan_incomplete(const struct cf_prune_item *it, int64_t now, int64_t grace)
{
    /* Both clamped, so the difference cannot overflow. */
    if (clamp_time(now) - clamp_time(it->time) < clamp_time(grace))
        return CF_PRUNE_KEEP_RECENT;
    return it->lock_until > now ? CF_PRUNE_KEEP_LOCKED : CF_PRUNE_DELETE;
}

static bool
is_expired_verified(const struct cf_prune_item *it, enum cf_prune_action a)
{
    return it->is_complete && it->is_verified &&
           (a == CF_PRUNE_KEEP_LOCKED || a == CF_PRUNE_DELETE);
}

/* Mark the newest `need` expired verified items KEEP_MIN; equal times: lowest index. */
static void
keep_newest(const struct cf_prune_item *items, size_t n, size_t need,
            enum cf_prune_action *actions)
{
    for (; need > 0; need--) {
        size_t best = n;

        for (size_t i = 0; i < n; i++)
            if (is_expired_verified(&items[i], actions[i]) &&
                (best == n || items[i].time > items[best].time))
                best = i;
        if (best == n)
            return;
        actions[best] = CF_PRUNE_KEEP_MIN;
    }
}

void
cf_prune_plan(const struct cf_retention_policy *p, int64_t now, int64_t incomplete_grace,
              const struct cf_prune_item *items, size_t n, enum cf_prune_action *actions)
{
    size_t retained_verified = 0;

    for (size_t i = 0; i < n; i++) {
        const struct cf_prune_item *it = &items[i];

        if (!it->is_complete)
            actions[i] = plan_incomplete(it, now, incomplete_grace);
        else if (now < cf_retention_expiry(p, it->cls, it->time))
            actions[i] = CF_PRUNE_KEEP_RETAINED;
        else
            actions[i] = it->lock_until > now ? CF_PRUNE_KEEP_LOCKED : CF_PRUNE_DELETE;
        if (actions[i] == CF_PRUNE_KEEP_RETAINED && it->is_verified)
            retained_verified++;
    }
    if (p->min_keep > retained_verified)
        keep_newest(items, n, p->min_keep - retained_verified, actions);
}

const char *
cf_retention_class_name(enum cf_retention_class c)
{
    switch (c) {
    case CF_CLASS_DAILY:
        return "daily";
    case CF_CLASS_WEEKLY:
        return "weekly";
    case CF_CLASS_MONTHLY:
        return "monthly";
    }
    return NULL;
}

enum cf_retention_class
cf_retention_class_parse(const char *name)
{
    static const enum cf_retention_class all[] = {CF_CLASS_DAILY, CF_CLASS_WEEKLY,
                                                  CF_CLASS_MONTHLY};

    for (size_t i = 0; name != NULL && i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(name, cf_retention_class_name(all[i])) == 0)
            return all[i];
    return (enum cf_retention_class)0;
}

const char *
cf_prune_action_name(enum cf_prune_action a)
{
    switch (a) {
    case CF_PRUNE_KEEP_RETAINED:
        return "keep-retained";
    case CF_PRUNE_KEEP_MIN:
        return "keep-min";
    case CF_PRUNE_KEEP_LOCKED:
        return "keep-locked";
    case CF_PRUNE_KEEP_RECENT:
        return "keep-recent";
    case CF_PRUNE_DELETE:
        return "delete";
    }
    return NULL;
}
