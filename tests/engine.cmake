# Helpers shared by the engine's tests: the C graph builder used by
# tests/unit/test_engine.c and the generator of docs/operators.md.
target_sources(sparsify_testutil PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/graph_builder.c
  ${CMAKE_CURRENT_SOURCE_DIR}/conformance/ops_doc.c)
target_include_directories(sparsify_testutil PUBLIC
  ${CMAKE_CURRENT_SOURCE_DIR}/unit ${CMAKE_CURRENT_SOURCE_DIR}/conformance)
