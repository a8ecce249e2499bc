/*
 * coffre.c - command-line entry point: parse, open what the command needs,
 * dispatch, map the error class to the exit status (docs/exit-status.md).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "agent/backup.h"
#include "agent/keys.h"
#include "agent/physical.h"
#include "agent/prune.h"
#include "agent/wal.h"
#include "agent/walstream.h"
#include "common/cancel.h"
#include "common/config.h"
#include "common/log.h"
#include "ops/ops.h"
#include "pkcs11/keyring.h"
#include "restore/commands.h"
#include "restore/physical.h"
#include "restore/walcheck.h"
#include "storage/repo.h"
#include "storage/s3/s3.h"

#define COFFRE_VERSION "0.1.0"

static const char usage_text[] =
    "coffre - PostgreSQL backup and disaster recovery with HSM-held keys\n"
    "\n"
    "Usage: coffre [--config FILE] [--verbose|--quiet] COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  backup [--db NAME] [--json]       take a logical backup (pg_dump) of the instance\n"
    "  backup --physical [--json]        take a physical base backup (BASE_BACKUP)\n"
    "  list [--json]                     list backups, complete or not\n"
    "  verify [ID | --all] [--json]      decrypt and check every object, restore nothing\n"
    "  verify --wal [--json]             check WAL continuity from every base backup\n"
    "  restore ID --target CONNINFO      restore a logical backup (see coffre restore --help)\n"
    "  restore --physical [ID|--latest] --pgdata DIR [--time T|--lsn L|--xid X|--immediate]\n"
    "                                    restore a base backup for point-in-time recovery\n"
    "  wal-push PATH                     archive_command: archive one WAL file\n"
    "  wal-get NAME PATH                 restore_command: fetch one WAL file\n"
    "  wal-stream                        stream WAL over the replication protocol (service)\n"
    "  cat OBJECT                        write one object's plaintext to stdout\n"
    "  prune [--dry-run] [--json]        delete what the retention policy lets go\n"
    "  status [--json]                   health, newest backup, free space, issues\n"
    "  alert check|test                  evaluate and notify alerts; test the receivers\n"
    "  keys init|list|check              manage the key-encryption keys in the HSM\n"
    "  keys export-public URI FILE       export an RSA KEK's public half\n"
    "  keys import-public FILE URI       import it on a write-only host's token\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   configuration file (default " CF_CONFIG_DEFAULT_PATH ")\n"
    "  -v, --verbose       more messages;  -q, --quiet  errors only\n"
    "  -h, --help          this help;      -V, --version\n"
    "\n"
    "Exit status: 0 success, 2 usage, 3 configuration, 4 keys/HSM, 5 repository,\n"
    "6 corrupt data, 7 PostgreSQL or child process, 8 interrupted by a signal,\n"
    "1 internal.  See coffre(1) and docs/exit-status.md.\n";

static const char backup_usage[] =
    "Usage: coffre backup [--db NAME] [--json]\n"
    "\n"
    "Take a logical backup (pg_dump) of every database of the instance\n"
    "(postgres.databases, or every connectable non-template database), or of\n"
    "database NAME only; with formula = managed, of the tenant's schema.  Prints\n"
    "the backup id on stdout (a JSON summary with --json).  The manifest is\n"
    "written last: a backup that fails is never listed as complete.\n";

static const char list_usage[] =
    "Usage: coffre list [--json]\n"
    "\n"
    "List every backup of the instance with its state: complete (restorable),\n"
    "incomplete (no manifest) or unreadable (no key here can decrypt it).\n";

static const char verify_usage[] =
    "Usage: coffre verify ID [--json]\n"
    "       coffre verify --all [--json]\n"
    "\n"
    "Read every object of backup ID (or of every complete backup), check its\n"
    "authentication tags and its sha256 against the manifest, and check that\n"
    "the backup holds exactly the objects its manifest lists.  Restores nothing.\n";

static const char cat_usage[] =
    "Usage: coffre cat ID/NAME\n"
    "       coffre cat /path/to/object\n"
    "\n"
    "Write one object's plaintext to stdout, e.g.\n"
    "  coffre cat 20261122T020000Z/db/app.dump | pg_restore -l\n"
    "An absolute path names an object file copied out of any repository: only\n"
    "the object and a key are needed, no manifest.\n";

static const char prune_usage[] =
    "Usage: coffre prune [--dry-run] [--json]\n"
    "\n"
    "Apply the retention policy ([retention] daily/weekly/monthly/min_keep):\n"
    "delete the backups whose class's period has ended, never one whose Object\n"
    "Lock date has not passed (skipped with a reason), never leaving fewer than\n"
    "min_keep verified backups; delete leftovers of incomplete backups and abort\n"
    "unfinished uploads older than retention.stale_after.  --dry-run says what\n"
    "it would do and changes nothing.\n";

static const char restore_usage[] =
    "Usage: coffre restore ID --target CONNINFO [OPTIONS]\n"
    "\n"
    "Restore the dump of one database of backup ID into the database named by\n"
    "CONNINFO's dbname.  Nothing half-restored is ever left behind:\n"
    "  --create        create the target: restore into a temporary database, rename\n"
    "                  it on success, drop it on failure (the target must not exist)\n"
    "  (default)       the target exists and is empty; the backup is verified first,\n"
    "                  then restored in a single transaction\n"
    "  --replace       the target may exist: restore as with --create, then rename\n"
    "                  the old database <target>_old_<time> (kept) and swap in the\n"
    "                  new one (the old database must have no open session)\n"
    "  --db NAME       which database of the backup (when it holds several)\n"
    "  --schema S      restore only schema S\n"
    "  --table T       restore only table T (with --schema to qualify it)\n"
    "  --jobs N        parallel pg_restore (needs --create or --replace; decrypts\n"
    "                  to a private temporary file in $TMPDIR first)\n"
    "  --no-owner      do not restore object ownership\n";

/* "backup --physical", "restore --physical", "verify --wal": the option picks the module. */
static bool
has_option(int argc, char **argv, const char *opt)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], opt) == 0)
            return true;
    return false;
}

static const char *
command_usage_for(const char *cmd, int argc, char **argv)
{
    if (strcmp(cmd, "backup") == 0 && has_option(argc, argv, "--physical"))
        return cf_backup_physical_usage;
    if (strcmp(cmd, "restore") == 0 && has_option(argc, argv, "--physical"))
        return cf_restore_physical_usage;
    if (strcmp(cmd, "verify") == 0 && has_option(argc, argv, "--wal"))
        return cf_verify_wal_usage;
    return NULL;
}

static const char *
command_usage(const char *cmd)
{
    static const struct {
        const char *name;
        const char *usage;
    } commands[] = {{"backup", backup_usage}, {"list", list_usage}, {"verify", verify_usage},
                    {"cat", cat_usage},       {"restore", restore_usage}, {"keys", cf_keys_usage},
                    {"prune", prune_usage},   {"wal-push", cf_wal_push_usage},
                    {"wal-get", cf_wal_get_usage},  {"wal-stream", cf_wal_stream_usage},
                    {"status", cf_status_usage},    {"alert", cf_alert_usage}};

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].usage;
    return NULL;
}

struct ctx {
    char hsm_lock[4096];
    struct cf_config *cfg;
    struct cf_storage *st;
    struct cf_keyring *kr;
    struct cf_repo repo;
};

static void
ctx_close(struct ctx *c)
{
    cf_keyring_free(c->kr);
    cf_storage_free(c->st);
    cf_config_free(c->cfg);
}

static cf_err
ctx_open(struct ctx *c, const char *config_path, struct cf_error *err)
{
    struct cf_keyring_options ko;

    memset(c, 0, sizeof(*c));
    if (cf_config_load(config_path, &c->cfg, err) != CF_OK)
        return err->code;
    for (size_t i = 0; i < c->cfg->n_warnings; i++)
        cf_log_warning("%s", c->cfg->warnings[i]);
    if (c->cfg->repo.type == CF_REPO_S3) {
        if (cf_storage_s3_new(&c->cfg->repo.s3, &c->st, err) != CF_OK)
            return err->code;
    } else if (cf_storage_posix_new(c->cfg->repo.path, &c->st, err) != CF_OK) {
        return err->code;
    }
    ko.module = c->cfg->keys.module;
    ko.keks = (const char *const *)c->cfg->keys.keks;
    ko.n_keks = c->cfg->keys.n_keks;
    ko.pin_file = c->cfg->keys.pin_file;
    /* in the spool, which every coffre process of the instance shares (pkcs11/p11.h) */
    ko.lock_path = NULL;
    if (snprintf(c->hsm_lock, sizeof(c->hsm_lock), "%s/hsm.lock", c->cfg->state_dir) <
        (int)sizeof(c->hsm_lock))
        ko.lock_path = c->hsm_lock;
    if (cf_keyring_open(&ko, &c->kr, err) != CF_OK)
        return err->code;
    c->repo.st = c->st;
    c->repo.keys = cf_keyring_keyops(c->kr);
    c->repo.instance = c->cfg->instance;
    c->repo.chunk_size = (uint32_t)c->cfg->object.chunk_size;
    c->repo.comp.level = c->cfg->object.zstd_level;
    c->repo.comp.workers = c->cfg->object.zstd_workers;
    return CF_OK;
}

static cf_err usage_error(struct cf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static cf_err
usage_error(struct cf_error *err, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cf_error_setf(err, CF_ERR_USAGE, "%s", msg);
    cf_error_hint(err, "Run \"coffre --help\" for usage.");
    return CF_ERR_USAGE;
}

static cf_err
cmd_backup(struct ctx *c, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct cf_backup_options bo = {NULL, false, COFFRE_VERSION};
    int ch;

    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': bo.db = optarg; break;
        case 'j': bo.json = true; break;
        case 'h': (void)fputs(backup_usage, stdout); return CF_OK;
        default: return usage_error(err, "invalid option for %s", "backup");
        }
    }
    if (optind != argc)
        return usage_error(err, "unexpected argument \"%s\"", argv[optind]);
    if (cf_keyring_check(c->kr, false, err) != CF_OK)
        return err->code;
    return cf_cmd_backup(c->cfg, &c->repo, &bo, err);
}

static cf_err
cmd_restore(struct ctx *c, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'}, {"db", required_argument, NULL, 'd'},
        {"schema", required_argument, NULL, 's'}, {"table", required_argument, NULL, 'T'},
        {"jobs", required_argument, NULL, 'j'},   {"create", no_argument, NULL, 'C'},
        {"replace", no_argument, NULL, 'K'},       {"no-owner", no_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    struct cf_restore_options ro;
    int ch;

    memset(&ro, 0, sizeof(ro));
    ro.jobs = 1;
    ro.bindir = c->cfg->pg.bindir;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 't': ro.target = optarg; break;
        case 'd': ro.db = optarg; break;
        case 's': ro.schema = optarg; break;
        case 'T': ro.table = optarg; break;
        case 'j': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);

            if (*end != '\0' || v < 1 || v > 64)
                return usage_error(err, "invalid value for --jobs: \"%s\" (1..64)", optarg);
            ro.jobs = (unsigned)v;
            break;
        }
        case 'C': ro.create = true; break;
        case 'K': ro.replace = true; break;
        case 'O': ro.no_owner = true; break;
        case 'h': (void)fputs(restore_usage, stdout); return CF_OK;
        default: return usage_error(err, "invalid option for %s", "restore");
        }
    }
    if (optind + 1 != argc)
        return usage_error(err, "%s needs exactly one backup ID", "restore");
    ro.id = argv[optind];
    cf_log_set_field("COFFRE_BACKUP_ID", ro.id);
    if (ro.target == NULL)
        return usage_error(err, "%s needs --target CONNINFO", "restore");
    return cf_cmd_restore(&c->repo, &ro, err);
}

static cf_err
cmd_simple(struct ctx *c, const char *cmd, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"all", no_argument, NULL, 'a'},
        {"dry-run", no_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    bool json = false, all = false, dry_run = false;
    int ch;

    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': json = true; break;
        case 'a': all = true; break;
        case 'n': dry_run = true; break;
        case 'h': (void)fputs(command_usage(cmd), stdout); return CF_OK;
        default: return usage_error(err, "invalid option for %s", cmd);
        }
    }
    if ((all && strcmp(cmd, "verify") != 0) || (dry_run && strcmp(cmd, "prune") != 0))
        return usage_error(err, "invalid option for %s", cmd);
    if (strcmp(cmd, "prune") == 0) {
        if (optind != argc)
            return usage_error(err, "unexpected argument \"%s\"", argv[optind]);
        return cf_cmd_prune(c->cfg, &c->repo, dry_run, json, err);
    }
    if (strcmp(cmd, "list") == 0) {
        if (optind != argc)
            return usage_error(err, "unexpected argument \"%s\"", argv[optind]);
        return cf_cmd_list(&c->repo, json, err);
    }
    if (strcmp(cmd, "verify") == 0) {
        if (all == (optind < argc) || argc - optind > 1)
            return usage_error(err, "%s needs one backup ID or --all", "verify");
        if (!all)
            cf_log_set_field("COFFRE_BACKUP_ID", argv[optind]);
        return cf_cmd_verify(&c->repo, all ? NULL : argv[optind], json, err);
    }
    if (optind + 1 != argc)
        return usage_error(err, "%s needs exactly one OBJECT", "cat");
    return cf_cmd_cat(&c->repo, argv[optind], err);
}

static cf_err
dispatch(const char *config, int argc, char **argv, bool *wal_missing, struct cf_error *err)
{
    const char *cmd = argv[0];
    struct ctx c;
    cf_err rc;

    const char *usage = command_usage(cmd);
    const char *special = command_usage_for(cmd, argc, argv);

    if (usage == NULL)
        return usage_error(err, "unknown command \"%s\"", cmd);
    if (special != NULL)
        usage = special;
    /* --help needs no configuration, HSM or repository */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            (void)fputs(usage, stdout);
            return CF_OK;
        }
    }
    if ((rc = ctx_open(&c, config, err)) == CF_OK) {
        /* runs whose outcome operators watch: recorded for metrics and alerts */
        const char *kind = strcmp(cmd, "backup") == 0 ? "backup"
                           : strcmp(cmd, "verify") == 0 ? "verify"
                           : strcmp(cmd, "prune") == 0 && !has_option(argc, argv, "--dry-run")
                               ? "prune"
                               : NULL;
        int64_t start = (int64_t)time(NULL);

        cf_log_set_field("COFFRE_INSTANCE", c.cfg->instance);
        cf_log_set_field("COFFRE_COMMAND", cmd);
        optind = 0; /* GNU getopt: 0 re-initialises, with argument permutation */
        if (strcmp(cmd, "backup") == 0 && special != NULL)
            rc = cf_cmd_backup_physical(c.cfg, &c.repo, argc, argv, COFFRE_VERSION, err);
        else if (strcmp(cmd, "restore") == 0 && special != NULL)
            rc = cf_cmd_restore_physical(c.cfg, &c.repo, argc, argv, err);
        else if (strcmp(cmd, "verify") == 0 && special != NULL)
            rc = cf_cmd_verify_wal(c.cfg, &c.repo, argc, argv, err);
        else if (strcmp(cmd, "wal-push") == 0)
            rc = cf_cmd_wal_push(c.cfg, &c.repo, argc, argv, err);
        else if (strcmp(cmd, "wal-get") == 0)
            rc = cf_cmd_wal_get(c.cfg, &c.repo, argc, argv, wal_missing, err);
        else if (strcmp(cmd, "wal-stream") == 0)
            rc = cf_cmd_wal_stream(c.cfg, &c.repo, argc, argv, err);
        else if (strcmp(cmd, "backup") == 0)
            rc = cmd_backup(&c, argc, argv, err);
        else if (strcmp(cmd, "restore") == 0)
            rc = cmd_restore(&c, argc, argv, err);
        else if (strcmp(cmd, "keys") == 0)
            rc = cf_cmd_keys(c.cfg, c.kr, &c.repo, argc, argv, err);
        else if (strcmp(cmd, "status") == 0)
            rc = cf_cmd_status(c.cfg, &c.repo, argc, argv, err);
        else if (strcmp(cmd, "alert") == 0)
            rc = cf_cmd_alert(c.cfg, &c.repo, argc, argv, err);
        else
            rc = cmd_simple(&c, cmd, argc, argv, err);
        if (kind != NULL && rc != CF_ERR_USAGE && c.cfg->metrics.ops_enabled)
            cf_ops_after_run(c.cfg, &c.repo, kind, start, err);
    }
    ctx_close(&c);
    return rc;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0}};
    const char *config = getenv("COFFRE_CONFIG");
    struct cf_error err = CF_ERROR_INIT;
    bool wal_missing = false, wal_get;
    int ch, first;

    if (config == NULL)
        config = CF_CONFIG_DEFAULT_PATH;
    /* keys and plaintext pass through this process: no core dumps */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    cf_cancel_install();
    while ((ch = getopt_long(argc, argv, "+c:vqhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'v': cf_log_set_level(CF_LOG_DEBUG); break;
        case 'q': cf_log_set_level(CF_LOG_ERROR); break;
        case 'h': (void)fputs(usage_text, stdout); return 0;
        case 'V': printf("coffre %s\n", COFFRE_VERSION); return 0;
        default: (void)fputs(usage_text, stderr); return 2;
        }
    }
    if (optind >= argc) {
        (void)fputs(usage_text, stderr);
        return 2;
    }
    if (sodium_init() < 0) {
        cf_log_error("could not initialise libsodium");
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cf_log_error("could not initialise libcurl");
        return 1;
    }
    first = optind; /* the commands run getopt again */
    wal_get = strcmp(argv[first], "wal-get") == 0;
    (void)dispatch(config, argc - first, argv + first, &wal_missing, &err);
    curl_global_cleanup();
    if (fflush(stdout) != 0 && err.code == CF_OK)
        cf_error_setf(&err, CF_ERR_IO, "could not write to standard output");
    if (wal_get && wal_missing) {
        /* restore_command: the normal end of the archive, not a failure */
        cf_log_info("WAL file \"%s\" is not in the repository",
                    first + 1 < argc ? argv[first + 1] : "?");
        return 1;
    }
    cf_log_cf_error(&err);
    /* PostgreSQL takes a restore_command status of 125 or less for "no such file" and
     * ends recovery there; any real failure of wal-get (configuration, HSM, corrupt
     * object) must stop recovery instead: docs/wal.md */
    if (wal_get && err.code != CF_OK)
        return 200 + cf_error_exit_status(err.code);
    return cf_error_exit_status(err.code);
}
