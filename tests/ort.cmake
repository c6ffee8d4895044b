# ONNX Runtime agreement: every committed test model and the demo, run by
# sparsify's engine and by onnxruntime-node, outputs compared at 1e-4 relative.
set(SPARSIFY_ORT_MODELS cnn bert_tiny bert_tiny_op17 mobile seg_det const_cnn)
foreach(m ${SPARSIFY_ORT_MODELS})
  add_test(NAME ort_agree_${m}
    COMMAND sh ${CMAKE_SOURCE_DIR}/tests/ort/agree.sh
      ${CMAKE_SOURCE_DIR}/tests/models/${m}/model.onnx ${CMAKE_SOURCE_DIR}/tests/models/${m}/data
      ${CMAKE_CURRENT_BINARY_DIR}/ort_agree/${m} 1e-4 1e-5)
  set_tests_properties(ort_agree_${m} PROPERTIES ENVIRONMENT "${SPARSIFY_TEST_ENV}" LABELS ort TIMEOUT 300)
endforeach()
add_test(NAME ort_agree_demo
  COMMAND sh ${CMAKE_SOURCE_DIR}/tests/ort/agree.sh
    ${CMAKE_SOURCE_DIR}/demo/fashion-cnn/model.onnx ${CMAKE_SOURCE_DIR}/demo/fashion-cnn/data
    ${CMAKE_CURRENT_BINARY_DIR}/ort_agree/demo 1e-4 1e-5)
set_tests_properties(ort_agree_demo PROPERTIES ENVIRONMENT "${SPARSIFY_TEST_ENV}" LABELS ort TIMEOUT 300)
