# libFuzzer harnesses (issue 7): the ONNX loader + engine construction, the
# .npy/.npz reader and the checkpoint reader, built only with
#   CC=clang cmake -DSPARSIFY_FUZZ=ON ...    (make fuzz does this)
# The library is compiled a second time, as a static library with
# -fsanitize=fuzzer-no-link,address,undefined, so coverage guides the fuzzer
# through sparsify's own code. Each harness is a CTest entry (label "fuzz")
# running FUZZ_SECONDS (default 20) from its seed corpus.

option(SPARSIFY_FUZZ "Build the libFuzzer harnesses (needs clang)" OFF)
set(SPARSIFY_FUZZ_SECONDS 20 CACHE STRING "Seconds each fuzz_* test runs")
if(SPARSIFY_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(WARNING "SPARSIFY_FUZZ needs clang (CC=clang-14); fuzz harnesses not built")
  else()
    set(_fz -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -g)
    add_library(sparsify_fuzzlib STATIC ${SPARSIFY_LIB_SOURCES} "${ONNX_GEN_DIR}/onnx.pb-c.c")
    target_compile_options(sparsify_fuzzlib PRIVATE ${_fz})
    # The generated onnx.pb-c.[ch] belong to the top directory's custom command:
    # depending on the main library makes them exist first.
    add_dependencies(sparsify_fuzzlib sparsify)
    target_compile_definitions(sparsify_fuzzlib PRIVATE SPARSIFY_VERSION="${PROJECT_VERSION}")
    target_include_directories(sparsify_fuzzlib
      PUBLIC ${CMAKE_SOURCE_DIR}/include PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/mpi ${ONNX_GEN_DIR})
    target_link_libraries(sparsify_fuzzlib PUBLIC MPI::MPI_C PkgConfig::LIBZIP PkgConfig::PROTOBUFC
      PkgConfig::OPENBLAS PkgConfig::JANSSON HDF5::HDF5 ZLIB::ZLIB Threads::Threads m)
    foreach(h onnx npz ckpt)
      add_executable(fuzz_${h} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_${h}.c)
      target_compile_options(fuzz_${h} PRIVATE ${_fz})
      target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer,address,undefined)
      target_link_libraries(fuzz_${h} PRIVATE sparsify_fuzzlib)
    endforeach()
    add_executable(seed_ckpt ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seed_ckpt.c)
    target_compile_options(seed_ckpt PRIVATE -fsanitize=address,undefined)
    target_link_options(seed_ckpt PRIVATE -fsanitize=address,undefined)
    target_link_libraries(seed_ckpt PRIVATE sparsify_fuzzlib)

    set(_run bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzz.sh)
    add_test(NAME fuzz_onnx COMMAND ${_run} $<TARGET_FILE:fuzz_onnx> ${SPARSIFY_FUZZ_SECONDS}
      ${CMAKE_SOURCE_DIR}/tests/models/const_cnn/model.onnx ${CMAKE_SOURCE_DIR}/tests/models/mobile/model.onnx
      ${CMAKE_SOURCE_DIR}/tests/models/seg_det/model.onnx ${CMAKE_SOURCE_DIR}/tests/models/cnn/model.onnx
      models:${SPARSIFY_CONFORMANCE_DATA}/node ${CMAKE_SOURCE_DIR}/tests/fuzz/crashers/onnx)
    add_test(NAME fuzz_npz COMMAND ${_run} $<TARGET_FILE:fuzz_npz> ${SPARSIFY_FUZZ_SECONDS}
      ${CMAKE_SOURCE_DIR}/tests/fixtures/npz/valid ${CMAKE_SOURCE_DIR}/tests/fixtures/npz/errors
      ${CMAKE_SOURCE_DIR}/tests/models/cnn/data)
    add_test(NAME fuzz_ckpt COMMAND ${_run} $<TARGET_FILE:fuzz_ckpt> ${SPARSIFY_FUZZ_SECONDS} ckpt:$<TARGET_FILE:seed_ckpt>
      ${CMAKE_SOURCE_DIR}/tests/fuzz/crashers/ckpt)
    set_tests_properties(fuzz_onnx fuzz_npz fuzz_ckpt PROPERTIES LABELS fuzz TIMEOUT 1200
      ENVIRONMENT "${SPARSIFY_TEST_ENV};OMPI_MCA_ess_singleton_isolated=1")
    # tests/fuzz/crashers/<harness> holds every input a harness once failed on
    # (docs/hardening.md); each run replays them first, as seeds.
  endif()
endif()
