/*
 * prune.h - `coffre prune [--dry-run] [--json]`: apply the retention policy.
 */
#ifndef CF_PRUNE_H
#define CF_PRUNE_H

#include <stdbool.h>

#include "common/config.h"
#include "storage/repo.h"

cf_err cf_cmd_prune(const struct cf_config *cfg, const struct cf_repo *repo, bool dry_run,
                    bool json, struct cf_error *err);

#endif
