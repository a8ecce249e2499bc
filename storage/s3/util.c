/*
 * util.c - S3 helpers without I/O: percent-encoding (the SigV4 canonical
 * rules), query strings and RFC 3339 dates.  (Digests are in digest.c, so
 * that the XML parsers and their fuzz target do not need libcrypto.)
 */
#include "storage/s3/s3_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>


static bool
is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

bool
cf_s3_uri_encode(const char *in, bool keep_slash, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
        if (is_unreserved(*p) || (keep_slash && *p == '/')) {
            if (o + 1 >= size)
                return false;
            out[o++] = (char)*p;
            continue;
        }
        if (o + 3 >= size)
            return false;
        out[o++] = '%';
        out[o++] = hex[*p >> 4];
        out[o++] = hex[*p & 0xf];
    }
    if (o >= size)
        return false;
    out[o] = '\0';
    return true;
}

bool
cf_s3_query_add(char *q, size_t size, const char *name, const char *value)
{
    size_t used = strlen(q);
    int n;

    if (used >= size)
        return false;
    n = snprintf(q + used, size - used, "%s%s=", used > 0 ? "&" : "", name);
    if (n < 0 || (size_t)n >= size - used)
        return false;
    used += (size_t)n;
    return cf_s3_uri_encode(value != NULL ? value : "", false, q + used, size - used);
}

void
cf_s3_date_format(int64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        if (size > 0)
            buf[0] = '\0';
    }
}

/* n decimal digits at *p into *v; advances p. */
static bool
digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];

        if (c < '0' || c > '9')
            return false;
        *v = *v * 10 + (c - '0');
    }
    *p += n;
    return true;
}

static bool
expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

bool
cf_s3_date_parse(const char *s, int64_t *out)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    struct tm tm;
    time_t t;

    if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') ||
        !digits(&p, 2, &d) || (*p != 'T' && *p != 't') || !(p++, digits(&p, 2, &h)) ||
        !expect(&p, ':') || !digits(&p, 2, &mi) || !expect(&p, ':') || !digits(&p, 2, &sec))
        return false;
    if (*p == '.') {
        int n = 0;

        for (p++; *p >= '0' && *p <= '9'; p++)
            n++;
        if (n == 0 || n > 9)
            return false;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
        if (!digits(&p, 2, &oh) || !expect(&p, ':') || !digits(&p, 2, &om) || oh > 23 ||
            om > 59)
            return false;
    } else {
        return false;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1 && !(y == 1969 && mo == 12 && d == 31))
        return false;
    *out = (int64_t)t - sign * (int64_t)(oh * 3600 + om * 60);
    return true;
}
