# The sparsify command, tested two ways:
#  - unit_cli (tests/unit/test_cli.c) calls the CLI's functions in-process; it
#    links the CLI sources (all of src/cli/ but main.c) as a static library;
#  - cli_* run the built binary under mpirun with 2 ranks (tests/cli/cases.sh),
#    checking exit codes, one-line errors, byte-identical level-0 output and
#    report.json (through tests/cli/check_report.c, so no Python is needed).

# The default zoo location (SPARSIFY_ZOO_DEFS) is defined in the top-level
# CMakeLists.txt with the sparsify_cli target; the in-process core uses the same.

file(GLOB SPARSIFY_CLI_CORE_SOURCES CONFIGURE_DEPENDS "${CMAKE_SOURCE_DIR}/src/cli/*.c")
list(FILTER SPARSIFY_CLI_CORE_SOURCES EXCLUDE REGEX "/main\\.c$")
add_library(sparsify_cli_core STATIC ${SPARSIFY_CLI_CORE_SOURCES})
target_include_directories(sparsify_cli_core PUBLIC ${CMAKE_SOURCE_DIR}/src)
target_compile_definitions(sparsify_cli_core PRIVATE SPARSIFY_VERSION="${PROJECT_VERSION}" ${SPARSIFY_ZOO_DEFS})
target_link_libraries(sparsify_cli_core PUBLIC sparsify PkgConfig::JANSSON m)
if(TARGET test_cli)
  target_link_libraries(test_cli PRIVATE sparsify_cli_core)
endif()

add_executable(check_report ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_report.c)
target_link_libraries(check_report PRIVATE PkgConfig::JANSSON)

set(SPARSIFY_CLI_CASES help_and_version bad_flags zoo_names level0_np2 level0_np1_alias
  level_above_zero_np2 bad_sample_np2 output_not_folder existing_output_kept custom_use_case external_data_np2 run_np2)
foreach(case ${SPARSIFY_CLI_CASES})
  add_test(NAME cli_${case}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/cases.sh ${case})
  set_tests_properties(cli_${case} PROPERTIES TIMEOUT 300
    ENVIRONMENT "${SPARSIFY_TEST_ENV};SPARSIFY_MPIEXEC=${MPIEXEC_EXECUTABLE};SPARSIFY_NP_FLAG=${MPIEXEC_NUMPROC_FLAG};SPARSIFY_CHECK_REPORT=$<TARGET_FILE:check_report>")
endforeach()
