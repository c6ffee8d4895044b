# Fault injection (issue 7): killed ranks, a rank 0 killed mid-checkpoint, a
# full disk and a read-only output folder (tests/faults/faults.sh). The mount
# cases need root; without it they report "skipped" (exit 77).
foreach(case kill_rank kill_rank0_ckpt disk_full read_only)
  add_test(NAME faults_${case} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/faults/faults.sh ${case})
  set_tests_properties(faults_${case} PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS "faults;mpi"
    ENVIRONMENT "${SPARSIFY_TEST_ENV};SPARSIFY_MPIEXEC=${MPIEXEC_EXECUTABLE};SPARSIFY_NP_FLAG=${MPIEXEC_NUMPROC_FLAG}")
endforeach()
