# `cmake --install` into a temporary prefix (and once more under DESTDIR): the
# tree is complete, the installed binary runs, and a C program builds against
# the installed library through pkg-config (tests/install/check_install.sh).
add_test(NAME install_tree
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/install/check_install.sh ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR})
set_tests_properties(install_tree PROPERTIES ENVIRONMENT "${SPARSIFY_TEST_ENV}" LABELS "install" TIMEOUT 300)
