# What `cmake --install` puts where, and the files made from templates for it.
# Kept out of the top-level CMakeLists.txt so packaging can change without
# touching the build. Layout under the prefix:
#   bin/sparsify, bin/sparsify.run (symlink)      lib/libsparsify.so*
#   include/sparsify/*.h                          lib/pkgconfig/sparsify.pc
#   share/man/man1/sparsify.1                     share/doc/sparsify/*
#   share/sparsify/slurm/*                        share/sparsify/zoo/fashion-cnn
# The zoo path matches src/cli/zoo.c, which looks for <exe>/../share/sparsify/zoo.

# The alias sparsify.run -> sparsify. A relative link, made under DESTDIR, so a
# staged or relocated install keeps working.
# CMAKE_INSTALL_PREFIX is read at install time (it is what --prefix sets).
install(CODE "file(CREATE_LINK sparsify \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/sparsify.run\" SYMBOLIC)
message(STATUS \"Installing: \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/sparsify.run -> sparsify\")")

# The installed binary finds the installed library wherever the tree is put.
set_target_properties(sparsify_cli PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")

# ---- pkg-config -------------------------------------------------------------
# The prefix is written relative to the .pc file (see sparsify.pc.in).
file(RELATIVE_PATH SPARSIFY_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(${CMAKE_SOURCE_DIR}/cmake/sparsify.pc.in ${CMAKE_BINARY_DIR}/sparsify.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/sparsify.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# ---- Slurm templates: one copy for the build tree, one for the install -----
# The build-tree copy runs the freshly built binary (the Slurm test submits it).
# The installed copy is filled in at install time, so that it names the
# binary under the prefix given to `cmake --install --prefix` (DESTDIR, a
# staging root, is left out of it on purpose).
set(SPARSIFY_SLURM_TEMPLATES sparsify-oneshot.sbatch sparsify-sweep.sbatch)
foreach(t ${SPARSIFY_SLURM_TEMPLATES})
  if(NOT EXISTS ${CMAKE_SOURCE_DIR}/slurm/${t}.in)
    continue()
  endif()
  set(SPARSIFY_BIN "${CMAKE_BINARY_DIR}/sparsify")
  set(SPARSIFY_SLURM_DIR "${CMAKE_BINARY_DIR}/slurm")
  set(SPARSIFY_TEMPLATE_KIND "build-tree")
  configure_file(${CMAKE_SOURCE_DIR}/slurm/${t}.in ${CMAKE_BINARY_DIR}/slurm/${t} @ONLY
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  install(CODE "
    set(SPARSIFY_BIN \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/sparsify\")
    set(SPARSIFY_SLURM_DIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/sparsify/slurm\")
    set(SPARSIFY_TEMPLATE_KIND installed)
    set(_dst \"\$ENV{DESTDIR}\${SPARSIFY_SLURM_DIR}/${t}\")
    message(STATUS \"Installing: \${_dst}\")
    configure_file(\"${CMAKE_SOURCE_DIR}/slurm/${t}.in\" \"\${_dst}\" @ONLY
      FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)")
endforeach()
install(FILES ${CMAKE_SOURCE_DIR}/slurm/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/sparsify/slurm OPTIONAL)

# ---- man page and docs --------------------------------------------------------
install(FILES ${CMAKE_SOURCE_DIR}/docs/sparsify.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
  FILES_MATCHING PATTERN "*.md")

# ---- the demo as the default zoo ----------------------------------------------
install(DIRECTORY ${CMAKE_SOURCE_DIR}/demo/fashion-cnn DESTINATION ${CMAKE_INSTALL_DATADIR}/sparsify/zoo
  OPTIONAL)
