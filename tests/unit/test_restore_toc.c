/*
 * test_restore_toc.c - selective restores: the -L list built from a
 * pg_restore --list of the whole archive and of the -n/-t selection
 * (cf_restore_filter_toc).  The listings are what PostgreSQL 15's pg_restore
 * prints for a dump with two schemas, one with a name that needs quoting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "restore/restore.h"

static const char all[] =
    ";\n"
    "; Archive created at 2026-12-03 08:22:57 UTC\n"
    ";     dbname: postgres\n"
    ";\n"
    "; Selected TOC Entries:\n"
    ";\n"
    "6; 2615 16385 SCHEMA - Mixed Case postgres\n"
    "7; 2615 16384 SCHEMA - app postgres\n"
    "3366; 0 0 COMMENT - SCHEMA app postgres\n"
    "3367; 0 0 ACL - SCHEMA app postgres\n"
    "218; 1259 16397 TABLE Mixed Case T 3 postgres\n"
    "216; 1259 16386 TABLE app t1 postgres\n"
    "217; 1259 16393 TABLE app t2 postgres\n"
    "219; 1259 16400 TABLE public p postgres\n"
    "3357; 0 16397 TABLE DATA Mixed Case T 3 postgres\n"
    "3355; 0 16386 TABLE DATA app t1 postgres\n"
    "3356; 0 16393 TABLE DATA app t2 postgres\n"
    "3358; 0 16400 TABLE DATA public p postgres\n"
    "3211; 2606 16392 CONSTRAINT app t1 t1_pkey postgres\n"
    "3212; 1259 16396 INDEX app t2_i postgres\n";

/* pg_restore --list -n app */
static const char sel_app[] =
    ";\n; Selected TOC Entries:\n;\n"
    "216; 1259 16386 TABLE app t1 postgres\n"
    "217; 1259 16393 TABLE app t2 postgres\n"
    "3355; 0 16386 TABLE DATA app t1 postgres\n"
    "3356; 0 16393 TABLE DATA app t2 postgres\n"
    "3211; 2606 16392 CONSTRAINT app t1 t1_pkey postgres\n"
    "3212; 1259 16396 INDEX app t2_i postgres\n";

/* pg_restore --list -n "Mixed Case" -t "T 3" */
static const char sel_mixed[] =
    ";\n; Selected TOC Entries:\n;\n"
    "218; 1259 16397 TABLE Mixed Case T 3 postgres\n"
    "3357; 0 16397 TABLE DATA Mixed Case T 3 postgres\n";

static void
test_schema_adds_its_own_entries(void **state)
{
    char *out = NULL;
    size_t n;

    (void)state;
    n = cf_restore_filter_toc(all, sel_app, "app", &out);
    assert_non_null(out);
    /* the schema, its comment and its grant come first, in archive order */
    assert_string_equal(out, "7; 2615 16384 SCHEMA - app postgres\n"
                             "3366; 0 0 COMMENT - SCHEMA app postgres\n"
                             "3367; 0 0 ACL - SCHEMA app postgres\n"
                             "216; 1259 16386 TABLE app t1 postgres\n"
                             "217; 1259 16393 TABLE app t2 postgres\n"
                             "3355; 0 16386 TABLE DATA app t1 postgres\n"
                             "3356; 0 16393 TABLE DATA app t2 postgres\n"
                             "3211; 2606 16392 CONSTRAINT app t1 t1_pkey postgres\n"
                             "3212; 1259 16396 INDEX app t2_i postgres\n");
    assert_int_equal(n, 9);
    free(out);
}

static void
test_table_in_a_schema_that_needs_quoting(void **state)
{
    char *out = NULL;

    (void)state;
    assert_int_equal(cf_restore_filter_toc(all, sel_mixed, "Mixed Case", &out), 3);
    assert_string_equal(out, "6; 2615 16385 SCHEMA - Mixed Case postgres\n"
                             "218; 1259 16397 TABLE Mixed Case T 3 postgres\n"
                             "3357; 0 16397 TABLE DATA Mixed Case T 3 postgres\n");
    free(out);
}

static void
test_table_without_schema(void **state)
{
    static const char sel_p[] = "219; 1259 16400 TABLE public p postgres\n"
                                "3358; 0 16400 TABLE DATA public p postgres\n";
    char *out = NULL;

    (void)state;
    /* --table alone: no schema entry is added, nothing of other schemas */
    assert_int_equal(cf_restore_filter_toc(all, sel_p, NULL, &out), 2);
    assert_string_equal(out, sel_p);
    free(out);
}

static void
test_nothing_selected(void **state)
{
    char *out = NULL;

    (void)state;
    assert_int_equal(cf_restore_filter_toc(all, ";\n; Selected TOC Entries:\n;\n", NULL, &out),
                     0);
    assert_string_equal(out, "");
    free(out);
    /* a schema that is not in the archive: nothing, not its neighbours */
    assert_int_equal(cf_restore_filter_toc(all, "", "ap", &out), 0);
    free(out);
}

static void
test_comments_never_selected(void **state)
{
    char *out = NULL;

    (void)state;
    /* a comment line of the selection is not an entry of the list */
    assert_int_equal(cf_restore_filter_toc(all, ";\n", NULL, &out), 0);
    free(out);
    /* no final newline in pg_restore's output */
    assert_int_equal(cf_restore_filter_toc("7; 2615 16384 SCHEMA - app postgres", "", "app",
                                           &out),
                     1);
    assert_string_equal(out, "7; 2615 16384 SCHEMA - app postgres\n");
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_adds_its_own_entries),
        cmocka_unit_test(test_table_in_a_schema_that_needs_quoting),
        cmocka_unit_test(test_table_without_schema),
        cmocka_unit_test(test_nothing_selected),
        cmocka_unit_test(test_comments_never_selected),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
