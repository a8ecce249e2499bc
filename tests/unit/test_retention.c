/*
 * test_retention.c - GFS classes, expiry, lock dates and prune plans.
 *
 * Exact cases on month, ISO-week and leap-year boundaries, then property
 * tests: two simulated years of daily backups (skipped days, failed runs,
 * unverified and later corrupted backups, policy changes), pruned every
 * day and checked every day against a model written independently of
 * policies/retention.c: dates come from a calendar advanced one day at a
 * time, never from day-number arithmetic.  The checker itself is tested
 * against deliberately broken planners.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "policies/retention.h"

#define DAY INT64_C(86400)
#define HOUR INT64_C(3600)
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a naive calendar: slow, obviously right ---------------------------------------- */

static bool
leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
mlen(int y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && leap(y) ? 29 : len[m - 1];
}

/* Seconds since the epoch, by counting whole years and months. */
static int64_t
utc(int y, int mo, int d, int h, int mi, int s)
{
    int64_t days = d - 1;

    for (int yy = 1970; yy < y; yy++)
        days += leap(yy) ? 366 : 365;
    for (int yy = y; yy < 1970; yy++)
        days -= leap(yy) ? 366 : 365;
    for (int mm = 1; mm < mo; mm++)
        days += mlen(y, mm);
    return days * DAY + h * HOUR + (int64_t)mi * 60 + s;
}

struct date {
    int y, m, d;
};

static void
next_day(struct date *dt)
{
    if (++dt->d > mlen(dt->y, dt->m)) {
        dt->d = 1;
        if (++dt->m > 12) {
            dt->m = 1;
            dt->y++;
        }
    }
}

static void
test_naive_calendar_anchors(void **state)
{
    (void)state;
    /* date -u -d DATE +%s */
    assert_int_equal(utc(1970, 1, 1, 0, 0, 0), 0);
    assert_int_equal(utc(1969, 12, 28, 0, 0, 0), -345600);
    assert_int_equal(utc(1900, 1, 1, 0, 0, 0), -2208988800);
    assert_int_equal(utc(2024, 2, 29, 0, 0, 0), 1709164800);
    assert_int_equal(utc(2025, 12, 29, 0, 0, 0), 1766966400);
    assert_int_equal(utc(2400, 12, 31, 0, 0, 0), 13601001600);
}

/* ---- names ----------------------------------------------------------------------------- */

static void
test_names(void **state)
{
    static const char *const bad[] = {"", "Daily", "DAILY", "day", "dailyx", " daily",
                                      "monthly\n", "yearly"};

    (void)state;
    assert_string_equal(cf_retention_class_name(CF_CLASS_DAILY), "daily");
    assert_string_equal(cf_retention_class_name(CF_CLASS_WEEKLY), "weekly");
    assert_string_equal(cf_retention_class_name(CF_CLASS_MONTHLY), "monthly");
    assert_null(cf_retention_class_name((enum cf_retention_class)0));
    assert_null(cf_retention_class_name((enum cf_retention_class)4));
    for (int c = CF_CLASS_DAILY; c <= CF_CLASS_MONTHLY; c++)
        assert_int_equal(cf_retention_class_parse(
                             cf_retention_class_name((enum cf_retention_class)c)), c);
    for (size_t i = 0; i < N_ELEMS(bad); i++)
        assert_int_equal(cf_retention_class_parse(bad[i]), 0);
    assert_int_equal(cf_retention_class_parse(NULL), 0);

    assert_string_equal(cf_prune_action_name(CF_PRUNE_KEEP_RETAINED), "keep-retained");
    assert_string_equal(cf_prune_action_name(CF_PRUNE_KEEP_MIN), "keep-min");
    assert_string_equal(cf_prune_action_name(CF_PRUNE_KEEP_LOCKED), "keep-locked");
    assert_string_equal(cf_prune_action_name(CF_PRUNE_KEEP_RECENT), "keep-recent");
    assert_string_equal(cf_prune_action_name(CF_PRUNE_DELETE), "delete");
    assert_null(cf_prune_action_name((enum cf_prune_action)0));
    assert_null(cf_prune_action_name((enum cf_prune_action)6));
}

/* ---- ISO weeks ------------------------------------------------------------------------- */

static void
test_iso_week_table(void **state)
{
    /* date -u -d DATE +%G-%V */
    static const struct {
        int y, m, d, iso_year;
        unsigned week;
    } cases[] = {
        {2025, 12, 28, 2025, 52}, {2025, 12, 29, 2026, 1}, {2026, 1, 4, 2026, 1},
        {2026, 1, 5, 2026, 2},    {2020, 12, 31, 2020, 53}, {2021, 1, 3, 2020, 53},
        {2021, 1, 4, 2021, 1},    {2024, 12, 29, 2024, 52}, {2024, 12, 30, 2025, 1},
        {2015, 12, 31, 2015, 53}, {2016, 1, 3, 2015, 53},  {2016, 1, 4, 2016, 1},
        {2008, 12, 29, 2009, 1},  {2022, 1, 1, 2021, 52},  {2027, 12, 31, 2027, 52},
        {2000, 2, 29, 2000, 9},   {2024, 2, 29, 2024, 9},  {1970, 1, 1, 1970, 1},
        {1969, 12, 29, 1970, 1},  {1969, 12, 28, 1969, 52}, {1900, 1, 1, 1900, 1},
        {2400, 12, 31, 2400, 52},
    };

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        int64_t t = utc(cases[i].y, cases[i].m, cases[i].d, 0, 0, 0);

        for (int64_t at = t; at <= t + DAY - 1; at += DAY - 1) {
            int64_t iso_year = 0;
            unsigned week = 0;

            cf_retention_iso_week(at, &iso_year, &week);
            if (iso_year != cases[i].iso_year || week != cases[i].week)
                fail_msg("%04d-%02d-%02d at %lld: got %lld-W%02u, want %d-W%02u", cases[i].y,
                         cases[i].m, cases[i].d, (long long)at, (long long)iso_year, week,
                         cases[i].iso_year, cases[i].week);
        }
    }
}

/*
 * Every day from 1900-01-01 (a Monday) to 2400-12-31 against the definition:
 * weeks start on Monday, and a week belongs to the year of its Thursday and
 * is numbered by the count of that year's Thursdays so far.
 */
static void
test_iso_week_sweep(void **state)
{
    struct date dt = {1900, 1, 1};
    int64_t t = utc(1900, 1, 1, 12, 0, 0), prev_year = 0;
    unsigned prev_week = 0, thursdays = 0;

    (void)state;
    for (int wd = 0; dt.y <= 2400; wd = (wd + 1) % 7, t += DAY, next_day(&dt)) {
        int64_t iso_year;
        unsigned week;

        cf_retention_iso_week(t, &iso_year, &week);
        if (dt.m == 1 && dt.d == 1)
            thursdays = 0;
        if (wd == 3) {
            thursdays++;
            if (iso_year != dt.y || week != thursdays)
                fail_msg("%04d-%02d-%02d (Thursday): %lld-W%02u, want %d-W%02u", dt.y, dt.m,
                         dt.d, (long long)iso_year, week, dt.y, thursdays);
        }
        if (wd != 0 && (iso_year != prev_year || week != prev_week))
            fail_msg("%04d-%02d-%02d: week changed on a day other than Monday", dt.y, dt.m,
                     dt.d);
        if (wd == 0 && iso_year == prev_year && week == prev_week)
            fail_msg("%04d-%02d-%02d: week did not change on Monday", dt.y, dt.m, dt.d);
        prev_year = iso_year;
        prev_week = week;
    }
}

/* ---- classify -------------------------------------------------------------------------- */

#define AT(y, m, d) utc((y), (m), (d), 2, 0, 0)

static enum cf_retention_class
classify(int64_t t, const int64_t *prev, size_t n)
{
    return cf_retention_classify(t, prev, n);
}

static void
test_classify_basics(void **state)
{
    int64_t t = AT(2025, 6, 11);
    int64_t later[] = {t, t + 1, t + DAY, AT(2025, 6, 1) + 40 * DAY};
    int64_t mixed[] = {t + DAY, AT(2025, 5, 31), t, AT(2025, 6, 9), AT(2025, 6, 1)};

    (void)state;
    assert_int_equal(cf_retention_classify(t, NULL, 0), CF_CLASS_MONTHLY);
    /* entries at or after t are ignored: a backup is not its own predecessor */
    assert_int_equal(classify(t, later, N_ELEMS(later)), CF_CLASS_MONTHLY);
    /* any order; 2025-06-09 is the Monday of t's week */
    assert_int_equal(classify(t, mixed, N_ELEMS(mixed)), CF_CLASS_DAILY);
    assert_int_equal(classify(t, mixed, 2), CF_CLASS_MONTHLY);
    assert_int_equal(classify(t, mixed + 4, 1), CF_CLASS_WEEKLY);
}

static void
test_classify_month_boundaries(void **state)
{
    int64_t jan31 = utc(2024, 1, 31, 23, 59, 59), feb1 = utc(2024, 2, 1, 0, 0, 0);
    int64_t jan29 = utc(2024, 1, 29, 0, 0, 0);
    int64_t p1[] = {jan31};
    int64_t p2[] = {jan29};
    int64_t p3[] = {AT(2024, 2, 1)};
    int64_t p4[] = {AT(2024, 2, 26), AT(2024, 2, 1)};
    int64_t p5[] = {AT(2024, 2, 29)};
    int64_t p6[] = {AT(2024, 2, 29), AT(2024, 3, 1)};
    int64_t p7[] = {AT(2023, 2, 27), AT(2023, 2, 1)};
    int64_t p8[] = {utc(2024, 3, 1, 0, 0, 0), utc(2024, 3, 3, 23, 59, 59)};

    (void)state;
    /* the month changes at 00:00 UTC, even inside one ISO week (Wed -> Thu) */
    assert_int_equal(classify(feb1, p1, 1), CF_CLASS_MONTHLY);
    assert_int_equal(classify(jan31, p2, 1), CF_CLASS_DAILY);
    /* leap year: 2024-02-29 is a Thursday, four weeks after Thursday 02-01 */
    assert_int_equal(classify(AT(2024, 2, 29), p3, 1), CF_CLASS_WEEKLY);
    assert_int_equal(classify(AT(2024, 2, 29), p4, 2), CF_CLASS_DAILY);
    /* first of March is monthly although its ISO week already has a backup */
    assert_int_equal(classify(AT(2024, 3, 1), p5, 1), CF_CLASS_MONTHLY);
    assert_int_equal(classify(AT(2024, 3, 2), p6, 2), CF_CLASS_DAILY);
    assert_int_equal(classify(AT(2024, 3, 4), p6, 2), CF_CLASS_WEEKLY);
    /* non-leap February: 02-28 (Tue) is in the week of 02-27, 03-01 is a new month */
    assert_int_equal(classify(AT(2023, 2, 28), p7, 2), CF_CLASS_DAILY);
    assert_int_equal(classify(AT(2023, 3, 1), p7, 2), CF_CLASS_MONTHLY);
    /* the week changes at Monday 00:00 UTC */
    assert_int_equal(classify(utc(2024, 3, 4, 0, 0, 0), p8, 2), CF_CLASS_WEEKLY);
    assert_int_equal(classify(utc(2024, 3, 3, 23, 59, 59), p8, 1), CF_CLASS_DAILY);
}

static void
test_classify_iso_year_boundaries(void **state)
{
    int64_t p1[] = {AT(2025, 12, 29)};                 /* Monday of 2026-W01 */
    int64_t p2[] = {AT(2025, 12, 29), AT(2026, 1, 1)};
    int64_t p3[] = {AT(2025, 12, 28), AT(2025, 12, 1)}; /* Sunday of 2025-W52 */
    int64_t p4[] = {AT(2026, 1, 1)};
    int64_t p5[] = {AT(2020, 12, 28)};                 /* Monday of 2020-W53 */
    int64_t p6[] = {AT(2020, 12, 28), AT(2021, 1, 1)};
    int64_t p7[] = {AT(2020, 12, 31)};
    int64_t p8[] = {AT(2021, 1, 1)};
    int64_t p9[] = {AT(1969, 12, 29)};                 /* Monday of 1970-W01 */
    int64_t p10[] = {AT(1969, 12, 29), AT(1970, 1, 1)};

    (void)state;
    assert_int_equal(classify(AT(2025, 12, 31), p1, 1), CF_CLASS_DAILY);
    assert_int_equal(classify(AT(2026, 1, 1), p1, 1), CF_CLASS_MONTHLY);
    /* Sunday 2026-01-04 shares 2026-W01 with Monday 2025-12-29 */
    assert_int_equal(classify(AT(2026, 1, 4), p2, 2), CF_CLASS_DAILY);
    assert_int_equal(classify(AT(2026, 1, 5), p2, 2), CF_CLASS_WEEKLY);
    /* 2025-12-29 opens 2026-W01 while still in calendar 2025 */
    assert_int_equal(classify(AT(2025, 12, 29), p3, 2), CF_CLASS_WEEKLY);
    assert_int_equal(classify(AT(2026, 1, 2), p4, 1), CF_CLASS_DAILY);
    /* 2020 has 53 ISO weeks; 2021-01-01..03 belong to 2020-W53 */
    assert_int_equal(classify(AT(2021, 1, 1), p5, 1), CF_CLASS_MONTHLY);
    assert_int_equal(classify(AT(2021, 1, 3), p6, 2), CF_CLASS_DAILY);
    assert_int_equal(classify(AT(2021, 1, 4), p6, 2), CF_CLASS_WEEKLY);
    assert_int_equal(classify(AT(2021, 1, 2), p7, 1), CF_CLASS_MONTHLY);
    assert_int_equal(classify(AT(2021, 1, 3), p8, 1), CF_CLASS_DAILY);
    /* before the epoch: negative times round down to the right day */
    assert_int_equal(classify(AT(1969, 12, 31), p9, 1), CF_CLASS_DAILY);
    assert_int_equal(classify(AT(1970, 1, 1), p9, 1), CF_CLASS_MONTHLY);
    assert_int_equal(classify(AT(1970, 1, 4), p10, 2), CF_CLASS_DAILY);
    assert_int_equal(classify(AT(1970, 1, 5), p10, 2), CF_CLASS_WEEKLY);
}

/* UTC means UTC: Kiritimati (UTC+14) is already in April at 2024-03-31T23:30Z. */
static void
test_classify_ignores_tz(void **state)
{
    int64_t prev[] = {AT(2024, 3, 25)};
    const char *old = getenv("TZ");
    char *saved = old != NULL ? strdup(old) : NULL;

    (void)state;
    assert_int_equal(setenv("TZ", "Pacific/Kiritimati", 1), 0);
    tzset();
    assert_int_equal(classify(utc(2024, 3, 31, 23, 30, 0), prev, 1), CF_CLASS_DAILY);
    assert_int_equal(classify(utc(2024, 4, 1, 0, 0, 0), prev, 1), CF_CLASS_MONTHLY);
    if (saved != NULL)
        assert_int_equal(setenv("TZ", saved, 1), 0);
    else
        assert_int_equal(unsetenv("TZ"), 0);
    tzset();
    free(saved);
}

/* ---- expiry and lock dates ------------------------------------------------------------- */

static int64_t
expiry(unsigned daily, unsigned weekly, unsigned monthly, enum cf_retention_class c,
       int64_t t)
{
    struct cf_retention_policy p = {daily, weekly, monthly, 3, 0};

    return cf_retention_expiry(&p, c, t);
}

static void
test_expiry_exact(void **state)
{
    int64_t t = utc(2025, 1, 31, 2, 0, 0);

    (void)state;
    assert_int_equal(expiry(7, 4, 12, CF_CLASS_DAILY, t), t + 7 * DAY);
    assert_int_equal(expiry(7, 4, 12, CF_CLASS_WEEKLY, t), t + 28 * DAY);
    assert_int_equal(expiry(7, 4, 12, CF_CLASS_MONTHLY, t), utc(2026, 1, 31, 2, 0, 0));
    assert_int_equal(expiry(0, 0, 0, CF_CLASS_DAILY, t), t);
    assert_int_equal(expiry(0, 0, 0, CF_CLASS_WEEKLY, t), t);
    assert_int_equal(expiry(0, 0, 0, CF_CLASS_MONTHLY, t), t);
    /* day clamped to the target month, time of day kept */
    assert_int_equal(expiry(0, 0, 1, CF_CLASS_MONTHLY, utc(2024, 1, 31, 23, 59, 59)),
                     utc(2024, 2, 29, 23, 59, 59));
    assert_int_equal(expiry(0, 0, 1, CF_CLASS_MONTHLY, utc(2023, 1, 31, 10, 0, 0)),
                     utc(2023, 2, 28, 10, 0, 0));
    assert_int_equal(expiry(0, 0, 1, CF_CLASS_MONTHLY, utc(2024, 3, 31, 0, 0, 0)),
                     utc(2024, 4, 30, 0, 0, 0));
    assert_int_equal(expiry(0, 0, 1, CF_CLASS_MONTHLY, utc(2024, 12, 15, 2, 0, 0)),
                     utc(2025, 1, 15, 2, 0, 0));
    assert_int_equal(expiry(0, 0, 1, CF_CLASS_MONTHLY, utc(2024, 12, 31, 2, 0, 0)),
                     utc(2025, 1, 31, 2, 0, 0));
    assert_int_equal(expiry(0, 0, 4, CF_CLASS_MONTHLY, utc(2024, 10, 31, 2, 0, 0)),
                     utc(2025, 2, 28, 2, 0, 0));
    assert_int_equal(expiry(0, 0, 12, CF_CLASS_MONTHLY, utc(2024, 2, 29, 10, 0, 0)),
                     utc(2025, 2, 28, 10, 0, 0));
    assert_int_equal(expiry(0, 0, 48, CF_CLASS_MONTHLY, utc(2024, 2, 29, 10, 0, 0)),
                     utc(2028, 2, 29, 10, 0, 0));
    assert_int_equal(expiry(0, 0, 1, CF_CLASS_MONTHLY, utc(1900, 1, 31, 2, 0, 0)),
                     utc(1900, 2, 28, 2, 0, 0));
    assert_int_equal(expiry(0, 0, 1, CF_CLASS_MONTHLY, utc(2000, 1, 31, 2, 0, 0)),
                     utc(2000, 2, 29, 2, 0, 0));
    assert_int_equal(expiry(0, 0, 2, CF_CLASS_MONTHLY, utc(1969, 12, 31, 23, 0, 0)),
                     utc(1970, 2, 28, 23, 0, 0));
    /* what cannot be classified never expires */
    assert_int_equal(expiry(7, 4, 12, (enum cf_retention_class)0, t), CF_RETENTION_TIME_MAX);
    assert_int_equal(expiry(7, 4, 12, (enum cf_retention_class)9, t), CF_RETENTION_TIME_MAX);
}

/* Monthly expiry against the naive calendar: every day of 1999-2031, many periods. */
static void
test_expiry_months_sweep(void **state)
{
    static const unsigned periods[] = {0, 1, 2, 3, 5, 6, 11, 12, 13, 23, 24, 25, 36, 100, 1200};
    struct date dt = {1999, 1, 1};

    (void)state;
    for (int i = 0; dt.y < 2032; i++, next_day(&dt)) {
        int tod = (i * 7919) % 86400;
        int64_t t = utc(dt.y, dt.m, dt.d, 0, 0, tod);

        for (size_t k = 0; k < N_ELEMS(periods); k++) {
            int index = dt.m - 1 + (int)periods[k];
            int y = dt.y + index / 12, m = index % 12 + 1;
            int d = dt.d < mlen(y, m) ? dt.d : mlen(y, m);
            int64_t want = utc(y, m, d, 0, 0, tod);
            int64_t got = expiry(0, 0, periods[k], CF_CLASS_MONTHLY, t);

            if (got != want)
                fail_msg("%04d-%02d-%02d + %u months: got %lld, want %lld", dt.y, dt.m, dt.d,
                         periods[k], (long long)got, (long long)want);
        }
    }
}

static void
test_expiry_extremes(void **state)
{
    int64_t t = utc(2025, 1, 31, 2, 0, 0);
    struct cf_retention_policy big = {10000, 10000, 10000, 3, 86400};
    struct cf_retention_policy huge = {UINT32_MAX, UINT32_MAX, UINT32_MAX, 3, INT64_MAX};
    static const int64_t times[] = {INT64_MIN, INT64_MIN + 1, -CF_RETENTION_TIME_MAX - 1,
                                    -1, 0, CF_RETENTION_TIME_MAX, INT64_MAX};

    (void)state;
    /* the configuration's largest values are exact */
    assert_int_equal(cf_retention_expiry(&big, CF_CLASS_DAILY, t), t + 10000 * DAY);
    assert_int_equal(cf_retention_expiry(&big, CF_CLASS_WEEKLY, t), t + 70000 * DAY);
    assert_int_equal(cf_retention_expiry(&big, CF_CLASS_MONTHLY, t), utc(2858, 5, 31, 2, 0, 0));
    assert_int_equal(cf_retention_lock_until(&big, CF_CLASS_MONTHLY, t),
                     utc(2858, 6, 1, 2, 0, 0));
    /* anything larger saturates instead of overflowing (UBSan would trap) */
    for (int c = CF_CLASS_DAILY; c <= CF_CLASS_MONTHLY; c++) {
        enum cf_retention_class cls = (enum cf_retention_class)c;

        assert_true(cf_retention_expiry(&huge, cls, t) > t);
        assert_int_equal(cf_retention_lock_until(&huge, cls, t), CF_RETENTION_TIME_MAX);
        for (size_t i = 0; i < N_ELEMS(times); i++) {
            int64_t e = cf_retention_expiry(&huge, cls, times[i]);
            int64_t l = cf_retention_lock_until(&big, cls, times[i]);

            assert_true(e >= -CF_RETENTION_TIME_MAX && e <= CF_RETENTION_TIME_MAX);
            assert_true(l >= -CF_RETENTION_TIME_MAX && l <= CF_RETENTION_TIME_MAX);
            if (times[i] >= CF_RETENTION_TIME_MAX)
                assert_int_equal(e, CF_RETENTION_TIME_MAX);
        }
    }
}

static void
test_lock_until_margin(void **state)
{
    int64_t t = utc(2024, 1, 31, 2, 0, 0);
    struct cf_retention_policy p = {7, 4, 1, 3, 0};

    (void)state;
    assert_int_equal(cf_retention_lock_until(&p, CF_CLASS_DAILY, t), t + 7 * DAY);
    p.margin = 86400;
    assert_int_equal(cf_retention_lock_until(&p, CF_CLASS_DAILY, t), t + 8 * DAY);
    assert_int_equal(cf_retention_lock_until(&p, CF_CLASS_WEEKLY, t), t + 29 * DAY);
    assert_int_equal(cf_retention_lock_until(&p, CF_CLASS_MONTHLY, t), utc(2024, 3, 1, 2, 0, 0));
    p.margin = 3600;
    assert_int_equal(cf_retention_lock_until(&p, CF_CLASS_MONTHLY, t),
                     utc(2024, 2, 29, 3, 0, 0));
    /* a negative margin never shortens the lock below the expiry */
    p.margin = -DAY;
    assert_int_equal(cf_retention_lock_until(&p, CF_CLASS_DAILY, t), t + 7 * DAY);
    p.margin = INT64_MIN;
    assert_int_equal(cf_retention_lock_until(&p, CF_CLASS_MONTHLY, t), utc(2024, 2, 29, 2, 0, 0));
    p.margin = INT64_MAX;
    assert_int_equal(cf_retention_lock_until(&p, CF_CLASS_DAILY, t), CF_RETENTION_TIME_MAX);
}

/* ---- prune plans, exact ---------------------------------------------------------------- */

#define COMPLETE(time, cls, lock, verified) {(time), (cls), (lock), true, (verified)}
#define INCOMPLETE(time, lock) {(time), (enum cf_retention_class)0, (lock), false, false}

static void
expect_plan(const struct cf_retention_policy *p, int64_t now, int64_t grace,
            const struct cf_prune_item *items, size_t n, const enum cf_prune_action *want)
{
    enum cf_prune_action got[16];

    assert_true(n <= N_ELEMS(got));
    cf_prune_plan(p, now, grace, items, n, got);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("item %zu: got %s, want %s", i, cf_prune_action_name(got[i]),
                     cf_prune_action_name(want[i]));
}

static void
test_plan_boundaries(void **state)
{
    struct cf_retention_policy p = {7, 4, 1, 0, 86400};
    int64_t now = utc(2025, 6, 15, 12, 0, 0), grace = 6 * HOUR;
    const struct cf_prune_item items[] = {
        COMPLETE(now - 7 * DAY + 1, CF_CLASS_DAILY, 0, true),
        COMPLETE(now - 7 * DAY, CF_CLASS_DAILY, 0, true),
        COMPLETE(now - 7 * DAY, CF_CLASS_DAILY, now + 1, true),
        COMPLETE(now - 7 * DAY, CF_CLASS_DAILY, now, true),
        COMPLETE(utc(2025, 5, 15, 12, 0, 1), CF_CLASS_MONTHLY, 0, true),
        COMPLETE(utc(2025, 5, 15, 12, 0, 0), CF_CLASS_MONTHLY, 0, true),
        COMPLETE(now - 28 * DAY, CF_CLASS_WEEKLY, 0, false),
        COMPLETE(now - 28 * DAY + 1, CF_CLASS_WEEKLY, 0, false),
        COMPLETE(now - 1000 * DAY, (enum cf_retention_class)0, 0, true),
        INCOMPLETE(now - grace, 0),
        INCOMPLETE(now - grace + 1, 0),
        INCOMPLETE(now - grace, now + 1),
        INCOMPLETE(now - grace + 1, now + DAY),
        INCOMPLETE(now + DAY, 0),
        {now - 30 * DAY, CF_CLASS_DAILY, 0, false, true}, /* "verified" but incomplete */
    };
    const enum cf_prune_action want[] = {
        CF_PRUNE_KEEP_RETAINED, CF_PRUNE_DELETE,        CF_PRUNE_KEEP_LOCKED,
        CF_PRUNE_DELETE,        CF_PRUNE_KEEP_RETAINED, CF_PRUNE_DELETE,
        CF_PRUNE_DELETE,        CF_PRUNE_KEEP_RETAINED, CF_PRUNE_KEEP_RETAINED,
        CF_PRUNE_DELETE,        CF_PRUNE_KEEP_RECENT,   CF_PRUNE_KEEP_LOCKED,
        CF_PRUNE_KEEP_RECENT,   CF_PRUNE_KEEP_RECENT,   CF_PRUNE_DELETE,
    };

    (void)state;
    assert_int_equal(N_ELEMS(items), N_ELEMS(want));
    expect_plan(&p, now, grace, items, N_ELEMS(items), want);
    cf_prune_plan(&p, now, grace, NULL, 0, NULL);
}

static void
test_plan_min_keep(void **state)
{
    struct cf_retention_policy p = {7, 4, 12, 3, 86400};
    int64_t now = utc(2025, 6, 15, 12, 0, 0), old = now - 40 * DAY;
    struct cf_prune_item items[] = {
        COMPLETE(now - DAY, CF_CLASS_DAILY, 0, true),       /* retained, counts */
        COMPLETE(now - 2 * DAY, CF_CLASS_DAILY, 0, false),  /* retained, does not count */
        COMPLETE(now - 3 * DAY, CF_CLASS_DAILY, 0, false),
        COMPLETE(old - 10 * DAY, CF_CLASS_DAILY, 0, true),  /* E4 */
        COMPLETE(old, CF_CLASS_DAILY, 0, false),            /* newest expired: unverified */
        COMPLETE(old - 1 * DAY, CF_CLASS_DAILY, 0, true),   /* E1 */
        COMPLETE(old - 3 * DAY, CF_CLASS_DAILY, now + 1, true), /* E3, locked */
        COMPLETE(old - 2 * DAY, CF_CLASS_DAILY, 0, true),   /* E2 */
        {now - HOUR, CF_CLASS_DAILY, 0, false, true},       /* incomplete: never counts */
        {old + DAY, CF_CLASS_DAILY, 0, false, true},
    };
    enum cf_prune_action want[] = {
        CF_PRUNE_KEEP_RETAINED, CF_PRUNE_KEEP_RETAINED, CF_PRUNE_KEEP_RETAINED,
        CF_PRUNE_DELETE,        CF_PRUNE_DELETE,        CF_PRUNE_KEEP_MIN,
        CF_PRUNE_KEEP_LOCKED,   CF_PRUNE_KEEP_MIN,      CF_PRUNE_KEEP_RECENT,
        CF_PRUNE_DELETE,
    };

    (void)state;
    expect_plan(&p, now, 6 * HOUR, items, N_ELEMS(items), want);
    /* a locked item among the newest expired is labelled for min_keep */
    items[5].lock_until = now + DAY;
    want[5] = CF_PRUNE_KEEP_MIN;
    expect_plan(&p, now, 6 * HOUR, items, N_ELEMS(items), want);
    /* min_keep reaches further back when more verified backups are missing */
    p.min_keep = 5;
    want[6] = want[3] = CF_PRUNE_KEEP_MIN;
    expect_plan(&p, now, 6 * HOUR, items, N_ELEMS(items), want);
    /* and keeps every expired verified one if there are not enough */
    p.min_keep = 100;
    expect_plan(&p, now, 6 * HOUR, items, N_ELEMS(items), want);
    /* enough retained verified backups: min_keep keeps nothing */
    p.min_keep = 1;
    want[3] = want[7] = CF_PRUNE_DELETE;
    want[5] = want[6] = CF_PRUNE_KEEP_LOCKED;
    expect_plan(&p, now, 6 * HOUR, items, N_ELEMS(items), want);
}

static void
test_plan_min_keep_ties(void **state)
{
    struct cf_retention_policy p = {7, 4, 12, 1, 0};
    int64_t now = utc(2025, 6, 15, 12, 0, 0), t = now - 30 * DAY;
    const struct cf_prune_item items[] = {
        COMPLETE(t - DAY, CF_CLASS_DAILY, 0, true),
        COMPLETE(t, CF_CLASS_DAILY, 0, true),
        COMPLETE(t, CF_CLASS_DAILY, 0, true),
    };
    const enum cf_prune_action want[] = {CF_PRUNE_DELETE, CF_PRUNE_KEEP_MIN, CF_PRUNE_DELETE};
    const struct cf_prune_item reversed[] = {items[2], items[1], items[0]};
    const enum cf_prune_action want_reversed[] = {CF_PRUNE_KEEP_MIN, CF_PRUNE_DELETE,
                                                  CF_PRUNE_DELETE};

    (void)state;
    /* equal times: the item listed first wins, so the plan is deterministic */
    expect_plan(&p, now, 0, items, N_ELEMS(items), want);
    expect_plan(&p, now, 0, reversed, N_ELEMS(reversed), want_reversed);
}

/* ---- the simulation -------------------------------------------------------------------- */

#define SIM_DAYS 730
#define CAL_DAYS 2000    /* SIM_DAYS + 36 months of expiry, and then some */
#define CAL_MONTHS 80
#define MAX_MONTHLY 36
#define MAX_BACKUPS (SIM_DAYS + 1)

typedef void (*planner_fn)(const struct cf_retention_policy *p, int64_t now, int64_t grace,
                           const struct cf_prune_item *items, size_t n,
                           enum cf_prune_action *actions);

struct sim_case {
    const char *name;
    struct cf_retention_policy policy;
    struct cf_retention_policy later;  /* from switch_day on, if switch_day > 0 */
    int switch_day;
    /* per mille: per day, per run, per backup, per day */
    unsigned skip, fail, unverified, corrupt;
    int64_t grace;
    int y, m, d, wd;                           /* day 0 and its weekday (0 = Monday) */
    bool check_monthly_max;                    /* at most monthly + 1 monthly backups kept */
};

struct cal_day {
    int y, m, d, wd, month, week;  /* month and week: indexes counted from day 0 */
};

struct backup {
    int64_t time, lock_until;
    int day;
    enum cf_retention_class cls;
    bool is_complete, is_verified, is_deleted;
};

struct sim {
    const struct sim_case *c;
    planner_fn plan;
    uint64_t rng;
    int64_t start;  /* 00:00 UTC of day 0 */
    struct cal_day cal[CAL_DAYS];
    int month_first[CAL_MONTHS], month_len[CAL_MONTHS];
    bool month_success[CAL_MONTHS];
    struct backup b[MAX_BACKUPS];
    size_t nb;
    /* one prune's scratch */
    struct cf_prune_item items[MAX_BACKUPS];
    size_t idx[MAX_BACKUPS], cand[MAX_BACKUPS];
    enum cf_prune_action act[MAX_BACKUPS], want[MAX_BACKUPS];
    size_t n;
    int64_t now;
    unsigned long seen[CF_PRUNE_DELETE + 1];  /* actions planned, to show the run was not vacuous */
    char msg[512];
};

/* xorshift64*: small, seedable, and the same on every platform. */
static uint64_t
rnd(struct sim *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * UINT64_C(0x2545F4914F6CDD1D);
}

static unsigned
rnd_below(struct sim *s, unsigned n)
{
    return (unsigned)((rnd(s) >> 11) % n);
}

static bool sim_fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool
sim_fail(struct sim *s, const char *fmt, ...)
{
    va_list ap;
    int len = snprintf(s->msg, sizeof(s->msg), "%s: ", s->c->name);

    va_start(ap, fmt);
    (void)vsnprintf(s->msg + len, sizeof(s->msg) - (size_t)len, fmt, ap);
    va_end(ap);
    return false;
}

static void
sim_init(struct sim *s, const struct sim_case *c, planner_fn plan, uint64_t seed)
{
    int y = c->y, m = c->m, d = c->d, wd = c->wd, month = 0, week = 0;

    memset(s, 0, sizeof(*s));
    s->c = c;
    s->plan = plan;
    s->rng = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
    s->start = utc(y, m, d, 0, 0, 0);
    s->month_first[0] = 1 - d;
    s->month_len[0] = mlen(y, m);
    for (int i = 0; i < CAL_DAYS; i++) {
        s->cal[i] = (struct cal_day){y, m, d, wd, month, week};
        wd = (wd + 1) % 7;
        week += wd == 0;
        if (++d > mlen(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
            month++;
            assert_true(month < CAL_MONTHS);
            s->month_first[month] = i + 1;
            s->month_len[month] = mlen(y, m);
        }
    }
}

static const struct cf_retention_policy *
sim_policy(const struct sim *s, int day)
{
    return s->c->switch_day > 0 && day >= s->c->switch_day ? &s->c->later : &s->c->policy;
}

/* The model's expiry: whole days, or a month index on the calendar. */
static int64_t
model_expiry(const struct sim *s, const struct cf_retention_policy *p, const struct backup *b)
{
    const struct cal_day *cd = &s->cal[b->day];
    int64_t midnight = s->start + b->day * DAY;
    int target, d;

    switch (b->cls) {
    case CF_CLASS_DAILY:
        return b->time + (int64_t)p->daily * DAY;
    case CF_CLASS_WEEKLY:
        return b->time + (int64_t)p->weekly * 7 * DAY;
    case CF_CLASS_MONTHLY:
        target = cd->month + (int)p->monthly;
        d = cd->d < s->month_len[target] ? cd->d : s->month_len[target];
        return s->start + (int64_t)(s->month_first[target] + d - 1) * DAY + (b->time - midnight);
    }
    return INT64_MAX;
}

/* The model's class: compare month and week indexes of the kept complete backups. */
static enum cf_retention_class
model_class(const struct sim *s, int day)
{
    bool has_month = false, has_week = false;

    for (size_t i = 0; i < s->nb; i++) {
        const struct backup *b = &s->b[i];

        if (b->is_deleted || !b->is_complete || b->day >= day)
            continue;
        has_month = has_month || s->cal[b->day].month == s->cal[day].month;
        has_week = has_week || s->cal[b->day].week == s->cal[day].week;
    }
    return !has_month ? CF_CLASS_MONTHLY : !has_week ? CF_CLASS_WEEKLY : CF_CLASS_DAILY;
}

static bool
sim_backup(struct sim *s, int day)
{
    const struct cf_retention_policy *p = sim_policy(s, day);
    struct backup *b;
    int64_t prev[MAX_BACKUPS], want_lock;
    size_t n = 0;

    if (rnd_below(s, 1000) < s->c->skip)
        return true;
    b = &s->b[s->nb++];
    *b = (struct backup){.time = s->start + day * DAY + 2 * HOUR, .day = day};
    if (rnd_below(s, 1000) < s->c->fail) {
        /* a failed run: parts already written may carry a short lock */
        b->lock_until = rnd_below(s, 2) ? 0 : b->time + rnd_below(s, 4) * DAY;
        return true;
    }
    for (size_t i = 0; i + 1 < s->nb; i++)
        if (!s->b[i].is_deleted && s->b[i].is_complete)
            prev[n++] = s->b[i].time;
    b->cls = cf_retention_classify(b->time, prev, n);
    if (b->cls != model_class(s, day))
        return sim_fail(s, "day %d: classified %s, model says %s", day,
                        cf_retention_class_name(b->cls),
                        cf_retention_class_name(model_class(s, day)));
    b->lock_until = cf_retention_lock_until(p, b->cls, b->time);
    want_lock = model_expiry(s, p, b) + (p->margin > 0 ? p->margin : 0);
    if (b->lock_until != want_lock)
        return sim_fail(s, "day %d: %s lock until %lld, model says %lld", day,
                        cf_retention_class_name(b->cls), (long long)b->lock_until,
                        (long long)want_lock);
    b->is_complete = true;
    b->is_verified = rnd_below(s, 1000) >= s->c->unverified;
    s->month_success[s->cal[day].month] = true;
    return true;
}

/* The plan the model expects, in s->want, for the items in s->items. */
static void
model_plan(struct sim *s, const struct cf_retention_policy *p)
{
    size_t retained_verified = 0, ncand = 0, need;

    for (size_t i = 0; i < s->n; i++) {
        const struct backup *b = &s->b[s->idx[i]];
        bool is_locked = b->lock_until > s->now;

        if (!b->is_complete)
            s->want[i] = s->now - b->time < s->c->grace ? CF_PRUNE_KEEP_RECENT
                         : is_locked                    ? CF_PRUNE_KEEP_LOCKED
                                                        : CF_PRUNE_DELETE;
        else if (s->now < model_expiry(s, p, b))
            s->want[i] = CF_PRUNE_KEEP_RETAINED;
        else
            s->want[i] = is_locked ? CF_PRUNE_KEEP_LOCKED : CF_PRUNE_DELETE;
        if (b->is_complete && b->is_verified && s->want[i] == CF_PRUNE_KEEP_RETAINED)
            retained_verified++;
        else if (b->is_complete && b->is_verified) {
            /* insertion sort, newest first */
            size_t k = ncand++;

            for (; k > 0 && s->b[s->idx[s->cand[k - 1]]].time < b->time; k--)
                s->cand[k] = s->cand[k - 1];
            s->cand[k] = i;
        }
    }
    need = p->min_keep > retained_verified ? p->min_keep - retained_verified : 0;
    for (size_t k = 0; k < need && k < ncand; k++)
        s->want[s->cand[k]] = CF_PRUNE_KEEP_MIN;
}

static const char *
describe(const struct sim *s, size_t i, char *buf, size_t size)
{
    const struct backup *b = &s->b[s->idx[i]];
    const struct cal_day *cd = &s->cal[b->day];

    (void)snprintf(buf, size, "backup of %04d-%02d-%02d (%s%s, lock %+lld s)", cd->y, cd->m,
                   cd->d, b->is_complete ? cf_retention_class_name(b->cls) : "incomplete",
                   b->is_verified ? ", verified" : "", (long long)(b->lock_until - s->now));
    return buf;
}

/* Compare s->act with the model; on a mismatch say which backup and why. */
static bool
check_plan(struct sim *s, int day)
{
    char what[128];

    model_plan(s, sim_policy(s, day));
    for (size_t i = 0; i < s->n; i++)
        if (s->act[i] != s->want[i])
            return sim_fail(s, "day %d: %s: plan says %s, model says %s", day,
                            describe(s, i, what, sizeof(what)),
                            cf_prune_action_name(s->act[i]), cf_prune_action_name(s->want[i]));
    /* redundant with the model, on purpose: this one must hold even if the model is wrong */
    for (size_t i = 0; i < s->n; i++)
        if (s->act[i] == CF_PRUNE_DELETE && s->items[i].lock_until > s->now)
            return sim_fail(s, "day %d: the plan deletes a locked %s", day,
                            describe(s, i, what, sizeof(what)));
    return true;
}

static void
sim_make_plan(struct sim *s, int day, int64_t now)
{
    s->n = 0;
    s->now = now;
    for (size_t k = 0; k < s->nb; k++) {
        const struct backup *b = &s->b[k];

        if (b->is_deleted)
            continue;
        s->items[s->n] = (struct cf_prune_item){b->time, b->cls, b->lock_until, b->is_complete,
                                                b->is_verified};
        s->idx[s->n++] = k;
    }
    s->plan(sim_policy(s, day), now, s->c->grace, s->items, s->n, s->act);
}

static size_t
count_verified(const struct sim *s)
{
    size_t n = 0;

    for (size_t k = 0; k < s->nb; k++)
        n += !s->b[k].is_deleted && s->b[k].is_complete && s->b[k].is_verified;
    return n;
}

static bool
sim_prune(struct sim *s, int day, int64_t now)
{
    const struct cf_retention_policy *p = sim_policy(s, day);
    size_t before = count_verified(s), after, floor;
    size_t retained[4] = {0};
    char what[128];

    sim_make_plan(s, day, now);
    if (!check_plan(s, day))
        return false;
    for (size_t i = 0; i < s->n; i++) {
        struct backup *b = &s->b[s->idx[i]];

        s->seen[s->act[i]]++;
        if (s->act[i] == CF_PRUNE_KEEP_RETAINED)
            retained[b->cls]++;
        if (s->act[i] != CF_PRUNE_DELETE)
            continue;
        if (b->lock_until > now) /* what object lock storage would refuse */
            return sim_fail(s, "day %d: deleted a locked %s", day,
                            describe(s, i, what, sizeof(what)));
        b->is_deleted = true;
    }
    after = count_verified(s);
    floor = before < p->min_keep ? before : p->min_keep;
    if (after < floor)
        return sim_fail(s, "day %d: %zu verified backups left, min_keep %u, %zu before", day,
                        after, p->min_keep, before);
    if (retained[CF_CLASS_DAILY] > p->daily || retained[CF_CLASS_WEEKLY] > p->weekly + 1 ||
        retained[CF_CLASS_MONTHLY] > p->monthly + 1)
        return sim_fail(s, "day %d: %zu daily, %zu weekly, %zu monthly retained", day,
                        retained[CF_CLASS_DAILY], retained[CF_CLASS_WEEKLY],
                        retained[CF_CLASS_MONTHLY]);
    return true;
}

/* Monthly backups kept: one for each recent month with a success, and not many more. */
static bool
check_monthly(struct sim *s, int day)
{
    const struct cf_retention_policy *p = sim_policy(s, day);
    int month = s->cal[day].month;
    unsigned kept = 0, floor = 0;

    if (s->c->switch_day > 0)
        return true;  /* locks from the old policy outlive it */
    for (size_t k = 0; k < s->nb; k++)
        kept += !s->b[k].is_deleted && s->b[k].is_complete && s->b[k].cls == CF_CLASS_MONTHLY;
    for (int m = month; m >= 0 && m > month - (int)p->monthly; m--)
        floor += s->month_success[m];
    if (kept < floor)
        return sim_fail(s, "day %d: %u monthly backups kept, %u months with a success", day,
                        kept, floor);
    if (s->c->check_monthly_max && kept > p->monthly + 1)
        return sim_fail(s, "day %d: %u monthly backups kept, policy %u", day, kept,
                        p->monthly);
    return true;
}

/* Over the whole run: one monthly per month with a success, at most one weekly per week. */
static bool
check_history(struct sim *s)
{
    unsigned monthly[CAL_MONTHS] = {0}, weekly[SIM_DAYS / 7 + 2] = {0};

    for (size_t k = 0; k < s->nb; k++) {
        const struct backup *b = &s->b[k];

        monthly[s->cal[b->day].month] += b->is_complete && b->cls == CF_CLASS_MONTHLY;
        weekly[s->cal[b->day].week] += b->is_complete && b->cls == CF_CLASS_WEEKLY;
    }
    for (int m = 0; m < CAL_MONTHS; m++)
        if (monthly[m] != (s->month_success[m] ? 1u : 0u))
            return sim_fail(s, "month %d had %u monthly backups", m, monthly[m]);
    for (size_t w = 0; w < N_ELEMS(weekly); w++)
        if (weekly[w] > 1)
            return sim_fail(s, "week %zu had %u weekly backups", w, weekly[w]);
    return true;
}

/* A verify run finds a kept backup corrupt. */
static void
sim_corrupt(struct sim *s)
{
    size_t k;

    if (rnd_below(s, 1000) >= s->c->corrupt || s->nb == 0)
        return;
    k = rnd_below(s, (unsigned)s->nb);
    if (!s->b[k].is_deleted)
        s->b[k].is_verified = false;
}

/* Prune at 02:00 exactly, a second either side, or any time of the day. */
static int64_t
prune_offset(struct sim *s)
{
    switch (rnd_below(s, 8)) {
    case 0:
        return 0;
    case 1:
        return -1;
    case 2:
        return 1;
    default:
        return (int64_t)rnd_below(s, 86400) - 2 * HOUR;
    }
}

static bool
sim_day(struct sim *s, int day)
{
    int64_t now = s->start + day * DAY + 2 * HOUR + prune_offset(s);
    bool ok;

    if (now < s->start + day * DAY + 2 * HOUR)
        ok = sim_prune(s, day, now) && sim_backup(s, day);
    else
        ok = sim_backup(s, day) && sim_prune(s, day, now);
    sim_corrupt(s);
    return ok && check_monthly(s, day);
}

static bool
sim_run(struct sim *s, int days)
{
    for (int day = 0; day < days; day++)
        if (!sim_day(s, day))
            return false;
    return days < SIM_DAYS || check_history(s);
}

#define P(d, w, m, k, margin) {(d), (w), (m), (k), (margin)}

static const struct sim_case cases[] = {
    {"7/4/12/3 margin 1d", P(7, 4, 12, 3, DAY), P(0, 0, 0, 0, 0), 0, 100, 50, 30, 2, 6 * HOUR,
     2023, 3, 15, 2, true},
    {"1/1/1/0 margin 0", P(1, 1, 1, 0, 0), P(0, 0, 0, 0, 0), 0, 100, 50, 30, 2, 6 * HOUR, 2019,
     12, 30, 0, true},
    {"30/8/24/5 margin 30d", P(30, 8, 24, 5, 30 * DAY), P(0, 0, 0, 0, 0), 0, 100, 50, 30, 2,
     12 * HOUR, 2020, 2, 29, 5, false},
    {"0/4/12/3 margin 1d", P(0, 4, 12, 3, DAY), P(0, 0, 0, 0, 0), 0, 100, 50, 30, 2, 6 * HOUR,
     2027, 12, 31, 4, true},
    {"0/1/1/5 sparse, unreliable", P(0, 1, 1, 5, 0), P(0, 0, 0, 0, 0), 0, 400, 100, 300, 10,
     HOUR, 2024, 12, 30, 0, false},
    {"1/1/1/50 min_keep dominates", P(1, 1, 1, 50, 2 * HOUR), P(0, 0, 0, 0, 0), 0, 100, 50, 30,
     2, 6 * HOUR, 2025, 1, 1, 2, false},
    {"7/4/12/3 failing, long grace", P(7, 4, 12, 3, DAY), P(0, 0, 0, 0, 0), 0, 200, 300, 50, 5,
     3 * DAY, 2015, 12, 31, 3, true},
    {"7/4/36/3 -> 2/1/3/2 on day 365", P(7, 4, 36, 3, DAY), P(2, 1, 3, 2, 0), 365, 100, 50, 30,
     2, 6 * HOUR, 2020, 12, 28, 0, false},
    {"0/1/1/10 margin 30d", P(0, 1, 1, 10, 30 * DAY), P(0, 0, 0, 0, 0), 0, 100, 50, 30, 2,
     6 * HOUR, 2023, 3, 15, 2, false},
};

static const struct sim_case *
case_named(const char *name)
{
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        if (strcmp(cases[i].name, name) == 0)
            return &cases[i];
    fail_msg("no simulation case \"%s\"", name);
    return NULL;
}

static void
run_case(const struct sim_case *c, planner_fn plan, uint64_t seed, struct sim *s)
{
    sim_init(s, c, plan, seed);
    if (!sim_run(s, SIM_DAYS))
        fail_msg("seed %llu: %s", (unsigned long long)seed, s->msg);
}

static void
test_simulation(void **state)
{
    struct sim *s = calloc(1, sizeof(*s));
    unsigned long seen[CF_PRUNE_DELETE + 1] = {0};

    (void)state;
    assert_non_null(s);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        assert_true(cases[i].policy.monthly <= MAX_MONTHLY &&
                    cases[i].later.monthly <= MAX_MONTHLY);
        /* the weekday of day 0, from date -u, must agree with the naive calendar */
        assert_int_equal(((utc(cases[i].y, cases[i].m, cases[i].d, 0, 0, 0) / DAY) % 7 + 10) % 7,
                         cases[i].wd);
        for (uint64_t seed = 1; seed <= 5; seed++) {
            run_case(&cases[i], cf_prune_plan, seed, s);
            for (int a = CF_PRUNE_KEEP_RETAINED; a <= CF_PRUNE_DELETE; a++)
                seen[a] += s->seen[a];
        }
    }
    free(s);
    for (int a = CF_PRUNE_KEEP_RETAINED; a <= CF_PRUNE_DELETE; a++) {
        print_message("%s: %lu\n", cf_prune_action_name((enum cf_prune_action)a), seen[a]);
        assert_true(seen[a] >= 100);
    }
}

/* ---- the checker catches broken planners ----------------------------------------------- */

static void
plan_ignoring_locks(const struct cf_retention_policy *p, int64_t now, int64_t grace,
                    const struct cf_prune_item *items, size_t n, enum cf_prune_action *actions)
{
    cf_prune_plan(p, now, grace, items, n, actions);
    for (size_t i = 0; i < n; i++)
        if (actions[i] == CF_PRUNE_KEEP_LOCKED)
            actions[i] = CF_PRUNE_DELETE;
}

static void
plan_ignoring_min_keep(const struct cf_retention_policy *p, int64_t now, int64_t grace,
                       const struct cf_prune_item *items, size_t n, enum cf_prune_action *actions)
{
    struct cf_retention_policy q = *p;

    q.min_keep = 0;
    cf_prune_plan(&q, now, grace, items, n, actions);
}

static void
plan_one_second_early(const struct cf_retention_policy *p, int64_t now, int64_t grace,
                      const struct cf_prune_item *items, size_t n, enum cf_prune_action *actions)
{
    cf_prune_plan(p, now + 1, grace, items, n, actions);
}

static void
plan_counting_unverified(const struct cf_retention_policy *p, int64_t now, int64_t grace,
                         const struct cf_prune_item *items, size_t n,
                         enum cf_prune_action *actions)
{
    static struct cf_prune_item copy[MAX_BACKUPS];

    for (size_t i = 0; i < n; i++) {
        copy[i] = items[i];
        copy[i].is_verified = items[i].is_complete;
    }
    cf_prune_plan(p, now, grace, copy, n, actions);
}

/* Monthly periods of 30 days instead of calendar months. */
static void
plan_thirty_day_months(const struct cf_retention_policy *p, int64_t now, int64_t grace,
                       const struct cf_prune_item *items, size_t n, enum cf_prune_action *actions)
{
    cf_prune_plan(p, now, grace, items, n, actions);
    for (size_t i = 0; i < n; i++)
        if (items[i].is_complete && items[i].cls == CF_CLASS_MONTHLY &&
            now >= items[i].time + (int64_t)p->monthly * 30 * DAY &&
            actions[i] == CF_PRUNE_KEEP_RETAINED)
            actions[i] = items[i].lock_until > now ? CF_PRUNE_KEEP_LOCKED : CF_PRUNE_DELETE;
}

static void
expect_caught(const char *case_name, planner_fn plan, const char *needle)
{
    const struct sim_case *c = case_named(case_name);
    struct sim *s = calloc(1, sizeof(*s));

    assert_non_null(s);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        sim_init(s, c, plan, seed);
        if (sim_run(s, SIM_DAYS))
            fail_msg("%s, seed %llu: a broken planner passed", c->name,
                     (unsigned long long)seed);
        if (strstr(s->msg, needle) == NULL)
            fail_msg("unexpected failure: %s", s->msg);
    }
    free(s);
}

static void
test_checker_catches_broken_planners(void **state)
{
    (void)state;
    expect_caught("30/8/24/5 margin 30d", plan_ignoring_locks,
                  "plan says delete, model says keep-locked");
    expect_caught("0/1/1/5 sparse, unreliable", plan_ignoring_min_keep,
                  "plan says delete, model says keep-min");
    expect_caught("1/1/1/0 margin 0", plan_one_second_early,
                  "plan says delete, model says keep-retained");
    expect_caught("0/1/1/5 sparse, unreliable", plan_counting_unverified, "keep-min");
    expect_caught("7/4/12/3 margin 1d", plan_thirty_day_months, "model says keep-retained");
}

static void
add_incomplete(struct sim *s, int day, int64_t time)
{
    assert_true(s->nb < MAX_BACKUPS);
    s->b[s->nb++] = (struct backup){.time = time, .day = day};
}

/* Hand-broken plans on a real state: each single mutation is reported. */
static void
test_checker_catches_mutations(void **state)
{
    static const enum cf_prune_action kinds[] = {CF_PRUNE_KEEP_LOCKED, CF_PRUNE_KEEP_MIN,
                                                 CF_PRUNE_KEEP_RETAINED, CF_PRUNE_KEEP_RECENT,
                                                 CF_PRUNE_DELETE};
    struct sim *s = calloc(1, sizeof(*s));
    int day = 400;
    int64_t now;

    (void)state;
    assert_non_null(s);
    sim_init(s, case_named("0/1/1/10 margin 30d"), cf_prune_plan, 7);
    if (!sim_run(s, day))
        fail_msg("%s", s->msg);
    now = s->start + day * DAY + 2 * HOUR;
    assert_true(sim_backup(s, day));
    add_incomplete(s, day - 2, now - 2 * DAY);
    add_incomplete(s, day, now - HOUR);
    sim_make_plan(s, day, now);
    assert_true(check_plan(s, day));
    for (size_t k = 0; k < N_ELEMS(kinds); k++) {
        size_t i = 0;
        enum cf_prune_action was;

        while (i < s->n && s->act[i] != kinds[k])
            i++;
        if (i == s->n)
            fail_msg("no %s item on day %d", cf_prune_action_name(kinds[k]), day);
        was = s->act[i];
        s->act[i] = was == CF_PRUNE_DELETE ? CF_PRUNE_KEEP_RETAINED : CF_PRUNE_DELETE;
        s->msg[0] = '\0';
        assert_false(check_plan(s, day));
        assert_non_null(strstr(s->msg, cf_prune_action_name(was)));
        s->act[i] = was;
    }
    assert_true(check_plan(s, day));
    free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_naive_calendar_anchors),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_iso_week_table),
        cmocka_unit_test(test_iso_week_sweep),
        cmocka_unit_test(test_classify_basics),
        cmocka_unit_test(test_classify_month_boundaries),
        cmocka_unit_test(test_classify_iso_year_boundaries),
        cmocka_unit_test(test_classify_ignores_tz),
        cmocka_unit_test(test_expiry_exact),
        cmocka_unit_test(test_expiry_months_sweep),
        cmocka_unit_test(test_expiry_extremes),
        cmocka_unit_test(test_lock_until_margin),
        cmocka_unit_test(test_plan_boundaries),
        cmocka_unit_test(test_plan_min_keep),
        cmocka_unit_test(test_plan_min_keep_ties),
        cmocka_unit_test(test_simulation),
        cmocka_unit_test(test_checker_catches_broken_planners),
        cmocka_unit_test(test_checker_catches_mutations),
    };

    return cmocka_run_group_tests_name("retention", tests, NULL, NULL);
}
