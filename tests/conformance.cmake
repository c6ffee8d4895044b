# ONNX backend conformance (issue 3, point 3): every case of Debian's
# libonnx-testdata through the engine, with per-op tolerances and a regression
# guard (tests/conformance/expected_pass.txt). Also checks that
# docs/operators.md matches the operator registry.
add_executable(run_conformance ${CMAKE_CURRENT_SOURCE_DIR}/conformance/run_conformance.c)
target_link_libraries(run_conformance PRIVATE sparsify_testutil)

set(SPARSIFY_CONFORMANCE_DATA "/usr/share/libonnx-testdata/data" CACHE PATH "libonnx-testdata's data folder")
add_test(NAME conformance COMMAND run_conformance --data ${SPARSIFY_CONFORMANCE_DATA}
  --expected ${CMAKE_CURRENT_SOURCE_DIR}/conformance/expected_pass.txt)
set_tests_properties(conformance PROPERTIES ENVIRONMENT "${SPARSIFY_TEST_ENV}" TIMEOUT 1800)

add_test(NAME operators_doc COMMAND run_conformance --check-ops-doc ${CMAKE_SOURCE_DIR}/docs/operators.md)
set_tests_properties(operators_doc PROPERTIES ENVIRONMENT "${SPARSIFY_TEST_ENV}")

# The comparison itself: wrong numbers, NaN, Inf, shapes, dtypes must fail it.
add_test(NAME conformance_selftest COMMAND run_conformance --self-test)
