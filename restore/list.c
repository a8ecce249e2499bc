/*
 * list.c - `coffre list`: every backup of the instance, complete or not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "restore/commands.h"

struct row {
    const struct cf_backup_entry *e;
    struct cf_manifest *m;     /* NULL if incomplete or unreadable */
    char problem[256];
};

static void
human_bytes(uint64_t b, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    (void)snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static const char *
state_of(const struct row *r)
{
    if (!r->e->has_manifest)
        return "incomplete";
    return r->m != NULL ? "complete" : "unreadable";
}

static void
what_of(const struct cf_manifest *m, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    if (m->physical != NULL) {
        size_t extra = 0;

        for (size_t i = 0; i < m->physical->n_tablespaces; i++)
            extra += m->physical->tablespaces[i].oid != 0;
        (void)snprintf(buf, size, extra ? "cluster + %zu tblspc" : "cluster", extra);
        return;
    }
    if (m->schema != NULL) {
        (void)snprintf(buf, size, "schema %s", m->schema);
        return;
    }
    for (size_t i = 0; i < m->n_objects && len + 2 < size; i++) {
        if (m->objects[i].database == NULL)
            continue;
        len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "",
                                m->objects[i].database);
    }
}

static void
print_table(const struct row *rows, size_t n)
{
    (void)printf("%-22s %-8s %-10s %-8s %-20s %-20s %8s %10s %10s %-20s  %s\n", "ID", "KIND",
                 "STATE", "CLASS", "WHAT", "START", "SECONDS", "PLAIN", "STORED", "LOCKED UNTIL",
                 "NOTE");
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        char start[32] = "-", what[256] = "-", plain[32] = "-", stored[32], secs[32] = "-";
        char lock[32] = "-";
        uint64_t p = 0;

        human_bytes(r->e->stored_bytes, stored, sizeof(stored));
        if (r->m != NULL) {
            for (size_t k = 0; k < r->m->n_objects; k++)
                p += r->m->objects[k].plain;
            human_bytes(p, plain, sizeof(plain));
            cf_format_time(r->m->start_time, start, sizeof(start));
            what_of(r->m, what, sizeof(what));
            (void)snprintf(secs, sizeof(secs), "%lld",
                           (long long)(r->m->stop_time - r->m->start_time));
            if (r->m->lock_until > 0)
                cf_format_time(r->m->lock_until, lock, sizeof(lock));
        }
        (void)printf("%-22s %-8s %-10s %-8s %-20s %-20s %8s %10s %10s %-20s  %s\n", r->e->id,
                     r->m ? r->m->kind : "-", state_of(r),
                     r->m && r->m->retention_class ? r->m->retention_class : "-", what, start,
                     secs, plain, stored, lock, r->problem);
    }
}

static void
print_json(const struct row *rows, size_t n)
{
    json_t *arr = json_array();
    char *s;

    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        json_t *o = json_pack("{s:s, s:s, s:I}", "id", r->e->id, "state", state_of(r),
                              "stored_bytes", (json_int_t)r->e->stored_bytes);

        if (r->m != NULL) {
            char start[32], stop[32], what[256];
            json_t *dbs = json_array();
            uint64_t p = 0, c = 0;

            for (size_t k = 0; k < r->m->n_objects; k++) {
                p += r->m->objects[k].plain;
                c += r->m->objects[k].compressed;
                if (r->m->objects[k].database != NULL)
                    json_array_append_new(dbs, json_string(r->m->objects[k].database));
            }
            cf_format_time(r->m->start_time, start, sizeof(start));
            cf_format_time(r->m->stop_time, stop, sizeof(stop));
            what_of(r->m, what, sizeof(what));
            json_object_set_new(o, "kind", json_string(r->m->kind));
            json_object_set_new(o, "formula", json_string(r->m->formula));
            json_object_set_new(o, "databases", dbs);
            json_object_set_new(o, "schema",
                                r->m->schema ? json_string(r->m->schema) : json_null());
            json_object_set_new(o, "start_time", json_string(start));
            json_object_set_new(o, "stop_time", json_string(stop));
            json_object_set_new(o, "duration_seconds",
                                json_integer(r->m->stop_time - r->m->start_time));
            json_object_set_new(o, "plain_bytes", json_integer((json_int_t)p));
            json_object_set_new(o, "compressed_bytes", json_integer((json_int_t)c));
            json_object_set_new(o, "pg_version", json_string(r->m->pg_version));
            if (r->m->physical != NULL) {
                json_object_set_new(o, "start_lsn", json_string(r->m->physical->start_lsn));
                json_object_set_new(o, "stop_lsn", json_string(r->m->physical->stop_lsn));
                json_object_set_new(o, "timeline",
                                    json_integer(r->m->physical->stop_timeline));
                json_object_set_new(o, "from_standby",
                                    json_boolean(r->m->physical->from_standby));
            }
            json_object_set_new(o, "retention_class", json_string(r->m->retention_class));
            cf_format_time(r->m->expires, start, sizeof(start));
            json_object_set_new(o, "expires", json_string(start));
            if (r->m->lock_until > 0) {
                cf_format_time(r->m->lock_until, start, sizeof(start));
                json_object_set_new(o, "lock_until", json_string(start));
            } else {
                json_object_set_new(o, "lock_until", json_null());
            }
        }
        if (r->problem[0] != '\0')
            json_object_set_new(o, "problem", json_string(r->problem));
        json_array_append_new(arr, o);
    }
    s = json_dumps(arr, JSON_INDENT(2));
    json_decref(arr);
    if (s != NULL)
        (void)printf("%s\n", s);
    free(s);
}

cf_err
cf_cmd_list(const struct cf_repo *repo, bool json, struct cf_error *err)
{
    struct cf_backup_entry *v = NULL;
    struct row *rows;
    size_t n = 0;

    if (cf_repo_list_backups(repo, &v, &n, err) != CF_OK)
        return err->code;
    rows = calloc(n + 1, sizeof(*rows));
    if (rows == NULL) {
        free(v);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct cf_error e = CF_ERROR_INIT;

        rows[i].e = &v[i];
        if (!v[i].has_manifest) {
            (void)snprintf(rows[i].problem, sizeof(rows[i].problem),
                           "no manifest: not restorable");
            continue;
        }
        if (cf_repo_read_manifest(repo, v[i].id, &rows[i].m, &e) != CF_OK)
            (void)snprintf(rows[i].problem, sizeof(rows[i].problem), "%s", e.msg);
    }
    if (json)
        print_json(rows, n);
    else
        print_table(rows, n);
    for (size_t i = 0; i < n; i++)
        cf_manifest_free(rows[i].m);
    free(rows);
    free(v);
    return CF_OK;
}
