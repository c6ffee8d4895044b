# The Slurm batch scripts on a real single-node Slurm (tests/slurm/run_slurm_test.sh):
# starts munge/slurmctld/slurmd as root, submits jobs, stops the daemons.
# Skips (exit 77) when the Slurm packages are missing. Label "slurm".
add_test(NAME slurm_batch COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/slurm/run_slurm_test.sh)
set_tests_properties(slurm_batch PROPERTIES
  ENVIRONMENT "${SPARSIFY_TEST_ENV}"
  LABELS "slurm"
  SKIP_RETURN_CODE 77
  TIMEOUT 300
  # One Slurm at a time, and nothing else competing for its 2 CPUs.
  RESOURCE_LOCK slurm
  RUN_SERIAL TRUE)

# unit_signals (tests/unit/test_signals.c) tests src/cli/signals.c, which lives
# in the CLI, not the library: link the CLI core that tests/cli.cmake builds.
if(TARGET test_signals AND TARGET sparsify_cli_core)
  target_link_libraries(test_signals PRIVATE sparsify_cli_core)
endif()
