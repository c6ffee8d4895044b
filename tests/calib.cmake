# Calibration under mpirun (tests/calib/cases.sh): the stats digest must be the
# same for -np 1..4, for every checkpoint interval, after an interruption and
# after a SIGKILL followed by --resume; damaged or foreign checkpoints must be
# refused with a clear message.
add_executable(calib_run ${CMAKE_CURRENT_SOURCE_DIR}/calib/calib_run.c)
target_link_libraries(calib_run PRIVATE sparsify)

set(SPARSIFY_CALIB_CASES ranks_cnn ranks_bert intervals interrupt_resume kill_resume bad_checkpoint cli_resume)
foreach(case ${SPARSIFY_CALIB_CASES})
  add_test(NAME calib_${case} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/calib/cases.sh ${case})
  set_tests_properties(calib_${case} PROPERTIES TIMEOUT 300
    ENVIRONMENT "${SPARSIFY_TEST_ENV};SPARSIFY_MPIEXEC=${MPIEXEC_EXECUTABLE};SPARSIFY_NP_FLAG=${MPIEXEC_NUMPROC_FLAG};SPARSIFY_CALIB_RUN=$<TARGET_FILE:calib_run>")
endforeach()
