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
