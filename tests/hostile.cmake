# Hostile inputs (issue 7): the real sparsify binary against malformed models,
# samples, folders, flag values and checkpoints (tests/hostile/cases.sh). The
# hostile files are generated at test time by make_hostile from committed test
# models. One CTest entry per group so ctest -j spreads them.

add_executable(make_hostile ${CMAKE_CURRENT_SOURCE_DIR}/hostile/make_hostile.c)
target_link_libraries(make_hostile PRIVATE sparsify_testutil)

set(_hostile_tool "")
if(TARGET compress_tool)
  set(_hostile_tool "SPARSIFY_COMPRESS_TOOL=$<TARGET_FILE:compress_tool>")
endif()
foreach(group onnx npz folders cli checkpoint numerics)
  add_test(NAME hostile_${group} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/hostile/cases.sh ${group})
  set_tests_properties(hostile_${group} PROPERTIES TIMEOUT 300 LABELS "hostile;serial"
    ENVIRONMENT "${SPARSIFY_TEST_ENV};SPARSIFY_MAKE_HOSTILE=$<TARGET_FILE:make_hostile>;${_hostile_tool}")
endforeach()
