/*
 * cluster_int.h - what cluster.c (directories, files, initdb) and
 * cluster_run.c (the server process) share.  Not for other modules.
 */
#ifndef CF_CLUSTER_INT_H
#define CF_CLUSTER_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct cf_cluster {
    char workdir[PATH_MAX], pgdata[PATH_MAX], sockdir[PATH_MAX], log[PATH_MAX];
    char hba[PATH_MAX], ident[PATH_MAX], conf[PATH_MAX]; /* conf "": the PGDATA's own */
    char postgres[PATH_MAX];
    char user[256], label[64], port_text[16];
    char conninfo[PATH_MAX + 512];
    int port;
    pid_t pid;                  /* the postmaster, our child; -1: not running */
    int64_t start_timeout_s;
    bool keep, made_workdir;
};

/* Immediate shutdown, SIGKILL if even that hangs; reaps the postmaster.  Never fails. */
void cf_cluster_stop_now(struct cf_cluster *c);

#endif
