/* Shared helpers for the CUnit test programs. */
#ifndef SPARSIFY_TESTUTIL_H
#define SPARSIFY_TESTUTIL_H

#include <CUnit/CUnit.h>

/*
 * Runs every registered suite with the basic interface and returns the process
 * exit code: non-zero if any assertion or test failed (CU_basic_run_tests itself
 * returns success even then). Prints CUnit's "Run Summary" table.
 */
int sp_test_main(void);

/* Source tree path of a fixture ("tests/fixtures/x"), from SPARSIFY_SOURCE_DIR.
 * Returns a static buffer. */
const char *sp_test_source_path(const char *rel);

/* A fresh empty temporary folder (mkdtemp under TMPDIR); static buffer. */
const char *sp_test_tmpdir(void);

#endif
