# Compression tests: the command-line harness over the compression core (with
# a small single-process calibrator), and script tests that check the output
# models with onnx's checker, ONNX Runtime and sparsify's engine.
add_library(sparsify_minicalib STATIC ${CMAKE_CURRENT_SOURCE_DIR}/compress/mini_calib.c)
target_include_directories(sparsify_minicalib PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/compress
  ${CMAKE_SOURCE_DIR}/src ${ONNX_GEN_DIR})
target_link_libraries(sparsify_minicalib PUBLIC sparsify PkgConfig::PROTOBUFC m)

add_executable(compress_tool ${CMAKE_CURRENT_SOURCE_DIR}/compress/compress_tool.c)
target_link_libraries(compress_tool PRIVATE sparsify_minicalib PkgConfig::JANSSON)

foreach(t IN ITEMS test_compress test_qdq)
  if(TARGET ${t})
    target_link_libraries(${t} PRIVATE sparsify_minicalib PkgConfig::JANSSON)
  endif()
endforeach()

foreach(case IN ITEMS demo cnn mobile const_cnn bert_tiny seg_det)
  add_test(NAME compress_ort_${case}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/compress/check_model.sh ${case} $<TARGET_FILE:compress_tool>
            $<TARGET_FILE:sparsify_cli>)
  set_tests_properties(compress_ort_${case} PROPERTIES ENVIRONMENT "${SPARSIFY_TEST_ENV}" TIMEOUT 900)
endforeach()
