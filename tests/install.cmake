# `cmake --install` into a temporary prefix (and once more under DESTDIR): the
# tree is complete, the installed binary runs, and a C program builds against
# the installed library through pkg-config (tests/install/check_install.sh).
add_test(NAME install_tree
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/install/check_install.sh ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR})
# A sanitizer build of the library needs its runtime in every program that
# links it, so the test program gets the same -fsanitize flags.
set(install_env ${SPARSIFY_TEST_ENV})
if(SPARSIFY_SANITIZE)
  list(APPEND install_env "SPARSIFY_TEST_LINK_FLAGS=-fsanitize=address,undefined")
endif()
set_tests_properties(install_tree PROPERTIES ENVIRONMENT "${install_env}" LABELS "install" TIMEOUT 300)
