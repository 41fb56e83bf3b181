# `make install` (cmake --install): the command, the library with its public
# headers, a pkg-config file and a CMake config package, the man page and the
# bash completion (docs/install.md). Included from the top CMakeLists.txt.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# bpfsig(1) and the completion come from the CLI's own definition: the bpfsig
# just built prints them (src/cli/docgen.cpp), so they cannot drift from --help.
set(BPFSIG_MAN_PAGE ${CMAKE_BINARY_DIR}/share/man/man1/bpfsig.1)
set(BPFSIG_COMPLETION ${CMAKE_BINARY_DIR}/share/bash-completion/completions/bpfsig)
add_custom_command(OUTPUT ${BPFSIG_MAN_PAGE} ${BPFSIG_COMPLETION}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/share/man/man1
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/share/bash-completion/completions
  COMMAND sh -c "$<TARGET_FILE:bpfsig> man > ${BPFSIG_MAN_PAGE}.tmp && mv ${BPFSIG_MAN_PAGE}.tmp ${BPFSIG_MAN_PAGE}"
  COMMAND sh -c "$<TARGET_FILE:bpfsig> completion bash > ${BPFSIG_COMPLETION}.tmp && mv ${BPFSIG_COMPLETION}.tmp ${BPFSIG_COMPLETION}"
  DEPENDS bpfsig VERBATIM COMMENT "bpfsig man, bpfsig completion bash")
add_custom_target(bpfsig_docs ALL DEPENDS ${BPFSIG_MAN_PAGE} ${BPFSIG_COMPLETION})

install(TARGETS bpfsig RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS bpfsig_lib ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# libbpfsig.a calls libbpf 1.8 (not Debian 12's 1.1): its static archive is
# installed beside it, in a directory of its own so that it never shadows the
# system's libbpf for other programs.
install(FILES ${BPFSIG_LIBBPF_DIR}/lib/libbpf.a DESTINATION ${CMAKE_INSTALL_LIBDIR}/bpfsig)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/bpfsig DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${BPFSIG_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${BPFSIG_COMPLETION} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# Both metadata files find the prefix from where they are installed, so that
# `cmake --install --prefix P` and DESTDIR staging give files that work there.
file(RELATIVE_PATH BPFSIG_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
file(RELATIVE_PATH BPFSIG_CMAKE_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/cmake/bpfsig /p)
configure_file(${CMAKE_SOURCE_DIR}/cmake/bpfsig.pc.in ${CMAKE_BINARY_DIR}/pkgconfig/bpfsig.pc @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/cmake/bpfsigConfig.cmake.in ${CMAKE_BINARY_DIR}/cmake/bpfsigConfig.cmake @ONLY)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/bpfsigConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/pkgconfig/bpfsig.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${CMAKE_BINARY_DIR}/cmake/bpfsigConfig.cmake ${CMAKE_BINARY_DIR}/cmake/bpfsigConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bpfsig)
