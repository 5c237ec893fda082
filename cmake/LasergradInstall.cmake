# cmake --install: the library, its headers under include/lasergrad, and a
# package config so that consumers write find_package(lasergrad) and link
# lasergrad::lasergrad.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS lasergrad EXPORT lasergradTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
foreach(dir core ops nn backends)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION include/lasergrad/${dir}
    FILES_MATCHING PATTERN "*.h")
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/lasergrad.h ${PROJECT_SOURCE_DIR}/runtime.h
  DESTINATION include/lasergrad)

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
