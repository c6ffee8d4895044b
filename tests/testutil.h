/* Shared helpers for the CUnit test programs. */
#ifndef SPARSIFY_TESTUTIL_H
#define SPARSIFY_TESTUTIL_H

#include <stddef.h>

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

/* A whole file's bytes (malloc'ed, caller frees; one spare byte at the end)
 * and their count in *len; NULL with *len = 0 if it cannot be read. */
void *sp_test_read_file(const char *path, size_t *len);

/* Writes `len` bytes to `path` (created or truncated); asserts fatally on error. */
void sp_test_write_file(const char *path, const void *buf, size_t len);

#endif
