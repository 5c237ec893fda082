# Dependencies from Debian (scripts/install-deps.sh installs them).
#
# OpenBLAS: link the OpenMP build by its full path. Debian's alternatives send
# a plain -lopenblas to the pthreads build whenever that is installed too
# (numpy pulls it in), which would give two thread pools fighting for cores.
find_package(OpenMP REQUIRED COMPONENTS CXX)

set(_lg_multiarch ${CMAKE_LIBRARY_ARCHITECTURE})
if(NOT _lg_multiarch)
  set(_lg_multiarch x86_64-linux-gnu)
endif()
find_library(LG_OPENBLAS_OPENMP_LIBRARY NAMES openblas
  PATHS /usr/lib/${_lg_multiarch}/openblas-openmp NO_DEFAULT_PATH)
find_path(LG_OPENBLAS_OPENMP_INCLUDE NAMES cblas.h
  PATHS /usr/include/${_lg_multiarch}/openblas-openmp NO_DEFAULT_PATH)
if(NOT LG_OPENBLAS_OPENMP_LIBRARY OR NOT LG_OPENBLAS_OPENMP_INCLUDE)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: run scripts/install-deps.sh "
                      "(Debian package libopenblas-openmp-dev)")
endif()
get_filename_component(LG_OPENBLAS_OPENMP_DIR ${LG_OPENBLAS_OPENMP_LIBRARY} DIRECTORY)
message(STATUS "lasergrad: OpenBLAS (OpenMP) ${LG_OPENBLAS_OPENMP_LIBRARY}")

if(NOT TARGET lasergrad::openblas)
  add_library(lasergrad::openblas INTERFACE IMPORTED)
  set_target_properties(lasergrad::openblas PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES ${LG_OPENBLAS_OPENMP_INCLUDE}
    INTERFACE_LINK_LIBRARIES ${LG_OPENBLAS_OPENMP_LIBRARY}
    # The library lives outside the default search path: programs find it by RPATH.
    INTERFACE_LINK_OPTIONS "LINKER:-rpath,${LG_OPENBLAS_OPENMP_DIR}")
endif()
