/*
 * docs/operators.md is generated from the operator registry (ops.def plus the
 * opset ranges each implementation declares), so the published list cannot
 * drift from what the engine accepts. `run_conformance --write-ops-doc FILE`
 * writes it; the CTest `operators_doc` fails when the committed file differs.
 */
#ifndef SPARSIFY_TEST_OPS_DOC_H
#define SPARSIFY_TEST_OPS_DOC_H

/* The Markdown text of docs/operators.md, malloc'ed (caller frees). */
char *sp_ops_doc_markdown(void);

#endif
