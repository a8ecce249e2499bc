/*
 * retention.h - GFS retention classes, lock dates and prune planning.
 *
 * Pure functions: no I/O, no clock, no allocation beyond what the caller
 * passes; every time is seconds since the epoch (UTC).  Defaults come from
 * the seeds: 7 daily, 4 weekly, 12 monthly, never fewer than 3 verified.
 *
 * Classes are decided when a backup is taken, from the backups that already
 * succeeded (robust to missed days and failed runs):
 *   - the first successful backup of a calendar month (UTC) is MONTHLY;
 *   - else the first successful backup of an ISO 8601 week is WEEKLY;
 *   - else DAILY.
 * A backup's retention period: DAILY daily days, WEEKLY weekly weeks,
 * MONTHLY monthly calendar months (same day-of-month, clamped to the
 * month's last day).  Its expiry is time + period; its Object Lock
 * retain-until date is expiry + margin.
 *
 * Calendar arithmetic is proleptic Gregorian in UTC, done here without
 * gmtime()/timegm(), so TZ and the C library never change a result.  Times
 * are clamped to [-CF_RETENTION_TIME_MAX, CF_RETENTION_TIME_MAX] (about
 * 146 billion years either side of 1970) before any arithmetic, so that no
 * input (a period of UINT_MAX months, a margin of INT64_MAX) can overflow:
 * a result that would lie beyond the range is CF_RETENTION_TIME_MAX,
 * which callers may read as "never".
 */
#ifndef CF_RETENTION_H
#define CF_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CF_RETENTION_TIME_MAX (INT64_MAX / 2)

enum cf_retention_class { CF_CLASS_DAILY = 1, CF_CLASS_WEEKLY = 2, CF_CLASS_MONTHLY = 3 };

struct cf_retention_policy {
    unsigned daily;     /* days a daily backup is kept (default 7) */
    unsigned weekly;    /* weeks a weekly backup is kept (default 4) */
    unsigned monthly;   /* months a monthly backup is kept (default 12) */
    unsigned min_keep;  /* never fewer verified backups than this (default 3) */
    int64_t margin;     /* seconds added to the lock date (default 86400; < 0 counts as 0) */
};

/* "daily", "weekly", "monthly"; NULL for anything else. */
const char *cf_retention_class_name(enum cf_retention_class c);
/* Exact, case-sensitive match of a class name; 0 for anything else, NULL included. */
enum cf_retention_class cf_retention_class_parse(const char *name);

/*
 * The ISO 8601 week (weeks start on Monday; week 1 holds the year's first
 * Thursday) of the UTC date of t: *iso_year may differ from the calendar
 * year from Dec 29 to Jan 3 (2025-12-29 is 2026-W01, 2021-01-03 is
 * 2020-W53).  *week is 1..53.  Two times are in the same ISO week iff both
 * values are equal.
 */
void cf_retention_iso_week(int64_t t, int64_t *iso_year, unsigned *week);

/*
 * The class of a backup taken at time t, given the times of the backups
 * that already succeeded (any order; entries at or after t are ignored, so
 * a backup never counts as its own predecessor).  previous may be NULL
 * when n is 0.
 */
enum cf_retention_class cf_retention_classify(int64_t t, const int64_t *previous, size_t n);

/*
 * t + the class's period (calendar months for MONTHLY), at most
 * CF_RETENTION_TIME_MAX.  A class that is not one of the three never
 * expires (CF_RETENTION_TIME_MAX): prune keeps what it cannot classify.
 */
int64_t cf_retention_expiry(const struct cf_retention_policy *p, enum cf_retention_class c,
                            int64_t t);
/*
 * expiry + margin: the Object Lock retain-until date, at most
 * CF_RETENTION_TIME_MAX.  A negative margin counts as 0, so the lock
 * never ends before the expiry.
 */
int64_t cf_retention_lock_until(const struct cf_retention_policy *p, enum cf_retention_class c,
                                int64_t t);

/* Seconds since the epoch of a UTC date and time, or -1 if it does not exist
 * (month 1..12, day within the month, leap years included). */
int64_t cf_retention_utc_time(int year, int month, int day, int hour, int min, int sec);

/* One backup as prune sees it. */
struct cf_prune_item {
    int64_t time;                 /* start time */
    enum cf_retention_class cls;  /* 0 for an incomplete backup (no manifest) */
    int64_t lock_until;           /* 0: not locked */
    bool is_complete;             /* has a manifest */
    bool is_verified;             /* complete, and its last verify (or the backup itself) passed */
};

enum cf_prune_action {
    CF_PRUNE_KEEP_RETAINED = 1,   /* within its class's period */
    CF_PRUNE_KEEP_MIN = 2,        /* expired, kept so that min_keep verified backups remain */
    CF_PRUNE_KEEP_LOCKED = 3,     /* expired, but its lock date has not passed: skipped */
    CF_PRUNE_KEEP_RECENT = 4,     /* incomplete but younger than the grace period: may be running */
    CF_PRUNE_DELETE = 5           /* expired (or incomplete and old), not locked: delete */
};

/*
 * Decide, for each of n items, what prune does at time now.  actions has n
 * entries (items and actions may be NULL when n is 0).  incomplete_grace:
 * seconds after which an incomplete backup is a leftover.
 *
 * A complete item is retained while now < its expiry (computed from p, cls
 * and time; the stored lock_until plays no part in that).  An incomplete
 * item is RECENT while now - time < incomplete_grace; its cls and
 * is_verified are ignored.  is_verified counts only on complete items.
 *
 * min_keep: let r be the number of retained verified items; the newest
 * max(0, min_keep - r) expired verified items are KEEP_MIN (newest by time;
 * on equal times the item listed first wins).  Items already kept by their
 * lock still take part in that choice, so KEEP_MIN is always a prefix of
 * the expired verified items, newest first.
 *
 * Every other expired or leftover item is DELETE, unless lock_until > now:
 * then KEEP_LOCKED.  The label names the first reason that applies in the
 * order RETAINED/RECENT, MIN, LOCKED, so KEEP_LOCKED counts exactly what
 * the policy would delete but the lock forbids.
 *
 * Guarantees (checked by the property tests):
 *   - an item whose lock_until > now is never DELETE;
 *   - after the deletions, at least min(min_keep, #verified) verified items
 *     remain, and those kept for min_keep are the newest expired verified ones;
 *   - a complete item is DELETE only if now >= its expiry.
 * Cost: O(n * min(n, min_keep)) comparisons, no allocation.
 */
void cf_prune_plan(const struct cf_retention_policy *p, int64_t now, int64_t incomplete_grace,
                   const struct cf_prune_item *items, size_t n, enum cf_prune_action *actions);

/* "keep-retained", "keep-min", "keep-locked", "keep-recent", "delete"; NULL otherwise. */
const char *cf_prune_action_name(enum cf_prune_action a);

#endif
