# cmake --install: the library layers, the public headers under include/lasergrad, and a
# package config so that consumers write find_package(lasergrad) and link
# lasergrad::lasergrad (and lasergrad::lasergrad_distributed for collectives
# across MPI ranks; LG_LIBRARY_LAYERS lists it).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS ${LG_LIBRARY_LAYERS} EXPORT lasergradTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
# Only the public API: internal headers stay in the source tree.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/lasergrad DESTINATION include)

install(EXPORT lasergradTargets NAMESPACE lasergrad::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lasergrad)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/lasergradConfig.cmake.in
  ${PROJECT_BINARY_DIR}/lasergradConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lasergrad)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lasergradConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lasergradConfig.cmake
  ${PROJECT_BINARY_DIR}/lasergradConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/LasergradDependencies.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lasergrad)
