# Evaluation: the idx2npz tool (Fashion-MNIST idx files -> a data folder), the
# `sparsify eval` error cases, and the quality test of the demo CNN on the full
# 10,000-image Fashion-MNIST test set (generated at test time into the build
# folder; needs Debian's dataset-fashion-mnist).
add_executable(idx2npz ${CMAKE_SOURCE_DIR}/tools/idx2npz.c)
target_link_libraries(idx2npz PRIVATE sparsify ZLIB::ZLIB PkgConfig::LIBZIP)

set(SPARSIFY_FMNIST_DIR "/usr/share/datasets/fashion-mnist" CACHE PATH
  "Folder holding Fashion-MNIST's idx files (dataset-fashion-mnist)")
if(TARGET test_eval)
  target_link_libraries(test_eval PRIVATE PkgConfig::JANSSON)
endif()

# The zoo entry quality_demo compresses, calibrated on the first 1,024
# Fashion-MNIST training images (made at test time, like the test set).
set(SPARSIFY_QUALITY_MODEL "fashion-cnn-large")
set(SPARSIFY_FMNIST_CALIB "${CMAKE_CURRENT_BINARY_DIR}/fmnist-calib1024")
add_test(NAME eval_fmnist_calib
  COMMAND idx2npz --images ${SPARSIFY_FMNIST_DIR}/train-images-idx3-ubyte.gz
          --labels ${SPARSIFY_FMNIST_DIR}/train-labels-idx1-ubyte.gz --count 1024
          --out ${SPARSIFY_FMNIST_CALIB} --labels-out ${SPARSIFY_FMNIST_CALIB}-labels.npy)
set_tests_properties(eval_fmnist_calib PROPERTIES FIXTURES_SETUP fmnist_calib TIMEOUT 300)

# The 10,000 test images, made once per test run into the build folder.
set(SPARSIFY_FMNIST_TEST "${CMAKE_CURRENT_BINARY_DIR}/fmnist-test")
add_test(NAME eval_fmnist_data
  COMMAND idx2npz --images ${SPARSIFY_FMNIST_DIR}/t10k-images-idx3-ubyte.gz
          --labels ${SPARSIFY_FMNIST_DIR}/t10k-labels-idx1-ubyte.gz
          --out ${SPARSIFY_FMNIST_TEST} --labels-out ${SPARSIFY_FMNIST_TEST}-labels.npy)
set_tests_properties(eval_fmnist_data PROPERTIES FIXTURES_SETUP fmnist_test TIMEOUT 300)

add_test(NAME eval_cli_errors
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/eval/cli_errors.sh $<TARGET_FILE:sparsify_cli> $<TARGET_FILE:idx2npz>
          ${CMAKE_CURRENT_BINARY_DIR}/eval-cli-work)
set_tests_properties(eval_cli_errors PROPERTIES ENVIRONMENT "${SPARSIFY_TEST_ENV};FMNIST_DIR=${SPARSIFY_FMNIST_DIR}"
  TIMEOUT 300)

add_test(NAME quality_demo
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/eval/quality.sh $<TARGET_FILE:sparsify_cli> ${SPARSIFY_FMNIST_TEST}
          ${SPARSIFY_FMNIST_TEST}-labels.npy ${CMAKE_CURRENT_BINARY_DIR}/quality-work ${SPARSIFY_QUALITY_MODEL}
          ${SPARSIFY_FMNIST_CALIB})
set_tests_properties(quality_demo PROPERTIES ENVIRONMENT "${SPARSIFY_TEST_ENV}" FIXTURES_REQUIRED "fmnist_test;fmnist_calib"
  TIMEOUT 1800)
