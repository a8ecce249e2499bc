#!/bin/bash
# test_05_cli -- the command table (cli/commands.c): every command that
# `coffre --help` lists answers its own --help without a configuration, an
# HSM or a repository; an unknown command and a bad global option are usage
# errors (status 2); a missing configuration is status 3.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_05_cli: the command table"

run_ok "coffre --help" "$COFFRE" --help
HELP=$(cat "$LAST_OUT")
like "$HELP" "Usage: coffre [--config FILE]" "--help shows the global usage"
# every command and variant the table holds, as --help lists them
cmds=$(printf '%s\n' "$HELP" | sed -n 's/^  \([a-z-]*\)\( --[a-z]*\)\{0,1\} .*/\1\2/p' | sort -u)
n=$(printf '%s\n' "$cmds" | grep -c .)
ok "--help lists at least the 15 commands and variants of the table ($n)" test "$n" -ge 15
while read -r cmd variant; do
    name="$cmd${variant:+ $variant}"
    # shellcheck disable=SC2086 # variant is one option or empty
    run_ok "coffre $name --help, with no configuration" \
        "$COFFRE" --config /nonexistent/coffre.conf $cmd $variant --help
    like "$(cat "$LAST_OUT")" "Usage: coffre $cmd" "$name --help prints its usage"
done <<<"$cmds"
like "$(COFFRE_CONFIG=/nonexistent "$COFFRE" restore --physical --help)" \
    "--pgdata DIR" "restore --physical --help is the physical restore's"
like "$("$COFFRE" backup --physical --help)" "BASE_BACKUP" \
    "backup --physical --help is the base backup's"

run_fails "an unknown command" 2 "$COFFRE" nope
like "$(cat "$LAST_ERR")" 'unknown command "nope"' "it names the command"
run_fails "a bad global option" 2 "$COFFRE" --nope list
run_fails "no command" 2 "$COFFRE"
like "$(cat "$LAST_ERR")" "Usage: coffre" "no command prints the usage"
run_ok "--version" "$COFFRE" --version
like "$(cat "$LAST_OUT")" "coffre " "--version names coffre"
like "$(cat "$LAST_OUT")" "object format 1 (reads 1 to 1)" "--version names the object format"
like "$(cat "$LAST_OUT")" "manifest format 1, signed" "--version names the manifest format"

run_fails "a missing configuration file" 3 "$COFFRE" --config /nonexistent/coffre.conf list
like "$(cat "$LAST_ERR")" 'could not read configuration file "/nonexistent/coffre.conf"' \
    "the missing configuration is named"

# the CI pipelines for drills (docs/drill.md): valid YAML, scheduled quarterly,
# runnable by hand, running coffre drill --junit and publishing the report
if python3 -c 'import yaml' 2>/dev/null; then
    ok "ci/github/coffre-drill.yml is a quarterly, manual workflow running coffre drill --junit" \
        python3 - "$REPO_ROOT/ci/github/coffre-drill.yml" <<'PY'
import sys, yaml
w = yaml.safe_load(open(sys.argv[1]))
on = w[True] if True in w else w["on"]          # YAML 1.1 reads "on" as true
assert on["schedule"][0]["cron"] == "0 3 1 1,4,7,10 *" and "workflow_dispatch" in on
steps = w["jobs"]["drill"]["steps"]
assert any("drill" in s.get("run", "") and "--junit" in s.get("run", "") for s in steps)
assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in steps)
PY
    ok "ci/gitlab/coffre-drill.gitlab-ci.yml runs coffre drill --junit and reports JUnit" \
        python3 - "$REPO_ROOT/ci/gitlab/coffre-drill.gitlab-ci.yml" <<'PY'
import sys, yaml
j = yaml.safe_load(open(sys.argv[1]))["coffre-drill"]
assert any("schedule" in r["if"] for r in j["rules"]) and any("web" in r["if"] for r in j["rules"])
assert any("drill" in line and "--junit" in line for line in j["script"])
assert j["artifacts"]["reports"]["junit"] == "report/drill.xml"
PY
fi

done_testing
