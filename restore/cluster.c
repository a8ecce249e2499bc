/*
 * cluster.c - a server coffre starts, follows and stops itself (see
 * cluster.h): the work directory, our settings files, initdb, the choice of
 * port, and freeing.  Running the server is cluster_run.c.
 */
#include "restore/cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/pg.h"
#include "restore/cluster_int.h"
#include "stream/child.h"

/* ---------------------------------------------------------------- files */

static cf_err
path_join(char *buf, size_t size, const char *dir, const char *name, struct cf_error *err)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);

    if (n < 0 || (size_t)n >= size)
        return cf_error_set(err, CF_ERR_USAGE, "path \"%s/%s\" is too long", dir, name);
    return CF_OK;
}

static cf_err
write_file(const char *path, const char *text, struct cf_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t len = strlen(text);
    ssize_t w;

    if (fd < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not create \"%s\"", path);
    w = write(fd, text, len);
    if (w != (ssize_t)len || close(fd) != 0) {
        int e = w < 0 ? errno : EIO;

        if (w != (ssize_t)len)
            (void)close(fd);
        return cf_error_set_errno(err, CF_ERR_IO, e, "could not write \"%s\"", path);
    }
    return CF_OK;
}

static cf_err
make_workdir(struct cf_cluster *c, struct cf_error *err)
{
    int state = cf_dir_state(c->workdir);

    if (state == 1) {
        if (mkdir(c->workdir, 0700) != 0)
            return cf_error_set_errno(err, CF_ERR_IO, errno, "could not create directory \"%s\"",
                                      c->workdir);
        c->made_workdir = true;
        return CF_OK;
    }
    if (state < 0 && errno == ENOTEMPTY) {
        cf_error_setf(err, CF_ERR_EXISTS, "work directory \"%s\" exists and is not empty",
                      c->workdir);
        cf_error_hint(err, "It may hold the log and settings of an earlier server: remove it "
                           "once that server is stopped, or choose another directory.");
        return CF_ERR_EXISTS;
    }
    if (state < 0 || chmod(c->workdir, 0700) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not use directory \"%s\"",
                                  c->workdir);
    return CF_OK;
}

/*
 * Settings files of our own.  "trust" is acceptable only because nobody
 * else can reach the socket: the server listens on no TCP address, its
 * socket file is 0700 (unix_socket_permissions; Linux checks it on
 * connect), and the socket directory coffre creates is 0700 and owned by the
 * user running coffre.
 */
static cf_err
write_settings(struct cf_cluster *c, bool needs_conf, struct cf_error *err)
{
    static const char hba[] =
        "# written by coffre (restore/cluster.c) for a server it runs itself.\n"
        "# trust is safe only because the server listens on a unix socket alone, with\n"
        "# mode 0700, in a directory only the user running coffre can use.\n"
        "local all all trust\n";
    static const char ident[] = "# written by coffre: no user name maps\n";
    static const char conf[] =
        "# written by coffre: the data directory has no postgresql.conf of its own\n"
        "# (its cluster kept its configuration elsewhere, e.g. /etc/postgresql).\n"
        "# The settings that matter are on the server's command line.\n";

    if (path_join(c->hba, sizeof(c->hba), c->workdir, "pg_hba.conf", err) != CF_OK ||
        path_join(c->ident, sizeof(c->ident), c->workdir, "pg_ident.conf", err) != CF_OK ||
        write_file(c->hba, hba, err) != CF_OK || write_file(c->ident, ident, err) != CF_OK)
        return err->code;
    if (!needs_conf)
        return CF_OK;
    if (path_join(c->conf, sizeof(c->conf), c->workdir, "postgresql.conf", err) != CF_OK)
        return err->code;
    return write_file(c->conf, conf, err);
}

static cf_err
check_socket_dir(const char *dir, struct cf_error *err)
{
    if (dir[0] != '/' || strpbrk(dir, ",\"\\ \t\n") != NULL)
        return cf_error_set(err, CF_ERR_USAGE, "socket directory \"%s\" must be an absolute "
                            "path without ',', '\"', '\\' or white space", dir);
    if (strlen(dir) > CF_CLUSTER_SOCKET_DIR_MAX) {
        cf_error_setf(err, CF_ERR_USAGE, "socket directory \"%s\" is too long", dir);
        cf_error_detail(err, "A unix socket path holds at most 107 bytes, so the directory "
                             "holds at most %d.", CF_CLUSTER_SOCKET_DIR_MAX);
        cf_error_hint(err, "Choose a shorter work or socket directory.");
        return CF_ERR_USAGE;
    }
    return CF_OK;
}

static cf_err
make_socket_dir(struct cf_cluster *c, const char *given, struct cf_error *err)
{
    if (given != NULL) {
        (void)snprintf(c->sockdir, sizeof(c->sockdir), "%s", given);
        return check_socket_dir(c->sockdir, err);
    }
    if (path_join(c->sockdir, sizeof(c->sockdir), c->workdir, "socket", err) != CF_OK ||
        check_socket_dir(c->sockdir, err) != CF_OK)
        return err->code;
    if (mkdir(c->sockdir, 0700) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not create directory \"%s\"",
                                  c->sockdir);
    return CF_OK;
}

static bool
socket_taken(const char *dir, int port)
{
    char path[PATH_MAX + 64];

    (void)snprintf(path, sizeof(path), "%s/.s.PGSQL.%d", dir, port);
    if (access(path, F_OK) == 0)
        return true;
    (void)snprintf(path, sizeof(path), "%s/.s.PGSQL.%d.lock", dir, port);
    return access(path, F_OK) == 0;
}

/* A port with no socket in our socket directory (there is no TCP listener to clash with). */
static cf_err
choose_port(struct cf_cluster *c, struct cf_error *err)
{
    unsigned start = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);

    for (unsigned i = 0; i < 10000; i++) {
        int port = 50000 + (int)((start + i) % 10000u);

        if (!socket_taken(c->sockdir, port)) {
            c->port = port;
            return CF_OK;
        }
    }
    return cf_error_set(err, CF_ERR_IO, "no free port in socket directory \"%s\"", c->sockdir);
}

/* "15" in PGDATA/PG_VERSION -> 150000; 0 if unreadable. */
static int
read_pg_version(const char *pgdata)
{
    char path[PATH_MAX + 16], line[16] = "";
    FILE *f;

    (void)snprintf(path, sizeof(path), "%s/PG_VERSION", pgdata);
    if ((f = fopen(path, "re")) == NULL)
        return 0;
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    (void)fclose(f);
    return (int)strtol(line, NULL, 10) * 10000;
}

static cf_err
run_initdb(struct cf_cluster *c, const char *bindir, int version, struct cf_error *err)
{
    char tool[PATH_MAX];
    const char *argv[] = {tool, "-D", c->pgdata, "-U", c->user, "-A", "trust", "-E", "UTF8",
                          "--locale=C", "-N", NULL};

    cf_pg_tool_path(bindir, version, "initdb", tool, sizeof(tool));
    cf_log_info("creating a %s in %s", c->label, c->pgdata);
    if (cf_child_run(argv, NULL, NULL, (size_t)64 * 1024, err) != CF_OK) {
        cf_error_context(err, "while creating the %s's data directory \"%s\"", c->label,
                         c->pgdata);
        return err->code;
    }
    return CF_OK;
}

/* libpq conninfo value: quoted when it holds anything but a plain word. */
static void
append_value(char *buf, size_t size, const char *v)
{
    size_t o = strlen(buf);
    bool plain = v[0] != '\0' && strpbrk(v, " \t\n'\\") == NULL;

    if (plain) {
        (void)snprintf(buf + o, size - o, "%s", v);
        return;
    }
    if (o + 1 < size)
        buf[o++] = '\'';
    for (; *v != '\0' && o + 3 < size; v++) {
        if (*v == '\'' || *v == '\\')
            buf[o++] = '\\';
        buf[o++] = *v;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
}

static cf_err
copy_opts(struct cf_cluster *c, const struct cf_cluster_opts *opts, struct cf_error *err)
{
    if (opts->workdir == NULL || opts->workdir[0] != '/')
        return cf_error_set(err, CF_ERR_USAGE, "the work directory must be an absolute path");
    if (opts->pgdata != NULL && opts->pgdata[0] != '/')
        return cf_error_set(err, CF_ERR_USAGE, "data directory \"%s\" is not absolute",
                            opts->pgdata);
    if (opts->port < 0 || opts->port > 65535)
        return cf_error_set(err, CF_ERR_USAGE, "invalid port %d", opts->port);
    if (snprintf(c->workdir, sizeof(c->workdir), "%s", opts->workdir) >= (int)sizeof(c->workdir))
        return cf_error_set(err, CF_ERR_USAGE, "the work directory's path is too long");
    (void)snprintf(c->label, sizeof(c->label), "%s", opts->label ? opts->label : "scratch server");
    if (opts->user == NULL) {
        struct passwd *pw = getpwuid(geteuid());

        if (pw == NULL)
            return cf_error_set(err, CF_ERR_CONFIG, "could not look up the name of user %ld",
                                (long)geteuid());
        (void)snprintf(c->user, sizeof(c->user), "%s", pw->pw_name);
    } else {
        (void)snprintf(c->user, sizeof(c->user), "%s", opts->user);
    }
    c->port = opts->port;
    c->keep = opts->keep;
    c->start_timeout_s = opts->start_timeout_s;
    c->pid = -1;
    return CF_OK;
}

/* Everything cf_cluster_new does once c holds the options and the work directory exists. */
static cf_err
prepare(struct cf_cluster *c, const struct cf_cluster_opts *opts, struct cf_error *err)
{
    int version = opts->pg_version_num;
    bool needs_conf = false;
    char path[PATH_MAX + 32];

    if (make_socket_dir(c, opts->socket_dir, err) != CF_OK ||
        path_join(c->log, sizeof(c->log), c->workdir, "postgres.log", err) != CF_OK)
        return err->code;
    if (opts->pgdata != NULL) {
        (void)snprintf(c->pgdata, sizeof(c->pgdata), "%s", opts->pgdata);
        (void)snprintf(path, sizeof(path), "%s/PG_VERSION", c->pgdata);
        if (access(path, F_OK) != 0) {
            cf_error_setf(err, CF_ERR_USAGE, "\"%s\" is not a PostgreSQL data directory",
                          c->pgdata);
            cf_error_detail(err, "It has no PG_VERSION file.");
            return CF_ERR_USAGE;
        }
        (void)snprintf(path, sizeof(path), "%s/postgresql.conf", c->pgdata);
        needs_conf = access(path, F_OK) != 0;
        if (version == 0)
            version = read_pg_version(c->pgdata);
    } else if (path_join(c->pgdata, sizeof(c->pgdata), c->workdir, "data", err) != CF_OK) {
        return err->code;
    }
    if (write_settings(c, needs_conf, err) != CF_OK)
        return err->code;
    cf_pg_tool_path(opts->bindir, version, "postgres", c->postgres, sizeof(c->postgres));
    if (opts->pgdata == NULL && run_initdb(c, opts->bindir, version, err) != CF_OK)
        return err->code;
    if (c->port == 0 && choose_port(c, err) != CF_OK)
        return err->code;
    (void)snprintf(c->port_text, sizeof(c->port_text), "%d", c->port);
    (void)snprintf(c->conninfo, sizeof(c->conninfo), "host=");
    append_value(c->conninfo, sizeof(c->conninfo), c->sockdir);
    (void)snprintf(c->conninfo + strlen(c->conninfo), sizeof(c->conninfo) - strlen(c->conninfo),
                   " port=%d dbname=postgres user=", c->port);
    append_value(c->conninfo, sizeof(c->conninfo), c->user);
    return CF_OK;
}

static void
remove_workdir(struct cf_cluster *c)
{
    cf_remove_tree(c->workdir, !c->made_workdir);
}

cf_err
cf_cluster_new(const struct cf_cluster_opts *opts, struct cf_cluster **out, struct cf_error *err)
{
    struct cf_cluster *c;

    if (opts == NULL || out == NULL)
        return cf_error_set(err, CF_ERR_INTERNAL, "cf_cluster_new needs options and a result");
    if (geteuid() == 0) {
        cf_error_setf(err, CF_ERR_USAGE, "a PostgreSQL server cannot be run as root");
        cf_error_hint(err, "Run coffre as the PostgreSQL OS user (e.g. runuser -u postgres --).");
        return CF_ERR_USAGE;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if (copy_opts(c, opts, err) != CF_OK || make_workdir(c, err) != CF_OK) {
        free(c);
        return err->code;
    }
    if (prepare(c, opts, err) != CF_OK) {
        remove_workdir(c); /* nothing runs yet, and nothing in it is worth keeping */
        free(c);
        return err->code;
    }
    *out = c;
    return CF_OK;
}

void
cf_cluster_free(struct cf_cluster *c)
{
    if (c == NULL)
        return;
    if (!c->keep) {
        cf_cluster_stop_now(c);
        remove_workdir(c);
    }
    free(c);
}

const char *
cf_cluster_conninfo(const struct cf_cluster *c)
{
    return c->conninfo;
}

const char *
cf_cluster_socket_dir(const struct cf_cluster *c)
{
    return c->sockdir;
}

const char *
cf_cluster_pgdata(const struct cf_cluster *c)
{
    return c->pgdata;
}

const char *
cf_cluster_log(const struct cf_cluster *c)
{
    return c->log;
}

const char *
cf_cluster_workdir(const struct cf_cluster *c)
{
    return c->workdir;
}

int
cf_cluster_port(const struct cf_cluster *c)
{
    return c->port;
}

bool
cf_cluster_is_running(const struct cf_cluster *c)
{
    return c != NULL && c->pid > 0;
}
